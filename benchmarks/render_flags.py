"""The renders target of issue #11: no flag on a clean rep, every fault of at least twice its limit flagged.

Rendered clips with exact truth (``tools/synth``) go through the product's own path: MediaPipe
PoseLandmarker with silhouettes (:func:`formcheck.pipeline.pose_cached`), then
:func:`formcheck.analysis.analyze_sequence` with the packaged rules (the lift given, as a user
would). The clips are the bundled samples (``sample_videos/``, 30 fps) and the set in
:data:`SPECS`, rendered on demand into ``--dir`` (never into the repository): every fault code
the kinematic model makes, each lift, side, 45-degree and front cameras at 0.8-1.2 m, three
body shapes (``benchmarks/view_calibration.py`` ``BODIES``), four reps with the faults on the
second and fourth so each set keeps two clean reps.

**Truth of a rep**: the faults the generator injected into it, and a rounded back wherever the rep's
own span (``start_ms`` to ``end_ms``; a pull's opens with the previous pull's lowering) holds at least
``CARRIED_FLEXION_DEG`` of true flexion: the generator keeps a rounded pull rounded while it lowers the
bar, so the next rep really carries it. Such a rep is neither clean nor injected in the per-fault table (the
rules judge a pull's loaded part, not the lowering that opens its span) and is counted on its own line. A deadlift's extra rise after the set-down (the image bar check's job, not run here) matches no
true rep and counts nowhere. **How big a fault is**, in its own
rule's units: the rule's measure read on the same clip's exact landmarks (joint centres, with only
MediaPipe's systematic hip placement, which the metrics correct for:
``tests/support/landmark_sim.py`` ``HIP_OFFSET_ONLY``), over the rep found on the rendered clip.
"Twice its limit" is measured from the set's clean reps: the fault's reading is at least as far past
the clean reps' median as twice the limit is (``|truth - clean| >= 2 x |limit - clean|``, in the
fault's direction). For a measure whose clean value is 0 (a heel rise, a bar drift, a lean back)
that is simply ``truth >= 2 x limit``; for an absolute one (the trunk's lean, the depth) it keeps
"twice" meaningful. The rounded back has no landmark truth: its size is the true lumbar +
thoracic flexion in degrees, against twice the limit of its set rule (``spine_flexion_vs_set``,
16 deg: 32 deg of flexion), as ``benchmarks/rendered_spine.py`` counts it.

Printed: per clip and rep the truth, the verdicts (flag / borderline / clear / not assessable) of
every fault; then per fault: clean reps flagged / clean reps judged, injected reps at >= 2x flagged /
total, and injected reps under 2x (flagged / borderline / total).

Run (rendering needs the ``synth`` extra and libosmesa6, ``docs/synthetic.md``; a clip takes
3-10 min of CPU on a busy core, then it and its poses are cached in ``--dir``)::

    nice python benchmarks/render_flags.py --render --dir /tmp/flags_renders
"""

from __future__ import annotations

import argparse
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO), str(REPO / "tests")]

from tools.synth.kinematics import FAULT_PRESETS, Fault  # noqa: E402  (numpy only)

FPS = 10.0
WIDTH, HEIGHT = 640, 480


@dataclass(frozen=True)
class Spec:
    """One rendered clip: lift, camera, body, and the faults per rep (index -> code or Fault)."""

    name: str
    lift: str
    azimuth_deg: float
    facing: str
    height_m: float
    body: str
    faults: dict[int, str | Fault] = field(default_factory=dict)
    reps: int = 4
    equipment: str = "barbell"
    plates: bool = True
    seed: int = 0
    fps: float = FPS


def _f(code: str, **kw: float) -> Fault:
    """A fault code's preset with some fields changed (a bigger fault than the preset)."""
    from dataclasses import replace

    return replace(FAULT_PRESETS[code], **kw)


SPECS: tuple[Spec, ...] = (
    # squats: empty bar or bodyweight (loaded plates hide the head from a side camera)
    Spec("fl_squat_side_base", "squat", 0.0, "right", 1.0, "base",
         {1: "rounded_back", 3: _f("heels_lift", heel_lift_m=0.08)}, plates=False, seed=31),
    Spec("fl_squat_obl_slim", "squat", 45.0, "left", 0.8, "slim",
         {1: "excessive_forward_lean", 3: "hips_rise_early"}, equipment="bodyweight", plates=False, seed=32),
    Spec("fl_squat_front_broad", "squat", 90.0, "left", 1.2, "broad",
         {1: "knee_cave", 3: "shallow_depth"}, plates=False, seed=33),
    Spec("fl_squat_side_broad", "squat", 10.0, "left", 0.8, "broad",
         {1: _f("excessive_forward_lean", forward_lean_deg=26.0), 3: "shallow_depth"}, plates=False, seed=38),
    # deadlifts: loaded bar, 20 deg off side-on (the near plate hides the shins square on), or square on
    Spec("fl_deadlift_side_slim", "deadlift", 20.0, "left", 1.0, "slim",
         {1: _f("hyperextension_lockout", lean_back_deg=20.0), 3: "incomplete_lockout"}, seed=34),
    Spec("fl_deadlift_side_base", "deadlift", 20.0, "right", 1.2, "base",
         {1: _f("bar_drift", bar_drift_m=0.20), 3: "hips_too_low_start"}, seed=35),
    Spec("fl_deadlift_square_broad", "deadlift", 0.0, "right", 0.8, "broad",
         {1: "rounded_back", 3: "hips_rise_early"}, seed=36),
    Spec("fl_deadlift_front_base", "deadlift", 90.0, "left", 1.0, "base", {1: "knee_cave"}, reps=3, seed=37),
    # the model's largest knee cave and lean-back (Fault's caps), to reach twice their limits
    Spec("fl_squat_front_slim", "squat", 80.0, "right", 1.0, "slim",
         {1: _f("knee_cave", knee_cave_deg=30.0), 3: _f("knee_cave", knee_cave_deg=30.0)}, plates=False, seed=39),
    Spec("fl_deadlift_side_broad", "deadlift", 20.0, "right", 0.8, "broad",
         {1: _f("hyperextension_lockout", lean_back_deg=30.0), 3: _f("incomplete_lockout", lockout_short_deg=40.0)},
         seed=40),
)


def fault_codes(f: str | Fault) -> list[str]:
    return [f] if isinstance(f, str) else list(f.codes)


def simulate_spec(spec: Spec) -> Any:
    from benchmarks.view_calibration import _mesh
    from tools.synth.kinematics import Camera, simulate

    cam = Camera(azimuth_deg=spec.azimuth_deg, facing=spec.facing, height_m=spec.height_m)
    return simulate(spec.lift, reps=spec.reps, faults=dict(spec.faults), fps=spec.fps, camera=cam,
                    body=_mesh(spec.body).body(), seed=spec.seed, equipment=spec.equipment)


def render(spec: Spec, out_dir: Path) -> Path:
    """Render ``spec`` to ``<out_dir>/<name>.mp4`` (the truth is simulated again when read)."""
    from benchmarks.view_calibration import _mesh
    from formcheck.video import VideoWriter
    from tools.synth.render import Renderer

    sim = simulate_spec(spec)
    mp4 = out_dir / f"{spec.name}.mp4"
    tmp = mp4.with_name(mp4.stem + ".part.mp4")
    with Renderer(sim.camera, mesh=_mesh(spec.body), barbell=spec.equipment == "barbell", plates=spec.plates) as r, \
            VideoWriter(tmp, spec.fps, (WIDTH, HEIGHT)) as w:
        for i in range(sim.n_frames):
            w.write(r.render(sim.pose_at(i)), float(sim.t_ms[i]))
    tmp.replace(mp4)
    return mp4


#: silhouette measures: no landmark truth, the rounded back's size is the true spine flexion
SILHOUETTE = ("spine_flexion_loaded", "spine_flexion_vs_set")
#: a rep whose own span holds at least this much true flexion carries a rounded back (see judge_clip)
CARRIED_FLEXION_DEG = 10.0
#: the rounded back's "twice the limit", in degrees of true lumbar + thoracic flexion (see the module docstring)
ROUNDED_TWICE_MEASURE = "spine_flexion_vs_set"


@dataclass(frozen=True)
class RepRow:
    """One true rep of one clip as the product judged it."""

    clip: str
    lift: str
    view: str  # the view the analysis decided for the clip
    rep: int  # 1-based true rep
    faults: tuple[str, ...]  # injected (truth)
    matched: bool  # an analysed rep contains the true rep's bottom
    verdicts: dict[str, str]  # code -> flagged / borderline / clear / not_assessable (every code of the lift)
    truth: dict[str, float]  # code -> the fault's measure on exact landmarks (rounded back: true flexion deg)
    read: dict[str, float]  # code -> the same measure read on the rendered clip (rounded back: the silhouette's)
    carried: bool = False  # not injected, but its span opens on the previous pull's rounded lowering


def _rules(lift: str) -> Any:
    from formcheck.rules import load_rules

    return load_rules(lift)


def _landmark_rule(rs: Any, code: str) -> Any:
    """The fault's first rule read from landmarks (the rounded back's head proxy has no use here)."""
    return next((r for r in rs.rules[code] if r.measure not in SILHOUETTE), None)


def judge_clip(name: str, lift: str, sim: Any, seq: Any, masks: Any, spine_params: Any = None) -> list[RepRow]:
    """Every true rep of one rendered clip: the product's verdicts and each fault's true size."""
    from formcheck.analysis import analyze_sequence
    from formcheck.repmetrics import measure
    from support.landmark_sim import HIP_OFFSET_ONLY, to_pose_sequence

    rs = _rules(lift)
    an = analyze_sequence(seq, lift=lift, masks=masks, spine_params=spine_params)
    ref = analyze_sequence(to_pose_sequence(sim, HIP_OFFSET_ONLY), lift=lift)
    rep_report = an.report
    flags = {(f["code"], f["rep"]) for f in rep_report.flags}
    border = {(b["code"], b["rep"]) for b in rep_report.borderline}
    flex = np.asarray(sim.lumbar_deg, float) + np.asarray(sim.thoracic_deg, float)
    segs = an.segmentation.reps if an.segmentation is not None else []
    sig_ref = ref.signals() if ref.metrics is not None else None
    sig = an.signals() if an.metrics is not None else None
    rows = []
    for tr in sim.reps:
        hit = next((r for r in segs if r.start_ms - 300 <= tr.bottom_ms <= r.end_ms + 300), None)
        verdicts: dict[str, str] = {}
        truth: dict[str, float] = {}
        read: dict[str, float] = {}
        # the rep's own time span (a pull's span opens with the previous pull's lowering, LABELS.md): a
        # rounded pull stays rounded while the bar goes down, so the next rep carries that rounding too
        own = (np.asarray(sim.t_ms) >= tr.start_ms) & (np.asarray(sim.t_ms) <= tr.end_ms)
        truth["rounded_back"] = float(flex[own].max()) if own.any() else math.nan
        faults = tuple(tr.faults)
        carried = "rounded_back" not in faults and truth["rounded_back"] >= CARRIED_FLEXION_DEG
        for code in rs.rules:
            if rep_report.verdicts.get(code) == "not_assessable":
                verdicts[code] = "not_assessable"
            elif hit is None:
                verdicts[code] = "missed rep"
            else:
                k = (code, hit.index + 1)
                verdicts[code] = "flagged" if k in flags else "borderline" if k in border else "clear"
            rule = _landmark_rule(rs, code)
            if code == "rounded_back":
                rule = next(r for r in rs.rules[code] if r.measure == "spine_flexion_loaded")
            elif rule is not None and hit is not None and sig_ref is not None:
                truth[code] = float(measure(rule.measure, ref.t_ms, sig_ref, hit, **dict(rule.params)).value)
            if rule is not None and hit is not None and sig is not None:
                read[code] = float(measure(rule.measure, an.t_ms, sig, hit, **dict(rule.params)).value)
        rows.append(RepRow(name, lift, rep_report.view, tr.index + 1, faults, hit is not None, verdicts,
                           truth, read, carried))
    return rows


def twice_ratio(rows: list[RepRow], row: RepRow, code: str) -> float:
    """How many times the limit's distance from the set's clean reps this fault's true size is."""
    rs = _rules(row.lift)
    if code == "rounded_back":
        rule = next(r for r in rs.rules[code] if r.measure == ROUNDED_TWICE_MEASURE)
        return row.truth[code] / rule.limit
    rule = _landmark_rule(rs, code)
    clean = [r.truth.get(code, math.nan) for r in rows if r.clip == row.clip and not r.faults and not r.carried]
    clean = [c for c in clean if math.isfinite(c)]
    if rule is None or not clean or not math.isfinite(row.truth.get(code, math.nan)):
        return math.nan
    c = float(np.median(clean))
    return (row.truth[code] - c) / (rule.limit - c) if rule.limit != c else math.nan


def sample_clips() -> list[tuple[str, str, Any, Path]]:
    """The bundled rendered samples: (name, lift, simulation, mp4)."""
    from tools.synth.make_samples import CLIPS, simulate_spec as sim_sample

    return [(c.name, c.lift, sim_sample(c), REPO / "sample_videos" / f"{c.name}.mp4") for c in CLIPS]


def print_tables(rows: list[RepRow]) -> None:
    print("| clip | view read | rep | injected | size (x limit) | truth -> read, limit + band | verdicts not clear |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        size = " ".join(f"{c} {twice_ratio(rows, r, c):.1f}x" for c in r.faults)
        rs = _rules(r.lift)
        vals = []
        for c in r.faults:
            rule = next(x for x in rs.rules[c] if x.measure == "spine_flexion_loaded") if c == "rounded_back" \
                else _landmark_rule(rs, c)
            vals.append(f"{r.truth.get(c, math.nan):.3g} -> {r.read.get(c, math.nan):.3g}, "
                        f"{rule.limit:g} + {rule.band:g}")
        odd = ", ".join(f"{c}: {v}" for c, v in r.verdicts.items() if v not in ("clear", "not_assessable"))
        what = ", ".join(r.faults) or ("rounded lowering of the previous pull" if r.carried else "clean")
        print(f"| {r.clip} | {r.view} | {r.rep} | {what} | {size or '–'} | "
              f"{'; '.join(vals) or '–'} | {odd or '–'} |")
    codes = list(dict.fromkeys(c for r in rows for c in r.verdicts))
    print("\n| fault | clean reps flagged / judged | clean reps borderline | injected >= 2x limit flagged / total "
          "| injected < 2x: flagged / borderline / total | injected, not assessable or rep missed "
          "| flagged on reps with only other faults |")
    print("|---|---|---|---|---|---|---|")
    for code in codes:
        clean = [r for r in rows if not r.faults and not r.carried
                 and r.verdicts.get(code) in ("flagged", "borderline", "clear")]
        inj = [r for r in rows if code in r.faults]
        judged = [r for r in inj if r.verdicts.get(code) in ("flagged", "borderline", "clear")]
        big = [r for r in judged if twice_ratio(rows, r, code) >= 2.0]
        small = [r for r in judged if not twice_ratio(rows, r, code) >= 2.0]
        fl = lambda rs, v="flagged": sum(r.verdicts[code] == v for r in rs)  # noqa: E731
        others = [r for r in rows if r.faults and code not in r.faults and not (code == "rounded_back" and r.carried)
                  and r.verdicts.get(code) in ("flagged", "borderline", "clear")]
        print(f"| {code} | {fl(clean)}/{len(clean)} | {fl(clean, 'borderline')} | {fl(big)}/{len(big)} | "
              f"{fl(small)} / {fl(small, 'borderline')} / {len(small)} | {len(inj) - len(judged)} | "
              f"{fl(others)}/{len(others)} |")
    clean_any = [r for r in rows if not r.faults and not r.carried and r.matched]
    n = sum(any(v == "flagged" for v in r.verdicts.values()) for r in clean_any)
    carried = [r for r in rows if r.carried]
    print(f"\nreps opening on the previous pull's rounded lowering (neither clean nor injected above): "
          f"rounded_back flagged {sum(r.verdicts['rounded_back'] == 'flagged' for r in carried)}/{len(carried)}, "
          f"any other flag {sum(any(v == 'flagged' for c, v in r.verdicts.items() if c != 'rounded_back') for r in carried)}"
          f"/{len(carried)}")
    print(f"\nclean reps with any flag: {n}/{len(clean_any)}; true reps not counted: "
          f"{sum(not r.matched for r in rows)}/{len(rows)}")
    print("\n| clip | rounded back outline reading per rep (spine_flexion_loaded, deg; true flexion in brackets) |")
    print("|---|---|")
    for clip in dict.fromkeys(r.clip for r in rows):
        mine = [r for r in rows if r.clip == clip]
        if any(math.isfinite(r.read.get("rounded_back", math.nan)) for r in mine):
            cells = " ".join(f"{r.read.get('rounded_back', math.nan):.0f} ({r.truth['rounded_back']:.0f})" for r in mine)
            print(f"| {clip} | {cells} |")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", type=Path, default=Path("/tmp/flags_renders"), help="rendered clips and their poses")
    ap.add_argument("--render", action="store_true", help="render and extract the clips that are missing")
    ap.add_argument("--only", nargs="*", default=None, help="clip names")
    ap.add_argument("--model", default="full")
    ap.add_argument("--no-samples", action="store_true", help="leave out the bundled sample videos")
    ap.add_argument("--extract-only", action="store_true", help="render and extract, print nothing")
    ap.add_argument("--spine", type=Path, default=None, help="a tuned spine.toml (default: the packaged one)")
    args = ap.parse_args(argv)
    from formcheck.spine import load_params

    spine = load_params(args.spine)
    args.dir.mkdir(parents=True, exist_ok=True)
    from formcheck.pipeline import pose_cached

    rows: list[RepRow] = []
    for spec in SPECS:
        if args.only and spec.name not in args.only:
            continue
        mp4 = args.dir / f"{spec.name}.mp4"
        if not mp4.exists():
            if not args.render:
                print(f"{spec.name}: not rendered (--render)", file=sys.stderr)
                continue
            render(spec, args.dir)
        seq, _sha, masks = pose_cached(mp4, model=args.model, cache_dir=args.dir / "poses", masks=True)
        print(f"{spec.name}: rendered and extracted", file=sys.stderr, flush=True)
        if not args.extract_only:
            rows += judge_clip(spec.name, spec.lift, simulate_spec(spec), seq, masks, spine)
    if not args.no_samples and not args.extract_only:
        for name, lift, sim, mp4 in sample_clips():
            if args.only and name not in args.only:
                continue
            seq, _sha, masks = pose_cached(mp4, model=args.model, cache_dir=args.dir / "poses", masks=True)
            rows += judge_clip(name, lift, sim, seq, masks, spine)
    if rows:
        print_tables(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
