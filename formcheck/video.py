"""Video input and output with PyAV.

Reading
-------
:func:`iter_frames` streams the frames of one clip as upright RGB arrays with
their real presentation time. Memory stays flat in clip length.

- ``t_ms`` is the frame's presentation timestamp (PTS x stream time base) in
  milliseconds from the clip's *first decoded frame*, strictly increasing.
  Phone clips are often variable frame rate, so time never comes from
  ``index / fps``. A duplicate or backwards PTS is nudged to just after the
  previous frame (1 ms, or a quarter of the last real frame interval if that
  is shorter; one warning), so later frames keep their true times. A frame
  without PTS gets the previous time plus the last real frame interval. A
  clip with no usable timestamps at all (no PTS, or an implausible frame rate
  that the timestamps agree with) is timed at its nominal frame rate when
  that lies in 1-240 fps, else at 30 fps (one warning).
- ``index`` is the frame's ordinal from the clip's first frame. In a chunk
  (``start_ms``) it is found by counting the packets before the chunk without
  decoding them, which matches a full pass for every codec that stores one
  frame per packet. Damaged clips can still disagree: stitch chunks by
  ``t_ms``.
- Rotation: the display matrix (phone clips recorded in portrait) is applied,
  so frames are always upright; ``VideoInfo.rotation_deg`` says by how much.
  Files without a display matrix but with an old-style ``rotate`` tag use the
  tag. Mirroring in the matrix (some front cameras) is not undone.
- Damage: before the first frame every problem is a one-line
  :class:`VideoError`; after it, damage is reported once through ``warn`` and
  the iterator skips the bad data or stops. It never raises after a frame was
  yielded.

Writing
-------
:class:`VideoWriter` encodes H.264 (libx264, yuv420p, ``+faststart``) ``.mp4``
files that play in browsers, with optional real timestamps per frame.
"""

from __future__ import annotations

import itertools
import logging
import math
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from types import TracebackType
from typing import Callable, Iterable, Iterator

import av
import cv2
import numpy as np

__all__ = [
    "FALLBACK_FPS",
    "FPS_SANE_MAX",
    "FPS_SANE_MIN",
    "SUPPORTED_SUFFIXES",
    "Frame",
    "VideoError",
    "VideoInfo",
    "VideoWriter",
    "find_videos",
    "iter_frames",
    "probe",
    "read_all",
    "scaled_size",
]

SUPPORTED_SUFFIXES = (".mp4", ".mov", ".avi", ".webm", ".mkv", ".gif", ".m4v")

#: Frame rates outside this range (frames per second) are treated as garbage metadata.
FPS_SANE_MIN = 1.0
FPS_SANE_MAX = 240.0
#: Frame rate assumed when a clip has neither timestamps nor a plausible frame rate.
FALLBACK_FPS = 30.0

#: How far (ms, at most a quarter frame interval) a duplicate or backwards timestamp is moved past the previous one.
_NUDGE_MS = 1.0
_MAX_CONSECUTIVE_DECODE_ERRORS = 25
#: Seek targets tried before a chunk start (ms earlier), because containers seek by decode time.
_SEEK_BACKOFFS_MS = (0.0, 200.0, 1000.0, 5000.0)
_WRITER_TIME_BASE = Fraction(1, 90000)
_ROTATE_CODES = {
    90: cv2.ROTATE_90_CLOCKWISE,
    180: cv2.ROTATE_180,
    270: cv2.ROTATE_90_COUNTERCLOCKWISE,
}

_log = logging.getLogger(__name__)

WarnFn = Callable[[str], None]


class VideoError(ValueError):
    """A video that cannot be read or written; the message is always one line."""

    def __init__(self, message: str) -> None:
        super().__init__(" ".join(str(message).split()))


# --------------------------------------------------------------------------- data types


@dataclass(frozen=True)
class VideoInfo:
    """What :func:`probe` found out about one clip.

    Notes
    -----
    path : the probed file.
    width, height : upright decoded frame size in pixels (after the display
        rotation is applied), before any ``max_side`` downscale.
    rotation_deg : clockwise rotation in degrees (0, 90, 180 or 270) that
        :func:`iter_frames` applies to the stored frames to make them upright.
    fps_nominal : the container's average frame rate, or None when missing or
        outside ``FPS_SANE_MIN``-``FPS_SANE_MAX``. Informational only: frame
        times come from timestamps.
    duration_ms : container or stream duration in milliseconds, None if unknown.
    n_frames_est : the container's frame count, else duration x fps, else None.
    codec : FFmpeg canonical codec name, e.g. ``h264``, ``mpeg4``, ``mjpeg``, ``vp9``, ``av1``, ``gif``.
    container : FFmpeg demuxer name, e.g. ``mov,mp4,m4a,3gp,3g2,mj2``, ``matroska,webm``.
    has_audio : whether the file also has an audio stream.
    """

    path: Path
    width: int
    height: int
    rotation_deg: int
    fps_nominal: float | None
    duration_ms: float | None
    n_frames_est: int | None
    codec: str
    container: str
    has_audio: bool

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", Path(self.path))
        for name in ("width", "height"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value <= 0:
                raise ValueError(f"{name}: expected a positive int, got {value!r}")
            object.__setattr__(self, name, int(value))
        if self.rotation_deg not in (0, 90, 180, 270):
            raise ValueError(f"rotation_deg: expected 0, 90, 180 or 270, got {self.rotation_deg!r}")
        if self.fps_nominal is not None and not (FPS_SANE_MIN <= self.fps_nominal <= FPS_SANE_MAX):
            raise ValueError(
                f"fps_nominal: expected None or {FPS_SANE_MIN:g}-{FPS_SANE_MAX:g}, got {self.fps_nominal!r}"
            )
        if self.duration_ms is not None and not (math.isfinite(self.duration_ms) and self.duration_ms >= 0):
            raise ValueError(f"duration_ms: expected None or a finite value >= 0, got {self.duration_ms!r}")
        if self.n_frames_est is not None and (not isinstance(self.n_frames_est, int) or self.n_frames_est < 0):
            raise ValueError(f"n_frames_est: expected None or an int >= 0, got {self.n_frames_est!r}")

    @property
    def size(self) -> tuple[int, int]:
        """Upright ``(width, height)`` in pixels."""
        return self.width, self.height


@dataclass(frozen=True)
class Frame:
    """One decoded frame.

    Notes
    -----
    index : ordinal of the frame from the clip's first frame (see module docstring).
    t_ms : presentation time in milliseconds from the clip's first frame.
    rgb : HxWx3 uint8 RGB image, upright, downscaled if asked; read-only
        (copy it before drawing on it).
    """

    index: int
    t_ms: float
    rgb: np.ndarray

    def __post_init__(self) -> None:
        if not isinstance(self.index, (int, np.integer)) or self.index < 0:
            raise ValueError(f"index: expected an int >= 0, got {self.index!r}")
        object.__setattr__(self, "index", int(self.index))
        t = float(self.t_ms)
        if not math.isfinite(t):
            raise ValueError(f"t_ms: expected a finite time, got {self.t_ms!r}")
        object.__setattr__(self, "t_ms", t)
        rgb = self.rgb
        if not isinstance(rgb, np.ndarray) or rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            got = f"{rgb.dtype} array of shape {rgb.shape}" if isinstance(rgb, np.ndarray) else type(rgb).__name__
            raise ValueError(f"rgb: expected an HxWx3 uint8 array, got {got}")
        if rgb.flags.writeable:
            rgb = np.ascontiguousarray(rgb).view()
            rgb.setflags(write=False)
            object.__setattr__(self, "rgb", rgb)

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])


# --------------------------------------------------------------------------- helpers


def scaled_size(width: int, height: int, max_side: int | None) -> tuple[int, int]:
    """``(width, height)`` after shrinking so the longer side is at most ``max_side``.

    Notes
    -----
    width, height : frame size in pixels.
    max_side : longest allowed side in pixels; None (or a larger value) keeps the size.
    Never enlarges; each side is rounded and at least 1 px.
    """
    if max_side is None or max(width, height) <= max_side:
        return int(width), int(height)
    scale = max_side / max(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _plausible_fps(rate: Fraction | float | None) -> float | None:
    if rate is None:
        return None
    try:
        fps = float(rate)
    except (ZeroDivisionError, OverflowError, ValueError):
        return None
    return fps if math.isfinite(fps) and FPS_SANE_MIN <= fps <= FPS_SANE_MAX else None


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return " ".join(str(text).split()).rstrip(".")


def _log_warning(message: str) -> None:
    _log.warning("%s", message)


def _check_file(path: str | Path) -> Path:
    p = Path(path)
    if not p.exists():
        raise VideoError(f"no such file: {p}")
    if p.is_dir():
        raise VideoError(f"{p} is a folder, not a video file")
    if not p.is_file():
        raise VideoError(f"{p} is not a regular file")
    if p.stat().st_size == 0:
        raise VideoError(f"{p} is empty (0 bytes)")
    return p


def _open_input(p: Path) -> av.container.InputContainer:
    try:
        container = av.open(str(p), mode="r", metadata_errors="replace")
    except av.FFmpegError as exc:
        raise VideoError(f"{p}: not a readable video ({_reason(exc)})") from exc
    except OSError as exc:
        raise VideoError(f"{p}: cannot open ({_reason(exc)})") from exc
    fmt = container.format.name
    if fmt == "image2" or fmt.endswith("_pipe"):
        container.close()
        raise VideoError(f"{p}: a still image ({fmt.removesuffix('_pipe')}), not a video")
    if not container.streams.video:
        kind = "audio only" if container.streams.audio else "no audio either"
        container.close()
        raise VideoError(f"{p}: no video stream ({kind})")
    return container


def _rotation_cw(frame: av.VideoFrame, stream: av.video.stream.VideoStream) -> int:
    """Clockwise degrees to turn the stored frame upright (display matrix, else 'rotate' tag)."""
    ccw = frame.rotation
    if ccw:
        return int(round(-ccw / 90.0)) * 90 % 360
    tag = stream.metadata.get("rotate")
    if tag is not None:
        try:
            return int(round(float(tag) / 90.0)) * 90 % 360
        except ValueError:
            return 0
    return 0


def _nominal_fps(stream: av.video.stream.VideoStream) -> float | None:
    return _plausible_fps(stream.average_rate) or _plausible_fps(stream.guessed_rate)


def _duration_ms(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float | None:
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        return float(stream.duration * stream.time_base * 1000)
    if container.duration is not None and container.duration > 0:
        return container.duration / 1000.0
    return None


class _Source:
    """One open input: decoded frames with damage handling, warnings issued once."""

    def __init__(self, path: Path, warn: WarnFn) -> None:
        self.path = path
        self._warn = warn
        self._warned: set[str] = set()
        self.container = _open_input(path)
        self.stream = self.container.streams.video[0]
        self.n_delivered = 0
        self.damaged = False
        self.moved = False

    def close(self) -> None:
        self.container.close()

    def reopen(self) -> None:
        """Start again from the beginning of the file (after an unusable seek)."""
        self.container.close()
        self.container = _open_input(self.path)
        self.stream = self.container.streams.video[0]
        self.moved = False

    def warn_once(self, key: str, message: str) -> None:
        if key not in self._warned:
            self._warned.add(key)
            self._warn(message)

    def damage(self, what: str, exc: BaseException, action: str) -> None:
        self.damaged = True
        self.warn_once(
            "damage",
            f"{self.path}: damaged video data after {self.n_delivered} frames ({what}: {_reason(exc)}); {action}",
        )

    def frames(self) -> Iterator[av.VideoFrame]:
        """Decoded frames from the current position; damage is skipped or ends the stream."""
        packets = self.container.demux(self.stream)
        consecutive_errors = 0
        while True:
            try:
                packet = next(packets)
            except StopIteration:
                return
            except av.FFmpegError as exc:
                self.damage("demux", exc, "stopped reading there")
                yield from self._drain()
                return
            try:
                decoded = self.stream.decode(packet)
            except av.FFmpegError as exc:
                consecutive_errors += 1
                if consecutive_errors > _MAX_CONSECUTIVE_DECODE_ERRORS:
                    self.damage("decode", exc, "stopped reading there")
                    return
                self.damage("decode", exc, "skipping the bad data")
                continue
            consecutive_errors = 0
            yield from decoded

    def _drain(self) -> Iterator[av.VideoFrame]:
        try:
            remaining = self.stream.decode(None)
        except av.FFmpegError:
            return
        yield from remaining


class _Clock:
    """Turns PTS into strictly increasing ``t_ms`` from the clip's first frame."""

    def __init__(
        self,
        *,
        time_base: Fraction | None,
        origin_pts: int | None,
        synthetic_step_ms: float | None,
        fallback_step_ms: float,
        warn_once: Callable[[str, str], None],
        label: str,
    ) -> None:
        self._tb_ms = time_base * 1000 if time_base is not None else None
        self._origin = origin_pts
        self._synthetic_step_ms = synthetic_step_ms
        self._step_ms = fallback_step_ms
        self._warn_once = warn_once
        self._label = label
        self._prev_t: float | None = None
        self._prev_raw: float | None = None

    @property
    def synthetic(self) -> bool:
        return self._synthetic_step_ms is not None

    @property
    def last_t_ms(self) -> float | None:
        return self._prev_t

    @property
    def step_ms(self) -> float:
        """The last real frame interval (or the nominal one before any was seen)."""
        return self._step_ms

    def raw_ms(self, pts: int | None) -> float | None:
        if pts is None or self._origin is None or self._tb_ms is None:
            return None
        return float((pts - self._origin) * self._tb_ms)

    def t_ms(self, pts: int | None, ordinal: int) -> float:
        if self._synthetic_step_ms is not None:
            t = ordinal * self._synthetic_step_ms
            self._prev_t = t
            return t
        raw = self.raw_ms(pts)
        if raw is not None and self._prev_raw is not None and raw > self._prev_raw:
            self._step_ms = raw - self._prev_raw
        if raw is not None:
            self._prev_raw = raw
        if self._prev_t is None:
            t = raw if raw is not None else 0.0
        elif raw is None:
            self._warn_once(
                "pts-missing",
                f"{self._label}: frame {ordinal} has no timestamp; "
                f"timing it {self._step_ms:.3f} ms after the previous one",
            )
            t = self._prev_t + self._step_ms
        elif raw <= self._prev_t:
            self._warn_once(
                "pts-order",
                f"{self._label}: duplicate or backwards timestamps from frame {ordinal} "
                f"({raw:.3f} ms after {self._prev_t:.3f} ms); nudged forward",
            )
            t = self._prev_t + min(_NUDGE_MS, self._step_ms / 4)
        else:
            t = raw
        self._prev_t = t
        return t


def _to_rgb(frame: av.VideoFrame, rotation_cw: int, max_side: int | None) -> np.ndarray:
    """Upright RGB pixels, shrunk with area averaging when ``max_side`` asks for it.

    Shrinking happens inside the colour conversion (swscale's area filter, the
    same averaging as ``cv2.INTER_AREA``): converting the full-size frame
    first and then resizing costs several times more per 1080p frame.
    """
    turned = rotation_cw in (90, 270)
    upright_w, upright_h = (frame.height, frame.width) if turned else (frame.width, frame.height)
    new_w, new_h = scaled_size(upright_w, upright_h, max_side)
    if (new_w, new_h) == (upright_w, upright_h):
        rgb = frame.to_ndarray(format="rgb24")
    else:
        out_w, out_h = (new_h, new_w) if turned else (new_w, new_h)
        rgb = frame.reformat(width=out_w, height=out_h, format="rgb24", interpolation="AREA").to_ndarray()
    if rotation_cw:
        rgb = cv2.rotate(rgb, _ROTATE_CODES[rotation_cw])
    rgb = np.ascontiguousarray(rgb)
    rgb.setflags(write=False)
    return rgb


def _count_packets_before(path: Path, stream_index: int, origin_pts: int, target_pts: int) -> int:
    """Video packets with ``origin_pts <= pts < target_pts``, by demuxing only (no decode)."""
    with av.open(str(path), mode="r", metadata_errors="replace") as container:
        stream = container.streams[stream_index]
        count = 0
        for packet in container.demux(stream):
            if packet.dts is not None and packet.dts >= target_pts:
                break
            if packet.size == 0 or packet.pts is None:
                continue
            if origin_pts <= packet.pts < target_pts:
                count += 1
        return count


# --------------------------------------------------------------------------- public reading API


def probe(path: str | Path) -> VideoInfo:
    """Open a clip, decode its first frame and describe it.

    Notes
    -----
    path : the video file.
    Raises :class:`VideoError` (one line) for a missing file, a folder, an
    empty file, a file that is not a video (text, a still image renamed
    ``.mp4``), an audio-only file, or a clip whose first frame cannot be decoded.
    """
    p = _check_file(path)
    source = _Source(p, lambda message: None)
    try:
        stream = source.stream
        first = next(source.frames(), None)
        if first is None:
            raise VideoError(f"{p}: no decodable video frame ({stream.codec_context.codec.canonical_name})")
        rotation = _rotation_cw(first, stream)
        width, height = (first.height, first.width) if rotation in (90, 270) else (first.width, first.height)
        fps = _nominal_fps(stream)
        duration = _duration_ms(source.container, stream)
        if stream.frames and stream.frames > 0:
            n_est: int | None = int(stream.frames)
        elif duration is not None and fps is not None:
            n_est = max(1, round(duration * fps / 1000.0))
        else:
            n_est = None
        return VideoInfo(
            path=p,
            width=width,
            height=height,
            rotation_deg=rotation,
            fps_nominal=fps,
            duration_ms=duration,
            n_frames_est=n_est,
            codec=stream.codec_context.codec.canonical_name,
            container=source.container.format.name,
            has_audio=bool(source.container.streams.audio),
        )
    finally:
        source.close()


def iter_frames(
    path: str | Path,
    *,
    max_side: int | None = None,
    start_ms: float | None = None,
    end_ms: float | None = None,
    warn: WarnFn | None = None,
    want: Callable[[float], bool] | None = None,
) -> Iterator[Frame]:
    """Stream a clip's frames, upright, with real timestamps (see module docstring).

    Notes
    -----
    path : the video file. A missing path, a folder or an empty file raises
        :class:`VideoError` at once; any other unreadable input raises it on
        the first ``next()``, never after a frame was yielded.
    max_side : when set, frames are shrunk with area averaging (as
        ``cv2.INTER_AREA``, done by swscale during colour conversion) so their
        upright longer side is at most this many pixels.
    start_ms, end_ms : only frames with ``start_ms <= t_ms < end_ms`` are
        yielded, so chunks ``[a, b)`` and ``[b, c)`` stitch without gap or
        overlap. ``t_ms`` and ``index`` stay relative to the clip's first frame.
        With ``start_ms`` the reader seeks to the keyframe before it and
        decodes forward; clips without usable timestamps are read from the start.
    warn : called with one line per kind of problem (damaged data, repaired
        timestamps, assumed frame rate, truncation); defaults to
        ``logging.getLogger("formcheck.video").warning``.
    want : when set, only frames for which ``want(t_ms)`` is true are
        yielded; the others are decoded (the codec needs them) but not
        converted to RGB, so picking a few frames out of a span costs one
        decoding pass and a conversion per picked frame.
    """
    if max_side is not None and (not isinstance(max_side, (int, np.integer)) or max_side < 1):
        raise ValueError(f"max_side: expected None or an int >= 1, got {max_side!r}")
    for name, value in (("start_ms", start_ms), ("end_ms", end_ms)):
        if value is not None and not (isinstance(value, (int, float)) and math.isfinite(value)):
            raise ValueError(f"{name}: expected None or a finite number of ms, got {value!r}")
    if start_ms is not None and end_ms is not None and end_ms <= start_ms:
        raise ValueError(f"end_ms: expected more than start_ms={start_ms}, got {end_ms}")
    if want is not None and not callable(want):
        raise ValueError(f"want: expected None or a callable t_ms -> bool, got {want!r}")
    p = _check_file(path)
    return _iter_frames(p, max_side, start_ms, end_ms, warn or _log_warning, want)


def _iter_frames(
    path: Path, max_side: int | None, start_ms: float | None, end_ms: float | None, warn: WarnFn,
    want: Callable[[float], bool] | None = None,
) -> Iterator[Frame]:
    source = _Source(path, warn)
    try:
        yield from _read(source, max_side, start_ms, end_ms, want)
    finally:
        source.close()


def _read(source: _Source, max_side: int | None, start_ms: float | None, end_ms: float | None,
          want: Callable[[float], bool] | None = None) -> Iterator[Frame]:
    path, stream = source.path, source.stream
    decoded = source.frames()
    try:
        first = next(decoded, None)
        rotation = _rotation_cw(first, stream) if first is not None else 0
        rgb0 = _to_rgb(first, rotation, max_side) if first is not None else None
    except (av.FFmpegError, ValueError) as exc:
        raise VideoError(f"{path}: first video frame cannot be converted ({_reason(exc)})") from exc
    if first is None or rgb0 is None:
        raise VideoError(f"{path}: no decodable video frame ({stream.codec_context.codec.canonical_name})")
    lookahead = [first]

    nominal = _nominal_fps(stream)
    synthetic_step: float | None = None
    if first.pts is None:
        synthetic_step = 1000.0 / (nominal or FALLBACK_FPS)
        reason = "no timestamps"
    elif nominal is None:
        second = next(decoded, None)
        if second is not None:
            lookahead.append(second)
            if second.pts is not None:
                dt_ms = float((second.pts - first.pts) * stream.time_base * 1000)
                if not (1000.0 / FPS_SANE_MAX <= dt_ms <= 1000.0 / FPS_SANE_MIN):
                    synthetic_step = 1000.0 / FALLBACK_FPS
                    reason = f"implausible frame rate (first frame interval {dt_ms:.4g} ms)"
    if synthetic_step is not None:
        fps_used = 1000.0 / synthetic_step
        source.warn_once("synthetic", f"{path}: {reason}; timing frames at {fps_used:.4g} fps")

    clock = _Clock(
        time_base=stream.time_base,
        origin_pts=first.pts,
        synthetic_step_ms=synthetic_step,
        fallback_step_ms=1000.0 / (nominal or FALLBACK_FPS),
        warn_once=source.warn_once,
        label=str(path),
    )

    frames: Iterator[av.VideoFrame] = itertools.chain(lookahead, decoded)
    ordinal = 0
    chunk = start_ms is not None and start_ms > 0 and not clock.synthetic
    if chunk:
        seeked = _seek_chunk(source, clock, first.pts, start_ms)
        if seeked is not None:
            frames, ordinal = seeked
        elif source.moved:
            source.reopen()
            frames = source.frames()

    stopped_by_end = False
    last_index = -1
    try:
        for frame in frames:
            t_ms = clock.t_ms(frame.pts, ordinal)
            index = ordinal
            ordinal += 1
            if start_ms is not None and t_ms < start_ms:
                continue
            if end_ms is not None and t_ms >= end_ms:
                stopped_by_end = True
                break
            if want is not None and not want(t_ms):
                last_index = index
                continue
            if frame.is_corrupt:
                source.warn_once("corrupt", f"{path}: frame {index} decoded with errors (concealed)")
            try:
                rgb = rgb0 if frame is first else _to_rgb(frame, rotation, max_side)
            except (av.FFmpegError, ValueError) as exc:
                source.damage("convert", exc, "stopped reading there")
                break
            source.n_delivered += 1
            last_index = index
            yield Frame(index=index, t_ms=t_ms, rgb=rgb)
    except av.FFmpegError as exc:
        source.damage("decode", exc, "stopped reading there")
    if not stopped_by_end and not source.damaged and last_index >= 0:
        _check_complete(source, last_index + 1, clock.last_t_ms, None if clock.synthetic else clock.step_ms)


def _check_complete(source: _Source, n_read: int, last_t_ms: float | None, step_ms: float | None) -> None:
    """Warn when the clip ended well before its duration (else its frame count) said it would.

    The duration is checked first because the frame count includes frames an
    MP4 edit list hides (they are never decoded).
    """
    stream = source.stream
    duration = _stream_duration_ms(stream)
    if duration is not None and last_t_ms is not None and step_ms is not None:
        if duration - last_t_ms > max(3 * step_ms, 0.02 * duration):
            source.warn_once(
                "truncated",
                f"{source.path}: frames end at {last_t_ms:.0f} ms of {duration:.0f} ms; the file looks truncated",
            )
        return
    expected = int(stream.frames or 0)
    if expected - n_read > max(1, expected // 100):
        source.warn_once("truncated", f"{source.path}: read {n_read} of {expected} frames; the file looks truncated")


def _stream_duration_ms(stream: av.video.stream.VideoStream) -> float | None:
    """The video stream's own duration (not the container's, which can be the audio's)."""
    if stream.duration is not None and stream.duration > 0 and stream.time_base is not None:
        return float(stream.duration * stream.time_base * 1000)
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if not tag:
        return None
    parts = str(tag).strip().split(":")
    try:
        seconds = sum(float(x) * 60**i for i, x in enumerate(reversed(parts)))
    except ValueError:
        return None
    return seconds * 1000.0 if math.isfinite(seconds) and seconds > 0 else None


def _seek_chunk(
    source: _Source, clock: _Clock, origin_pts: int, start_ms: float
) -> tuple[Iterator[av.VideoFrame], int] | None:
    """Seek to a keyframe at or before ``start_ms``; frames from there and the first one's ordinal.

    Containers seek by decode time, so a keyframe can land after ``start_ms``
    in presentation time; the target is then moved earlier
    (``_SEEK_BACKOFFS_MS``). Returns None when seeking is unusable (error,
    still overshooting, packets not countable); the caller then decodes from
    the clip's start.
    """
    stream = source.stream
    tb = stream.time_base
    if tb is None:
        return None
    for backoff_ms in _SEEK_BACKOFFS_MS:
        target_ms = start_ms - backoff_ms
        if target_ms <= 0:
            return None
        target_pts = origin_pts + int(math.floor(Fraction(target_ms) / 1000 / tb))
        source.moved = True
        try:
            source.container.seek(target_pts, stream=stream, backward=True, any_frame=False)
        except av.FFmpegError:
            return None
        decoded = source.frames()
        first = next(decoded, None)
        if first is None or first.pts is None:
            return None
        raw = clock.raw_ms(first.pts)
        if raw is None or raw < 0:
            return None
        if raw > start_ms and first.pts > origin_pts:
            continue
        try:
            ordinal = _count_packets_before(source.path, stream.index, origin_pts, first.pts)
        except av.FFmpegError:
            return None
        return itertools.chain([first], decoded), ordinal
    return None


def read_all(
    path: str | Path,
    *,
    max_side: int | None = None,
    start_ms: float | None = None,
    end_ms: float | None = None,
    warn: WarnFn | None = None,
) -> list[Frame]:
    """All frames of a clip in a list (small clips and tests only; arguments as :func:`iter_frames`)."""
    return list(iter_frames(path, max_side=max_side, start_ms=start_ms, end_ms=end_ms, warn=warn))


def find_videos(paths: Iterable[str | Path]) -> list[Path]:
    """Expand files and folders into a list of video files.

    Notes
    -----
    paths : files (kept as given, whatever their suffix) and folders (their
        files with a suffix in ``SUPPORTED_SUFFIXES``, any case, sorted by name,
        not recursive; hidden files such as macOS ``._clip.mp4`` are skipped).
    Duplicates are dropped, keeping the first. A path that does not exist
    raises :class:`VideoError`.
    """
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)

    for item in paths:
        p = Path(item)
        if p.is_dir():
            for child in sorted(p.iterdir(), key=lambda c: c.name):
                if child.is_file() and not child.name.startswith(".") and child.suffix.lower() in SUPPORTED_SUFFIXES:
                    add(child)
        elif p.exists():
            add(p)
        else:
            raise VideoError(f"no such file or folder: {p}")
    return out


# --------------------------------------------------------------------------- writing


class VideoWriter:
    """H.264 ``.mp4`` writer for browser playback; use as a context manager.

    Notes
    -----
    path : output file (``.mp4``); its folder must exist.
    fps : nominal frame rate, used for frames written without ``t_ms`` and
        for the encoder's rate control; must be in 1-240.
    size : ``(width, height)`` of the frames that will be written. Odd sides
        are padded by 1 px (edge pixels repeated) because yuv420p needs even sizes.
    crf : libx264 constant rate factor (0-51, lower is better quality).
    preset : libx264 speed preset.

    Frames are ``HxWx3`` uint8 RGB. ``write(rgb, t_ms)`` keeps real timing
    (variable frame rate); the first frame's ``t_ms`` (0 if it has none)
    becomes time 0 in the file. Without ``t_ms`` a frame comes ``1000 / fps``
    ms after the previous one.
    """

    def __init__(
        self,
        path: str | Path,
        fps: float,
        size: tuple[int, int],
        *,
        crf: int = 23,
        preset: str = "veryfast",
    ) -> None:
        if not (isinstance(fps, (int, float)) and math.isfinite(fps) and FPS_SANE_MIN <= fps <= FPS_SANE_MAX):
            raise ValueError(f"fps: expected a number in {FPS_SANE_MIN:g}-{FPS_SANE_MAX:g}, got {fps!r}")
        if (
            not isinstance(size, (tuple, list))
            or len(size) != 2
            or not all(isinstance(s, (int, np.integer)) and s > 0 for s in size)
        ):
            raise ValueError(f"size: expected (width, height) positive ints, got {size!r}")
        if not (isinstance(crf, int) and 0 <= crf <= 51):
            raise ValueError(f"crf: expected an int in 0-51, got {crf!r}")
        if "libx264" not in av.codecs_available:
            raise VideoError("cannot write H.264: this PyAV build has no libx264 encoder")
        self.path = Path(path)
        if not self.path.parent.is_dir():
            raise VideoError(f"{self.path}: cannot create video file (no folder {self.path.parent})")
        self.fps = float(fps)
        self.width, self.height = int(size[0]), int(size[1])
        self._pad_right = self.width % 2
        self._pad_bottom = self.height % 2
        self._origin_ms: float | None = None
        self._last_pts: int | None = None
        self._n_written = 0
        self._closed = False
        try:
            self._container = av.open(str(self.path), mode="w", format="mp4", options={"movflags": "+faststart"})
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"{self.path}: cannot create video file ({_reason(exc)})") from exc
        try:
            stream = self._container.add_stream(
                "libx264",
                rate=Fraction(self.fps).limit_denominator(1001000),
                options={"crf": str(crf), "preset": preset},
            )
            stream.width = self.width + self._pad_right
            stream.height = self.height + self._pad_bottom
            stream.pix_fmt = "yuv420p"
            stream.time_base = _WRITER_TIME_BASE
            stream.codec_context.time_base = _WRITER_TIME_BASE
        except (av.FFmpegError, ValueError) as exc:
            self._container.close()
            raise VideoError(f"{self.path}: cannot set up the H.264 encoder ({_reason(exc)})") from exc
        self._stream = stream

    @property
    def n_written(self) -> int:
        return self._n_written

    def write(self, rgb: np.ndarray, t_ms: float | None = None) -> None:
        """Encode one frame.

        Notes
        -----
        rgb : ``(height, width, 3)`` uint8 RGB matching ``size``.
        t_ms : the frame's time in ms (any origin; strictly increasing), or None
            for ``1000 / fps`` after the previous frame.
        """
        if self._closed:
            raise VideoError(f"{self.path}: write after close")
        arr = np.asarray(rgb)
        if arr.dtype != np.uint8 or arr.shape != (self.height, self.width, 3):
            raise ValueError(
                f"rgb: expected a {self.height}x{self.width}x3 uint8 array, "
                f"got {arr.dtype} {'x'.join(map(str, arr.shape))}"
            )
        if t_ms is not None and not math.isfinite(t_ms):
            raise ValueError(f"t_ms: expected a finite time, got {t_ms!r}")
        if self._origin_ms is None:
            self._origin_ms = float(t_ms) if t_ms is not None else 0.0
        if t_ms is None:
            pts = 0 if self._last_pts is None else self._last_pts + max(1, round(90000 / self.fps))
        else:
            pts = round((float(t_ms) - self._origin_ms) * 90.0)
            if self._last_pts is not None and pts <= self._last_pts:
                previous_ms = self._origin_ms + self._last_pts / 90.0
                raise ValueError(f"t_ms: expected a time after {previous_ms:.3f} ms, got {t_ms}")
        if self._pad_right or self._pad_bottom:
            arr = cv2.copyMakeBorder(arr, 0, self._pad_bottom, 0, self._pad_right, cv2.BORDER_REPLICATE)
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(arr), format="rgb24")
        frame.pts = pts
        frame.time_base = _WRITER_TIME_BASE
        try:
            for packet in self._stream.encode(frame):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"{self.path}: encoding failed ({_reason(exc)})") from exc
        self._last_pts = pts
        self._n_written += 1

    def close(self) -> None:
        """Flush the encoder and finish the file (safe to call twice).

        Raises :class:`VideoError` when no frame was written (no file is made).
        """
        if self._closed:
            return
        self._closed = True
        if self._n_written == 0:
            self._container.close()
            raise VideoError(f"{self.path}: no frames were written")
        try:
            for packet in self._stream.encode(None):
                self._container.mux(packet)
        except (av.FFmpegError, OSError) as exc:
            raise VideoError(f"{self.path}: finishing the video failed ({_reason(exc)})") from exc
        finally:
            self._container.close()

    def __enter__(self) -> "VideoWriter":
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is None:
            self.close()
            return
        try:
            self.close()
        except VideoError:
            _log.debug("closing %s after an error failed too", self.path)
