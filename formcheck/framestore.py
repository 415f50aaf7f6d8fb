"""The analysed frames of one run, kept on disk so the clip is decoded once (IO shell).

``formcheck analyze`` needs a clip's pixels four times: the pose pass, the deadlift bar check,
the worst frame of each flag and the annotated video. Decoding a 1080p clip and shrinking it
costs about as much again for each later use as for the pose pass. The pose pass therefore hands
every frame it analysed (already shrunk to the model's input size) to a :class:`FrameStore`,
which writes the raw RGB bytes to one temporary file; the later steps read them back.

- Exact: a stored frame is the very array the model saw, so the bar check's and the flag
  images' pixels are the ones a fresh decode at that size gives (the same conversion).
- Memory stays flat in clip length: the file is written with ``os.pwrite`` and read with
  ``os.pread`` (no memory map), so only an index (time, ordinal, offset) stays in memory.
- Bounded disk: at most ``max_bytes`` (default :data:`DEFAULT_MAX_BYTES`, and never more than
  half the free space of the temporary folder); frames after that are not kept and their users
  decode the clip again, as before. A 640x360 frame takes 0.69 MB: a minute of 30 fps video
  is 1.2 GB.
- Frames the pose pass decoded but did not analyse (the frame-rate cap) are noted by time, so
  a lookup "the decoded frame nearest t" is answered exactly or reported missing, never guessed.

The file is deleted when the store is closed (or when the process ends).
"""

from __future__ import annotations

import bisect
import os
import shutil
import tempfile
import threading
from pathlib import Path
from typing import Iterator

import numpy as np

from formcheck.video import Frame

#: Most bytes of frames one store keeps on disk (also at most half the free space of its folder).
DEFAULT_MAX_BYTES = 8 << 30

#: A lookup's window reaches this far after its time (ms), as :func:`formcheck.pipeline._frames_near`.
NEAR_AFTER_MS = 200.0


class FrameStore:
    """Frames by time in a temporary file; thread-safe writers, readers after :meth:`finish`.

    Notes
    -----
    ``put(index, t_ms, rgb)`` keeps a frame (False when the budget is spent; the frame is then
    noted as decoded but not held); ``note_decoded(t_ms)`` records a frame decoded and not
    analysed. ``finish()`` says every decoded frame of the clip was put or noted (the pose pass
    ended normally); before it, lookups answer "missing" so callers decode the clip themselves.
    """

    def __init__(self, max_bytes: int | None = DEFAULT_MAX_BYTES, dir: str | Path | None = None) -> None:
        folder = Path(dir) if dir is not None else Path(tempfile.gettempdir())
        budget = DEFAULT_MAX_BYTES if max_bytes is None else int(max_bytes)
        if budget < 0:
            raise ValueError(f"max_bytes: expected >= 0, got {max_bytes}")
        try:
            budget = min(budget, shutil.disk_usage(folder).free // 2)
        except OSError:
            budget = 0
        self._fh = None
        if budget > 0:
            try:
                self._fh = tempfile.TemporaryFile(dir=folder, prefix="formcheck-frames-")
            except OSError:  # no writable temporary folder: keep nothing, the later steps decode the clip
                budget = 0
        self.max_bytes = budget
        self._lock = threading.Lock()
        self._end = 0
        # per decoded frame: t_ms -> (index, offset, h, w) for held ones, None for noted-only
        self._entries: dict[float, tuple[int, int, int, int] | None] = {}
        self._times: list[float] | None = None
        self.full = False
        self.finished = False

    # ------------------------------------------------------------------ writing (pose pass)
    def put(self, index: int, t_ms: float, rgb: np.ndarray) -> bool:
        """Keep one analysed frame (``HxWx3`` uint8). False when it was not kept (budget spent)."""
        arr = np.ascontiguousarray(rgb, dtype=np.uint8)
        if arr.ndim != 3 or arr.shape[2] != 3:
            raise ValueError(f"rgb: expected an HxWx3 uint8 array, got shape {arr.shape}")
        t = float(t_ms)
        with self._lock:
            if self._fh is None or self.full or self._end + arr.nbytes > self.max_bytes:
                self.full = self._fh is not None
                self._entries[t] = None
                return False
            offset = self._end
            self._end += arr.nbytes
            self._entries[t] = (int(index), offset, int(arr.shape[0]), int(arr.shape[1]))
            fd = self._fh.fileno()
        view = memoryview(arr).cast("B")
        done = 0
        try:
            while done < len(view):  # pwrite may write less than asked
                done += os.pwrite(fd, view[done:], offset + done)
        except OSError:  # disk full or gone: this frame and the later ones are decoded from the clip again
            with self._lock:
                self._entries[t] = None
                self.full = True
            return False
        return True

    def note_decoded(self, t_ms: float) -> None:
        """A frame the pose pass decoded and did not analyse (never held)."""
        with self._lock:
            self._entries.setdefault(float(t_ms), None)

    def finish(self) -> None:
        """Every decoded frame of the clip was put or noted: lookups may now answer."""
        with self._lock:
            self._times = sorted(self._entries)
            self.finished = True

    # ------------------------------------------------------------------ reading
    @property
    def n_held(self) -> int:
        return sum(1 for e in self._entries.values() if e is not None)

    @property
    def bytes_used(self) -> int:
        return self._end

    def frame_size(self) -> tuple[int, int] | None:
        """``(width, height)`` of the held frames (None when none is held)."""
        for e in self._entries.values():
            if e is not None:
                return e[3], e[2]
        return None

    def _read(self, t: float) -> Frame:
        index, offset, h, w = self._entries[t]  # type: ignore[misc]
        n = h * w * 3
        buf = bytearray(n)
        mv = memoryview(buf)
        fd = self._fh.fileno()  # type: ignore[union-attr]
        done = 0
        while done < n:
            got = os.preadv(fd, [mv[done:]], offset + done)
            if got <= 0:
                raise OSError(f"frame store: short read at {offset + done}")
            done += got
        rgb = np.frombuffer(buf, dtype=np.uint8).reshape(h, w, 3)
        rgb.setflags(write=False)
        return Frame(index=index, t_ms=t, rgb=rgb)

    def nearest(self, t_ms: float, before_ms: float, after_ms: float = NEAR_AFTER_MS) -> tuple[bool, Frame | None]:
        """The decoded frame nearest ``t_ms`` in ``[max(0, t - before_ms), t + after_ms)`` (the earlier on a tie).

        Returns ``(True, frame)`` when it is held, ``(True, None)`` when no decoded frame lies in
        the window, ``(False, None)`` when the answer is not held here (budget spent, or the pose
        pass did not finish): the caller decodes it from the clip.
        """
        if not self.finished or self._times is None:
            return False, None
        t = float(t_ms)
        lo, hi = max(0.0, t - float(before_ms)), t + float(after_ms)
        times = self._times
        i = bisect.bisect_left(times, lo)
        best: float | None = None
        while i < len(times) and times[i] < hi:
            if best is None or abs(times[i] - t) < abs(best - t):
                best = times[i]
            i += 1
        if best is None:
            return True, None
        if self._entries[best] is None:
            return False, None
        try:
            return True, self._read(best)
        except OSError:
            return False, None

    def decoded_times(self) -> list[float]:
        """Times of every frame the pose pass decoded (after :meth:`finish`), increasing."""
        return list(self._times or [])

    def holds(self, t_ms: float) -> bool:
        return self._entries.get(float(t_ms)) is not None

    def frames(self, times: list[float]) -> Iterator[Frame]:
        """The held frames at exactly ``times`` (each must be held), in the order given."""
        for t in times:
            yield self._read(float(t))

    def close(self) -> None:
        with self._lock:
            fh, self._fh = self._fh, None
            self.finished = False
        if fh is not None:
            fh.close()

    def __enter__(self) -> "FrameStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
