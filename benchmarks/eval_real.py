"""Accuracy on the labelled real clips: rep counts, per-fault precision/recall/F1, false flags on clean reps.

Run from the repository root (under ``nice`` on a shared machine)::

    nice python benchmarks/eval_real.py                          # ../shared/data/lifts, full model
    nice python benchmarks/eval_real.py --cache /path/to/poses   # reuse extracted poses
    nice python benchmarks/eval_real.py --per-clip               # also the per-clip verdict table

It prints what ``formcheck eval LABELS.json VIDEO_DIR`` prints (the same
:func:`formcheck.evaluate.evaluate` over the same reports, see
``docs/accuracy.md`` for the definitions) plus a header saying what was run
(date, model, commit) and, with ``--per-clip``, one row per clip: expected and
detected reps, the faults labelled ``yes`` and the faults flagged.

The labels and clips live outside the repository (``../shared/data/lifts``);
when they are missing the script says so and exits 0 without running
anything. Poses are extracted with MediaPipe once per clip and cached by the
clip's sha256 (``--cache``, default the user cache folder that ``formcheck
eval`` uses); later runs take about a second per clip.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_LIFTS = REPO.parent / "shared" / "data" / "lifts"


def _commit() -> str:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, timeout=10, check=False)
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10, check=False)
    except OSError:
        return "unknown"
    sha = out.stdout.strip() or "unknown"
    return sha + (" + uncommitted changes" if dirty.stdout.strip() else "")


def _default_cache() -> Path:
    from platformdirs import user_cache_dir

    return Path(user_cache_dir("formcheck")) / "poses"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", type=Path, default=DEFAULT_LIFTS / "labels.json", help="labels.json")
    ap.add_argument("--videos", type=Path, default=None, help="folder of the clips (default: next to labels.json)")
    ap.add_argument("--model", default="full", help="pose model: lite | full | heavy (default full)")
    ap.add_argument("--cache", type=Path, default=None, help="pose cache folder (default: the user cache)")
    ap.add_argument("--rules", type=Path, action="append", default=[],
                    help="a tuned squat.toml / deadlift.toml (repeatable)")
    ap.add_argument("--per-clip", action="store_true", help="also print one row per clip")
    args = ap.parse_args(argv)

    videos = args.videos or args.labels.parent / "videos"
    if not args.labels.is_file() or not videos.is_dir():
        print(f"eval_real: {args.labels} or {videos} not found; the labelled real clips are not available here, "
              "nothing to evaluate (skipped).")
        return 0

    from formcheck.evaluate import ClipOutcome, evaluate, format_markdown
    from formcheck.pipeline import analyze_for_eval
    from formcheck.rules import load_rules

    rules_paths = {}
    for p in args.rules:
        for lift in ("squat", "deadlift"):
            try:
                load_rules(lift, p)
            except ValueError:
                continue
            rules_paths[lift] = p
    entries = json.loads(args.labels.read_text(encoding="utf-8"))
    cache = args.cache or _default_cache()
    t0 = time.time()
    outcomes = []
    for i, e in enumerate(entries, 1):
        print(f"\r[{i}/{len(entries)}] {e['file'][:60]:60s}", end="", file=sys.stderr, flush=True)
        try:
            rep = analyze_for_eval(videos / e["file"], model=args.model, cache_dir=cache, rules_paths=rules_paths)
            outcomes.append(ClipOutcome(e, rep))
        except (OSError, ValueError, RuntimeError) as exc:
            outcomes.append(ClipOutcome(e, None, error=f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
    print(file=sys.stderr)
    summary = evaluate(outcomes)
    print(f"# Real-clip evaluation, {dt.date.today().isoformat()}")
    print()
    print(f"- labels: `{args.labels}` ({len(entries)} clips)")
    print(f"- pose model: {args.model}; commit {_commit()}; {time.time() - t0:.0f} s")
    print()
    print(format_markdown(summary))
    if args.per_clip:
        print("### Per clip")
        print()
        print("| clip | lift | view (label / detected) | reps (coach / detected) | labelled yes | flagged |")
        print("|---|---|---|---|---|---|")
        for row in summary.per_clip:
            print(f"| {row['file']} | {row['lift']} | {row['view']} / {row['detected_view']} | "
                  f"{row['expected_reps']} / {row['reps']} | {', '.join(row['label_yes']) or '-'} | "
                  f"{', '.join(row['flagged']) or '-'} |")
        print()
    return 1 if summary.failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
