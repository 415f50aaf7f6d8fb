"""Comments on the video's timeline: which comments show at a moment, and WebVTT captions for a clip.

Pure functions (no IO). A comment is ``(t_ms, text)``: ``t_ms`` from the clip's first frame.
The app shows a comment over the frames within :data:`COMMENT_WINDOW_MS` of its time: on the
frame stepper's picture, and as captions (a WebVTT track, so no video is re-encoded) on the
annotated video and on a rep's slow-motion clip, whose own time runs ``slowdown`` times slower
from ``clip_start_ms``.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

#: A comment pinned to a time shows on the frames this close to it (either side), in ms of the clip.
COMMENT_WINDOW_MS = 500.0


def comments_near(comments: Iterable[tuple[float | None, str]], t_ms: float,
                  window_ms: float = COMMENT_WINDOW_MS) -> list[tuple[float, str]]:
    """The timed comments within ``window_ms`` of ``t_ms``, in time order (untimed ones never show)."""
    near = [(float(t), str(text)) for t, text in comments
            if t is not None and math.isfinite(float(t)) and abs(float(t) - t_ms) <= window_ms]
    return sorted(near, key=lambda c: c[0])


def _vtt_time(ms: float) -> str:
    ms = max(0, int(round(ms)))
    h, rest = divmod(ms, 3_600_000)
    m, rest = divmod(rest, 60_000)
    s, ms = divmod(rest, 1000)
    return f"{h:02d}:{m:02d}:{s:02d}.{ms:03d}"


def _vtt_text(text: str) -> str:
    """Cue text that WebVTT shows as typed: one line, its markup characters escaped."""
    one_line = " ".join(str(text).split())
    return one_line.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def webvtt(comments: Sequence[tuple[float | None, str]], *, clip_start_ms: float = 0.0, slowdown: float = 1.0,
           clip_end_ms: float | None = None, window_ms: float = COMMENT_WINDOW_MS) -> str | None:
    """A WebVTT track showing each timed comment from ``t - window`` to ``t + window`` (clip times, i.e.
    ``(t_ms - clip_start_ms) * slowdown``); comments outside ``[clip_start_ms, clip_end_ms]`` are left
    out. None when no comment is left (no track to add)."""
    if not slowdown >= 1.0:
        raise ValueError(f"slowdown: expected >= 1, got {slowdown}")
    cues = []
    for t, text in sorted(((t, x) for t, x in comments if t is not None and math.isfinite(float(t))),
                          key=lambda c: float(c[0])):
        t = float(t)
        if t < clip_start_ms or (clip_end_ms is not None and t > clip_end_ms):
            continue
        body = _vtt_text(text)
        if not body:
            continue
        a = (max(clip_start_ms, t - window_ms) - clip_start_ms) * slowdown
        b = (t + window_ms - clip_start_ms) * slowdown
        cues.append(f"{_vtt_time(a)} --> {_vtt_time(b)}\n💬 {body}")
    if not cues:
        return None
    return "WEBVTT\n\n" + "\n\n".join(cues) + "\n"
