"""Analysis annotators: angle readouts, rep counter, flag banners, the trunk line.

Like :mod:`formcheck.overlay` these only draw: every number they show was
computed by the analysis core and is passed in. They plug into
:func:`formcheck.overlay.write_overlay_video` (annotated video) and
:func:`render_flag_frame` (the worst frame of a flagged rep).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Mapping, Sequence

import cv2
import numpy as np

from formcheck import video
from formcheck.landmarks import Landmark as L
from formcheck.measures import evidence_parts
from formcheck.overlay import Annotator, FrameContext, draw_label, draw_skeleton, no_person_annotator, skeleton_annotator
from formcheck.sequence import PoseSequence

#: How long a flag banner stays on screen after the worst moment, ms.
BANNER_MS = 1800.0
RED = (200, 30, 30)
AMBER = (230, 150, 20)
GREEN = (40, 170, 90)
TRUNK_RGB = (255, 210, 0)
BACK_RGB = (255, 60, 200)


def _fmt_deg(x: float) -> str:
    return "–" if not np.isfinite(x) else f"{x:.0f}°".replace("°", " deg")


#: Characters of the report's text that the video font (OpenCV Hershey, ASCII only) cannot draw.
_ASCII = {"°": " deg", "×": "x", "–": "-", "—": "-"}


def _ascii(text: str) -> str:
    """``text`` drawable on a frame: ``33°`` becomes ``33 deg``."""
    for a, b in _ASCII.items():
        text = text.replace(a, b)
    return text


def _mid(seq: PoseSequence, row: int, a: L, b: L) -> np.ndarray:
    pa, pb = seq.xy_px[row, int(a)], seq.xy_px[row, int(b)]
    ok = [np.isfinite(pa).all(), np.isfinite(pb).all()]
    if all(ok):
        return 0.5 * (pa + pb)
    if ok[0]:
        return pa
    if ok[1]:
        return pb
    return np.array([np.nan, np.nan])


def draw_trunk_line(rgb: np.ndarray, seq: PoseSequence, row: int, trunk_deg: float, scale: float = 1.0) -> np.ndarray:
    """The hip-to-shoulder line, a vertical reference and the angle between them, in place."""
    hip = _mid(seq, row, L.LEFT_HIP, L.RIGHT_HIP) * scale
    sh = _mid(seq, row, L.LEFT_SHOULDER, L.RIGHT_SHOULDER) * scale
    if not (np.isfinite(hip).all() and np.isfinite(sh).all()):
        return rgb
    thick = max(2, int(round(3 * min(rgb.shape[:2]) / 720)))
    length = float(np.linalg.norm(sh - hip))
    h = tuple(int(v) for v in np.round(hip))
    cv2.line(rgb, h, tuple(int(v) for v in np.round(sh)), TRUNK_RGB, thick, cv2.LINE_AA)
    top = (h[0], int(round(hip[1] - length)))
    cv2.line(rgb, h, top, (235, 235, 235), max(1, thick - 1), cv2.LINE_AA)
    if np.isfinite(trunk_deg) and length > 10:
        # image angles: 0 = up (-y); the arc runs from vertical to the trunk line
        a_trunk = math.degrees(math.atan2(sh[0] - hip[0], -(sh[1] - hip[1])))
        r = int(0.35 * length)
        start, end = sorted((0.0, a_trunk))
        cv2.ellipse(rgb, h, (r, r), -90.0, start, end, TRUNK_RGB, max(1, thick - 1), cv2.LINE_AA)
        draw_label(rgb, _fmt_deg(trunk_deg), (h[0] + 6, int(hip[1] - 0.5 * length)), box_rgb=(40, 40, 40), size=0.9)
    return rgb


def draw_back_outline(rgb: np.ndarray, contour_px: np.ndarray, chord_px: np.ndarray, flexion_deg: float,
                      scale: float = 1.0) -> np.ndarray:
    """The back's outline read from the silhouette, the line joining its ends and the bend, in place.

    ``contour_px`` (K, 2) and ``chord_px`` (2, 2) come from
    :class:`formcheck.spine.SpineEstimate` (frame pixels of the analysed
    frame); NaN points are skipped; nothing is drawn without two points.
    """
    pts = np.asarray(contour_px, float) * scale
    ok = np.isfinite(pts).all(axis=1)
    if ok.sum() < 2:
        return rgb
    thick = max(2, int(round(3 * min(rgb.shape[:2]) / 720)))
    good = np.round(pts[ok]).astype(np.int32)
    cv2.polylines(rgb, [good.reshape(-1, 1, 2)], False, BACK_RGB, thick, cv2.LINE_AA)
    cv2.line(rgb, tuple(int(v) for v in good[0]), tuple(int(v) for v in good[-1]), (235, 235, 235),
             max(1, thick - 1), cv2.LINE_AA)
    ch = np.asarray(chord_px, float) * scale
    if np.isfinite(ch).all():
        cv2.line(rgb, tuple(int(v) for v in np.round(ch[0])), tuple(int(v) for v in np.round(ch[1])), BACK_RGB,
                 1, cv2.LINE_AA)
    if np.isfinite(flexion_deg):
        mid = good[len(good) // 2]
        draw_label(rgb, f"back {flexion_deg:+.0f} deg", (int(mid[0]) + 8, int(mid[1]) - 8), box_rgb=(90, 20, 70),
                   size=0.8)
    return rgb


def back_annotator(contour_px: np.ndarray, chord_px: np.ndarray, flexion_deg: np.ndarray) -> Annotator:
    """The silhouette back outline per frame (see :func:`draw_back_outline`)."""

    def annotate(rgb: np.ndarray, ctx: FrameContext) -> None:
        if ctx.row is not None and np.isfinite(flexion_deg[ctx.row]):
            draw_back_outline(rgb, contour_px[ctx.row], chord_px[ctx.row], float(flexion_deg[ctx.row]), ctx.scale)

    return annotate


def trunk_annotator(seq: PoseSequence, trunk_deg: np.ndarray) -> Annotator:
    def annotate(rgb: np.ndarray, ctx: FrameContext) -> None:
        if ctx.row is not None:
            draw_trunk_line(rgb, seq, ctx.row, float(trunk_deg[ctx.row]), ctx.scale)

    return annotate


def readout_annotator(signals: Mapping[str, np.ndarray]) -> Annotator:
    """Top-left box with the live trunk, hip and knee angles."""
    names = (("trunk", "trunk_deg"), ("hip", "hip_deg"), ("knee", "knee_deg"))

    def annotate(rgb: np.ndarray, ctx: FrameContext) -> None:
        if ctx.row is None:
            return
        parts = [f"{label} {_fmt_deg(float(signals[key][ctx.row]))}" for label, key in names if key in signals]
        draw_label(rgb, "  ".join(parts), (8, 8), box_rgb=(30, 30, 30))

    return annotate


def rep_counter_annotator(reps: Sequence[Mapping[str, Any]], t_end_ms: float) -> Annotator:
    """Top-right rep counter: reps completed so far, and the current phase."""

    def annotate(rgb: np.ndarray, ctx: FrameContext) -> None:
        done = sum(1 for r in reps if r["end_ms"] <= ctx.t_ms)
        phase = ""
        for r in reps:
            for p in r.get("phases", ()):
                if p["start_ms"] <= ctx.t_ms <= p["end_ms"]:
                    phase = p["name"]
        text = f"reps {done}/{len(reps)}" + (f"  {phase}" if phase else "")
        w = rgb.shape[1]
        scale = min(rgb.shape[:2]) / 720.0
        draw_label(rgb, text, (int(w - 330 * scale), 8), box_rgb=(30, 30, 30))

    return annotate


def flag_banner_annotator(flags: Sequence[Mapping[str, Any]], cues: Mapping[str, str],
                          banner_ms: float = BANNER_MS) -> Annotator:
    """A banner at the bottom naming the fault and its cue, from the worst moment for ``banner_ms``."""

    def annotate(rgb: np.ndarray, ctx: FrameContext) -> None:
        live = [f for f in flags if f["t_ms"] <= ctx.t_ms <= f["t_ms"] + banner_ms]
        h = rgb.shape[0]
        scale = min(rgb.shape[:2]) / 720.0
        for k, f in enumerate(live[-2:]):
            colour = RED if f["severity"] == "major" else AMBER
            text = f"rep {f['rep']}: {f['code'].replace('_', ' ')} - {cues.get(f['code'], '')}"
            draw_label(rgb, text, (8, int(h - (60 + 50 * k) * scale)), box_rgb=colour, size=1.0)

    return annotate


def analysis_annotators(seq: PoseSequence, signals: Mapping[str, np.ndarray], report: Mapping[str, Any],
                        cues: Mapping[str, str], spine: Any = None) -> list[Annotator]:
    """Everything the annotated video shows, in drawing order.

    ``spine`` (a :class:`formcheck.spine.SpineEstimate`, optional) adds the back outline.
    """
    out = [skeleton_annotator(seq), no_person_annotator(seq)]
    if "trunk_deg" in signals:
        out.append(trunk_annotator(seq, signals["trunk_deg"]))
    if spine is not None:
        out.append(back_annotator(spine.contour_px, spine.chord_px, spine.flexion_deg))
    out += [
        readout_annotator(signals),
        rep_counter_annotator(report.get("reps", []), float(seq.t_ms[-1]) if seq.n_frames else 0.0),
        flag_banner_annotator(report.get("flags", []), cues),
    ]
    return out


#: The worst frame of a flag is looked for this far (ms) before the flag's time (and 200 ms after it).
FLAG_FRAME_BEFORE_MS = 500.0


def render_flag_frame(path: str | Path, seq: PoseSequence, flag: Mapping[str, Any],
                      signals: Mapping[str, np.ndarray], cue: str, message: str = "",
                      spine: Any = None) -> np.ndarray | None:
    """The worst frame of one flag: skeleton, trunk line with its angle, and a caption.

    A rounded-back flag measured from the silhouette (``spine``, a
    :class:`formcheck.spine.SpineEstimate`) also shows the back outline that was measured.

    Decodes only up to the flag's frame (the nearest in ``[t - 500 ms, t + 200 ms)``,
    the earlier on a tie). Returns None when that frame cannot be read. A caller
    that already holds the frame uses :func:`draw_flag_frame`.
    """
    target = float(flag["t_ms"])
    best = None
    for frame in video.iter_frames(path, max_side=max(seq.frame_w, seq.frame_h),
                                   start_ms=max(0.0, target - FLAG_FRAME_BEFORE_MS), end_ms=target + 200.0):
        if best is None or abs(frame.t_ms - target) < abs(best.t_ms - target):
            best = frame
        if frame.t_ms > target:
            break
    if best is None:
        return None
    return draw_flag_frame(best, seq, flag, signals, cue, message, spine=spine)


def draw_flag_frame(frame: video.Frame, seq: PoseSequence, flag: Mapping[str, Any],
                    signals: Mapping[str, np.ndarray], cue: str, message: str = "",
                    spine: Any = None) -> np.ndarray:
    """:func:`render_flag_frame` on a frame already decoded (a copy is drawn on)."""
    rgb = np.array(frame.rgb, copy=True)
    row = int(np.argmin(np.abs(seq.t_ms - frame.t_ms)))
    scale = max(rgb.shape[:2]) / max(seq.frame_w, seq.frame_h)
    draw_skeleton(rgb, seq.xy_px[row], seq.visibility[row], scale=scale)
    if "trunk_deg" in signals:
        draw_trunk_line(rgb, seq, row, float(signals["trunk_deg"][row]), scale)
    if spine is not None and flag.get("measure") in ("spine_flexion_loaded", "spine_flexion_vs_set"):
        draw_back_outline(rgb, spine.contour_px[row], spine.chord_px[row], float(spine.flexion_deg[row]), scale)
    head = f"rep {flag['rep']}: {flag['code'].replace('_', ' ')} ({flag['severity']})"
    draw_label(rgb, head, (8, 8), box_rgb=RED if flag["severity"] == "major" else AMBER)
    # what was measured, then the numbers (two lines: a measure's name can be long); ASCII for the video font
    lines = evidence_parts(str(flag.get("measure", "")), flag["measured"], flag["limit"], str(flag.get("units", "")))
    step = int(40 * min(rgb.shape[:2]) / 720)
    for k, line in enumerate(x for x in lines if x):
        draw_label(rgb, _ascii(line), (8, 8 + step * (k + 1)), box_rgb=(30, 30, 30), size=0.85)
    if cue:
        draw_label(rgb, f"cue: {cue}", (8, rgb.shape[0] - int(60 * min(rgb.shape[:2]) / 720)), box_rgb=(30, 30, 30))
    return rgb


def save_png(path: str | Path, rgb: np.ndarray) -> Path:
    path = Path(path)
    if not cv2.imwrite(str(path), cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)):
        raise OSError(f"{path}: could not write PNG")
    return path
