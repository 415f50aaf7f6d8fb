"""A video file as Chromium's fake camera (``--use-file-for-fake-video-capture``).

Chromium reads ``.y4m`` (raw I420 frames, frame rate from the header) and
``.mjpeg`` (concatenated JPEG images, played at 30 fps). Both loop. MJPEG is
about 40 kB a frame at 640x480, Y4M 460 kB, so MJPEG is the default.
Clips are converted at test time into a temporary folder and never committed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import av
import cv2
import numpy as np

#: Chromium plays MJPEG fake-camera files at this rate.
MJPEG_FPS = 30


def _frames_bgr(src: Path, size: tuple[int, int]) -> Iterator[np.ndarray]:
    with av.open(str(src)) as container:
        for frame in container.decode(video=0):
            bgr = frame.to_ndarray(format="bgr24")
            if (bgr.shape[1], bgr.shape[0]) != size:
                bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_AREA)
            yield bgr


def write_mjpeg(src: str | Path, dst: str | Path, size: tuple[int, int] = (640, 480), quality: int = 90) -> Path:
    """Convert ``src`` to a ``.mjpeg`` fake-camera file of ``size`` (width, height); returns ``dst``.

    The source should be 30 fps (the bundled samples are): Chromium plays every
    JPEG for one 1/30 s frame.
    """
    dst = Path(dst)
    if dst.suffix != ".mjpeg":
        raise ValueError(f"dst: expected a .mjpeg path, got {dst}")
    n = 0
    with open(dst, "wb") as fh:
        for bgr in _frames_bgr(Path(src), size):
            ok, buf = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])
            if not ok:
                raise ValueError(f"{src}: frame {n} could not be JPEG-encoded")
            fh.write(buf.tobytes())
            n += 1
    if n == 0:
        raise ValueError(f"{src}: expected a video with frames, got none")
    return dst


def write_y4m(src: str | Path, dst: str | Path, size: tuple[int, int] = (640, 480), fps: int = 30) -> Path:
    """Convert ``src`` to a ``.y4m`` fake-camera file (I420, ``fps`` in the header); returns ``dst``."""
    dst = Path(dst)
    if dst.suffix != ".y4m":
        raise ValueError(f"dst: expected a .y4m path, got {dst}")
    w, h = size
    if w % 2 or h % 2:
        raise ValueError(f"size: expected even width and height for I420, got {w}x{h}")
    with open(dst, "wb") as fh:
        fh.write(f"YUV4MPEG2 W{w} H{h} F{fps}:1 Ip A1:1 C420jpeg\n".encode("ascii"))
        for bgr in _frames_bgr(Path(src), size):
            fh.write(b"FRAME\n")
            fh.write(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420).tobytes())
    return dst
