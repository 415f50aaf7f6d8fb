"""Camera yaw and view decision on rendered clips at known azimuths, through MediaPipe (issue #11).

Run from the repository root (rendering needs the ``synth`` extra and libosmesa6,
``docs/synthetic.md``; 15-70 s per clip on the shared 2 cores, then cached in ``--dir``)::

    nice python benchmarks/view_calibration.py --render     # render + extract what is missing, then the table
    nice python benchmarks/view_calibration.py              # only the clips already extracted
    nice python benchmarks/view_calibration.py --fit        # also print the [views] yaw curve fitted on them
    nice python benchmarks/view_calibration.py --real ../shared/data/lifts   # also the labelled real clips
                                                            # (poses from --real-cache only, none extracted)

The grid (:func:`grid`): squats (empty bar, 2 reps) and deadlifts (loaded bar,
1 rep) filmed at camera azimuths 0-90 degrees (0 = side-on, 90 = front), from
two camera heights (0.8 m: hip height; 1.5 m: looking down), by three bodies
(the MakeHuman base mesh and two stretched copies: broad = shoulders and hips
15 % wider, slim = 10 % narrower and 6 % taller, so the shoulder-width to
torso-length ratio the image estimate uses differs by about +-20 %). Each
clip goes through the product's own path: MediaPipe PoseLandmarker
(``--model``, :func:`formcheck.pipeline.pose_cached`), then
:func:`formcheck.cleaning.clean` and :func:`formcheck.views.classify_view`
on every true rep's frames (the ground truth's rep spans, so this measures
the view estimate, not rep counting).

Truth: yaw = 90 - azimuth; view = side for azimuths up to 25 deg, front from
65, oblique in between (``tools.synth.kinematics.Camera.view``). Printed per
azimuth: reps, the measured yaw (mean, sd, mean error), the raw yaw before the
calibration curve, and how many reps got each view. Then the decision
accuracy over all reps. ``--fit`` prints the curve (raw -> true) as the
``[views]`` keys of ``formcheck/config/calibration.toml``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

AZIMUTHS = (0.0, 5.0, 10.0, 20.0, 30.0, 45.0, 60.0, 70.0, 80.0, 90.0)
HEIGHTS_M = (0.8, 1.5)
#: mesh scale per body: (forward, up, left-right)
BODIES: dict[str, tuple[float, float, float]] = {"base": (1.0, 1.0, 1.0), "broad": (1.08, 1.0, 1.15),
                                                  "slim": (0.92, 1.06, 0.90)}
FPS = 12.0
#: knots of the fitted curve closer than this (raw degrees) are merged
MIN_KNOT_GAP_DEG = 3.0
WIDTH, HEIGHT = 640, 480


@dataclass(frozen=True)
class ViewClip:
    """One rendered clip of the grid."""

    lift: str
    azimuth_deg: float
    height_m: float
    body: str
    facing: str

    @property
    def name(self) -> str:
        return f"vc_{self.lift}_az{self.azimuth_deg:g}_h{self.height_m * 100:.0f}_{self.body}_{self.facing}"

    @property
    def true_yaw_deg(self) -> float:
        return 90.0 - self.azimuth_deg

    @property
    def true_view(self) -> str:
        return "side" if self.azimuth_deg <= 25.0 else "front" if self.azimuth_deg >= 65.0 else "oblique"


def grid() -> list[ViewClip]:
    """Every azimuth x height x lift once; the bodies and facings rotate through the grid.

    Ordered in passes over all azimuths (squat low, deadlift high, deadlift low, squat high), so a
    partial run (``--limit``) already covers every azimuth with both lifts.
    """
    names = list(BODIES)
    out = []
    for j, k in ((0, 0), (1, 1), (0, 1), (1, 0)):
        h, lift = HEIGHTS_M[j], ("squat", "deadlift")[k]
        for i, az in enumerate(AZIMUTHS):
            out.append(ViewClip(lift, az, h, names[(i + j + 2 * k) % len(names)],
                                "left" if (i + j + k) % 2 else "right"))
    return out


def _mesh(body: str) -> Any:
    from tools.synth.body import load_mesh

    mesh = load_mesh()
    s = np.asarray(BODIES[body], float)
    return replace(mesh, vertices_m=mesh.vertices_m * s, joints={k: np.asarray(v) * s for k, v in mesh.joints.items()})


def render(clip: ViewClip, out_dir: Path) -> Path:
    """Render ``clip`` to ``<out_dir>/<name>.mp4`` and its rep spans to ``<name>.json``."""
    from formcheck.video import VideoWriter
    from tools.synth.kinematics import Camera, simulate
    from tools.synth.render import Renderer

    mesh = _mesh(clip.body)
    cam = Camera(azimuth_deg=clip.azimuth_deg, facing=clip.facing, height_m=clip.height_m)
    squat = clip.lift == "squat"
    sim = simulate(clip.lift, reps=2 if squat else 1, fps=FPS, setup_s=0.5, end_s=0.4, camera=cam, body=mesh.body(),
                   seed=int(clip.azimuth_deg) + int(100 * clip.height_m), equipment="barbell")
    mp4 = out_dir / f"{clip.name}.mp4"
    tmp = mp4.with_name(mp4.stem + ".part.mp4")
    with Renderer(cam, mesh=mesh, barbell=True, plates=not squat) as r, VideoWriter(tmp, FPS, (WIDTH, HEIGHT)) as w:
        for i in range(sim.n_frames):
            w.write(r.render(sim.pose_at(i)), float(sim.t_ms[i]))
    tmp.replace(mp4)
    truth = {"clip": clip.name, "camera": cam.to_dict(), "reps": [{"start_ms": r.start_ms, "end_ms": r.end_ms}
                                                                  for r in sim.reps]}
    mp4.with_suffix(".json").write_text(json.dumps(truth) + "\n", encoding="utf-8")
    return mp4


def rep_views(clip: ViewClip, mp4: Path, model: str, cache: Path) -> list[Any]:
    """``classify_view`` of each true rep of the clip (poses from the cache when extracted before)."""
    from formcheck.cleaning import clean
    from formcheck.pipeline import pose_cached
    from formcheck.views import classify_view

    truth = json.loads(mp4.with_suffix(".json").read_text(encoding="utf-8"))
    seq, _sha, _ = pose_cached(mp4, model=model, cache_dir=cache)
    seq = clean(seq)
    out = []
    for rep in truth["reps"]:
        frames = (seq.t_ms >= rep["start_ms"]) & (seq.t_ms <= rep["end_ms"])
        out.append(classify_view(seq, frames))
    return out


#: labels.json ``view`` -> the view the analysis should decide
REAL_VIEW = {"side": "side", "45deg": "oblique", "rear45": "oblique", "front": "front"}


def real_rows(data: Path, cache: Path, model: str) -> list[tuple[dict[str, Any], Any, list[Any]]]:
    """``(label, clip view, per-rep views)`` of every labelled real clip whose pose is cached (none extracted)."""
    from formcheck.cleaning import clean
    from formcheck.pipeline import file_sha256
    from formcheck.sequence import PoseSequence
    from formcheck.views import classify_view

    out = []
    for lab in json.loads((data / "labels.json").read_text(encoding="utf-8")):
        path = data / "videos" / lab["file"]
        if not path.is_file():
            path = data / lab["file"]
        if not path.is_file():
            continue
        cached = cache / f"{file_sha256(path)[:24]}.{model}.npz"
        if not cached.is_file():
            print(f"{lab['file']}: pose not cached, left out", file=sys.stderr)
            continue
        seq = clean(PoseSequence.load(cached))
        reps = []
        for r in lab.get("reps", []):
            frames = (seq.t_ms >= 1000.0 * r["start_s"]) & (seq.t_ms <= 1000.0 * r["end_s"])
            if frames.sum() >= 3:
                reps.append(classify_view(seq, frames))
        out.append((lab, classify_view(seq), reps))
    return out


def print_real(rows: list[tuple[dict[str, Any], Any, list[Any]]]) -> None:
    """View confusion on the real clips (whole clip and per labelled rep), and each clip's yaw by label."""
    for what in ("clips", "reps"):
        print(f"\n| real {what}: label \\ decided | side | oblique | front | right |")
        print("|---|---|---|---|---|")
        for label in REAL_VIEW:
            got = [v.view for lab, cv, rv in rows if lab["view"] == label for v in ([cv] if what == "clips" else rv)]
            if got:
                n = {k: got.count(k) for k in ("side", "oblique", "front")}
                print(f"| {label} | {n['side']} | {n['oblique']} | {n['front']} | "
                      f"{n[REAL_VIEW[label]]}/{len(got)} |")
    print()
    for label in REAL_VIEW:
        yaws = sorted(round(cv.yaw_deg) for lab, cv, _ in rows if lab["view"] == label and np.isfinite(cv.yaw_deg))
        raws = sorted(round(cv.features.get("yaw_raw_deg", cv.yaw_deg)) for lab, cv, _ in rows
                      if lab["view"] == label and np.isfinite(cv.yaw_deg))
        print(f"real {label}: clip yaw {yaws} (raw {raws})")
    bad = [(lab["file"], lab["view"], cv.view, round(cv.yaw_deg)) for lab, cv, _ in rows
           if REAL_VIEW[lab["view"]] != cv.view]
    for b in bad:
        print(f"  wrong: {b[0]} ({b[1]}) read {b[2]} at {b[3]} deg")


def _f(x: float, nd: int = 1) -> str:
    return "–" if not np.isfinite(x) else f"{x:.{nd}f}"


def fit_curve(raw: np.ndarray, true: np.ndarray) -> tuple[list[float], list[float]]:
    """Knots (raw -> true) of a monotone piecewise-linear curve: the median raw yaw of each true yaw."""
    levels = sorted(set(true.tolist()))
    med = [float(np.median(raw[true == t])) for t in levels]
    # keep it monotone and not too steep: a knot less than MIN_KNOT_GAP_DEG above its predecessor is
    # merged into it (raw and true averaged), so reading noise near square-on is not amplified
    xs, ys, ns = [0.0], [0.0], [0]
    for m, t in zip(med, levels):
        if m > xs[-1] + MIN_KNOT_GAP_DEG or ns[-1] == 0:
            xs.append(m)
            ys.append(float(t))
            ns.append(1)
        else:
            k = ns[-1]
            xs[-1], ys[-1], ns[-1] = (k * xs[-1] + m) / (k + 1), (k * ys[-1] + t) / (k + 1), k + 1
    if len(xs) > 1 and xs[1] <= 0.0:
        xs.pop(1), ys.pop(1), ns.pop(1)
    xs = [round(x, 1) for x in xs]
    ys = [round(y, 1) for y in ys]
    if xs[-1] < 89.5:
        xs.append(90.0)
        ys.append(90.0)
    return xs, ys


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/work/cache/viewrenders"),
                    help="where the rendered clips and their poses are kept (outside the repository)")
    ap.add_argument("--render", action="store_true", help="render and extract the clips that are missing")
    ap.add_argument("--model", default="full")
    ap.add_argument("--fit", action="store_true", help="print the yaw curve fitted on these clips")
    ap.add_argument("--limit", type=int, default=0, help="render at most this many new clips (0 = all)")
    ap.add_argument("--real", type=Path, default=None, metavar="DIR",
                    help="also the labelled real clips in DIR (labels.json), from the pose cache only")
    ap.add_argument("--real-cache", type=Path, default=Path("/work/cache/poses"), help="their pose cache")
    args = ap.parse_args(argv)
    if args.real is not None:
        print_real(real_rows(args.real, args.real_cache, args.model))

    args.dir.mkdir(parents=True, exist_ok=True)
    cache = args.dir / "poses"
    rows: list[tuple[ViewClip, Any]] = []
    made = 0
    for clip in grid():
        mp4 = args.dir / f"{clip.name}.mp4"
        if not mp4.is_file():
            if not args.render or (args.limit and made >= args.limit):
                continue
            t0 = time.monotonic()
            render(clip, args.dir)
            made += 1
            views = rep_views(clip, mp4, args.model, cache)
            print(f"{clip.name}: rendered and extracted in {time.monotonic() - t0:.0f} s", file=sys.stderr, flush=True)
        else:
            views = rep_views(clip, mp4, args.model, cache)
        rows.extend((clip, v) for v in views)
    if not rows:
        print("no clips yet: run with --render")
        return 1

    print("| azimuth deg | true yaw | reps | yaw mean | sd | error | raw yaw mean | side | oblique | front |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    right = 0
    for az in sorted({c.azimuth_deg for c, _ in rows}):
        vs = [v for c, v in rows if c.azimuth_deg == az]
        yaw = np.array([v.yaw_deg for v in vs])
        raw = np.array([v.features.get("yaw_raw_deg", v.yaw_deg) for v in vs])
        n = {k: sum(v.view == k for v in vs) for k in ("side", "oblique", "front")}
        truth = 90.0 - az
        print(f"| {az:g} | {truth:g} | {len(vs)} | {_f(np.nanmean(yaw))} | {_f(np.nanstd(yaw))} | "
              f"{_f(np.nanmean(yaw) - truth):>5} | {_f(np.nanmean(raw))} | {n['side']} | {n['oblique']} | "
              f"{n['front']} |")
    right = sum(v.view == c.true_view for c, v in rows)
    err = np.array([v.yaw_deg - c.true_yaw_deg for c, v in rows])
    print(f"\nview decision right on {right} of {len(rows)} reps ({right / len(rows):.1%}); yaw error over all reps: "
          f"mean {np.nanmean(err):+.1f}, mean |error| {np.nanmean(np.abs(err)):.1f}, "
          f"largest |error| {np.nanmax(np.abs(err)):.1f} deg")
    wrong = [(c.name, v.view, round(v.yaw_deg, 1)) for c, v in rows if v.view != c.true_view]
    for w in wrong:
        print(f"  wrong: {w[0]} read {w[1]} at {w[2]} deg")
    by = {}
    for key in ("lift", "height_m", "body"):
        for val in sorted({getattr(c, key) for c, _ in rows}):
            e = np.array([v.yaw_deg - c.true_yaw_deg for c, v in rows if getattr(c, key) == val])
            by[f"{key}={val}"] = f"{np.nanmean(e):+.1f} (|{np.nanmean(np.abs(e)):.1f}|)"
    print("mean error by " + ", ".join(f"{k}: {v}" for k, v in by.items()))
    if args.fit:
        raw = np.array([v.features.get("yaw_raw_deg", v.yaw_deg) for _, v in rows])
        true = np.array([c.true_yaw_deg for c, _ in rows])
        xs, ys = fit_curve(raw, true)
        from formcheck.views import ViewParams, calibrated_yaw_deg

        cal = calibrated_yaw_deg(raw, replace(ViewParams.packaged(), yaw_curve_raw_deg=tuple(xs),
                                              yaw_curve_true_deg=tuple(ys)))
        az = 90.0 - true
        print("\n# fitted by: nice python benchmarks/view_calibration.py --fit")
        print(f"yaw_curve_raw_deg = {xs}")
        print(f"yaw_curve_true_deg = {ys}")
        print(f"# with it: yaw error mean {np.mean(cal - true):+.1f}, mean |error| {np.mean(np.abs(cal - true)):.1f}, "
              f"largest {np.max(np.abs(cal - true)):.1f} deg over {len(true)} reps")
        # out of sample: the curve fitted on two bodies, tested on the third
        bodies = np.array([c.body for c, _ in rows])
        cv = np.full(len(true), np.nan)
        for b in sorted(set(bodies)):
            mine = bodies == b
            if len(set(true[~mine])) >= 2:
                bx, by_ = fit_curve(raw[~mine], true[~mine])
                cv[mine] = calibrated_yaw_deg(raw[mine], replace(ViewParams.packaged(), yaw_curve_raw_deg=tuple(bx),
                                                                 yaw_curve_true_deg=tuple(by_)))
        e = cv - true
        print(f"# leave-one-body-out: yaw error mean {np.nanmean(e):+.1f}, mean |error| {np.nanmean(np.abs(e)):.1f}, "
              f"largest {np.nanmax(np.abs(e)):.1f} deg; per true yaw: "
              + ", ".join(f"{t:g}: {np.nanmean(e[true == t]):+.1f}" for t in sorted(set(true))))
        vp = ViewParams.packaged()
        cv_view = np.where(cv < vp.front_max_yaw_deg, "front", np.where(cv > vp.side_min_yaw_deg, "side", "oblique"))
        want = np.array([c.true_view for c, _ in rows])
        print(f"# leave-one-body-out view decision (packaged thresholds): right on {np.sum(cv_view == want)} of "
              f"{len(want)} reps")
        for name, above, lo, hi in (("side_min_yaw_deg", az <= 25.0, 50.0, 85.0),
                                    ("front_max_yaw_deg", az < 65.0, 5.0, 40.0)):
            cands = np.arange(lo, hi + 0.01, 0.5)
            ok = np.array([np.sum((cal > c) == above) for c in cands])
            best = cands[ok == ok.max()]
            print(f"# {name}: {ok.max()}/{len(true)} reps on the right side for thresholds {best.min():g}-{best.max():g}"
                  f" (calibrated yaw of the nearest reps: {np.max(cal[~above]):.1f} / {np.min(cal[above]):.1f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
