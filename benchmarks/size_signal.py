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

``product`` is the heights as the product segments them (not divided; its size check,
:func:`formcheck.metrics.rep_scale_signal`, the shank over 0.5 s, only vetoes walks); every other column divides
the heights by that candidate first, the product's size check unchanged. None of them is in the product: each
trades one failure for another (docs/accuracy.md, "Dividing the heights by the lifter's size").

    nice .venv/bin/python -m benchmarks.size_signal --poses /tmp/sample_poses [--families squat-camera-pan-zoom-shake]
    nice .venv/bin/python -m benchmarks.size_signal --no-stress --real ../shared/data/lifts/labels.json \
        --videos ../shared/data/lifts/videos --cache /work/cache/poses

3. (``--real``) the usable labelled real clips, from a ``formcheck eval --cache`` folder: rep counts, the clips
   where any column is off, and the exact share per column.

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


def low_frames_out(window_ms: float, reject: float = 0.15, swing_norm: float = 0.08) -> Measure:
    """The largest of torso, thigh and shank ratios, a rolling median over ``window_ms`` in two passes: the second
    leaves out frames off the first by more than ``reject`` and frames low in a rep (hips, divided by the first
    pass, more than ``swing_norm`` under their 95th percentile), and interpolates in time across them."""

    def f(seq: PoseSequence) -> np.ndarray:
        lens = _seg_lengths(seq)
        r = np.vstack([lens[k] / geo.nan_percentile(lens[k], 90.0) for k in ("torso", "thigh", "shank")])
        seen = np.isfinite(r).any(axis=0)
        per = np.full(seq.n_frames, np.nan)
        per[seen] = np.nanmax(r[:, seen], axis=0)
        first = _window_median(seq.t_ms, per, window_ms)
        hip, _ = rep_height_signals(seq)
        with np.errstate(invalid="ignore", divide="ignore"):
            off = np.abs(per / first - 1.0) > reject
            hip_rel = hip / first
            off |= hip_rel < geo.nan_percentile(hip_rel, 95.0) - swing_norm
        size = np.where(off, np.nan, _window_median(seq.t_ms, np.where(off, np.nan, per), window_ms))
        ok = np.isfinite(size)
        if ok.any() and not ok.all():
            size = np.interp(seq.t_ms, seq.t_ms[ok], size[ok])
        size = np.where(seen, size, np.nan)
        return size / geo.nan_percentile(size, 90.0)

    return f


def second_of_five(window_ms: float, reject: float = 0.15) -> Measure:
    """The second largest of five ratios (torso, thigh, shank, shoulder width, hip width), rolling median over
    ``window_ms`` in two passes (frames off the first by more than ``reject`` left out of the second)."""

    def f(seq: PoseSequence) -> np.ndarray:
        lens = _seg_lengths(seq)
        xy = seq.xy_px
        lens["shoulders"] = geo.distance(xy[:, int(L.LEFT_SHOULDER)], xy[:, int(L.RIGHT_SHOULDER)])
        lens["hips"] = geo.distance(xy[:, int(L.LEFT_HIP)], xy[:, int(L.RIGHT_HIP)])
        r = np.vstack([v / geo.nan_percentile(v, 90.0) for v in lens.values()])
        desc = -np.sort(np.where(np.isfinite(r), -r, np.inf), axis=0)
        n_seen = np.isfinite(r).sum(axis=0)
        per = np.where(n_seen >= 2, desc[1], desc[0])
        per[n_seen == 0] = np.nan
        first = _window_median(seq.t_ms, per, window_ms)
        with np.errstate(invalid="ignore", divide="ignore"):
            off = np.abs(per / first - 1.0) > reject
        size = np.where(np.isfinite(per), _window_median(seq.t_ms, np.where(off, np.nan, per), window_ms), np.nan)
        return size / geo.nan_percentile(size, 90.0)

    return f


def _window_median(t_ms: np.ndarray, x: np.ndarray, width_ms: float) -> np.ndarray:
    """Centred median over ``width_ms`` of the finite values of ``x`` at every frame (NaN: none in the window)."""
    lo = np.searchsorted(t_ms, t_ms - width_ms / 2.0)
    hi = np.searchsorted(t_ms, t_ms + width_ms / 2.0, side="right")
    out = np.full(x.shape, np.nan)
    for i in range(x.size):
        w = x[lo[i]:hi[i]]
        w = w[np.isfinite(w)]
        if w.size:
            out[i] = np.median(w)
    return out


CANDIDATES: dict[str, Measure] = {
    "shank-0.5s": shank(500.0),
    "shank-1.5s": shank(1500.0),
    "seg-max-3s-rej": segments(3000.0, "max", reject=0.15),
    "2nd-of-5-3s": second_of_five(3000.0),
    "low-out-2s": low_frames_out(2000.0),
    "low-out-2.5s": low_frames_out(2500.0),
    "low-out-3s": low_frames_out(3000.0),
}


def divided(seq: PoseSequence, measure: Measure | None) -> tuple[np.ndarray, np.ndarray]:
    """The rep heights, divided by ``measure`` where it is known (None: as they are)."""
    hip_h, wrist_h = rep_height_signals(seq)
    if measure is None:
        return hip_h, wrist_h
    size = measure(seq)
    size = np.where(np.isfinite(size) & (size > 0), size, 1.0)
    return hip_h / size, wrist_h / size


def count(seq: PoseSequence, lift: str, measure: Measure | None) -> tuple[int, list]:
    """Reps with the heights divided by ``measure`` (the product's own size check unchanged)."""
    hip_h, wrist_h = divided(seq, measure)
    seg = segment_signals(seq.t_ms, hip_h, wrist_h, lift, rep_scale_signal(seq))
    return seg.count, list(seg.reps)


def stress(families: list[str] | None) -> None:
    from tests.support.stress_clips import all_cases
    from tests.test_rep_stress import _case, simulated_bar_check
    from formcheck.barcheck import vetoed_spans

    names = ["product", *CANDIDATES]
    tally: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(lambda: [0, 0]))
    for family, seed in all_cases():
        if families and family not in families:
            continue
        c = _case(family, seed)
        for name in names:
            hip_h, wrist_h = divided(c.seq, CANDIDATES.get(name))
            seg = segment_signals(c.seq.t_ms, hip_h, wrist_h, c.lift, rep_scale_signal(c.seq))
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

    print("| clip | truth | product | " + " | ".join(f"{n} (max dev / count)" for n in CANDIDATES) + " |")
    print("|---|---|---|" + "---|" * len(CANDIDATES))
    for npz in sorted(poses.glob("*.pose.npz")):
        stem = npz.name[: -len(".pose.npz")]
        seq = PoseSequence.load(npz)
        truth_path = Path("sample_videos") / f"{stem}.json"
        lift = "deadlift" if stem.startswith("deadlift") else "squat"
        want = "?"
        if truth_path.exists():
            want = str(len(json.loads(truth_path.read_text()).get("reps", [])))
        n0, base_reps = count(seq, lift, None)
        inside = np.zeros(seq.n_frames, dtype=bool)
        for r in base_reps:
            inside |= (seq.t_ms >= r.start_ms) & (seq.t_ms <= r.end_ms)
        cells = []
        for m in CANDIDATES.values():
            size = m(seq)
            med = np.nanmedian(size)
            dev = np.nanmax(np.abs(size[inside] / med - 1.0)) if inside.any() else float("nan")
            cells.append(f"{dev:.3f} / {count(seq, lift, m)[0]}")
        print(f"| {stem} | {want} | {n0} | " + " | ".join(cells) + " |")


def real(labels: Path, videos: Path, cache: Path) -> None:
    """Rep counts on the usable labelled squat and deadlift clips (poses from a ``formcheck eval --cache`` folder,
    thinned as the pose pass does): the product, and the heights divided by each candidate."""
    import hashlib

    from formcheck.pose import PoseParams, thin_to_cap

    items = json.loads(labels.read_text())
    items = items if isinstance(items, list) else items.get("clips", items)
    pp = PoseParams.packaged()
    names = ["product", *CANDIDATES]
    exact = dict.fromkeys(names, 0)
    rows, n = [], 0
    for c in items:
        if not c.get("usable") or c["lift"] not in ("squat", "deadlift"):
            continue
        h = hashlib.sha256((videos / c["file"]).read_bytes()).hexdigest()[:24]
        npz = cache / f"{h}.full.npz"
        if not npz.exists():
            print(f"{c['file']}: no cached pose, skipped", file=sys.stderr)
            continue
        seq = PoseSequence.load(npz)
        seq = thin_to_cap(seq, None, seq.fps_est, pp.analysis_fps, pp.max_frame_step)[0]
        got = [count(seq, c["lift"], CANDIDATES.get(name))[0] for name in names]
        n += 1
        for name, g in zip(names, got):
            exact[name] += g == c["rep_count"]
        if any(g != c["rep_count"] for g in got):
            rows.append(f"| {c['file']} | {c['rep_count']} | " + " | ".join(str(g) for g in got) + " |")
    print("| clip (any count off) | labelled | " + " | ".join(names) + " |")
    print("|---|---|" + "---|" * len(names))
    print("\n".join(rows))
    print("| **exact** | | " + " | ".join(f"{exact[k]}/{n}" for k in names) + " |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--poses", type=Path, help="folder of *.pose.npz from MediaPipe on rendered clips")
    ap.add_argument("--families", nargs="*", help="stress families (default: all)")
    ap.add_argument("--no-stress", action="store_true")
    ap.add_argument("--real", type=Path, help="labels.json of the real clips (with --videos and --cache)")
    ap.add_argument("--videos", type=Path)
    ap.add_argument("--cache", type=Path, help="the pose cache of formcheck eval --cache")
    a = ap.parse_args(argv)
    if a.real:
        real(a.real, a.videos, a.cache)
    if a.poses:
        renders(a.poses)
    if not a.no_stress:
        stress(a.families)
    return 0


if __name__ == "__main__":
    sys.exit(main())
