"""formcheck.views: view/facing classification and squat-vs-deadlift recognition on simulated clips."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from formcheck.landmarks import Landmark as L
from formcheck.metrics import compute_frame_metrics
from formcheck.views import LiftGuess, LiftParams, ViewInfo, ViewParams, classify_view, recognize_lift, select_frames
from support.landmark_sim import HIP_OFFSET_ONLY, MEDIAPIPE_LIKE, Corruption, simulate_sequence

CORRUPTIONS = {"exact": HIP_OFFSET_ONLY, "noisy": MEDIAPIPE_LIKE}


@pytest.mark.parametrize("corruption", list(CORRUPTIONS), ids=list(CORRUPTIONS))
@pytest.mark.parametrize("lift", ["squat", "deadlift"])
@pytest.mark.parametrize("facing", ["left", "right"])
@pytest.mark.parametrize(
    "az, view",
    [(0.0, "side"), (15.0, "side"), (40.0, "oblique"), (50.0, "oblique"), (75.0, "front"), (90.0, "front")],
    ids=["side-0", "side-15", "oblique-40", "oblique-50", "front-75", "front-90"],
)
def test_view_and_facing(az, view, facing, lift, corruption):
    sim = simulate_sequence(lift, az, reps=1, corruption=CORRUPTIONS[corruption], facing=facing)
    v = classify_view(sim.seq)
    assert (v.view, v.facing) == (view, "camera" if view == "front" else facing), v.features
    assert v.confidence > 0.5
    assert v.facing_sign == {"left": -1, "right": 1, "camera": 0}[v.facing]


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize(
    "az, never",
    [(0.0, "front"), (10.0, "front"), (20.0, "front"), (70.0, "side"), (80.0, "side"), (90.0, "side")],
    ids=["side-0", "side-10", "side-20", "front-70", "front-80", "front-90"],
)
def test_front_never_side_and_side_never_front(az, never, seed):
    cor = MEDIAPIPE_LIKE.with_seed(seed)
    sim = simulate_sequence("squat" if seed % 2 else "deadlift", az, reps=1, corruption=cor,
                            facing="left" if seed < 2 else "right")
    assert classify_view(sim.seq).view != never
    for rep in sim.truth.reps:
        frames = (sim.truth.t_ms >= rep.start_ms) & (sim.truth.t_ms <= rep.end_ms)
        assert classify_view(sim.seq, frames).view != never


def test_per_rep_classification_uses_only_its_frames():
    side = simulate_sequence("squat", 0.0, reps=1, corruption=HIP_OFFSET_ONLY, facing="left")
    front = simulate_sequence("squat", 90.0, reps=1, corruption=HIP_OFFSET_ONLY)
    n = side.seq.n_frames
    joined = side.seq.with_(
        t_ms=np.concatenate([side.seq.t_ms, side.seq.t_ms[-1] + 33.3 + front.seq.t_ms]),
        **{f: np.concatenate([getattr(side.seq, f), getattr(front.seq, f)])
           for f in ("xy_px", "z_px", "world_m", "visibility", "presence")})
    assert classify_view(joined, slice(0, n)).view == "side"
    assert classify_view(joined, np.arange(n, joined.n_frames)).view == "front"
    mask = np.zeros(joined.n_frames, dtype=bool)
    mask[:n] = True
    assert classify_view(joined, mask).facing == "left"


def test_far_side_masked_by_cleaning_is_still_side():
    """Cleaning turns the far side's low-visibility landmarks into NaN: that is side-view evidence."""
    from formcheck.cleaning import mask_low_visibility

    sim = simulate_sequence("deadlift", 0.0, reps=1, corruption=Corruption(far_visibility=0.3, noise_px=3.0),
                            facing="right")
    v = classify_view(mask_low_visibility(sim.seq, 0.5))
    assert (v.view, v.facing) == ("side", "right")
    assert v.features["one_side_hidden_frac"] > 0.9


def test_no_lifter_gives_zero_confidence():
    sim = simulate_sequence("squat", 0.0, reps=1)
    seq = sim.seq
    empty = seq.with_(xy_px=np.full_like(seq.xy_px, np.nan), world_m=np.full_like(seq.world_m, np.nan),
                      z_px=np.full_like(seq.z_px, np.nan), visibility=np.zeros_like(seq.visibility))
    assert classify_view(empty).confidence == 0.0


def test_facing_away_from_camera():
    """A back view: the face points away from the camera (nose farther than the ears)."""
    sim = simulate_sequence("squat", 90.0, reps=1, corruption=HIP_OFFSET_ONLY)
    seq = sim.seq
    w = seq.world_m.copy()
    w[..., 2] *= -1.0
    z = -seq.z_px
    v = classify_view(seq.with_(world_m=w, z_px=z))
    assert (v.view, v.facing) == ("front", "away")


@pytest.mark.parametrize(
    "kw, match",
    [({"view": "top"}, "view: expected"), ({"facing": "up"}, "facing: expected"),
     ({"view": "front", "facing": "left"}, "camera/away"), ({"view": "side", "facing": "camera"}, "left/right"),
     ({"confidence": 1.5}, "confidence"), ({"yaw_deg": 120.0}, "yaw_deg")],
    ids=["bad-view", "bad-facing", "front-left", "side-camera", "confidence", "yaw"],
)
def test_view_info_validation(kw, match):
    base = {"view": "side", "facing": "left", "confidence": 0.9, "yaw_deg": 80.0}
    with pytest.raises(ValueError, match=match):
        ViewInfo(**{**base, **kw})


@pytest.mark.parametrize(
    "kw, match",
    [({"front_max_yaw_deg": 70.0}, "yaw thresholds"), ({"world_weight": 2.0}, "world_weight"),
     ({"front_shoulder_ratio": 0.0}, "front_shoulder_ratio")],
    ids=["thresholds-crossed", "weight", "ratio"],
)
def test_view_params_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        replace(ViewParams.packaged(), **kw)


@pytest.mark.parametrize(
    "frames, want",
    [(None, [0, 1, 2, 3]), (slice(1, 3), [1, 2]), (np.array([True, False, True, False]), [0, 2]),
     (np.array([3, 1]), [3, 1])],
    ids=["all", "slice", "mask", "indices"],
)
def test_select_frames(frames, want):
    np.testing.assert_array_equal(select_frames(4, frames), want)


@pytest.mark.parametrize("frames", [np.array([True, False]), np.array([0, 9]), np.array([0.5])],
                         ids=["mask-length", "out-of-range", "float"])
def test_select_frames_rejects(frames):
    with pytest.raises(ValueError, match="frames: expected"):
        select_frames(4, frames)


# ---------------------------------------------------------------------------- lift recognition

@pytest.mark.parametrize("corruption", list(CORRUPTIONS), ids=list(CORRUPTIONS))
@pytest.mark.parametrize("az", [0.0, 45.0, 90.0], ids=["side", "oblique", "front"])
@pytest.mark.parametrize(
    "lift, equipment, faults",
    [("squat", "barbell", None), ("squat", "bodyweight", None), ("squat", "barbell", {0: "shallow_depth"}),
     ("deadlift", "barbell", None), ("deadlift", "barbell", {0: "hips_too_low_start"}),
     ("deadlift", "barbell", {0: "rounded_back"})],
    ids=["back-squat", "bodyweight-squat", "shallow-squat", "deadlift", "squatted-deadlift", "rounded-deadlift"],
)
def test_recognize_lift(lift, equipment, faults, az, corruption):
    sim = simulate_sequence(lift, az, reps=2, corruption=CORRUPTIONS[corruption], equipment=equipment,
                            faults=faults)
    m = compute_frame_metrics(sim.seq, classify_view(sim.seq))
    guess = recognize_lift(sim.seq, m)
    assert guess.lift == lift, (guess.reason, dict(guess.features))
    assert guess.confidence > 0.6
    assert guess.reason


def test_recognize_lift_standing_still_is_unsure():
    sim = simulate_sequence("squat", 0.0, reps=1, corruption=HIP_OFFSET_ONLY)
    still = np.flatnonzero(sim.truth.phase == "setup")
    seq = sim.seq.with_(**{f: getattr(sim.seq, f)[still] for f in ("t_ms", "xy_px", "z_px", "world_m",
                                                                   "visibility", "presence")})
    guess = recognize_lift(seq, compute_frame_metrics(seq, classify_view(seq)))
    assert guess.confidence < 0.3


def test_recognize_lift_frame_count_must_match():
    a = simulate_sequence("squat", 0.0, reps=1)
    b = simulate_sequence("deadlift", 0.0, reps=1)
    with pytest.raises(ValueError, match="frames like the sequence"):
        recognize_lift(a.seq, compute_frame_metrics(b.seq, classify_view(b.seq)))


@pytest.mark.parametrize(
    "kw, match",
    [({"lift": "bench"}, "lift: expected"), ({"confidence": -0.1}, "confidence")],
    ids=["bad-lift", "bad-confidence"],
)
def test_lift_guess_validation(kw, match):
    with pytest.raises(ValueError, match=match):
        LiftGuess(**{"lift": "squat", "confidence": 0.5, "reason": "x", **kw})


def test_lift_params_validation():
    with pytest.raises(ValueError, match="weights"):
        replace(LiftParams.packaged(), weights=(1.0, -1.0, 0.0, 0.0))


def test_side_view_near_side_is_the_lifters_left_when_facing_left():
    """Camera geometry check: facing image-left, the lifter's left side is nearer the camera."""
    sim = simulate_sequence("squat", 0.0, reps=1, facing="left")
    z = sim.seq.z_px
    assert np.all(z[:, int(L.LEFT_HIP)] < z[:, int(L.RIGHT_HIP)])


# ---------------------------------------------------------------------------- lift by movement cycles

@pytest.mark.parametrize("az", [0.0, 20.0, 45.0, 70.0, 90.0], ids=["side", "20deg", "45deg", "70deg", "front"])
@pytest.mark.parametrize(
    "lift, equipment, faults",
    [("squat", "barbell", None), ("squat", "bodyweight", None), ("squat", "barbell", {0: "shallow_depth"}),
     ("deadlift", "barbell", None), ("deadlift", "barbell", {0: "hips_too_low_start"})],
    ids=["back-squat", "bodyweight-squat", "shallow-squat", "deadlift", "squatted-deadlift"],
)
def test_analysis_names_the_lift_in_every_view(lift, equipment, faults, az):
    """The product path (analyze_sequence: cycles found on the hips, evidence added per cycle)."""
    from formcheck.analysis import analyze_sequence

    sim = simulate_sequence(lift, az, reps=3, corruption=MEDIAPIPE_LIKE, equipment=equipment, faults=faults)
    a = analyze_sequence(sim.seq)
    assert a.lift == lift, (a.lift_guess.reason, dict(a.lift_guess.features))
    assert a.lift_guess.features["reps_read"] >= 2
    assert a.lift_guess.confidence > 0.6


def _hands_forward(seq, frames: np.ndarray, thigh_px: float, sign: int):
    """The same clip with the hands moved ``thigh_px`` ahead (toward the facing side) in ``frames``."""
    xy = seq.xy_px.copy()
    hands = [int(x) for x in (L.LEFT_WRIST, L.RIGHT_WRIST, L.LEFT_PINKY, L.RIGHT_PINKY, L.LEFT_INDEX,
                              L.RIGHT_INDEX, L.LEFT_THUMB, L.RIGHT_THUMB)]
    for h in hands:
        xy[frames, h, 0] += sign * thigh_px
    return seq.with_(xy_px=xy)


@pytest.mark.parametrize("ahead_thigh, lift", [(0.0, "deadlift"), (0.3, "deadlift"), (0.8, "squat"), (1.2, "squat")],
                         ids=["at-the-shins", "a-little-ahead", "well-ahead", "far-ahead"])
def test_hands_ahead_of_the_feet_overrule_a_hinge(ahead_thigh, lift):
    """A hinge with the hands far ahead of the shins and feet cannot hold a weight resting there: a squat."""
    sim = simulate_sequence("deadlift", 0.0, reps=2, corruption=HIP_OFFSET_ONLY)
    m0 = compute_frame_metrics(sim.seq, classify_view(sim.seq))
    low = m0.hip_height_norm < np.nanpercentile(m0.hip_height_norm, 50)
    seq = _hands_forward(sim.seq, low, ahead_thigh * m0.scales["thigh_px"], classify_view(sim.seq).facing_sign)
    view = classify_view(seq)
    m = compute_frame_metrics(seq, view)
    guess = recognize_lift(seq, m)
    assert guess.lift == lift, (guess.reason, dict(guess.features))
    p = LiftParams.packaged()
    assert (guess.features["hands_ahead_thigh"] > p.hands_ahead_max_thigh) == (lift == "squat")
    if lift == "squat":
        assert "ahead of the shins" in guess.reason


def test_a_clear_cycle_outweighs_coin_tosses():
    """Evidence is added as log-odds: one clear squat cycle beats several that barely lean deadlift."""
    from formcheck.views import recognize_lift_by_reps

    sim = simulate_sequence("squat", 0.0, reps=3, corruption=HIP_OFFSET_ONLY, equipment="barbell")
    m = compute_frame_metrics(sim.seq, classify_view(sim.seq))
    reps = [(sim.seq.t_ms >= r.start_ms) & (sim.seq.t_ms <= r.end_ms) for r in sim.truth.reps]
    guess = recognize_lift_by_reps(sim.seq, m, reps)
    assert guess.lift == "squat" and guess.features["reps_read"] == 3
    assert "3 of 3 movement cycles read as a squat" in guess.reason
    none = recognize_lift_by_reps(sim.seq, m, [])
    assert none.lift == "squat" and "reps_read" not in none.features  # no cycles: the whole clip decides
    p = LiftParams.packaged()
    ev = np.mean(np.arctanh(np.clip([-0.95, 0.1, 0.1, 0.1], -p.max_rep_score, p.max_rep_score)))
    assert ev < 0  # the arithmetic the docstring promises: -0.95 capped at -0.9 outweighs three +0.1


# ---------------------------------------------------------------------------- the yaw calibration curve

CURVE = {"yaw_curve_raw_deg": (0.0, 10.0, 45.0, 80.0, 90.0), "yaw_curve_true_deg": (0.0, 0.0, 45.0, 90.0, 90.0)}


@pytest.mark.parametrize(
    "raw, want",
    [(0.0, 0.0), (5.0, 0.0), (10.0, 0.0), (27.5, 22.5), (45.0, 45.0), (62.5, 67.5), (80.0, 90.0), (85.0, 90.0),
     (90.0, 90.0), (-3.0, 0.0), (95.0, 90.0), (float("nan"), float("nan"))],
    ids=["zero", "under-first-knot", "knot", "between-low", "middle", "between-high", "side-knot", "past-side",
         "ninety", "below-range", "above-range", "nan"],
)
def test_calibrated_yaw_follows_the_curve(raw: float, want: float) -> None:
    from formcheck.views import calibrated_yaw_deg

    p = replace(ViewParams.packaged(), **CURVE)
    got = calibrated_yaw_deg(raw, p)
    assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want)
    arr = calibrated_yaw_deg(np.array([raw, 45.0]), p)
    assert arr.shape == (2,) and arr[1] == pytest.approx(45.0)


@pytest.mark.parametrize(
    "raw, true, match",
    [((0.0, 90.0), (0.0, 45.0, 90.0), "one length"), ((0.0,), (0.0,), "one length"),
     ((5.0, 90.0), (0.0, 90.0), r"from \(0, 0\)"), ((0.0, 80.0), (0.0, 90.0), r"to \(90, 90\)"),
     ((0.0, 50.0, 40.0, 90.0), (0.0, 45.0, 50.0, 90.0), "increasing"),
     ((0.0, 40.0, 50.0, 90.0), (0.0, 50.0, 45.0, 90.0), "increasing")],
    ids=["lengths-differ", "one-knot", "not-from-zero", "not-to-ninety", "raw-decreasing", "true-decreasing"],
)
def test_yaw_curve_validation(raw: tuple, true: tuple, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        replace(ViewParams.packaged(), yaw_curve_raw_deg=raw, yaw_curve_true_deg=true)


@pytest.mark.parametrize("az", [0.0, 20.0, 45.0, 70.0, 90.0], ids=["side", "20-off", "45", "20-off-front", "front"])
def test_classify_view_reports_the_curve_applied_to_the_raw_yaw(az: float) -> None:
    """yaw_deg is the curve at the raw yaw (kept in the features); an identity curve leaves it as measured."""
    from formcheck.views import calibrated_yaw_deg

    sim = simulate_sequence("squat", az, reps=1, corruption=HIP_OFFSET_ONLY, facing="left")
    ident = replace(ViewParams.packaged(), yaw_curve_raw_deg=(0.0, 90.0), yaw_curve_true_deg=(0.0, 90.0))
    curved = replace(ViewParams.packaged(), **CURVE)
    a, b = classify_view(sim.seq, params=ident), classify_view(sim.seq, params=curved)
    assert a.features["yaw_raw_deg"] == pytest.approx(b.features["yaw_raw_deg"])
    assert a.yaw_deg == pytest.approx(a.features["yaw_raw_deg"])
    assert b.yaw_deg == pytest.approx(calibrated_yaw_deg(b.features["yaw_raw_deg"], curved))


@pytest.mark.parametrize(
    "curve, view",
    [({"yaw_curve_raw_deg": (0.0, 90.0), "yaw_curve_true_deg": (0.0, 90.0)}, "oblique"),
     ({"yaw_curve_raw_deg": (0.0, 30.0, 90.0), "yaw_curve_true_deg": (0.0, 80.0, 90.0)}, "side"),
     ({"yaw_curve_raw_deg": (0.0, 70.0, 90.0), "yaw_curve_true_deg": (0.0, 10.0, 90.0)}, "front")],
    ids=["identity-oblique", "raised-side", "lowered-front"],
)
def test_the_view_is_decided_on_the_calibrated_yaw(curve: dict, view: str) -> None:
    """The same 45-degree landmarks are side, oblique or front according to the curve (thresholds unchanged)."""
    sim = simulate_sequence("deadlift", 45.0, reps=1, corruption=HIP_OFFSET_ONLY, facing="right")
    assert classify_view(sim.seq, params=replace(ViewParams.packaged(), **curve)).view == view


def test_metrics_geometry_uses_the_raw_yaw_not_the_curve() -> None:
    """The curve names the camera's angle; the oblique image geometry (tuned on the raw yaw) is unchanged by it."""
    sim = simulate_sequence("squat", 45.0, reps=1, corruption=HIP_OFFSET_ONLY, facing="left")
    ident = replace(ViewParams.packaged(), yaw_curve_raw_deg=(0.0, 90.0), yaw_curve_true_deg=(0.0, 90.0))
    steep = replace(ViewParams.packaged(), **CURVE)
    a, b = classify_view(sim.seq, params=ident), classify_view(sim.seq, params=steep)
    assert a.view == b.view == "oblique" and abs(a.yaw_deg - b.yaw_deg) > 1.0
    ma, mb = compute_frame_metrics(sim.seq, a), compute_frame_metrics(sim.seq, b)
    np.testing.assert_array_equal(ma.knee_deg, mb.knee_deg)
    np.testing.assert_array_equal(ma.trunk_deg, mb.trunk_deg)
