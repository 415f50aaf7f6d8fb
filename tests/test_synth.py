"""Synthetic-athlete kinematics (tools.synth.kinematics): exact ground truth, no rendering."""

from __future__ import annotations

import functools
import math
from dataclasses import replace

import numpy as np
import pytest

from formcheck.landmarks import N_LANDMARKS, Landmark
from tools.synth import kinematics as K

L = Landmark


@pytest.fixture(scope="module")
def squat_good() -> K.SimResult:
    return K.simulate("squat", 0.0, reps=3, seed=3)


@pytest.fixture(scope="module")
def deadlift_good() -> K.SimResult:
    return K.simulate("deadlift", 0.0, reps=3, seed=3)


def _rep_mask(r: K.SimResult, k: int) -> np.ndarray:
    return r.rep_index == k


# ---------------------------------------------------------------------------- single poses
@pytest.mark.parametrize(
    "controls",
    [
        K.Controls(),
        K.Controls(knee_flex_deg=35.0, shank_deg=10.0),
        K.Controls(knee_flex_deg=128.0, shank_deg=34.0, stance_half_m=0.24, toe_out_deg=20.0),
        K.Controls(knee_flex_deg=128.0, shank_deg=34.0, knee_cave_deg=16.0),
        K.Controls(knee_flex_deg=90.0, shank_deg=20.0, heel_lift_m=0.045),
        K.Controls(knee_flex_deg=60.0, shank_deg=5.0, stance_half_m=0.11, toe_out_deg=0.0),
    ],
    ids=["standing", "quarter", "deep-wide", "knee-cave", "heels-up", "narrow"],
)
def test_knee_angle_from_joints_equals_control(controls: K.Controls) -> None:
    p = K.pose(controls)
    ang = K.joint_angles(p.landmarks_m[None])
    assert ang["knee_deg"][0] == pytest.approx(180.0 - controls.knee_flex_deg, abs=1e-5)
    for side in ("LEFT", "RIGHT"):
        hip, knee, ankle = (p.landmark(Landmark[f"{side}_{j}"]) for j in ("HIP", "KNEE", "ANKLE"))
        assert np.linalg.norm(knee - hip) == pytest.approx(K.Body().thigh_m, abs=1e-9)
        assert np.linalg.norm(ankle - knee) == pytest.approx(K.Body().shank_m, abs=1e-9)


@pytest.mark.parametrize(
    "trunk_deg, lumbar_deg, thoracic_deg",
    [(0.0, 0.0, 0.0), (25.0, 0.0, 0.0), (45.0, 30.0, 10.0), (-12.0, -8.0, 0.0), (70.0, 0.0, 20.0)],
    ids=["upright", "lean25", "rounded-lean45", "lean-back", "hinge70"],
)
def test_trunk_line_leans_exactly_as_controlled(trunk_deg: float, lumbar_deg: float, thoracic_deg: float) -> None:
    c = K.Controls(knee_flex_deg=40.0, shank_deg=10.0, trunk_deg=trunk_deg, lumbar_deg=lumbar_deg,
                   thoracic_deg=thoracic_deg)
    p = K.pose(c)
    assert K.joint_angles(p.landmarks_m[None])["trunk3d_deg"][0] == pytest.approx(trunk_deg, abs=1e-9)


@pytest.mark.parametrize("facing", ["left", "right"])
@pytest.mark.parametrize("trunk_deg", [0.0, 20.0, 45.0, -10.0], ids=["0", "20", "45", "-10"])
def test_image_trunk_matches_3d_for_a_distant_side_camera(facing: str, trunk_deg: float) -> None:
    cam = K.Camera(azimuth_deg=0.0, facing=facing, distance_m=2000.0, focal_px=720.0 * 2000.0 / 3.6,
                   height_m=0.85)
    p = K.pose(K.Controls(knee_flex_deg=60.0, shank_deg=15.0, trunk_deg=trunk_deg))
    xy = cam.project(p.landmarks_m)
    assert K.image_trunk_deg(xy[None], cam.facing_sign)[0] == pytest.approx(trunk_deg, abs=0.05)


def test_spine_flexion_bends_between_pelvis_and_thorax_by_the_control() -> None:
    def bend(c: K.Controls) -> float:
        p = K.pose(c)
        pelvis = p.anchor(K.Anchor.L5) - p.anchor(K.Anchor.HIP_MID)
        thorax = p.anchor(K.Anchor.C7) - p.anchor(K.Anchor.T12)
        return math.degrees(math.atan2(thorax[0], thorax[1]) - math.atan2(pelvis[0], pelvis[1]))

    base = K.Controls(trunk_deg=30.0)
    assert bend(replace(base, lumbar_deg=25.0, thoracic_deg=10.0)) - bend(base) == pytest.approx(35.0, abs=1e-9)


def test_all_33_landmarks_are_finite_and_faces_point_forward() -> None:
    p = K.pose(K.Controls(knee_flex_deg=100.0, shank_deg=25.0, trunk_deg=35.0, arms="forward"))
    assert p.landmarks_m.shape == (N_LANDMARKS, 3)
    assert np.all(np.isfinite(p.landmarks_m))
    assert p.landmark(L.NOSE)[0] > p.landmark(L.LEFT_EAR)[0]
    assert p.landmark(L.LEFT_EYE)[2] < 0 < p.landmark(L.RIGHT_EYE)[2]
    assert p.landmark(L.LEFT_INDEX)[0] > p.landmark(L.LEFT_WRIST)[0]


@pytest.mark.parametrize(
    "azimuth, facing, check",
    [
        (0.0, "left", lambda xy: xy[L.NOSE, 0] < xy[L.LEFT_EAR, 0]),
        (0.0, "right", lambda xy: xy[L.NOSE, 0] > xy[L.RIGHT_EAR, 0]),
        (90.0, "left", lambda xy: xy[L.LEFT_SHOULDER, 0] > xy[L.RIGHT_SHOULDER, 0]),
        (0.0, "left", lambda xy: xy[L.NOSE, 1] < xy[L.LEFT_HIP, 1] < xy[L.LEFT_ANKLE, 1]),
    ],
    ids=["side-faces-left", "side-faces-right", "front-mirror", "image-y-down"],
)
def test_camera_orientation(azimuth: float, facing: str, check) -> None:
    cam = K.Camera(azimuth_deg=azimuth, facing=facing)
    xy = cam.project(K.pose(K.Controls()).landmarks_m)
    assert check(xy)


def test_camera_target_projects_to_image_centre() -> None:
    cam = K.Camera(azimuth_deg=30.0, height_m=0.85)
    assert cam.project(np.array(cam.target_m)) == pytest.approx([320.0, 240.0], abs=1e-9)


# ---------------------------------------------------------------------------- simulation
def test_simulation_shapes_and_timing(squat_good: K.SimResult) -> None:
    r = squat_good
    n = r.n_frames
    assert r.joints_3d.shape == (n, N_LANDMARKS, 3) and r.xy_px.shape == (n, N_LANDMARKS, 2)
    assert np.all(np.isfinite(r.joints_3d)) and np.all(np.isfinite(r.xy_px))
    assert np.allclose(np.diff(r.t_ms), 1000.0 / 30.0)
    assert [rp.index for rp in r.reps] == [0, 1, 2]
    assert r.reps[0].start_ms == pytest.approx(1000.0)
    assert r.t_ms[-1] + 1000.0 / 30.0 - r.reps[-1].end_ms == pytest.approx(800.0, abs=34.0)
    for rp in r.reps:
        assert [p.name for p in rp.phases] == ["descent", "bottom", "ascent"]
        inside = (r.t_ms >= rp.start_ms) & (r.t_ms < rp.end_ms)
        assert np.array_equal(inside, _rep_mask(r, rp.index))
        i_bottom = int(np.argmin(np.abs(r.t_ms - rp.bottom_ms)))
        assert r.knee_deg[i_bottom] == pytest.approx(r.knee_deg[_rep_mask(r, rp.index)].min(), abs=1e-6)


def test_standing_frames_are_upright(squat_good: K.SimResult) -> None:
    idle = squat_good.rep_index < 0
    assert np.allclose(squat_good.knee_deg[idle], 180.0, atol=1e-5)
    assert np.allclose(squat_good.trunk3d_deg[idle], 0.0, atol=1e-9)


def test_good_squat_reaches_depth_with_a_neutral_spine(squat_good: K.SimResult) -> None:
    r = squat_good
    for rp in r.reps:
        m = _rep_mask(r, rp.index)
        hip_y = 0.5 * (r.joints_3d[m, L.LEFT_HIP, 1] + r.joints_3d[m, L.RIGHT_HIP, 1])
        knee_y = 0.5 * (r.joints_3d[m, L.LEFT_KNEE, 1] + r.joints_3d[m, L.RIGHT_KNEE, 1])
        assert (hip_y - knee_y).min() < 0.0, "hip joint below the knee at the bottom"
        assert 35.0 < r.trunk3d_deg[m].max() < 45.0
        assert np.all(r.lumbar_deg[m] == 0.0) and np.all(r.knee_cave_deg[m] == 0.0)


def test_simulation_is_deterministic() -> None:
    a = K.simulate("squat", 15.0, reps=2, faults={1: "knee_cave"}, seed=7)
    b = K.simulate("squat", 15.0, reps=2, faults={1: "knee_cave"}, seed=7)
    c = K.simulate("squat", 15.0, reps=2, faults={1: "knee_cave"}, seed=8)
    assert np.array_equal(a.xy_px, b.xy_px) and a.reps == b.reps
    assert not np.array_equal(a.xy_px, c.xy_px)


@functools.lru_cache(maxsize=None)
def _good(lift: str) -> K.SimResult:
    return K.simulate(lift, 0.0, reps=3, seed=None)


def _rep_stats(r: K.SimResult, k: int) -> dict[str, float]:
    m = _rep_mask(r, k)
    j = r.joints_3d[m]
    hip_y = 0.5 * (j[:, L.LEFT_HIP, 1] + j[:, L.RIGHT_HIP, 1])
    knee_y = 0.5 * (j[:, L.LEFT_KNEE, 1] + j[:, L.RIGHT_KNEE, 1])
    knee_w = np.abs(j[:, L.LEFT_KNEE, 2] - j[:, L.RIGHT_KNEE, 2])
    ankle_w = np.abs(j[:, L.LEFT_ANKLE, 2] - j[:, L.RIGHT_ANKLE, 2])
    phases = r.phase[m]
    lock = phases == "lockout"
    heel_y = 0.5 * (j[:, L.LEFT_HEEL, 1] + j[:, L.RIGHT_HEEL, 1])
    bar_x_rel = r.bar_m[m, 0] - 0.5 * (j[:, L.LEFT_KNEE, 0] + j[:, L.RIGHT_KNEE, 0])
    out = {
        "trunk_max": float(r.trunk3d_deg[m].max()),
        "hip_minus_knee_min": float((hip_y - knee_y).min()),
        "lumbar_max": float(r.lumbar_deg[m].max()),
        "knee_ratio_min": float((knee_w / ankle_w).min()),
        "heel_rise_max": float(heel_y.max() - heel_y.min()),
        "knee_min": float(r.knee_deg[m].min()),
        "bar_x_max": float(np.nanmax(r.bar_m[m, 0])) if np.isfinite(r.bar_m[m]).all() else 0.0,
        "bar_ahead_max": float(np.nanmax(bar_x_rel)) if np.isfinite(bar_x_rel).all() else 0.0,
    }
    if lock.any():
        out["lock_trunk_min"] = float(r.trunk3d_deg[m][lock].min())
        out["lock_hip"] = float(r.hip_deg[m][lock].mean())
    return out


#: (lift, fault code, statistic, +1 if the fault raises it / -1 if it lowers it, minimum change)
FAULT_EFFECTS = [
    ("squat", "excessive_forward_lean", "trunk_max", +1, 12.0),
    ("squat", "shallow_depth", "hip_minus_knee_min", +1, 0.10),
    ("squat", "hips_rise_early", "trunk_max", +1, 5.0),
    ("squat", "rounded_back", "lumbar_max", +1, 25.0),
    ("squat", "knee_cave", "knee_ratio_min", -1, 0.15),
    ("squat", "heels_lift", "heel_rise_max", +1, 0.03),
    ("deadlift", "rounded_back", "lumbar_max", +1, 25.0),
    ("deadlift", "hips_rise_early", "trunk_max", +1, 6.0),
    ("deadlift", "hips_too_low_start", "knee_min", -1, 20.0),
    ("deadlift", "bar_drift", "bar_x_max", +1, 0.06),
    ("deadlift", "hyperextension_lockout", "lock_trunk_min", -1, 10.0),
    ("deadlift", "incomplete_lockout", "lock_hip", -1, 20.0),
    ("deadlift", "knee_cave", "knee_ratio_min", -1, 0.05),
]


@pytest.mark.parametrize("lift, code, stat, sign, min_change", FAULT_EFFECTS,
                         ids=[f"{x[0]}-{x[1]}" for x in FAULT_EFFECTS])
def test_fault_changes_its_quantity_on_its_rep_only(lift: str, code: str, stat: str, sign: int,
                                                    min_change: float) -> None:
    good = _good(lift)
    bad = K.simulate(lift, 0.0, reps=3, faults={1: code}, seed=None)
    assert [rp.faults for rp in bad.reps] == [(), (code,), ()]
    assert bad.faults == (code,)
    before, after = _rep_stats(good, 1), _rep_stats(bad, 1)
    assert sign * (after[stat] - before[stat]) >= min_change, (before[stat], after[stat])
    first = _rep_mask(good, 0)
    assert np.array_equal(good.joints_3d[first], bad.joints_3d[first]), "rep 0 must be untouched"
    for k in (0, 2):
        for key, v in _rep_stats(good, k).items():
            assert _rep_stats(bad, k)[key] == pytest.approx(v, abs=1e-6), (k, key)


def test_hyperextension_reads_above_180_at_lockout() -> None:
    r = K.simulate("deadlift", 0.0, reps=1, faults={0: "hyperextension_lockout"}, seed=None)
    lock = r.phase == "lockout"
    assert r.hip_deg[lock].min() > 190.0
    assert r.lumbar_deg[lock].max() < 0.0


def test_deadlift_bar_starts_on_the_floor_and_stays_above_it(deadlift_good: K.SimResult) -> None:
    r = deadlift_good
    assert np.all(r.bar_m[:, 1] >= K.PLATE_RADIUS_M - 1e-6)
    hip_y = 0.5 * (r.joints_3d[:, L.LEFT_HIP, 1] + r.joints_3d[:, L.RIGHT_HIP, 1])
    for rp in r.reps:
        # LABELS.md convention: descent begins -> last moment with the bar on the floor -> lockout reached
        i0, ib, ie = (int(np.searchsorted(r.t_ms, x - 1e-6)) for x in (rp.start_ms, rp.bottom_ms, rp.end_ms))
        assert r.bar_m[ib, 1] == pytest.approx(K.PLATE_RADIUS_M, abs=0.01)
        assert hip_y[i0] == pytest.approx(hip_y.max(), abs=0.01)          # standing when the descent begins
        assert r.phase[ib] == "pull" and r.phase[ib - 1] in ("setup", "rest")
        assert r.phase[ie] == "lockout" and r.phase[ie - 1] == "pull"
        assert [p.name for p in rp.phases][:4] == ["lowering", "floor", "pull", "lockout"]
        assert rp.phases[0].start_ms == rp.start_ms and rp.phases[2].start_ms == rp.bottom_ms
        assert rp.phases[2].end_ms == rp.end_ms
    assert [p.name for p in r.reps[-1].phases][4:] == ["set-down"]
    assert all(len(rp.phases) == 4 for rp in r.reps[:-1])
    top = r.phase == "lockout"
    assert np.allclose(r.knee_deg[top], 180.0, atol=1e-5) and np.allclose(r.hip_deg[top], 180.0, atol=1e-5)
    wrists = 0.5 * (r.joints_3d[:, L.LEFT_WRIST] + r.joints_3d[:, L.RIGHT_WRIST])
    held = r.rep_index >= 0
    assert np.allclose(wrists[held, 1] - r.bar_m[held, 1], 0.035, atol=1e-6)


def test_to_dict_has_the_documented_schema(squat_good: K.SimResult) -> None:
    d = squat_good.to_dict()
    for key in ("schema_version", "generator_version", "fps", "width", "height", "camera", "lift", "view",
                "reps", "faults", "frames"):
        assert key in d
    assert d["view"] == "side" and d["camera"]["facing"] == "left"
    n = squat_good.n_frames
    assert np.array(d["frames"]["xy_px"]).shape == (n, N_LANDMARKS, 2)
    assert len(d["frames"]["knee_deg"]) == n and set(d["reps"][0]) >= {"start_ms", "bottom_ms", "end_ms", "faults"}


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"lift": "bench"}, "lift"),
        ({"lift": "squat", "faults": {0: "bar_drift"}}, "cannot be injected"),
        ({"lift": "squat", "faults": {5: "knee_cave"}}, "rep indices"),
        ({"lift": "squat", "faults": {0: "wobbly"}}, "fault code"),
        ({"lift": "deadlift", "equipment": "bodyweight"}, "barbell"),
        ({"lift": "squat", "reps": 0}, "reps"),
        ({"lift": "squat", "facing": "up"}, "facing"),
    ],
    ids=["lift", "wrong-lift-fault", "rep-index", "unknown-code", "deadlift-bodyweight", "zero-reps", "facing"],
)
def test_bad_arguments_raise(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        K.simulate(**kwargs)


@pytest.mark.parametrize(
    "make",
    [lambda: K.Controls(knee_flex_deg=-5.0), lambda: K.Controls(arms="overhead"),
     lambda: K.Fault(hips_rise=1.5), lambda: K.Body(thigh_m=0.0), lambda: K.Camera(facing="down")],
    ids=["negative-knee", "arm-mode", "hips-rise>1", "zero-thigh", "camera-facing"],
)
def test_dataclasses_validate(make) -> None:
    with pytest.raises(ValueError):
        make()


def test_fault_codes_and_presets() -> None:
    assert K.FAULT_CODES == ("rounded_back", "hips_rise_early", "excessive_forward_lean", "shallow_depth",
                             "knee_cave", "heels_lift", "hyperextension_lockout", "bar_drift",
                             "hips_too_low_start", "incomplete_lockout")
    for code in K.FAULT_CODES:
        assert K.Fault.of(code).codes == (code,)
    assert K.Fault.of("knee_cave", "heels_lift").codes == ("knee_cave", "heels_lift")
    assert K.Fault().codes == ()


# ---------------------------------------------------------------------------- mesh skinning (numpy only)
@pytest.fixture(scope="module")
def mesh():
    from tools.synth import body

    return body.load_mesh()


def test_mesh_proportions_match_the_kinematic_body(mesh) -> None:
    measured = mesh.body()
    default = K.Body()
    for name in ("ankle_height_m", "shank_m", "thigh_m", "hip_half_m", "hip_to_l5_m", "l5_to_t12_m",
                 "t12_to_shoulder_m", "shoulder_half_m", "t12_to_c7_m", "c7_to_head_m", "upper_arm_m", "forearm_m"):
        assert getattr(measured, name) == pytest.approx(getattr(default, name), abs=2e-4), name


def test_skinning_with_rest_frames_returns_the_rest_mesh(mesh) -> None:
    from tools.synth.body import Skinner

    rot, org = mesh.rest_frames()
    p = K.pose(K.Controls())
    rest_pose = K.Pose(p.landmarks_m, p.anchors_m, rot, org, p.bar_m, p.bar_rot)
    assert np.allclose(Skinner(mesh).vertices(rest_pose), mesh.vertices_m, atol=1e-9)


@pytest.mark.parametrize("segment, landmark", [(K.Segment.RIGHT_SHANK, L.RIGHT_KNEE),
                                               (K.Segment.LEFT_FOREARM, L.LEFT_ELBOW),
                                               (K.Segment.LEFT_THIGH, L.LEFT_HIP)],
                         ids=["shank-knee", "forearm-elbow", "thigh-hip"])
def test_rigidly_weighted_vertices_follow_their_joint(mesh, segment: K.Segment, landmark: Landmark) -> None:
    from tools.synth.body import Skinner

    sk = Skinner(mesh)
    only = (mesh.weights[:, segment] > 0) & ((mesh.weights > 0).sum(axis=1) == 1)
    assert only.sum() > 20
    poses = [K.pose(K.Controls(knee_flex_deg=k, shank_deg=s, trunk_deg=t, arms=a))
             for k, s, t, a in ((0.0, 0.0, 0.0, "hang"), (110.0, 30.0, 40.0, "forward"), (60.0, 10.0, 20.0, "back_bar"))]
    dists = [np.linalg.norm(sk.vertices(p)[only] - p.landmark(landmark), axis=1) for p in poses]
    assert np.allclose(dists[0], dists[1], atol=1e-6) and np.allclose(dists[0], dists[2], atol=1e-6)
