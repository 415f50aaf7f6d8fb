"""Pose extraction: one lifter's landmarks per decoded frame, with MediaPipe Pose.

:func:`extract_pose` runs the Tasks API ``PoseLandmarker`` in VIDEO mode over a
clip and returns a :class:`PoseResult` holding a
:class:`~formcheck.sequence.PoseSequence` (one row per decoded frame, NaN rows
where no lifter was found), optionally the lifter's segmentation silhouette as a
:class:`MaskTrack`, the clip's :class:`~formcheck.video.VideoInfo` and run
statistics.

Notes
-----
Several people.
    The tracking landmarker follows one person until a once-a-second people
    scan sees more, then up to :data:`NUM_POSES` (always asking for three
    would run the person detector on every frame of a lone lifter, doubling
    the cost). Every detection is linked into a track by position (Hungarian
    assignment of torso centres, gated by the person's size, the gate widening
    with the time since the track was last seen). The lifter is the track with
    the largest
    ``sum over frames of (person height / frame height)``, i.e. the person who
    is both present longest and largest. Tracks that never share a frame with
    the lifter and continue it in place or in size (for example after an edit
    or an occlusion) are joined to it. Whoever the model lists first plays no
    part.

Throughput.
    One landmarker keeps about one core busy. Long clips are cut into
    ``workers`` time chunks processed by threads of this process, each with its
    own landmarker and a decode thread feeding a bounded queue, so decoding
    overlaps inference (all three release the GIL; threads rather than
    processes save each chunk an interpreter start and a MediaPipe import,
    about 3 s of CPU). Every chunk but the first starts :data:`WARMUP_MS`
    early so that the landmarker's frame-to-frame tracking is settled at the
    seam; the warm-up frames are dropped. Chunks return every detection, and
    the tracking above runs once over the stitched stream, so the lifter keeps
    its identity across seams by position.

Frame size.
    Frames are downscaled so their long side is at most ``max_side`` before
    inference (default :data:`DEFAULT_MAX_SIDE`). The landmark network sees a
    256x256 crop of the person anyway, so a 1080p frame costs decode and colour
    conversion time without improving the landmarks (measured on 1080p clips:
    the difference between 640 px and full-size landmarks is about 2-3% of the
    torso length, the size of MediaPipe's own frame-to-frame jitter); ``xy_px`` is in pixels of
    the analysed (downscaled) frame, whose size is ``PoseSequence.frame_w`` /
    ``frame_h``.

Native logging.
    MediaPipe and LiteRT log to the process's stderr from C++. Unless the
    environment variable ``FORMCHECK_VERBOSE=1`` is set, the log level variables
    are raised before MediaPipe is imported and file descriptor 2 is sent to
    ``/dev/null`` while landmarkers are created, warmed up and closed. The live
    page's landmarker does the same (:class:`formcheck.live.QuietLandmarker`,
    with :func:`native_stderr_silenced`).
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

import numpy as np

from formcheck import __version__
from formcheck import video
from formcheck.landmarks import N_LANDMARKS, Landmark
from formcheck.sequence import PoseSequence
from formcheck.settings import Calibrated
from formcheck.stride import StrideGate, StrideParams, stride_keep

#: Long side (px) frames are downscaled to before inference, unless asked otherwise.
DEFAULT_MAX_SIDE = 640
#: Each chunk after the first starts this much earlier so tracking is settled at the seam.
WARMUP_MS = 1000.0
#: Clips at least this long are analysed as two chunks at once when ``workers`` is None.
AUTO_PARALLEL_MIN_MS = 8_000.0
#: Most people followed at once (and looked for by the people scan).
NUM_POSES = 3
#: With automatic ``num_poses``, how often (ms of video) to count the people in the frame.
SCAN_EVERY_MS = 1000.0
#: Segmentation probability above which a pixel is part of the silhouette.
MASK_THRESHOLD = 0.5

_CORE = (Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER, Landmark.LEFT_HIP, Landmark.RIGHT_HIP)
_IMG_FIELDS = 5  # x_px, y_px, z_px, visibility, presence

ProgressFn = Callable[[int, int], None]
WarnFn = Callable[[str], None]


@dataclass(frozen=True)
class PoseParams(Calibrated):
    """The pose pass's frame-rate policy (table ``[pose]`` of ``calibration.toml``).

    Notes
    -----
    analysis_fps
        At least this many frames per second of video go through the model: every
        k-th frame, k the largest whole number that keeps the rate at or above it
        (see :func:`analysis_step_ms`); the others are decoded but not analysed.
        ``extract_pose(every_frame=True)`` (``--every-frame``) analyses them all.
    max_frame_step
        ...and k is at most this: with 2, a 60 fps clip is analysed at 30, not 15.
    max_stride, stride_still_speed_torso_per_s, stride_window_ms, stride_hold_ms
        The adaptive stride over the frames the cap keeps (:class:`formcheck.stride.StrideGate`):
        while the lifter is still, at most ``max_stride - 1`` of them in a row are skipped.
    """

    TABLE = "pose"
    analysis_fps: float
    max_frame_step: int
    max_stride: int
    stride_still_speed_torso_per_s: float
    stride_window_ms: float
    stride_hold_ms: float

    @property
    def stride(self) -> StrideParams:
        """The adaptive stride's settings (:mod:`formcheck.stride`); ``max_stride = 1`` turns it off."""
        return StrideParams(max_stride=self.max_stride, still_speed_torso_per_s=self.stride_still_speed_torso_per_s,
                            window_ms=self.stride_window_ms, hold_ms=self.stride_hold_ms)

    def __post_init__(self) -> None:
        if not video.FPS_SANE_MIN <= self.analysis_fps <= video.FPS_SANE_MAX:
            raise ValueError(f"analysis_fps: expected {video.FPS_SANE_MIN:g}-{video.FPS_SANE_MAX:g}, "
                             f"got {self.analysis_fps}")
        if isinstance(self.max_frame_step, bool) or not isinstance(self.max_frame_step, int) \
                or self.max_frame_step < 1:
            raise ValueError(f"max_frame_step: expected a whole number of at least 1, got {self.max_frame_step!r}")
        self.stride  # checks the stride's values


#: The analysis slots start this share of a slot early, so the frames of common rates (24, 25, 30, 50,
#: 60, 90, 120 fps and their 1000/1001 kin) never land on a slot boundary: 60 fps frames sit 0.2 slot
#: (6.7 ms) away from one, so timestamp jitter does not change which frame a slot keeps.
_SLOT_PHASE = 0.3


#: A clip's rate counts as this much faster when the frames between analysed ones are chosen, so a
#: 29.97 fps clip under a cap of 15 is analysed every other frame (14.99 fps) like a 30 fps one.
_RATE_TOLERANCE = 1.01


def analysis_step_ms(fps_nominal: float | None, max_fps: float | None,
                     max_step: int | None = None) -> float | None:
    """The slot width (ms) of :func:`analysis_frames` for a clip of ``fps_nominal`` analysed at ``max_fps``.

    A whole number k of the clip's frame intervals, the largest that keeps the analysed rate at or
    above ``max_fps`` (within 1 %, :data:`_RATE_TOLERANCE`), so the analysed frames are evenly spaced
    and never sparser than asked: at 15, a 30 or 29.97 fps clip is analysed every other frame, 50 fps
    every third (16.7 fps), 60 fps every fourth, 25 fps and below whole. (Uneven spacing, 30 a second
    out of 50 taken as 40-40-20 ms, moved a rounded-back measure across its limit on one labelled
    50 fps clip; even spacing did not. Rounding instead of the floor sent 24-25 fps clips to 12 fps,
    at or below twice the [cleaning] 6 Hz low-pass, and lost counts on the rep stress suite.)
    ``max_step`` caps k (``[pose] max_frame_step``; None: no cap). Without a nominal rate the width is
    ``1000 / max_fps``. None (no rate) gives None.
    """
    if max_fps is None:
        return None
    if not fps_nominal or not np.isfinite(fps_nominal) or fps_nominal <= 0:
        return 1000.0 / max_fps
    k = max(1, int(fps_nominal * _RATE_TOLERANCE / max_fps))
    if max_step is not None:
        k = min(k, max(1, int(max_step)))
    return k * 1000.0 / fps_nominal


def analysis_slot(t_ms: float, step_ms: float) -> int:
    """The ``step_ms`` slot of the clip that a frame at ``t_ms`` falls in (see :func:`analysis_frames`)."""
    return int(np.floor(t_ms / step_ms + _SLOT_PHASE))


def analysis_frames(t_ms: np.ndarray, step_ms: float | None) -> np.ndarray:
    """Which of the decoded frames (times ``t_ms``, increasing) go through the model: a bool mask.

    The clip's time is cut into slots of ``step_ms`` (:func:`analysis_step_ms`; offset by
    :data:`_SLOT_PHASE`) and the first frame of each slot is analysed, so a 60 fps clip is analysed
    every other frame and a clip at or below the cap whole. The choice depends on timestamps only
    (never on frame counts), a frame's on its own and the previous frame's time, so chunks decoded
    separately choose the same frames. None keeps every frame.
    """
    t = np.asarray(t_ms, dtype=float)
    if step_ms is None or t.size == 0:
        return np.ones(t.shape, dtype=bool)
    slots = np.floor(t / step_ms + _SLOT_PHASE)
    return np.concatenate([[True], slots[1:] != slots[:-1]])


def thin_to_cap(seq: PoseSequence, masks: "MaskTrack | None", fps_nominal: float | None,
                max_fps: float | None, max_step: int | None = None,
                stride: StrideParams | None = None) -> tuple[PoseSequence, "MaskTrack | None"]:
    """The rows of an every-frame pose (and its silhouettes) that a capped extraction analyses.

    The frames :func:`analysis_frames` keeps at ``max_fps`` (and at most every ``max_step``-th) for a
    clip filmed at ``fps_nominal`` (the container's rate, as :func:`extract_pose` uses it). A screen for
    a rate from the evaluation cache, which holds every-frame poses; the tracking of a real capped
    extraction (bigger steps between the frames the model sees) can differ, so a chosen rate is
    confirmed with one.
    ``stride`` also runs the adaptive stride's gate (:func:`formcheck.stride.stride_keep`) over the
    frames the cap keeps, on their cached landmarks (the lifter's only: the pass itself also analyses
    every frame while it sees several people). ``max_fps`` and ``stride`` None return the inputs
    unchanged.
    """
    keep = analysis_frames(seq.t_ms, analysis_step_ms(fps_nominal, max_fps, max_step))
    if stride is not None and stride.active:
        idx = np.flatnonzero(keep)
        keep = np.zeros_like(keep)
        keep[idx[stride_keep(seq.t_ms[idx], seq.xy_px[idx], stride)]] = True
    if keep.all():
        return seq, masks
    if masks is not None and masks.n_frames != seq.n_frames:
        raise ValueError(f"masks: expected {seq.n_frames} frames like the pose, got {masks.n_frames}")
    thinned = seq.with_(t_ms=seq.t_ms[keep], xy_px=seq.xy_px[keep], z_px=seq.z_px[keep], world_m=seq.world_m[keep],
                        visibility=seq.visibility[keep], presence=seq.presence[keep],
                        meta={**seq.meta, "analysis_fps": max_fps,
                              "frames_skipped": int(seq.n_frames - keep.sum())})
    return thinned, None if masks is None else masks.take(keep)


def _verbose() -> bool:
    return os.environ.get("FORMCHECK_VERBOSE", "") not in ("", "0")


if not _verbose():
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


_silence_lock = threading.Lock()
_silence_depth = 0
_saved_stderr_fd: int | None = None


@contextlib.contextmanager
def native_stderr_silenced(enabled: bool = True) -> Iterator[None]:
    """Send file descriptor 2 to /dev/null for the duration (no-op when verbose).

    fd 2 belongs to the whole process, so overlapping uses (an upload analysed
    while a live stream opens its model, on other threads) share one
    redirection: the first to enter saves the real stderr, the last to leave
    puts it back. The live path (:mod:`formcheck.live`) uses it too.
    """
    global _silence_depth, _saved_stderr_fd
    if not enabled or _verbose():
        yield
        return
    with _silence_lock:
        if _silence_depth == 0:
            sys.stderr.flush()
            saved = os.dup(2)
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                os.dup2(devnull, 2)
            except OSError:
                os.close(saved)
                raise
            finally:
                os.close(devnull)
            _saved_stderr_fd = saved
        _silence_depth += 1
    try:
        yield
    finally:
        with _silence_lock:
            _silence_depth -= 1
            if _silence_depth == 0 and _saved_stderr_fd is not None:
                sys.stderr.flush()
                os.dup2(_saved_stderr_fd, 2)
                os.close(_saved_stderr_fd)
                _saved_stderr_fd = None



# --------------------------------------------------------------------------- masks
@dataclass(frozen=True)
class MaskTrack:
    """The lifter's segmentation silhouette per frame, cropped to its box and bit-packed.

    Attributes
    ----------
    t_ms : (N,) float
        Frame times, identical to the matching ``PoseSequence.t_ms``.
    bbox_px : (N, 4) int32
        ``x0, y0, x1, y1`` of the crop in pixels of the analysed frame
        (``x1``/``y1`` exclusive); all -1 for frames without a mask.
    offsets : (N + 1,) int64
        Frame ``i``'s packed bits are ``bits[offsets[i]:offsets[i + 1]]``.
    bits : (M,) uint8
        Row-major crops, thresholded at ``threshold`` and packed with
        :func:`numpy.packbits`.
    frame_w, frame_h : int
        Size of the analysed frame.
    threshold : float
        Segmentation probability above which a pixel counts as the lifter.

    Notes
    -----
    A silhouette crop of a 640-px frame is roughly 200x400 px, i.e. about 10 kB
    per frame packed, against 1 MB for the float mask MediaPipe returns.
    """

    t_ms: np.ndarray
    bbox_px: np.ndarray
    offsets: np.ndarray
    bits: np.ndarray
    frame_w: int
    frame_h: int
    threshold: float = MASK_THRESHOLD

    def __post_init__(self) -> None:
        t = np.ascontiguousarray(self.t_ms, dtype=np.float64)
        n = t.shape[0] if t.ndim == 1 else -1
        if n < 0:
            raise ValueError(f"t_ms: expected shape N, got {'x'.join(map(str, t.shape))}")
        bbox = np.ascontiguousarray(self.bbox_px, dtype=np.int32)
        if bbox.shape != (n, 4):
            raise ValueError(f"bbox_px: expected shape {n}x4, got {'x'.join(map(str, bbox.shape))}")
        off = np.ascontiguousarray(self.offsets, dtype=np.int64)
        bits = np.ascontiguousarray(self.bits, dtype=np.uint8)
        if off.shape != (n + 1,):
            raise ValueError(f"offsets: expected shape {n + 1}, got {'x'.join(map(str, off.shape))}")
        if bits.ndim != 1:
            raise ValueError(f"bits: expected a 1-D array, got {bits.ndim} dimensions")
        if off[0] != 0 or off[-1] != bits.shape[0] or np.any(np.diff(off) < 0):
            raise ValueError(f"offsets: expected 0 .. {bits.shape[0]} non-decreasing, got {off[0]} .. {off[-1]}")
        w, h = int(self.frame_w), int(self.frame_h)
        if w <= 0 or h <= 0:
            raise ValueError(f"frame size: expected positive width and height, got {w}x{h}")
        has = bbox[:, 0] >= 0
        b = bbox[has]
        if np.any((b[:, 0] >= b[:, 2]) | (b[:, 1] >= b[:, 3]) | (b[:, 2] > w) | (b[:, 3] > h) | (b[:, 1] < 0)):
            raise ValueError(f"bbox_px: expected boxes inside the {w}x{h} frame, got one outside")
        need = (b[:, 2] - b[:, 0]).astype(np.int64) * (b[:, 3] - b[:, 1])
        if np.any((need + 7) // 8 != np.diff(off)[has]) or np.any(np.diff(off)[~has] != 0):
            raise ValueError("offsets: expected ceil(w*h/8) bytes per boxed frame and 0 elsewhere, got other sizes")
        if not 0.0 < float(self.threshold) < 1.0:
            raise ValueError(f"threshold: expected a probability in (0, 1), got {self.threshold}")
        for name, arr in (("t_ms", t), ("bbox_px", bbox), ("offsets", off), ("bits", bits)):
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        object.__setattr__(self, "frame_w", w)
        object.__setattr__(self, "frame_h", h)
        object.__setattr__(self, "threshold", float(self.threshold))

    @property
    def n_frames(self) -> int:
        return int(self.t_ms.shape[0])

    @property
    def has_mask(self) -> np.ndarray:
        """(N,) bool: frames with a silhouette."""
        return self.bbox_px[:, 0] >= 0

    def crop(self, i: int) -> np.ndarray | None:
        """Frame ``i``'s silhouette as a bool array of the box's size, or None."""
        x0, y0, x1, y1 = (int(v) for v in self.bbox_px[i])
        if x0 < 0:
            return None
        packed = self.bits[self.offsets[i] : self.offsets[i + 1]]
        n = (x1 - x0) * (y1 - y0)
        return np.unpackbits(packed, count=n).astype(bool).reshape(y1 - y0, x1 - x0)

    def full(self, i: int) -> np.ndarray:
        """Frame ``i``'s silhouette as a ``frame_h x frame_w`` bool array (all False without one)."""
        out = np.zeros((self.frame_h, self.frame_w), dtype=bool)
        c = self.crop(i)
        if c is not None:
            x0, y0, x1, y1 = (int(v) for v in self.bbox_px[i])
            out[y0:y1, x0:x1] = c
        return out

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        with open(path, "wb") as fh:
            np.savez_compressed(
                fh, t_ms=self.t_ms, bbox_px=self.bbox_px, offsets=self.offsets, bits=self.bits,
                frame_wh=np.array([self.frame_w, self.frame_h]), threshold=np.array(self.threshold),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> "MaskTrack":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                d = {k: z[k] for k in ("t_ms", "bbox_px", "offsets", "bits", "frame_wh", "threshold")}
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"{path}: expected a formcheck mask .npz, got an unreadable file ({exc})") from exc
        w, h = (int(v) for v in d.pop("frame_wh"))
        threshold = float(d.pop("threshold"))
        return cls(**d, frame_w=w, frame_h=h, threshold=threshold)

    def take(self, keep: np.ndarray) -> "MaskTrack":
        """The frames where the bool mask ``keep`` (N,) is True, in order."""
        keep = np.asarray(keep, dtype=bool)
        if keep.shape != (self.n_frames,):
            raise ValueError(f"keep: expected {self.n_frames} booleans, got shape {keep.shape}")
        idx = np.flatnonzero(keep)
        sizes = np.diff(self.offsets)[idx]
        parts = [self.bits[self.offsets[i]:self.offsets[i + 1]] for i in idx]
        bits = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)
        return MaskTrack(t_ms=self.t_ms[idx], bbox_px=self.bbox_px[idx],
                         offsets=np.concatenate([[0], np.cumsum(sizes)]), bits=bits,
                         frame_w=self.frame_w, frame_h=self.frame_h, threshold=self.threshold)

    @classmethod
    def from_crops(cls, t_ms: np.ndarray, crops: list["_MaskCrop | None"], frame_w: int, frame_h: int) -> "MaskTrack":
        bbox = np.full((len(crops), 4), -1, dtype=np.int32)
        sizes = np.zeros(len(crops), dtype=np.int64)
        parts = []
        for i, c in enumerate(crops):
            if c is not None:
                bbox[i] = c.bbox_px
                sizes[i] = c.bits.shape[0]
                parts.append(c.bits)
        offsets = np.concatenate([[0], np.cumsum(sizes)])
        bits = np.concatenate(parts) if parts else np.zeros(0, dtype=np.uint8)
        return cls(t_ms=t_ms, bbox_px=bbox, offsets=offsets, bits=bits, frame_w=frame_w, frame_h=frame_h)


@dataclass(frozen=True)
class _MaskCrop:
    bbox_px: tuple[int, int, int, int]
    bits: np.ndarray


def _crop_mask(mask: np.ndarray, xy_px: np.ndarray, margin: float = 0.2) -> _MaskCrop | None:
    """Threshold and pack one person's mask inside its landmark box (widened by ``margin``)."""
    if mask.ndim == 3:
        mask = mask[:, :, 0]
    h, w = mask.shape
    lo = np.nanmin(xy_px, axis=0)
    hi = np.nanmax(xy_px, axis=0)
    pad = margin * (hi - lo) + 4.0
    x0, y0 = (max(0, int(np.floor(v))) for v in lo - pad)
    x1, y1 = int(min(w, np.ceil(hi[0] + pad[0]))), int(min(h, np.ceil(hi[1] + pad[1])))
    if x1 <= x0 or y1 <= y0:
        return None
    sil = mask[y0:y1, x0:x1] > MASK_THRESHOLD
    rows = np.flatnonzero(sil.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(sil.any(axis=0))
    sil = sil[rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
    box = (x0 + int(cols[0]), y0 + int(rows[0]), x0 + int(cols[-1]) + 1, y0 + int(rows[-1]) + 1)
    return _MaskCrop(box, np.packbits(sil.ravel()))


# --------------------------------------------------------------------------- result
@dataclass(frozen=True)
class PoseResult:
    """What :func:`extract_pose` returns.

    Attributes
    ----------
    sequence : PoseSequence
        The lifter's landmarks, one row per decoded frame.
    masks : MaskTrack | None
        The lifter's silhouette per frame when ``keep_masks`` was set.
    info : VideoInfo
        The probed clip.
    stats : Mapping
        ``frames``, ``detected`` (frames with the lifter), ``detection_rate``,
        ``seconds`` (wall time), ``fps_processing``, ``realtime_factor``
        (seconds of video per second of processing), ``workers``, ``model``,
        ``model_path``, ``max_side``, ``frame_w``, ``frame_h``, ``n_tracks``,
        ``people_max`` (most people seen in one frame), ``chunks`` (start, end
        ms per worker).
    """

    sequence: PoseSequence
    masks: "MaskTrack | None"
    info: video.VideoInfo
    stats: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.sequence, PoseSequence):
            raise TypeError(f"sequence: expected PoseSequence, got {type(self.sequence).__name__}")
        if not isinstance(self.info, video.VideoInfo):
            raise TypeError(f"info: expected VideoInfo, got {type(self.info).__name__}")
        if self.masks is not None:
            if not isinstance(self.masks, MaskTrack):
                raise TypeError(f"masks: expected MaskTrack or None, got {type(self.masks).__name__}")
            if self.masks.n_frames != self.sequence.n_frames:
                raise ValueError(
                    f"masks: expected {self.sequence.n_frames} frames like the sequence, got {self.masks.n_frames}"
                )
        object.__setattr__(self, "stats", dict(self.stats))


# --------------------------------------------------------------------------- chunks
@dataclass(frozen=True)
class _ChunkJob:
    """One time range of a clip for one landmarker.

    ``decode_from_ms``/``decode_to_ms`` bound decoding; only frames with
    ``keep_from_ms <= t_ms < keep_to_ms`` are returned (the rest is warm-up or
    margin).
    """

    index: int
    path: str
    model_path: str
    max_side: int | None
    num_poses: int | None
    scan_every_ms: float
    keep_masks: bool
    decode_from_ms: float | None
    decode_to_ms: float | None
    keep_from_ms: float
    keep_to_ms: float
    step_ms: float | None = None
    stride: StrideParams | None = None  # the adaptive stride over the frames step_ms keeps (None: off)
    store: Any = None  # a formcheck.framestore.FrameStore the decode thread hands kept frames to
    watch: "PrefixWatch | None" = None  # receives each kept frame (results during the pose pass)


@dataclass
class _ChunkOut:
    """Every detection of one chunk, frame by frame (float32 to stay small)."""

    t_ms: np.ndarray  # (F,)
    counts: np.ndarray  # (F,) detections per frame
    img: np.ndarray  # (D, 33, 5): x_px, y_px, z_px, visibility, presence
    world_m: np.ndarray  # (D, 33, 3)
    masks: list[_MaskCrop | None]  # (D,) or empty
    frame_w: int
    frame_h: int
    warmup_frames: int
    num_poses: int
    people_seen: int
    scans: int
    skipped: int = 0
    strided: int = 0  # of ``skipped``, the adaptive stride's


def _create_landmarker(model_path: str, num_poses: int, masks: bool, video_mode: bool = True) -> Any:
    """A PoseLandmarker in VIDEO (tracking) or IMAGE mode; imports MediaPipe on first use."""
    from mediapipe.tasks.python import BaseOptions, vision

    opts = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_path=str(model_path)),
        running_mode=vision.RunningMode.VIDEO if video_mode else vision.RunningMode.IMAGE,
        num_poses=num_poses,
        min_pose_detection_confidence=0.5,
        min_pose_presence_confidence=0.5,
        min_tracking_confidence=0.5,
        output_segmentation_masks=masks,
    )
    return vision.PoseLandmarker.create_from_options(opts)


#: IMAGE-mode scanners kept for the next clip, by model path, once :func:`keep_scanners` was called
#: in this process (a batch worker); None: each chunk creates and closes its own.
_SCANNER_POOL: dict[str, list[Any]] | None = None
_POOL_LOCK = threading.Lock()


def keep_scanners() -> None:
    """Keep the people scanners of finished clips for the next ones in this process (batch workers).

    A scanner works in IMAGE mode, so each answer depends only on its frame: reusing one gives
    the same results and saves creating the network graph again for every clip. The VIDEO-mode
    tracking landmarker is never reused: its tracking state belongs to one clip.
    """
    global _SCANNER_POOL
    with _POOL_LOCK:
        if _SCANNER_POOL is None:
            _SCANNER_POOL = {}


def _take_scanner(model_path: str) -> Any:
    with _POOL_LOCK:
        kept = None if _SCANNER_POOL is None else _SCANNER_POOL.get(model_path)
        return kept.pop() if kept else None


def _keep_scanner(model_path: str, scanner: Any) -> bool:
    with _POOL_LOCK:
        if _SCANNER_POOL is None:
            return False
        _SCANNER_POOL.setdefault(model_path, []).append(scanner)
        return True


class _Landmarkers:
    """The chunk's VIDEO-mode landmarker, its people scan, and their closing.

    Notes
    -----
    In VIDEO mode MediaPipe runs its person detector on every frame in which it
    tracks fewer people than ``num_poses``, which about doubles the cost per
    frame when a lone lifter is analysed with ``num_poses=2``. With
    ``fixed_poses=None`` the tracker therefore starts with one pose, and every
    ``scan_every_ms`` an IMAGE-mode landmarker looking for :data:`NUM_POSES`
    people counts who is in the frame; when it sees more people than are
    tracked, the tracking landmarker is replaced by one that follows that many
    (never fewer later). The replacement starts with a detection, and the
    position tracking in :func:`_assign_tracks` carries identities over the
    switch. With an int ``fixed_poses`` the scan is off.
    """

    def __init__(self, model_path: str, fixed_poses: int | None, masks: bool, quiet: bool,
                 scan_every_ms: float) -> None:
        self.model_path = model_path
        self.masks = masks
        self.quiet = quiet
        self.scan_every_ms = scan_every_ms
        self.adaptive = fixed_poses is None
        self.num_poses = 1 if fixed_poses is None else int(fixed_poses)
        self.people_seen = 0
        self.scans = 0
        self._video: Any = None
        self._scanner: Any = None
        self._last_scan_ms = -np.inf
        self._last_ts = -1
        self._calls = 0
        self._open_video()

    def _open_video(self) -> None:
        with native_stderr_silenced(self.quiet):
            self._video = _create_landmarker(self.model_path, self.num_poses, self.masks)
        self._calls = 0

    def detect(self, image: Any, t_ms: float) -> Any:
        ts = max(int(round(t_ms)), self._last_ts + 1)
        self._last_ts = ts
        if self.adaptive and t_ms - self._last_scan_ms >= self.scan_every_ms:
            self._last_scan_ms = t_ms
            self._scan(image)
        with native_stderr_silenced(self.quiet and self._calls < 2):
            res = self._video.detect_for_video(image, ts)
        self._calls += 1
        return res

    def _scan(self, image: Any) -> None:
        if self._scanner is None:
            self._scanner = _take_scanner(self.model_path)
        if self._scanner is None:
            with native_stderr_silenced(self.quiet):
                self._scanner = _create_landmarker(self.model_path, NUM_POSES, False, video_mode=False)
        with native_stderr_silenced(self.quiet and self.scans < 2):
            k = len(self._scanner.detect(image).pose_landmarks)
        self.scans += 1
        self.people_seen = max(self.people_seen, k)
        if k > self.num_poses:
            old, self._video = self._video, None
            with native_stderr_silenced(self.quiet):
                old.close()
            self.num_poses = min(k, NUM_POSES)
            self._open_video()

    def close(self) -> None:
        video_lm, scanner, self._video, self._scanner = self._video, self._scanner, None, None
        with native_stderr_silenced(self.quiet):
            try:
                if video_lm is not None:
                    video_lm.close()
            finally:
                if scanner is not None and not _keep_scanner(self.model_path, scanner):
                    scanner.close()


_END = object()


def _prefetched(make_iter: Callable[[], Iterator[Any]], maxsize: int = 6) -> Iterator[Any]:
    """Run an iterator in a thread, handing its items over through a bounded queue.

    Notes
    -----
    PyAV decodes and MediaPipe infers with the GIL released, so decoding the
    next frames overlaps inference on the current one. An exception in the
    thread is re-raised in the consumer; closing the generator stops the thread.
    """
    q: queue.Queue[Any] = queue.Queue(maxsize=maxsize)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in make_iter():
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(_END)
        except Exception as exc:  # handed to the consumer, which re-raises it
            q.put(exc)

    th = threading.Thread(target=produce, name="formcheck-decode", daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while th.is_alive():
            try:
                q.get(timeout=0.05)
            except queue.Empty:
                continue
        th.join()


def _run_chunk(job: _ChunkJob, progress: Callable[[int], None] | None, warn: WarnFn | None,
               stop: threading.Event | None = None) -> _ChunkOut:
    """Decode and analyse one chunk with its own landmarkers (always closed).

    ``stop``, when set by another thread, ends the chunk early with
    :class:`_Stopped` (another chunk failed or the run was interrupted).
    """
    import mediapipe as mp

    t_list: list[float] = []
    counts: list[int] = []
    imgs: list[np.ndarray] = []
    worlds: list[np.ndarray] = []
    crops: list[_MaskCrop | None] = []
    frame_wh: tuple[int, int] | None = None
    warmup = 0
    skipped = 0
    prev_slot: list[int | None] = [None]

    def want(t_ms: float) -> bool:
        # the frame-rate cap (analysis_frames, one frame at a time): a skipped frame is never converted
        nonlocal skipped
        if job.step_ms is None:
            return True
        slot = analysis_slot(t_ms, job.step_ms)
        keep = slot != prev_slot[0]
        prev_slot[0] = slot
        if not keep and job.keep_from_ms <= t_ms < job.keep_to_ms:
            skipped += 1
            if job.store is not None:
                job.store.note_decoded(t_ms)
        return keep

    def frames() -> Iterator[Any]:
        for fr in video.iter_frames(job.path, max_side=job.max_side, start_ms=job.decode_from_ms,
                                    end_ms=job.decode_to_ms, warn=warn, want=want):
            if fr.t_ms >= job.keep_to_ms:
                return
            rgb = np.ascontiguousarray(fr.rgb)
            if job.store is not None and fr.t_ms >= job.keep_from_ms:
                job.store.put(fr.index, fr.t_ms, rgb)  # in the decode thread: later steps read it back
            yield fr.t_ms, rgb

    gate = StrideGate(job.stride) if job.stride is not None and job.stride.active else None
    strided = 0
    lms = _Landmarkers(job.model_path, job.num_poses, job.keep_masks, quiet=True,
                       scan_every_ms=job.scan_every_ms)
    try:
        for t_ms, rgb in _prefetched(frames):
            if stop is not None and stop.is_set():
                raise _Stopped()
            h, w = rgb.shape[:2]
            if frame_wh is None:
                frame_wh = (w, h)
            if gate is not None and not gate.want(t_ms):
                # the adaptive stride: decided here, from the frames analysed before this one (causal,
                # the same for every run); the frame was decoded and converted (the store holds it)
                if job.keep_from_ms <= t_ms < job.keep_to_ms:
                    skipped += 1
                    strided += 1
                continue
            res = lms.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), t_ms)
            if gate is not None:
                k_seen = len(res.pose_landmarks)
                gate.seen(t_ms, np.array([[lm.x * w, lm.y * h] for lm in res.pose_landmarks[0]])
                          if k_seen == 1 else None, people=k_seen)
            if t_ms < job.keep_from_ms:
                warmup += 1
                continue
            k = len(res.pose_landmarks)
            t_list.append(t_ms)
            counts.append(k)
            for p in range(k):
                a = np.array([[lm.x * w, lm.y * h, lm.z * w, lm.visibility or 0.0, lm.presence or 0.0]
                              for lm in res.pose_landmarks[p]], dtype=np.float32)
                imgs.append(a)
                if p < len(res.pose_world_landmarks):
                    worlds.append(np.array([[lm.x, lm.y, lm.z] for lm in res.pose_world_landmarks[p]],
                                           dtype=np.float32))
                else:
                    worlds.append(np.full((N_LANDMARKS, 3), np.nan, dtype=np.float32))
                if job.keep_masks:
                    ms = res.segmentation_masks
                    crops.append(_crop_mask(ms[p].numpy_view(), a[:, :2]) if ms and p < len(ms) else None)
            if job.watch is not None:
                d = len(imgs)
                job.watch.add(job.index, t_ms, k, (w, h), imgs[d - k:d], worlds[d - k:d],
                              crops[d - k:d] if job.keep_masks else [])
            if progress is not None:
                progress(1)
    finally:
        lms.close()
    if job.watch is not None:
        job.watch.end(job.index)
    w, h = frame_wh if frame_wh is not None else (1, 1)
    return _ChunkOut(
        t_ms=np.asarray(t_list, dtype=np.float64),
        counts=np.asarray(counts, dtype=np.int32),
        img=np.stack(imgs) if imgs else np.zeros((0, N_LANDMARKS, _IMG_FIELDS), np.float32),
        world_m=np.stack(worlds) if worlds else np.zeros((0, N_LANDMARKS, 3), np.float32),
        masks=crops,
        frame_w=w,
        frame_h=h,
        warmup_frames=warmup,
        num_poses=lms.num_poses,
        people_seen=lms.people_seen,
        scans=lms.scans,
        skipped=skipped,
        strided=strided,
    )


class PrefixWatch:
    """The first part of a clip's pose while :func:`extract_pose` still runs (thread-safe).

    Give it to :func:`extract_pose` (``watch=``): every time chunk hands it the frames it keeps, and
    :meth:`snapshot` stitches what has arrived without a gap (the first chunk's frames so far; once a
    chunk has ended, the next one's too) into a :class:`PoseSequence` (and silhouettes) of the clip from
    its start to the last of those frames, with the lifter picked as for a whole clip but from these
    frames only. It serves provisional results during the pose pass; the final sequence comes from
    :func:`extract_pose` as always.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._chunks: dict[int, dict[str, list[Any]]] = {}
        self._ended: set[int] = set()
        self._size: tuple[int, int] | None = None
        self._setup: tuple[video.VideoInfo, str, str, bool, int | None] | None = None

    def _start(self, info: video.VideoInfo, source: str, model_label: str, masks: bool,
               max_side: int | None) -> None:
        with self._lock:
            self._setup = (info, source, model_label, masks, max_side)

    def add(self, chunk: int, t_ms: float, count: int, size: tuple[int, int], img: list[np.ndarray],
            world: list[np.ndarray], crops: list[Any]) -> None:
        """One kept frame of chunk ``chunk`` (in time order within the chunk) and its ``count`` detections."""
        with self._lock:
            self._size = self._size or size
            c = self._chunks.setdefault(chunk, {"t": [], "counts": [], "img": [], "world": [], "crops": []})
            c["t"].append(float(t_ms))
            c["counts"].append(int(count))
            c["img"].extend(img)
            c["world"].extend(world)
            c["crops"].extend(crops)

    def end(self, chunk: int) -> None:
        """Chunk ``chunk`` has handed over all its frames."""
        with self._lock:
            self._chunks.setdefault(chunk, {"t": [], "counts": [], "img": [], "world": [], "crops": []})
            self._ended.add(chunk)

    def _gapless(self) -> list[dict[str, list[Any]]]:
        out, i = [], 0
        while i in self._chunks:
            out.append(self._chunks[i])
            if i not in self._ended:
                break
            i += 1
        return out

    @property
    def through_ms(self) -> float | None:
        """Time of the last frame of the gapless start (None before the first)."""
        with self._lock:
            ts = [c["t"][-1] for c in self._gapless() if c["t"]]
        return ts[-1] if ts else None

    @property
    def duration_ms(self) -> float | None:
        with self._lock:
            return self._setup[0].duration_ms if self._setup is not None else None

    def snapshot(self) -> "tuple[PoseSequence, MaskTrack | None] | None":
        """The clip's pose from its start to the last frame received without a gap; None before any frame."""
        with self._lock:
            if self._setup is None:
                return None
            parts = [{k: list(v) for k, v in c.items()} for c in self._gapless()]
            w, h = self._size or (1, 1)
            info, source, model_label, masks, max_side = self._setup
        if not any(p["t"] for p in parts):
            return None
        outs = [_ChunkOut(
            t_ms=np.asarray(p["t"], dtype=np.float64), counts=np.asarray(p["counts"], dtype=np.int32),
            img=np.stack(p["img"]) if p["img"] else np.zeros((0, N_LANDMARKS, _IMG_FIELDS), np.float32),
            world_m=np.stack(p["world"]) if p["world"] else np.zeros((0, N_LANDMARKS, 3), np.float32),
            masks=p["crops"], frame_w=w, frame_h=h, warmup_frames=0, num_poses=1, people_seen=0, scans=0)
            for p in parts]
        seq, mask_track, _ = _assemble(outs, info, source, model_label, masks, max_side)
        return seq, mask_track


class _Stopped(Exception):
    """A chunk was told to stop because another one failed or the run was interrupted."""


def _run_parallel(jobs: list[_ChunkJob], progress: Callable[[int], None] | None,
                  warn: WarnFn | None) -> list[_ChunkOut]:
    """Run the chunks in threads, one landmarker each, and return their outputs in order.

    Notes
    -----
    MediaPipe's inference, PyAV's decoding and the colour conversion release
    the GIL, so chunks in threads keep both cores busy like worker processes
    would, without a second interpreter to start (about 3 s of CPU each,
    mostly importing MediaPipe), results to pickle or a ``__main__`` to
    re-import. Progress and warnings reach the callers' callbacks from this
    (the calling) thread only. The first error stops the other chunks and is
    re-raised; so is an interrupt (Ctrl-C).
    """
    events: queue.Queue[tuple[str, int, Any]] = queue.Queue()
    stop = threading.Event()

    def body(job: _ChunkJob) -> None:
        try:
            out = _run_chunk(job, lambda n: events.put(("progress", job.index, n)),
                             lambda msg: events.put(("warn", job.index, msg)), stop)
        except _Stopped:
            events.put(("stopped", job.index, None))
        except BaseException as exc:  # handed to the calling thread, which re-raises it
            events.put(("error", job.index, exc))
        else:
            events.put(("done", job.index, out))

    threads = [threading.Thread(target=body, args=(job,), name=f"formcheck-pose-{job.index}", daemon=True)
               for job in jobs]
    outs: dict[int, _ChunkOut] = {}
    ended: set[int] = set()
    error: BaseException | None = None
    try:
        for th in threads:
            th.start()
        while len(ended) < len(jobs):
            kind, idx, payload = events.get()
            if kind == "progress":
                if progress is not None:
                    progress(payload)
            elif kind == "warn":
                if warn is not None:
                    warn(payload)
            else:
                ended.add(idx)
                if kind == "done":
                    outs[idx] = payload
                elif kind == "error" and error is None:
                    error = payload
                    stop.set()
    finally:
        stop.set()
        for th in threads:
            th.join()
    if error is not None:
        raise error
    return [outs[i] for i in range(len(jobs))]


def _plan_chunks(duration_ms: float | None, workers: int) -> list[tuple[float | None, float | None, float, float]]:
    """(decode_from, decode_to, keep_from, keep_to) per chunk, split evenly by duration."""
    if workers <= 1 or not duration_ms:
        return [(None, None, -np.inf, np.inf)]
    cuts = [duration_ms * k / workers for k in range(1, workers)]
    plan = []
    for k in range(workers):
        keep_from = -np.inf if k == 0 else cuts[k - 1]
        keep_to = np.inf if k == workers - 1 else cuts[k]
        decode_from = None if k == 0 else max(0.0, keep_from - WARMUP_MS)
        decode_to = None if k == workers - 1 else keep_to + 500.0
        plan.append((decode_from, decode_to, keep_from, keep_to))
    return plan


def auto_workers(duration_ms: float | None) -> int:
    """Chunks analysed at once for a clip: 2 for clips of :data:`AUTO_PARALLEL_MIN_MS` or more on >= 2 cores, else 1."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count() or 1
    if cores >= 2 and duration_ms is not None and duration_ms >= AUTO_PARALLEL_MIN_MS:
        return 2
    return 1


# --------------------------------------------------------------------------- tracking
def _person_geometry(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Torso centre (D, 2) and size (D,) in px for each detection.

    Size is the larger side of the bounding box of all 33 landmarks, so it
    follows the person's height standing up and at the bottom of a squat alike.
    """
    xy = img[:, :, :2].astype(np.float64)
    centre = xy[:, list(_CORE), :].mean(axis=1)
    span = xy.max(axis=1) - xy.min(axis=1)
    size = np.maximum(span.max(axis=1), 1.0)
    return centre, size


def _assign_tracks(t_ms: np.ndarray, counts: np.ndarray, centre: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Track id for every detection, linking detections frame to frame by position.

    Notes
    -----
    The cost of a (track, detection) pair is the distance between the track's
    last torso centre and the detection's, divided by the larger of the two
    person sizes. A pair is allowed when the cost is under
    ``0.35 + 0.4 * gap_s`` (capped at 1.0), where ``gap_s`` is the time since
    the track was last seen, so a person lost for a moment is picked up again
    near where they were. Assignment within a frame is optimal (Hungarian);
    unmatched detections start new tracks. Two detections of one frame can
    never share a track.
    """
    from scipy.optimize import linear_sum_assignment

    track_of = np.full(centre.shape[0], -1, dtype=np.int64)
    last_c: list[np.ndarray] = []
    last_s: list[float] = []
    last_t: list[float] = []
    d0 = 0
    for t, k in zip(t_ms, counts):
        if k == 0:
            continue
        dets = range(d0, d0 + int(k))
        d0 += int(k)
        n_tr = len(last_c)
        matched: dict[int, int] = {}
        if n_tr:
            lc = np.array(last_c)
            ls = np.array(last_s)
            gap_s = (t - np.array(last_t)) / 1000.0
            gate = np.minimum(0.35 + 0.4 * gap_s, 1.0)
            cost = np.empty((len(dets), n_tr))
            for r, d in enumerate(dets):
                cost[r] = np.linalg.norm(lc - centre[d], axis=1) / np.maximum(ls, size[d])
            big = 1e6
            masked = np.where(cost < gate[None, :], cost, big)
            rows, cols = linear_sum_assignment(masked)
            for r, c in zip(rows, cols):
                if masked[r, c] < big:
                    matched[r] = int(c)
        for r, d in enumerate(dets):
            tr = matched.get(r)
            if tr is None:
                tr = len(last_c)
                last_c.append(centre[d])
                last_s.append(float(size[d]))
                last_t.append(float(t))
            else:
                last_c[tr] = centre[d]
                last_s[tr] = float(size[d])
                last_t[tr] = float(t)
            track_of[d] = tr
    return track_of


def _pick_lifter(frame_of: np.ndarray, track_of: np.ndarray, centre: np.ndarray, size: np.ndarray,
                 t_ms: np.ndarray, frame_h: int) -> tuple[np.ndarray, int]:
    """The lifter's detection index per frame (-1 where none) and the number of tracks.

    Notes
    -----
    Track score is ``sum(size / frame_h)`` over its frames: long presence and a
    large figure both count. The best track is the lifter. Other tracks, best
    first, join it when they share no frame with the lifter's frames and lie
    inside a gap of it (or before/after it), and either start within one
    person size of where the lifter was last seen, or (for tracks longer than
    0.5 s) have a similar size (0.6-1.6x) - the case of a cut in the clip.
    """
    n_frames = t_ms.shape[0]
    chosen = np.full(n_frames, -1, dtype=np.int64)
    if track_of.size == 0:
        return chosen, 0
    n_tracks = int(track_of.max()) + 1
    score = np.bincount(track_of, weights=size / frame_h, minlength=n_tracks)
    order = np.argsort(-score, kind="stable")
    members = [np.flatnonzero(track_of == tr) for tr in range(n_tracks)]
    lifter = order[0]
    for d in members[lifter]:
        chosen[frame_of[d]] = d
    ref_size = float(np.median(size[members[lifter]]))
    for tr in order[1:]:
        ds = members[tr]
        f0, f1 = frame_of[ds[0]], frame_of[ds[-1]]
        if np.any(chosen[f0 : f1 + 1] >= 0):
            continue
        have = np.flatnonzero(chosen >= 0)
        before = have[have < f0]
        after = have[have > f1]
        near = False
        for f_ref, d_own in ((before[-1] if before.size else None, ds[0]), (after[0] if after.size else None, ds[-1])):
            if f_ref is None:
                continue
            d_ref = chosen[f_ref]
            dist = np.linalg.norm(centre[d_ref] - centre[d_own]) / max(size[d_ref], size[d_own])
            near = near or dist < 1.0
        long_enough = (t_ms[f1] - t_ms[f0]) >= 500.0
        similar = 0.6 <= float(np.median(size[ds])) / ref_size <= 1.6
        if near or (long_enough and similar):
            for d in ds:
                chosen[frame_of[d]] = d
    return chosen, n_tracks


# --------------------------------------------------------------------------- public
def extract_pose(
    path: str | Path,
    *,
    model: str = "full",
    max_side: int | None = DEFAULT_MAX_SIDE,
    workers: int | None = None,
    keep_masks: bool = False,
    progress: ProgressFn | None = None,
    warn: WarnFn | None = None,
    num_poses: int | None = None,
    every_frame: bool = False,
    frames: Any = None,
    watch: PrefixWatch | None = None,
    max_stride: int | None = None,
) -> PoseResult:
    """Find the lifter in the frames of a clip (about ``[pose] analysis_fps`` per second).

    Parameters
    ----------
    path
        Video file (anything :func:`formcheck.video.probe` accepts).
    model
        ``"lite"``, ``"full"``, ``"heavy"`` or a path to a ``.task`` bundle
        (resolved by :func:`formcheck.models.resolve_model`).
    max_side
        Frames are downscaled so their long side is at most this many pixels
        before inference; None analyses them at full size. The default
        (:data:`DEFAULT_MAX_SIDE`) saves decode and conversion time at no
        measurable landmark cost, because the network works on a 256x256 crop.
    workers
        Time chunks analysed at once, each by its own landmarker in its own
        thread. None picks :func:`auto_workers`; 1 analyses the clip in one pass.
    keep_masks
        Also return the lifter's segmentation silhouette (:class:`MaskTrack`).
        Off by default: masks cost inference time and memory.
    progress
        Called as ``progress(frames_done, frames_total)`` while frames are
        analysed; ``frames_total`` is an estimate until the final call.
    warn
        Called with one-line messages about recoverable decode problems.
    num_poses
        People the tracking landmarker follows per frame. None (default)
        starts with one and raises it (up to :data:`NUM_POSES`) as soon as a
        once-a-second people scan sees more: a lone lifter costs one landmark
        pass per frame (asking MediaPipe for more people than it tracks runs
        its person detector on every frame), a lifter with bystanders is still
        told apart from them. An int fixes it and turns the scan off.
    every_frame
        Analyse every decoded frame. By default a clip filmed at twice
        ``analysis_fps`` or faster (``calibration.toml`` ``[pose]``, :class:`PoseParams`)
        is analysed at about that rate, and at least every ``max_frame_step``-th frame,
        evenly spaced frames chosen by timestamp (:func:`analysis_step_ms`,
        :func:`analysis_frames`); the sequence then has rows for those frames only.
    max_stride
        The adaptive stride (:mod:`formcheck.stride`) over the frames the cap keeps: while the
        lifter is still, at most ``max_stride - 1`` in a row skip the model. None takes
        ``[pose] max_stride``; 1 turns it off. ``every_frame`` turns it off too.
    frames
        A :class:`formcheck.framestore.FrameStore`: every analysed frame (at the analysed size) is
        written to it and every decoded one noted, so the caller's later steps (bar check, flag
        images, annotated video) need not decode the clip again. Finished when this returns.
    watch
        A :class:`PrefixWatch` that receives the frames of every time chunk as they are analysed,
        for results during the pose pass.

    Returns
    -------
    PoseResult
        The lifter's :class:`PoseSequence` (NaN rows where no lifter was
        found: "no person found" is a result, not an error), masks, video info
        and statistics.

    Raises
    ------
    formcheck.video.VideoError
        The file cannot be opened or decoded.
    formcheck.models.ModelNotFoundError
        The model cannot be found.
    """
    from formcheck.models import resolve_model

    if workers is not None and int(workers) < 1:
        raise ValueError(f"workers: expected a positive number or None, got {workers}")
    if max_side is not None and int(max_side) < 16:
        raise ValueError(f"max_side: expected at least 16 px or None, got {max_side}")
    if num_poses is not None and not 1 <= int(num_poses) <= 5:
        raise ValueError(f"num_poses: expected None or 1 to 5, got {num_poses}")
    max_side = None if max_side is None else int(max_side)
    t_start = time.perf_counter()
    model_path = resolve_model(model)
    info = video.probe(path)
    n_workers = auto_workers(info.duration_ms) if workers is None else int(workers)
    plan = _plan_chunks(info.duration_ms, n_workers)
    params = PoseParams.packaged()
    max_fps = None if every_frame else params.analysis_fps
    step_ms = analysis_step_ms(info.fps_nominal, max_fps, params.max_frame_step)
    if max_stride is not None and (isinstance(max_stride, bool) or int(max_stride) < 1):
        raise ValueError(f"max_stride: expected None or a whole number of at least 1, got {max_stride!r}")
    stride = params.stride if max_stride is None else replace(params.stride, max_stride=int(max_stride))
    stride = None if every_frame or not stride.active else stride
    jobs = [
        _ChunkJob(index=i, path=str(path), model_path=str(model_path), max_side=max_side,
                  num_poses=None if num_poses is None else int(num_poses), scan_every_ms=SCAN_EVERY_MS,
                  keep_masks=keep_masks, decode_from_ms=a, decode_to_ms=b, keep_from_ms=c, keep_to_ms=d,
                  step_ms=step_ms, stride=stride, store=frames, watch=watch)
        for i, (a, b, c, d) in enumerate(plan)
    ]
    if watch is not None:
        watch._start(info, str(path), _model_label(model, model_path), keep_masks, max_side)
    total_est = _frames_estimate(info)
    if step_ms is not None and info.duration_ms:
        total_est = min(total_est, int(info.duration_ms / step_ms) + 1)
    done = 0

    def on_frames(n: int) -> None:
        nonlocal done
        done += n
        if progress is not None:
            progress(done, max(total_est, done))

    if len(jobs) == 1:
        outs = [_run_chunk(jobs[0], on_frames, warn)]
    else:
        outs = _run_parallel(jobs, on_frames, warn)
    seq, masks, track_stats = _assemble(outs, info, str(path), _model_label(model, model_path), keep_masks,
                                        max_side)
    if frames is not None:
        frames.finish()
    seconds = time.perf_counter() - t_start
    if progress is not None:
        progress(seq.n_frames, seq.n_frames)
    dur_s = _video_seconds(seq)
    stats = {
        "frames": seq.n_frames,
        "detected": int(seq.detected.sum()),
        "detection_rate": seq.detection_rate,
        "seconds": seconds,
        "fps_processing": seq.n_frames / seconds if seconds > 0 else float("nan"),
        "realtime_factor": dur_s / seconds if seconds > 0 else float("nan"),
        "video_seconds": dur_s,
        "workers": len(jobs),
        "model": _model_label(model, model_path),
        "model_path": str(model_path),
        "max_side": max_side,
        "frame_w": seq.frame_w,
        "frame_h": seq.frame_h,
        "chunks": [(j.keep_from_ms, j.keep_to_ms) for j in jobs],
        "warmup_frames": int(sum(o.warmup_frames for o in outs)),
        "analysis_fps": max_fps,
        "analysis_step_ms": step_ms,
        "frames_skipped": int(sum(o.skipped for o in outs)),
        "frames_strided": int(sum(o.strided for o in outs)),
        "max_stride": 1 if stride is None else stride.max_stride,
        "num_poses": max(o.num_poses for o in outs),
        "people_scanned_max": max(o.people_seen for o in outs),
        **track_stats,
    }
    seq = seq.with_(meta={**seq.meta, "workers": len(jobs), "seconds": round(seconds, 3),
                          "analysis_fps": max_fps, "frames_skipped": stats["frames_skipped"],
                          "max_stride": stats["max_stride"], "frames_strided": stats["frames_strided"]})
    return PoseResult(sequence=seq, masks=masks, info=info, stats=stats)


def _model_label(model: str, model_path: Path) -> str:
    name = str(model).strip().lower()
    return name if name in ("lite", "full", "heavy") else Path(model_path).stem


def _frames_estimate(info: video.VideoInfo) -> int:
    if info.n_frames_est:
        return int(info.n_frames_est)
    if info.fps_nominal and info.duration_ms:
        return int(round(info.fps_nominal * info.duration_ms / 1000.0))
    return 0


def _video_seconds(seq: PoseSequence) -> float:
    """Seconds of video analysed: last frame time plus one frame."""
    if seq.n_frames == 0:
        return 0.0
    frame_ms = 1000.0 / seq.fps_est if seq.n_frames > 1 else 0.0
    dur = (seq.t_ms[-1] - seq.t_ms[0] + frame_ms) / 1000.0
    return float(dur)


def _assemble(outs: list[_ChunkOut], info: video.VideoInfo, source: str, model_label: str,
              keep_masks: bool, max_side: int | None) -> tuple[PoseSequence, MaskTrack | None, dict[str, Any]]:
    """Stitch chunk outputs by time, track people and keep the lifter's rows."""
    t_ms = np.concatenate([o.t_ms for o in outs]) if outs else np.zeros(0)
    counts = np.concatenate([o.counts for o in outs]).astype(np.int64)
    img = np.concatenate([o.img for o in outs])
    world = np.concatenate([o.world_m for o in outs])
    crops: list[_MaskCrop | None] = [c for o in outs for c in o.masks]
    sizes = [(o.frame_w, o.frame_h) for o in outs if o.t_ms.size]
    frame_w, frame_h = sizes[0] if sizes else video.scaled_size(info.width, info.height, max_side)
    if t_ms.size > 1 and not np.all(np.diff(t_ms) > 0):
        raise RuntimeError("pose chunks overlap in time: expected strictly increasing t_ms after stitching")
    frame_of = np.repeat(np.arange(t_ms.size), counts)
    centre, size = _person_geometry(img) if img.shape[0] else (np.zeros((0, 2)), np.zeros(0))
    track_of = _assign_tracks(t_ms, counts, centre, size)
    chosen, n_tracks = _pick_lifter(frame_of, track_of, centre, size, t_ms, frame_h)
    n = t_ms.size
    rows = PoseSequence.empty_rows(n)
    has = chosen >= 0
    sel = chosen[has]
    rows["xy_px"][has] = img[sel, :, :2]
    rows["z_px"][has] = img[sel, :, 2]
    rows["world_m"][has] = world[sel]
    rows["visibility"][has] = img[sel, :, 3]
    rows["presence"][has] = img[sel, :, 4]
    lifter_tracks = sorted({int(track_of[d]) for d in sel})
    meta = {
        "formcheck_version": __version__,
        "extractor": "mediapipe.PoseLandmarker.VIDEO",
        "lifter_tracks": lifter_tracks,
    }
    seq = PoseSequence(t_ms=t_ms, **rows, frame_w=frame_w, frame_h=frame_h, source=source,
                       model=model_label, meta=meta)
    masks = None
    if keep_masks:
        masks = MaskTrack.from_crops(t_ms, [crops[d] if d >= 0 else None for d in chosen], frame_w, frame_h)
    stats = {
        "n_tracks": n_tracks,
        "people_max": int(counts.max()) if counts.size else 0,
        "lifter_tracks": lifter_tracks,
    }
    return seq, masks, stats
