"""Rep-level measures: one number per rep and fault, with the moment it was worst.

Each measure reduces the per-frame metric series (see :mod:`formcheck.metrics`)
over one phase window of one rep. Fault rules (:mod:`formcheck.rules`) compare
these numbers with the limits in ``formcheck/config/<lift>.toml``.

Robustness
----------
Per-frame reductions use a *sustained* extreme: the largest value that was held
for at least ``sustain_ms`` (the maximum over time of a running minimum over a
``sustain_ms`` window). A single jittery frame therefore never sets the value.

Conventions
-----------
- Signals are a mapping ``name -> (N,) array`` aligned with ``t_ms``; NaN where
  not measured. Names and meanings are those of :class:`formcheck.metrics.FrameMetrics`.
- Every measure has units (``deg``, ``thigh`` = thigh lengths, ``ratio``,
  ``foot`` = foot lengths, ``leg`` = leg lengths) that the rule keys repeat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Mapping, Protocol, Sequence

import numpy as np

Signals = Mapping[str, np.ndarray]


class PhaseLike(Protocol):
    name: str
    start_ms: float
    end_ms: float


class RepLike(Protocol):
    index: int
    start_ms: float
    bottom_ms: float
    end_ms: float
    phases: Sequence[PhaseLike]


@dataclass(frozen=True)
class RepMeasure:
    """One rep's value of one measure.

    ``value`` is NaN when the rep gives nothing to measure (e.g. landmarks lost
    in the window); ``t_ms`` is the worst moment (NaN with it); ``quality`` is
    the mean tracking quality (0..1) of the frames used.
    """

    name: str
    value: float
    units: str
    t_ms: float
    phase: str
    quality: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.quality <= 1.0 and not np.isnan(self.quality):
            raise ValueError(f"{self.name}: quality expected in [0, 1], got {self.quality}")


def sustained_extreme(t_ms: np.ndarray, x: np.ndarray, sustain_ms: float, mode: str) -> tuple[float, float]:
    """Largest (``mode="max"``) or smallest (``"min"``) value held for ``sustain_ms``.

    Returns ``(value, t_ms_of_worst)``; ``(nan, nan)`` when ``x`` has no finite
    value. For ``max`` the value is ``max_t min(x[t : t + sustain_ms])`` over the
    finite samples; windows are measured on the timestamps, so variable frame
    rates are handled. With ``sustain_ms <= 0`` it is the plain extreme.
    """
    if mode not in ("max", "min"):
        raise ValueError(f"mode: expected 'max' or 'min', got {mode!r}")
    ok = np.isfinite(x)
    if not ok.any():
        return float("nan"), float("nan")
    t, v = t_ms[ok], x[ok]
    sign = 1.0 if mode == "max" else -1.0
    v = sign * v
    if sustain_ms <= 0 or len(v) == 1:
        i = int(np.argmax(v))
        return float(sign * v[i]), float(t[i])
    if t[-1] - t[0] < sustain_ms:
        # shorter than the sustain time: what was held throughout is the minimum
        i = int(np.argmin(v))
        return float(sign * v[i]), float(t[i])
    best, best_t = -np.inf, float("nan")
    j = 0
    for i in range(len(v)):
        if t[i] + sustain_ms > t[-1]:
            break  # windows must be complete: a spike in the last frame is not "held"
        while j < len(v) and t[j] <= t[i] + sustain_ms:
            j += 1
        window = v[i:j]
        k = int(np.argmin(window))
        if window[k] > best:
            # the worst moment is the peak inside the best held window
            best, best_t = float(window[k]), float(t[i + int(np.argmax(window))])
    return float(sign * best), best_t


def _window(t_ms: np.ndarray, start_ms: float, end_ms: float) -> np.ndarray:
    return (t_ms >= start_ms) & (t_ms <= end_ms)


def _phase_span(rep: RepLike, names: Sequence[str]) -> tuple[float, float, str]:
    """Union time span of the named phases of ``rep`` (falls back to the whole rep)."""
    spans = [(p.start_ms, p.end_ms) for p in rep.phases if p.name in names]
    if not spans:
        return float(rep.start_ms), float(rep.end_ms), "rep"
    return min(s for s, _ in spans), max(e for _, e in spans), "+".join(n for n in names if any(p.name == n for p in rep.phases))


def _quality(signals: Signals, mask: np.ndarray) -> float:
    q = signals.get("quality")
    if q is None or not mask.any():
        return 0.0 if not mask.any() else 1.0
    v = q[mask]
    v = v[np.isfinite(v)]
    return float(np.clip(v.mean(), 0.0, 1.0)) if v.size else 0.0


@dataclass(frozen=True)
class MeasureSpec:
    """How a measure reduces a signal (see the module docstring)."""

    signal: str
    units: str
    reduce: str  # "max" | "min" | "neg_min" (the most negative value, reported positive)
    phases: tuple[str, ...]


def _lost_ms(t_ms: np.ndarray, quality: np.ndarray | None) -> float:
    """Longest stretch (ms, between the seen frames around it) with no lifter (quality 0) in a window."""
    if quality is None or t_ms.size < 2:
        return 0.0
    seen = np.flatnonzero(quality > 0.0)
    if seen.size < 2:
        return float(t_ms[-1] - t_ms[0])
    return float(np.max(np.diff(t_ms[seen]), initial=0.0))


def _reduce_signal(spec: MeasureSpec, name: str, t_ms: np.ndarray, signals: Signals, rep: RepLike,
                   sustain_ms: float) -> RepMeasure:
    from formcheck.reps import RepParams

    start, end, phase = _phase_span(rep, spec.phases)
    mask = _window(t_ms, start, end)
    x = signals.get(spec.signal)
    if x is None or not mask.any():
        return RepMeasure(name, float("nan"), spec.units, float("nan"), phase, 0.0)
    q = signals.get("quality")
    if _lost_ms(t_ms[mask], None if q is None else q[mask]) > RepParams.packaged().max_gap_ms:
        # the lifter was out of sight longer than a brief occlusion (a hidden bottom the reps bridged):
        # the extreme may have happened there, so the rep is not judged on it
        return RepMeasure(name, float("nan"), spec.units, float("nan"), phase, 0.0)
    if spec.reduce == "neg_min":
        value, t = sustained_extreme(t_ms[mask], -x[mask], sustain_ms, "max")
    else:
        value, t = sustained_extreme(t_ms[mask], x[mask], sustain_ms, spec.reduce)
    return RepMeasure(name, value, spec.units, t, phase, _quality(signals, mask))


#: Measures that are a sustained extreme of one per-frame signal over some phases.
#: Phase names: squat descent/bottom/ascent; deadlift pull/lockout/lowering.
SIGNAL_MEASURES: dict[str, MeasureSpec] = {
    # forward lean: the most the trunk leaned forward (0 = upright), squat
    "trunk_lean_max": MeasureSpec("trunk_deg", "deg", "max", ("descent", "bottom", "ascent")),
    # depth: the lowest the hip got relative to the knee (+ = above the knee), squat
    "depth_min": MeasureSpec("depth_thigh", "thigh", "min", ("descent", "bottom", "ascent")),
    # knee cave: the narrowest knees-over-ankles ratio (1 = knees over ankles), squat and deadlift
    "knee_ankle_ratio_min": MeasureSpec("knee_ankle_ratio", "ratio", "min", ("bottom", "ascent", "pull")),
    # heels: the highest the heel rose above its standing level
    "heel_rise_max": MeasureSpec("heel_rise_norm", "foot", "max", ("descent", "bottom", "ascent", "pull")),
    # bar drift: how far the hands got in front of mid-foot during the pull
    "bar_offset_max": MeasureSpec("bar_x_offset_norm", "thigh", "max", ("pull",)),
    # lean-back at lockout: the most the trunk leaned behind vertical (reported positive)
    "lockout_lean_back": MeasureSpec("trunk_deg", "deg", "neg_min", ("lockout",)),
    # back rounding, landmark proxy (relative to the lifter's own set-up)
    "back_rounding_proxy_max": MeasureSpec("back_rounding_proxy", "deg", "max", ("descent", "bottom", "ascent", "pull")),
    # back rounding from the silhouette, when available (relative to the lifter's own set-up)
    "spine_flexion_max": MeasureSpec("spine_flexion_deg", "deg", "max", ("descent", "bottom", "ascent", "pull")),
}


def hips_rise_ratio(t_ms: np.ndarray, signals: Signals, rep: RepLike, *, early_fraction: float,
                    min_shoulder_rise_leg: float = 0.01, cap_ratio: float = 5.0) -> RepMeasure:
    """Hip rise over shoulder rise in the first part of the ascent (squat) or pull (deadlift).

    Notes
    -----
    Heights are ``hip_height_norm`` and ``shoulder_height_norm`` (leg lengths
    above the ankles). Over the first ``early_fraction`` of the ascent/pull
    *time*, ratio = hip rise / shoulder rise. 1 means hips and shoulders rose
    together; above 1 the hips led ("hips shooting up"), which tips the trunk
    forward and hands the load to the lower back. Shoulder rises below
    ``min_shoulder_rise_leg`` are clamped to it so a stalled chest gives a large
    finite ratio, capped at ``cap_ratio``. The worst moment is the end of the
    early window.
    """
    names = ("ascent",) if any(p.name == "ascent" for p in rep.phases) else ("pull",)
    start, end, phase = _phase_span(rep, names)
    if not end > start:
        return RepMeasure("hips_rise_ratio", float("nan"), "ratio", float("nan"), phase, 0.0)
    t_end = start + early_fraction * (end - start)
    hip, sh = signals.get("hip_height_norm"), signals.get("shoulder_height_norm")
    mask = _window(t_ms, start, t_end)
    if hip is None or sh is None or mask.sum() < 2:
        return RepMeasure("hips_rise_ratio", float("nan"), "ratio", float("nan"), phase, 0.0)

    def at(x: np.ndarray, t: float) -> float:
        ok = np.isfinite(x)
        if ok.sum() < 2:
            return float("nan")
        return float(np.interp(t, t_ms[ok], x[ok]))

    d_hip = at(hip, t_end) - at(hip, start)
    d_sh = at(sh, t_end) - at(sh, start)
    if not (np.isfinite(d_hip) and np.isfinite(d_sh)):
        return RepMeasure("hips_rise_ratio", float("nan"), "ratio", float("nan"), phase, 0.0)
    ratio = d_hip / max(d_sh, min_shoulder_rise_leg)
    ratio = float(np.clip(ratio, -cap_ratio, cap_ratio))
    return RepMeasure("hips_rise_ratio", ratio, "ratio", float(t_end), phase, _quality(signals, mask))


def start_depth(t_ms: np.ndarray, signals: Signals, rep: RepLike, *, around_ms: float = 150.0) -> RepMeasure:
    """Deadlift: hip height over the knee (thigh lengths) when the pull starts.

    Notes
    -----
    Measured at ``rep.bottom_ms`` (the last moment with the weight on the floor),
    as the median of ``depth_thigh`` within ``around_ms`` of it. + = hip above
    the knee. A conventional pull starts with the hips well above the knees;
    a value near 0 means the lifter squatted the bar up.
    """
    mask = _window(t_ms, rep.bottom_ms - around_ms, rep.bottom_ms + around_ms)
    x = signals.get("depth_thigh")
    if x is None or not mask.any() or not np.isfinite(x[mask]).any():
        return RepMeasure("start_depth", float("nan"), "thigh", float("nan"), "pull", 0.0)
    return RepMeasure("start_depth", float(np.nanmedian(x[mask])), "thigh", float(rep.bottom_ms), "pull",
                      _quality(signals, mask))


def top_extension(t_ms: np.ndarray, signals: Signals, rep: RepLike, *, signal: str = "hip_deg",
                  sustain_ms: float = 150.0, top_pad_ms: float = 600.0) -> RepMeasure:
    """Straightest hip (or knee) angle reached at the top of the rep (180 = straight).

    Notes
    -----
    Deadlift: over the lockout phase, widened by ``top_pad_ms`` after it (when
    the segmentation found no lockout hold, the window is the ``top_pad_ms``
    after ``end_ms``). Squat: the standing moments of the rep, i.e. its first
    and last 10% and the ``top_pad_ms`` after ``end_ms`` (never before
    ``start_ms``: a flag's moment belongs to its own rep). The value is the straightest angle *held* for
    ``sustain_ms``; a lifter who never stands up keeps it well below 180.
    """
    span = rep.end_ms - rep.start_ms
    if any(p.name == "lockout" for p in rep.phases):
        start, end, phase = _phase_span(rep, ("lockout",))
        mask = _window(t_ms, rep.end_ms - 0.1 * span, end + top_pad_ms)
        phase = "lockout"
    elif any(p.name == "pull" for p in rep.phases):
        mask = _window(t_ms, rep.end_ms - 0.1 * span, rep.end_ms + top_pad_ms)
        phase = "lockout"
    else:
        # never before the rep's start: a flag's moment belongs to its own rep
        mask = (_window(t_ms, rep.start_ms, rep.start_ms + 0.1 * span)
                | _window(t_ms, rep.end_ms - 0.1 * span, rep.end_ms + top_pad_ms))
        phase = "top"
    x = signals.get(signal)
    if x is None or not mask.any():
        return RepMeasure("top_extension", float("nan"), "deg", float("nan"), phase, 0.0)
    value, t = sustained_extreme(t_ms[mask], x[mask], sustain_ms, "max")
    return RepMeasure("top_extension", value, "deg", t, phase, _quality(signals, mask))


# ---------------------------------------------------------------------------- set position and lift-off
#
# Several measures compare a moment of the rep with the lifter's *set position*:
# the posture at the bottom (squat) or on the floor (deadlift) just before the
# hips start to rise. Rep boundaries come from the hip-height signal, so in a
# pull where the hips shoot up the detected start of the pull is already late;
# the set position is therefore found from the hips themselves: the lowest hip
# shortly before (``lookback_ms``) or early in the ascent/pull, and the frames
# whose hip stays within ``band_leg`` leg lengths of it until the hips have
# completed ``onset_fraction`` of their rise.


def _rise_span(rep: RepLike) -> tuple[float, float, str]:
    """The ascent (squat) or pull (deadlift) of ``rep``: ``(start_ms, end_ms, phase name)``."""
    names = ("ascent",) if any(p.name == "ascent" for p in rep.phases) else ("pull",)
    return _phase_span(rep, names)


def _median_where(x: np.ndarray | None, mask: np.ndarray) -> float:
    if x is None:
        return float("nan")
    v = x[mask & np.isfinite(x)]
    return float(np.median(v)) if v.size else float("nan")


@dataclass(frozen=True)
class _SetAndRise:
    """The set position of one rep and the moments its hips pass fractions of their rise."""

    set_mask: np.ndarray   # frames of the set position (hips within the band of their lowest point)
    t_set: float           # time of the lowest hip
    t_onset: float         # hips have done ``onset_fraction`` of their rise
    t_finish: float        # hips have done ``finish_fraction`` of their rise
    quality_mask: np.ndarray


#: A "set position" whose trunk is closer to vertical than this (or leans back) is a lifter standing,
#: not set at the bottom of a squat or at a bar on the floor: the segmentation's rep is not a real
#: rep there (e.g. a bar put down and the lifter straightening up), so nothing is measured.
MIN_SET_TRUNK_DEG = 5.0


def _set_and_rise(t_ms: np.ndarray, signals: Signals, rep: RepLike, *, lookback_ms: float, band_leg: float,
                  onset_fraction: float, finish_fraction: float, top_pad_ms: float) -> _SetAndRise | None:
    """Find the set position and the hip-rise milestones.

    None when the hips were not tracked, never rose, or the "set position"
    is an upright stance (trunk within :data:`MIN_SET_TRUNK_DEG` of vertical
    or leaning back).
    """
    start, end, _ = _rise_span(rep)
    hip = signals.get("hip_height_norm")
    if hip is None or not end > start:
        return None
    floor = [p.start_ms for p in rep.phases if p.name in ("floor", "bottom")]
    lo = max(min([rep.bottom_ms, start, *floor]) - 100.0, start - lookback_ms)
    w = _window(t_ms, lo, start + 0.3 * (end - start)) & np.isfinite(hip)
    if w.sum() < 2:
        return None
    idx = np.flatnonzero(w)
    ib = int(idx[np.argmin(hip[idx])])
    near = _window(t_ms, t_ms[ib] - 100.0, t_ms[ib] + 100.0) & np.isfinite(hip)
    h_bottom = float(np.median(hip[near]))
    after = _window(t_ms, t_ms[ib], end + top_pad_ms) & np.isfinite(hip)
    h_top = float(np.max(hip[after]))
    if not h_top > h_bottom:
        return None
    after_idx = np.flatnonzero(after)

    def reached(frac: float) -> float:
        k = after_idx[hip[after_idx] >= h_bottom + frac * (h_top - h_bottom)]
        return float(t_ms[k[0]]) if k.size else float("nan")

    t_on, t_fin = reached(onset_fraction), reached(finish_fraction)
    if not (np.isfinite(t_on) and np.isfinite(t_fin)) or t_fin <= t_on:
        return None
    set_mask = w & (hip <= hip[ib] + band_leg) & (t_ms <= t_on)
    if not set_mask.any():
        set_mask = near
    if not _median_where(signals.get("trunk_deg"), set_mask) >= MIN_SET_TRUNK_DEG:
        return None
    return _SetAndRise(set_mask, float(t_ms[ib]), t_on, t_fin, _window(t_ms, lo, t_fin))


def hip_rise_trunk_tip(t_ms: np.ndarray, signals: Signals, rep: RepLike, *, onset_fraction: float = 0.2,
                       finish_fraction: float = 0.95, lookback_ms: float = 300.0, band_leg: float = 0.03,
                       sustain_ms: float = 100.0, top_pad_ms: float = 500.0,
                       min_set_hip_leg: float = 0.0) -> RepMeasure:
    """Hips rising early: how far the trunk tipped forward while the hips rose (deg).

    Notes
    -----
    When the hips rise faster than the shoulders the trunk line (hip to
    shoulder) tips toward horizontal; when they rise together it holds its
    angle or straightens. The value is the largest trunk lean (``trunk_deg``)
    held for ``sustain_ms`` while the hips go from ``onset_fraction`` to
    ``finish_fraction`` of their rise, minus the trunk lean in the set
    position (median over the set frames, see the section comment above).
    0 = the trunk never leaned further forward than at the set-up, + = it
    tipped forward by this many degrees (the knees straightened first and the
    chest stayed down), - cannot occur in a normal rep except through noise
    (the trunk straightens as it rises). Worst moment: the peak lean.
    Same definition for the squat (out of the hole) and the deadlift (off the
    floor). Heights are ``hip_height_norm``; a clip whose hips are not tracked
    (plates hiding them) gives NaN, and so does a rep whose lowest set-position
    hip lies less than ``min_set_hip_leg`` leg lengths above the ankles: no
    lifter sets up with the hips there, so the landmark was lost (behind a
    plate) and its jump back would read as the hips shooting up. 0 = no check.
    """
    _, _, phase = _rise_span(rep)
    nan = RepMeasure("hip_rise_trunk_tip", float("nan"), "deg", float("nan"), phase, 0.0)
    x = signals.get("trunk_deg")
    sr = _set_and_rise(t_ms, signals, rep, lookback_ms=lookback_ms, band_leg=band_leg,
                       onset_fraction=onset_fraction, finish_fraction=finish_fraction, top_pad_ms=top_pad_ms)
    if x is None or sr is None:
        return nan
    hip = signals["hip_height_norm"]
    if min_set_hip_leg > 0 and not hip[int(np.argmin(np.abs(t_ms - sr.t_set)))] >= min_set_hip_leg:
        return nan
    x0 = _median_where(x, sr.set_mask)
    m = _window(t_ms, sr.t_onset, sr.t_finish)
    peak, t_peak = sustained_extreme(t_ms[m], x[m], sustain_ms, "max")
    if not (np.isfinite(x0) and np.isfinite(peak)):
        return nan
    return RepMeasure("hip_rise_trunk_tip", peak - x0, "deg", t_peak, phase, _quality(signals, sr.quality_mask))


def start_trunk_lean(t_ms: np.ndarray, signals: Signals, rep: RepLike, *, lookback_ms: float = 300.0,
                     band_leg: float = 0.03, onset_fraction: float = 0.2, top_pad_ms: float = 500.0) -> RepMeasure:
    """Deadlift: trunk lean in the set position, just before the pull (deg from vertical).

    Notes
    -----
    Median of ``trunk_deg`` over the set frames (see the section comment
    above). 0 = upright, 90 = horizontal. To reach a bar or bell on the floor
    with straight arms a hip hinge tips the trunk well forward (35-70 deg on
    the labelled real pulls, depending on build and implement); a trunk held
    near upright at the floor means the lifter sat down into a squat to reach
    it ("squatting the pull"). Worst moment: the lowest hip.
    """
    _, _, phase = _rise_span(rep)
    x = signals.get("trunk_deg")
    sr = _set_and_rise(t_ms, signals, rep, lookback_ms=lookback_ms, band_leg=band_leg,
                       onset_fraction=onset_fraction, finish_fraction=0.95, top_pad_ms=top_pad_ms)
    if x is None or sr is None:
        return RepMeasure("start_trunk_lean", float("nan"), "deg", float("nan"), phase, 0.0)
    return RepMeasure("start_trunk_lean", _median_where(x, sr.set_mask), "deg", sr.t_set, phase,
                      _quality(signals, sr.set_mask))


def bar_drift_from_start(t_ms: np.ndarray, signals: Signals, rep: RepLike, *, sustain_ms: float = 200.0,
                         lookback_ms: float = 300.0, band_leg: float = 0.03, onset_fraction: float = 0.2,
                         top_pad_ms: float = 500.0) -> RepMeasure:
    """Deadlift: how far the hands (the bar) moved forward of where they were at the set-up (thigh lengths).

    Notes
    -----
    ``bar_x_offset_norm`` (hands ahead of mid-foot, thigh lengths) held for
    ``sustain_ms`` at its most forward during the pull (hips from
    ``onset_fraction`` of their rise to the end of the pull), minus its value
    in the set position. 0 = the bar went straight up from where it was set,
    + = it swung forward, away from the legs, - = it came back toward the
    body. Judging the drift against the lifter's own set-up removes the
    uncertainty of the mid-foot landmark (feet are often hidden by the
    plates) and the build (arm length, grip). A bar *set up* too far forward
    is not measured here.
    """
    start, end, phase = _rise_span(rep)
    x = signals.get("bar_x_offset_norm")
    sr = _set_and_rise(t_ms, signals, rep, lookback_ms=lookback_ms, band_leg=band_leg,
                       onset_fraction=onset_fraction, finish_fraction=0.95, top_pad_ms=top_pad_ms)
    if x is None or sr is None:
        return RepMeasure("bar_drift_from_start", float("nan"), "thigh", float("nan"), phase, 0.0)
    x0 = _median_where(x, sr.set_mask)
    m = _window(t_ms, sr.t_onset, end)
    peak, t_peak = sustained_extreme(t_ms[m], x[m], sustain_ms, "max")
    return RepMeasure("bar_drift_from_start", peak - x0, "thigh", t_peak, phase, _quality(signals, m | sr.set_mask))


def _loaded_window(t_ms: np.ndarray, rep: RepLike, before_ms: float, rise_fraction: float) -> tuple[np.ndarray, str]:
    """The loaded bottom of a rep: from ``before_ms`` before the bottom (floor) phase to ``rise_fraction`` of the ascent/pull."""
    start, end, phase = _rise_span(rep)
    floor = [p.start_ms for p in rep.phases if p.name in ("floor", "bottom")]
    lo = min([rep.bottom_ms, start, *floor]) - before_ms
    return _window(t_ms, lo, start + rise_fraction * (end - start)), phase


def head_drop_max(t_ms: np.ndarray, signals: Signals, rep: RepLike, *, before_ms: float = 100.0,
                  rise_fraction: float = 0.6, sustain_ms: float = 200.0, min_trunk_deg: float = 20.0) -> RepMeasure:
    """Back rounding, landmark proxy: how far the ears dropped below the trunk line at the loaded bottom (deg).

    Notes
    -----
    The sustained (``sustain_ms``) maximum of ``back_rounding_proxy`` (the
    angle between the hip-to-shoulder line and the shoulder-to-ear line,
    relative to the lifter's own standing frames; + = ears dropped forward of
    the trunk line) from ``before_ms`` before the bottom/floor phase until
    ``rise_fraction`` of the ascent/pull: the set position, the bottom and
    the first part of the way up, where a rounded back carries the load.
    The lowering before the floor is left out on purpose: in a deadlift it
    belongs to the previous pull. Only frames whose trunk leans at least
    ``min_trunk_deg`` forward count: with the trunk near upright the back is
    not loaded in flexion and the angle only says where the lifter looks; a
    rep with no such frame is NaN (not assessable).

    What it sees: upper-back (thoracic) rounding with the head hanging, the
    "C-shaped" back with the shoulders rolled forward. Lifters who hinge with
    a neutral spine keep the ears on or above the trunk line (they look ahead
    or keep a packed neck: 0 to -50 deg on the labelled real reps). What it
    cannot see: lumbar flexion (it barely moves any landmark), and upper-back
    rounding with the head held up. Gaze matters: tucking the chin hard reads
    like rounding.
    """
    m, phase = _loaded_window(t_ms, rep, before_ms, rise_fraction)
    x, trunk = signals.get("back_rounding_proxy"), signals.get("trunk_deg")
    if trunk is not None:
        with np.errstate(invalid="ignore"):
            m = m & (trunk >= min_trunk_deg)
    if x is None or not m.any():
        return RepMeasure("head_drop_max", float("nan"), "deg", float("nan"), phase, 0.0)
    v, t = sustained_extreme(t_ms[m], x[m], sustain_ms, "max")
    return RepMeasure("head_drop_max", v, "deg", t, phase, _quality(signals, m))


def spine_flexion_loaded(t_ms: np.ndarray, signals: Signals, rep: RepLike, *, before_ms: float = 100.0,
                         rise_fraction: float = 0.6, sustain_ms: float = 200.0) -> RepMeasure:
    """Back rounding from the silhouette (``spine_flexion_deg``, deg of bend past its neutral) at the loaded bottom.

    Notes
    -----
    Same window and reduction as :func:`head_drop_max`; NaN while no
    silhouette estimator fills ``spine_flexion_deg``.
    """
    m, phase = _loaded_window(t_ms, rep, before_ms, rise_fraction)
    x = signals.get("spine_flexion_deg")
    if x is None or not m.any():
        return RepMeasure("spine_flexion_loaded", float("nan"), "deg", float("nan"), phase, 0.0)
    v, t = sustained_extreme(t_ms[m], x[m], sustain_ms, "max")
    return RepMeasure("spine_flexion_loaded", v, "deg", t, phase, _quality(signals, m))


def spine_flexion_vs_set(t_ms: np.ndarray, signals: Signals, rep: RepLike, *, before_ms: float = 100.0,
                         rise_fraction: float = 0.6, sustain_ms: float = 200.0) -> RepMeasure:
    """Back rounding from the silhouette against the set's own typical rep (deg), before the set is known.

    Notes
    -----
    Per rep this is :func:`spine_flexion_loaded` under its own name; the
    measure is one of :data:`SET_RELATIVE_MEASURES`, so the rule engine
    (:func:`formcheck.rules.evaluate`) subtracts the median of the set's
    readings (:func:`relative_to_set`) before judging it. 0 = the set's
    median rep; + = this rep's outline bowed further out than the lifter's
    typical rep. Whatever shifts every rep of a clip alike (clothing, the
    lifter's build, how hollow the back stands) cancels out.
    """
    m = spine_flexion_loaded(t_ms, signals, rep, before_ms=before_ms, rise_fraction=rise_fraction,
                             sustain_ms=sustain_ms)
    return RepMeasure("spine_flexion_vs_set", m.value, m.units, m.t_ms, m.phase, m.quality)


def relative_to_set(ms: Sequence[RepMeasure], min_reps: int, min_quality: float) -> list[RepMeasure]:
    """Each rep's reading minus the median reading of the set's reps (NaN with fewer than ``min_reps`` read).

    Only readings that are finite with ``quality >= min_quality`` make the median and are returned
    relative; the others become NaN (not judged), as do all of them when fewer than ``min_reps`` were read.
    """
    ok = [np.isfinite(m.value) and m.quality >= min_quality for m in ms]
    vals = [m.value for m, g in zip(ms, ok) if g]
    med = float(np.median(vals)) if len(vals) >= min_reps else float("nan")
    return [RepMeasure(m.name, m.value - med if g else float("nan"), m.units, m.t_ms, m.phase, m.quality)
            for m, g in zip(ms, ok)]


def _top_window(t_ms: np.ndarray, rep: RepLike, top_pad_ms: float, top_fraction: float) -> tuple[np.ndarray, str]:
    """Frames where the lifter should stand tall: the lockout of a pull, or the standing moments around a squat."""
    span = rep.end_ms - rep.start_ms
    if any(p.name in ("pull", "lockout") for p in rep.phases):
        hold = [p.end_ms for p in rep.phases if p.name == "lockout"]
        end = max([rep.end_ms + top_pad_ms, *hold])
        return _window(t_ms, rep.end_ms - top_fraction * span, end), "lockout"
    # a flag's moment is never before its rep's start (what came before belongs to no rep or another one)
    return (_window(t_ms, rep.start_ms, rep.start_ms + top_fraction * span)
            | _window(t_ms, rep.end_ms - top_fraction * span, rep.end_ms + top_pad_ms)), "top"


def top_trunk_lean(t_ms: np.ndarray, signals: Signals, rep: RepLike, *, sustain_ms: float = 200.0,
                   top_pad_ms: float = 600.0, top_fraction: float = 0.15,
                   max_plausible_deg: float = 50.0) -> RepMeasure:
    """Lockout: the most upright trunk the lifter held at the top of the rep (deg forward of vertical).

    Notes
    -----
    The smallest ``trunk_deg`` held for ``sustain_ms`` in the top window:
    deadlift, the last ``top_fraction`` of the rep and the lockout hold (at
    least ``top_pad_ms`` after ``end_ms``); squat, the standing moments before
    and after the rep (``top_pad_ms`` outside it and its first and last
    ``top_fraction``). 0 = stood fully upright at some moment (or leaned
    back), + = never got the trunk closer to vertical than this: the hips
    were not finished. Uses only the hip and shoulder landmarks, the best
    tracked ones (the knees are often hidden by the plates at lockout).
    A "top" where the trunk never came closer to vertical than
    ``max_plausible_deg`` is not a lifter who stopped short but a rep
    boundary that is not a top at all (the bar still below the knees): the
    rep is then NaN (not assessable) rather than flagged.
    """
    m, phase = _top_window(t_ms, rep, top_pad_ms, top_fraction)
    x = signals.get("trunk_deg")
    if x is None or not m.any():
        return RepMeasure("top_trunk_lean", float("nan"), "deg", float("nan"), phase, 0.0)
    v, t = sustained_extreme(t_ms[m], x[m], sustain_ms, "min")
    if np.isfinite(v) and v > max_plausible_deg:
        return RepMeasure("top_trunk_lean", float("nan"), "deg", float("nan"), phase, 0.0)
    return RepMeasure("top_trunk_lean", v, "deg", t, phase, _quality(signals, m))


def heel_rise(t_ms: np.ndarray, signals: Signals, rep: RepLike, *, sustain_ms: float = 200.0,
              max_plausible_foot: float = 0.6, min_seen_ratio: float = 0.6) -> RepMeasure:
    """Squat: how far the heel rose during the rep, in foot lengths, when the foot was tracked believably.

    Notes
    -----
    The sustained (``sustain_ms``) maximum of ``heel_rise_norm`` over the
    descent, bottom and ascent (0 = heel at its usual level, + = raised).
    A heel that seems to rise more than ``max_plausible_foot`` foot lengths
    (about 15 cm) is not a heel lifting but a foot the tracker lost (hidden by
    the plates, out of frame): the rep is then "not assessable" (NaN,
    quality 0) rather than flagged. So is a rep in which the heel was read
    (foot seen, inside the picture: :class:`formcheck.metrics.MetricParams`)
    in fewer than ``min_seen_ratio`` of the frames: the highest of the few
    readings left says little about the rep.
    """
    start, end, phase = _phase_span(rep, ("descent", "bottom", "ascent", "pull"))
    m = _window(t_ms, start, end)
    x = signals.get("heel_rise_norm")
    if x is None or not m.any() or np.isfinite(x[m]).mean() < min_seen_ratio:
        return RepMeasure("heel_rise", float("nan"), "foot", float("nan"), phase, 0.0)
    v, t = sustained_extreme(t_ms[m], x[m], sustain_ms, "max")
    if np.isfinite(v) and v > max_plausible_foot:
        return RepMeasure("heel_rise", float("nan"), "foot", float("nan"), phase, 0.0)
    return RepMeasure("heel_rise", v, "foot", t, phase, _quality(signals, m))


MeasureFn = Callable[..., RepMeasure]

#: Measures computed by their own function (beyond the plain signal reductions).
FUNCTION_MEASURES: dict[str, MeasureFn] = {
    "hips_rise_ratio": hips_rise_ratio,
    "start_depth": start_depth,
    "top_extension": top_extension,
    "hip_rise_trunk_tip": hip_rise_trunk_tip,
    "start_trunk_lean": start_trunk_lean,
    "bar_drift_from_start": bar_drift_from_start,
    "head_drop_max": head_drop_max,
    "spine_flexion_loaded": spine_flexion_loaded,
    "spine_flexion_vs_set": spine_flexion_vs_set,
    "top_trunk_lean": top_trunk_lean,
    "heel_rise": heel_rise,
}

MEASURE_NAMES: tuple[str, ...] = tuple(SIGNAL_MEASURES) + tuple(FUNCTION_MEASURES)

#: Measures judged against the set's own typical rep: the rule engine replaces each rep's reading by
#: its difference from the median of the set's readings (:func:`relative_to_set`); a rule judging one
#: says how many reps it needs (``min_set_reps``).
SET_RELATIVE_MEASURES: frozenset[str] = frozenset({"spine_flexion_vs_set"})

#: The one signal a function measure cannot do without (for "not assessable" reasons).
FUNCTION_SIGNALS: dict[str, str] = {
    "head_drop_max": "back_rounding_proxy",
    "spine_flexion_loaded": "spine_flexion_deg",
    "spine_flexion_vs_set": "spine_flexion_deg",
    "heel_rise": "heel_rise_norm",
    "bar_drift_from_start": "bar_x_offset_norm",
}


def measure_signal(name: str) -> str | None:
    """The per-frame series measure ``name`` is read from (None when it needs several)."""
    if name in SIGNAL_MEASURES:
        return SIGNAL_MEASURES[name].signal
    return FUNCTION_SIGNALS.get(name)


def measure(name: str, t_ms: np.ndarray, signals: Signals, rep: RepLike, **params: float | str) -> RepMeasure:
    """Compute the measure ``name`` for one rep (``params`` come from the lift's TOML)."""
    if name in SIGNAL_MEASURES:
        sustain_ms = float(params.pop("sustain_ms", 0.0))
        if params:
            raise ValueError(f"measure {name}: unexpected parameters {sorted(params)}")
        return _reduce_signal(SIGNAL_MEASURES[name], name, t_ms, signals, rep, sustain_ms)
    if name in FUNCTION_MEASURES:
        return FUNCTION_MEASURES[name](t_ms, signals, rep, **params)
    raise ValueError(f"measure: expected one of {', '.join(MEASURE_NAMES)}, got {name!r}")
