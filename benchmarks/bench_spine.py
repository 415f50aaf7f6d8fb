"""What the silhouette back estimate costs: pose extraction with and without masks, and the estimate itself.

Run from the repository root (under ``nice`` on a shared machine, with no other
pose extraction running)::

    nice python benchmarks/bench_spine.py                        # the sample clips
    nice python benchmarks/bench_spine.py --clips a.mp4 b.mp4 --runs 3

For each clip it runs :func:`formcheck.pose.extract_pose` in this process
(``workers=1``) with ``keep_masks`` off and on, alternating, ``--runs`` times
each, and reports the median CPU seconds of each (CPU time, not wall time, so
the other load on a shared machine matters less), the extra share that masks
cost, and the CPU time of :func:`formcheck.analysis.analyze_sequence` with and
without the masks (the contour reading itself). The issue's budget is about
+20 % of the processing time.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", type=Path, nargs="*", default=None, help="clips (default: sample_videos/*.mp4)")
    ap.add_argument("--runs", type=int, default=2, help="runs per setting (median reported)")
    ap.add_argument("--model", default="full")
    args = ap.parse_args(argv)

    from formcheck.analysis import analyze_sequence
    from formcheck.pose import extract_pose

    clips = args.clips or sorted((REPO / "sample_videos").glob("*.mp4"))
    print(f"model {args.model}, workers 1, runs {args.runs}, load {os.getloadavg()[0]:.2f}")
    print("| clip | frames | pose CPU s | pose+masks CPU s | extra | analysis CPU s | analysis+spine CPU s |")
    print("|---|---|---|---|---|---|---|")
    for clip in clips:
        cpu = {False: [], True: []}
        res = {}
        for _ in range(args.runs):
            for masks in (False, True):
                c0 = _cpu()
                res[masks] = extract_pose(clip, model=args.model, workers=1, keep_masks=masks)
                cpu[masks].append(_cpu() - c0)
        seq, mtrack = res[True].sequence, res[True].masks
        c0 = _cpu()
        analyze_sequence(seq)
        a_plain = _cpu() - c0
        c0 = _cpu()
        analyze_sequence(seq, masks=mtrack)
        a_spine = _cpu() - c0
        p0, p1 = statistics.median(cpu[False]), statistics.median(cpu[True])
        extra = (p1 + a_spine) / (p0 + a_plain) - 1.0
        print(f"| {clip.name} | {seq.n_frames} | {p0:.1f} | {p1:.1f} | {extra:+.0%} | {a_plain:.2f} | {a_spine:.2f} |",
              flush=True)
    print(f"(at {time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}; 'extra' = total CPU with masks and "
          "the spine estimate over total CPU without)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
