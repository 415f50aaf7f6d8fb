"""Two reps side by side, aligned by phase (numpy only; used by the app's compare view).

Each rep's time maps to a phase clock: its start is 0, its bottom 0.5 and its end 1, linearly in
between (``phase_clock``). Two reps are compared at the same phase, whatever their tempo
(``align_reps``): the descent of a slow rep lines up with the descent of a quick one and their
bottoms meet at 0.5. A rep is ``(start_ms, bottom_ms, end_ms)`` (or a report's rep dict).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

RepSpan = tuple[float, float, float]


def rep_span(rep: Mapping[str, Any] | Sequence[float]) -> RepSpan:
    """``(start_ms, bottom_ms, end_ms)`` of a report's rep dict or a triple; "expected ..." if not ordered."""
    if isinstance(rep, Mapping):
        span = (rep.get("start_ms"), rep.get("bottom_ms"), rep.get("end_ms"))
    else:
        span = tuple(rep)
    try:
        a, b, c = (float(x) for x in span)
    except (TypeError, ValueError):
        raise ValueError(f"rep: expected start_ms, bottom_ms and end_ms, got {span!r}") from None
    if not (np.isfinite([a, b, c]).all() and a <= b <= c and a < c):
        raise ValueError(f"rep: expected finite start_ms <= bottom_ms <= end_ms with start < end, got {span!r}")
    return a, b, c


def phase_clock(t_ms: Any, rep: Mapping[str, Any] | Sequence[float]) -> np.ndarray:
    """The phase (0 start, 0.5 bottom, 1 end) of each time in ``t_ms``; clipped to [0, 1] outside the rep."""
    a, b, c = rep_span(rep)
    t = np.asarray(t_ms, dtype=float)
    if a < b < c:
        return np.interp(t, [a, b, c], [0.0, 0.5, 1.0])
    return _clock_degenerate(t, a, b, c)


def _clock_degenerate(t: np.ndarray, a: float, b: float, c: float) -> np.ndarray:
    # The bottom on the start or on the end: that half of the clock takes no time.
    out = np.where(t <= a, 0.0, np.where(t >= c, 1.0, 0.0))
    inside = (t > a) & (t < c)
    if b == a:
        out = np.where(inside, 0.5 + 0.5 * (t - b) / (c - b), out)
    else:
        out = np.where(inside, 0.5 * (t - a) / (b - a), out)
    return out


def phase_time(phase: Any, rep: Mapping[str, Any] | Sequence[float]) -> np.ndarray:
    """The time (ms) in the rep at each phase in ``phase`` (clipped to [0, 1]): the inverse of :func:`phase_clock`."""
    a, b, c = rep_span(rep)
    p = np.clip(np.asarray(phase, dtype=float), 0.0, 1.0)
    return np.where(p <= 0.5, a + (b - a) * p / 0.5, b + (c - b) * (p - 0.5) / 0.5)


def align_reps(rep_a: Mapping[str, Any] | Sequence[float], rep_b: Mapping[str, Any] | Sequence[float],
               n_steps: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``n_steps`` phases evenly from 0 to 1 and the time (ms) of each in rep A and in rep B."""
    if not (isinstance(n_steps, (int, np.integer)) and n_steps >= 2):
        raise ValueError(f"n_steps: expected a whole number >= 2, got {n_steps!r}")
    phase = np.linspace(0.0, 1.0, int(n_steps))
    return phase, phase_time(phase, rep_a), phase_time(phase, rep_b)


def nearest_frame(frame_t_ms: Any, t_ms: Any) -> np.ndarray:
    """Index of the frame (sorted times ``frame_t_ms``) nearest to each time in ``t_ms``."""
    ft = np.asarray(frame_t_ms, dtype=float)
    if ft.ndim != 1 or len(ft) == 0 or np.any(np.diff(ft) < 0):
        raise ValueError(f"frame times: expected a non-empty sorted 1-D array, got shape {ft.shape}")
    t = np.asarray(t_ms, dtype=float)
    i = np.clip(np.searchsorted(ft, t), 1, max(1, len(ft) - 1))
    if len(ft) == 1:
        return np.zeros(t.shape, dtype=int)
    left = ft[i - 1]
    right = ft[i]
    return np.where(np.abs(t - left) <= np.abs(right - t), i - 1, i).astype(int)
