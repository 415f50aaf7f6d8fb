"""The silhouette rounded-back reading on the labelled real clips: how well it repeats, and where the labels fall.

Run from the repository root, poses with silhouettes cached (``formcheck eval ... --masks --cache DIR``
fills the cache)::

    nice python benchmarks/spine_repeatability.py --cache /path/to/poses
    nice python benchmarks/spine_repeatability.py --cache /path/to/poses --spine tuned_spine.toml

For every labelled squat/deadlift clip it runs the packaged analysis with silhouettes
(:func:`formcheck.analysis.analyze_sequence`, no image bar check) and reads the rounded-back
rule's own silhouette measure (``spine_flexion_loaded`` with the rule's window) on every rep
matched to a labelled rep. Printed:

- **repeatability**: over the clean reps (``rounded_back`` = no) of clips with at least 3 of them
  read, each reading minus its clip's median; the 90th percentile of the absolute value is how far
  one reading strays from the same lifter's other reps (one side of the silhouette's error band,
  ``band_deg`` in squat.toml / deadlift.toml; the rendered clips give the other,
  ``benchmarks/rendered_spine.py``);
- **per clip**: the label, each matched rep's reading and what the rule alone says of it
  (``f`` flagged, ``b`` borderline, ``c`` clear), for the clips with a rounded-back label.

When the labels are missing it says so and exits 0.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_LIFTS = REPO.parent / "shared" / "data" / "lifts"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", type=Path, default=DEFAULT_LIFTS / "labels.json")
    ap.add_argument("--videos", type=Path, default=None, help="folder of the clips (default: next to labels.json)")
    ap.add_argument("--model", default="full")
    ap.add_argument("--cache", type=Path, required=True, help="pose + silhouette cache folder")
    ap.add_argument("--spine", type=Path, default=None, help="a tuned spine.toml (default: the packaged one)")
    args = ap.parse_args(argv)
    videos = args.videos or args.labels.parent / "videos"
    if not args.labels.is_file() or not videos.is_dir():
        print(f"spine_repeatability: {args.labels} or {videos} not found; nothing to measure (skipped).")
        return 0

    from formcheck.analysis import analyze_sequence, metric_signals
    from formcheck.evaluate import match_reps
    from formcheck.pipeline import pose_cached
    from formcheck.repmetrics import measure
    from formcheck.rules import load_rules
    from formcheck.spine import load_params

    spine_params = load_params(args.spine)

    entries = json.loads(args.labels.read_text(encoding="utf-8"))
    devs: list[float] = []
    lines = []
    for e in entries:
        lab = e.get("faults", {}).get("rounded_back")
        if e.get("lift") not in ("squat", "deadlift") or lab not in ("yes", "no"):
            continue
        seq, _sha, masks = pose_cached(videos / e["file"], model=args.model, cache_dir=args.cache, masks=True)
        a = analyze_sequence(seq, masks=masks, spine_params=spine_params)
        if a.spine is None or a.segmentation is None or a.lift not in ("squat", "deadlift"):
            continue
        rule = next(r for r in load_rules(a.lift).rules["rounded_back"] if r.measure == "spine_flexion_loaded")
        signals = metric_signals(a.metrics)
        matches = match_reps(a.report.reps, e.get("reps", []))
        cells, clean = [], []
        for lr, j in zip(e.get("reps", []), matches):
            if j is None:
                continue
            m = measure(rule.measure, seq.t_ms, signals, a.segmentation.reps[j], **dict(rule.params))
            if not np.isfinite(m.value):
                continue
            verdict = rule.judge(m.value, rule.limit)
            cells.append(f"{m.value:.0f}{verdict[0]}")
            if lr.get("faults", {}).get("rounded_back") == "no":
                clean.append(m.value)
        if len(clean) >= 3:
            devs += list(np.asarray(clean) - np.median(clean))
        if cells:
            lines.append(f"| {e['file']} | {a.lift} | {lab} | {' '.join(cells)} |")
    print(f"rounded_back silhouette reading on {args.labels} (limits: squat.toml / deadlift.toml)\n")
    if devs:
        d = np.abs(np.asarray(devs))
        print(f"repeatability: {d.size} clean reps of clips with 3 or more read: p90 |reading - clip median| = "
              f"{np.percentile(d, 90):.1f} deg, max {d.max():.1f}\n")
    print("| clip | lift | label | per rep: reading deg + rule alone (f flagged, b borderline, c clear) |")
    print("|---|---|---|---|")
    print("\n".join(sorted(lines, key=lambda s: (s.split(" | ")[2], s))))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
