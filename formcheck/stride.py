"""Adaptive stride of the pose pass: skip frames while the lifter is still (analysis core, pure).

The pose model dominates the cost of ``formcheck analyze``. While the lifter stands between reps,
sets up or pauses, consecutive frames carry the same pose; while they move, every frame counts
(depth is read at the bottom, hip and bar paths during the pull). :class:`StrideGate` decides,
frame by frame and **causally** (from the landmarks of frames already analysed, never from the
frame it is deciding on), whether the next candidate frame goes through the model:

- every candidate frame while the tracked joints moved fast in the last ``hold_ms``, while no
  lifter (or more than one person) was found in the last analysed frame, and at the start;
- otherwise at most ``max_stride - 1`` candidates in a row are skipped.

"Candidate" frames are those the frame-rate cap keeps (:func:`formcheck.pose.analysis_frames`); the
gate thins them further. A skipped frame has no pose row at all, as with the cap: time comes from
the timestamps of the rows that exist.

Speed is the largest displacement of the centres of the tracked joint pairs (shoulders, hips, knees)
between the newest analysed frame and the newest one at least ``window_ms`` older, in torso
lengths (shoulder centre to hip centre of the newest frame) per second. Comparing frames a window
apart rather than neighbours keeps MediaPipe's frame-to-frame jitter (2-3 % of the torso, see
:mod:`formcheck.pose`) well under the limit.

The same gate runs inside the pose pass (:func:`formcheck.pose.extract_pose`) and over an
every-frame sequence (:func:`stride_keep`, a screen on the evaluation cache and the rep stress
suite), so both choose frames by the same rule; a real pass can still differ because MediaPipe's
tracking sees other frames.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from formcheck.landmarks import Landmark

#: The joint pairs whose centres' movement keeps the pass at full rate: both lifts move the hips and
#: shoulders, a squat the knees too. Centres of left and right average their jitter. Not the wrists:
#: often hidden behind the body or the bar, MediaPipe's wrists jumped by up to a torso length a second
#: on a rendered clip of a lifter standing perfectly still (the same picture repeated), where the
#: shoulder, hip and knee centres stayed under 0.06 torso lengths a second.
TRACKED_PAIRS = np.array([[int(a), int(b)] for a, b in (
    (Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER), (Landmark.LEFT_HIP, Landmark.RIGHT_HIP),
    (Landmark.LEFT_KNEE, Landmark.RIGHT_KNEE))])
_SH = [int(Landmark.LEFT_SHOULDER), int(Landmark.RIGHT_SHOULDER)]
_HIP = [int(Landmark.LEFT_HIP), int(Landmark.RIGHT_HIP)]


def _centres(xy: np.ndarray) -> np.ndarray:
    return xy[TRACKED_PAIRS].mean(axis=1)


@dataclass(frozen=True)
class StrideParams:
    """The gate's settings (``[pose]`` ``stride_*`` keys of ``calibration.toml``; see there)."""

    max_stride: int
    still_speed_torso_per_s: float
    window_ms: float
    hold_ms: float

    def __post_init__(self) -> None:
        if isinstance(self.max_stride, bool) or not isinstance(self.max_stride, int) or self.max_stride < 1:
            raise ValueError(f"max_stride: expected a whole number of at least 1, got {self.max_stride!r}")
        for name in ("still_speed_torso_per_s", "window_ms", "hold_ms"):
            v = float(getattr(self, name))
            if not np.isfinite(v) or v <= 0:
                raise ValueError(f"{name}: expected a positive number, got {getattr(self, name)!r}")

    @property
    def active(self) -> bool:
        return self.max_stride > 1


def _torso_px(xy: np.ndarray) -> float:
    sh = xy[_SH].mean(axis=0)
    hp = xy[_HIP].mean(axis=0)
    return float(np.hypot(*(sh - hp)))


class StrideGate:
    """Causal frame-by-frame choice of the frames the pose model sees (see the module's notes).

    Call :meth:`want` for every candidate frame in time order; for each frame it said yes to,
    call :meth:`seen` with the result before asking about the next one.
    """

    def __init__(self, params: StrideParams) -> None:
        self.params = params
        self._history: deque[tuple[float, np.ndarray]] = deque()
        self._last_motion_ms = -np.inf
        self._unsure = True  # start, lost, or several people: analyse the next frame
        self._run = 0  # candidates skipped since the last analysed one
        self.skipped = 0

    def want(self, t_ms: float) -> bool:
        """Whether the candidate frame at ``t_ms`` goes through the model."""
        p = self.params
        if (not p.active or self._unsure or t_ms - self._last_motion_ms <= p.hold_ms
                or self._run >= p.max_stride - 1):
            self._run = 0
            return True
        self._run += 1
        self.skipped += 1
        return False

    def seen(self, t_ms: float, xy_px: np.ndarray | None, people: int = 1) -> None:
        """The analysed frame at ``t_ms``: the lifter's (33, 2) landmarks, None if nobody was found."""
        if xy_px is None or people != 1:
            self._unsure = True
            self._history.clear()
            return
        xy = np.asarray(xy_px, dtype=float)[:, :2]
        torso = _torso_px(xy)
        if not np.isfinite(torso) or torso <= 0:
            self._unsure = True
            self._history.clear()
            return
        w = self.params.window_ms
        ref = None
        while self._history and t_ms - self._history[0][0] >= w:
            ref = self._history.popleft()  # the newest one at least a window old stays below
        if ref is not None:
            self._history.appendleft(ref)
        self._history.append((float(t_ms), _centres(xy)))
        if ref is None:  # no frame a window old yet: not known to be still
            self._unsure = True
            return
        self._unsure = False
        d = np.hypot(*(_centres(xy) - ref[1]).T)
        d = d[np.isfinite(d)]
        if d.size == 0:
            self._unsure = True
            return
        speed = float(d.max()) / torso / ((t_ms - ref[0]) / 1000.0)
        if speed >= self.params.still_speed_torso_per_s:
            self._last_motion_ms = float(t_ms)


def stride_keep(t_ms: np.ndarray, xy_px: np.ndarray, params: StrideParams) -> np.ndarray:
    """Which rows of an every-frame (or capped) sequence the gate would have analysed: a bool mask.

    ``xy_px`` (N, 33, 2+) with NaN rows where no lifter was found. Used to screen the policy on
    cached every-frame poses; the pose pass itself runs :class:`StrideGate` on its detections.
    """
    t = np.asarray(t_ms, dtype=float)
    xy = np.asarray(xy_px, dtype=float)
    keep = np.zeros(t.shape, dtype=bool)
    gate = StrideGate(params)
    for i in range(t.shape[0]):
        if gate.want(t[i]):
            keep[i] = True
            row = xy[i, :, :2]
            found = bool(np.isfinite(row[_SH + _HIP]).all())
            gate.seen(t[i], row if found else None)
    return keep
