"""Error bands of the rule measures: how far one reading strays from the same rep read without random error.

For every measure a packaged rule judges (``formcheck/config/{squat,deadlift}.toml``), this
simulates sets with the kinematic athlete of ``tools/synth`` (several body shapes, camera
heights, camera angles, a barbell or (squat, second build) none, one fault on the middle rep at
its preset magnitude or none), reads each rep twice through the product's own analysis and compares:

- **measured**: the landmarks with MediaPipe-like errors (``tests/support/landmark_sim.py``,
  ``MEDIAPIPE_LIKE``: pixel noise, the hip point offset from the joint, left/right swaps in bursts, a
  dim far side, dropped frames), a different noise seed per set;
- **reference**: the same clip's exact landmarks with only MediaPipe's systematic hip placement
  (``HIP_OFFSET_ONLY``: the hip point above and in front of the joint, which the metrics correct
  for, and no random error), over the same rep boundaries (those found on the noisy clip), so rep
  counting plays no part;
- **exact**: joint centres, no error at all; the median of ``measured - exact`` is printed as the
  bias left after the metrics' corrections (a bias belongs in the limit, which is set in
  MediaPipe's terms, not in the band).

The band of a measure is the 90th percentile of ``|measured - reference|`` over every rep
judged (quality at least the rules' ``min_quality``) in the views its rule lists: the random
error of one reading. A reading whose
true value sits exactly at the limit then clears ``limit + band`` on about 5 % of reps or fewer
(one side of a 90 % two-sided spread).

The silhouette measure (``spine_flexion_loaded``) needs rendered silhouettes, which the landmark
simulator does not make: its row is marked "no truth here" and its band comes from the rendered
clips through MediaPipe (``benchmarks/rendered_spine.py``, docs/accuracy.md).

**Rendered clips through MediaPipe** (``--renders DIR``): the landmark simulator's errors are
random, per landmark; MediaPipe's own placement of the hip and knee on a body seen from a given
camera is not in it. For the measures whose truth the renders carry, the squat's depth
(``depth_min``: the renderer's exact hip and knee joints) and heel rise (``heel_rise``: the rendered
heels never leave the floor, truth 0), the product reads the view-calibration renders
(``benchmarks/view_calibration.py --render``: 20 squats, 2 reps each, camera azimuths 0-90 deg at
0.8 and 1.5 m, three builds; their poses cached beside them) and prints the 90th percentile of
|reading - truth| over the judged reps in the rule's views. Where that is the larger, it is the band
the TOML uses (one reading's error on a camera we do not know), and the table says so.

Run: ``nice python benchmarks/measure_bands.py --renders /work/cache/viewrenders`` (about 6 minutes
on one core, plus about a minute for the renders' analysis; ``--quick`` for a smaller grid).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from formcheck.analysis import analyze_sequence  # noqa: E402
from formcheck.repmetrics import measure  # noqa: E402
from formcheck.rules import load_rules  # noqa: E402
from support.landmark_sim import CLEAN, HIP_OFFSET_ONLY, MEDIAPIPE_LIKE, simulate_sequence, to_pose_sequence  # noqa: E402
from tools.synth.kinematics import FAULT_PRESETS, LIFT_FAULTS, Body, Camera  # noqa: E402

VIEWS = {"side": 0.0, "oblique": 45.0, "front": 90.0}


def _scaled(body: Body, legs: float, torso: float) -> Body:
    """A body with legs and torso segments scaled (a long-legged or a long-torsoed build)."""
    kw = {}
    for f in dataclasses.fields(Body):
        v = getattr(body, f.name)
        if f.name in ("shank_m", "thigh_m", "ankle_height_m"):
            kw[f.name] = v * legs
        elif f.name in ("hip_to_l5_m", "l5_to_t12_m", "t12_to_shoulder_m", "t12_to_c7_m"):
            kw[f.name] = tuple(x * torso for x in v)
    return dataclasses.replace(body, **kw)


BODIES = {
    "average": Body(),
    "long legs, short torso": _scaled(Body(), 1.12, 0.9),
    "short legs, long torso": _scaled(Body(), 0.9, 1.1),
}
CAMERA_HEIGHTS_M = (0.7, 1.4)
#: (p90 of |error| in read degrees) of the silhouette rule's own reading, per rep, on the rendered side-on
#: clips with exact truth: p90 |reading - fitted line| over 21 reps, printed by
#: `nice python benchmarks/rendered_spine.py --render` (last table; docs/accuracy.md). The real clips'
#: rep-to-rep repeatability (7.9, benchmarks/spine_repeatability.py) is smaller, so this one is the band.
SILHOUETTE_BAND_DEG = 9.8
#: the same for the reading against the set's median rep (``spine_flexion_vs_set``): the larger of the real
#: clips' rep-to-rep repeatability, p90 7.9 (benchmarks/spine_repeatability.py), and the renders' p90 around
#: the fitted line of (reading - set median) on (truth - set median), 6.2 (benchmarks/rendered_spine.py)
SILHOUETTE_BANDS_DEG = {"spine_flexion_loaded": (SILHOUETTE_BAND_DEG, "rendered clips"),
                        "spine_flexion_vs_set": (7.9, "real-clip repeatability")}


def _rules_by_view(lift: str):
    rs = load_rules(lift)
    out = []
    for code, alts in rs.rules.items():
        for rule in alts:
            out.append((code, rule))
    return rs, out


def run(quick: bool) -> tuple[dict[tuple[str, str, str], list[float]], dict[tuple[str, str, str], list[float]]]:
    errors: dict[tuple[str, str, str], list[float]] = {}
    biases: dict[tuple[str, str, str], list[float]] = {}
    bodies = dict(list(BODIES.items())[:2]) if quick else BODIES
    heights = CAMERA_HEIGHTS_M[:1] if quick else CAMERA_HEIGHTS_M
    seed = 0
    for lift in ("squat", "deadlift"):
        rs, rules = _rules_by_view(lift)
        for view, az in VIEWS.items():
            here = [(c, r) for c, r in rules if view in r.views and r.measure not in SILHOUETTE_BANDS_DEG]
            if not here:
                continue
            faults = [None] + sorted({c for c, _ in here})
            for b_i, (bname, body) in enumerate(bodies.items()):
                for h in heights:
                    for fault in faults:
                        seed += 1
                        equipment = "bodyweight" if (lift == "squat" and b_i % 2 == 1) else "barbell"
                        corruption = dataclasses.replace(MEDIAPIPE_LIKE, seed=seed)
                        if fault and fault not in LIFT_FAULTS[lift]:
                            continue  # the model cannot make this fault in this lift: clean sets only
                        sim = simulate_sequence(lift, az, reps=3, corruption=corruption,
                                                faults={1: FAULT_PRESETS[fault]} if fault else None,
                                                camera=Camera(azimuth_deg=az, height_m=h), body=body,
                                                equipment=equipment, seed=seed % 5)
                        noisy = analyze_sequence(sim.seq, lift=lift)
                        ref = analyze_sequence(to_pose_sequence(sim.truth, HIP_OFFSET_ONLY), lift=lift)
                        exact = analyze_sequence(to_pose_sequence(sim.truth, CLEAN), lift=lift)
                        if noisy.segmentation is None or ref.metrics is None or exact.metrics is None:
                            continue
                        sig_n, sig_r, sig_e = noisy.signals(), ref.signals(), exact.signals()
                        t = noisy.t_ms
                        for code, rule in here:
                            for rep in noisy.segmentation.reps:
                                m = measure(rule.measure, t, sig_n, rep, **dict(rule.params))
                                r = measure(rule.measure, t, sig_r, rep, **dict(rule.params))
                                e = measure(rule.measure, t, sig_e, rep, **dict(rule.params))
                                if not (math.isfinite(m.value) and math.isfinite(r.value)):
                                    continue
                                if m.quality < rs.min_quality:
                                    continue
                                errors.setdefault((lift, code, rule.measure), []).append(m.value - r.value)
                                if math.isfinite(e.value):
                                    biases.setdefault((lift, code, rule.measure), []).append(m.value - e.value)
                        print(f"  {lift} {view} {bname} cam {h} m {equipment} {fault or 'clean'}: "
                              f"{noisy.report.rep_count} reps", file=sys.stderr, flush=True)
    return errors, biases


#: measures whose truth the view-calibration renders carry: name -> truth per rep (see rendered_errors)
RENDERED_MEASURES = ("depth_min", "heel_rise")


def rendered_errors(render_dir: Path) -> dict[str, list[tuple[str, int, str, float, float]]]:
    """``{measure: [(clip, rep, view, reading, truth)]}`` on the squat renders of ``benchmarks/view_calibration.py``.

    The renders' exact joints are simulated again from the same parameters (the kinematic model is
    deterministic); truth of ``depth_min`` is the lowest hip-joint height over the knee joint in the
    rep (thigh lengths, mean of both legs), of ``heel_rise`` 0 (the rendered heels stay down).
    Only clips already rendered and extracted (``view_calibration.py --render``) are read.
    """
    from benchmarks.view_calibration import FPS, _mesh, grid
    from formcheck.landmarks import Landmark as L
    from formcheck.pipeline import pose_cached
    from tools.synth.kinematics import simulate

    rs = load_rules("squat")
    rules = {r.measure: r for alts in rs.rules.values() for r in alts if r.measure in RENDERED_MEASURES}
    out: dict[str, list[tuple[str, int, str, float, float]]] = {m: [] for m in RENDERED_MEASURES}
    for clip in grid():
        mp4 = render_dir / f"{clip.name}.mp4"
        if clip.lift != "squat" or not mp4.exists():
            continue
        mesh = _mesh(clip.body)
        cam = Camera(azimuth_deg=clip.azimuth_deg, facing=clip.facing, height_m=clip.height_m)
        sim = simulate("squat", reps=2, fps=FPS, setup_s=0.5, end_s=0.4, camera=cam, body=mesh.body(),
                       seed=int(clip.azimuth_deg) + int(100 * clip.height_m), equipment="barbell")
        j = np.asarray(sim.joints_3d, dtype=float)  # metres, +y up
        depth = np.mean([(j[:, int(h), 1] - j[:, int(k), 1]) / np.linalg.norm(j[:, int(h)] - j[:, int(k)], axis=1)
                         for h, k in ((L.LEFT_HIP, L.LEFT_KNEE), (L.RIGHT_HIP, L.RIGHT_KNEE))], axis=0)
        seq, _sha, _ = pose_cached(mp4, model="full", cache_dir=render_dir / "poses")
        an = analyze_sequence(seq, lift="squat")
        if an.segmentation is None or an.metrics is None:
            continue
        view, sig, t = an.metrics.view.view, an.signals(), an.t_ms
        for rep in an.segmentation.reps:
            w = (sim.t_ms >= rep.start_ms) & (sim.t_ms <= rep.end_ms)
            truth = {"depth_min": float(np.min(depth[w])) if w.any() else math.nan, "heel_rise": 0.0}
            for name, rule in rules.items():
                m = measure(name, t, sig, rep, **dict(rule.params))
                if view in rule.views and math.isfinite(m.value) and m.quality >= rs.min_quality:
                    out[name].append((clip.name, rep.index, view, m.value, truth[name]))
    return out


def print_rendered(rendered: dict[str, list[tuple[str, int, str, float, float]]]) -> None:
    print("\n### Rendered clips through MediaPipe (squat; truth from the renderer)\n")
    print("| measure | units | reps | views | median error | p90 abs error | max abs error | "
          "p90 side, camera 0.8 m / 1.5 m |")
    print("|---|---|---|---|---|---|---|---|")
    units = {"depth_min": "thigh", "heel_rise": "foot"}
    for name, rows in rendered.items():
        if not rows:
            print(f"| {name} | {units[name]} | 0 | – | – | – | – | – |")
            continue
        e = np.array([r[3] - r[4] for r in rows])
        a = np.abs(e)
        by_h = []
        for h in ("h80", "h150"):
            sel = np.array([("_" + h + "_") in r[0] and r[2] == "side" for r in rows])
            by_h.append(f"{np.percentile(a[sel], 90):.3g}" if sel.any() else "–")
        views = ", ".join(sorted({r[2] for r in rows}))
        print(f"| {name} | {units[name]} | {e.size} | {views} | {np.median(e):+.3g} | {np.percentile(a, 90):.3g} | "
              f"{a.max():.3g} | {' / '.join(by_h)} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="two bodies, one camera height")
    ap.add_argument("--renders", type=Path, default=None,
                    help="folder of the view-calibration renders (benchmarks/view_calibration.py --render)")
    ap.add_argument("--renders-only", action="store_true", help="only the rendered clips' table")
    args = ap.parse_args()
    t0 = time.time()
    if args.renders is not None:
        print_rendered(rendered_errors(args.renders))
        if args.renders_only:
            return
    errors, biases = run(args.quick)
    print("| lift | fault | measure | units | reps | median error | p90 abs error (band) | max abs error "
          "| bias vs exact (median) | limit | band in the TOML |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for lift in ("squat", "deadlift"):
        rs = load_rules(lift)
        for code, alts in rs.rules.items():
            for rule in alts:
                if rule.measure in SILHOUETTE_BANDS_DEG:
                    band, where = SILHOUETTE_BANDS_DEG[rule.measure]
                    print(f"| {lift} | {code} | {rule.measure} | {rule.units} | no truth here (needs rendered "
                          f"silhouettes) | – | {band} ({where}, see docstring) | – | – | "
                          f"{rule.limit:g} | {rule.band:g} |")
                    continue
                e = np.asarray(errors.get((lift, code, rule.measure), []), dtype=float)
                if e.size == 0:
                    print(f"| {lift} | {code} | {rule.measure} | {rule.units} | 0 | – | – | – | – | {rule.limit:g} "
                          f"| {rule.band:g} |")
                    continue
                a = np.abs(e)
                bias = np.asarray(biases.get((lift, code, rule.measure), [np.nan]), dtype=float)
                print(f"| {lift} | {code} | {rule.measure} | {rule.units} | {e.size} | {np.median(e):+.3g} | "
                      f"{np.percentile(a, 90):.3g} | {a.max():.3g} | {np.nanmedian(bias):+.3g} | {rule.limit:g} "
                      f"| {rule.band:g} |")
    print(f"\n({time.time() - t0:.0f} s; bodies: {', '.join(BODIES)}; camera heights {CAMERA_HEIGHTS_M} m; "
          f"views {', '.join(VIEWS)}; squat with a barbell and, for the second build, without)")


if __name__ == "__main__":
    main()
