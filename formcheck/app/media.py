"""Video helpers for the app: slow-motion rep clips and single frames (PyAV via formcheck.video)."""

from __future__ import annotations

import itertools
import os
import uuid
from pathlib import Path

import numpy as np

from formcheck.video import VideoWriter, iter_frames, probe

#: A rep clip plays this many times slower than real time.
SLOWDOWN = 4.0
#: Rep clips are shrunk so the longer side is at most this (px): small files, quick to make.
CLIP_MAX_SIDE = 540
#: Footage kept before and after a rep in its clip (ms).
CLIP_PAD_MS = 200.0

#: Container names from :func:`formcheck.video.probe` -> the file suffix to store the clip under.
_CONTAINER_SUFFIX = {"avi": ".avi", "gif": ".gif", "mov,mp4,m4a,3gp,3g2,mj2": ".mp4", "matroska,webm": ".mkv"}


def suffix_for(container: str, codec: str) -> str:
    """A file suffix for a probed clip (decided by its content, never by the uploaded name)."""
    if container == "matroska,webm" and codec in ("vp8", "vp9", "av1"):
        return ".webm"
    return _CONTAINER_SUFFIX.get(container, ".video")


def make_rep_clip(video: str | Path, start_ms: float, end_ms: float, dst: str | Path, *,
                  slowdown: float = SLOWDOWN, max_side: int = CLIP_MAX_SIDE, pad_ms: float = CLIP_PAD_MS) -> Path:
    """Cut ``[start_ms - pad, end_ms + pad]`` of ``video`` into an H.264 clip ``slowdown`` times slower.

    The clip is written under a temporary name and renamed, so ``dst`` is either
    complete or absent.
    """
    if not (start_ms < end_ms):
        raise ValueError(f"rep times: expected start_ms < end_ms, got {start_ms}..{end_ms}")
    if not slowdown >= 1.0:
        raise ValueError(f"slowdown: expected >= 1, got {slowdown}")
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    info = probe(video)
    fps = (info.fps_nominal or 30.0) / slowdown
    frames = iter_frames(video, max_side=max_side, start_ms=max(0.0, start_ms - pad_ms), end_ms=end_ms + pad_ms)
    first = next(frames, None)
    if first is None:
        raise ValueError(f"no frames between {start_ms:.0f} and {end_ms:.0f} ms")
    tmp = dst.with_name(f".{dst.stem}-{uuid.uuid4().hex}.mp4")
    try:
        with VideoWriter(tmp, max(1.0, fps), (first.width, first.height)) as writer:
            for f in itertools.chain([first], frames):
                writer.write(f.rgb, t_ms=(f.t_ms - first.t_ms) * slowdown)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst


def frame_at(video: str | Path, t_ms: float, *, max_side: int | None = 720) -> np.ndarray | None:
    """The RGB frame of ``video`` shown at ``t_ms`` (the last one starting at or before it)."""
    found = None
    for f in iter_frames(video, max_side=max_side, start_ms=max(0.0, t_ms - 400.0), end_ms=t_ms + 0.5):
        found = f.rgb
    return found


def caption_frame(rgb: np.ndarray, lines: list[str]) -> np.ndarray:
    """``rgb`` with ``lines`` written on a dark band along its bottom edge (a copy; unchanged without lines)."""
    if not lines:
        return rgb
    from PIL import Image, ImageDraw, ImageFont

    img = Image.fromarray(np.ascontiguousarray(rgb[..., :3]).astype(np.uint8))
    w, h = img.size
    size = max(12, round(min(w, h) / 24))
    font = ImageFont.load_default(size=size)
    draw = ImageDraw.Draw(img, "RGBA")
    wrapped: list[str] = []
    for line in lines:
        words, cur = " ".join(line.split()).split(" "), ""
        for word in words:
            trial = f"{cur} {word}".strip()
            if cur and draw.textlength(trial, font=font) > w - 2 * size:
                wrapped.append(cur)
                cur = word
            else:
                cur = trial
        wrapped.append(cur)
    wrapped = wrapped[-6:]  # at most six lines, the band must not hide the lifter
    band = (len(wrapped) * 1.3 + 0.8) * size
    draw.rectangle([0, h - band, w, h], fill=(0, 0, 0, 170))
    for i, line in enumerate(wrapped):
        draw.text((size, h - band + (0.4 + 1.3 * i) * size), line, font=font, fill=(255, 255, 255, 255))
    return np.asarray(img)


def make_compare_clip(video_a: str | Path, rep_a: tuple[float, float, float], video_b: str | Path,
                      rep_b: tuple[float, float, float], dst: str | Path, *, slowdown: float = SLOWDOWN,
                      max_side: int = 360) -> Path:
    """Two reps side by side (A left, B right), aligned by phase (:mod:`formcheck.compare`), as one H.264
    clip that plays the longer rep ``slowdown`` times slower than real time. Written under a temporary
    name and renamed, so ``dst`` is either complete or absent."""
    from PIL import Image

    from formcheck.compare import align_reps, nearest_frame, rep_span

    if not slowdown >= 1.0:
        raise ValueError(f"slowdown: expected >= 1, got {slowdown}")
    spans = [rep_span(rep_a), rep_span(rep_b)]
    decoded = []
    for video, (a, _, c) in zip((video_a, video_b), spans):
        frames = [(f.t_ms, f.rgb) for f in iter_frames(video, max_side=max_side, start_ms=a, end_ms=c + 0.5)]
        if not frames:
            raise ValueError(f"no frames between {a:.0f} and {c:.0f} ms of {Path(video).name}")
        decoded.append(frames)
    n = max(2, *(len(d) for d in decoded))
    _, ta, tb = align_reps(spans[0], spans[1], n)
    picks = [nearest_frame([t for t, _ in d], times) for d, times in zip(decoded, (ta, tb))]
    height = max(d[0][1].shape[0] for d in decoded)
    height += height % 2

    def scaled(rgb: np.ndarray) -> np.ndarray:
        if rgb.shape[0] == height:
            return rgb
        w = max(2, round(rgb.shape[1] * height / rgb.shape[0]))
        return np.asarray(Image.fromarray(np.ascontiguousarray(rgb)).resize((w, height)))

    longest_ms = max(c - a for a, _, c in spans) * slowdown
    step_ms = longest_ms / (n - 1)
    first = np.hstack([scaled(decoded[0][picks[0][0]][1]), scaled(decoded[1][picks[1][0]][1])])
    dst = Path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.stem}-{uuid.uuid4().hex}.mp4")
    try:
        fps = min(60.0, max(1.0, 1000.0 / step_ms))
        with VideoWriter(tmp, fps, (first.shape[1], first.shape[0])) as writer:
            for k in range(n):
                row = first if k == 0 else np.hstack([scaled(decoded[0][picks[0][k]][1]),
                                                      scaled(decoded[1][picks[1][k]][1])])
                if row.shape != first.shape:  # frames of one clip all share a size; be safe anyway
                    row = np.asarray(Image.fromarray(row).resize((first.shape[1], first.shape[0])))
                writer.write(row, t_ms=k * step_ms)
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
    return dst
