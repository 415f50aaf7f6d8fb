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
