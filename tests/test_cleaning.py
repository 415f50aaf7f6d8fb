"""Tests for formcheck.cleaning (and the shared tests/support/seq_factory)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from formcheck.cleaning import (
    SWAP_CHAINS,
    CleaningParams,
    LiveFilterParams,
    OneEuroFilter,
    clean,
    find_swaps,
    interpolate_gaps,
    interpolate_gaps_array,
    lowpass,
    lowpass_array,
    mask_low_visibility,
    mask_values,
    repair_swaps,
)
from formcheck.landmarks import LEFT_RIGHT_PAIRS, N_LANDMARKS, Landmark
from formcheck.sequence import PoseSequence
from support.seq_factory import make_seq, standing_skeleton, swap_labels, uniform_t_ms

L = Landmark
LEGS = SWAP_CHAINS["legs"]
FIELDS = ("xy_px", "z_px", "world_m", "visibility", "presence")


# ---------------------------------------------------------------- synthetic data
def side_view_lift(t_ms: np.ndarray, rng: np.random.Generator, *, noise_px: float = 1.5,
                   noise_m: float = 0.015, period_ms: float = 3000.0) -> PoseSequence:
    """A lifter filmed from the side (facing image-left) doing repeated squat-like reps.

    The far (right) side sits 7 px behind the near side, the far knee drifts
    out by up to 14 px at depth, and world depth separates the sides by
    0.1-0.3 m: roughly what a 720p side view shows. Jitter is Gaussian.
    """
    height = 480.0
    base, _ = standing_skeleton("side", height_px=height, center_x_px=640.0, floor_y_px=0.92 * 720)
    depth = (1.0 - np.cos(2.0 * np.pi * t_ms / period_ms)) / 2.0
    shift = np.zeros((N_LANDMARKS, 2))
    for lm in Landmark:
        name = lm.name
        if "HIP" in name:
            shift[lm] = (0.10 * height, 0.25 * height)
        elif "KNEE" in name:
            shift[lm] = (-0.08 * height, 0.03 * height)
        elif not any(part in name for part in ("ANKLE", "HEEL", "FOOT")):
            shift[lm] = (-0.05 * height, 0.30 * height)
    xy = base + depth[:, None, None] * shift
    xy[:, L.RIGHT_KNEE, 0] += 0.03 * height * depth
    xy += rng.normal(0.0, noise_px, xy.shape)
    seq = make_seq(t_ms, {lm: xy[:, lm] for lm in Landmark}, height_px=height)
    return seq.with_(world_m=seq.world_m + rng.normal(0.0, noise_m, seq.world_m.shape))


def inject_bursts(seq: PoseSequence, rng: np.random.Generator, *, fraction: float, legs_only_share: float,
                  max_len: int = 12, start_swapped: bool = False) -> tuple[PoseSequence, np.ndarray]:
    """Swap labels in non-adjacent bursts of 1..max_len frames until ``fraction`` of frames are swapped."""
    n = seq.n_frames
    swapped = np.zeros(n, dtype=bool)
    out = seq
    if start_swapped:
        swapped[:8] = True
        out = swap_labels(out, range(8))
    while swapped.mean() < fraction:
        length = int(rng.integers(1, max_len + 1))
        start = int(rng.integers(0, n - length))
        if swapped[max(0, start - 1): start + length + 1].any():
            continue
        swapped[start: start + length] = True
        pairs = LEGS if rng.random() < legs_only_share else LEFT_RIGHT_PAIRS
        out = swap_labels(out, range(start, start + length), pairs)
    return out, swapped


def frames_matching(a: PoseSequence, b: PoseSequence) -> np.ndarray:
    """Per frame: every field of ``a`` equals ``b`` (NaN equal to NaN)."""
    ok = np.ones(a.n_frames, dtype=bool)
    for name in FIELDS:
        x, y = getattr(a, name), getattr(b, name)
        same = (x == y) | (np.isnan(x) & np.isnan(y))
        ok &= same.reshape(a.n_frames, int(np.prod(x.shape[1:]))).all(axis=1)
    return ok


def vfr_t_ms(n: int, rng: np.random.Generator, lo_ms: float = 22.0, hi_ms: float = 48.0) -> np.ndarray:
    return np.concatenate([[0.0], np.cumsum(rng.uniform(lo_ms, hi_ms, n - 1))])


def rmse(a: np.ndarray, b: np.ndarray) -> float:
    d = (a - b)[np.isfinite(a - b)]
    return float(np.sqrt(np.mean(d**2)))


# ---------------------------------------------------------------- parameters
@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_visibility": 1.5}, "min_visibility"),
        ({"min_visibility": -0.1}, "min_visibility"),
        ({"max_gap_ms": -1.0}, "max_gap_ms"),
        ({"max_gap_ms": float("nan")}, "max_gap_ms"),
        ({"cutoff_hz": 0.0}, "cutoff_hz"),
        ({"cutoff_hz": float("inf")}, "cutoff_hz"),
        ({"filter_order": 0}, "order"),
        ({"filter_order": 2.5}, "order"),
        ({"filter_order": True}, "order"),
        ({"swap_switch_cost": -1.0}, "swap_switch_cost"),
        ({"swap_mirror_cost": float("nan")}, "swap_mirror_cost"),
        ({"repair_swaps": "yes"}, "repair_swaps"),
    ],
    ids=["vis-above-1", "vis-negative", "gap-negative", "gap-nan", "cutoff-zero", "cutoff-inf",
         "order-zero", "order-float", "order-bool", "switch-negative", "mirror-nan", "repair-str"],
)
def test_cleaning_params_rejects(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(CleaningParams.packaged(), **kwargs)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"min_cutoff_hz": 0.0}, "min_cutoff_hz"),
        ({"beta": -0.1}, "beta"),
        ({"d_cutoff_hz": float("nan")}, "d_cutoff_hz"),
    ],
    ids=["min-cutoff-zero", "beta-negative", "d-cutoff-nan"],
)
def test_live_params_and_filter_reject(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        replace(LiveFilterParams.packaged(), **kwargs)
    with pytest.raises(ValueError, match=message):
        OneEuroFilter(**kwargs)


def test_params_are_frozen_and_defaults_shared() -> None:
    params = CleaningParams.packaged()
    with pytest.raises(AttributeError):
        params.cutoff_hz = 3.0  # type: ignore[misc]
    live = LiveFilterParams.packaged()
    f = live.make_filter()
    assert (f.min_cutoff_hz, f.beta, f.d_cutoff_hz) == (live.min_cutoff_hz, live.beta, live.d_cutoff_hz)
    default = OneEuroFilter()
    assert (default.min_cutoff_hz, default.beta, default.d_cutoff_hz) == (f.min_cutoff_hz, f.beta, f.d_cutoff_hz)


def test_swap_chains_cover_every_pair_once() -> None:
    pairs = [pair for chain in SWAP_CHAINS.values() for pair in chain]
    assert sorted(pairs) == sorted(LEFT_RIGHT_PAIRS)
    assert len(pairs) == len(set(pairs))


# ---------------------------------------------------------------- masking
@pytest.mark.parametrize(
    "threshold, vis, masked",
    [
        (0.5, [0.49, 0.5, 0.9], [True, False, False]),
        (0.0, [0.0, 0.3, 1.0], [False, False, False]),
        (1.0, [0.99, 1.0, 0.5], [True, False, True]),
        (0.5, [float("nan"), 0.8, 0.2], [True, False, True]),
    ],
    ids=["below-at-above", "zero-masks-nothing", "one-keeps-only-certain", "nan-score-masked"],
)
def test_mask_low_visibility(threshold: float, vis: list[float], masked: list[bool]) -> None:
    t = uniform_t_ms(3)
    visibility = np.ones((3, N_LANDMARKS))
    visibility[:, L.LEFT_KNEE] = vis
    seq = make_seq(t, visibility=visibility)
    out = mask_low_visibility(seq, threshold)
    want = np.array(masked)
    assert np.array_equal(np.isnan(out.xy_px[:, L.LEFT_KNEE]).all(axis=1), want)
    assert np.array_equal(np.isnan(out.z_px[:, L.LEFT_KNEE]), want)
    assert np.array_equal(np.isnan(out.world_m[:, L.LEFT_KNEE]).all(axis=1), want)
    other = [lm for lm in range(N_LANDMARKS) if lm != L.LEFT_KNEE]
    assert np.isfinite(out.xy_px[:, other]).all()
    np.testing.assert_array_equal(out.visibility, seq.visibility)


def test_mask_values_single_frame_and_shape_error() -> None:
    xy = np.ones((N_LANDMARKS, 2))
    vis = np.ones(N_LANDMARKS)
    vis[L.NOSE] = 0.1
    out = mask_values(xy, vis, 0.5)
    assert np.isnan(out[L.NOSE]).all() and np.isfinite(np.delete(out, int(L.NOSE), axis=0)).all()
    with pytest.raises(ValueError, match="expected shape"):
        mask_values(np.ones((N_LANDMARKS - 1, 2)), vis, 0.5)


# ---------------------------------------------------------------- gap interpolation
NAN = float("nan")


@pytest.mark.parametrize(
    "t_ms, y, max_gap_ms, want",
    [
        ([0, 40, 80, 120, 160, 200], [0, NAN, NAN, NAN, NAN, 50], 200.0, [0, 10, 20, 30, 40, 50]),
        ([0, 40, 80, 120, 160, 200, 240], [0, NAN, NAN, NAN, NAN, NAN, 60], 200.0, [0] + [NAN] * 5 + [60]),
        (uniform_t_ms(7, 30.0), [0, NAN, NAN, NAN, NAN, NAN, 6], 200.0, [0, 1, 2, 3, 4, 5, 6]),
        ([0, 40, 80, 120, 160], [NAN, 1, NAN, 3, NAN], 200.0, [NAN, 1, 2, 3, NAN]),
        ([0, 10, 60, 100], [0, NAN, NAN, 100], 100.0, [0, 10, 60, 100]),
        ([0, 10, 60, 100], [0, NAN, NAN, 100], 99.0, [0, NAN, NAN, 100]),
        ([0, 10, 20, 30, 40], [0, NAN, 2, NAN, 4], 0.0, [0, NAN, 2, NAN, 4]),
        ([0, 10, 500, 510], [0, NAN, NAN, 51], float("inf"), [0, 1, 50, 51]),
        ([0, 30, 60], [NAN, NAN, NAN], 200.0, [NAN, NAN, NAN]),
    ],
    ids=["span-equal-limit-filled", "span-over-limit-kept", "30fps-float-span-filled", "ends-not-extrapolated",
         "vfr-weights-by-time", "vfr-over-limit-kept", "zero-limit-fills-nothing", "inf-fills-interior",
         "all-nan"],
)
def test_interpolate_gaps_array(t_ms: list[float], y: list[float], max_gap_ms: float, want: list[float]) -> None:
    out = interpolate_gaps_array(t_ms, np.array(y), max_gap_ms)
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-9, equal_nan=True)


def test_interpolate_gaps_on_sequence_fills_every_field_and_counts() -> None:
    t = np.array([0.0, 33.0, 70.0, 100.0, 133.0, 400.0, 433.0])
    knee = np.column_stack([np.arange(7.0), 10 * np.arange(7.0)])
    knee[[1, 2]] = np.nan
    knee[5] = np.nan
    seq = make_seq(t, {L.LEFT_KNEE: knee})
    out = interpolate_gaps(seq, max_gap_ms=100.0)
    got = out.xy_px[:, L.LEFT_KNEE, 0]
    np.testing.assert_allclose(got[:5], [0, 3 * 33 / 100, 3 * 70 / 100, 3, 4])
    assert np.isnan(got[5])
    assert np.isfinite(out.world_m[1:3, L.LEFT_KNEE]).all() and np.isfinite(out.z_px[1:3, L.LEFT_KNEE]).all()
    np.testing.assert_array_equal(out.visibility, seq.visibility)
    assert out.meta["interpolated_points"] == 2


@pytest.mark.parametrize(
    "t_ms, values, message",
    [
        ([0.0, 10.0, 10.0], np.zeros(3), "strictly increasing"),
        ([0.0, 10.0, 20.0], np.zeros(4), "rows"),
        ([0.0, NAN, 20.0], np.zeros(3), "finite"),
    ],
    ids=["repeated-timestamp", "row-mismatch", "nan-timestamp"],
)
def test_array_helpers_validate_inputs(t_ms: list[float], values: np.ndarray, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        interpolate_gaps_array(t_ms, values, 100.0)
    with pytest.raises(ValueError, match=message):
        lowpass_array(t_ms, values, 6.0, 4)


# ---------------------------------------------------------------- swap repair
SWAP_CASES = {
    "full-body-bursts": dict(legs_only_share=0.0),
    "leg-only-bursts": dict(legs_only_share=1.0),
    "mixed-bursts-25pct": dict(legs_only_share=0.5, fraction=0.25),
    "first-frames-swapped": dict(legs_only_share=0.5, start_swapped=True),
    "vfr-with-dropouts": dict(legs_only_share=0.5, vfr=True, dropout=0.05),
    "far-foot-and-ear-masked": dict(legs_only_share=0.5, far_hidden=True),
    "xy-only-noisy": dict(legs_only_share=0.5, xy_only=True, noise_px=3.0),
    "whole-far-side-masked": dict(legs_only_share=0.5, far_side_vis=0.45, noise_px=5.0),
}


@pytest.mark.parametrize("case", list(SWAP_CASES.values()), ids=list(SWAP_CASES))
@pytest.mark.parametrize("seed", [0, 1], ids=["seed0", "seed1"])
def test_repair_swaps_restores_true_labels(case: dict, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n = 450
    t = vfr_t_ms(n, rng) if case.get("vfr") else uniform_t_ms(n)
    truth = side_view_lift(t, rng, noise_px=case.get("noise_px", 1.5))
    if case.get("dropout"):
        lost = rng.random(n) < case["dropout"]
        empty = PoseSequence.empty_rows(int(lost.sum()))
        arrays = {name: np.array(getattr(truth, name)) for name in FIELDS}
        for name in FIELDS:
            arrays[name][lost] = empty[name]
        truth = truth.with_(**arrays)
    if case.get("far_hidden"):
        vis = np.array(truth.visibility)
        vis[:, [L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX, L.RIGHT_EAR]] = 0.3
        truth = mask_low_visibility(truth.with_(visibility=vis, presence=vis), 0.5)
    if case.get("far_side_vis"):
        vis = np.array(truth.visibility)
        far = [int(b) for _, b in LEFT_RIGHT_PAIRS]
        vis[:, far] = case["far_side_vis"] + rng.normal(0.0, 0.02, (n, len(far)))
        truth = mask_low_visibility(truth.with_(visibility=vis, presence=vis), 0.5)
    if case.get("xy_only"):
        truth = truth.with_(world_m=np.full_like(truth.world_m, np.nan))
    swapped, was_swapped = inject_bursts(truth, rng, fraction=case.get("fraction", 0.2),
                                         legs_only_share=case["legs_only_share"],
                                         start_swapped=case.get("start_swapped", False))
    differs = ~frames_matching(swapped, truth)
    assert differs.mean() > 0.15 and not differs[~was_swapped].any()

    repaired = repair_swaps(swapped)

    assert frames_matching(repaired, truth).mean() >= 0.99
    assert abs(repaired.meta["swaps_repaired"] - int(differs.sum())) <= 0.01 * n


@pytest.mark.parametrize(
    "make",
    [
        lambda rng: side_view_lift(uniform_t_ms(300), rng),
        lambda rng: side_view_lift(vfr_t_ms(300, rng), rng, noise_px=3.0),
        lambda rng: make_seq(uniform_t_ms(60), view="front"),
    ],
    ids=["side-view", "side-view-vfr-noisy", "static-front-view"],
)
def test_repair_swaps_leaves_unswapped_sequence_untouched(make) -> None:
    seq = make(np.random.default_rng(7))
    out = repair_swaps(seq)
    assert frames_matching(out, seq).all()
    assert out.meta["swaps_repaired"] == 0
    assert out.meta["swaps_repaired_by_chain"] == {name: 0 for name in SWAP_CHAINS}


def test_repair_swaps_moves_every_field_with_the_labels() -> None:
    seq = side_view_lift(uniform_t_ms(200), np.random.default_rng(3))
    vis = np.array(seq.visibility)
    vis[:, L.LEFT_KNEE], vis[:, L.RIGHT_KNEE] = 0.9, 0.6
    seq = seq.with_(visibility=vis, presence=vis * 0.5)
    swapped = swap_labels(seq, range(80, 90), LEGS)
    out = repair_swaps(swapped)
    for name in FIELDS:
        np.testing.assert_array_equal(getattr(out, name), getattr(seq, name), err_msg=name)
    assert out.meta["swaps_repaired"] == 10
    assert out.meta["swaps_repaired_by_chain"] == {"legs": 10, "arms": 0, "face": 0}
    states = find_swaps(swapped)
    assert np.flatnonzero(states["legs"]).tolist() == list(range(80, 90))


@pytest.mark.parametrize(
    "seq",
    [
        make_seq(uniform_t_ms(20), fill="nan"),
        make_seq(uniform_t_ms(1)),
        make_seq(np.zeros(0)),
    ],
    ids=["all-nan", "one-frame", "no-frames"],
)
def test_repair_swaps_degenerate_inputs(seq: PoseSequence) -> None:
    out = repair_swaps(seq)
    assert frames_matching(out, seq).all()
    assert out.meta["swaps_repaired"] == 0


# ---------------------------------------------------------------- low-pass
def smooth_motion(t_ms: np.ndarray) -> np.ndarray:
    s = t_ms / 1000.0
    return 100.0 * np.sin(2 * np.pi * 0.5 * s) + 40.0 * np.sin(2 * np.pi * 1.3 * s + 0.4)


@pytest.mark.parametrize(
    "timing, gaps",
    [("cfr", False), ("vfr", False), ("cfr", True), ("vfr", True)],
    ids=["cfr", "vfr", "cfr-with-nan-runs", "vfr-with-nan-runs"],
)
def test_lowpass_reduces_noise(timing: str, gaps: bool) -> None:
    rng = np.random.default_rng(11)
    n = 600
    t = uniform_t_ms(n) if timing == "cfr" else vfr_t_ms(n, rng)
    clean_y = smooth_motion(t)
    noisy = clean_y + rng.normal(0.0, 3.0, n)
    if gaps:
        noisy[[100, 101, 102, 300, 450, 451]] = np.nan
    out = lowpass_array(t, noisy, 6.0, 4)
    assert np.array_equal(np.isnan(out), np.isnan(noisy))
    assert rmse(out, clean_y) < 0.6 * rmse(noisy, clean_y)


@pytest.mark.parametrize(
    "t_ms",
    [uniform_t_ms(90), vfr_t_ms(90, np.random.default_rng(2)), uniform_t_ms(6)],
    ids=["cfr", "vfr", "run-shorter-than-padding"],
)
def test_lowpass_keeps_constant_signal(t_ms: np.ndarray) -> None:
    y = np.full((t_ms.shape[0], 3, 2), 123.25)
    out = lowpass_array(t_ms, y, 6.0, 4)
    np.testing.assert_allclose(out, y, rtol=0, atol=1e-9)


def test_lowpass_sequence_preserves_nan_runs_and_leaves_scores() -> None:
    rng = np.random.default_rng(5)
    t = uniform_t_ms(120)
    knee = np.column_stack([smooth_motion(t), smooth_motion(t + 300)]) + rng.normal(0, 2, (120, 2))
    knee[40:47] = np.nan
    knee[90] = np.nan
    seq = make_seq(t, {L.LEFT_KNEE: knee}, fill="nan")
    out = lowpass(seq)
    for name in ("xy_px", "z_px", "world_m"):
        assert np.array_equal(np.isnan(getattr(out, name)), np.isnan(getattr(seq, name))), name
    assert not np.allclose(out.xy_px[:40, L.LEFT_KNEE], knee[:40])
    np.testing.assert_array_equal(out.visibility, seq.visibility)


@pytest.mark.parametrize(
    "t_ms, cutoff_hz",
    [(uniform_t_ms(50, fps=10.0), 6.0), (uniform_t_ms(2), 6.0), (uniform_t_ms(1), 6.0), (np.zeros(0), 6.0)],
    ids=["cutoff-above-nyquist", "two-frames", "one-frame", "no-frames"],
)
def test_lowpass_leaves_unfilterable_input(t_ms: np.ndarray, cutoff_hz: float) -> None:
    y = np.random.default_rng(1).normal(size=(t_ms.shape[0], 2))
    np.testing.assert_array_equal(lowpass_array(t_ms, y, cutoff_hz, 4), y)


def test_lowpass_all_nan_and_isolated_points() -> None:
    t = uniform_t_ms(30)
    y = np.full(30, np.nan)
    assert np.isnan(lowpass_array(t, y)).all()
    y[[3, 10, 11]] = [1.0, 2.0, 5.0]
    np.testing.assert_array_equal(lowpass_array(t, y), y, strict=False)


# ---------------------------------------------------------------- One Euro
def reps_with_pauses(t_ms: np.ndarray) -> np.ndarray:
    """100 px deep, 2 s reps separated by 1.5 s standing still, like a live set."""
    phase_s = np.mod(t_ms / 1000.0, 3.5)
    return np.where(phase_s < 1.5, 0.0, 50.0 * (1.0 - np.cos(np.pi * (phase_s - 1.5))))


@pytest.mark.parametrize(
    "timing, shape, noise_px",
    [("cfr", (), 3.0), ("vfr", (33, 2), 3.0), ("cfr", (33, 2), 2.0)],
    ids=["cfr-scalar", "vfr-landmarks", "cfr-landmarks-low-noise"],
)
def test_one_euro_reduces_noise(timing: str, shape: tuple[int, ...], noise_px: float) -> None:
    rng = np.random.default_rng(21)
    n = 600
    t = uniform_t_ms(n) if timing == "cfr" else vfr_t_ms(n, rng)
    truth = reps_with_pauses(t).reshape((n,) + (1,) * len(shape)) + np.zeros((n,) + shape)
    noisy = truth + rng.normal(0.0, noise_px, truth.shape)
    f = OneEuroFilter()
    out = np.stack([f(ti, xi) for ti, xi in zip(t, noisy)])
    assert out.shape == noisy.shape
    assert rmse(out[30:], truth[30:]) < 0.95 * rmse(noisy[30:], truth[30:])


@pytest.mark.parametrize("t_second", [100.0, 40.0], ids=["equal-timestamp", "earlier-timestamp"])
def test_one_euro_non_increasing_time_returns_previous_output(t_second: float) -> None:
    f = OneEuroFilter()
    f(0.0, np.array([0.0, 1.0]))
    first = f(100.0, np.array([10.0, 11.0]))
    again = f(t_second, np.array([500.0, np.nan]))
    assert np.isfinite(again).all()
    np.testing.assert_array_equal(again, first)
    after = f(133.0, np.array([10.0, 11.0]))
    assert np.isfinite(after).all() and np.all(np.abs(after - first) < 5.0)


def test_one_euro_nan_per_element() -> None:
    f = OneEuroFilter(min_cutoff_hz=1.0, beta=0.0, d_cutoff_hz=1.0)
    first = f(0.0, np.array([0.0, 0.0, np.nan]))
    np.testing.assert_array_equal(first, [0.0, 0.0, np.nan])
    out = f(33.0, np.array([10.0, np.nan, 7.0]))
    assert 0.0 < out[0] < 10.0
    assert np.isnan(out[1])
    assert out[2] == 7.0
    back = f(66.0, np.array([10.0, 50.0, 7.0]))
    assert back[1] == 50.0
    assert back[2] == 7.0
    assert out[0] < back[0] < 10.0
    assert not np.isinf(np.concatenate([first, out, back])).any()


def test_one_euro_first_call_shape_and_reset() -> None:
    f = OneEuroFilter()
    x = np.arange(66.0).reshape(33, 2)
    np.testing.assert_array_equal(f(5.0, x), x)
    with pytest.raises(ValueError, match="expected shape"):
        f(40.0, np.zeros(3))
    with pytest.raises(ValueError, match="t_ms"):
        f(float("nan"), x)
    f.reset()
    np.testing.assert_array_equal(f(0.0, np.zeros(3)), np.zeros(3))


def test_one_euro_zero_beta_matches_exponential_smoothing() -> None:
    f = OneEuroFilter(min_cutoff_hz=2.0, beta=0.0, d_cutoff_hz=1.0)
    f(0.0, 0.0)
    dt_s = 0.05
    r = 2 * math.pi * 2.0 * dt_s
    expected = r / (r + 1.0) * 1.0
    assert f(50.0, 1.0) == pytest.approx(expected)


# ---------------------------------------------------------------- pipeline
def test_clean_end_to_end() -> None:
    rng = np.random.default_rng(4)
    n = 300
    t = vfr_t_ms(n, rng, 28.0, 40.0)
    truth = side_view_lift(t, rng, noise_px=0.0, noise_m=0.0)
    noisy = truth.with_(xy_px=truth.xy_px + rng.normal(0, 2.0, truth.xy_px.shape))
    vis = np.array(noisy.visibility)
    vis[150:153] = 0.1
    vis[200:230, L.LEFT_WRIST] = 0.2
    noisy = noisy.with_(visibility=vis)
    swapped, was_swapped = inject_bursts(noisy, rng, fraction=0.2, legs_only_share=0.5)

    out = clean(swapped)

    assert out.n_frames == n and np.array_equal(out.t_ms, swapped.t_ms)
    for name in ("xy_px", "z_px", "world_m"):
        assert not np.isinf(getattr(out, name)).any()
    assert np.isfinite(out.xy_px[150:153]).all()
    assert np.isnan(out.xy_px[200:230, L.LEFT_WRIST]).all()
    assert abs(out.meta["swaps_repaired"] - int(was_swapped.sum())) <= 3
    assert out.meta["interpolated_points"] == 3 * N_LANDMARKS
    assert out.meta["cleaning"] == json.loads(json.dumps(out.meta["cleaning"]))
    assert out.meta["cleaning"]["cutoff_hz"] == CleaningParams.packaged().cutoff_hz
    keep = np.isfinite(out.xy_px)
    assert rmse(out.xy_px[keep], truth.xy_px[keep]) < 0.7 * rmse(noisy.xy_px[keep], truth.xy_px[keep])


@pytest.mark.parametrize(
    "seq",
    [make_seq(uniform_t_ms(10), fill="nan"), make_seq(uniform_t_ms(1)), make_seq(uniform_t_ms(30), view="front")],
    ids=["all-nan", "one-frame", "static-front"],
)
def test_clean_degenerate_and_static(seq: PoseSequence) -> None:
    out = clean(seq, replace(CleaningParams.packaged(), max_gap_ms=100.0))
    assert np.array_equal(np.isnan(out.xy_px), np.isnan(seq.xy_px))
    np.testing.assert_allclose(out.xy_px, seq.xy_px, atol=1e-9, equal_nan=True)
    assert out.meta["swaps_repaired"] == 0


def test_clean_without_swap_repair() -> None:
    seq = swap_labels(side_view_lift(uniform_t_ms(60), np.random.default_rng(0)), [30])
    out = clean(seq, replace(CleaningParams.packaged(), repair_swaps=False))
    assert "swaps_repaired" not in out.meta


# ---------------------------------------------------------------- seq_factory
@pytest.mark.parametrize("view", ["side", "front"], ids=["side", "front"])
def test_make_seq_tracks_fill_and_world(view: str) -> None:
    t = uniform_t_ms(5)
    knee = np.column_stack([np.full(5, 600.0), np.linspace(500, 540, 5)])
    knee[2] = np.nan
    seq = make_seq(t, {L.LEFT_KNEE: knee}, view=view)
    np.testing.assert_array_equal(seq.point(L.LEFT_KNEE), knee)
    assert seq.visibility[2, L.LEFT_KNEE] == 0.0 and seq.visibility[0, L.LEFT_KNEE] == 1.0
    assert np.isnan(seq.world_m[2, L.LEFT_KNEE]).all()
    hips = seq.world_m[:, [L.LEFT_HIP, L.RIGHT_HIP], :2].mean(axis=1)
    np.testing.assert_allclose(hips, 0.0, atol=1e-12)
    assert seq.detection_rate == 1.0
    lost = make_seq(t, {L.LEFT_KNEE: knee}, fill="nan")
    assert np.isnan(np.delete(lost.xy_px, int(L.LEFT_KNEE), axis=1)).all()


def test_standing_skeleton_sides() -> None:
    side, depth = standing_skeleton("side")
    assert side[L.LEFT_FOOT_INDEX, 0] < side[L.LEFT_HEEL, 0]
    assert depth[L.LEFT_HIP] < 0 < depth[L.RIGHT_HIP]
    front, _ = standing_skeleton("front")
    assert front[L.LEFT_SHOULDER, 0] > front[L.RIGHT_SHOULDER, 0]
    assert front[L.NOSE, 1] < front[L.LEFT_SHOULDER, 1] < front[L.LEFT_HIP, 1] < front[L.LEFT_ANKLE, 1]
