"""Test clips made on the fly with PyAV (nothing binary is committed).

Every frame shows :func:`pattern`: an asymmetric picture (a red block top-left,
a blue block top-right, a grey bottom strip) whose bottom strip spells the
frame's number in 8 black/white cells, so :func:`read_code` can tell which
frame (and whether it is upright) after lossy compression, rotation or
downscaling.
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Sequence

import av
import cv2
import numpy as np

N_CODE_BITS = 8
RED = (230, 20, 20)
BLUE = (20, 20, 230)


def pattern(index: int, width: int = 128, height: int = 96, noise: int = 0) -> np.ndarray:
    """Upright HxWx3 uint8 RGB picture for frame ``index`` (mod 256).

    Notes
    -----
    index : frame number, spelled in binary (most significant bit left) in the
        bottom quarter of the picture.
    width, height : picture size in pixels (at least 32 x 32).
    noise : amplitude (grey levels) of per-frame random texture on the
        background, which makes every frame costly to compress (big files).
    """
    if width < 32 or height < 32:
        raise ValueError(f"size: expected at least 32x32, got {width}x{height}")
    img = np.full((height, width, 3), 90, np.uint8)
    if noise:
        rng = np.random.default_rng(index)
        img += rng.integers(0, noise + 1, (height, width, 3), dtype=np.uint8)
    qh, qw = height // 4, width // 4
    img[:qh, :qw] = RED
    img[:qh, width - qw // 2 :] = BLUE
    cell_w = width // N_CODE_BITS
    strip = img[height - qh :]
    for bit in range(N_CODE_BITS):
        on = (index >> (N_CODE_BITS - 1 - bit)) & 1
        strip[:, bit * cell_w : (bit + 1) * cell_w] = 255 if on else 0
    return img


def read_code(rgb: np.ndarray) -> int:
    """Frame number spelled by :func:`pattern` (read from cell centres)."""
    h, w = rgb.shape[:2]
    qh = h // 4
    y = h - qh // 2
    cell_w = w / N_CODE_BITS
    value = 0
    for bit in range(N_CODE_BITS):
        x = int((bit + 0.5) * cell_w)
        value = (value << 1) | int(rgb[y, x].mean() > 127)
    return value


def is_upright(rgb: np.ndarray) -> bool:
    """Red block top-left and blue block top-right, as :func:`pattern` draws them."""
    h, w = rgb.shape[:2]
    tl = rgb[h // 8, w // 8].astype(int)
    tr = rgb[h // 8, w - w // 16].astype(int)
    return bool(tl[0] > 150 and tl[2] < 100 and tr[2] > 150 and tr[0] < 100)


def write_clip(
    path: Path,
    *,
    codec: str = "libx264",
    n_frames: int = 12,
    size: tuple[int, int] = (128, 96),
    fps: float = 30,
    pts: Sequence[int] | None = None,
    time_base: Fraction | None = None,
    rotation_cw_deg: int = 0,
    pix_fmt: str | None = None,
    fmt: str | None = None,
    options: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    gop: int | None = None,
    rewrite_pts: Sequence[int] | None = None,
    noise: int = 0,
) -> Path:
    """Encode ``n_frames`` pattern frames into ``path``.

    Notes
    -----
    codec : PyAV encoder name (``libx264``, ``mjpeg``, ``libvpx``, ``libvpx-vp9``, ``gif``).
    n_frames : number of frames (frame i shows ``pattern(i)``).
    size : upright ``(width, height)`` of the picture.
    fps : nominal frame rate given to the encoder.
    pts : per-frame PTS in ``time_base`` (default ``0, 1, 2, ...`` at ``1/fps``).
    time_base : stream time base for ``pts`` (default ``1/fps``).
    rotation_cw_deg : the picture is stored turned counter-clockwise by this
        much and the display matrix asks players to turn it back clockwise,
        like a phone clip recorded in portrait.
    pix_fmt : encoder pixel format (default per codec).
    fmt : container format name (default from the suffix).
    options : encoder options. ``container_options`` : muxer options
        (e.g. ``{"movflags": "+faststart"}``).
    gop : keyframe interval in frames.
    noise : background texture amplitude passed to :func:`pattern`.
    rewrite_pts : PTS written into the packets after encoding (decode order,
        one per packet, intra-only codecs), to make duplicate or backwards
        timestamps that encoders refuse.
    """
    width, height = size
    tb = time_base or Fraction(1, 1) / Fraction(fps).limit_denominator(1001000)
    frame_pts = list(pts) if pts is not None else list(range(n_frames))
    if len(frame_pts) != n_frames:
        raise ValueError(f"pts: expected {n_frames} values, got {len(frame_pts)}")
    default_pix = {"mjpeg": "yuvj420p", "gif": "rgb8", "libvpx": "yuv420p", "libvpx-vp9": "yuv420p"}
    stored_w, stored_h = (height, width) if rotation_cw_deg in (90, 270) else (width, height)
    with av.open(str(path), mode="w", format=fmt, options=container_options or {}) as container:
        stream = container.add_stream(codec, rate=Fraction(fps).limit_denominator(1001000), options=options or {})
        stream.width, stream.height = stored_w, stored_h
        stream.pix_fmt = pix_fmt or default_pix.get(codec, "yuv420p")
        stream.time_base = tb
        stream.codec_context.time_base = tb
        if gop is not None:
            stream.codec_context.gop_size = gop
        if rotation_cw_deg:
            stream.set_display_rotation(-rotation_cw_deg)
        packets = []
        for i in range(n_frames):
            img = pattern(i, width, height, noise)
            if rotation_cw_deg:
                turn = {90: cv2.ROTATE_90_COUNTERCLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_CLOCKWISE}
                img = cv2.rotate(img, turn[rotation_cw_deg])
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="rgb24")
            frame.pts = i if rewrite_pts is not None else frame_pts[i]
            frame.time_base = tb
            for packet in stream.encode(frame):
                if rewrite_pts is None:
                    container.mux(packet)
                else:
                    packets.append(packet)
        for packet in stream.encode(None):
            if rewrite_pts is None:
                container.mux(packet)
            else:
                packets.append(packet)
        if rewrite_pts is not None:
            if len(rewrite_pts) != len(packets):
                raise ValueError(f"rewrite_pts: expected {len(packets)} values, got {len(rewrite_pts)}")
            for i, (packet, new_pts) in enumerate(zip(packets, rewrite_pts)):
                packet.pts = new_pts
                packet.dts = min(i, new_pts)
                packet.time_base = tb
                container.mux(packet)
    return path


def write_raw_h264(path: Path, n_frames: int = 10, size: tuple[int, int] = (128, 96)) -> Path:
    """An Annex-B ``.h264`` elementary stream: frames without any PTS."""
    return write_clip(path, codec="libx264", n_frames=n_frames, size=size, fmt="h264", options={"bf": "0"})


def write_audio_only(path: Path, seconds: float = 0.5) -> Path:
    """AAC audio in an MP4 container, no video stream."""
    rate = 44100
    with av.open(str(path), mode="w", format="mp4") as container:
        stream = container.add_stream("aac", rate=rate)
        n = int(seconds * rate / 1024)
        for i in range(n):
            tone = 0.1 * np.sin(2 * np.pi * 440 * (np.arange(1024) + i * 1024) / rate).astype(np.float32)
            frame = av.AudioFrame.from_ndarray(tone[None, :], format="fltp", layout="mono")
            frame.sample_rate = rate
            frame.pts = i * 1024
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return path


def write_with_audio(path: Path, n_frames: int = 10, size: tuple[int, int] = (128, 96), fps: int = 30) -> Path:
    """H.264 video plus an AAC audio track in an MP4."""
    rate = 44100
    with av.open(str(path), mode="w", format="mp4") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height = size
        video.pix_fmt = "yuv420p"
        audio = container.add_stream("aac", rate=rate)
        samples_per_frame = rate // fps
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(pattern(i, *size), format="rgb24")
            frame.pts = i
            for packet in video.encode(frame):
                container.mux(packet)
            silence = np.zeros((1, samples_per_frame), np.float32)
            chunk = av.AudioFrame.from_ndarray(silence, format="fltp", layout="mono")
            chunk.sample_rate = rate
            chunk.pts = i * samples_per_frame
            for packet in audio.encode(chunk):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    return path


def write_text(path: Path) -> Path:
    path.write_text("this is not a video\n" * 20)
    return path


def write_jpeg(path: Path, size: tuple[int, int] = (128, 96)) -> Path:
    """A JPEG still image (under whatever name ``path`` has)."""
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(pattern(0, *size), cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError("cv2.imencode failed")
    path.write_bytes(buf.tobytes())
    return path


def truncate(src: Path, dst: Path, keep_fraction: float = 0.5) -> Path:
    """Copy the first ``keep_fraction`` of ``src``'s bytes to ``dst``."""
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * keep_fraction)])
    return dst


def corrupt_middle(src: Path, dst: Path, start_fraction: float = 0.45, n_bytes: int = 2048, seed: int = 0) -> Path:
    """Copy ``src`` with ``n_bytes`` random bytes written over it from ``start_fraction`` of its length."""
    data = bytearray(src.read_bytes())
    start = int(len(data) * start_fraction)
    end = min(len(data), start + n_bytes)
    data[start:end] = np.random.default_rng(seed).integers(0, 256, end - start, dtype=np.uint8).tobytes()
    dst.write_bytes(bytes(data))
    return dst


def mp4_top_level_boxes(path: Path) -> list[str]:
    """Names of an MP4's top-level boxes in file order (``ftyp``, ``moov``, ``mdat``, ...)."""
    data = path.read_bytes()
    names, pos = [], 0
    while pos + 8 <= len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        name = data[pos + 4 : pos + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[pos + 8 : pos + 16], "big")
        elif size == 0:
            size = len(data) - pos
        if size < 8:
            break
        names.append(name)
        pos += size
    return names
