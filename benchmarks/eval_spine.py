"""Rounded back on the labelled real clips: landmark proxy, silhouette, and both (issue #6).

Run from the repository root (under ``nice``; the first run extracts poses
with silhouettes, about 15-25 min of CPU for the 54 clips, then cached)::

    nice python benchmarks/eval_spine.py --cache /path/to/maskposes
    nice python benchmarks/eval_spine.py --cache /path/to/maskposes --per-clip

Three runs of the same code path as ``formcheck eval`` (:func:`formcheck.pipeline.analyze_for_eval`
and :func:`formcheck.evaluate.evaluate`) over the same poses:

- ``proxy``: no silhouettes; the rounded-back rule has only the landmark
  proxy (``head_drop_max``), as before issue #6 and as ``formcheck eval``
  without ``--masks``.
- ``silhouette``: silhouettes on, the proxy table removed from the rules (a
  copy of the packaged TOML without the ``head_drop_max`` table of
  ``rounded_back``, written to a temporary folder): the silhouette estimate
  (``spine_flexion_loaded``, read only on reps seen side-on) decides alone;
  reps it cannot read are "not assessable" (a negative).
- ``combined``: silhouettes on, packaged rules: the silhouette judged
  alongside the proxy, a rep flagged when either flags it. This is
  ``formcheck eval --masks`` and ``formcheck analyze`` with silhouettes.

Prints precision / recall / F1 for ``rounded_back`` at clip and rep level
(definitions in :mod:`formcheck.evaluate`). When the labels are missing it
says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import tempfile
from importlib import resources
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_LIFTS = REPO.parent / "shared" / "data" / "lifts"
CODE = "rounded_back"


def silhouette_only_rules(folder: Path) -> dict[str, Path]:
    """Packaged squat/deadlift rules with the proxy table of rounded_back removed (the silhouette alone)."""
    out = {}
    for lift in ("squat", "deadlift"):
        text = (resources.files("formcheck") / "config" / f"{lift}.toml").read_text(encoding="utf-8")
        blocks = re.split(r"(?m)^(?=\[)", text)
        rb = [i for i, b in enumerate(blocks) if b.startswith(f"[[faults.{CODE}]]")]
        proxy = [i for i in rb if "head_drop_max" in blocks[i]]
        if len(rb) != 2 or len(proxy) != 1:
            raise SystemExit(f"eval_spine: expected two [[faults.{CODE}]] tables in {lift}.toml, one the proxy")
        del blocks[proxy[0]]
        p = folder / f"{lift}.toml"
        p.write_text("".join(blocks), encoding="utf-8")
        out[lift] = p
    return out


def _fmt(x: float) -> str:
    return "–" if math.isnan(x) else f"{x:.2f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", type=Path, default=DEFAULT_LIFTS / "labels.json")
    ap.add_argument("--videos", type=Path, default=None, help="folder of the clips (default: next to labels.json)")
    ap.add_argument("--model", default="full")
    ap.add_argument("--cache", type=Path, required=True, help="pose + silhouette cache folder")
    ap.add_argument("--per-clip", action="store_true", help="also print each clip's rounded-back verdicts")
    args = ap.parse_args(argv)
    videos = args.videos or args.labels.parent / "videos"
    if not args.labels.is_file() or not videos.is_dir():
        print(f"eval_spine: {args.labels} or {videos} not found; nothing to evaluate (skipped).")
        return 0

    from formcheck.evaluate import ClipOutcome, evaluate
    from formcheck.pipeline import analyze_for_eval

    entries = json.loads(args.labels.read_text(encoding="utf-8"))
    with tempfile.TemporaryDirectory() as tmp:
        configs = {
            "proxy": (False, None),
            "silhouette": (True, silhouette_only_rules(Path(tmp))),
            "combined": (True, None),
        }
        results = {}
        for name, (masks, rules) in configs.items():
            outcomes = []
            for i, e in enumerate(entries, 1):
                print(f"\r{name}: [{i}/{len(entries)}] {e['file'][:50]:50s}", end="", file=sys.stderr, flush=True)
                try:
                    rep = analyze_for_eval(videos / e["file"], model=args.model, cache_dir=args.cache,
                                           rules_paths=rules, masks=masks)
                    outcomes.append(ClipOutcome(e, rep))
                except (OSError, ValueError, RuntimeError) as exc:
                    outcomes.append(ClipOutcome(e, None, error=f"{type(exc).__name__}: {' '.join(str(exc).split())}"))
            print(file=sys.stderr)
            results[name] = (evaluate(outcomes), outcomes)

    print(f"rounded_back on {len(entries)} labelled clips ({args.labels}), model {args.model}")
    print()
    print("| run | clip P | clip R | clip F1 | clip TP/FP/FN/TN | rep P | rep R | rep F1 | rep TP/FP/FN/TN "
          "| clean reps flagged (any fault) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for name, (s, _) in results.items():
        c, r = s.clip_level[CODE], s.rep_level[CODE]
        print(f"| {name} | {_fmt(c.precision)} | {_fmt(c.recall)} | {_fmt(c.f1)} | {c.tp}/{c.fp}/{c.fn}/{c.tn} | "
              f"{_fmt(r.precision)} | {_fmt(r.recall)} | {_fmt(r.f1)} | {r.tp}/{r.fp}/{r.fn}/{r.tn} | "
              f"{s.clean_reps_flagged}/{s.clean_reps} |")
    failed = {f for s, _ in results.values() for f, _ in s.failed}
    if failed:
        print(f"\nfailed: {sorted(failed)}")
    if args.per_clip:
        print("\n| clip | label | " + " | ".join(results) + " | silhouette used |")
        print("|---|---|" + "---|" * (len(results) + 1))
        by_file = {name: {o.file: o.report for o in outs} for name, (_, outs) in results.items()}
        for e in entries:
            lab = e.get("faults", {}).get(CODE, "?")
            if lab not in ("yes", "no"):
                continue
            cells = []
            for name in results:
                rep = by_file[name].get(e["file"]) or {}
                v = rep.get("verdicts", {}).get(CODE, "error")
                ms = [r.get("measures", {}).get(CODE, {}) for r in rep.get("reps", [])]
                # per rep: the value behind the verdict, "s" silhouette / "p" proxy
                vals = [f"{'s' if str(m.get('measure', '')).startswith('spine_flexion') else 'p'}{round(m['value'])}"
                        for m in ms if m.get("value") is not None]
                cells.append(f"{v} {' '.join(vals)}")
            used = ((by_file["combined"].get(e["file"]) or {}).get("extra", {}).get("spine", {}) or {})
            print(f"| {e['file']} | {lab} | " + " | ".join(cells) + f" | {used.get('used')} |")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
