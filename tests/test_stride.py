"""The adaptive stride's gate (formcheck.stride): synthetic landmark sequences with exact truth."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from formcheck.landmarks import Landmark
from formcheck.pose import PoseParams, thin_to_cap
from formcheck.sequence import sampling_interval_ms
from formcheck.stride import StrideGate, StrideParams, stride_keep
from tests.support.seq_factory import make_seq, standing_skeleton

P = StrideParams(max_stride=2, still_speed_torso_per_s=0.5, window_ms=250.0, hold_ms=600.0)
HEIGHT_PX = 480.0
_BASE, _ = standing_skeleton("side", height_px=HEIGHT_PX)
_TORSO_PX = float(np.hypot(*(_BASE[[11, 12]].mean(0) - _BASE[[23, 24]].mean(0))))
_UPPER = [int(j) for j in Landmark if j <= Landmark.RIGHT_HIP]  # head, arms, shoulders, hips: they go down in a squat


def _t(seconds: float, fps: float = 30.0) -> np.ndarray:
    return np.arange(int(round(seconds * fps))) * (1000.0 / fps)


def _poses(t_ms: np.ndarray, hip_drop_torso: np.ndarray, jitter_torso: float = 0.0, seed: int = 0) -> np.ndarray:
    """(N, 33, 2): the standing skeleton with the upper body lowered by ``hip_drop_torso`` torso lengths,
    plus Gaussian jitter of ``jitter_torso`` torso lengths on every point."""
    xy = np.repeat(_BASE[None], t_ms.shape[0], axis=0).astype(float)
    xy[:, _UPPER, 1] += (np.asarray(hip_drop_torso, float) * _TORSO_PX)[:, None]
    rng = np.random.default_rng(seed)
    return xy + rng.normal(0.0, jitter_torso * _TORSO_PX, xy.shape)


def _squats(t_ms: np.ndarray, starts_s: list[float], rep_s: float = 2.0, depth_torso: float = 1.0) -> np.ndarray:
    """Upper-body drop over time: a cosine squat of ``rep_s`` starting at each of ``starts_s``, still between."""
    drop = np.zeros(t_ms.shape)
    for s in starts_s:
        ph = (t_ms / 1000.0 - s) / rep_s
        inside = (ph >= 0) & (ph <= 1)
        drop[inside] = depth_torso * 0.5 * (1 - np.cos(2 * np.pi * ph[inside]))
    return drop


def _max_skip_run(keep: np.ndarray) -> int:
    run = best = 0
    for k in keep:
        run = 0 if k else run + 1
        best = max(best, run)
    return best


# ---------------------------------------------------------------- still, moving, lost
@pytest.mark.parametrize("jitter", [0.0, 0.01, 0.03], ids=["no-jitter", "jitter-1pct", "jitter-3pct"])
def test_a_still_lifter_is_analysed_every_other_frame(jitter: float) -> None:
    t = _t(10)
    keep = stride_keep(t, _poses(t, np.zeros(t.shape), jitter), P)
    # after the first window (frames before a frame a window old exists are all analysed)
    settled = t > P.window_ms + 100
    assert 0.45 <= keep[settled].mean() <= 0.55
    assert _max_skip_run(keep) == 1


def test_max_stride_3_skips_two_in_a_row_at_most() -> None:
    t = _t(10)
    keep = stride_keep(t, _poses(t, np.zeros(t.shape), 0.01), replace(P, max_stride=3))
    assert _max_skip_run(keep) == 2
    assert 0.3 <= keep[t > 400].mean() <= 0.4


def test_off_keeps_every_frame() -> None:
    t = _t(5)
    assert stride_keep(t, _poses(t, np.zeros(t.shape)), replace(P, max_stride=1)).all()


@pytest.mark.parametrize("rep_s", [1.0, 2.0, 4.0], ids=["fast-1s", "2s", "slow-4s"])
def test_every_frame_of_a_rep_is_analysed_around_its_bottom(rep_s: float) -> None:
    """Squats of 1-4 s with 3 s still between: the bottom (and 200 ms either side) always at full rate,
    the still stretches thinned."""
    t = _t(20)
    starts = [2.0, 2.0 + rep_s + 3.0, 2.0 + 2 * (rep_s + 3.0)]
    keep = stride_keep(t, _poses(t, _squats(t, starts, rep_s), 0.01), P)
    for s in starts:
        bottom = s + rep_s / 2
        near = np.abs(t / 1000.0 - bottom) <= 0.2
        assert keep[near].all(), f"rep at {s} s ({rep_s} s long): a frame near its bottom was skipped"
    still = np.ones(t.shape, bool)
    for s in starts:
        still &= ~((t / 1000.0 >= s - 0.1) & (t / 1000.0 <= s + rep_s + 1.0))
    still &= t > 500
    assert keep[still].mean() <= 0.55


def test_a_lost_frame_makes_the_next_one_analysed() -> None:
    t = _t(6)
    xy = _poses(t, np.zeros(t.shape), 0.01)
    lost = [60, 61, 100]
    xy[lost] = np.nan
    keep = stride_keep(t, xy, P)
    for i in lost:
        if keep[i]:  # the gate looked at it and found nobody
            assert keep[i + 1], f"frame {i + 1} after a lost frame was skipped"
    # and after losing the lifter, full rate until a frame a window old is seen again
    first = next(i for i in lost if keep[i])
    again = t[first] + P.window_ms
    assert keep[(t > t[first]) & (t < again)].all()


def test_several_people_keep_the_full_rate() -> None:
    gate = StrideGate(P)
    xy = _BASE.astype(float)
    for i in range(60):
        t = i * 33.3
        assert gate.want(t)
        gate.seen(t, xy, people=2)


def test_the_gate_is_causal() -> None:
    """A frame's decision never depends on its own landmarks or on later ones."""
    t = _t(12)
    xy = _poses(t, _squats(t, [2.0, 7.0]), 0.01, seed=3)
    keep = stride_keep(t, xy, P)
    rng = np.random.default_rng(7)
    for i in rng.choice(t.shape[0], size=25, replace=False):
        other = xy.copy()
        other[i:] = _poses(t[i:], rng.uniform(0, 1, t.shape[0] - i), 0.05, seed=int(i))
        assert stride_keep(t, other, P)[: i + 1].tolist() == keep[: i + 1].tolist(), f"frame {i}"


# ---------------------------------------------------------------- settings
@pytest.mark.parametrize("kwargs,msg", [
    ({"max_stride": 0}, "max_stride"),
    ({"max_stride": True}, "max_stride"),
    ({"still_speed_torso_per_s": 0.0}, "still_speed"),
    ({"window_ms": -1.0}, "window_ms"),
    ({"hold_ms": float("nan")}, "hold_ms"),
], ids=["stride-0", "stride-bool", "speed-0", "window-negative", "hold-nan"])
def test_bad_settings_are_refused(kwargs: dict, msg: str) -> None:
    with pytest.raises(ValueError, match=msg):
        replace(P, **kwargs)


def test_packaged_settings_load() -> None:
    pp = PoseParams.packaged()
    assert pp.stride.max_stride == pp.max_stride >= 1
    # the limit sits well above MediaPipe's 2-3 % frame-to-frame jitter over the window
    assert pp.stride_still_speed_torso_per_s * pp.stride_window_ms / 1000.0 >= 3 * 0.03
    assert pp.stride_hold_ms >= pp.stride_window_ms


# ---------------------------------------------------------------- the screen and the sampling interval
def test_thin_to_cap_with_the_stride_keeps_the_gates_frames_of_the_capped_ones() -> None:
    t = _t(10, fps=60.0)
    xy = _poses(t, _squats(t, [3.0]), 0.01)
    seq = make_seq(t, {lm: xy[:, int(lm)] for lm in Landmark})
    capped, _ = thin_to_cap(seq, None, 60.0, 25.0, 4)
    both, _ = thin_to_cap(seq, None, 60.0, 25.0, 4, stride=P)
    assert set(both.t_ms) <= set(capped.t_ms)
    expect = capped.t_ms[stride_keep(capped.t_ms, capped.xy_px, P)]
    assert both.t_ms.tolist() == expect.tolist()
    assert both.meta["frames_skipped"] == seq.n_frames - both.n_frames
    # the rep (3-5 s) at the capped 30 fps, still parts at 15: the sampling interval is the dense one
    assert sampling_interval_ms(both.t_ms) == pytest.approx(1000.0 / 30.0)
    assert both.fps_est == pytest.approx(30.0)


@pytest.mark.parametrize("dts,want", [
    ([33.3] * 50, 33.3),
    ([33.0, 34.0] * 25, 33.5),                        # jittered timestamps: the median, as before
    ([33.3] * 45 + [66.7] * 5, 33.3),                 # a few dropped frames
    ([33.3] * 20 + [66.7] * 30, 33.3),                # strided still phases outnumber the moving ones
    ([66.7] * 48 + [33.3] * 2, 66.7),                 # too few short intervals to matter: the median
    ([], float("nan")),
], ids=["even", "jitter", "drops", "strided", "few-short", "one-frame"])
def test_sampling_interval(dts: list[float], want: float) -> None:
    t = np.concatenate([[0.0], np.cumsum(dts)])
    got = sampling_interval_ms(t)
    if np.isnan(want):
        assert np.isnan(got)
    else:
        assert got == pytest.approx(want, abs=0.51)
