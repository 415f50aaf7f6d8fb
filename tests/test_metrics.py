"""formcheck.metrics: exact stick figures, then the kinematic simulator's ground truth."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest

from formcheck.landmarks import N_LANDMARKS, Landmark as L
from formcheck.metrics import SERIES, FrameMetrics, MetricParams, compute_frame_metrics
from formcheck.sequence import PoseSequence
from formcheck.views import ViewInfo, classify_view
from support.landmark_sim import (CLEAN, HIP_OFFSET_ONLY, MEDIAPIPE_LIKE, Corruption, simulate_sequence,
                                  truth_height_norm)

NO_OFFSET = replace(MetricParams.packaged(), hip_offset_up_thigh=0.0, hip_offset_fwd_thigh=0.0)
SIDE_RIGHT = ViewInfo("side", "right", 1.0, 90.0)
SIDE_LEFT = ViewInfo("side", "left", 1.0, 90.0)


# ---------------------------------------------------------------------------- exact stick figures

def _polar(origin: tuple[float, float], length: float, incl_deg: float, facing: int = 1) -> tuple[float, float]:
    """Point ``length`` px from ``origin`` along a line leaning ``incl_deg`` from vertical-up toward the facing side."""
    a = math.radians(incl_deg)
    return origin[0] + facing * length * math.sin(a), origin[1] - length * math.cos(a)


def _side_frame(trunk: float, thigh: float, shin: float, heel_beta: float, facing: int) -> dict[L, tuple[float, float]]:
    """One side-view posture (image px). Both labels of a pair share a point, as in a pure side view."""
    x0 = 300.0
    ankle = (x0, 400.0)
    knee = _polar(ankle, 100.0, shin, facing)
    hip = _polar(knee, 100.0, thigh, facing)
    sh = _polar(hip, 120.0, trunk, facing)
    ear = _polar(sh, 30.0, trunk, facing)
    toe = (x0 + facing * 40.0, 410.0)
    b = math.radians(heel_beta)
    heel = (toe[0] - facing * 60.0 * math.cos(b), toe[1] - 60.0 * math.sin(b))
    wrist = (x0 + facing * 20.0, 300.0)
    return {
        "ANKLE": ankle, "KNEE": knee, "HIP": hip, "SHOULDER": sh, "EAR": ear, "FOOT_INDEX": toe,
        "HEEL": heel, "WRIST": wrist, "NOSE": _polar(sh, 35.0, trunk + 25.0, facing)}


def _seq_from_frames(frames: list[dict[str, tuple[float, float]]], world: np.ndarray | None = None) -> PoseSequence:
    n = len(frames)
    xy = np.full((n, N_LANDMARKS, 2), np.nan)
    for i, fr in enumerate(frames):
        for part, p in fr.items():
            if part == "NOSE":
                xy[i, int(L.NOSE)] = p
                continue
            for side in ("LEFT", "RIGHT"):
                xy[i, int(L[f"{side}_{part}"])] = p
    if world is None:
        world = np.zeros((n, N_LANDMARKS, 3))
    return PoseSequence(t_ms=np.arange(n) * 33.3, xy_px=xy, z_px=np.zeros((n, N_LANDMARKS)), world_m=world,
                        visibility=np.ones((n, N_LANDMARKS)), presence=np.ones((n, N_LANDMARKS)),
                        frame_w=640, frame_h=480)


#: (trunk, thigh, shin, heel pivot) inclinations per frame (deg, + toward the facing side).
POSTURES = [(45.0, -70.0, 20.0, 0.0), (0.0, 0.0, 0.0, 0.0), (-10.0, 5.0, -5.0, 0.0), (30.0, -90.0, 30.0, 30.0),
            (20.0, -20.0, 10.0, 0.0)]


@pytest.mark.parametrize("facing", [1, -1], ids=["facing-right", "facing-left"])
def test_side_stick_figure_exact(facing):
    seq = _seq_from_frames([_side_frame(*p, facing=facing) for p in POSTURES])
    view = SIDE_RIGHT if facing == 1 else SIDE_LEFT
    m = compute_frame_metrics(seq, view, NO_OFFSET)
    trunk = np.array([p[0] for p in POSTURES])
    thigh = np.array([p[1] for p in POSTURES])
    shin = np.array([p[2] for p in POSTURES])
    np.testing.assert_allclose(m.trunk_deg, trunk, atol=1e-9)
    np.testing.assert_allclose(m.shin_deg, shin, atol=1e-9)
    np.testing.assert_allclose(m.hip_deg, 180.0 - (trunk - thigh), atol=1e-9)
    np.testing.assert_allclose(m.knee_deg, 180.0 - np.abs(shin - thigh), atol=1e-9)
    np.testing.assert_allclose(m.depth_thigh, np.cos(np.radians(thigh)), atol=1e-9)
    knee_h = 100 * np.cos(np.radians(shin))
    np.testing.assert_allclose(m.hip_height_norm, (knee_h + 100 * np.cos(np.radians(thigh))) / 200.0, atol=1e-9)
    np.testing.assert_allclose(m.wrist_height_norm, 0.5, atol=1e-9)
    beta = np.radians([p[3] for p in POSTURES])
    mid_foot = 40.0 - 30.0 * np.cos(beta)
    np.testing.assert_allclose(m.bar_x_offset_norm, (20.0 - mid_foot) / 100.0, atol=1e-9)
    want_heel = np.array([0.0, 0.0, 0.0, 0.5, 0.0])
    np.testing.assert_allclose(m.heel_rise_norm, want_heel, atol=1e-9)
    assert np.all(np.isnan(m.knee_ankle_ratio))
    np.testing.assert_allclose(m.chord_ratio, 1.0, atol=1e-9)
    np.testing.assert_allclose(m.back_rounding_proxy, 0.0, atol=1e-9)
    np.testing.assert_allclose(m.quality, 1.0)
    assert m.scales["thigh_px"] == pytest.approx(100.0)
    assert m.scales["leg_px"] == pytest.approx(200.0)


def _foot_case(change: str) -> PoseSequence:
    """The side stick figures, with the feet made hard to see in one way (see test_heel_needs_the_foot_in_view)."""
    seq = _seq_from_frames([_side_frame(*p, facing=1) for p in POSTURES])
    xy, vis, h = seq.xy_px.copy(), seq.visibility.copy(), seq.frame_h
    feet = [int(L.LEFT_HEEL), int(L.RIGHT_HEEL), int(L.LEFT_FOOT_INDEX), int(L.RIGHT_FOOT_INDEX)]
    if change == "toe-on-bottom-edge":  # frame 3 (the raised heel): toes at the last pixel row
        xy[3, [int(L.LEFT_FOOT_INDEX), int(L.RIGHT_FOOT_INDEX)], 1] = h - 1
    elif change == "toe-below-frame":
        xy[3, [int(L.LEFT_FOOT_INDEX), int(L.RIGHT_FOOT_INDEX)], 1] = h + 40
    elif change == "heel-barely-seen":
        vis[3, feet] = 0.3
    elif change == "whole-foot-tiny":  # shrink the picture and figure 3x: a 20 px foot
        xy = xy / 3.0
        return PoseSequence(t_ms=seq.t_ms, xy_px=xy, z_px=seq.z_px, world_m=seq.world_m, visibility=vis,
                            presence=seq.presence, frame_w=seq.frame_w // 3, frame_h=h // 3)
    return PoseSequence(t_ms=seq.t_ms, xy_px=xy, z_px=seq.z_px, world_m=seq.world_m, visibility=vis,
                        presence=seq.presence, frame_w=seq.frame_w, frame_h=h)


def _shifted_set(camera: str, lift_at_s: float | None, seconds: float = 30.0) -> tuple[PoseSequence, np.ndarray]:
    """A long side-view set (30 fps) whose picture moves with the camera, and the exact heel rise per frame.

    The lifter alternates standing and squatting (POSTURES[1] and [0], 1 s each); ``lift_at_s``
    puts the heel up 30 deg about the toe (0.5 foot lengths) for one second from that time.
    ``camera``: ``"still"``; ``"cut"``, an edit at 15 s moves the whole picture 80 px up (another
    shot); ``"drift"``, the camera tilts so that the picture slides down 3 px (1/20 of the foot) a second.
    """
    t_s = np.arange(int(seconds * 30)) / 30.0
    frames, want = [], []
    for t in t_s:
        pose = list(POSTURES[0] if int(t) % 2 else POSTURES[1])
        up = lift_at_s is not None and lift_at_s <= t < lift_at_s + 1.0
        pose[3] = 30.0 if up else 0.0
        want.append(0.5 if up else 0.0)
        shift = {"still": 0.0, "cut": -80.0 if t >= 15.0 else 0.0, "drift": 3.0 * t}[camera]
        frames.append({k: (x, y + shift) for k, (x, y) in _side_frame(*pose, facing=1).items()})
    seq = _seq_from_frames(frames)
    seq = PoseSequence(t_ms=t_s * 1000.0, xy_px=seq.xy_px, z_px=seq.z_px, world_m=seq.world_m,
                       visibility=seq.visibility, presence=seq.presence, frame_w=seq.frame_w, frame_h=720)
    return seq, np.array(want)


@pytest.mark.parametrize(
    "camera, lift_at_s, tol",
    [("still", None, 1e-9), ("cut", None, 1e-9), ("drift", None, 0.002), ("still", 5.0, 1e-9), ("cut", 22.0, 1e-9),
     ("cut", 8.0, 1e-9), ("drift", 13.0, 0.06)],
    ids=["still-flat", "cut-flat", "drift-flat", "still-lift", "cut-lift-after", "cut-lift-before",
         "drift-lift"],
)
def test_heel_rise_follows_the_camera(camera, lift_at_s, tol):
    """The heel's usual level is local in time: an edit or a moving camera reads as no lift, a real lift as itself.

    With one level for the whole clip, the cut read every heel of one shot as raised (or sunk) by
    two thirds of a foot and the drift read three quarters of a foot by the clip's ends. A lift during a drift is read
    within ``tol``: the lifted second is a tenth of the window, which moves its median along the drift
    by up to a second's worth (3 px of a 60 px foot), and the lifted frames' own reading with it.
    Without a lift a drift is read to within half a frame of it (the windows hold whole frames).
    """
    seq, want = _shifted_set(camera, lift_at_s)
    m = compute_frame_metrics(seq, SIDE_RIGHT, NO_OFFSET)
    t = seq.t_ms
    half = 0.5 * MetricParams.packaged().heel_reference_ms
    # the window is centred, so a steady drift leaves no lag, except within half a window of the clip's ends
    # (the window is one-sided there); frames whose window straddles the edit mix the two shots' levels
    if camera == "cut":
        steady = np.abs(t - 15000.0) >= half
    elif camera == "drift":
        steady = (t >= half) & (t <= t[-1] - half)
    else:
        steady = np.ones(t.size, bool)
    np.testing.assert_allclose(m.heel_rise_norm[steady], want[steady], atol=tol)
    if lift_at_s is not None:
        assert np.nanmax(m.heel_rise_norm[want > 0]) == pytest.approx(0.5, abs=tol)


@pytest.mark.parametrize(
    "change, want",
    [
        ("none", [0.0, 0.0, 0.0, 0.5, 0.0]),
        ("toe-on-bottom-edge", [0.0, 0.0, 0.0, np.nan, 0.0]),
        ("toe-below-frame", [0.0, 0.0, 0.0, np.nan, 0.0]),
        ("heel-barely-seen", [0.0, 0.0, 0.0, np.nan, 0.0]),
        ("whole-foot-tiny", [np.nan] * 5),
    ],
    ids=["seen", "toe-on-bottom-edge", "toe-below-frame", "heel-barely-seen", "whole-foot-tiny"],
)
def test_heel_needs_the_foot_in_view(change, want):
    """Heel rise is read only where the foot is seen, inside the picture and big enough (MetricParams)."""
    m = compute_frame_metrics(_foot_case(change), SIDE_RIGHT, NO_OFFSET)
    np.testing.assert_allclose(m.heel_rise_norm, np.array(want), atol=1e-9)


@pytest.mark.parametrize(
    "up_thigh, fwd_thigh",
    [(0.13, 0.0), (0.0, 0.05), (0.13, 0.05)],
    ids=["up-only", "forward-only", "both"],
)
def test_hip_offset_correction_undoes_a_known_offset(up_thigh, fwd_thigh):
    """Shifting the hip landmarks by the calibrated offset and correcting it gives the exact values back."""
    frames = [_side_frame(*p, facing=1) for p in POSTURES]
    truth = compute_frame_metrics(_seq_from_frames(frames), SIDE_RIGHT, NO_OFFSET)
    moved = []
    for fr in frames:
        f = dict(fr)
        x, y = fr["HIP"]
        f["HIP"] = (x + fwd_thigh * 100.0, y - up_thigh * 100.0)
        moved.append(f)
    params = replace(MetricParams.packaged(), hip_offset_up_thigh=up_thigh, hip_offset_fwd_thigh=fwd_thigh)
    got = compute_frame_metrics(_seq_from_frames(moved), SIDE_RIGHT, params)
    for name in ("trunk_deg", "hip_deg", "knee_deg", "depth_thigh", "hip_height_norm"):
        np.testing.assert_allclose(getattr(got, name), getattr(truth, name), atol=1e-6, err_msg=name)
    uncorrected = compute_frame_metrics(_seq_from_frames(moved), SIDE_RIGHT, NO_OFFSET)
    assert np.max(np.abs(uncorrected.trunk_deg - truth.trunk_deg)) > 1.0


def _front_world(lean_deg: float, toward: int, n_stand: int = 4) -> tuple[list[dict], np.ndarray]:
    """Front view: straight legs, trunk leaning ``lean_deg`` toward (+1) or away from (-1) the camera."""
    n = n_stand + 1
    w = np.zeros((n, N_LANDMARKS, 3))
    for i in range(n):
        lean = math.radians(lean_deg if i == n - 1 else 0.0)
        for sgn, side in ((1, "LEFT"), (-1, "RIGHT")):
            x = sgn * 0.1
            w[i, int(L[f"{side}_HIP"])] = (x, 0.0, 0.0)
            w[i, int(L[f"{side}_KNEE"])] = (x, 0.42, 0.0)
            w[i, int(L[f"{side}_ANKLE"])] = (x, 0.84, 0.0)
            w[i, int(L[f"{side}_HEEL"])] = (x, 0.88, 0.05 * toward)
            w[i, int(L[f"{side}_FOOT_INDEX"])] = (x, 0.9, -0.15 * toward)
            w[i, int(L[f"{side}_SHOULDER"])] = (sgn * 0.18, -0.5 * math.cos(lean), -toward * 0.5 * math.sin(lean))
            w[i, int(L[f"{side}_WRIST"])] = (sgn * 0.2, 0.0, 0.0)
            w[i, int(L[f"{side}_EAR"])] = (sgn * 0.07, -0.75 * math.cos(lean), -toward * 0.75 * math.sin(lean))
    frames = []
    for i in range(n):
        fr = {}
        for side, sgn in (("LEFT", 1), ("RIGHT", -1)):
            for part in ("HIP", "KNEE", "ANKLE", "SHOULDER", "WRIST", "EAR", "HEEL", "FOOT_INDEX"):
                p = w[i, int(L[f"{side}_{part}"])]
                fr[f"{side}_{part}"] = (320.0 + 200.0 * p[0] * (1 if toward == 1 else -1), 200.0 + 200.0 * p[1])
        frames.append(fr)
    return frames, w


def _seq_two_sided(frames: list[dict[str, tuple[float, float]]], world: np.ndarray) -> PoseSequence:
    n = len(frames)
    xy = np.full((n, N_LANDMARKS, 2), np.nan)
    for i, fr in enumerate(frames):
        for name, p in fr.items():
            xy[i, int(L[name])] = p
    return PoseSequence(t_ms=np.arange(n) * 33.3, xy_px=xy, z_px=np.zeros((n, N_LANDMARKS)), world_m=world,
                        visibility=np.ones((n, N_LANDMARKS)), presence=np.ones((n, N_LANDMARKS)),
                        frame_w=640, frame_h=480)


@pytest.mark.parametrize(
    "facing, toward, lean",
    [("camera", 1, 30.0), ("camera", 1, -10.0), ("away", -1, 30.0), ("away", -1, 0.0)],
    ids=["camera-fwd30", "camera-back10", "away-fwd30", "away-upright"],
)
def test_front_view_trunk_from_world(facing, toward, lean):
    frames, w = _front_world(lean, toward)
    m = compute_frame_metrics(_seq_two_sided(frames, w), ViewInfo("front", facing, 1.0, 0.0), NO_OFFSET)
    assert m.trunk_deg[-1] == pytest.approx(lean, abs=1e-6)
    np.testing.assert_allclose(m.trunk_deg[:-1], 0.0, atol=1e-6)
    np.testing.assert_allclose(m.knee_deg, 180.0, atol=1e-6)
    np.testing.assert_allclose(m.depth_thigh, 1.0, atol=1e-6)
    assert np.all(np.isnan(m.heel_rise_norm))


@pytest.mark.parametrize(
    "knee_half, ankle_half, want",
    [(50.0, 50.0, 1.0), (40.0, 50.0, 0.8), (60.0, 50.0, 1.2), (40.0, 2.0, float("nan"))],
    ids=["over-ankles", "caving", "knees-out", "feet-together-nan"],
)
def test_knee_ankle_ratio_front(knee_half, ankle_half, want):
    frames, w = _front_world(0.0, 1, n_stand=2)
    for fr in frames:
        fr["LEFT_KNEE"] = (320.0 + knee_half, fr["LEFT_KNEE"][1])
        fr["RIGHT_KNEE"] = (320.0 - knee_half, fr["RIGHT_KNEE"][1])
        fr["LEFT_ANKLE"] = (320.0 + ankle_half, fr["LEFT_ANKLE"][1])
        fr["RIGHT_ANKLE"] = (320.0 - ankle_half, fr["RIGHT_ANKLE"][1])
    m = compute_frame_metrics(_seq_two_sided(frames, w), ViewInfo("front", "camera", 1.0, 0.0), NO_OFFSET)
    if math.isnan(want):
        assert np.all(np.isnan(m.knee_ankle_ratio))
    else:
        np.testing.assert_allclose(m.knee_ankle_ratio, want, atol=1e-9)


def test_lost_frames_are_nan_with_zero_quality():
    frames = [_side_frame(*p, facing=1) for p in POSTURES]
    seq = _seq_from_frames(frames)
    xy = seq.xy_px.copy()
    xy[2] = np.nan
    vis = seq.visibility.copy()
    vis[2] = 0.0
    m = compute_frame_metrics(seq.with_(xy_px=xy, visibility=vis), SIDE_RIGHT, NO_OFFSET)
    for name in ("trunk_deg", "hip_deg", "knee_deg", "depth_thigh", "hip_height_norm", "bar_x_offset_norm"):
        assert np.isnan(getattr(m, name)[2]), name
        assert np.isfinite(getattr(m, name)[[0, 1, 3, 4]]).all(), name
    assert m.quality[2] == 0.0 and np.all(m.quality[[0, 1, 3, 4]] > 0.9)


def test_one_side_lost_falls_back_to_the_other():
    frames = [_side_frame(*p, facing=1) for p in POSTURES]
    seq = _seq_from_frames(frames)
    xy = seq.xy_px.copy()
    for lm in (L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE, L.RIGHT_SHOULDER):
        xy[:, int(lm)] = np.nan
    full = compute_frame_metrics(seq, SIDE_RIGHT, NO_OFFSET)
    half = compute_frame_metrics(seq.with_(xy_px=xy), SIDE_RIGHT, NO_OFFSET)
    for name in ("trunk_deg", "hip_deg", "knee_deg", "depth_thigh"):
        np.testing.assert_allclose(getattr(half, name), getattr(full, name), atol=1e-9, err_msg=name)


# ---------------------------------------------------------------------------- FrameMetrics and params

def _tiny_metrics(**over) -> dict:
    n = 3
    kw = {name: np.zeros(n) for name in SERIES}
    kw.update(t_ms=np.arange(n, dtype=float), quality=np.ones(n), view=SIDE_RIGHT, scales={"thigh_px": 1.0})
    kw.update(over)
    return kw


@pytest.mark.parametrize(
    "over, match",
    [({"trunk_deg": np.zeros(4)}, "trunk_deg: expected shape"),
     ({"quality": np.array([0.5, 1.5, 0.0])}, "quality: expected"),
     ({"quality": np.array([0.5, np.nan, 0.0])}, "quality: expected"),
     ({"view": "side"}, "view: expected a ViewInfo"),
     ({"spine_flexion_deg": np.zeros(2)}, "spine_flexion_deg: expected shape"),
     ({"notes": {"no_such_series": "why"}}, "notes: expected series names")],
    ids=["short-series", "quality-above-1", "quality-nan", "view-string", "spine-slot-shape", "note-unknown-series"],
)
def test_frame_metrics_validation(over, match):
    with pytest.raises(ValueError, match=match):
        FrameMetrics(**_tiny_metrics(**over))


def test_frame_metrics_read_only_and_spine_slot():
    m = FrameMetrics(**_tiny_metrics())
    assert m.spine_flexion_deg is None and "spine_flexion_deg" not in m.signals()
    with pytest.raises(ValueError):
        m.trunk_deg[0] = 1.0
    m2 = m.with_spine_flexion(np.array([0.0, 5.0, 10.0]))
    np.testing.assert_array_equal(m2.signals()["spine_flexion_deg"], [0.0, 5.0, 10.0])
    assert set(m2.signals()) == set(SERIES) | {"spine_flexion_deg"}


@pytest.mark.parametrize(
    "kw, match",
    [({"hip_offset_up_thigh": 0.9}, "hip_offset_up_thigh"), ({"length_percentile": 20.0}, "length_percentile"),
     ({"near_vis_gain": -1.0}, "near_vis_gain"), ({"standing_hip_height_norm": 0.0}, "standing_hip_height_norm"),
     ({"face_away_m": -0.01}, "face_away_m"), ({"heel_reference_ms": 0.0}, "heel_reference_ms")],
    ids=["offset-too-big", "percentile-too-low", "negative-gain", "standing-zero", "face-away-negative",
         "heel-window-zero"],
)
def test_metric_params_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        replace(MetricParams.packaged(), **kw)


# ---------------------------------------------------------------------------- simulator ground truth

VIEWS = [(0.0, "side"), (45.0, "oblique"), (90.0, "front")]
LIFTS = ["squat", "deadlift"]
#: Tolerances of the brief: trunk ~3 deg, knee ~5 deg, depth ~0.1 thigh; hip is looser (two projected lines).
TOL = {"trunk": 3.0, "knee": 5.0, "hip": 6.0, "depth": 0.1}
#: Oblique legs come from the image stretched by 1/sin(yaw): an error in the measured yaw and the
#: perspective of knees nearer the camera add up to ~1 deg and ~0.02 thigh lengths more.
TOL_VIEW = {"side": TOL, "front": TOL, "oblique": dict(TOL, knee=6.0, hip=7.0, depth=0.12)}
#: Noisy world landmarks (front and oblique trunk, front legs) leave a little more.
TOL_NOISY = {"side": TOL, "front": dict(TOL, trunk=3.5, knee=6.0), "oblique": dict(TOL_VIEW["oblique"], trunk=3.5)}


def _errors(sim, m) -> dict[str, np.ndarray]:
    t = sim.truth
    return {"trunk": m.trunk_deg - t.trunk3d_deg, "knee": m.knee_deg - t.knee_deg, "hip": m.hip_deg - t.hip_deg,
            "depth": m.depth_thigh - sim.depth_thigh()}


@pytest.mark.parametrize("lift", LIFTS)
@pytest.mark.parametrize("az, view", VIEWS, ids=[v for _, v in VIEWS])
@pytest.mark.parametrize("facing", ["left", "right"])
def test_sim_with_hip_offset_matches_truth(lift, az, view, facing):
    """MediaPipe's systematic hip offset, no noise: every frame within the tolerances (95th percentile)."""
    sim = simulate_sequence(lift, az, reps=2, corruption=HIP_OFFSET_ONLY, facing=facing)
    v = classify_view(sim.seq)
    assert v.view == view
    m = compute_frame_metrics(sim.seq, v)
    for name, err in _errors(sim, m).items():
        assert np.isfinite(err).all(), name
        p95 = np.percentile(np.abs(err), 95)
        assert p95 <= TOL_VIEW[view][name], f"{name}: p95 |error| {p95:.3f}"


@pytest.mark.parametrize("lift", LIFTS)
@pytest.mark.parametrize("az, view", VIEWS, ids=[v for _, v in VIEWS])
def test_sim_exact_landmarks_without_offset_params(lift, az, view):
    sim = simulate_sequence(lift, az, reps=1, corruption=CLEAN)
    m = compute_frame_metrics(sim.seq, classify_view(sim.seq), NO_OFFSET)
    for name, err in _errors(sim, m).items():
        assert np.percentile(np.abs(err), 95) <= TOL_VIEW[view][name], name


def test_uncorrected_hip_reads_squat_depth_too_shallow():
    """Without the calibration the side-view bottom depth reads ~0.13 thigh lengths shallow; with it, not."""
    sim = simulate_sequence("squat", 0.0, reps=1, corruption=HIP_OFFSET_ONLY)
    v = classify_view(sim.seq)
    truth = sim.depth_thigh()
    bottom = np.argmin(truth)
    raw = compute_frame_metrics(sim.seq, v, NO_OFFSET).depth_thigh[bottom] - truth[bottom]
    fixed = compute_frame_metrics(sim.seq, v).depth_thigh[bottom] - truth[bottom]
    assert 0.1 <= raw <= 0.25
    assert abs(fixed) < 0.1


def _noisy(seed: int) -> Corruption:
    # far-side visibility above the cleaning mask (0.5): MediaPipe's usual side-view score
    return Corruption(**{**MEDIAPIPE_LIKE.__dict__, "far_visibility": 0.6, "seed": seed})


@pytest.mark.parametrize("lift", LIFTS)
@pytest.mark.parametrize("az, view", VIEWS, ids=[v for _, v in VIEWS])
@pytest.mark.parametrize("seed", [1, 2])
def test_sim_noisy_cleaned_matches_truth(lift, az, view, seed):
    """MediaPipe-like noise, swaps and dropouts, then formcheck.cleaning.clean.

    Per frame: the median |error| over the reps is within the tolerances. At each
    rep's extreme (deepest knee, most lean, lowest hip) the metric's median over
    +-110 ms is within 1.6x the tolerances (noise that cleaning leaves).
    """
    from formcheck.cleaning import clean

    sim = simulate_sequence(lift, az, reps=2, corruption=_noisy(seed), facing="left" if seed == 1 else "right")
    seq = clean(sim.seq)
    v = classify_view(seq)
    assert v.view == view
    m = compute_frame_metrics(seq, v)
    t = sim.truth
    in_rep = t.rep_index >= 0
    errs = _errors(sim, m)
    tol = TOL_NOISY[view]
    for name, err in errs.items():
        assert np.nanmedian(np.abs(err[in_rep])) <= tol[name], f"{name}: median {np.nanmedian(np.abs(err[in_rep])):.3f}"
    truth_series = {"trunk": (t.trunk3d_deg, np.argmax), "knee": (t.knee_deg, np.argmin),
                    "hip": (t.hip_deg, np.argmin), "depth": (sim.depth_thigh(), np.argmin)}
    for rep in t.reps:
        k = np.flatnonzero((t.t_ms >= rep.start_ms) & (t.t_ms <= rep.end_ms))
        for name, (series, pick) in truth_series.items():
            i = k[pick(series[k])]
            win = np.abs(t.t_ms - t.t_ms[i]) <= 110.0
            e = np.nanmedian(errs[name][win])
            assert abs(e) <= 1.6 * tol[name], f"rep {rep.index} {name}: {e:+.3f}"


def test_raw_swaps_follow_the_near_chain():
    """Uncleaned side view with label-swap bursts: the near-chain weight follows the swapped labels."""
    cor = Corruption(hip_up_m=0.055, hip_fwd_m=0.02, swap_fraction=0.3, far_visibility=0.45, seed=3)
    sim = simulate_sequence("squat", 0.0, reps=1, corruption=cor, facing="left")
    m = compute_frame_metrics(sim.seq, classify_view(sim.seq))
    near_is_left = sim.seq.visibility[:, int(L.LEFT_HIP)] > sim.seq.visibility[:, int(L.RIGHT_HIP)]
    agree = (m.left_weight > 0.5) == near_is_left
    assert agree.mean() > 0.9
    err = np.abs(m.knee_deg - sim.truth.knee_deg)
    assert np.percentile(err, 90) <= TOL["knee"]


def test_heights_match_truth():
    sim = simulate_sequence("deadlift", 0.0, reps=1, corruption=HIP_OFFSET_ONLY, facing="right")
    m = compute_frame_metrics(sim.seq, classify_view(sim.seq))
    for got, (a, b) in ((m.hip_height_norm, (L.LEFT_HIP, L.RIGHT_HIP)),
                        (m.shoulder_height_norm, (L.LEFT_SHOULDER, L.RIGHT_SHOULDER)),
                        (m.wrist_height_norm, (L.LEFT_WRIST, L.RIGHT_WRIST))):
        want = truth_height_norm(sim.truth, a, b)
        assert np.percentile(np.abs(got - want), 95) < 0.06, a.name


@pytest.mark.parametrize(
    "lift, az, fault, series, reduce, min_gap",
    [("squat", 90.0, "knee_cave", "knee_ankle_ratio", "min", -0.15),
     ("squat", 45.0, "knee_cave", "knee_ankle_ratio", "min", -0.1),
     ("squat", 0.0, "heels_lift", "heel_rise_norm", "max", 0.1),
     ("deadlift", 0.0, "bar_drift", "bar_x_offset_norm", "max", 0.15),
     ("deadlift", 0.0, "hyperextension_lockout", "trunk_deg", "min", -8.0),
     ("squat", 0.0, "excessive_forward_lean", "trunk_deg", "max", 12.0),
     ("squat", 0.0, "shallow_depth", "depth_thigh", "min", 0.3)],
    ids=["knee-cave-front", "knee-cave-oblique", "heels-side", "bar-drift-side", "lean-back-side",
         "forward-lean-side", "shallow-side"],
)
def test_fault_rep_moves_its_metric(lift, az, fault, series, reduce, min_gap):
    """Rep 1 carries the fault, rep 0 is good: the faulty rep's extreme moves by ``min_gap`` (signed) or more."""
    sim = simulate_sequence(lift, az, reps=2, corruption=HIP_OFFSET_ONLY, faults={1: fault}, facing="right")
    m = compute_frame_metrics(sim.seq, classify_view(sim.seq))
    x = getattr(m, series)
    fn = np.nanmin if reduce == "min" else np.nanmax
    good, bad = (fn(x[sim.truth.rep_index == k]) for k in (0, 1))
    moved = bad - good
    assert (moved >= min_gap) if min_gap > 0 else (moved <= min_gap), f"{series}: good {good:.3f} bad {bad:.3f}"


def test_rounded_rep_shortens_the_chord_a_little():
    """Exact landmarks: lumbar + thoracic flexion shortens the hip-shoulder chord by a few percent only."""
    sim = simulate_sequence("deadlift", 0.0, reps=2, corruption=HIP_OFFSET_ONLY, faults={1: "rounded_back"})
    m = compute_frame_metrics(sim.seq, classify_view(sim.seq))
    good = np.nanmin(m.chord_ratio[sim.truth.rep_index == 0])
    bad = np.nanmin(m.chord_ratio[sim.truth.rep_index == 1])
    assert good - bad > 0.03
    assert bad > 0.9


@pytest.mark.parametrize(
    "ear_shift_deg, want",
    [(0.0, 0.0), (20.0, 20.0), (-15.0, -15.0)],
    ids=["as-standing", "ears-dropped-forward", "head-back"],
)
def test_back_rounding_proxy_is_the_ear_drop_from_standing(ear_shift_deg, want):
    """The ear rotated about the shoulder, off the trunk line, in the last frame only."""
    frames = [_side_frame(*p, facing=1) for p in POSTURES]
    trunk = POSTURES[-1][0]
    frames[-1]["EAR"] = _polar(frames[-1]["SHOULDER"], 30.0, trunk + ear_shift_deg, 1)
    m = compute_frame_metrics(_seq_from_frames(frames), SIDE_RIGHT, NO_OFFSET)
    assert m.back_rounding_proxy[-1] == pytest.approx(want, abs=1e-6)
    np.testing.assert_allclose(m.back_rounding_proxy[:-1], 0.0, atol=1e-6)


@pytest.mark.parametrize(
    "postures, reference",
    [(POSTURES, True),
     ([POSTURES[0], POSTURES[3], POSTURES[1], POSTURES[2]], False),
     ([POSTURES[0], POSTURES[3], (45.0, -60.0, 15.0, 0.0), (30.0, -80.0, 25.0, 0.0)], False)],
    ids=["three-standing-frames", "two-standing-frames", "never-stands"],
)
def test_back_rounding_proxy_needs_standing_frames(postures, reference):
    """Without 3 standing frames (hip high, trunk near upright) the head proxy has no reference: NaN throughout."""
    m = compute_frame_metrics(_seq_from_frames([_side_frame(*p, facing=1) for p in postures]), SIDE_RIGHT, NO_OFFSET)
    assert np.all(np.isfinite(m.back_rounding_proxy)) if reference else np.all(np.isnan(m.back_rounding_proxy))
    assert np.all(np.isfinite(m.trunk_deg))  # only the proxy loses its reference
    assert ("standing tall" in m.notes.get("back_rounding_proxy", "")) is not reference


@pytest.mark.parametrize(
    "view, nose_dz_m, readable",
    [(ViewInfo("front", "camera", 1.0, 0.0), -0.05, True),
     (ViewInfo("front", "away", 1.0, 0.0), 0.05, False),
     (ViewInfo("front", "away", 1.0, 0.0), 0.019, True),
     (ViewInfo("front", "away", 1.0, 0.0), 0.021, False),
     (ViewInfo("side", "right", 1.0, 90.0), 0.05, True)],
    ids=["front-face-seen", "front-face-away", "just-under-limit", "just-over-limit", "side-views-not-tested"],
)
def test_back_rounding_proxy_not_read_with_the_face_turned_away(view, nose_dz_m, readable):
    """Front/oblique views: the nose farther from the camera than the ears (world z) by > face_away_m -> NaN."""
    if view.view == "front":
        frames, w = _front_world(20.0, 1 if view.facing == "camera" else -1)
        seq_of = _seq_two_sided
    else:
        frames = [_side_frame(*p, facing=1) for p in POSTURES]
        w = np.zeros((len(frames), N_LANDMARKS, 3))
        seq_of = _seq_from_frames
    w[:, int(L.NOSE)] = 0.5 * (w[:, int(L.LEFT_EAR)] + w[:, int(L.RIGHT_EAR)]) + np.array([0.0, 0.0, nose_dz_m])
    m = compute_frame_metrics(seq_of(frames, w), view, NO_OFFSET)
    assert MetricParams.packaged().face_away_m == 0.02
    assert np.all(np.isfinite(m.back_rounding_proxy)) if readable else np.all(np.isnan(m.back_rounding_proxy))
    assert ("face is turned away" in m.notes.get("back_rounding_proxy", "")) is not readable


# ---------------------------------------------------------------------------- head proxy across an edit

def _front_head_frame(lean_deg: float, ear_drop_deg: float, nose_dz_m: float) -> tuple[dict, np.ndarray]:
    """Front view, facing the camera, straight legs: one frame's image points and world landmarks.

    The trunk leans ``lean_deg`` toward the camera; the ears sit 0.25 m from the shoulders, rotated
    ``ear_drop_deg`` forward off the trunk line; the nose ``nose_dz_m`` farther from the camera than the ears.
    """
    w = np.zeros((N_LANDMARKS, 3))
    lean, head = math.radians(lean_deg), math.radians(lean_deg + ear_drop_deg)
    for sgn, side in ((1, "LEFT"), (-1, "RIGHT")):
        x = sgn * 0.1
        w[int(L[f"{side}_HIP"])] = (x, 0.0, 0.0)
        w[int(L[f"{side}_KNEE"])] = (x, 0.42, 0.0)
        w[int(L[f"{side}_ANKLE"])] = (x, 0.84, 0.0)
        w[int(L[f"{side}_HEEL"])] = (x, 0.88, 0.05)
        w[int(L[f"{side}_FOOT_INDEX"])] = (x, 0.9, -0.15)
        w[int(L[f"{side}_WRIST"])] = (sgn * 0.2, 0.0, 0.0)
        sh = np.array([sgn * 0.18, -0.5 * math.cos(lean), -0.5 * math.sin(lean)])
        w[int(L[f"{side}_SHOULDER"])] = sh
        w[int(L[f"{side}_EAR"])] = sh + np.array([-sgn * 0.11, -0.25 * math.cos(head), -0.25 * math.sin(head)])
    w[int(L.NOSE)] = 0.5 * (w[int(L.LEFT_EAR)] + w[int(L.RIGHT_EAR)]) + np.array([0.0, 0.0, nose_dz_m])
    frame = {f"{side}_{part}": (320.0 + 200.0 * w[int(L[f"{side}_{part}"]), 0], 200.0 + 200.0 * w[int(L[f"{side}_{part}"]), 1])
             for side in ("LEFT", "RIGHT")
             for part in ("HIP", "KNEE", "ANKLE", "SHOULDER", "WRIST", "EAR", "HEEL", "FOOT_INDEX")}
    return frame, w


def _edited_set(shots: list[tuple[float, float, float]], drop_rep_s: tuple[float, ...], drop_deg: float,
                view: str) -> tuple[PoseSequence, np.ndarray, np.ndarray]:
    """A set (30 fps) of shots joined by edits, the exact head proxy per frame and each frame's shot.

    The lifter alternates 1 s standing tall and 1 s hinged (trunk 30 deg forward). ``shots``:
    (seconds, ear angle off the trunk line that this camera reads when the lifter stands, nose
    depth minus ears in metres: + = the face turned away). The hinged second starting at each
    time in ``drop_rep_s`` has the ears dropped ``drop_deg`` further: a real head drop. Truth: the
    ear angle minus the same shot's standing angle, NaN in a face-away shot of a front view.
    ``view``: "front" (world landmarks) or "side" (image stick figures, where no face test applies).
    """
    frames, worlds, want, shot_of = [], [], [], []
    t0 = 0.0
    for k, (seconds, stand_ear, nose_dz) in enumerate(shots):
        for t in t0 + np.arange(int(round(seconds * 30))) / 30.0:
            hinged = int(round(t * 30)) // 30 % 2 == 1
            drop = drop_deg if hinged and any(abs(t - s) < 1.0 - 1e-6 and t >= s for s in drop_rep_s) else 0.0
            if view == "front":
                fr, w = _front_head_frame(30.0 if hinged else 0.0, stand_ear + drop, nose_dz)
                worlds.append(w)
            else:
                pose = POSTURES[0] if hinged else POSTURES[1]
                fr = _side_frame(*pose, facing=1)
                fr["EAR"] = _polar(fr["SHOULDER"], 30.0, pose[0] + stand_ear + drop, 1)
            frames.append(fr)
            want.append(np.nan if view == "front" and nose_dz > 0.02 else drop)
            shot_of.append(k)
        t0 += seconds
    t_ms = np.arange(len(frames)) * (1000.0 / 30.0)
    if view == "front":
        seq = _seq_two_sided(frames, np.array(worlds))
    else:
        seq = _seq_from_frames(frames)
    seq = PoseSequence(t_ms=t_ms, xy_px=seq.xy_px, z_px=seq.z_px, world_m=seq.world_m, visibility=seq.visibility,
                       presence=seq.presence, frame_w=seq.frame_w, frame_h=seq.frame_h)
    return seq, np.array(want), np.array(shot_of)


FRONT_CAMERA = ViewInfo("front", "camera", 1.0, 0.0)
#: Seconds, standing ear angle this camera reads (deg), nose depth minus ears (m).
FACE_SEEN, FACE_AWAY = (0.0, -0.05), (-20.0, 0.05)


@pytest.mark.parametrize(
    "view, shots, drop_rep_s, drop_deg",
    [
        ("front", [(12.0, *FACE_SEEN), (18.0, *FACE_AWAY)], (), 0.0),
        ("front", [(12.0, *FACE_SEEN), (18.0, *FACE_AWAY)], (5.0,), 20.0),
        ("front", [(18.0, *FACE_SEEN), (12.0, *FACE_AWAY)], (), 0.0),
        ("front", [(18.0, *FACE_SEEN), (12.0, *FACE_AWAY)], (9.0, 23.0), 20.0),
        ("front", [(10.0, *FACE_AWAY), (14.0, *FACE_SEEN)], (17.0,), 15.0),
        ("side", [(64.0, 0.0, 0.0), (76.0, 10.0, 0.0)], (), 0.0),
        ("side", [(64.0, 0.0, 0.0), (76.0, 10.0, 0.0)], (21.0, 111.0), 15.0),
        ("side", [(76.0, 10.0, 0.0), (64.0, -8.0, 0.0)], (121.0,), 12.0),
    ],
    ids=["front-then-face-away-clean", "front-then-face-away-drop", "long-front-then-face-away-clean",
         "long-front-then-face-away-drop-both-shots", "face-away-then-front-drop",
         "side-two-cameras-clean", "side-two-cameras-drop-both", "side-two-cameras-drop-second"],
)
def test_head_proxy_follows_an_edit(view, shots, drop_rep_s, drop_deg):
    """An edit to another shot: each shot's head is compared with that shot's standing, a face-away shot not read.

    Clip-wide, the face test read a whole clip as face-away when the rear shot was the longer (shot 1
    lost) and read the rear shot's guessed ears when it was the shorter; the standing reference
    mixed the two shots (a 10 deg camera difference read as a head drop, or hid one). Frames
    within half a reference window of an edit take a mixture (the window straddles it), so the
    side cases, long recordings of two shots, are checked only farther away; a front shot's
    readings are exact everywhere (its other shot has the face turned away and gives no reference).
    """
    seq, want, shot = _edited_set(shots, drop_rep_s, drop_deg, view)
    p = MetricParams.packaged()
    m = compute_frame_metrics(seq, FRONT_CAMERA if view == "front" else SIDE_RIGHT, NO_OFFSET)
    t = seq.t_ms
    cut_ms = 1000.0 * shots[0][0]
    # the face test's own window is centred: it flips at the cut, give it a frame either side
    check = np.abs(t - cut_ms) > (0.5 * p.head_reference_ms if view == "side" else 50.0)
    assert check.sum() > 0.5 * t.size
    np.testing.assert_array_equal(np.isnan(m.back_rounding_proxy[check]), np.isnan(want[check]))
    ok = check & np.isfinite(want)
    np.testing.assert_allclose(m.back_rounding_proxy[ok], want[ok], atol=1e-6)
    if drop_deg:
        assert np.nanmax(m.back_rounding_proxy[ok]) == pytest.approx(drop_deg, abs=1e-6)


def test_side_metrics_mirror_invariant():
    a = simulate_sequence("squat", 0.0, reps=1, corruption=HIP_OFFSET_ONLY, facing="left")
    b = simulate_sequence("squat", 0.0, reps=1, corruption=HIP_OFFSET_ONLY, facing="right")
    ma, mb = (compute_frame_metrics(s.seq, classify_view(s.seq)) for s in (a, b))
    for name in ("trunk_deg", "hip_deg", "knee_deg", "depth_thigh", "shin_deg"):
        np.testing.assert_allclose(getattr(ma, name), getattr(mb, name), atol=0.5, err_msg=name)


# --------------------------------------------------------------------------- the lifter's size for rep counting


@pytest.mark.parametrize("factor", [1.0, 0.7, 1.3], ids=["same-size", "walks-away", "zoom-in"])
def test_rep_scale_signal_follows_the_figure(factor):
    """A standing figure scaled about its feet from 1 to ``factor`` over the clip: the scale follows it
    (relative to the clip's 90th percentile), and the hip height over one leg length falls or rises with it."""
    from formcheck.metrics import rep_height_signals, rep_scale_signal
    from support.seq_factory import standing_skeleton, uniform_t_ms

    t = uniform_t_ms(90)
    base, _ = standing_skeleton()
    k = np.linspace(1.0, factor, t.size)
    feet = base[[int(L.LEFT_ANKLE), int(L.RIGHT_ANKLE)]].mean(axis=0)
    xy = feet + k[:, None, None] * (base[None] - feet)
    seq = PoseSequence(t_ms=t, xy_px=xy, z_px=np.zeros((t.size, N_LANDMARKS)),
                       world_m=np.zeros((t.size, N_LANDMARKS, 3)), visibility=np.ones((t.size, N_LANDMARKS)),
                       presence=np.ones((t.size, N_LANDMARKS)), frame_w=1280, frame_h=720)
    scale = rep_scale_signal(seq)
    hip, _ = rep_height_signals(seq)
    ref = np.percentile(k, 90.0)
    assert np.allclose(scale[10:-10], k[10:-10] / ref, atol=0.01)
    assert np.allclose(hip[10:-10] / scale[10:-10], hip[45] / scale[45], atol=0.02)
