"""The silhouette back estimate on rendered clips with known flexion, through MediaPipe (issue #6).

Run from the repository root (rendering needs the ``synth`` extra and libosmesa6,
``docs/synthetic.md``; about 2-4 min of CPU per clip, then cached in ``--dir``)::

    nice python benchmarks/rendered_spine.py --render
    nice python benchmarks/rendered_spine.py            # only the clips already rendered

The clips (:data:`SPECS`) are rendered by ``tools/synth`` with the lumbar and
thoracic flexion of each rep set by hand: reps 1 and 3 are clean, reps 2, 4, 5
and 6 carry 10, 20, 30 and 47 degrees of flexion (lumbar + thoracic, split
about 2:1; 47 is the ``rounded_back`` preset). Each lift is filmed side-on
(azimuth 0) and from 45 degrees, with a barbell and without one (squat: empty
bar vs bodyweight; deadlift: loaded bar vs empty bar, a deadlift has no
bodyweight form). The bundled sample videos are added as extra rows (10 and
20 degrees off side-on); their flexion is known too.

Each clip goes through the product's own path: MediaPipe PoseLandmarker
(``--model``) with silhouettes (:func:`formcheck.pipeline.pose_cached`), then
:func:`formcheck.analysis.analyze_sequence` with the packaged rules, twice:
``shipped`` (spine.toml as packaged: the outline is read only on reps seen
side-on, ``min_yaw_deg``) and ``gate off`` (``min_yaw_deg = 0``: every rep
read, to show what the side-on gate keeps out).

Printed per clip and run: the camera yaw the landmarks give per rep (90 = side-on;
truth = 90 - azimuth), the share of frames read, the correlation and
least-squares slope of the per-frame estimate (``spine_flexion_deg``) against
the true flexion, the RMS error in degrees of true flexion (after dividing
by the slope), the largest estimate in each rep against its true flexion, and
which reps the rounded-back rule flagged. Then, per injected flexion, the
share of side-on reps flagged: the smallest flexion detected reliably.

Last, the error band of the rule's own measure (``spine_flexion_loaded``, as the
packaged rule reads it: the sustained largest bend in the rep's loaded window) on
the side-on reps (``shipped``; reps read in at least half of their loaded window):
each reading against the largest true flexion of that rep in the same window, a
straight line fitted through all of them (read = a + b x true), and the 90th
percentile of the distances to that line:
a reading whose true value sits on the limit clears limit + band on about 5 % of
reps. The clean reps' readings and the reps past twice the limit are listed with
what the rule said (no flag on a clean rep, a flag on every rep past twice the
limit in true flexion). Then the same for the reading against the set's own
median rep (``spine_flexion_vs_set``): per clip, each reading and each true
flexion minus their clip's medians.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tools.synth.kinematics import Fault  # noqa: E402  (numpy only)
from tools.synth.make_samples import CLIPS, ClipSpec  # noqa: E402

#: Per-rep flexion (lumbar, thoracic) in degrees; rep index -> Fault. Reps 0 and 2 are clean.
FLEXION: dict[int, Fault] = {
    1: Fault(lumbar_deg=7.0, thoracic_deg=3.0),
    3: Fault(lumbar_deg=14.0, thoracic_deg=6.0),
    4: Fault(lumbar_deg=20.0, thoracic_deg=10.0),
    5: Fault(lumbar_deg=32.0, thoracic_deg=15.0),
}


def _spec(lift: str, azimuth: float, equipment: str, plates: bool, facing: str, seed: int) -> ClipSpec:
    kit = "bodyweight" if equipment == "bodyweight" else ("plates" if plates else "bar")
    return ClipSpec(f"rs_{lift}_{kit}_az{azimuth:g}", lift, azimuth, facing, 6, dict(FLEXION), plates=plates,
                    seed=seed, equipment=equipment,
                    description=f"{lift}, {kit}, azimuth {azimuth:g}: reps 2, 4, 5, 6 flexed 10/20/30/47 deg")


SPECS: tuple[ClipSpec, ...] = (
    _spec("squat", 0.0, "barbell", False, "left", 21),
    _spec("squat", 0.0, "bodyweight", False, "right", 22),
    _spec("squat", 45.0, "barbell", False, "right", 23),
    _spec("squat", 45.0, "bodyweight", False, "left", 24),
    _spec("deadlift", 0.0, "barbell", True, "right", 25),
    _spec("deadlift", 0.0, "barbell", False, "left", 26),
    _spec("deadlift", 45.0, "barbell", True, "left", 27),
    _spec("deadlift", 45.0, "barbell", False, "right", 28),
)


@dataclass(frozen=True)
class RepRow:
    """One true rep as the analysis saw it."""

    true_deg: float  # largest lumbar + thoracic flexion in the rep (ground truth)
    yaw_deg: float  # camera yaw the landmarks give for the matched rep (NaN when no rep matched)
    est_max_deg: float  # largest silhouette estimate over the rep's own frames (NaN when never read)
    flagged: bool  # the rounded-back rule flagged the matched rep
    matched: bool  # an analysed rep contains the true rep's bottom


def _truth(gt: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    fr = gt["frames"]
    return np.asarray(fr["t_ms"], float), np.asarray(fr["lumbar_deg"], float) + np.asarray(fr["thoracic_deg"], float)


def _per_frame(t_ms: np.ndarray, est: np.ndarray, gt_t: np.ndarray, gt_flex: np.ndarray) -> dict[str, float]:
    truth = np.interp(t_ms, gt_t, gt_flex)
    ok = np.isfinite(est)
    out = {"read": float(ok.mean()), "corr": float("nan"), "slope": float("nan"), "rms": float("nan")}
    if ok.sum() >= 10 and truth[ok].std() > 0:
        out["corr"] = float(np.corrcoef(est[ok], truth[ok])[0, 1])
        slope, icpt = np.polyfit(truth[ok], est[ok], 1)
        out["slope"] = float(slope)
        out["rms"] = float(np.sqrt(np.mean((est[ok] - (slope * truth[ok] + icpt)) ** 2)) / slope) if slope > 0 \
            else float("nan")
    return out


def rep_rows(analysis: Any, gt: dict[str, Any]) -> list[RepRow]:
    """Each true rep, matched to the analysed rep that contains its bottom."""
    gt_t, gt_flex = _truth(gt)
    reps = analysis.report.reps
    flagged = {f["rep"] for f in analysis.report.flags if f["code"] == "rounded_back"}
    from formcheck.views import classify_view

    est = analysis.spine.flexion_deg if analysis.spine is not None else None
    t = analysis.sequence.t_ms
    rows = []
    gt_rep = np.asarray(gt["frames"]["rep"], int)  # -1 outside reps; a deadlift rep's lowering carries its index
    for r in gt["reps"]:
        true_deg = float(gt_flex[gt_rep == r["index"]].max())
        hit = next((a for a in reps if a["start_ms"] - 300 <= r["bottom_ms"] <= a["end_ms"] + 300), None)
        if hit is None:
            rows.append(RepRow(true_deg, float("nan"), float("nan"), False, False))
            continue
        inside = (t >= hit["start_ms"]) & (t <= hit["end_ms"])
        # a detected deadlift rep opens with the previous rep's lowering: read only this rep's own frames
        own = inside & (gt_rep[np.clip(np.searchsorted(gt_t, t), 0, len(gt_t) - 1)] == r["index"])
        e = est[own] if est is not None else np.array([np.nan])
        e = e[np.isfinite(e)]
        yaw = classify_view(analysis.sequence, inside).yaw_deg if inside.sum() >= 3 else float("nan")
        rows.append(RepRow(true_deg, float(yaw), float(e.max()) if e.size else float("nan"), hit["rep"] in flagged,
                           True))
    return rows


def loaded_rows(analysis: Any, gt: dict[str, Any]) -> list[tuple[float, float, str, float]]:
    """Per analysed rep matched to a true rep: (largest true flexion, reading, verdict, share of the window read).

    The reading is the rounded-back rule's silhouette measure (``spine_flexion_loaded`` with the
    packaged rule's window), the verdict what that rule alone says of it (clear / borderline /
    flagged); the truth is the largest lumbar + thoracic flexion over the same window's frames that
    belong to the matched true rep (a pull's window opens on the previous rep's lowering).
    """
    from formcheck.analysis import metric_signals
    from formcheck.repmetrics import _loaded_window, measure
    from formcheck.rules import load_rules

    if analysis.spine is None or analysis.segmentation is None:
        return []
    rule = next(r for r in load_rules(analysis.lift).rules["rounded_back"] if r.measure == "spine_flexion_loaded")
    gt_t, gt_flex = _truth(gt)
    t = analysis.sequence.t_ms
    truth = np.interp(t, gt_t, gt_flex)
    gt_rep = np.asarray(gt["frames"]["rep"], int)[np.clip(np.searchsorted(gt_t, t), 0, len(gt_t) - 1)]
    signals = metric_signals(analysis.metrics)
    rows = []
    for rep in analysis.segmentation.reps:
        hit = next((r for r in gt["reps"] if rep.start_ms - 300 <= r["bottom_ms"] <= rep.end_ms + 300), None)
        if hit is None:
            continue
        m = measure(rule.measure, t, signals, rep, **dict(rule.params))
        win, _ = _loaded_window(t, rep, float(rule.params.get("before_ms", 100.0)),
                                float(rule.params.get("rise_fraction", 0.6)))
        own = win & (gt_rep == hit["index"])
        if not (np.isfinite(m.value) and own.any()):
            continue
        read_share = float(np.isfinite(analysis.spine.flexion_deg[win]).mean())
        rows.append((float(truth[own].max()), float(m.value), rule.judge(m.value, rule.limit), read_share))
    return rows


#: A rep enters the band's fit when the silhouette was read in at least this share of its loaded window.
MIN_READ_SHARE = 0.5


def print_band(rows: list[tuple[str, float, float, str, float]], limit: float) -> None:
    """The measure's error band on the side-on reps and the clean / past-twice-the-limit checks."""
    fit = [r for r in rows if r[4] >= MIN_READ_SHARE]
    if len(fit) < 3:
        print("\nband: fewer than 3 side-on reps read; nothing to fit")
        return
    true = np.array([r[1] for r in fit])
    read = np.array([r[2] for r in fit])
    b, a = np.polyfit(true, read, 1)
    resid = read - (a + b * true)
    band = float(np.percentile(np.abs(resid), 90))
    print(f"\nspine_flexion_loaded on {len(fit)} side-on reps read in at least {MIN_READ_SHARE:.0%} of their "
          f"loaded window: read = {a:.1f} + {b:.2f} x true, RMS {np.sqrt(np.mean(resid ** 2)):.1f}, "
          f"p90 |read - line| = {band:.1f} deg of reading (the band); limit {limit:g} deg of reading = "
          f"{(limit - a) / b:.0f} deg of true flexion on this line")
    print("\n| clip | true deg | read deg | window read | rule alone |")
    print("|---|---|---|---|---|")
    for name, tr, rd, verdict, share in rows:
        print(f"| {name} | {tr:.0f} | {rd:.1f} | {share:.0%} | {verdict} |")
    clean = [r for r in rows if r[1] < 5.0]
    big = [r for r in rows if r[1] >= 2.0 * limit]
    print(f"\nclean reps (true < 5 deg) flagged: {sum(r[3] == 'flagged' for r in clean)}/{len(clean)}; "
          f"reps at twice the limit or more (true >= {2 * limit:g} deg) flagged: "
          f"{sum(r[3] == 'flagged' for r in big)}/{len(big)}")


def print_set_band(rows: list[tuple[str, float, float, str, float]], lifts: dict[str, str]) -> None:
    """The same, for the reading against the set's own median rep (``spine_flexion_vs_set``).

    Per clip with at least the rule's ``min_set_reps`` reps read, each reading minus the median of the
    clip's readings against each true flexion minus the median of the clip's true flexions; the band is
    the 90th percentile of the distances to the fitted line (reps read in at least half of their window).
    """
    from formcheck.rules import load_rules

    rel: list[tuple[str, float, float, str, float]] = []
    for name in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == name]
        rule = next(r for r in load_rules(lifts[name]).rules["rounded_back"] if r.measure == "spine_flexion_vs_set")
        if len(mine) < rule.min_set_reps:
            continue
        mt, mr = float(np.median([r[1] for r in mine])), float(np.median([r[2] for r in mine]))
        rel += [(name, r[1] - mt, r[2] - mr, rule.judge(r[2] - mr, rule.limit), r[4], r[1]) for r in mine]
    fit = [r for r in rel if r[4] >= MIN_READ_SHARE]
    if len(fit) < 3:
        print("\nset band: fewer than 3 side-on reps in sets; nothing to fit")
        return
    true, read = np.array([r[1] for r in fit]), np.array([r[2] for r in fit])
    b, a = np.polyfit(true, read, 1)
    resid = read - (a + b * true)
    print(f"\nspine_flexion_vs_set (reading and truth minus their set's medians) on {len(fit)} side-on reps: "
          f"read = {a:.1f} + {b:.2f} x true, RMS {np.sqrt(np.mean(resid ** 2)):.1f}, "
          f"p90 |read - line| = {np.percentile(np.abs(resid), 90):.1f} deg of reading (the band)")
    print("\n| clip | true deg | true - set median | read - set median | rule alone |")
    print("|---|---|---|---|---|")
    for name, tr, rd, verdict, _share, t_abs in rel:
        print(f"| {name} | {t_abs:.0f} | {tr:.0f} | {rd:.1f} | {verdict} |")
    limit = max(r.limit for lift in set(lifts.values()) for r in load_rules(lift).rules["rounded_back"]
                if r.measure == "spine_flexion_vs_set")
    clean = [r for r in rel if r[5] < 5.0]
    big = [r for r in rel if r[5] >= 2.0 * limit]
    print(f"\nclean reps (true < 5 deg) flagged: {sum(r[3] == 'flagged' for r in clean)}/{len(clean)}; "
          f"reps at twice the limit or more (true >= {2 * limit:g} deg) flagged: "
          f"{sum(r[3] == 'flagged' for r in big)}/{len(big)}")


def _f(x: float, nd: int = 1) -> str:
    return "–" if not np.isfinite(x) else f"{x:.{nd}f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=Path.home() / ".cache" / "formcheck" / "rendered_spine",
                    help="where the rendered clips and their poses are kept")
    ap.add_argument("--render", action="store_true", help="render the clips that are missing (synth extra)")
    ap.add_argument("--only", nargs="*", default=None, help="clip names")
    ap.add_argument("--model", default="full")
    ap.add_argument("--no-samples", action="store_true", help="leave out the bundled sample videos")
    ap.add_argument("--spine", type=Path, default=None, help="a tuned spine.toml for both runs (default: packaged)")
    args = ap.parse_args(argv)

    from formcheck.analysis import analyze_sequence
    from formcheck.pipeline import pose_cached
    from formcheck.spine import load_params

    args.dir.mkdir(parents=True, exist_ok=True)
    clips: list[tuple[ClipSpec, Path]] = [(s, args.dir / f"{s.name}.mp4") for s in SPECS]
    if not args.no_samples:
        clips += [(s, REPO / "sample_videos" / f"{s.name}.mp4") for s in CLIPS if s.azimuth_deg < 45]
    if args.only:
        clips = [c for c in clips if c[0].name in set(args.only)]
    shipped = load_params(args.spine)
    runs = {"shipped": shipped, "gate off": replace(shipped, min_yaw_deg=0.0)}

    print("| clip | azimuth | run | reps found / true | yaw per rep (truth) | frames read | corr | slope | "
          "RMS err deg | per rep: true -> largest estimate deg (flagged *) |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    detect: dict[tuple[str, float], list[bool]] = {}
    band_rows: list[tuple[str, float, float, str, float]] = []
    lifts: dict[str, str] = {}
    limits: set[float] = set()
    for spec, mp4 in clips:
        if not mp4.is_file():
            if not args.render:
                print(f"| {spec.name} | not rendered (run with --render) |||||||||")
                continue
            from tools.synth.make_samples import render_clip

            render_clip(spec, args.dir, log=lambda m: print(m, file=sys.stderr))
        gt = json.loads(mp4.with_suffix(".json").read_text(encoding="utf-8"))
        seq, _sha, masks = pose_cached(mp4, model=args.model, cache_dir=args.dir / "poses", masks=True)
        gt_t, gt_flex = _truth(gt)
        for run, params in runs.items():
            a = analyze_sequence(seq, lift=spec.lift, masks=masks, spine_params=params)
            est = a.spine.flexion_deg if a.spine is not None else np.full(seq.n_frames, np.nan)
            pf = _per_frame(seq.t_ms, est, gt_t, gt_flex)
            rows = rep_rows(a, gt)
            yaws = " ".join(_f(r.yaw_deg, 0) for r in rows)
            per_rep = " · ".join(f"{r.true_deg:.0f}->{_f(r.est_max_deg, 0)}{'*' if r.flagged else ''}" for r in rows)
            print(f"| {spec.name} | {spec.azimuth_deg:g} | {run} | {sum(r.matched for r in rows)} / {len(rows)} | "
                  f"{yaws} ({90 - spec.azimuth_deg:g}) | {pf['read']:.0%} | {_f(pf['corr'], 2)} | "
                  f"{_f(pf['slope'], 2)} | {_f(pf['rms'])} | {per_rep} |", flush=True)
            if run == "shipped" and spec.azimuth_deg < 45.0:
                band_rows += [(spec.name, *row) for row in loaded_rows(a, gt)]
                lifts[spec.name] = spec.lift
                from formcheck.rules import load_rules

                limits |= {r.limit for r in load_rules(spec.lift).rules["rounded_back"]
                           if r.measure == "spine_flexion_loaded"}
            if run == "shipped":
                for r in rows:
                    detect.setdefault((f"az {spec.azimuth_deg:g}", round(r.true_deg / 5) * 5), []).append(r.flagged)
    if detect:
        print("\n| view | true flexion deg (nearest 5) | reps | flagged |")
        print("|---|---|---|---|")
        for (view, deg), hits in sorted(detect.items(), key=lambda kv: (float(kv[0][0][3:]), kv[0][1])):
            print(f"| {view} | {deg} | {len(hits)} | {sum(hits)} ({np.mean(hits):.0%}) |")
    print_band(band_rows, max(limits) if limits else float("nan"))
    print_set_band(band_rows, lifts)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
