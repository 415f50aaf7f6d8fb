"""How steady is a measure of the lifter's size in the picture, and does dividing the rep heights by it count right?

Rep heights (:func:`formcheck.metrics.rep_height_signals`) are in one leg length for the whole clip, so a zoom or a
walk toward the camera moves the standing level. Dividing them by the lifter's size at the time would undo that,
but only if the size measure does not move through a rep by itself (foreshortening at the bottom, MediaPipe's
jitter). This script measures candidate size measures on:

1. the landmark stress suite (tests/support/stress_clips.py: exact rep truth; cameras that zoom, pan and shake,
   walk-ins): exact counts per family with the heights divided by each candidate, against the product's count;
2. pose sequences extracted by MediaPipe from rendered clips with a fixed camera (``--poses DIR`` of
   ``*.pose.npz``, e.g. ``formcheck pose sample_videos --out DIR --no-video``): the camera and the lifter's
   distance never change there, so any swing of the measure inside a rep is its own error. Printed per clip:
   the largest deviation from the clip's median inside the product's reps (``max dev``) and the count with the
   heights divided by each measure (before the deadlift bar check, which needs the frames: the deadlift samples'
   stand-up after the set-down is counted here).

``product`` is :func:`formcheck.metrics.rep_scale_signal`; the others are the alternatives measured.

    nice .venv/bin/python -m benchmarks.size_signal --poses /tmp/sample_poses [--families squat-camera-pan-zoom-shake]

Reading only: nothing here changes the product.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path
from typing import Callable

import numpy as np

from formcheck import geometry as geo
from formcheck.analysis import drop_not_reps, segment_signals
from formcheck.landmarks import Landmark as L
from formcheck.metrics import rep_height_signals, rep_scale_signal, rolling_median
from formcheck.sequence import PoseSequence

Measure = Callable[[PoseSequence], np.ndarray]


def _seg_lengths(seq: PoseSequence) -> dict[str, np.ndarray]:
    xy = seq.xy_px

    def p(lm: L) -> np.ndarray:
        return xy[:, int(lm)]

    mid_sh = 0.5 * (p(L.LEFT_SHOULDER) + p(L.RIGHT_SHOULDER))
    mid_hip = 0.5 * (p(L.LEFT_HIP) + p(L.RIGHT_HIP))
    return {
        "torso": geo.distance(mid_sh, mid_hip),
        "thigh": np.fmax(geo.distance(p(L.LEFT_HIP), p(L.LEFT_KNEE)), geo.distance(p(L.RIGHT_HIP), p(L.RIGHT_KNEE))),
        "shank": np.fmax(geo.distance(p(L.LEFT_KNEE), p(L.LEFT_ANKLE)),
                         geo.distance(p(L.RIGHT_KNEE), p(L.RIGHT_ANKLE))),
    }


def shank(window_ms: float) -> Measure:
    """The shank alone (the longer side) over its clip 90th percentile, rolling median over ``window_ms``: the
    size measure before this one (0.5 s), and the one tried and not kept for dividing the heights (1.5 s)."""

    def f(seq: PoseSequence) -> np.ndarray:
        s = _seg_lengths(seq)["shank"]
        ref = geo.nan_percentile(s, 90.0)
        return rolling_median(seq.t_ms, s, window_ms) / ref

    return f


def segments(window_ms: float, combine: str, names: tuple[str, ...] = ("torso", "thigh", "shank"),
             reject: float = 0.0) -> Measure:
    """Each segment over its clip 90th percentile, combined per frame (``median`` or ``max``), then a rolling
    median over ``window_ms``; ``reject`` > 0 drops frames whose per-frame value is off the rolling median by
    more than that share before a second rolling median."""

    def f(seq: PoseSequence) -> np.ndarray:
        lens = _seg_lengths(seq)
        rs = []
        for k in names:
            ref = geo.nan_percentile(lens[k], 90.0)
            rs.append(lens[k] / ref if np.isfinite(ref) and ref > 0 else np.full(seq.n_frames, np.nan))
        r = np.vstack(rs)
        with np.errstate(all="ignore"):
            per = np.nanmedian(r, axis=0) if combine == "median" else np.nanmax(r, axis=0)
        out = rolling_median(seq.t_ms, per, window_ms)
        if reject > 0:
            bad = np.abs(per / out - 1.0) > reject
            out = rolling_median(seq.t_ms, np.where(bad, np.nan, per), window_ms)
        ref = geo.nan_percentile(out, 90.0)
        return out / ref

    return f


CANDIDATES: dict[str, Measure] = {
    "product": rep_scale_signal,
    "shank-0.5s": shank(500.0),
    "shank-1.5s": shank(1500.0),
    "seg-median-1.5s": segments(1500.0, "median"),
    "seg-median-3s": segments(3000.0, "median"),
    "seg-max-1.5s": segments(1500.0, "max"),
    "seg-max-3s": segments(3000.0, "max"),
    "seg-max-3s-rej": segments(3000.0, "max", reject=0.15),
    "torso+thigh-max-3s": segments(3000.0, "max", ("torso", "thigh")),
}


def count(seq: PoseSequence, lift: str, measure: Measure) -> tuple[int, list]:
    """Reps with the heights divided by ``measure`` (segment_reps divides by its ``scale_signal``)."""
    hip_h, wrist_h = rep_height_signals(seq)
    seg = segment_signals(seq.t_ms, hip_h, wrist_h, lift, measure(seq))
    return seg.count, list(seg.reps)


def stress(families: list[str] | None) -> None:
    from tests.support.stress_clips import all_cases
    from tests.test_rep_stress import _case, simulated_bar_check
    from formcheck.barcheck import vetoed_spans

    names = list(CANDIDATES)
    tally: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for family, seed in all_cases():
        if families and family not in families:
            continue
        c = _case(family, seed)
        hip_h, wrist_h = rep_height_signals(c.seq)
        for name in names:
            seg = segment_signals(c.seq.t_ms, hip_h, wrist_h, c.lift, CANDIDATES[name](c.seq))
            if c.lift == "deadlift":
                seg = drop_not_reps(seg, vetoed_spans([(r, simulated_bar_check(c, r)) for r in seg.reps]))
            t = tally[name][family]
            t[0] += seg.count == c.reps
            t[1] += 1
    fams = sorted(next(iter(tally.values())))
    print("| family | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for f in fams:
        print(f"| {f} | " + " | ".join(f"{tally[n][f][0]}/{tally[n][f][1]}" for n in names) + " |")
    print("| **all** | " + " | ".join(
        f"{sum(v[0] for v in tally[n].values())}/{sum(v[1] for v in tally[n].values())}" for n in names) + " |")


def renders(poses: Path) -> None:

    print("| clip | truth | " + " | ".join(f"{n} (max dev / count)" for n in CANDIDATES) + " |")
    print("|---|---|" + "---|" * len(CANDIDATES))
    for npz in sorted(poses.glob("*.pose.npz")):
        stem = npz.name[: -len(".pose.npz")]
        seq = PoseSequence.load(npz)
        truth_path = Path("sample_videos") / f"{stem}.json"
        lift = "deadlift" if stem.startswith("deadlift") else "squat"
        want = "?"
        if truth_path.exists():
            want = str(len(json.loads(truth_path.read_text()).get("reps", [])))
        _, base_reps = count(seq, lift, rep_scale_signal)
        inside = np.zeros(seq.n_frames, dtype=bool)
        for r in base_reps:
            inside |= (seq.t_ms >= r.start_ms) & (seq.t_ms <= r.end_ms)
        cells = []
        for m in CANDIDATES.values():
            size = m(seq)
            med = np.nanmedian(size)
            dev = np.nanmax(np.abs(size[inside] / med - 1.0)) if inside.any() else float("nan")
            cells.append(f"{dev:.3f} / {count(seq, lift, m)[0]}")
        print(f"| {stem} | {want} | " + " | ".join(cells) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--poses", type=Path, help="folder of *.pose.npz from MediaPipe on rendered clips")
    ap.add_argument("--families", nargs="*", help="stress families (default: all)")
    ap.add_argument("--no-stress", action="store_true")
    a = ap.parse_args(argv)
    if a.poses:
        renders(a.poses)
    if not a.no_stress:
        stress(a.families)
    return 0


if __name__ == "__main__":
    sys.exit(main())
