"""Regenerate the bundled synthetic sample videos and test images, with ground truth.

Usage::

    python -m tools.synth.make_samples [--out sample_videos] [--tests-out tests/data]
                                       [--only NAME ...] [--no-tests] [--no-samples] [--json-only]

``--json-only`` rewrites the sample clips' JSON without rendering, after
checking that the simulated landmarks match the stored ones exactly.

Writes, deterministically (same code -> same frames):

- ``<out>/<name>.mp4`` + ``<out>/<name>.json`` for every clip in :data:`CLIPS`
  (640x480, 30 fps, H.264 yuv420p, +faststart);
- ``<tests-out>/synth_person_side.png`` + ``.json``: one side-view mid-squat frame;
- ``<tests-out>/two_people.mp4`` + ``.json``: a squatting lifter near the camera
  and a smaller second person further back, with the lifter's ground truth.

JSON schema: docs/synthetic.md. Rendering needs the ``synth`` extra (pyrender,
trimesh, PyOpenGL) and libosmesa6; run it under ``nice``.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from formcheck.landmarks import N_LANDMARKS, Landmark
from tools.synth.kinematics import GENERATOR_VERSION, Camera, Controls, Fault, SimResult, pose, simulate

REPO = Path(__file__).resolve().parents[2]
WIDTH, HEIGHT, FPS = 640, 480, 30.0
#: Depth slack (metres) between a landmark and the rendered surface in front of
#: it before the landmark counts as hidden (joint centres sit inside the limbs).
VISIBLE_SLACK_M = 0.10


@dataclass(frozen=True)
class ClipSpec:
    """One sample clip: what the synthetic lifter does and how it is filmed."""

    name: str
    lift: str
    azimuth_deg: float
    facing: str
    reps: int
    faults: Mapping[int, str | Fault] = field(default_factory=dict)
    plates: bool = True
    seed: int = 0
    description: str = ""
    equipment: str = "barbell"

    def __post_init__(self) -> None:
        if not self.name.isidentifier():
            raise ValueError(f"ClipSpec.name: expected a plain file stem, got {self.name!r}")


#: The bundled samples. Squats use an empty bar: loaded plates hide the head and
#: shoulders from a side camera, and MediaPipe then loses the lifter. Deadlifts are
#: filmed 20 deg off the side so the near plate does not cover the shins (at 10 deg
#: the mean landmark error doubled). No "hips too low at the start" rep: from this
#: view the near plate hides hips at knee height and MediaPipe reads them ~16 cm high.
CLIPS: tuple[ClipSpec, ...] = (
    ClipSpec("squat_side_good", "squat", 10.0, "right", 3, {}, plates=False, seed=11,
             description="3 good back squats (empty bar), side view 10 deg off, facing right"),
    ClipSpec("squat_side_faults", "squat", 10.0, "left", 4,
             {1: "excessive_forward_lean", 2: "shallow_depth", 3: "hips_rise_early"}, plates=False, seed=12,
             description="4 back squats: good, excessive forward lean, shallow depth, hips rising early"),
    ClipSpec("squat_front_kneecave", "squat", 90.0, "left", 3, {1: "knee_cave"}, plates=False, seed=13,
             description="3 back squats from the front, knee cave on the 2nd"),
    ClipSpec("deadlift_side_good", "deadlift", 20.0, "left", 3, {}, plates=True, seed=14,
             description="3 good conventional deadlifts, side view 20 deg off, facing left"),
    ClipSpec("deadlift_side_faults", "deadlift", 20.0, "right", 3, {1: "rounded_back", 2: "hips_rise_early"},
             plates=True, seed=15, description="3 deadlifts: good, rounded back, hips shooting up"),
    # Filmed square from the side, as the silhouette's rounded-back reading needs (spine.toml min_yaw_deg):
    # from 20 deg off (deadlift_side_faults) the back's outline is not read and its rounded rep is missed.
    ClipSpec("deadlift_side_rounded", "deadlift", 0.0, "left", 3, {1: "rounded_back"}, plates=True, seed=16,
             description="3 deadlifts filmed square from the side: good, rounded back, good"),
)


def _writer(path: Path, fps: float) -> Any:
    from formcheck.video import VideoWriter

    return VideoWriter(path, fps, (WIDTH, HEIGHT), crf=23, preset="medium")


def visible_mask(camera: Camera, joints_m: np.ndarray, depth: np.ndarray) -> np.ndarray:
    """(33,) bool: each landmark is inside the frame and not behind a surface.

    A landmark is hidden when the rendered depth at its pixel is more than
    :data:`VISIBLE_SLACK_M` in front of it.
    """
    xy = camera.project(joints_m)
    d = camera.depth_m(joints_m)
    h, w = depth.shape
    out = np.zeros(len(joints_m), dtype=bool)
    for i, ((x, y), di) in enumerate(zip(xy, d)):
        u, v = int(round(x)), int(round(y))
        if 0 <= u < w and 0 <= v < h:
            z = depth[v, u]
            out[i] = z <= 0 or z >= di - VISIBLE_SLACK_M
    return out


def _ground_truth(sim: SimResult, name: str, description: str, plates: bool, visible: np.ndarray,
                  video: str) -> dict[str, Any]:
    d = sim.to_dict()
    d.update({"clip": name, "video": video, "description": description, "synthetic": True,
              "barbell_plates": plates if sim.equipment == "barbell" else None})
    d["frames"]["visible"] = visible.astype(int).tolist()
    return d


def _write_json(path: Path, data: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(data, separators=(",", ":")) + "\n", encoding="utf-8")


def simulate_spec(spec: ClipSpec) -> SimResult:
    """The simulated motion of one :class:`ClipSpec` (what :func:`render_clip` renders)."""
    return simulate(spec.lift, spec.azimuth_deg, reps=spec.reps, faults=dict(spec.faults), fps=FPS,
                    facing=spec.facing, seed=spec.seed, equipment=spec.equipment)


def render_clip(spec: ClipSpec, out_dir: Path, log: Any = print) -> Path:
    """Render one :class:`ClipSpec` to ``<out_dir>/<name>.mp4`` + ``.json``."""
    from tools.synth.render import Renderer

    sim = simulate_spec(spec)
    mp4, js = out_dir / f"{spec.name}.mp4", out_dir / f"{spec.name}.json"
    visible = np.zeros((sim.n_frames, N_LANDMARKS), dtype=bool)
    t0 = time.monotonic()
    with Renderer(sim.camera, barbell=True, plates=spec.plates) as r:
        writer = _writer(mp4, FPS)
        try:
            for i in range(sim.n_frames):
                p = sim.pose_at(i)
                rgb, depth = r.render_with_depth(p)
                visible[i] = visible_mask(sim.camera, p.landmarks_m, depth)
                writer.write(rgb, float(sim.t_ms[i]))
        finally:
            writer.close()
    _write_json(js, _ground_truth(sim, spec.name, spec.description, spec.plates, visible, mp4.name))
    log(f"{mp4}: {sim.n_frames} frames, {sim.n_frames / FPS:.1f} s, {mp4.stat().st_size / 1e6:.2f} MB "
        f"({time.monotonic() - t0:.0f} s)")
    return mp4


def rewrite_json(spec: ClipSpec, out_dir: Path, log: Any = print) -> Path:
    """Rewrite ``<out_dir>/<name>.json`` from the current generator without rendering.

    Only for a change that leaves the motion alone (e.g. how rep boundaries
    are labelled): the simulation must reproduce the stored landmarks exactly,
    else the video is stale and the clip has to be rendered again. The
    ``visible`` flags come from the rendered depth and are kept.
    """
    js = out_dir / f"{spec.name}.json"
    old = json.loads(js.read_text(encoding="utf-8"))
    sim = simulate_spec(spec)
    new = _ground_truth(sim, spec.name, spec.description, spec.plates,
                        np.asarray(old["frames"]["visible"], dtype=bool), old["video"])
    if new["frames"]["xy_px"] != old["frames"]["xy_px"] or new["frames"]["t_ms"] != old["frames"]["t_ms"]:
        raise RuntimeError(f"{spec.name}: the simulated motion differs from {js.name}; render the clip again "
                           f"(python -m tools.synth.make_samples --only {spec.name})")
    _write_json(js, new)
    log(f"{js}: ground truth rewritten (motion unchanged)")
    return js


def _landmark_table(xy: np.ndarray, visible: np.ndarray) -> list[dict[str, Any]]:
    return [{"index": int(lm), "name": lm.name.lower(), "x_px": round(float(xy[lm, 0]), 2),
             "y_px": round(float(xy[lm, 1]), 2), "visible": bool(visible[lm])} for lm in Landmark]


def render_person_side(out_dir: Path, log: Any = print) -> Path:
    """``synth_person_side.png`` + ``.json``: one side-view (azimuth 0) mid-squat frame."""
    import cv2

    from tools.synth.render import Renderer

    sim = simulate("squat", 0.0, reps=1, facing="left", seed=None)
    rep = sim.reps[0]
    descent = next(p for p in rep.phases if p.name == "descent")
    i = int(np.searchsorted(sim.t_ms, 0.5 * (descent.start_ms + descent.end_ms) + 150.0))
    p = sim.pose_at(i)
    with Renderer(sim.camera, barbell=True, plates=False, shadows=True) as r:
        rgb, depth = r.render_with_depth(p)
    vis = visible_mask(sim.camera, p.landmarks_m, depth)
    png = out_dir / "synth_person_side.png"
    if not cv2.imwrite(str(png), rgb[:, :, ::-1], [cv2.IMWRITE_PNG_COMPRESSION, 9]):
        raise OSError(f"{png}: could not write the image")
    truth = {
        "schema_version": 1, "generator": "tools.synth", "generator_version": GENERATOR_VERSION, "synthetic": True,
        "image": png.name, "width": WIDTH, "height": HEIGHT, "camera": sim.camera.to_dict(), "view": "side",
        "lift": "squat", "equipment": "barbell", "barbell_plates": False, "phase": str(sim.phase[i]),
        "t_ms_in_simulation": round(float(sim.t_ms[i]), 3),
        "knee_deg": round(float(sim.knee_deg[i]), 2), "hip_deg": round(float(sim.hip_deg[i]), 2),
        "trunk_deg": round(float(sim.trunk_deg[i]), 2), "trunk3d_deg": round(float(sim.trunk3d_deg[i]), 2),
        "landmarks": _landmark_table(sim.xy_px[i], vis),
        "xy_px": np.round(sim.xy_px[i], 2).tolist(),
        "visible": vis.astype(int).tolist(),
    }
    _write_json(png.with_suffix(".json"), truth)
    log(f"{png}: {png.stat().st_size / 1e3:.0f} kB, knee {truth['knee_deg']} deg")
    return png


#: Second person of two_people.mp4: world offset (m) and facing (deg, + turns to the lifter's left).
BYSTANDER_OFFSET_M = (-1.6, 0.0, 3.2)
BYSTANDER_YAW_DEG = (-60.0, -20.0)


def render_two_people(out_dir: Path, log: Any = print) -> Path:
    """``two_people.mp4`` + ``.json``: the lifter squats near the camera; a bystander turns further back."""
    from tools.synth.kinematics import place
    from tools.synth.render import Renderer

    cam = Camera(azimuth_deg=15.0, facing="left", target_m=(-0.35, 0.85, 0.6), distance_m=4.0)
    sim = simulate("squat", reps=1, setup_s=0.4, end_s=0.3, seed=None, equipment="bodyweight", camera=cam)
    stand = Controls(arms="hang", stance_half_m=0.17, toe_out_deg=10.0)
    n = sim.n_frames
    mp4 = out_dir / "two_people.mp4"
    other_xy = np.zeros((n, N_LANDMARKS, 2))
    visible = np.zeros((n, N_LANDMARKS), dtype=bool)
    with Renderer(cam, barbell=False) as r:
        writer = _writer(mp4, FPS)
        try:
            for i in range(n):
                s = i / max(n - 1, 1)
                yaw = BYSTANDER_YAW_DEG[0] + (BYSTANDER_YAW_DEG[1] - BYSTANDER_YAW_DEG[0]) * s
                sway = 4.0 * math.sin(2.0 * math.pi * s)
                other = pose(replace(stand, knee_flex_deg=6.0 + 4.0 * math.sin(math.pi * s), shank_deg=3.0,
                                     trunk_deg=sway))
                other_xy[i] = cam.project(place(other.landmarks_m, yaw, BYSTANDER_OFFSET_M))
                p = sim.pose_at(i)
                rgb, depth = r.render_with_depth(p, others=((other, yaw, BYSTANDER_OFFSET_M),))
                visible[i] = visible_mask(cam, p.landmarks_m, depth)
                writer.write(rgb, float(sim.t_ms[i]))
        finally:
            writer.close()
    truth = _ground_truth(sim, "two_people", "a bodyweight squat near the camera; a second, smaller person "
                          "stands and turns further back", False, visible, mp4.name)
    truth["other_person"] = {
        "note": "not the lifter: a bystander further from the camera",
        "offset_m": list(BYSTANDER_OFFSET_M), "yaw_deg": list(BYSTANDER_YAW_DEG),
        "xy_px": np.round(other_xy, 1).tolist(),
    }
    _write_json(mp4.with_suffix(".json"), truth)
    log(f"{mp4}: {n} frames, {mp4.stat().st_size / 1e3:.0f} kB")
    return mp4


def write_readme(out_dir: Path) -> Path:
    """``<out>/README.md`` listing the clips (regenerated with them)."""
    lines = [
        "# Sample videos (synthetic)",
        "",
        "Every clip here is **synthetic**: a MakeHuman base-mesh figure (CC0) driven by",
        "`tools/synth/kinematics.py` and rendered headless by `tools/synth/render.py`. No real person",
        "or real footage is involved. Each `<name>.json` holds the exact ground truth: rep boundaries,",
        "injected faults per rep, and per-frame 2-D landmarks (33 MediaPipe points, pixels) and joint",
        "angles. Schema and conventions: `docs/synthetic.md`.",
        "",
        "| clip | lift | view (azimuth) | reps | faults by rep |",
        "|---|---|---|---|---|",
    ]
    for c in CLIPS:
        view = Camera(azimuth_deg=c.azimuth_deg, facing=c.facing).view
        faults = ", ".join(f"{k + 1}: {v}" for k, v in sorted(c.faults.items())) or "none"
        lines.append(f"| `{c.name}.mp4` | {c.lift} | {view} ({c.azimuth_deg:g} deg, faces {c.facing}) | "
                     f"{c.reps} | {faults} |")
    lines += [
        "",
        "Rep numbers in the table count from 1; in the JSON `reps[].index` counts from 0.",
        "640x480, 30 fps, H.264 (yuv420p, faststart), about 1 s of standing set-up at the start.",
        "",
        "## Regenerate",
        "",
        "```",
        "pip install -e '.[synth]'        # pyrender, trimesh, PyOpenGL; plus apt-get install libosmesa6",
        "nice python -m tools.synth.make_samples --out sample_videos",
        "python -m tools.synth.check_samples   # MediaPipe detection rate and pixel error vs the ground truth",
        "```",
        "",
        "Rendering is deterministic: the same code gives the same frames.",
        "",
    ]
    path = out_dir / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m tools.synth.make_samples", description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(REPO / "sample_videos"), help="folder for the sample clips")
    ap.add_argument("--tests-out", default=str(REPO / "tests" / "data"), help="folder for the test image and clip")
    ap.add_argument("--only", nargs="*", default=None, help="clip names (and/or synth_person_side, two_people)")
    ap.add_argument("--no-samples", action="store_true", help="skip the sample clips")
    ap.add_argument("--no-tests", action="store_true", help="skip the test image and clip")
    ap.add_argument("--json-only", action="store_true",
                    help="rewrite the sample clips' JSON only (fails when the motion, hence the video, changed)")
    a = ap.parse_args(argv)
    out, tests_out = Path(a.out), Path(a.tests_out)
    names = set(a.only) if a.only else None
    known = {c.name for c in CLIPS} | {"synth_person_side", "two_people"}
    if names and not names <= known:
        print(f"--only: expected names from {sorted(known)}, got {sorted(names - known)}", file=sys.stderr)
        return 2
    if not a.no_samples:
        out.mkdir(parents=True, exist_ok=True)
        for spec in CLIPS:
            if names is None or spec.name in names:
                if a.json_only:
                    rewrite_json(spec, out)
                else:
                    render_clip(spec, out)
        if a.json_only:
            return 0
        write_readme(out)
    if not a.no_tests:
        tests_out.mkdir(parents=True, exist_ok=True)
        if names is None or "synth_person_side" in names:
            render_person_side(tests_out)
        if names is None or "two_people" in names:
            render_two_people(tests_out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
