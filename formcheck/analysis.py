"""From a clip's pose to a :class:`~formcheck.report.FormReport`: the analysis core.

clean -> view -> metrics -> lift -> reps -> rules -> guidance -> report.
Pure numpy/SciPy (no cv2, mediapipe or streamlit): the CLI and the app call
:func:`analyze_sequence` after the pose step.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from formcheck.cleaning import CleaningParams, clean
from formcheck.metrics import FrameMetrics, compute_frame_metrics, rep_height_signals, rep_scale_signal
from formcheck.repmetrics import RepMeasure
from formcheck.reps import RepParams, RepSegmentation, bar_height, segment_reps, without_reps
from formcheck.measures import article, borderline_sentence
from formcheck.report import FormReport, flag_message, guidance_block
from formcheck.rules import RuleResult, RuleSet, evaluate, load_rules
from formcheck.sanity import SanityResult, check_clip, not_judged
from formcheck.sequence import PoseSequence
from formcheck.spine import MaskSource, SpineEstimate, SpineParams, estimate_spine
from formcheck.views import LiftGuess, ViewInfo, classify_view, recognize_lift_by_reps

LIFT_CHOICES = ("auto", "squat", "deadlift")

#: Below this share of frames with a tracked lifter the clip is "no person found".
MIN_DETECTION_RATE = 0.2


@dataclass(frozen=True)
class Analysis:
    """Every intermediate of one clip's analysis, for reports, overlays and the app."""

    raw: PoseSequence
    sequence: PoseSequence
    view: ViewInfo | None
    metrics: FrameMetrics | None
    lift: str
    lift_guess: LiftGuess | None
    segmentation: RepSegmentation | None
    rules: RuleResult | None
    report: FormReport
    spine: SpineEstimate | None = None
    sanity: SanityResult | None = None

    @property
    def t_ms(self) -> np.ndarray:
        return self.sequence.t_ms

    def signals(self) -> dict[str, np.ndarray]:
        return metric_signals(self.metrics) if self.metrics is not None else {}

    def rep_of_frame(self) -> np.ndarray:
        """Per frame: the 1-based rep it belongs to, 0 outside counted reps."""
        out = np.zeros(self.sequence.n_frames, dtype=int)
        for r in self.report.reps:
            out[(self.t_ms >= r["start_ms"]) & (self.t_ms <= r["end_ms"])] = r["rep"]
        return out

    def partial_of_frame(self) -> np.ndarray:
        """Per frame: the 1-based partial rep it belongs to, 0 outside partial reps."""
        out = np.zeros(self.sequence.n_frames, dtype=int)
        for i, p in enumerate(self.report.partial_reps, start=1):
            if p["start_ms"] is not None:
                out[(self.t_ms >= p["start_ms"]) & (self.t_ms <= p["end_ms"])] = i
        return out


def metric_signals(m: FrameMetrics) -> dict[str, np.ndarray]:
    """The per-frame series of ``m`` by name (what the rules and the CSV use)."""
    out = {}
    for f in fields(m):
        v = getattr(m, f.name)
        if f.name != "t_ms" and isinstance(v, np.ndarray) and v.shape == m.t_ms.shape:
            out[f.name] = v
    return out


def _measure_dict(m: RepMeasure) -> dict[str, Any]:
    def num(x: float, nd: int = 3) -> float | None:
        return round(float(x), nd) if np.isfinite(x) else None

    return {"measure": m.name, "value": num(m.value), "units": m.units, "t_ms": num(m.t_ms, 1),
            "quality": num(m.quality, 2)}


def _rep_entries(seg: RepSegmentation, rules: RuleResult, seq: PoseSequence) -> list[dict[str, Any]]:
    reps = []
    for rep in seg.reps:
        mask = (seq.t_ms >= rep.start_ms) & (seq.t_ms <= rep.end_ms)
        rep_view = classify_view(seq, mask) if mask.sum() >= 3 else None
        reps.append({
            "rep": rep.index + 1,
            "start_ms": round(rep.start_ms, 1),
            "bottom_ms": round(rep.bottom_ms, 1),
            "end_ms": round(rep.end_ms, 1),
            "phases": [{"name": p.name, "start_ms": round(p.start_ms, 1), "end_ms": round(p.end_ms, 1)}
                       for p in rep.phases],
            "tempo_ms": {k: round(v, 1) for k, v in rep.tempo_ms.items()},
            "depth_norm": round(rep.depth_norm, 3),
            "view": rep_view.view if rep_view is not None else "unknown",
            "measures": {code: _measure_dict(m) for code, m in rules.measures.get(rep.index, {}).items()},
            "verdicts": dict(rules.rep_verdicts.get(rep.index, {})),
        })
    return reps


#: What a partial rep's user sees: (reason, lift, moving down?) -> words. "Down" is the descent of a
#: squat and the lowering of a deadlift; "up" the ascent and the pull.
_PARTIAL_WORDS = {
    ("clip start", "squat", True): "the clip starts during the descent",
    ("clip start", "squat", False): "the clip starts during the ascent",
    ("clip start", "deadlift", True): "the clip starts during the lowering",
    ("clip start", "deadlift", False): "the clip starts during the pull",
    ("clip end", "squat", True): "the clip ends during the descent",
    ("clip end", "squat", False): "the clip ends before the lifter stands up again",
    ("clip end", "deadlift", True): "the clip ends during the lowering",
    ("clip end", "deadlift", False): "the clip ends before lockout",
}


def _partial_entries(seg: RepSegmentation, t_ms: np.ndarray, height: np.ndarray) -> list[dict[str, Any]]:
    """The report's ``partial_reps``: span, reason and which part of the cycle the clip cut.

    The direction comes from the height signal the reps were counted on: when
    the clip starts, the lifter is moving down if the span's lowest point
    comes after its first tracked frame; when it ends, if the lowest point
    is its last tracked frame region (the height still falling).
    """
    out = []
    for span in seg.partial_reps:
        in_span = (t_ms >= span.start_ms) & (t_ms <= span.end_ms) & np.isfinite(height)
        idx = np.flatnonzero(in_span)
        reason = {"clip start": "clip_start", "clip end": "clip_end"}.get(span.reason, "gap")
        if span.reason == "gap" or idx.size < 2:
            text = ("the lifter was lost for part of this rep" if span.reason == "gap"
                    else f"the {'start' if span.reason == 'clip start' else 'end'} of the clip cuts this rep")
        else:
            h = height[idx]
            low = int(np.argmin(h))
            if span.reason == "clip start":
                down = low > 0 and h[0] - h[low] > 0.25 * (np.max(h) - h[low])
            else:
                down = low >= idx.size - 1 or h[-1] - h[low] < 0.25 * (np.max(h) - h[low])
            text = _PARTIAL_WORDS[(span.reason, seg.lift, bool(down))]
        out.append({"start_ms": round(span.start_ms, 1), "end_ms": round(span.end_ms, 1), "reason": reason,
                    "description": text})
    return out


def _flag_entries(rules: RuleResult) -> list[dict[str, Any]]:
    out = []
    for f in rules.flags:
        out.append({
            "code": f.code, "rep": f.rep + 1, "phase": f.phase, "t_ms": round(f.t_ms, 1), "frame": f.frame,
            "measured": f.measured, "limit": f.limit, "units": f.units, "severity": f.severity,
            "confidence": f.confidence, "measure": f.measure, "band": f.band,
            "message": flag_message(f.code, f.measured, f.limit, f.measure),
        })
    return out


def _borderline_entries(rules: RuleResult) -> list[dict[str, Any]]:
    """The report's ``borderline``: readings past the limit but within the measure's error band (not flags)."""
    return [{"code": b.code, "rep": b.rep + 1, "phase": b.phase, "t_ms": round(b.t_ms, 1), "frame": b.frame,
             "measured": b.measured, "limit": b.limit, "band": b.band, "units": b.units,
             "confidence": b.confidence, "measure": b.measure,
             "message": borderline_sentence(b.measure, b.measured, b.limit, b.band)} for b in rules.borderline]


#: id(raw sequence) -> (cleaning params, cleaned sequence, view, frame metrics), dropped when the raw sequence is.
_DERIVED: dict[int, tuple[Any, PoseSequence, ViewInfo | None, FrameMetrics | None]] = {}


def _cleaned(raw: PoseSequence, cleaning: CleaningParams | None
             ) -> tuple[PoseSequence, ViewInfo | None, FrameMetrics | None]:
    """``clean(raw)`` and, when a lifter was found, its view and frame metrics.

    Remembered while ``raw`` lives, so a second analysis of the same sequence (the pipeline's
    re-run after a bar-check veto) does not compute them again (about a third of an analysis).
    """
    hit = _DERIVED.get(id(raw))
    if hit is not None and hit[0] is cleaning:
        return hit[1], hit[2], hit[3]
    seq = clean(raw, cleaning)
    view = metrics = None
    if seq.n_frames and seq.detection_rate >= MIN_DETECTION_RATE:
        view = classify_view(seq)
        metrics = compute_frame_metrics(seq, view)
    if hit is None:
        weakref.finalize(raw, _DERIVED.pop, id(raw), None)
    _DERIVED[id(raw)] = (cleaning, seq, view, metrics)
    return seq, view, metrics


def analyze_sequence(
    raw: PoseSequence,
    *,
    lift: str = "auto",
    rules_paths: Mapping[str, str | Path | RuleSet] | None = None,
    source: Mapping[str, Any] | None = None,
    model: str = "",
    athlete: str = "",
    warnings: Sequence[str] = (),
    cleaning: CleaningParams | None = None,
    masks: MaskSource | None = None,
    spine_params: SpineParams | None = None,
    not_reps: Sequence[tuple[float, float]] = (),
    extra: Mapping[str, Any] | None = None,
) -> Analysis:
    """Analyse one clip's pose sequence.

    ``lift`` is ``"auto"`` (recognised from the movement) or the user's choice,
    which always wins. ``rules_paths`` may map a lift to a tuned TOML file or to its
    :class:`~formcheck.rules.RuleSet` already read (parsed once at the edge).
    ``masks`` (the lifter's silhouettes, one per frame of ``raw``) turn on the
    silhouette back-rounding estimate (:mod:`formcheck.spine`) on reps seen
    side-on; the rounded-back rules judge it alongside the landmark proxy.
    ``not_reps``: ``(bottom_ms, end_ms)`` of deadlift rises that an image check
    (:mod:`formcheck.barcheck`, run by the pipeline) found did not carry the
    bar; the reps with exactly those times are not counted. ``extra`` is
    merged into the report's ``extra``. ``cleaning`` None = the packaged
    :meth:`CleaningParams.packaged <formcheck.cleaning.CleaningParams.packaged>`.
    "No person found" and "no complete rep" come back as a report status.
    """
    if lift not in LIFT_CHOICES:
        raise ValueError(f"lift: expected one of {', '.join(LIFT_CHOICES)}, got {lift!r}")
    rules_paths = dict(rules_paths or {})
    source = dict(source or {})
    warnings = list(warnings)
    seq, view, metrics = _cleaned(raw, cleaning)
    lift_source = "auto" if lift == "auto" else "user"

    if seq.n_frames == 0 or seq.detection_rate < MIN_DETECTION_RATE:
        chosen = lift if lift != "auto" else "unknown"
        verdicts, reasons = {}, {}
        if chosen != "unknown":
            for code in load_rules(chosen, rules_paths.get(chosen)).codes:
                verdicts[code], reasons[code] = "not_assessable", "no person was found"
        report = FormReport(
            source=source, status="no_person", lift=chosen, lift_source=lift_source, lift_confidence=None,
            view="unknown", facing="camera", view_confidence=None, detection_rate=round(seq.detection_rate, 3),
            rep_count=0, partial_reps=[], reps=[], flags=[], verdicts=verdicts, not_assessable=reasons,
            guidance=guidance_block([], chosen), model=model, warnings=warnings, athlete=athlete,
        )
        return Analysis(raw, seq, None, None, chosen, None, None, None, report)

    assert view is not None and metrics is not None  # computed by _cleaned whenever a lifter was found
    # reps come from the uncleaned landmarks: see rep_height_signals for why
    hip_h, wrist_h = rep_height_signals(raw)
    guess = recognize_lift_by_reps(seq, metrics, _movement_cycles(raw.t_ms, hip_h))
    chosen = guess.lift if lift == "auto" else lift
    if lift != "auto" and guess.lift != lift and guess.confidence >= 0.8:
        warnings.append(f"this looks like a {guess.lift} ({guess.reason}); analysed as a {lift} as you asked")
    if seq.detection_rate < 0.8:
        warnings.append(f"the lifter was tracked in only {seq.detection_rate:.0%} of frames")

    # an upside-down, sideways, cut-off or never-upright lifter: a warning and no fault verdicts (formcheck.sanity)
    sanity = check_clip(seq, metrics.hip_height_norm, metrics.trunk_deg)
    warnings.extend(pr.reason for pr in sanity.problems)

    seg = segment_signals(raw.t_ms, hip_h, wrist_h, chosen, rep_scale_signal(raw))
    if sanity.drops_reps:  # the "heights" the reps follow are not heights
        seg = replace(seg, reps=(), partial_reps=(), ignored=())
    if chosen == "deadlift":
        seg = drop_not_reps(seg, not_reps)
    # the silhouette is read per rep, only where that rep is seen side-on (formcheck.spine, min_yaw_deg)
    spine, spine_note = _spine(seq, view, metrics, masks, spine_params, _rep_yaw(seq, view, seg))
    if spine is not None:
        metrics = metrics.with_spine_flexion(spine.flexion_deg)
    ruleset = load_rules(chosen, rules_paths.get(chosen))
    signals = metric_signals(metrics)
    result = evaluate(ruleset, seq.t_ms, signals, list(seg.reps), view.view, notes=metrics.notes)
    if not sanity.ok:
        result = not_judged(result, sanity.reason)
    reads_outline = any(r.measure in ("spine_flexion_loaded", "spine_flexion_vs_set") for r in ruleset.rules.get("rounded_back", ()))
    if reads_outline and not spine_note["used"] and result.verdicts.get("rounded_back") in ("clear", "borderline", "flagged"):
        # say what the "clear" rests on: the head proxy cannot see a rounded lower back with the head held up
        warnings.append(f"rounded back judged from the head's position only ({spine_note['reason']}): a rounded "
                        "lower back with the head held up can go unflagged; film square from the side")

    status = "ok" if seg.count else "no_complete_rep"
    flags = _flag_entries(result)
    flagged = list(dict.fromkeys(f["code"] for f in flags))
    report = FormReport(
        source=source, status=status, lift=chosen, lift_source=lift_source,
        lift_confidence=round(guess.confidence, 2) if lift == "auto" else None,
        view=view.view, facing=view.facing, view_confidence=round(view.confidence, 2),
        detection_rate=round(seq.detection_rate, 3), rep_count=seg.count,
        partial_reps=_partial_entries(seg, raw.t_ms, bar_height(hip_h, wrist_h) if seg.signal == "aux" else hip_h),
        reps=_rep_entries(seg, result, seq), flags=flags, verdicts=dict(result.verdicts),
        not_assessable=dict(result.reasons), guidance=guidance_block(flagged, chosen),
        borderline=_borderline_entries(result), model=model,
        warnings=warnings, athlete=athlete,
        extra={"lift_reason": guess.reason, "spine": spine_note, "sanity": sanity.to_dict(),
               "ignored": [{"start_ms": round(s.start_ms, 1), "end_ms": round(s.end_ms, 1), "reason": s.reason}
                           for s in seg.ignored],
               **dict(extra or {})},
    )
    return Analysis(raw, seq, view, metrics, chosen, guess, seg, result, report, spine, sanity)


def drop_not_reps(seg: RepSegmentation, not_reps: Sequence[tuple[float, float]]) -> RepSegmentation:
    """``seg`` without the counted reps whose ``(bottom_ms, end_ms)`` is one of ``not_reps`` (within 1 ms).

    What :func:`analyze_sequence` does with the rises the pipeline's image bar check vetoed
    (:func:`formcheck.barcheck.vetoed_spans`); the removed reps become ``ignored`` spans.
    """
    if not not_reps:
        return seg
    return without_reps(seg, [r.index for r in seg.reps
                              if any(abs(r.bottom_ms - b) <= 1.0 and abs(r.end_ms - e) <= 1.0 for b, e in not_reps)])


def segment_sequence(raw: PoseSequence, lift: str) -> RepSegmentation:
    """The rep segmentation of a clip's pose sequence as ``lift`` (what :func:`analyze_sequence` counts).

    From the *uncleaned* landmarks (see :func:`formcheck.metrics.rep_height_signals` for why): the
    hip height, and for deadlifts the hands' height too.
    """
    hip_h, wrist_h = rep_height_signals(raw)
    return segment_signals(raw.t_ms, hip_h, wrist_h, lift, rep_scale_signal(raw))


def segment_signals(t_ms: np.ndarray, hip_h: np.ndarray, wrist_h: np.ndarray, lift: str,
                    scale: np.ndarray | None = None) -> RepSegmentation:
    """Reps of ``lift`` from :func:`formcheck.metrics.rep_height_signals` (the hands only for deadlifts) and
    :func:`formcheck.metrics.rep_scale_signal` (the lifter's size in the picture: walking is not a rep)."""
    return segment_reps(t_ms, hip_h, lift, aux_signal=wrist_h if lift == "deadlift" else None, scale_signal=scale)


def _movement_cycles(t_ms: np.ndarray, hip_h: np.ndarray) -> list[np.ndarray]:
    """Frame masks of the down-and-up cycles of the hips, found before the lift is known.

    The squat's counting rules on the hip height (complete cycles only), with
    no split at edits: a descent cut by an edit to the lifter standing in the
    next shot is no rep, but it shows how the lifter goes down (a tutorial's
    clearest squat may be the one its fade cuts). A deadlift's pulls are such
    cycles too, with their lowering, so every lift gives its reps here for
    :func:`recognize_lift_by_reps`.
    """
    seg = segment_reps(t_ms, hip_h, "squat", replace(RepParams.packaged(), cut_jump_norm=1e9))
    return [(t_ms >= r.start_ms) & (t_ms <= r.end_ms) for r in seg.reps]


def _rep_yaw(seq: PoseSequence, view: ViewInfo, seg: RepSegmentation) -> np.ndarray:
    """Per frame, the camera's yaw to the lifter (90 = side-on): of the frame's rep, else of the whole clip."""
    yaw = np.full(seq.n_frames, view.yaw_deg)
    for rep in seg.reps:
        mask = (seq.t_ms >= rep.start_ms) & (seq.t_ms <= rep.end_ms)
        if mask.sum() >= 3:
            yaw[mask] = classify_view(seq, mask).yaw_deg
    return yaw


def _spine(seq: PoseSequence, view: ViewInfo, metrics: FrameMetrics, masks: MaskSource | None,
           params: SpineParams | None, yaw_deg: np.ndarray) -> tuple[SpineEstimate | None, dict[str, Any]]:
    """The silhouette estimate when the masks and the view allow it, and a note for the report."""
    if masks is None:
        return None, {"used": False, "reason": "no silhouette was extracted"}
    if view.view not in ("side", "oblique") or view.facing_sign == 0:
        return None, {"used": False, "reason": f"the back's outline is not visible from {article(view.view)} {view.view} view"}
    est = estimate_spine(seq.t_ms, seq.xy_px, seq.visibility, masks, view.facing_sign, metrics.trunk_deg, params,
                         yaw_deg=yaw_deg)
    if not np.isfinite(est.flexion_deg).any():
        reason = ("the camera is not side-on enough to see the back's profile"
                  if est.rejected.get("not_side_on", 0) >= est.n_frames - est.rejected.get("no_mask", 0)
                  else "the back's outline could not be read in any frame")
        return None, {"used": False, "reason": reason, **est.summary()}
    return est, {"used": True, **est.summary()}
