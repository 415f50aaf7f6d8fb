"""Live webcam analysis: the frame processor behind the Live page (an IO shell).

Two halves:

- :class:`LiveAnalyzer` (numpy only, no threads): takes smoothed landmarks frame
  by frame and runs the offline engine's own definitions on them. Per-frame
  metrics are :func:`formcheck.metrics.compute_frame_metrics` over a rolling
  buffer of the last ``metrics_window_ms``; reps come from
  :class:`formcheck.reps.LiveRepCounter` with the offline :class:`RepParams`
  (fed the hip height, or for deadlifts :func:`formcheck.reps.bar_height`);
  a completed rep is judged by :func:`formcheck.rules.evaluate` on its own
  window (segmented again by :func:`formcheck.reps.segment_reps`, so its
  phases are the offline ones), together with the reps judged before it so
  that personal baselines work as offline. Cue text: :func:`formcheck.guidance.cue`.
- :class:`LiveProcessor` (PyAV, OpenCV, MediaPipe): the streamlit-webrtc video
  processor. Its frame callback runs the pose landmarker on the newest frame
  only (older queued frames are dropped, so the stream never lags further and
  further), One Euro filters the landmarks, hands them to an analysis thread
  and draws the skeleton, trunk angle, rep count and cue from the latest
  published state. It never touches ``st.*``: the page reads
  :meth:`LiveProcessor.snapshot`. The landmarker is created on the first frame
  of a stream and closed when the stream ends; the session (raw landmarks,
  optionally the camera video) is then handed to ``on_finished``.

Conventions
-----------
- ``t_ms`` is the frame's presentation time (``frame.time``) from the first
  processed frame; frames without a timestamp get the monotonic clock.
- Landmark pixels are in the size of the stream's first frame, whatever the
  browser later does to the resolution (MediaPipe's coordinates are normalised,
  so a rescaled stream maps back exactly).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace
from fractions import Fraction
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping, Sequence

import av
import cv2
import numpy as np

from formcheck.analysis import metric_signals
from formcheck.cleaning import CleaningParams, LiveFilterParams, mask_values
from formcheck.guidance import cue as guidance_cue
from formcheck.landmarks import N_LANDMARKS, Landmark
from formcheck.metrics import compute_frame_metrics
from formcheck.models import resolve_model
from formcheck.overlay import draw_label, draw_skeleton
from formcheck.pose import native_stderr_silenced  # also quiets MediaPipe's log levels before it is imported
from formcheck.reps import LiveRepCounter, Rep, RepEvent, RepParams, bar_height, segment_reps
from formcheck.rules import Flag, evaluate, load_rules
from formcheck.sequence import PoseSequence
from formcheck.settings import CALIBRATION_FILE, check_table, read_packaged
from formcheck.views import ViewInfo, classify_view, recognize_lift

if TYPE_CHECKING:
    from formcheck.storage import SessionRecord, Store

log = logging.getLogger(__name__)

LIVE_LIFTS: tuple[str, ...] = ("squat", "deadlift", "auto")
LIVE_MODELS: tuple[str, ...] = ("lite", "full")
DEFAULT_LIVE_MODEL = "lite"
STATUSES: tuple[str, ...] = ("waiting", "running", "finishing", "saving", "saved", "empty", "error")

#: One Euro ``beta`` is in Hz per (px/s) for pixels at about 720p (see LiveFilterParams);
#: pixels of other frame heights are scaled to that reference.
FILTER_REF_HEIGHT_PX = 720.0
#: World landmarks are in metres: a lifter filling two thirds of a 720p frame is about
#: 300 px per metre, which converts ``beta`` to Hz per (m/s).
WORLD_PX_PER_M = 300.0
#: The view (side/front/oblique) of the rolling buffer is re-measured this often (ms of stream).
VIEW_EVERY_MS = 1000.0
#: Rolling-window metrics need this many frames with a lifter before they are computed at all.
MIN_WINDOW_FRAMES = 5
#: At most this many cues of one rep are drawn at once (a glance between reps reads no more).
MAX_CUES_SHOWN = 2
#: Processed-fps figure: frames processed within this much wall time.
FPS_WINDOW_S = 2.0

_CORE = (Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER, Landmark.LEFT_HIP, Landmark.RIGHT_HIP)


def _check_ms(name: str, value: float, minimum: float = 0.0) -> float:
    v = float(value)
    if not (math.isfinite(v) and v >= minimum):
        raise ValueError(f"{name}: expected a duration >= {minimum:g} ms, got {value!r}")
    return v


# --------------------------------------------------------------------------- configuration
#: The :class:`LiveConfig` fields whose values are the ``[live]`` table of ``calibration.toml``.
LIVE_CALIBRATION_KEYS: tuple[str, ...] = ("metrics_window_ms", "history_ms", "rep_margin_ms", "eval_delay_ms",
                                          "cue_hold_ms", "analysis_interval_ms")


def live_calibration(data: Mapping[str, Any], where: str = CALIBRATION_FILE) -> dict[str, float]:
    """The ``[live]`` table of a parsed ``calibration.toml``: every key of :data:`LIVE_CALIBRATION_KEYS`, no other.

    Each value must be a number, and a :class:`LiveConfig` built from them
    must pass its checks; errors name the file, the table and the key.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a parsed TOML document, got {type(data).__name__}")
    try:
        table = check_table(data.get("live"), "live", LIVE_CALIBRATION_KEYS)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    for key, value in table.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{where}: live.{key}: expected a number, got {value!r}")
    try:
        LiveConfig(**table)
    except ValueError as exc:
        raise ValueError(f"{where}: live.{exc}") from exc
    return table


@lru_cache(maxsize=1)
def packaged_live_calibration() -> Mapping[str, float]:
    """The ``[live]`` table of the packaged ``calibration.toml`` (read once)."""
    return MappingProxyType(live_calibration(read_packaged(CALIBRATION_FILE)))


def _live_value(name: str) -> Callable[[], float]:
    return lambda: packaged_live_calibration()[name]


@dataclass(frozen=True)
class LiveConfig:
    """Settings of one live session.

    The timings (``*_ms``) default to the ``[live]`` table of the packaged
    ``formcheck/config/calibration.toml``, ``filter``, ``rep_params`` and
    ``min_visibility`` to its ``[live_filter]``, ``[reps]`` and ``[cleaning]``
    tables: no number is written here. The session's own choices (lift, model,
    recording, athlete) keep their defaults in code.

    Notes
    -----
    lift
        ``"squat"``, ``"deadlift"`` or ``"auto"`` (both rep counters run until
        the first rep, which :func:`formcheck.views.recognize_lift` then names).
    model
        ``"lite"`` (default: the one fast enough for 25+ fps on two cores) or ``"full"``.
    filter
        One Euro settings for the landmarks (:class:`LiveFilterParams`).
    rep_params
        Rep counting thresholds: the offline defaults, so live and offline count alike.
    min_visibility
        Landmarks MediaPipe scores below this become NaN before filtering,
        as offline (:class:`CleaningParams`).
    metrics_window_ms
        Per-frame metrics are computed over the last this-many ms of frames.
        3 s: the clip-level scales (thigh, leg length) need standing frames as
        well as the bottom of a rep to be right in front views, and a longer
        buffer costs more per frame.
    history_ms
        Frames kept for judging a completed rep (its window must fit). 15 s:
        slower than any real rep, bounded memory.
    rep_margin_ms
        A rep is judged on its own frames plus this much before it (standing,
        the reference of the back-rounding proxy).
    eval_delay_ms
        A rep is judged this long after it ended, so that the lockout after
        it is in its window. 500 ms: the cue still arrives while the lifter
        is standing.
    cue_hold_ms
        A cue stays on screen this long. 2.5 s: a short phrase read at a glance
        between reps.
    analysis_interval_ms
        The analysis thread wakes at most this often (wall clock) and takes
        every frame that arrived meanwhile in one batch, so the rolling-window
        metrics are computed 5 times a second instead of once per frame. Every
        frame still feeds the rep counter; the trunk angle shown and a cue can
        lag by this much. On two cores every millisecond of analysis is taken
        from the pose model's threads, so fewer, larger batches keep the
        frame rate up.
    record_video
        Also keep the camera video (H.264 into ``video_dir``) for the review.
    athlete
        Who lifts; stored with the session.
    """

    lift: str = "squat"
    model: str = DEFAULT_LIVE_MODEL
    filter: LiveFilterParams = field(default_factory=LiveFilterParams.packaged)
    rep_params: RepParams = field(default_factory=RepParams.packaged)
    min_visibility: float = field(default_factory=lambda: CleaningParams.packaged().min_visibility)
    metrics_window_ms: float = field(default_factory=_live_value("metrics_window_ms"))
    history_ms: float = field(default_factory=_live_value("history_ms"))
    rep_margin_ms: float = field(default_factory=_live_value("rep_margin_ms"))
    eval_delay_ms: float = field(default_factory=_live_value("eval_delay_ms"))
    cue_hold_ms: float = field(default_factory=_live_value("cue_hold_ms"))
    analysis_interval_ms: float = field(default_factory=_live_value("analysis_interval_ms"))
    record_video: bool = False
    video_dir: Path | None = None
    athlete: str = ""

    def __post_init__(self) -> None:
        if self.lift not in LIVE_LIFTS:
            raise ValueError(f"lift: expected one of {', '.join(LIVE_LIFTS)}, got {self.lift!r}")
        if self.model not in LIVE_MODELS:
            raise ValueError(f"model: expected one of {', '.join(LIVE_MODELS)}, got {self.model!r}")
        if not isinstance(self.filter, LiveFilterParams):
            raise ValueError(f"filter: expected LiveFilterParams, got {type(self.filter).__name__}")
        if not isinstance(self.rep_params, RepParams):
            raise ValueError(f"rep_params: expected RepParams, got {type(self.rep_params).__name__}")
        if not 0.0 <= float(self.min_visibility) <= 1.0:
            raise ValueError(f"min_visibility: expected a score in [0, 1], got {self.min_visibility!r}")
        _check_ms("metrics_window_ms", self.metrics_window_ms, 200.0)
        _check_ms("rep_margin_ms", self.rep_margin_ms)
        _check_ms("eval_delay_ms", self.eval_delay_ms)
        _check_ms("cue_hold_ms", self.cue_hold_ms)
        _check_ms("analysis_interval_ms", self.analysis_interval_ms)
        if _check_ms("history_ms", self.history_ms) < self.metrics_window_ms:
            raise ValueError(f"history_ms: expected >= metrics_window_ms ({self.metrics_window_ms}), "
                             f"got {self.history_ms}")
        if not isinstance(self.record_video, bool):
            raise ValueError(f"record_video: expected True or False, got {self.record_video!r}")
        if self.record_video and self.video_dir is None:
            raise ValueError("video_dir: expected a folder when record_video is on, got None")
        if self.video_dir is not None:
            object.__setattr__(self, "video_dir", Path(self.video_dir))


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class FramePose:
    """One frame's landmarks (NaN where none), in the session's pixel frame."""

    t_ms: float
    xy_px: np.ndarray
    z_px: np.ndarray
    world_m: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray

    def __post_init__(self) -> None:
        if not math.isfinite(float(self.t_ms)):
            raise ValueError(f"t_ms: expected a finite time, got {self.t_ms!r}")
        for name, shape in (("xy_px", (N_LANDMARKS, 2)), ("z_px", (N_LANDMARKS,)),
                            ("world_m", (N_LANDMARKS, 3)), ("visibility", (N_LANDMARKS,)),
                            ("presence", (N_LANDMARKS,))):
            arr = np.asarray(getattr(self, name), dtype=np.float64)
            if arr.shape != shape:
                raise ValueError(f"{name}: expected shape {'x'.join(map(str, shape))}, "
                                 f"got {'x'.join(map(str, arr.shape))}")
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "t_ms", float(self.t_ms))

    @classmethod
    def empty(cls, t_ms: float) -> "FramePose":
        """A frame where no lifter was found."""
        rows = PoseSequence.empty_rows(1)
        return cls(t_ms, **{k: v[0] for k, v in rows.items()})

    @property
    def detected(self) -> bool:
        return bool(np.isfinite(self.xy_px[list(_CORE), 0]).any())


def stack_poses(frames: Sequence[FramePose], frame_w: int, frame_h: int, **kw: Any) -> PoseSequence:
    """A :class:`PoseSequence` of consecutive frames."""
    if not frames:
        rows = PoseSequence.empty_rows(0)
        return PoseSequence(t_ms=np.zeros(0), **rows, frame_w=frame_w, frame_h=frame_h, **kw)
    return PoseSequence(
        t_ms=np.array([f.t_ms for f in frames]),
        xy_px=np.stack([f.xy_px for f in frames]),
        z_px=np.stack([f.z_px for f in frames]),
        world_m=np.stack([f.world_m for f in frames]),
        visibility=np.stack([f.visibility for f in frames]),
        presence=np.stack([f.presence for f in frames]),
        frame_w=frame_w, frame_h=frame_h, **kw,
    )


@dataclass(frozen=True)
class LiveFlag:
    """A fault seen on a rep, as shown live."""

    code: str
    severity: str
    measured: float
    limit: float
    units: str
    confidence: float
    cue: str

    def __post_init__(self) -> None:
        if self.severity not in ("minor", "major"):
            raise ValueError(f"flag {self.code}: severity expected 'minor' or 'major', got {self.severity!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"flag {self.code}: confidence expected in [0, 1], got {self.confidence}")


@dataclass(frozen=True)
class LiveRep:
    """One completed rep as judged live.

    ``index`` is 0-based in counting order. Times are those of the rep found
    again by :func:`formcheck.reps.segment_reps` in the rep's own frames (the
    live counter's when it was not found). ``judged`` is False when the rep's
    window could not be segmented again (then ``flags`` is empty and
    ``note`` says why). ``cue`` is the cue of the most important flag.
    ``trunk_lean_max_deg`` is the rep's sustained maximum forward lean
    (the measure of the forward-lean rule), NaN when not measured.
    """

    index: int
    start_ms: float
    bottom_ms: float
    end_ms: float
    depth_norm: float
    lift: str
    view: str
    judged: bool
    flags: tuple[LiveFlag, ...] = ()
    cue: str | None = None
    trunk_lean_max_deg: float = float("nan")
    note: str = ""

    def __post_init__(self) -> None:
        if isinstance(self.index, bool) or not isinstance(self.index, (int, np.integer)) or self.index < 0:
            raise ValueError(f"index: expected an integer >= 0, got {self.index!r}")
        if not self.start_ms <= self.bottom_ms <= self.end_ms:
            raise ValueError(f"rep {self.index}: expected start_ms <= bottom_ms <= end_ms, "
                             f"got {self.start_ms}, {self.bottom_ms}, {self.end_ms}")

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(f.code for f in self.flags)

    @property
    def cues(self) -> tuple[str, ...]:
        """The distinct cues of the rep's flags, most important first."""
        return tuple(dict.fromkeys(f.cue for f in self.flags))


@dataclass(frozen=True)
class LiveStats:
    """Frame throughput of a stream so far (wall clock; callback and analysis times over the last 300 calls)."""

    frames_in: int = 0
    frames_processed: int = 0
    frames_dropped: int = 0
    fps_processed: float = 0.0
    callback_ms_last: float = float("nan")
    callback_ms_mean: float = float("nan")
    callback_ms_median: float = float("nan")
    callback_ms_p95: float = float("nan")
    analysis_ms_mean: float = float("nan")

    def __post_init__(self) -> None:
        counts = (self.frames_in, self.frames_processed, self.frames_dropped)
        if min(counts) < 0 or self.frames_processed + self.frames_dropped > self.frames_in:
            raise ValueError(f"frame counts: expected 0 <= processed + dropped <= in, got in={self.frames_in}, "
                             f"processed={self.frames_processed}, dropped={self.frames_dropped}")


@dataclass(frozen=True)
class LiveSnapshot:
    """Everything the page shows, copied out under a lock."""

    status: str
    lift: str | None
    lift_source: str
    model: str
    rep_count: int
    phase: str
    trunk_deg: float
    view: str
    reps: tuple[LiveRep, ...]
    cue: str | None
    stats: LiveStats
    message: str = ""
    record: Any = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status: expected one of {', '.join(STATUSES)}, got {self.status!r}")


@dataclass(frozen=True)
class LiveSession:
    """A finished stream, ready to be saved like an uploaded clip.

    ``sequence`` holds the raw (unfiltered) landmarks of every processed frame;
    the offline analysis cleans them itself. ``lift`` is what the user chose
    (``"auto"`` included); ``live_lift`` what the live analysis settled on.
    """

    sequence: PoseSequence
    reps: tuple[LiveRep, ...]
    lift: str
    live_lift: str | None
    model: str
    athlete: str
    stats: LiveStats
    video_path: Path | None = None
    started_at: float = 0.0

    def source(self) -> dict[str, Any]:
        """The report's ``source`` entry for this session."""
        s = self.stats
        return {
            "kind": "live",
            "name": f"live session {time.strftime('%Y-%m-%d %H:%M', time.localtime(self.started_at))}",
            "started_at": self.started_at,
            "duration_ms": round(self.sequence.duration_ms, 1),
            "frames_processed": s.frames_processed,
            "frames_dropped": s.frames_dropped,
            "fps_processed": round(s.fps_processed, 1),
            "live_rep_count": len(self.reps),
            "live_flags": [{"rep": r.index + 1, "codes": list(r.codes)} for r in self.reps if r.flags],
            "model": self.model,
            "video": str(self.video_path) if self.video_path else None,
        }


# --------------------------------------------------------------------------- analysis (numpy only)
@dataclass
class _Judged:
    t_ms: np.ndarray
    signals: dict[str, np.ndarray]
    rep: Rep


def _severity_rank(f: Flag) -> tuple[int, float]:
    return (1 if f.severity == "major" else 0, f.confidence)


class LiveAnalyzer:
    """The live analysis of one stream: metrics, reps, lift, rules (no threads, no IO).

    Feed frames in time order with :meth:`push` (any batch size); it returns
    the reps judged by that call. :meth:`finish` ends the stream. Public
    attributes (``rep_count``, ``phase``, ``trunk_deg``, ...) describe the
    newest frame.
    """

    def __init__(self, config: LiveConfig, frame_w: int, frame_h: int) -> None:
        if int(frame_w) <= 0 or int(frame_h) <= 0:
            raise ValueError(f"frame size: expected positive width and height, got {frame_w}x{frame_h}")
        self.config = config
        self.frame_w, self.frame_h = int(frame_w), int(frame_h)
        lifts = ("squat", "deadlift") if config.lift == "auto" else (config.lift,)
        self._counters = {lift: LiveRepCounter(lift, config.rep_params) for lift in lifts}
        self._events: dict[str, list[RepEvent]] = {lift: [] for lift in lifts}
        self.lift: str | None = None if config.lift == "auto" else config.lift
        self._hist: deque[FramePose] = deque()
        self._pending: list[RepEvent] = []
        self._judged: list[_Judged] = []
        self.reps: list[LiveRep] = []
        self._view: ViewInfo | None = None
        self._view_t_ms = -math.inf
        self.trunk_deg = float("nan")
        self.trunk_t_ms = float("nan")

    # ------------------------------------------------------------------ views
    @property
    def rep_count(self) -> int:
        if self.lift is not None:
            return self._counters[self.lift].count
        return max(c.count for c in self._counters.values())

    @property
    def phase(self) -> str:
        return self._counters[self.lift].phase if self.lift is not None else "idle"

    @property
    def view(self) -> str:
        return self._view.view if self._view is not None and self._view.confidence > 0 else "unknown"

    # ------------------------------------------------------------------ input
    def push(self, frames: Iterable[FramePose]) -> list[LiveRep]:
        new = [f for f in frames]
        if not new:
            return []
        last_t = self._hist[-1].t_ms if self._hist else -math.inf
        for f in new:
            if f.t_ms <= last_t:
                raise ValueError(f"t_ms: expected strictly increasing frame times, got {f.t_ms} after {last_t}")
            last_t = f.t_ms
            self._hist.append(f)
        newest = self._hist[-1].t_ms
        while self._hist and self._hist[0].t_ms < newest - self.config.history_ms:
            self._hist.popleft()

        hip, wrist = self._window_values(len(new))
        bar = bar_height(hip, wrist)
        for i, f in enumerate(new):
            for lift, counter in self._counters.items():
                value = bar[i] if lift == "deadlift" else hip[i]
                ev = counter.update(f.t_ms, value)
                if ev is not None:
                    self._on_event(lift, ev)
        self._decide_lift(final=False)
        return self._judge_due(newest, final=False)

    def finish(self) -> list[LiveRep]:
        """End of stream: reps that complete at the end are counted and every pending rep judged."""
        for lift, counter in self._counters.items():
            for ev in counter.finish():
                self._on_event(lift, ev)
        self._decide_lift(final=True)
        newest = self._hist[-1].t_ms if self._hist else 0.0
        return self._judge_due(newest, final=True)

    # ------------------------------------------------------------------ steps
    def _window_values(self, n_new: int) -> tuple[np.ndarray, np.ndarray]:
        """Hip and wrist heights of the newest ``n_new`` frames, from metrics over the rolling window."""
        nan = np.full(n_new, np.nan)
        newest = self._hist[-1].t_ms
        frames = [f for f in self._hist if f.t_ms >= newest - self.config.metrics_window_ms]
        frames = frames if len(frames) >= n_new else list(self._hist)[-n_new:]
        if sum(f.detected for f in frames) < MIN_WINDOW_FRAMES:
            return nan, nan
        seq = stack_poses(frames, self.frame_w, self.frame_h)
        if self._view is None or newest - self._view_t_ms >= VIEW_EVERY_MS:
            view = classify_view(seq)
            if view.confidence > 0 or self._view is None:
                self._view = view
            self._view_t_ms = newest
        assert self._view is not None
        with np.errstate(all="ignore"):
            m = compute_frame_metrics(seq, self._view)
        if np.isfinite(m.trunk_deg[-1]):
            self.trunk_deg = float(m.trunk_deg[-1])
            self.trunk_t_ms = newest
        k = min(n_new, seq.n_frames)
        hip = np.concatenate([nan[: n_new - k], m.hip_height_norm[-k:]])
        wrist = np.concatenate([nan[: n_new - k], m.wrist_height_norm[-k:]])
        return hip, wrist

    def _on_event(self, lift: str, ev: RepEvent) -> None:
        if self.lift is None:
            self._events[lift].append(ev)
        elif lift == self.lift:
            self._pending.append(ev)

    def _decide_lift(self, final: bool) -> None:
        """Auto mode: name the lift from the first completed rep of either counter."""
        if self.lift is not None:
            return
        firsts = [(evs[0].end_ms, lift) for lift, evs in self._events.items() if evs]
        if not firsts:
            return
        end_ms, lift = min(firsts)
        ev = self._events[lift][0]
        newest = self._hist[-1].t_ms if self._hist else end_ms
        if not final and newest < ev.end_ms + self.config.eval_delay_ms:
            return
        seq = self._window_seq(ev.start_ms - self.config.rep_margin_ms, ev.end_ms + self.config.eval_delay_ms)
        chosen = lift
        if seq.detected.sum() >= MIN_WINDOW_FRAMES:
            view = classify_view(seq)
            with np.errstate(all="ignore"):
                guess = recognize_lift(seq, compute_frame_metrics(seq, view))
            if guess.confidence > 0:
                chosen = guess.lift
        self.lift = chosen
        self._pending.extend(self._events[chosen])
        self._events = {chosen: []}
        self._counters = {chosen: self._counters[chosen]}

    def _window_seq(self, t0: float, t1: float) -> PoseSequence:
        return stack_poses([f for f in self._hist if t0 <= f.t_ms <= t1], self.frame_w, self.frame_h)

    def _judge_due(self, newest: float, final: bool) -> list[LiveRep]:
        out = []
        keep = []
        for ev in self._pending:
            if final or newest >= ev.end_ms + self.config.eval_delay_ms:
                rep = self._judge(ev)
                self.reps.append(rep)
                out.append(rep)
            else:
                keep.append(ev)
        self._pending = keep
        return out

    def _judge(self, ev: RepEvent) -> LiveRep:
        assert self.lift is not None
        cfg = self.config
        lift = self.lift
        base = dict(index=ev.index, start_ms=ev.start_ms, bottom_ms=ev.bottom_ms, end_ms=ev.end_ms,
                    depth_norm=ev.depth_norm, lift=lift)
        seq = self._window_seq(ev.start_ms - cfg.rep_margin_ms, ev.end_ms + cfg.eval_delay_ms)
        if seq.detected.sum() < MIN_WINDOW_FRAMES:
            return LiveRep(**base, view="unknown", judged=False, note="the lifter was not tracked in this rep")
        view = classify_view(seq)
        with np.errstate(all="ignore"):
            m = compute_frame_metrics(seq, view)
        aux = m.wrist_height_norm if lift == "deadlift" else None
        seg = segment_reps(seq.t_ms, m.hip_height_norm, lift, params=cfg.rep_params, aux_signal=aux)
        rep = self._matching(seg.reps, ev)
        if rep is None:
            return LiveRep(**base, view=view.view, judged=False,
                           note="the rep was not found again in its own frames")
        rep = replace(rep, index=len(self._judged))
        # the offline boundaries of the rep's own frames; the counter's are placed before the rep has settled
        base.update(start_ms=rep.start_ms, bottom_ms=rep.bottom_ms, end_ms=rep.end_ms)
        self._judged.append(_Judged(seq.t_ms, metric_signals(m), rep))
        t_cat, sig_cat = self._concatenated()
        result = evaluate(load_rules(lift), t_cat, sig_cat, [j.rep for j in self._judged], view.view)
        mine = sorted((f for f in result.flags if f.rep == rep.index), key=_severity_rank, reverse=True)
        flags = tuple(LiveFlag(f.code, f.severity, f.measured, f.limit, f.units, f.confidence,
                               guidance_cue(f.code)) for f in mine)
        lean = result.measures.get(rep.index, {}).get("excessive_forward_lean")
        return LiveRep(**base, view=view.view, judged=True, flags=flags,
                       cue=flags[0].cue if flags else None,
                       trunk_lean_max_deg=float(lean.value) if lean is not None else float("nan"))

    @staticmethod
    def _matching(reps: Sequence[Rep], ev: RepEvent) -> Rep | None:
        """The offline rep of the window that overlaps the live event most (at least half of either)."""
        best, best_overlap = None, 0.0
        for r in reps:
            overlap = min(r.end_ms, ev.end_ms) - max(r.start_ms, ev.start_ms)
            shorter = min(r.end_ms - r.start_ms, ev.end_ms - ev.start_ms)
            if overlap > best_overlap and overlap >= 0.5 * shorter:
                best, best_overlap = r, overlap
        return best

    def _concatenated(self) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """One timeline of every judged rep's window; a frame in two windows is taken from the earlier one."""
        idx: list[np.ndarray] = []
        last = -math.inf
        for j in self._judged:
            keep = np.flatnonzero(j.t_ms > last)
            idx.append(keep)
            if keep.size:
                last = float(j.t_ms[keep[-1]])
        t = np.concatenate([j.t_ms[k] for j, k in zip(self._judged, idx)])
        names = set.intersection(*(set(j.signals) for j in self._judged))
        sig = {n: np.concatenate([j.signals[n][k] for j, k in zip(self._judged, idx)]) for n in names}
        return t, sig


# --------------------------------------------------------------------------- pose (MediaPipe)
#: :func:`open_landmarker` runs one detection at this timestamp; stream frames come after it.
WARMUP_TS_MS = 0


class QuietLandmarker:
    """A MediaPipe landmarker whose native log lines are kept off stderr, as in the offline path.

    MediaPipe and LiteRT write to file descriptor 2 from C++ (``INFO: Created
    TensorFlow Lite XNNPACK delegate``, ``W0000 ...`` lines) when the model is
    created, on its first inferences, on the first frame in which it finds a
    person (which in a live stream may come long after the start) and when it
    is closed. Like :mod:`formcheck.pose`, fd 2 is sent to ``/dev/null``
    around exactly those calls (:func:`formcheck.pose.native_stderr_silenced`;
    ``FORMCHECK_VERBOSE=1`` keeps them): the first two detections and every
    detection until one has found a person, and :meth:`close`. While fd 2 is
    redirected, other threads' stderr output is lost too; a detection takes
    tens of milliseconds.
    """

    def __init__(self, landmarker: Any) -> None:
        self._lm = landmarker
        self._calls = 0
        self._person_seen = False

    def detect_for_video(self, image: Any, timestamp_ms: int) -> Any:
        with native_stderr_silenced(self._calls < 2 or not self._person_seen):
            result = self._lm.detect_for_video(image, timestamp_ms)
        self._calls += 1
        if result.pose_landmarks:
            self._person_seen = True
        return result

    def close(self) -> None:
        with native_stderr_silenced():
            self._lm.close()


def open_landmarker(model: str) -> QuietLandmarker:
    """A VIDEO-mode (tracking) PoseLandmarker following one person, without masks, warmed up.

    The first detection of a new landmarker sets up its inference engine and
    takes far longer than the rest; it is run here on a small blank image at
    timestamp :data:`WARMUP_TS_MS`, so that the stream's first frame is not the one to wait.
    MediaPipe's native log lines are kept off stderr (see :class:`QuietLandmarker`).
    """
    import mediapipe as mp
    from mediapipe.tasks.python import BaseOptions, vision

    opts = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(resolve_model(model))),
        running_mode=vision.RunningMode.VIDEO,
        num_poses=1,
        output_segmentation_masks=False,
    )
    with native_stderr_silenced():
        landmarker = QuietLandmarker(vision.PoseLandmarker.create_from_options(opts))
    blank = np.zeros((64, 64, 3), np.uint8)
    landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=blank), WARMUP_TS_MS)
    return landmarker


def landmarks_to_pose(result: Any, t_ms: float, frame_w: int, frame_h: int) -> FramePose:
    """The first person of a PoseLandmarkerResult as a :class:`FramePose` in a ``frame_w`` x ``frame_h`` frame."""
    if not result.pose_landmarks:
        return FramePose.empty(t_ms)
    img = np.array([(p.x, p.y, p.z, p.visibility or 0.0, p.presence or 0.0) for p in result.pose_landmarks[0]])
    if result.pose_world_landmarks:
        world = np.array([(p.x, p.y, p.z) for p in result.pose_world_landmarks[0]])
    else:
        world = np.full((N_LANDMARKS, 3), np.nan)
    # MediaPipe's z is in the scale of x (normalised by the image width)
    return FramePose(t_ms, img[:, :2] * (frame_w, frame_h), img[:, 2] * frame_w, world, img[:, 3], img[:, 4])


class PoseSmoother:
    """Causal smoothing of one stream's landmarks: mask doubtful points, then One Euro filter."""

    def __init__(self, params: LiveFilterParams, frame_h: int, min_visibility: float) -> None:
        px = replace(params, beta=params.beta * FILTER_REF_HEIGHT_PX / float(frame_h))
        self._xy = px.make_filter()
        self._z = px.make_filter()
        self._world = replace(params, beta=params.beta * WORLD_PX_PER_M).make_filter()
        self.min_visibility = float(min_visibility)

    def __call__(self, pose: FramePose) -> FramePose:
        t, vis = pose.t_ms, pose.visibility
        return FramePose(
            t,
            self._xy(t, mask_values(pose.xy_px, vis, self.min_visibility)),
            self._z(t, mask_values(pose.z_px, vis, self.min_visibility)),
            self._world(t, mask_values(pose.world_m, vis, self.min_visibility)),
            vis,
            pose.presence,
        )


# --------------------------------------------------------------------------- drawing
_TRUNK_RGB = (255, 215, 0)
_HUD_BOX_RGB = (20, 20, 20)
_CUE_BOX_RGB = (200, 40, 40)


def draw_overlay(rgb: np.ndarray, pose: FramePose | None, scale: float, hud: Mapping[str, Any]) -> None:
    """Draw the live overlay on an RGB frame in place: skeleton, trunk line and angle, rep count, cue.

    ``scale`` maps the session's pixel frame to this frame. ``hud`` holds
    ``reps`` (int), ``trunk_deg`` (float, NaN when unknown), ``lift`` (str or
    None), ``phase`` (str), ``fps`` (float) and ``cues`` (cue texts, most
    important first; stacked at the bottom). The
    skeleton and labels are :mod:`formcheck.overlay`'s; the trunk line is
    drawn here, from the hip midpoint to the shoulder midpoint, as the trunk
    angle is measured.
    """
    h, w = rgb.shape[:2]
    trunk = float(hud.get("trunk_deg", float("nan")))
    if pose is not None and pose.detected:
        draw_skeleton(rgb, pose.xy_px, None, scale=scale)
        pts = pose.xy_px * scale
        with np.errstate(invalid="ignore"):
            sh = np.nanmean(pts[[Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER]], axis=0)
            hp = np.nanmean(pts[[Landmark.LEFT_HIP, Landmark.RIGHT_HIP]], axis=0)
        if np.isfinite(sh).all() and np.isfinite(hp).all():
            thick = max(2, round(5 * min(h, w) / 720))
            cv2.line(rgb, (int(hp[0]), int(hp[1])), (int(sh[0]), int(sh[1])), _TRUNK_RGB, thick, cv2.LINE_AA)
            if math.isfinite(trunk):
                draw_label(rgb, f"{abs(trunk):.0f} deg", (int(sh[0]) + 10, int(sh[1]) - 10), text_rgb=_TRUNK_RGB,
                           box_rgb=_HUD_BOX_RGB, size=1.1)
    trunk_txt = f"{abs(trunk):.0f} deg" if math.isfinite(trunk) else "--"
    phase = hud.get("phase") or ""
    line = f"REPS {hud.get('reps', 0)}   trunk {trunk_txt}   {hud.get('lift') or 'lift ?'} {phase}".rstrip()
    draw_label(rgb, line, (0, 0), box_rgb=_HUD_BOX_RGB, size=1.5)
    fps = hud.get("fps")
    if fps:
        draw_label(rgb, f"{fps:.0f} fps", (w - round(110 * w / 640), 0), box_rgb=_HUD_BOX_RGB, size=1.2)
    size = 2.6
    scale_px = 0.6 * size * min(h, w) / 720.0
    y = h - round(20 * h / 480)
    for text in reversed([c.upper() for c in hud.get("cues", ())]):  # the most important cue on top
        (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale_px, max(1, round(2 * scale_px)))
        y -= th + base + round(20 * scale_px)
        draw_label(rgb, text, (max(0, (w - tw) // 2 - 10), y), box_rgb=_CUE_BOX_RGB, size=size)


# --------------------------------------------------------------------------- the processor
_STOP = object()


class _VideoRecorder:
    """Encodes the analysed camera frames to H.264 on its own thread; drops frames when it falls behind."""

    def __init__(self, path: Path, size: tuple[int, int]) -> None:
        from formcheck.video import VideoWriter

        self.path = path
        self.dropped = 0
        self.error: str | None = None
        self._writer = VideoWriter(path, 30.0, size, preset="ultrafast")
        self._q: queue.Queue[Any] = queue.Queue(maxsize=30)
        self._thread = threading.Thread(target=self._run, name="formcheck-live-video", daemon=True)
        self._thread.start()

    def put(self, rgb: np.ndarray, t_ms: float) -> None:
        try:
            self._q.put_nowait((rgb, t_ms))
        except queue.Full:
            self.dropped += 1

    def _run(self) -> None:
        from formcheck.video import VideoError

        while (item := self._q.get()) is not _STOP:
            rgb, t_ms = item
            if self.error is not None:
                continue
            try:
                if rgb.shape[:2] != (self._writer.height, self._writer.width):
                    rgb = cv2.resize(rgb, (self._writer.width, self._writer.height))
                self._writer.write(rgb, t_ms)
            except (VideoError, ValueError) as exc:
                self.error = str(exc)

    def close(self) -> Path | None:
        from formcheck.video import VideoError

        self._q.put(_STOP)
        self._thread.join()
        try:
            self._writer.close()
        except VideoError as exc:
            self.error = self.error or str(exc)
        return None if self.error else self.path


class LiveProcessor:
    """The streamlit-webrtc video processor of one stream (see the module docstring).

    Parameters
    ----------
    config
        The session's :class:`LiveConfig`.
    on_finished
        Called once with the :class:`LiveSession` after the stream ended and
        the landmarker was closed, on a thread of its own; its return value
        becomes ``snapshot().record``. None keeps the session in memory only
        (:attr:`session`).
    threaded
        Run the analysis on its own thread (the stream's real mode). False runs
        it inside the frame callback, in batches of ``analysis_interval_ms`` of
        stream time: deterministic, for tests and tools.
    landmarker_factory
        ``model -> landmarker`` (default :func:`open_landmarker`), called on the first frame.
    """

    def __init__(
        self,
        config: LiveConfig,
        *,
        on_finished: Callable[[LiveSession], Any] | None = None,
        threaded: bool = True,
        landmarker_factory: Callable[[str], Any] = open_landmarker,
    ) -> None:
        self.config = config
        self.on_finished = on_finished
        self.threaded = threaded
        self._factory = landmarker_factory
        self._frame_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._done = threading.Event()
        self._ready = threading.Event()
        self._landmarker: Any = None
        self._closed = False
        self._size: tuple[int, int] | None = None
        self._t0_s: float | None = None
        self._last_t_ms = -math.inf
        self._last_ts = WARMUP_TS_MS  # MediaPipe timestamps (ms) must increase; the first frame gets 1
        self._smoother: PoseSmoother | None = None
        self._analyzer: LiveAnalyzer | None = None
        self._recorder: _VideoRecorder | None = None
        self._raw: list[FramePose] = []
        self._queue: queue.Queue[Any] = queue.Queue()
        self._inline: list[FramePose] = []
        self._worker: threading.Thread | None = None
        self._started_at = time.time()
        # published state (under _state_lock)
        self._status = "waiting"
        self._message = ""
        self._record: Any = None
        self._reps: list[LiveRep] = []
        self._rep_count = 0
        self._phase = "idle"
        self._trunk = (float("nan"), -math.inf)
        self._view = "unknown"
        self._lift: str | None = None if config.lift == "auto" else config.lift
        self._cue: tuple[tuple[str, ...], float] | None = None
        self._frames_in = 0
        self._frames_done = 0
        self._frames_dropped = 0
        self._cb_ms: deque[float] = deque(maxlen=300)
        self._analysis_ms: deque[float] = deque(maxlen=300)
        self._done_wall: deque[float] = deque(maxlen=240)
        self.session: LiveSession | None = None

    # ------------------------------------------------------------------ streamlit-webrtc interface
    def recv(self, frame: av.VideoFrame) -> av.VideoFrame:
        return self.process(frame)

    async def recv_queued(self, frames: list[av.VideoFrame]) -> list[av.VideoFrame]:
        """Process only the newest of the frames that queued up while the last one was processed."""
        with self._state_lock:
            self._frames_in += len(frames) - 1
            self._frames_dropped += len(frames) - 1
        return [self.process(frames[-1])]

    def on_ended(self) -> None:
        self.stop()

    # ------------------------------------------------------------------ frames
    def _frame_time_ms(self, frame: av.VideoFrame) -> float:
        t_s = frame.time if frame.time is not None else time.monotonic()
        if self._t0_s is None:
            self._t0_s = t_s
        return (t_s - self._t0_s) * 1000.0

    def process(self, frame: av.VideoFrame) -> av.VideoFrame:
        """The frame callback: pose, smoothing, hand-over to the analysis, overlay."""
        t_start = time.perf_counter()
        with self._state_lock:
            self._frames_in += 1
        with self._frame_lock:
            if self._closed:
                return frame
            t_ms = self._frame_time_ms(frame)
            if t_ms <= self._last_t_ms:
                with self._state_lock:
                    self._frames_dropped += 1
                return frame
            self._last_t_ms = t_ms
            rgb = frame.to_ndarray(format="rgb24")
            h, w = rgb.shape[:2]
            if self._size is None:
                self._start(w, h)
            if self._landmarker is None:
                # the model is still loading (or failed to): pass the camera through, unanalysed
                with self._state_lock:
                    self._frames_dropped += 1
                    note = self._message or "loading the pose model..."
                draw_label(rgb, note, (0, 0), box_rgb=_HUD_BOX_RGB, size=1.3)
                return av.VideoFrame.from_ndarray(rgb, format="rgb24")
            assert self._size is not None and self._smoother is not None
            w0, h0 = self._size
            import mediapipe as mp

            ts = max(int(round(t_ms)), self._last_ts + 1)
            self._last_ts = ts
            result = self._landmarker.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), ts)
            raw = landmarks_to_pose(result, t_ms, w0, h0)
            self._raw.append(raw)
            smooth = self._smoother(raw)
            if self._recorder is not None:
                self._recorder.put(rgb.copy(), t_ms)
            if self.threaded:
                self._queue.put(smooth)
            else:
                # inline: batch by stream time as the thread batches by wall time
                self._inline.append(smooth)
                if t_ms - self._inline[0].t_ms >= self.config.analysis_interval_ms:
                    self._analyse(self._inline)
                    self._inline = []
            draw_overlay(rgb, smooth, w / w0, self._hud(t_ms))
            out = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        now = time.perf_counter()
        with self._state_lock:
            self._frames_done += 1
            self._cb_ms.append((now - t_start) * 1000.0)
            self._done_wall.append(now)
            if self._status == "waiting":
                self._status = "running"
        return out

    def wait_ready(self, timeout: float | None = None) -> bool:
        """Block until the pose model is open (it opens on the first frame); False on timeout or failure."""
        return self._ready.wait(timeout) and self._landmarker is not None

    def _start(self, w: int, h: int) -> None:
        """First frame of the stream: set up smoothing, analysis and recording, and open the landmarker.

        Threaded, the landmarker opens on a thread of its own: importing
        MediaPipe and loading the model take seconds on a busy machine, and
        streamlit-webrtc gives up on a stream whose callback takes over 10 s.
        Frames that arrive meanwhile pass through unanalysed.
        """
        self._size = (w, h)
        self._smoother = PoseSmoother(self.config.filter, h, self.config.min_visibility)
        self._analyzer = LiveAnalyzer(self.config, w, h)
        if self.config.record_video and self.config.video_dir is not None:
            self.config.video_dir.mkdir(parents=True, exist_ok=True)
            name = time.strftime("live_%Y%m%d_%H%M%S", time.localtime(self._started_at)) + ".mp4"
            self._recorder = _VideoRecorder(self.config.video_dir / name, (w, h))
        if self.threaded:
            self._worker = threading.Thread(target=self._analysis_loop, name="formcheck-live-analysis", daemon=True)
            self._worker.start()
            threading.Thread(target=self._load_landmarker, name="formcheck-live-model", daemon=True).start()
        else:
            self._landmarker = self._factory(self.config.model)
            self._ready.set()

    def _load_landmarker(self) -> None:
        try:
            landmarker = self._factory(self.config.model)
        except Exception as exc:  # a missing or broken model: said on the page, the video goes on unanalysed
            log.exception("opening the pose model failed")
            self._set_status("error", f"the pose model could not be opened: {exc}")
            self._ready.set()
            return
        with self._frame_lock:
            if not self._closed:
                self._landmarker = landmarker
                self._ready.set()
                return
        landmarker.close()  # the stream ended while the model was loading
        self._ready.set()

    def _hud(self, t_ms: float) -> dict[str, Any]:
        with self._state_lock:
            trunk, trunk_t = self._trunk
            cues = self._cue[0] if self._cue is not None and t_ms - self._cue[1] <= self.config.cue_hold_ms else ()
            return {"reps": self._rep_count, "trunk_deg": trunk if t_ms - trunk_t < 1000.0 else float("nan"),
                    "lift": self._lift, "phase": self._phase if self._phase != "idle" else "",
                    "fps": self._fps_locked(), "cues": cues}

    # ------------------------------------------------------------------ analysis thread
    def _analysis_loop(self) -> None:
        stop = False
        failed = False
        last = -math.inf
        while not stop:
            first = self._queue.get()
            # batching frames amortises the rolling-window metrics over several frames
            wait_s = last + self.config.analysis_interval_ms / 1000.0 - time.perf_counter()
            if wait_s > 0 and first is not _STOP:
                time.sleep(wait_s)
            last = time.perf_counter()
            batch = [first]
            while True:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if _STOP in batch:
                stop = True
                batch = [b for b in batch if b is not _STOP]
            if failed:
                continue
            try:
                self._analyse(batch)
            except Exception as exc:  # reported on the page; the video and the recording go on without analysis
                log.exception("live analysis failed")
                failed = True
                with self._state_lock:
                    self._message = f"live analysis stopped: {exc}"

    def _analyse(self, batch: list[FramePose]) -> None:
        assert self._analyzer is not None
        an = self._analyzer
        t0 = time.perf_counter()
        new = an.push(batch) if batch else []
        with self._state_lock:
            self._analysis_ms.append((time.perf_counter() - t0) * 1000.0)
        self._publish(an, new, batch[-1].t_ms if batch else None)

    def _publish(self, an: LiveAnalyzer, new: list[LiveRep], t_ms: float | None) -> None:
        with self._state_lock:
            self._reps.extend(new)
            self._rep_count = an.rep_count
            self._phase = an.phase
            self._lift = an.lift
            self._view = an.view
            self._trunk = (an.trunk_deg, an.trunk_t_ms)
            for r in new:
                if r.cues:
                    self._cue = (r.cues[:MAX_CUES_SHOWN], t_ms if t_ms is not None else r.end_ms)

    # ------------------------------------------------------------------ end of stream
    def stop(self) -> None:
        """End the stream (idempotent): finish the analysis, close the landmarker, hand the session over."""
        with self._frame_lock:
            if self._closed:
                return
            self._closed = True
            landmarker, self._landmarker = self._landmarker, None
        with self._state_lock:
            self._status = "finishing"
        if self._worker is not None:
            self._queue.put(_STOP)
            self._worker.join()
        if landmarker is not None:
            landmarker.close()
        threading.Thread(target=self._finish, name="formcheck-live-finish", daemon=False).start()

    def _finish(self) -> None:
        try:
            an = self._analyzer
            if an is not None:
                if self._inline:
                    self._analyse(self._inline)
                    self._inline = []
                self._publish(an, an.finish(), None)
            video = self._recorder.close() if self._recorder is not None else None
            if not self._raw or an is None:
                self._set_status("empty", self._message or "no frames were analysed")
                return
            w, h = self._size or (1, 1)
            seq = stack_poses(self._raw, w, h, source="live", model=self.config.model,
                              meta={"extractor": "mediapipe.PoseLandmarker.VIDEO (live)"})
            self._raw = []
            self.session = LiveSession(
                sequence=seq, reps=tuple(self.snapshot().reps), lift=self.config.lift, live_lift=an.lift,
                model=self.config.model, athlete=self.config.athlete, stats=self.snapshot().stats,
                video_path=video, started_at=self._started_at,
            )
            if self.on_finished is None:
                self._set_status("saved", "kept in memory")
                return
            self._set_status("saving")
            record = self.on_finished(self.session)
            with self._state_lock:
                self._record = record
            self._set_status("saved")
        except Exception as exc:  # any failure while saving is shown on the page, one line
            log.exception("saving the live session failed")
            self._set_status("error", f"the session could not be saved: {exc}")
        finally:
            self._done.set()

    def _set_status(self, status: str, message: str = "") -> None:
        with self._state_lock:
            self._status = status
            if message:
                self._message = message

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the session has been handed over after :meth:`stop`; False on timeout."""
        return self._done.wait(timeout)

    # ------------------------------------------------------------------ reading
    def _fps_locked(self) -> float:
        d = self._done_wall
        if len(d) < 2:
            return 0.0
        recent = [t for t in d if t >= d[-1] - FPS_WINDOW_S]
        if len(recent) < 2 or recent[-1] <= recent[0]:
            return 0.0
        return (len(recent) - 1) / (recent[-1] - recent[0])

    def stats(self) -> LiveStats:
        with self._state_lock:
            return self._stats_locked()

    def _stats_locked(self) -> LiveStats:
        cb = np.array(self._cb_ms) if self._cb_ms else np.array([np.nan])
        am = np.array(self._analysis_ms) if self._analysis_ms else np.array([np.nan])
        return LiveStats(
            frames_in=self._frames_in, frames_processed=self._frames_done, frames_dropped=self._frames_dropped,
            fps_processed=self._fps_locked(), callback_ms_last=float(cb[-1]), callback_ms_mean=float(np.mean(cb)),
            callback_ms_median=float(np.median(cb)), callback_ms_p95=float(np.percentile(cb, 95)),
            analysis_ms_mean=float(np.mean(am)),
        )

    def snapshot(self) -> LiveSnapshot:
        with self._state_lock:
            trunk, _ = self._trunk
            return LiveSnapshot(
                status=self._status, lift=self._lift,
                lift_source="auto" if self.config.lift == "auto" else "user", model=self.config.model,
                rep_count=self._rep_count, phase=self._phase, trunk_deg=trunk, view=self._view,
                reps=tuple(self._reps), cue=" · ".join(self._cue[0]) if self._cue else None, stats=self._stats_locked(),
                message=self._message, record=self._record,
            )


_TIME_BASE = Fraction(1, 90000)


# --------------------------------------------------------------------------- RTC configuration
ENV_ICE_SERVERS = "FORMCHECK_ICE_SERVERS"


def rtc_configuration(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """The WebRTC configuration: no STUN/TURN unless ``FORMCHECK_ICE_SERVERS`` gives some.

    ``FORMCHECK_ICE_SERVERS`` holds a JSON list of RTCIceServer objects, e.g.
    ``[{"urls": ["stun:stun.example.org:3478"]}, {"urls": "turn:turn.example.org:3478",
    "username": "u", "credential": "p"}]``. The default, an explicit empty
    list, works when browser and server are on one machine or one LAN and
    never contacts a public server (``None`` or ``{}`` would make
    streamlit-webrtc add Google's STUN server).
    """
    raw = (os.environ if env is None else env).get(ENV_ICE_SERVERS, "").strip()
    if not raw:
        return {"iceServers": []}
    try:
        servers = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{ENV_ICE_SERVERS}: expected a JSON list of ICE servers, got {raw!r} ({exc.msg})") from exc
    if not isinstance(servers, list) or not all(isinstance(s, dict) and "urls" in s for s in servers):
        raise ValueError(f"{ENV_ICE_SERVERS}: expected a JSON list of objects with 'urls', got {raw!r}")
    return {"iceServers": servers}


def save_live_session(session: LiveSession, store: "Store") -> "SessionRecord":
    """Analyse a finished session offline and record it like an upload; returns the store's record.

    The report comes from :func:`formcheck.analysis.analyze_sequence` on the raw
    landmarks (the user's lift choice, ``"auto"`` included), so History and the
    review queue show it exactly like an uploaded clip. ``store`` is a
    :class:`formcheck.storage.Store`; the recorded video (if any) is moved into it.
    """
    from formcheck.analysis import analyze_sequence

    analysis = analyze_sequence(session.sequence, lift=session.lift, source=session.source(),
                                model=session.model, athlete=session.athlete)
    return store.save_analysis(analysis.report, pose=session.sequence, video_path=session.video_path,
                               athlete=session.athlete, source_kind="live",
                               source_name=session.source()["name"], move=session.video_path is not None)


def run_frames(processor: LiveProcessor, frames: Iterable[av.VideoFrame]) -> list[av.VideoFrame]:
    """Feed frames through ``processor.recv_queued`` one at a time, as a stream that keeps up would."""

    async def go() -> list[av.VideoFrame]:
        out = []
        for f in frames:
            out.extend(await processor.recv_queued([f]))
        return out

    return asyncio.run(go())


__all__ = [
    "ENV_ICE_SERVERS", "FramePose", "LIVE_LIFTS", "LIVE_MODELS", "LiveAnalyzer", "LiveConfig", "LiveFlag",
    "LiveProcessor", "LiveRep", "LiveSession", "LiveSnapshot", "LiveStats", "PoseSmoother", "QuietLandmarker",
    "draw_overlay",
    "landmarks_to_pose", "open_landmarker", "rtc_configuration", "run_frames", "save_live_session", "stack_poses",
]
