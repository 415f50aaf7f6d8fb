"""formcheck.compare: the phase clock (start 0, bottom 0.5, end 1), its inverse, aligning two reps."""

from __future__ import annotations

import numpy as np
import pytest

from formcheck.compare import align_reps, nearest_frame, phase_clock, phase_time, rep_span

QUICK = (1000.0, 1800.0, 3000.0)   # 0.8 s down, 1.2 s up
SLOW = {"start_ms": 5000.0, "bottom_ms": 7000.0, "end_ms": 8000.0}  # 2 s down, 1 s up


@pytest.mark.parametrize(
    "t_ms, expected",
    [(1000.0, 0.0), (1400.0, 0.25), (1800.0, 0.5), (2400.0, 0.75), (3000.0, 1.0), (500.0, 0.0), (9000.0, 1.0)],
    ids=["start", "mid-descent", "bottom", "mid-ascent", "end", "before-clipped", "after-clipped"],
)
def test_phase_clock(t_ms: float, expected: float) -> None:
    assert phase_clock(t_ms, QUICK) == pytest.approx(expected)


def test_phase_time_inverts_the_clock() -> None:
    p = np.linspace(0, 1, 11)
    for rep in (QUICK, SLOW):
        assert phase_clock(phase_time(p, rep), rep) == pytest.approx(p)


@pytest.mark.parametrize(
    "rep, t_ms, expected",
    [((1000.0, 1000.0, 2000.0), [1000.0, 1500.0, 2000.0], [0.0, 0.75, 1.0]),
     ((1000.0, 2000.0, 2000.0), [1000.0, 1500.0, 2000.0], [0.0, 0.25, 1.0])],
    ids=["bottom-at-start", "bottom-at-end"],
)
def test_phase_clock_with_a_half_of_no_length(rep: tuple[float, float, float], t_ms: list[float],
                                              expected: list[float]) -> None:
    assert phase_clock(t_ms, rep) == pytest.approx(expected)


def test_align_reps_meets_at_the_bottom() -> None:
    phase, ta, tb = align_reps(QUICK, SLOW, 5)
    assert phase == pytest.approx([0, 0.25, 0.5, 0.75, 1])
    assert ta == pytest.approx([1000, 1400, 1800, 2400, 3000])
    assert tb == pytest.approx([5000, 6000, 7000, 7500, 8000])


@pytest.mark.parametrize(
    "rep, message",
    [((2.0, 1.0, 3.0), "start_ms <= bottom_ms"), ((1.0, 1.0, 1.0), "start < end"), ((1.0, float("nan"), 3.0), "finite"),
     ({"start_ms": 1.0}, "expected start_ms, bottom_ms and end_ms")],
    ids=["unordered", "no-length", "nan", "missing-keys"],
)
def test_bad_rep_rejected(rep: object, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        rep_span(rep)  # type: ignore[arg-type]


def test_align_reps_needs_two_steps() -> None:
    with pytest.raises(ValueError, match="n_steps: expected a whole number >= 2"):
        align_reps(QUICK, SLOW, 1)


@pytest.mark.parametrize(
    "frames, t_ms, expected",
    [([0.0, 33.3, 66.7, 100.0], [0.0, 20.0, 50.0, 99.0, 500.0, -5.0], [0, 1, 1, 3, 3, 0]), ([40.0], [0.0, 99.0], [0, 0])],
    ids=["several-frames", "one-frame"],
)
def test_nearest_frame(frames: list[float], t_ms: list[float], expected: list[int]) -> None:
    assert nearest_frame(frames, t_ms).tolist() == expected
