"""Checks a clip must pass before its faults are judged: :func:`check_clip`.

A lifter shown upside down or lying on their side (a phone clip whose
rotation metadata is missing or wrong), a clip cut off at the knees and a
clip in which the lifter never stands upright all give numbers that look like
measurements (a "trunk lean" of 172 degrees, a squat "depth" read from a
guessed knee) but mean nothing. Such a clip gets a clear warning and no fault
verdicts (:func:`formcheck.analysis.analyze_sequence`).

Measures (image landmarks of the cleaned sequence; y grows downward)
-------------------------------------------------------------------
- **Body axis**: per frame, the direction from the feet (the ankles' midpoint,
  or the knees' when no ankle is seen) to the shoulders' midpoint, in degrees
  from image-up: 0 = shoulders straight above the feet, +-90 = lying
  sideways, 180 = upside down. In both lifts the shoulders stay roughly over
  the feet (balance), so a deadlift's set-up with the trunk near horizontal
  and a deep squat still read well under 45 degrees: the trunk alone would not
  do. The clip is upside down (sideways) when most frames with a body axis
  read so.
- **Knees in view**, **feet in view**: share of the frames with a lifter where
  at least one knee (ankle) is seen (not dropped by the cleaning for low
  visibility) inside the picture. Without the knees there is no depth and no
  knee or hip angle; without the ankles no height above the floor (standing,
  the head proxy's reference) and no shin. MediaPipe still places a joint
  that is out of the picture or hidden behind the plates, with a low
  visibility score: the cleaning drops those guesses.
- **Upright time**: how long the lifter stands, with the definition of
  :class:`formcheck.metrics.FrameMetrics` (hip height above the ankles in leg
  lengths and the trunk angle), with limits of its own (looser than the head
  proxy's standing frames: this only catches clips that never come near it).
  Judged only when the orientation is right and the knees are seen, and only
  when the hip height could be measured at all.

Pure numpy; thresholds in the ``[sanity]`` table of ``config/calibration.toml``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from types import MappingProxyType
from typing import Any, Mapping

import numpy as np

from formcheck.landmarks import Landmark as L
from formcheck.rules import RuleResult
from formcheck.sequence import PoseSequence
from formcheck.settings import Calibrated

__all__ = ["PROBLEM_CODES", "SanityParams", "SanityProblem", "SanityResult", "body_axis_deg", "check_clip",
           "not_judged"]

#: Problem codes, in the order they are reported.
PROBLEM_CODES = ("upside_down", "lying_sideways", "cut_off_knees", "feet_not_seen", "never_upright")
#: Problems after which the rep count means nothing (the heights it follows are not heights).
DROPS_REPS = ("upside_down", "lying_sideways")


@dataclass(frozen=True)
class SanityParams(Calibrated):
    """Thresholds of :func:`check_clip`; values only in ``[sanity]`` of ``calibration.toml``.

    Notes
    -----
    upright_axis_max_deg, upside_down_min_deg
        A frame's body axis (feet to shoulders) within ``upright_axis_max_deg``
        of image-up is upright, beyond ``upside_down_min_deg`` upside down, in
        between sideways.
    min_wrong_frac
        The clip is upside down (sideways) when at least this share of the
        frames with a body axis reads upside down (sideways).
    min_axis_frames
        Fewest frames with a body axis for the orientation to be judged at all.
    min_knees_in_view_frac
        Below this share of the frames with a lifter showing a knee inside the
        picture, the clip is cut off at the knees.
    min_feet_in_view_frac
        Below this share showing an ankle, the feet are not seen (out of the
        picture or hidden). Lower than "most frames": plates hide the feet of
        a deadlift set-up for a good part of a usable clip (the lowest usable
        real clip shows them in 48 % of its frames, ``benchmarks/sanity_real.py``).
    edge_margin_ratio
        A knee or ankle this close to the picture's edge (share of its width / height)
        or beyond counts as out of the picture.
    upright_hip_height_norm, upright_max_trunk_deg
        A frame is upright when the hips are at least this high above the
        ankles (leg lengths) and the trunk within this many degrees of vertical.
    min_upright_ms
        The lifter must stand upright this long in the clip (ms, summed).
    min_height_frames
        Fewest frames with a measured hip height for "never upright" to be judged.
    """

    TABLE = "sanity"

    upright_axis_max_deg: float
    upside_down_min_deg: float
    min_wrong_frac: float
    min_axis_frames: int
    min_knees_in_view_frac: float
    min_feet_in_view_frac: float
    edge_margin_ratio: float
    upright_hip_height_norm: float
    upright_max_trunk_deg: float
    min_upright_ms: float
    min_height_frames: int

    def __post_init__(self) -> None:
        if not 0.0 < self.upright_axis_max_deg < self.upside_down_min_deg < 180.0:
            raise ValueError("upright_axis_max_deg: expected 0 < upright_axis_max_deg < upside_down_min_deg < 180, "
                             f"got {self.upright_axis_max_deg} and {self.upside_down_min_deg}")
        for name in ("min_wrong_frac", "min_knees_in_view_frac", "min_feet_in_view_frac"):
            if not 0.0 < float(getattr(self, name)) <= 1.0:
                raise ValueError(f"{name}: expected a share in (0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.edge_margin_ratio < 0.5:
            raise ValueError(f"edge_margin_ratio: expected 0..0.5, got {self.edge_margin_ratio}")
        for name in ("min_axis_frames", "min_height_frames"):
            if not int(getattr(self, name)) >= 1:
                raise ValueError(f"{name}: expected >= 1, got {getattr(self, name)}")
        if not 0.0 < self.upright_hip_height_norm <= 1.2:
            raise ValueError(f"upright_hip_height_norm: expected 0..1.2, got {self.upright_hip_height_norm}")
        if not 0.0 < self.upright_max_trunk_deg <= 90.0:
            raise ValueError(f"upright_max_trunk_deg: expected 0..90, got {self.upright_max_trunk_deg}")
        if not self.min_upright_ms >= 0.0:
            raise ValueError(f"min_upright_ms: expected >= 0, got {self.min_upright_ms}")


@dataclass(frozen=True)
class SanityProblem:
    """One reason not to judge the clip: a code from :data:`PROBLEM_CODES` and what the user should do."""

    code: str
    reason: str

    def __post_init__(self) -> None:
        if self.code not in PROBLEM_CODES:
            raise ValueError(f"code: expected one of {', '.join(PROBLEM_CODES)}, got {self.code!r}")


@dataclass(frozen=True)
class SanityResult:
    """What :func:`check_clip` found: the problems (none = ok) and the measures behind them."""

    problems: tuple[SanityProblem, ...]
    measures: Mapping[str, float]

    def __post_init__(self) -> None:
        object.__setattr__(self, "problems", tuple(self.problems))
        object.__setattr__(self, "measures", MappingProxyType({str(k): float(v) for k, v in self.measures.items()}))

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(p.code for p in self.problems)

    @property
    def reason(self) -> str:
        """The first problem's reason ("" when ok): the not-assessable reason of every fault."""
        return self.problems[0].reason if self.problems else ""

    @property
    def drops_reps(self) -> bool:
        """True when the rep count means nothing either (the lifter is not upright in the picture)."""
        return any(c in DROPS_REPS for c in self.codes)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: ``{"ok", "problems": [{"code", "reason"}], "measures"}`` (NaN measures become null)."""
        return {"ok": self.ok, "problems": [{"code": p.code, "reason": p.reason} for p in self.problems],
                "measures": {k: (round(v, 3) if np.isfinite(v) else None) for k, v in self.measures.items()}}


def _mid(seq: PoseSequence, a: L, b: L) -> np.ndarray:
    """(N, 2) midpoint of two landmarks; the one seen when the other is lost; NaN when both are."""
    pts = np.stack([seq.xy_px[:, int(a)], seq.xy_px[:, int(b)]])
    ok = np.isfinite(pts).all(axis=2)
    n_ok = ok.sum(axis=0)
    total = np.where(ok[..., None], pts, 0.0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n_ok[:, None] > 0, total / np.maximum(n_ok, 1)[:, None], np.nan)


def body_axis_deg(seq: PoseSequence) -> np.ndarray:
    """Per frame: the feet-to-shoulders direction from image-up, unsigned degrees in [0, 180].

    0 = shoulders straight above the feet, 90 = level with them (lying
    sideways), 180 = straight below (upside down). The feet are the ankles'
    midpoint, or the knees' where no ankle is seen; NaN where the shoulders
    or both are lost.
    """
    shoulders = _mid(seq, L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
    ankles = _mid(seq, L.LEFT_ANKLE, L.RIGHT_ANKLE)
    knees = _mid(seq, L.LEFT_KNEE, L.RIGHT_KNEE)
    feet = np.where(np.isfinite(ankles), ankles, knees)
    v = shoulders - feet
    ang = np.degrees(np.arctan2(np.abs(v[:, 0]), -v[:, 1]))
    return np.where(np.linalg.norm(v, axis=1) > 1e-9, ang, np.nan)


def _in_view(seq: PoseSequence, landmarks: tuple[L, ...], margin: float) -> np.ndarray:
    """Per frame: one of ``landmarks`` at least is seen inside the picture (``margin`` shares away from its edges)."""
    w, h = float(seq.frame_w), float(seq.frame_h)
    inside = np.zeros(seq.n_frames, dtype=bool)
    for lm in landmarks:
        x, y = seq.xy_px[:, int(lm), 0], seq.xy_px[:, int(lm), 1]
        with np.errstate(invalid="ignore"):
            inside |= ((x >= margin * w) & (x <= (1 - margin) * w) & (y >= margin * h) & (y <= (1 - margin) * h))
    return inside


def _frame_ms(t_ms: np.ndarray) -> np.ndarray:
    """How long each frame is shown (ms): the gap to the next one, the median gap for the last."""
    if t_ms.size < 2:
        return np.zeros(t_ms.size)
    d = np.diff(t_ms)
    return np.append(d, np.median(d))


def check_clip(seq: PoseSequence, hip_height_norm: np.ndarray | None = None, trunk_deg: np.ndarray | None = None,
               params: SanityParams | None = None) -> SanityResult:
    """The problems of a cleaned sequence that make its fault verdicts meaningless (see the module docstring).

    ``hip_height_norm`` and ``trunk_deg`` (N,) are the series of
    :class:`formcheck.metrics.FrameMetrics`; without them "never upright" is
    not judged. ``params`` None = :meth:`SanityParams.packaged`.
    """
    p = params if params is not None else SanityParams.packaged()
    n = seq.n_frames
    for name, s in (("hip_height_norm", hip_height_norm), ("trunk_deg", trunk_deg)):
        if s is not None and np.shape(s) != (n,):
            raise ValueError(f"{name}: expected shape ({n},), got {np.shape(s)}")
    detected = seq.detected
    n_det = int(detected.sum())
    axis = np.where(detected, body_axis_deg(seq), np.nan)
    measured = np.isfinite(axis)
    n_axis = int(measured.sum())
    with np.errstate(invalid="ignore"):
        upside = float((axis[measured] >= p.upside_down_min_deg).mean()) if n_axis else float("nan")
        sideways = float(((axis[measured] > p.upright_axis_max_deg) & (axis[measured] < p.upside_down_min_deg)).mean()
                         ) if n_axis else float("nan")
    knees = float(_in_view(seq, (L.LEFT_KNEE, L.RIGHT_KNEE), p.edge_margin_ratio)[detected].mean()
                  ) if n_det else float("nan")
    feet = float(_in_view(seq, (L.LEFT_ANKLE, L.RIGHT_ANKLE), p.edge_margin_ratio)[detected].mean()
                 ) if n_det else float("nan")
    measures: dict[str, float] = {
        "frames_with_lifter": float(n_det), "frames_with_body_axis": float(n_axis),
        "body_axis_median_deg": float(np.median(axis[measured])) if n_axis else float("nan"),
        "upside_down_frac": upside, "sideways_frac": sideways, "knees_in_view_frac": knees,
        "feet_in_view_frac": feet,
        "upright_ms": float("nan"), "max_hip_height_norm": float("nan"),
    }
    problems: list[SanityProblem] = []
    if n_axis >= p.min_axis_frames and upside >= p.min_wrong_frac:
        problems.append(SanityProblem("upside_down", (
            f"the lifter appears upside down in the picture (in {upside:.0%} of the frames): the video's rotation "
            "information is probably missing or wrong. Rotate the video so the lifter stands upright and analyse "
            "it again; no faults were judged")))
    elif n_axis >= p.min_axis_frames and sideways >= p.min_wrong_frac:
        problems.append(SanityProblem("lying_sideways", (
            f"the lifter appears to lie on their side in the picture (in {sideways:.0%} of the frames): the "
            "video's rotation information is probably missing or wrong. Rotate the video a quarter turn so the "
            "lifter stands upright and analyse it again (a lift done lying down is not a squat or a deadlift); "
            "no faults were judged")))
    if n_det and knees < p.min_knees_in_view_frac:
        problems.append(SanityProblem("cut_off_knees", (
            f"the lifter's knees are out of the picture in {1 - knees:.0%} of the frames: depth and the knee and "
            "hip angles cannot be measured. Film the whole body, head to feet, and analyse it again; no faults "
            "were judged")))
    elif n_det and feet < p.min_feet_in_view_frac:
        problems.append(SanityProblem("feet_not_seen", (
            f"the lifter's feet are out of the picture or hidden in {1 - feet:.0%} of the frames: the height above "
            "the floor, the standing posture and the shins cannot be measured. Film the whole body, head to feet, "
            "with nothing in front of the feet, and analyse it again; no faults were judged")))
    if not problems and hip_height_norm is not None and trunk_deg is not None:
        hip_h = np.where(detected, np.asarray(hip_height_norm, float), np.nan)
        trunk = np.asarray(trunk_deg, float)
        if int(np.isfinite(hip_h).sum()) >= p.min_height_frames:
            with np.errstate(invalid="ignore"):
                upright = (hip_h >= p.upright_hip_height_norm) & (np.abs(trunk) <= p.upright_max_trunk_deg)
            upright_ms = float(_frame_ms(seq.t_ms)[upright].sum())
            measures["upright_ms"] = upright_ms
            measures["max_hip_height_norm"] = float(np.nanmax(hip_h))
            if upright_ms < p.min_upright_ms:
                problems.append(SanityProblem("never_upright", (
                    "the lifter is never seen standing upright in this clip: the measurements need the lifter's "
                    "own upright posture and the top of each rep. Film from before the first rep until after the "
                    "last, standing tall at both ends, and analyse it again; no faults were judged")))
    return SanityResult(tuple(problems), measures)


def not_judged(result: RuleResult, reason: str) -> RuleResult:
    """A :class:`formcheck.rules.RuleResult` with every verdict (clip and rep) ``not_assessable`` for ``reason``,
    no flags and no borderline readings."""
    codes = list(result.verdicts)
    return replace(
        result, flags=(), borderline=(), verdicts={c: "not_assessable" for c in codes},
        rep_verdicts={i: {c: "not_assessable" for c in rv} for i, rv in result.rep_verdicts.items()},
        reasons={c: reason for c in codes},
    )
