"""Annotated video: annotators that draw on frames, and the writer that applies them.

An *annotator* is a callable ``annotator(rgb, ctx)`` that draws on one frame
(a writable ``HxWx3`` uint8 RGB array) in place, given a :class:`FrameContext`
(which pose row belongs to the frame, its time, and the scale from pose pixels
to frame pixels). Annotators only draw: every number they show is computed
elsewhere and handed to them. :func:`write_overlay_video` re-decodes a clip,
matches each frame to its pose row by ``t_ms`` and runs a list of annotators.

Notes
-----
The analysis overlay (joint-angle readouts, rep counter, fault banners) is
added as more annotators built from the analysis results, e.g.
``write_overlay_video(out, clip, seq, annotators=[skeleton_annotator(seq),
rep_counter_annotator(reps)])``. :func:`draw_label` is the shared drawing
primitive for such text.

Colours are RGB tuples because frames are RGB. The lifter's left side is drawn
orange and the right side blue (mirrored labels are then easy to spot).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Sequence

import cv2
import numpy as np

from formcheck import video
from formcheck.landmarks import LEFT_RIGHT_PAIRS, N_LANDMARKS, SKELETON_EDGES
from formcheck.sequence import PoseSequence

RGB = tuple[int, int, int]

_LEFT = frozenset(int(a) for a, _ in LEFT_RIGHT_PAIRS)
_RIGHT = frozenset(int(b) for _, b in LEFT_RIGHT_PAIRS)
_JOINTS = tuple(sorted({int(j) for edge in SKELETON_EDGES for j in edge}))


def _check_rgb(value: RGB, name: str) -> RGB:
    if len(value) != 3 or not all(isinstance(c, (int, np.integer)) and 0 <= c <= 255 for c in value):
        raise ValueError(f"{name}: expected three ints 0-255, got {value!r}")
    return tuple(int(c) for c in value)  # type: ignore[return-value]


@dataclass(frozen=True)
class SkeletonStyle:
    """How :func:`draw_skeleton` draws.

    Notes
    -----
    left_rgb, right_rgb, centre_rgb
        Colours of the lifter's left-side, right-side and midline bones/joints.
    min_visibility
        Joints whose MediaPipe visibility is below this are not drawn, nor
        bones touching them (0 draws every non-NaN joint).
    line_px, joint_radius_px
        Bone thickness and joint radius for a 720-px frame (short side); they
        scale with the frame (at least 1 and 2 px). Joints of 4 px or more get
        a dark rim.
    """

    left_rgb: RGB = (255, 150, 30)
    right_rgb: RGB = (40, 150, 255)
    centre_rgb: RGB = (235, 235, 235)
    min_visibility: float = 0.5
    line_px: float = 3.0
    joint_radius_px: float = 4.0

    def __post_init__(self) -> None:
        for name in ("left_rgb", "right_rgb", "centre_rgb"):
            object.__setattr__(self, name, _check_rgb(getattr(self, name), name))
        if not 0.0 <= self.min_visibility <= 1.0:
            raise ValueError(f"min_visibility: expected 0-1, got {self.min_visibility}")
        if self.line_px <= 0 or self.joint_radius_px <= 0:
            raise ValueError(f"line_px, joint_radius_px: expected > 0, got {self.line_px}, {self.joint_radius_px}")

    def colour(self, a: int, b: int | None = None) -> RGB:
        ids = {a} if b is None else {a, b}
        if ids <= _LEFT:
            return self.left_rgb
        if ids <= _RIGHT:
            return self.right_rgb
        return self.centre_rgb


@dataclass(frozen=True)
class FrameContext:
    """What an annotator knows about the frame it draws on.

    Notes
    -----
    row
        Index of the frame's row in the pose sequence, or None when the frame
        has no row (it should not happen for a sequence made from this clip).
    t_ms
        The frame's time in ms from the clip's first frame.
    scale
        Frame pixels per pose pixel (the overlay may be drawn at another size
        than the one analysed).
    """

    row: int | None
    t_ms: float
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.row is not None and int(self.row) < 0:
            raise ValueError(f"row: expected None or >= 0, got {self.row}")
        if not (np.isfinite(self.scale) and self.scale > 0):
            raise ValueError(f"scale: expected a positive number, got {self.scale}")


Annotator = Callable[[np.ndarray, FrameContext], None]


def _px(rgb: np.ndarray, base: float) -> int:
    return max(1, int(round(base * min(rgb.shape[:2]) / 720.0)))


def draw_skeleton(
    rgb: np.ndarray,
    xy_px_row: np.ndarray,
    visibility_row: np.ndarray | None = None,
    *,
    style: SkeletonStyle = SkeletonStyle(),
    scale: float = 1.0,
) -> np.ndarray:
    """Draw one pose's bones and joints on ``rgb`` in place and return it.

    Parameters
    ----------
    rgb
        Writable ``HxWx3`` uint8 RGB frame.
    xy_px_row
        ``(33, 2)`` landmark pixels (NaN where unknown), in the pixel scale of
        the analysed frame.
    visibility_row
        ``(33,)`` MediaPipe visibilities, or None to draw every finite joint.
    style
        Colours, thresholds and sizes (:class:`SkeletonStyle`).
    scale
        Multiplies ``xy_px_row`` to get pixels of ``rgb``.
    """
    if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
        raise ValueError(f"rgb: expected an HxWx3 uint8 array, got {rgb.dtype} {rgb.shape}")
    xy = np.asarray(xy_px_row, dtype=np.float64)
    if xy.shape != (N_LANDMARKS, 2):
        raise ValueError(f"xy_px_row: expected shape {N_LANDMARKS}x2, got {'x'.join(map(str, xy.shape))}")
    ok = np.isfinite(xy).all(axis=1)
    if visibility_row is not None:
        vis = np.asarray(visibility_row, dtype=np.float64)
        if vis.shape != (N_LANDMARKS,):
            raise ValueError(f"visibility_row: expected shape {N_LANDMARKS}, got {'x'.join(map(str, vis.shape))}")
        ok &= np.nan_to_num(vis, nan=0.0) >= style.min_visibility
    if not ok.any():
        return rgb
    pts = np.zeros((N_LANDMARKS, 2), dtype=np.int32)
    pts[ok] = np.round(xy[ok] * scale).astype(np.int32)
    thick = _px(rgb, style.line_px)
    radius = max(2, _px(rgb, style.joint_radius_px))
    for a, b in SKELETON_EDGES:
        ia, ib = int(a), int(b)
        if ok[ia] and ok[ib]:
            cv2.line(rgb, tuple(map(int, pts[ia])), tuple(map(int, pts[ib])), style.colour(ia, ib), thick, cv2.LINE_AA)
    for j in _JOINTS:
        if ok[j]:
            centre = tuple(map(int, pts[j]))
            if radius >= 4:
                cv2.circle(rgb, centre, radius, (20, 20, 20), -1, cv2.LINE_AA)
            cv2.circle(rgb, centre, radius - 1 if radius >= 4 else radius, style.colour(j), -1, cv2.LINE_AA)
    return rgb


def draw_label(
    rgb: np.ndarray,
    text: str,
    org_px: tuple[int, int],
    *,
    text_rgb: RGB = (255, 255, 255),
    box_rgb: RGB | None = (0, 0, 0),
    size: float = 1.0,
) -> np.ndarray:
    """Draw one line of text with an optional filled box behind it, in place.

    Notes
    -----
    org_px is the top-left corner of the box in frame pixels. ``size`` is
    relative to a 720-px frame (short side), so labels keep their look at
    any resolution.
    """
    scale = 0.6 * size * min(rgb.shape[:2]) / 720.0
    thick = max(1, int(round(2 * scale)))
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = max(2, int(round(6 * scale)))
    x, y = int(org_px[0]), int(org_px[1])
    if box_rgb is not None:
        cv2.rectangle(rgb, (x, y), (x + tw + 2 * pad, y + th + base + 2 * pad), _check_rgb(box_rgb, "box_rgb"), -1)
    cv2.putText(rgb, text, (x + pad, y + pad + th), cv2.FONT_HERSHEY_SIMPLEX, scale, _check_rgb(text_rgb, "text_rgb"),
                thick, cv2.LINE_AA)
    return rgb


def skeleton_annotator(seq: PoseSequence, style: SkeletonStyle = SkeletonStyle()) -> Annotator:
    """Annotator drawing the sequence's skeleton on its frames."""

    def annotate(rgb: np.ndarray, ctx: FrameContext) -> None:
        if ctx.row is not None:
            draw_skeleton(rgb, seq.xy_px[ctx.row], seq.visibility[ctx.row], style=style, scale=ctx.scale)

    return annotate


def no_person_annotator(seq: PoseSequence, text: str = "no person found") -> Annotator:
    """Annotator writing ``text`` in the top-left corner of frames without a lifter."""
    detected = seq.detected

    def annotate(rgb: np.ndarray, ctx: FrameContext) -> None:
        if ctx.row is None or not detected[ctx.row]:
            draw_label(rgb, text, (8, 8), box_rgb=(120, 0, 0))

    return annotate


def _row_for(t_sorted: np.ndarray, t_ms: float, tol_ms: float) -> int | None:
    i = int(np.searchsorted(t_sorted, t_ms))
    best = None
    for j in (i - 1, i):
        if 0 <= j < t_sorted.size and abs(t_sorted[j] - t_ms) <= tol_ms:
            if best is None or abs(t_sorted[j] - t_ms) < abs(t_sorted[best] - t_ms):
                best = j
    return best


#: libx264 preset of the annotated video of ``formcheck analyze``: a quarter less encoding CPU than
#: ``veryfast`` on 640x360 frames for a file about twice as big (still under 1 Mbit/s; measured with
#: a one-off script on a bench clip and a real 1080p clip, docs/speed.md "Time to report").
ANALYZE_PRESET = "superfast"

#: The annotated video's short side is at most this many pixels (720p in either orientation): encoding
#: cost grows with the pixel count and a phone screen shows no more.
MAX_LINES = 720


def output_size(width: int, height: int, max_lines: int | None = MAX_LINES) -> tuple[int, int]:
    """``(width, height)`` of the annotated video for frames of ``width`` x ``height``.

    Shrunk (aspect kept) so the short side is at most ``max_lines`` (None: no
    limit), never enlarged, and both sides made even (yuv420p needs even
    sides) by rounding down, to at least 2 px.
    """
    w, h = int(width), int(height)
    if max_lines is not None and min(w, h) > max_lines:
        scale = max_lines / min(w, h)
        w, h = round(w * scale), round(h * scale)
    return max(2, w - w % 2), max(2, h - h % 2)


def write_overlay_video(
    out_path: str | Path,
    path: str | Path,
    seq: PoseSequence,
    *,
    annotators: Sequence[Annotator] | None = None,
    max_side: int | None = None,
    max_lines: int | None = MAX_LINES,
    only_rows: bool | None = None,
    crf: int = 23,
    preset: str = "veryfast",
    progress: Callable[[int, int], None] | None = None,
    warn: Callable[[str], None] | None = None,
    frames: Any = None,
) -> Path:
    """Re-decode ``path`` (or read its frames from ``frames``), annotate every frame and write an H.264 ``.mp4``.

    Parameters
    ----------
    out_path
        The ``.mp4`` to write (its folder must exist).
    path
        The clip the sequence was extracted from.
    seq
        Its pose sequence; frames are matched to rows by ``t_ms`` (within a
        quarter of the median frame interval), never by index.
    annotators
        Drawn in order on each frame; None means the skeleton plus a "no
        person found" label on frames without a lifter.
    max_side
        Long side of the output in pixels; None uses the analysed frame size
        (``seq.frame_w`` x ``seq.frame_h``), so landmarks need no rescaling.
    max_lines
        The short side is then capped at this (:data:`MAX_LINES`; None: no
        cap) and both sides are made even (:func:`output_size`).
    only_rows
        Write only the frames that have a pose row (the others are decoded but
        neither converted nor encoded). None (default) does so when the pose
        pass analysed fewer frames than the clip has (``seq.meta["frames_skipped"]``,
        the frame-rate cap of :func:`formcheck.pose.extract_pose`), so the
        skeleton does not flicker on the frames between.
    crf
        libx264 quality (lower is better and bigger).
    preset
        libx264 speed preset (``formcheck analyze`` uses :data:`ANALYZE_PRESET`).
    progress
        Called as ``progress(frames_done, frames_total)``.
    warn
        Receives one-line decode warnings.
    frames
        A finished :class:`formcheck.framestore.FrameStore` of the pose pass: when it holds every
        frame to be written, they are read from it (shrunk from the analysed size if need be)
        and the clip is not decoded again; otherwise the clip is decoded.

    Returns
    -------
    Path
        ``out_path``. Frame times in the file are the clip's own (variable
        frame rate kept).
    """
    out_path = Path(out_path)
    if annotators is None:
        annotators = [skeleton_annotator(seq), no_person_annotator(seq)]
    side = max(seq.frame_w, seq.frame_h) if max_side is None else int(max_side)
    info = video.probe(path)
    size = output_size(*video.scaled_size(info.width, info.height, side), max_lines)
    fps = seq.fps_est if np.isfinite(seq.fps_est) else 30.0
    fps = float(min(max(fps, video.FPS_SANE_MIN), video.FPS_SANE_MAX))
    tol_ms = 0.25 * (1000.0 / fps)
    total = seq.n_frames
    if only_rows is None:
        only_rows = bool(seq.meta.get("frames_skipped"))
    want = (lambda t: _row_for(seq.t_ms, t, tol_ms) is not None) if only_rows else None
    source: Iterator[video.Frame] | None = None
    if frames is not None and frames.finished:
        times = [t for t in frames.decoded_times() if want is None or want(t)]
        if times and all(frames.holds(t) for t in times):
            source = frames.frames(times)
    if source is None:
        source = video.iter_frames(path, max_side=max(size), warn=warn, want=want)
    writer: video.VideoWriter | None = None
    n = 0
    try:
        for frame in source:
            if (frame.width, frame.height) == size:
                rgb = np.array(frame.rgb, copy=True)
            else:
                rgb = cv2.resize(frame.rgb, size, interpolation=cv2.INTER_AREA)
            h, w = rgb.shape[:2]
            if writer is None:
                writer = video.VideoWriter(out_path, fps, (w, h), crf=crf, preset=preset)
            ctx = FrameContext(row=_row_for(seq.t_ms, frame.t_ms, tol_ms), t_ms=frame.t_ms,
                               scale=max(w, h) / max(seq.frame_w, seq.frame_h))
            for annotate in annotators:
                annotate(rgb, ctx)
            writer.write(rgb, t_ms=frame.t_ms)
            n += 1
            if progress is not None:
                progress(n, max(total, n))
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise video.VideoError(f"{path}: no frames to write to {out_path}")
    return out_path


def draw_all(rgb: np.ndarray, ctx: FrameContext, annotators: Iterable[Annotator]) -> np.ndarray:
    """Run several annotators on one frame (for live views that have no writer)."""
    for annotate in annotators:
        annotate(rgb, ctx)
    return rgb
