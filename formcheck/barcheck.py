"""Did a deadlift rise carry the bar? An image check, decided by pure numpy.

Hip and hand heights cannot tell a pull from a lifter who set the bar down,
let go and stood up: both go floor -> standing. The image can: in a pull the
bar (its plates, or the kettlebell) leaves the floor with the hands; in the
stand-up it stays where it was.

The IO edge (:mod:`formcheck.pipeline`) reads three frames per deadlift rep:
where its lowering began (``start_ms``: from the second rep on, standing at
the previous lockout with the bar in hand), the floor moment (``bottom_ms``)
and lockout (``end_ms``), and calls :func:`check_rise` with them in
grayscale and the lifter's landmarks. The check takes a square patch around the hands at the
floor moment (about a plate across) and compares the *same image location*
at lockout with it and with the "before" frame (normalised
cross-correlation, NCC: 1 = the same picture, about 0 = unrelated):

- lockout patch nearly the floor-moment patch (``still_ncc``) and clearly
  more like it than like the "before" patch (``min_ncc_gap``), while the
  hands rose most of the way, from the second counted rep on (the lifter
  held the bar at the previous lockout): the bar stayed on the floor,
  ``veto`` (the rise is not a rep). A pull brings the patch back to the
  "before" picture (the floor there is empty again), a stand-up leaves the
  plates in it;
- the spot looked the same at all three moments: at the start of the
  lowering (the lifter standing, the hands well above it) nearly the very
  picture of lockout (``lying_ncc``), and the floor moment like both
  (``still_ncc``): the bar lay there before the hands came down and still
  lies there after they rose, ``veto``. This is the bend to the bar
  without taking it (loading plates); it needs no previous rep, so it also
  judges a clip's first rise. In a pull the bar
  leaves the spot, so lockout differs from the floor moment;
- the picture outside the lifter and the bar changed (median over textured
  blocks): the camera moved, nothing can be concluded: keep the rep;
- a featureless patch, a too small rise of the hands, lost landmarks, a
  patch off the image, or an unchanged spot with no "before" frame of the
  lifter standing to confirm it (a clip that opens at the bar): keep the rep.

It vetoes only on strong evidence; every uncertain case keeps the rep.
Thresholds live in the ``[bar_check]`` table of ``formcheck/config/deadlift.toml``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from typing import Any, Iterable, Mapping

import numpy as np

from formcheck.landmarks import Landmark as L
from formcheck.settings import table_fields

DECISIONS = ("bar moved", "bar stayed", "unsure")

_WRISTS = (L.LEFT_WRIST, L.RIGHT_WRIST)
_HIPS = (L.LEFT_HIP, L.RIGHT_HIP)
_KNEES = (L.LEFT_KNEE, L.RIGHT_KNEE)


@dataclass(frozen=True)
class BarCheckParams:
    """Thresholds of :func:`check_rise`.

    Their values and meaning live in one place only, the ``[bar_check]`` table
    of ``formcheck/config/deadlift.toml`` (or a tuned copy): every field is
    required, and :meth:`from_mapping` builds the object from that table.
    """

    patch_thigh: float
    still_ncc: float
    min_background_ncc: float
    min_patch_contrast: float
    min_ncc_gap: float
    lying_ncc: float
    min_rise_frac: float
    body_margin_thigh: float
    bar_margin_thigh: float

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
                raise ValueError(f"bar_check.{f.name}: expected a finite number >= 0, got {v!r}")
            object.__setattr__(self, f.name, float(v))
        for name in ("still_ncc", "min_background_ncc", "lying_ncc"):
            if getattr(self, name) > 1.0:
                raise ValueError(f"bar_check.{name}: expected at most 1, got {getattr(self, name)}")
        if self.patch_thigh <= 0:
            raise ValueError(f"bar_check.patch_thigh: expected > 0, got {self.patch_thigh}")

    @classmethod
    def from_mapping(cls, table: Mapping[str, Any]) -> "BarCheckParams":
        """From the ``[bar_check]`` TOML table: every key required, unknown keys an error (a typo must not
        pass silently)."""
        return cls(**table_fields(cls, table, "bar_check"))


@dataclass(frozen=True)
class BarCheck:
    """The verdict on one rise.

    decision : ``"bar stayed"`` (the rise did not carry the bar: ``veto``),
        ``"bar moved"`` or ``"unsure"`` (kept as a rep).
    patch_ncc : NCC of the hands' floor patch between the floor moment and
        lockout (NaN when not measured).
    before_ncc : NCC of the same patch between the start of the lowering and
        lockout (NaN when not measured).
    before_floor_ncc : NCC of the same patch between the start of the lowering
        and the floor moment (NaN when not measured).
    background_ncc : how much the picture outside the lifter and the bar
        stayed the same between lockout and the other frames: the median NCC
        of its textured blocks, the lowest over the frame pairs (NaN when not
        measured).
    rise_frac : the wrists' rise from the floor moment to lockout divided by
        their distance below the hips at the floor moment (about 1 for a full
        pull; NaN when not measured).
    reason : plain words.
    """

    decision: str
    patch_ncc: float
    before_ncc: float
    background_ncc: float
    rise_frac: float
    reason: str
    before_floor_ncc: float = float("nan")

    def __post_init__(self) -> None:
        if self.decision not in DECISIONS:
            raise ValueError(f"decision: expected one of {', '.join(DECISIONS)}, got {self.decision!r}")
        for name in ("patch_ncc", "before_ncc", "background_ncc", "rise_frac", "before_floor_ncc"):
            object.__setattr__(self, name, float(getattr(self, name)))

    @property
    def veto(self) -> bool:
        return self.decision == "bar stayed"


#: Reps from this index on (0-based) follow a counted rep: where their lowering began the lifter stood
#: at the previous lockout, as far as the landmarks tell with the bar in hand. Only they can be dropped
#: by the "more like the floor moment than like before" rule (``min_ncc_gap``); every rep, the first
#: too, gets the frame where its lowering began for the "the bar lay there throughout" rule.
FIRST_REP_WITH_BEFORE_FRAME = 1


def has_before_frame(rep_index: int) -> bool:
    """Whether the counted rep ``rep_index`` follows a counted rep, so that its "before" frame is taken to
    show the bar in hand (see :func:`check_rise`, ``after_a_rep``)."""
    return int(rep_index) >= FIRST_REP_WITH_BEFORE_FRAME


def vetoed_spans(checks: Iterable[tuple[Any, "BarCheck"]]) -> list[tuple[float, float]]:
    """``(bottom_ms, end_ms)`` of the reps whose check vetoed them, for ``analyze_sequence(not_reps=...)``.

    ``checks`` pairs each counted rep (anything with ``bottom_ms`` and ``end_ms``) with its
    :class:`BarCheck`, as :func:`formcheck.pipeline.deadlift_bar_checks` returns them.
    """
    return [(float(rep.bottom_ms), float(rep.end_ms)) for rep, c in checks if c.veto]


def ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None = None) -> float:
    """Normalised cross-correlation of two same-shape arrays (over ``mask`` if given); NaN when flat."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"ncc: expected arrays of the same shape, got {a.shape} and {b.shape}")
    if mask is not None:
        a, b = a[mask], b[mask]
    if a.size < 2:
        return float("nan")
    a = a - a.mean()
    b = b - b.mean()
    den = math.sqrt(float(np.sum(a * a)) * float(np.sum(b * b)))
    return float(np.sum(a * b) / den) if den > 0 else float("nan")


def _mean_xy(xy: np.ndarray, idx: tuple[L, ...]) -> np.ndarray:
    pts = np.asarray([xy[int(i)] for i in idx], dtype=np.float64)
    ok = np.all(np.isfinite(pts), axis=1)
    return pts[ok].mean(axis=0) if ok.any() else np.full(2, np.nan)


def _thigh_px(xy: np.ndarray) -> float:
    lens = [float(np.hypot(*(xy[int(h)] - xy[int(k)]))) for h, k in zip(_HIPS, _KNEES)]
    lens = [v for v in lens if math.isfinite(v) and v > 0]
    return max(lens) if lens else float("nan")


def _body_box(xy: np.ndarray, margin: float, shape: tuple[int, int]) -> tuple[int, int, int, int] | None:
    ok = np.all(np.isfinite(xy), axis=1)
    if not ok.any():
        return None
    lo = np.floor(xy[ok].min(axis=0) - margin).astype(int)
    hi = np.ceil(xy[ok].max(axis=0) + margin).astype(int)
    h, w = shape
    return max(lo[0], 0), max(lo[1], 0), min(hi[0], w), min(hi[1], h)


def _background_mask(shape: tuple[int, int], xys: list[np.ndarray], margin: float, bar_margin: float) -> np.ndarray:
    """Pixels outside the lifter and away from the bar (around the hands) at every given moment."""
    bg = np.ones(shape, dtype=bool)
    for xy in xys:
        box = _body_box(xy, margin, shape)
        if box is not None:
            bg[box[1] : box[3], box[0] : box[2]] = False
        hands = xy[[int(i) for i in _WRISTS]]
        box = _body_box(hands, bar_margin, shape)
        if box is not None:
            bg[box[1] : box[3], box[0] : box[2]] = False
    return bg


#: The background is compared block by block on this grid; the median block decides (a plate or a
#: limb leaking out of the masks spoils a few blocks, a camera pan all textured ones).
_GRID = 8
_MIN_BLOCKS = 4


def background_ncc(a: np.ndarray, b: np.ndarray, mask: np.ndarray, min_contrast: float) -> float:
    """Median NCC of the textured background blocks of ``a`` and ``b`` (NaN: too few of them)."""
    h, w = a.shape
    vals = []
    for i in range(_GRID):
        for j in range(_GRID):
            ys = slice(i * h // _GRID, (i + 1) * h // _GRID)
            xs = slice(j * w // _GRID, (j + 1) * w // _GRID)
            m = mask[ys, xs]
            if m.size == 0 or m.mean() < 0.8:
                continue
            pa, pb = a[ys, xs][m], b[ys, xs][m]
            if min(float(pa.std()), float(pb.std())) < min_contrast:
                continue
            vals.append(ncc(pa, pb))
    vals = [v for v in vals if math.isfinite(v)]
    return float(np.median(vals)) if len(vals) >= _MIN_BLOCKS else float("nan")


def check_rise(
    floor_gray: np.ndarray,
    top_gray: np.ndarray,
    floor_xy: np.ndarray,
    top_xy: np.ndarray,
    params: BarCheckParams,
    *,
    before_gray: np.ndarray | None = None,
    before_xy: np.ndarray | None = None,
    after_a_rep: bool = True,
) -> BarCheck:
    """Decide whether one rise carried the bar.

    Parameters
    ----------
    floor_gray, top_gray
        (H, W) grayscale frames (any numeric dtype, same shape) at the floor
        moment and at lockout.
    floor_xy, top_xy
        (33, 2) landmark pixel positions in those frames (image coordinates,
        y down; NaN where lost), in the frames' pixel grid.
    params
        Thresholds, see :class:`BarCheckParams` (from ``load_rules("deadlift").bar_check``).
    before_gray, before_xy
        The frame (and landmarks) where the rep's lowering began, for a rep
        after the first: the lifter stood at the previous lockout with the bar
        in hand, so the floor where it will land was still empty. To veto,
        the lockout patch must look more like the floor moment than like
        this moment by ``params.min_ncc_gap``: a pull returns the patch to
        the "before" picture, a stand-up leaves the bar in it. Without it
        the rep is kept. When the lifter stood in it (hands risen from the
        floor moment by at least ``params.min_rise_frac``, as at lockout), the
        spot is nearly the same picture in it as at lockout (``params.lying_ncc``)
        and the floor moment looks like both (``params.still_ncc``), the bar lay
        there throughout: the rise is dropped too (a bend to the bar).
    after_a_rep
        Whether a counted rep came before this one (its "before" frame then
        shows the bar in hand, as far as the landmarks tell): only then does
        the ``min_ncc_gap`` rule apply. False for a clip's first rep.
    """
    f = np.asarray(floor_gray, dtype=np.float64)
    t = np.asarray(top_gray, dtype=np.float64)
    if f.ndim != 2 or f.shape != t.shape:
        raise ValueError(f"frames: expected two 2-D grayscale images of one shape, got {f.shape} and {t.shape}")
    fxy = np.asarray(floor_xy, dtype=np.float64)
    txy = np.asarray(top_xy, dtype=np.float64)
    if fxy.shape != (len(L), 2) or txy.shape != (len(L), 2):
        raise ValueError(f"landmarks: expected shape ({len(L)}, 2), got {fxy.shape} and {txy.shape}")
    b = bxy = None
    if before_gray is not None:
        b = np.asarray(before_gray, dtype=np.float64)
        if b.shape != f.shape:
            raise ValueError(f"before_gray: expected shape {f.shape} like the other frames, got {b.shape}")
        bxy = np.full((len(L), 2), np.nan) if before_xy is None else np.asarray(before_xy, dtype=np.float64)
        if bxy.shape != (len(L), 2):
            raise ValueError(f"before_xy: expected shape ({len(L)}, 2), got {bxy.shape}")
    nan = float("nan")

    w_floor, w_top = _mean_xy(fxy, _WRISTS), _mean_xy(txy, _WRISTS)
    hip_floor = _mean_xy(fxy, _HIPS)
    thigh = _thigh_px(fxy)
    if not (np.all(np.isfinite(w_floor)) and np.all(np.isfinite(w_top)) and np.all(np.isfinite(hip_floor))
            and math.isfinite(thigh)):
        return BarCheck("unsure", nan, nan, nan, nan, "hands, hips or thigh not tracked at the floor or at lockout")
    reach = float(w_floor[1] - hip_floor[1])  # image y grows downward: wrists below the hips at the floor
    rise_frac = float(w_floor[1] - w_top[1]) / reach if reach > 0 else nan
    if not (math.isfinite(rise_frac) and rise_frac >= params.min_rise_frac):
        return BarCheck("unsure", nan, nan, nan, rise_frac, "the hands did not rise far enough to judge")

    half = max(2, int(round(0.5 * params.patch_thigh * thigh)))
    cx, cy = int(round(w_floor[0])), int(round(w_floor[1]))
    h, w = f.shape
    x0, x1, y0, y1 = max(cx - half, 0), min(cx + half, w), max(cy - half, 0), min(cy + half, h)
    if x1 <= x0 or y1 <= y0 or (x1 - x0) * (y1 - y0) < 0.6 * (2 * half) ** 2:
        return BarCheck("unsure", nan, nan, nan, rise_frac, "the hands' floor patch is off the image")
    pf, pt = f[y0:y1, x0:x1], t[y0:y1, x0:x1]
    patch = ncc(pf, pt)
    before = ncc(b[y0:y1, x0:x1], pt) if b is not None else nan
    before_floor = ncc(b[y0:y1, x0:x1], pf) if b is not None else nan
    w_before = _mean_xy(bxy, _WRISTS) if bxy is not None else np.full(2, np.nan)
    # the lifter stood in the "before" frame: the hands as far above their floor spot as a judged lockout
    stood_before = bool(np.all(np.isfinite(w_before)) and reach > 0
                        and float(w_floor[1] - w_before[1]) / reach >= params.min_rise_frac)

    margin = params.body_margin_thigh * thigh
    xys = [fxy, txy] + ([bxy] if bxy is not None else [])
    bg = _background_mask(f.shape, xys, margin, params.bar_margin_thigh * thigh)
    bgs = [background_ncc(g, t, bg, 0.5 * params.min_patch_contrast) for g in ([f] if b is None else [f, b])]
    background = min(bgs) if all(math.isfinite(v) for v in bgs) else nan

    def verdict(decision: str, reason: str) -> BarCheck:
        return BarCheck(decision, patch, before, background, rise_frac, reason, before_floor)

    def unsure(reason: str) -> BarCheck:
        return verdict("unsure", reason)

    if not math.isfinite(background):
        return unsure("too little background to rule out camera motion")
    if background < params.min_background_ncc:
        return unsure("the camera moved (the background changed)")
    if float(pf.std()) < params.min_patch_contrast:
        return unsure("the hands' floor patch has too little contrast")
    if not (math.isfinite(patch) and patch >= params.still_ncc):
        return verdict("bar moved", "the image where the hands gripped changed")
    if (stood_before and math.isfinite(before) and math.isfinite(before_floor) and before >= params.lying_ncc
            and before_floor >= params.still_ncc):
        return verdict("bar stayed", "the bar lay where the hands reached for it before they came down and "
                                     "still lay there after they rose: it was never lifted")
    if not (after_a_rep and math.isfinite(before)):
        return unsure("the grip area looks unchanged, but there is no frame with the bar in hand before the "
                      "lowering to confirm it")
    if patch - before < params.min_ncc_gap:
        return unsure("the grip area at lockout looks as much like before the lowering as like the floor moment")
    return verdict("bar stayed", "the hands rose but the bar stayed on the floor where they had gripped it")
