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


def _reduce_signal(spec: MeasureSpec, name: str, t_ms: np.ndarray, signals: Signals, rep: RepLike,
                   sustain_ms: float) -> RepMeasure:
    start, end, phase = _phase_span(rep, spec.phases)
    mask = _window(t_ms, start, end)
    x = signals.get(spec.signal)
    if x is None or not mask.any():
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
    after ``end_ms``). Squat: the standing moments around the rep, i.e. the
    ``top_pad_ms`` before ``start_ms`` and after ``end_ms`` plus the rep's
    first and last 10%. The value is the straightest angle *held* for
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
        mask = (_window(t_ms, rep.start_ms - top_pad_ms, rep.start_ms + 0.1 * span)
                | _window(t_ms, rep.end_ms - 0.1 * span, rep.end_ms + top_pad_ms))
        phase = "top"
    x = signals.get(signal)
    if x is None or not mask.any():
        return RepMeasure("top_extension", float("nan"), "deg", float("nan"), phase, 0.0)
    value, t = sustained_extreme(t_ms[mask], x[mask], sustain_ms, "max")
    return RepMeasure("top_extension", value, "deg", t, phase, _quality(signals, mask))


MeasureFn = Callable[..., RepMeasure]

#: Measures computed by their own function (beyond the plain signal reductions).
FUNCTION_MEASURES: dict[str, MeasureFn] = {
    "hips_rise_ratio": hips_rise_ratio,
    "start_depth": start_depth,
    "top_extension": top_extension,
}

MEASURE_NAMES: tuple[str, ...] = tuple(SIGNAL_MEASURES) + tuple(FUNCTION_MEASURES)


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
