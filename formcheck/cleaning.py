"""Signal cleaning: a :class:`PoseSequence` in, a cleaned copy out.

The offline pipeline :func:`clean` runs, in this order:

1. :func:`mask_low_visibility`: landmarks MediaPipe itself doubts become NaN.
2. :func:`repair_swaps`: undo left/right label swaps, per frame and body chain.
3. :func:`interpolate_gaps`: bridge short NaN runs, linearly in time.
4. :func:`lowpass`: zero-phase Butterworth over each NaN-free run.

Masking comes first so that doubtful points neither steer the swap repair nor
get smoothed into good ones; swaps are repaired before anything mixes
neighbouring frames, since interpolating or filtering across a swap would
blend the left and right limbs.

The live mode must be causal and works per frame: it uses :func:`mask_values`
and :class:`OneEuroFilter`. :func:`interpolate_gaps_array` and
:func:`lowpass_array` are the array-level forms of the offline steps.

Every default lives in :class:`CleaningParams` and :class:`LiveFilterParams`, whose
values are the ``[cleaning]`` and ``[live_filter]`` tables of the packaged
``formcheck/config/calibration.toml``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Mapping

import numpy as np
from numpy.typing import ArrayLike
from scipy.signal import butter, sosfiltfilt

from formcheck.landmarks import LEFT_RIGHT_PAIRS, N_LANDMARKS, Landmark, mirror_index
from formcheck.sequence import PoseSequence, sampling_interval_ms
from formcheck.settings import Calibrated

L = Landmark

#: Slack when comparing time spans, in ms: far below any frame interval, far above float rounding.
_T_TOL_MS = 1e-6

#: Shortest resampled run (in samples) that :func:`lowpass` filters at all.
_MIN_FILTER_SAMPLES = 3

_COORD_FIELDS = ("xy_px", "z_px", "world_m")
_ALL_FIELDS = ("xy_px", "z_px", "world_m", "visibility", "presence")


def _check_nonneg(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v >= 0):
        raise ValueError(f"{name}: expected a finite number >= 0, got {value!r}")
    return v


def _check_pos(name: str, value: float) -> float:
    v = float(value)
    if not (math.isfinite(v) and v > 0):
        raise ValueError(f"{name}: expected a finite number > 0, got {value!r}")
    return v


def _check_order(value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not 1 <= value <= 10:
        raise ValueError(f"filter order: expected an integer in 1..10, got {value!r}")
    return int(value)


# ---------------------------------------------------------------- parameters
@dataclass(frozen=True)
class CleaningParams(Calibrated):
    """Parameters of the offline cleaning pipeline (:func:`clean`).

    No defaults here: the values live only in the ``[cleaning]`` table of
    ``formcheck/config/calibration.toml`` (:meth:`packaged`); "Default" below
    means the value there.

    Notes
    -----
    min_visibility
        Landmarks whose MediaPipe visibility score (0..1) is below this become
        NaN. Default 0.5: MediaPipe's own threshold for drawing a landmark.
        Below it, the point is usually a guess at an occluded joint (the far
        leg in a side view) and is better lost than believed.
    repair_swaps
        Run :func:`repair_swaps`. Default True: MediaPipe swaps the left and
        right labels on roughly a fifth of side-view frames.
    swap_switch_cost
        Cost, in log-likelihood units, of changing the mirrored/labelled state
        of a chain between two consecutive frames, i.e. of declaring that a
        swap starts or ends. Default 5.0 (a switch is taken to be about
        e^5 ~ 150x less likely than none): clear swaps score tens to hundreds of
        units and are repaired, even single-frame ones, while noise where the
        two sides nearly coincide (hips in a side view) rarely adds up to
        twice this. Tuned on synthetic side views with 2-8 px jitter: lower
        values repair more single-frame swaps under heavy jitter but also
        relabel more frames that were right.
    swap_mirror_cost
        Cost, in the same units, of each frame in which a chain is mirrored.
        It breaks the tie between "all labels right" and "all labels wrong",
        which continuity alone cannot tell apart: the labelling that MediaPipe
        uses on most frames wins. Default 0.05: small enough that a long,
        clearly bounded swap is still repaired (a clear swap boundary scores
        50-250 units, which this prior alone matches only after 1000+ frames).
    max_gap_ms
        NaN runs are interpolated when the time from the last finite sample
        before the gap to the first one after it is at most this, in ms.
        Default 200 ms: 6 frame intervals at 30 fps (up to 5 lost frames),
        short next to a rep (1-3 s), so a straight line through the gap does
        not invent motion; longer losses stay NaN.
    cutoff_hz
        Butterworth cutoff of :func:`lowpass`, in Hz. Default 6 Hz: squat and
        deadlift joint motion lies below about 2 Hz (a rep lasts 1-4 s), while
        MediaPipe's frame-to-frame jitter is broadband up to the Nyquist rate
        (15 Hz at 30 fps). 6 Hz is also a common cutoff for whole-body
        movement kinematics in biomechanics.
    filter_order
        Order of the Butterworth design, 1..10. Default 4: a steep enough
        roll-off with a short transient; the forward-backward pass doubles the
        effective order to 8 and makes the gain at ``cutoff_hz`` 0.5 (-6 dB).
    """

    TABLE = "cleaning"

    min_visibility: float
    repair_swaps: bool
    swap_switch_cost: float
    swap_mirror_cost: float
    max_gap_ms: float
    cutoff_hz: float
    filter_order: int

    def __post_init__(self) -> None:
        v = float(self.min_visibility)
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"min_visibility: expected a score in [0, 1], got {self.min_visibility!r}")
        if not isinstance(self.repair_swaps, bool):
            raise ValueError(f"repair_swaps: expected True or False, got {self.repair_swaps!r}")
        _check_nonneg("swap_switch_cost", self.swap_switch_cost)
        _check_nonneg("swap_mirror_cost", self.swap_mirror_cost)
        if not float(self.max_gap_ms) >= 0:
            raise ValueError(f"max_gap_ms: expected a duration >= 0 ms, got {self.max_gap_ms!r}")
        _check_pos("cutoff_hz", self.cutoff_hz)
        _check_order(self.filter_order)


@dataclass(frozen=True)
class LiveFilterParams(Calibrated):
    """One Euro filter settings for the live (causal, per-frame) mode.

    No defaults here: the values live only in the ``[live_filter]`` table of
    ``formcheck/config/calibration.toml`` (:meth:`packaged`); "Default" below
    means the value there.

    Notes
    -----
    The defaults assume pixel coordinates at about 720p; ``beta`` scales with
    the units of the filtered values.

    min_cutoff_hz
        Cutoff when the point is still, in Hz. Default 1.0 Hz: a still lifter's
        1-2 px jitter is smoothed with a ~160 ms time constant, which costs no
        visible lag because nothing is moving.
    beta
        Cutoff increase per unit of speed, in Hz per (px/s). Default 0.1: at
        rest, 1-3 px of jitter reads as ~10-30 px/s after the speed smoother
        and opens the cutoff only to ~2-4 Hz, halving the jitter; a hip moving
        at 300 px/s (a brisk squat at 720p) opens it to ~30 Hz, so a moving
        lifter is followed with almost no lag. Smaller values smooth motion
        more but trail behind it by tens of pixels.
    d_cutoff_hz
        Cutoff of the low-pass applied to the speed estimate, in Hz. Default
        1.0 Hz, the One Euro authors' recommendation: a steady speed estimate
        keeps single-frame jitter from opening the main cutoff.
    """

    TABLE = "live_filter"

    min_cutoff_hz: float
    beta: float
    d_cutoff_hz: float

    def __post_init__(self) -> None:
        _check_pos("min_cutoff_hz", self.min_cutoff_hz)
        _check_nonneg("beta", self.beta)
        _check_pos("d_cutoff_hz", self.d_cutoff_hz)

    def make_filter(self) -> "OneEuroFilter":
        """A fresh :class:`OneEuroFilter` with these settings."""
        return OneEuroFilter(self.min_cutoff_hz, self.beta, self.d_cutoff_hz)


#: The packaged values; the keyword defaults of the array-level functions below come from them.
_DEFAULTS = CleaningParams.packaged()
_LIVE_DEFAULTS = LiveFilterParams.packaged()


# ---------------------------------------------------------------- shared checks
def _check_t_ms(t_ms: ArrayLike) -> np.ndarray:
    t = np.asarray(t_ms, dtype=np.float64)
    if t.ndim != 1:
        raise ValueError(f"t_ms: expected shape N, got {'x'.join(map(str, t.shape))}")
    if not np.all(np.isfinite(t)):
        raise ValueError("t_ms: expected finite timestamps, got NaN or inf")
    if t.size > 1 and not np.all(np.diff(t) > 0):
        raise ValueError("t_ms: expected strictly increasing timestamps")
    return t


def _check_values(t: np.ndarray, values: ArrayLike) -> np.ndarray:
    y = np.asarray(values, dtype=np.float64)
    if y.ndim < 1 or y.shape[0] != t.shape[0]:
        raise ValueError(f"values: expected {t.shape[0]} rows (one per timestamp), got shape "
                         f"{'x'.join(map(str, y.shape)) or 'scalar'}")
    return y


# ---------------------------------------------------------------- masking
def mask_values(
    values: ArrayLike, visibility: ArrayLike, min_visibility: float = _DEFAULTS.min_visibility
) -> np.ndarray:
    """A copy of ``values`` with NaN wherever ``visibility < min_visibility``.

    Notes
    -----
    values
        Landmark values of shape ``(..., 33)`` (e.g. ``z_px``) or
        ``(..., 33, k)`` (e.g. ``xy_px``, ``world_m``); one frame or many.
    visibility
        Scores of shape ``(..., 33)`` matching ``values``. A NaN score counts
        as below the threshold.
    min_visibility
        Threshold in [0, 1]; 0 masks only NaN scores (default and rationale:
        :class:`CleaningParams`).
    """
    v = np.asarray(values, dtype=np.float64)
    vis = np.asarray(visibility, dtype=np.float64)
    thr = float(min_visibility)
    if not 0.0 <= thr <= 1.0:
        raise ValueError(f"min_visibility: expected a score in [0, 1], got {min_visibility!r}")
    if v.shape[: vis.ndim] != vis.shape or v.ndim > vis.ndim + 1:
        raise ValueError(f"values: expected shape {'x'.join(map(str, vis.shape))}[xk] to match visibility, "
                         f"got {'x'.join(map(str, v.shape))}")
    low = ~(vis >= thr)
    if v.ndim > vis.ndim:
        low = low[..., None]
    return np.where(low, np.nan, v)


def mask_low_visibility(seq: PoseSequence, min_visibility: float = _DEFAULTS.min_visibility) -> PoseSequence:
    """``seq`` with ``xy_px``, ``z_px`` and ``world_m`` NaN where visibility < ``min_visibility``.

    Notes
    -----
    min_visibility
        Threshold on MediaPipe's visibility score, 0..1 (default and rationale:
        :class:`CleaningParams`). The scores themselves are kept, so later
        steps and reports can still see how doubtful a point was.
    """
    return seq.with_(**{name: mask_values(getattr(seq, name), seq.visibility, min_visibility)
                        for name in _COORD_FIELDS})


# ---------------------------------------------------------------- gap interpolation
def interpolate_gaps_array(
    t_ms: ArrayLike, values: ArrayLike, max_gap_ms: float = _DEFAULTS.max_gap_ms
) -> np.ndarray:
    """Linearly interpolate, in time, NaN runs of each column no longer than ``max_gap_ms``.

    Notes
    -----
    t_ms
        (N,) strictly increasing timestamps in ms; interpolation weights come
        from them, so variable frame rates are handled.
    values
        (N, ...) array; every element after the first axis is a separate series.
    max_gap_ms
        A gap is the time from the last finite sample before a NaN run to the
        first finite sample after it. It is filled when that span is at most
        ``max_gap_ms`` (with :data:`_T_TOL_MS` slack for float rounding), so a
        span of exactly ``max_gap_ms`` is filled. Longer gaps stay NaN, and so
        do leading and trailing NaN runs: nothing is extrapolated. ``inf``
        fills every interior gap; 0 fills none. Default and rationale:
        :class:`CleaningParams`.
    """
    t = _check_t_ms(t_ms)
    y = _check_values(t, values)
    limit = float(max_gap_ms)
    if not limit >= 0:
        raise ValueError(f"max_gap_ms: expected a duration >= 0 ms, got {max_gap_ms!r}")
    n = t.shape[0]
    if n < 3:
        return y.copy()
    y2 = y.reshape(n, -1)
    finite = np.isfinite(y2)
    rows = np.arange(n)[:, None]
    prev = np.maximum.accumulate(np.where(finite, rows, -1), axis=0)
    nxt = np.minimum.accumulate(np.where(finite, rows, n)[::-1], axis=0)[::-1]
    gap = ~finite & (prev >= 0) & (nxt < n)
    p = np.where(gap, prev, 0)
    q = np.where(gap, nxt, 0)
    span = t[q] - t[p]
    gap &= span <= limit + _T_TOL_MS
    cols = np.broadcast_to(np.arange(y2.shape[1]), y2.shape)
    yp = y2[p, cols]
    yq = y2[q, cols]
    w = np.divide(t[:, None] - t[p], span, out=np.zeros_like(span), where=gap)
    out = np.where(gap, yp + (yq - yp) * w, y2)
    return out.reshape(y.shape)


def interpolate_gaps(seq: PoseSequence, max_gap_ms: float = _DEFAULTS.max_gap_ms) -> PoseSequence:
    """``seq`` with short NaN runs of ``xy_px``, ``z_px`` and ``world_m`` interpolated.

    Notes
    -----
    max_gap_ms
        Longest gap filled, in ms, measured between the finite samples either
        side (see :func:`interpolate_gaps_array`; default and rationale:
        :class:`CleaningParams`). Ends are never extrapolated.

    Visibility and presence keep their original scores, so an interpolated
    point still shows that MediaPipe lost it. ``meta['interpolated_points']``
    counts the (frame, landmark) pixel positions filled, added to any earlier count.
    """
    changes = {name: interpolate_gaps_array(seq.t_ms, getattr(seq, name), max_gap_ms) for name in _COORD_FIELDS}
    filled = int((np.isnan(seq.xy_px[..., 0]) & ~np.isnan(changes["xy_px"][..., 0])).sum())
    meta = dict(seq.meta)
    meta["interpolated_points"] = int(meta.get("interpolated_points", 0)) + filled
    return seq.with_(**changes, meta=meta)


# ---------------------------------------------------------------- swap repair
def _chain(*lefts: Landmark) -> tuple[tuple[Landmark, Landmark], ...]:
    return tuple(pair for pair in LEFT_RIGHT_PAIRS if pair[0] in lefts)


#: Body chains whose left/right labels are repaired independently, as (left, right) pairs.
#: MediaPipe swaps the whole body or only the legs; the face is its own chain.
SWAP_CHAINS: Mapping[str, tuple[tuple[Landmark, Landmark], ...]] = MappingProxyType({
    "legs": _chain(L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX),
    "arms": _chain(L.LEFT_SHOULDER, L.LEFT_ELBOW, L.LEFT_WRIST, L.LEFT_PINKY, L.LEFT_INDEX, L.LEFT_THUMB),
    "face": _chain(L.LEFT_EYE_INNER, L.LEFT_EYE, L.LEFT_EYE_OUTER, L.LEFT_EAR, L.MOUTH_LEFT),
})

#: Evidence from one pair in one comparison is clipped to +-this (log-likelihood units),
#: so a single glitching landmark cannot outvote the rest of its chain.
_PAIR_EVIDENCE_CAP = 25.0
#: Cost of a landmark seen in one frame but not matched in the other (log-likelihood units).
_UNMATCHED_COST = 2.0
#: Floor of the noise scales, in torso lengths (score units for visibility): keeps noise-free data finite.
_MIN_NOISE_TORSO = 1e-3
#: Half-width of the window of frames whose mean left-right layout each frame is checked against, in ms.
#: Long next to MediaPipe's swap bursts (a few to ~15 frames), short next to a set.
_LAYOUT_HALF_WINDOW_MS = 1000.0
#: Rounds of "layout from labels, then labels from layout" per starting labelling.
_LAYOUT_ROUNDS = 2


def _pair_centre(arr: np.ndarray, a: Landmark, b: Landmark) -> np.ndarray:
    pa, pb = arr[:, int(a)], arr[:, int(b)]
    return np.where(np.isnan(pa), pb, np.where(np.isnan(pb), pa, (pa + pb) / 2))


def _torso_scale(arr: np.ndarray) -> float:
    shoulders = _pair_centre(arr, L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
    hips = _pair_centre(arr, L.LEFT_HIP, L.RIGHT_HIP)
    d = np.linalg.norm(shoulders - hips, axis=-1)
    d = d[np.isfinite(d) & (d > 0)]
    return float(np.median(d)) if d.size else float("nan")


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return ((a - b) ** 2).sum(axis=-1)


def _median_or(x: np.ndarray, fallback: float) -> float:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else fallback


@dataclass(frozen=True)
class _ChainView:
    """One chain in one signal (positions or visibility) on the frames where the chain is seen.

    ``left``/``right``: (K, P, d), positions in torso lengths; ``half``: ``(left - right) / 2``
    where both are finite, else NaN; ``var_half``: per-coordinate noise
    variance of ``half`` between consecutive frames.
    """

    left: np.ndarray
    right: np.ndarray
    half: np.ndarray
    var_half: float


def _chain_view(coords: np.ndarray, left: np.ndarray, right: np.ndarray) -> _ChainView:
    lt, rt = coords[:, left], coords[:, right]
    half = (lt - rt) / 2
    d = coords.shape[-1]
    floor = _MIN_NOISE_TORSO**2
    hp, hc = half[:-1], half[1:]
    e = np.minimum(_sqdist(hc, hp), _sqdist(hc, -hp)) / d
    return _ChainView(lt, rt, half, max(_median_or(e.ravel(), floor), floor))


def _flip_evidence(view: _ChainView, time_scale: np.ndarray) -> np.ndarray:
    """Per step k -> k+1: cost of "k+1 mirrored relative to k" minus cost of "same labels".

    Pairs with all four points finite compare half-differences across the two
    frames, which cancels the motion both sides share. Pairs with missing
    points compare single landmarks and charge unmatched ones.
    """
    d = view.left.shape[-1]
    lp, rp, lc, rc = view.left[:-1], view.right[:-1], view.left[1:], view.right[1:]
    fin = [np.isfinite(x).all(axis=-1) for x in (lp, rp, lc, rc)]
    complete = fin[0] & fin[1] & fin[2] & fin[3]
    floor = _MIN_NOISE_TORSO**2
    moves = np.stack([_sqdist(x, y) for x in (lc, rc) for y in (lp, rp)])
    e_point = np.min(np.where(np.isfinite(moves), moves, np.inf), axis=0) / d
    var_point = max(_median_or(e_point, floor), floor)
    scale = time_scale[:, None]
    dot = np.nan_to_num((view.half[1:] * view.half[:-1]).sum(axis=-1))
    ev_complete = 2.0 * dot / (view.var_half * scale)

    def match_cost(x: np.ndarray, fx: np.ndarray, y: np.ndarray, fy: np.ndarray) -> np.ndarray:
        dist = np.nan_to_num(_sqdist(x, y)) / (2.0 * var_point * scale)
        return np.where(fx & fy, dist, np.where(fx ^ fy, _UNMATCHED_COST, 0.0))

    cost_same = match_cost(lc, fin[2], lp, fin[0]) + match_cost(rc, fin[3], rp, fin[1])
    cost_cross = match_cost(lc, fin[2], rp, fin[1]) + match_cost(rc, fin[3], lp, fin[0])
    ev = np.where(complete, ev_complete, cost_cross - cost_same)
    return np.clip(ev, -_PAIR_EVIDENCE_CAP, _PAIR_EVIDENCE_CAP).sum(axis=1)


def _layout(view: _ChainView, t_ms: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """Per frame, the mean half-difference of the other frames within the window, in the labelling ``mirrored``."""
    ok = np.isfinite(view.half).all(axis=-1)
    sign = np.where(mirrored, -1.0, 1.0)[:, None, None]
    h = np.where(ok[..., None], view.half * sign, 0.0)
    cnt = ok.astype(np.float64)
    cum_h = np.concatenate([np.zeros((1,) + h.shape[1:]), np.cumsum(h, axis=0)])
    cum_n = np.concatenate([np.zeros((1,) + cnt.shape[1:]), np.cumsum(cnt, axis=0)])
    lo = np.searchsorted(t_ms, t_ms - _LAYOUT_HALF_WINDOW_MS, side="left")
    hi = np.searchsorted(t_ms, t_ms + _LAYOUT_HALF_WINDOW_MS, side="right")
    n_other = cum_n[hi] - cum_n[lo] - cnt
    layout = (cum_h[hi] - cum_h[lo] - h) / np.maximum(n_other, 1.0)[..., None]
    layout[n_other < 1] = np.nan
    return layout


def _layout_evidence(view: _ChainView, layout: np.ndarray, mirrored: np.ndarray) -> np.ndarray:
    """Per frame: cost of "mirrored" minus cost of "labelled" against ``layout``.

    The noise scale is the spread of the frames around the layout in the
    labelling ``mirrored``, so an incoherent layout carries little weight.
    """
    d = view.half.shape[-1]
    usable = np.isfinite(view.half).all(axis=-1) & np.isfinite(layout).all(axis=-1)
    sign = np.where(mirrored, -1.0, 1.0)[:, None, None]
    floor = _MIN_NOISE_TORSO**2
    var = max(_median_or((_sqdist(view.half * sign, layout) / d)[usable], floor), floor)
    dot = np.where(usable, np.nan_to_num((view.half * layout).sum(axis=-1)), 0.0)
    return np.clip(2.0 * dot / var, -_PAIR_EVIDENCE_CAP, _PAIR_EVIDENCE_CAP).sum(axis=1)


def _layout_misfit(view: _ChainView, layout: np.ndarray, mirrored: np.ndarray) -> float:
    """Negative log-likelihood of the frames around ``layout`` at the consecutive-frame noise scale."""
    d = view.half.shape[-1]
    sign = np.where(mirrored, -1.0, 1.0)[:, None, None]
    r = _sqdist(view.half * sign, layout) / (d * view.var_half)
    return float(np.minimum(np.nan_to_num(r), _PAIR_EVIDENCE_CAP).sum())


def _two_state_path(flip_cost: np.ndarray, mirror_cost: np.ndarray) -> np.ndarray:
    """Minimum-cost labelled (False) / mirrored (True) path.

    ``mirror_cost[k]`` is charged for being mirrored at step k (being labelled
    costs 0); ``flip_cost[k]`` for changing state between steps k and k+1.
    """
    k_steps = mirror_cost.shape[0]
    back = np.zeros((k_steps, 2), dtype=bool)
    c0, c1 = 0.0, float(mirror_cost[0])
    for k in range(1, k_steps):
        f = float(flip_cost[k - 1])
        to0_from1 = c1 + f < c0
        to1_from0 = c0 + f < c1
        n0 = c1 + f if to0_from1 else c0
        n1 = (c0 + f if to1_from0 else c1) + float(mirror_cost[k])
        back[k, 0] = to0_from1
        back[k, 1] = not to1_from0
        c0, c1 = n0, n1
    path = np.zeros(k_steps, dtype=bool)
    state = bool(c1 < c0)
    for k in range(k_steps - 1, -1, -1):
        path[k] = state
        if k:
            state = bool(back[k, int(state)])
    return path


def _chain_swaps(views: list[_ChainView], t_ms: np.ndarray, dt_med_ms: float, switch: float,
                 mirror: float) -> np.ndarray:
    k_steps = t_ms.shape[0]
    time_scale = np.maximum(1.0, np.diff(t_ms) / dt_med_ms) ** 2
    flip = np.full(k_steps - 1, switch)
    for view in views:
        flip += _flip_evidence(view, time_scale)
    prior = np.full(k_steps, mirror)
    continuity = _two_state_path(flip, prior)
    best, best_cost = continuity, math.inf
    for path in (continuity, np.zeros(k_steps, dtype=bool)):
        for _ in range(_LAYOUT_ROUNDS):
            unary = prior.copy()
            for view in views:
                unary += _layout_evidence(view, _layout(view, t_ms, path), path)
            path = _two_state_path(flip, unary)
        cost = float(flip[path[1:] != path[:-1]].sum() + mirror * path.sum())
        cost += sum(_layout_misfit(v, _layout(v, t_ms, path), path) for v in views)
        if cost < best_cost:
            best, best_cost = path, cost
    return best


def find_swaps(
    seq: PoseSequence,
    switch_cost: float = _DEFAULTS.swap_switch_cost,
    mirror_cost: float = _DEFAULTS.swap_mirror_cost,
) -> dict[str, np.ndarray]:
    """Per chain of :data:`SWAP_CHAINS`: (N,) bool, True where that chain's labels are mirrored.

    Notes
    -----
    Each chain is labelled or mirrored on each frame, found as the cheapest
    two-state (Viterbi) path over the frames where the chain is seen, so
    continuity survives dropouts. Three signals count, each with noise scales
    estimated from the sequence itself: ``xy_px`` and ``world_m`` (in torso
    lengths) and ``visibility``, whose near-high/far-low pattern in a side
    view moves with the labels (after masking, often the only cue left: the
    far side is NaN). The path's cost adds up, in log-likelihood units:

    - per step, the motion of the chain's landmarks under "same labels" or
      "mirrored" (allowances widened with the time elapsed);
    - per frame, the fit of the chain's left-right layout (left minus right)
      to the mean layout of the frames within 1 s, in the path's own labelling;
      averaging over many frames sees through noise where the two sides
      nearly coincide, as the hips do in a side view;
    - ``switch_cost`` per change of state and ``mirror_cost`` per mirrored
      frame, which makes the labelling MediaPipe uses on most frames win
      where nothing else tells the two apart (the first frame, long dropouts).

    The layout depends on the labels, so they are solved in turn, starting
    once from the continuity-only path (best when the sides are clearly
    apart: it also repairs swaps longer than the window) and once from
    MediaPipe's labels (best under heavy noise); the lower total cost wins.
    Frames where a chain is entirely NaN are False.

    switch_cost, mirror_cost
        Log-likelihood units, >= 0 (defaults and rationale: :class:`CleaningParams`).
    """
    switch = _check_nonneg("switch_cost", switch_cost)
    mirror = _check_nonneg("mirror_cost", mirror_cost)
    n = seq.n_frames
    result = {name: np.zeros(n, dtype=bool) for name in SWAP_CHAINS}
    if n == 0:
        return result
    dt_med = sampling_interval_ms(seq.t_ms) if n > 1 else 1.0
    positions = []
    for arr, fallback in ((seq.xy_px, max(seq.frame_w, seq.frame_h) / 4.0), (seq.world_m, 0.5)):
        torso = _torso_scale(arr)
        positions.append(arr / (torso if np.isfinite(torso) else fallback))
    modalities = positions + [seq.visibility[..., None]]
    for name, pairs in SWAP_CHAINS.items():
        left = np.array([int(p[0]) for p in pairs])
        right = np.array([int(p[1]) for p in pairs])
        both = np.concatenate([left, right])
        valid = np.zeros(n, dtype=bool)
        for coords in positions:
            valid |= np.isfinite(coords[:, both]).all(axis=-1).any(axis=1)
        idx = np.flatnonzero(valid)
        if idx.size:
            views = [_chain_view(coords[idx], left, right) for coords in modalities]
            result[name][idx] = _chain_swaps(views, seq.t_ms[idx], dt_med, switch, mirror)
    return result


def _chain_permutation(pairs: tuple[tuple[Landmark, Landmark], ...]) -> np.ndarray:
    mirror = mirror_index()
    members = {int(x) for pair in pairs for x in pair}
    return np.array([mirror[j] if j in members else j for j in range(N_LANDMARKS)])


def repair_swaps(
    seq: PoseSequence,
    switch_cost: float = _DEFAULTS.swap_switch_cost,
    mirror_cost: float = _DEFAULTS.swap_mirror_cost,
) -> PoseSequence:
    """``seq`` with left/right label swaps undone per frame and chain.

    Notes
    -----
    Swaps are found by :func:`find_swaps` (legs: hip to foot; arms:
    shoulder to hand; face). On a swapped frame the chain's landmarks are
    permuted with :func:`formcheck.landmarks.mirror_index` in ``xy_px``,
    ``z_px``, ``world_m``, ``visibility`` and ``presence`` alike.
    ``meta['swaps_repaired']`` is the number of frames changed (any chain),
    ``meta['swaps_repaired_by_chain']`` the count per chain.

    switch_cost, mirror_cost
        See :func:`find_swaps` and :class:`CleaningParams`.
    """
    states = find_swaps(seq, switch_cost, mirror_cost)
    arrays = {name: np.array(getattr(seq, name)) for name in _ALL_FIELDS}
    for name, pairs in SWAP_CHAINS.items():
        frames = np.flatnonzero(states[name])
        if frames.size:
            perm = _chain_permutation(pairs)
            for arr in arrays.values():
                arr[frames] = arr[frames][:, perm]
    any_swapped = np.zeros(seq.n_frames, dtype=bool)
    for s in states.values():
        any_swapped |= s
    meta = dict(seq.meta)
    meta["swaps_repaired"] = int(any_swapped.sum())
    meta["swaps_repaired_by_chain"] = {name: int(s.sum()) for name, s in states.items()}
    return seq.with_(**arrays, meta=meta)


# ---------------------------------------------------------------- low-pass
def _interp_rows(x_src: np.ndarray, y: np.ndarray, x_dst: np.ndarray) -> np.ndarray:
    i = np.clip(np.searchsorted(x_src, x_dst, side="right") - 1, 0, x_src.shape[0] - 2)
    w = ((x_dst - x_src[i]) / (x_src[i + 1] - x_src[i]))[:, None]
    return y[i] * (1.0 - w) + y[i + 1] * w


def _default_padlen(sos: np.ndarray) -> int:
    zeros = min(int((sos[:, 2] == 0).sum()), int((sos[:, 5] == 0).sum()))
    return 3 * (2 * sos.shape[0] + 1 - zeros)


@lru_cache(maxsize=256)
def _butter_design(order: int, cutoff_hz: float, fs_hz: float) -> np.ndarray:
    sos = butter(order, cutoff_hz, btype="low", output="sos", fs=fs_hz)
    sos.setflags(write=False)
    return sos


def _butter_sos(order: int, cutoff_hz: float, fs_hz: float) -> np.ndarray:
    """The Butterworth sections for one design (a fresh copy: scipy's filter wants a writable array).
    A clip's runs share a few designs, and designing one costs more than filtering a run with it."""
    return _butter_design(order, cutoff_hz, fs_hz).copy()


def _filter_run(t_run: np.ndarray, y: np.ndarray, cutoff_hz: float, order: int, dt_med_ms: float) -> np.ndarray:
    span = float(t_run[-1] - t_run[0])
    m = int(round(span / dt_med_ms)) + 1
    if m < _MIN_FILTER_SAMPLES:
        return y
    grid = np.linspace(t_run[0], t_run[-1], m)
    fs_hz = 1000.0 * (m - 1) / span
    if cutoff_hz >= fs_hz / 2:
        return y
    uniform = m == t_run.shape[0] and bool(np.all(np.abs(grid - t_run) <= 1e-3 * dt_med_ms))
    g = y if uniform else _interp_rows(t_run, y, grid)
    sos = _butter_sos(int(order), float(cutoff_hz), float(fs_hz))
    smooth = sosfiltfilt(sos, g, axis=0, padlen=min(_default_padlen(sos), m - 1))
    return smooth if uniform else _interp_rows(grid, smooth, t_run)


def lowpass_array(
    t_ms: ArrayLike,
    values: ArrayLike,
    cutoff_hz: float = _DEFAULTS.cutoff_hz,
    order: int = _DEFAULTS.filter_order,
) -> np.ndarray:
    """Zero-phase Butterworth low-pass of each column over each of its NaN-free runs.

    Notes
    -----
    t_ms
        (N,) strictly increasing timestamps in ms.
    values
        (N, ...) array; every element after the first axis is a separate
        series. NaN stays NaN, and no run is filtered across a NaN.
    cutoff_hz
        Design cutoff of one pass, in Hz (default and rationale:
        :class:`CleaningParams`). ``scipy.signal.sosfiltfilt`` runs the filter
        forwards and backwards: no phase lag, gain 0.5 at ``cutoff_hz``.
    order
        Butterworth order of one pass, 1..10.

    Variable frame rate: each run is resampled linearly onto a uniform grid
    spanning the run at the clip's median frame interval (of its densest sampling when the adaptive
    stride thinned still phases, :func:`formcheck.sequence.sampling_interval_ms`) (the grid spacing is
    adjusted slightly so it ends exactly on the run's last timestamp),
    filtered there, and interpolated back at the original ``t_ms``. A run
    whose timestamps already lie on that grid is filtered directly.

    Short runs: a run whose grid has fewer than 3 samples is left as it is.
    A run no longer than the filter's default padding (``3 * (2 *
    n_sections + 1)`` samples: 15 at order 4, 0.5 s at 30 fps) is filtered
    with the odd-extension padding cut to the run length minus one, so it is
    smoothed less near its ends. If ``cutoff_hz`` is at or above the Nyquist
    rate of the grid, the run is left as it is: the samples hold nothing
    above the cutoff to remove.
    """
    t = _check_t_ms(t_ms)
    y = _check_values(t, values)
    cutoff = _check_pos("cutoff_hz", cutoff_hz)
    order = _check_order(order)
    n = t.shape[0]
    if n < _MIN_FILTER_SAMPLES:
        return y.copy()
    dt_med = sampling_interval_ms(t)
    y2 = y.reshape(n, -1).copy()
    finite = np.isfinite(y2)
    groups: dict[bytes, list[int]] = {}
    for c in range(y2.shape[1]):
        groups.setdefault(np.packbits(finite[:, c]).tobytes(), []).append(c)
    for cols_list in groups.values():
        cols = np.array(cols_list)
        mask = finite[:, cols[0]]
        edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
        starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
        for s, e in zip(starts, stops):
            y2[s:e, cols] = _filter_run(t[s:e], y2[s:e, cols], cutoff, order, dt_med)
    return y2.reshape(y.shape)


def lowpass(
    seq: PoseSequence,
    cutoff_hz: float = _DEFAULTS.cutoff_hz,
    order: int = _DEFAULTS.filter_order,
) -> PoseSequence:
    """``seq`` with ``xy_px``, ``z_px`` and ``world_m`` low-passed (see :func:`lowpass_array`).

    Notes
    -----
    cutoff_hz, order
        Butterworth design, in Hz and order of one pass (defaults and
        rationale: :class:`CleaningParams`). NaN runs are preserved; VFR clips
        are resampled per run as described in :func:`lowpass_array`.
    """
    return seq.with_(**{name: lowpass_array(seq.t_ms, getattr(seq, name), cutoff_hz, order)
                        for name in _COORD_FIELDS})


# ---------------------------------------------------------------- live filter
def _alpha(cutoff_hz: np.ndarray | float, dt_s: float) -> np.ndarray | float:
    r = 2.0 * math.pi * cutoff_hz * dt_s
    return r / (r + 1.0)


class OneEuroFilter:
    """Causal One Euro filter (Casiez, Roussel and Vogel, CHI 2012), timestamp-driven and vectorised.

    Each call takes one sample, an array of any shape (e.g. (33, 2) pixel
    landmarks), and its timestamp; every element is filtered independently:
    an exponential smoother whose cutoff rises with the element's smoothed speed.

    Notes
    -----
    min_cutoff_hz
        Cutoff of a still element, in Hz (> 0).
    beta
        Cutoff increase per unit of speed, in Hz per (unit/s) (>= 0); depends
        on the units of the values.
    d_cutoff_hz
        Cutoff of the speed estimate's own smoother, in Hz (> 0).

    Defaults and their rationale: :class:`LiveFilterParams`.

    Time: the smoothing factors come from the time since the previous accepted
    sample, never from a frame rate. A sample whose timestamp is equal to or
    earlier than the previous one (``dt <= 0``) is ignored: the call returns
    the previous output unchanged and leaves the state as it was.

    NaN, per element: a NaN input gives a NaN output and clears that
    element's state. Its next finite input is passed through unchanged and
    restarts the element with zero speed, so a landmark coming back after a
    dropout is never smoothed towards where it was lost. Elements that are
    finite on every call never see this. The first call returns its input.
    """

    def __init__(
        self,
        min_cutoff_hz: float = _LIVE_DEFAULTS.min_cutoff_hz,
        beta: float = _LIVE_DEFAULTS.beta,
        d_cutoff_hz: float = _LIVE_DEFAULTS.d_cutoff_hz,
    ) -> None:
        self.min_cutoff_hz = _check_pos("min_cutoff_hz", min_cutoff_hz)
        self.beta = _check_nonneg("beta", beta)
        self.d_cutoff_hz = _check_pos("d_cutoff_hz", d_cutoff_hz)
        self.reset()

    def reset(self) -> None:
        """Forget all state: the next call starts afresh."""
        self._t_ms: float | None = None
        self._x: np.ndarray | None = None
        self._dx: np.ndarray | None = None

    def __call__(self, t_ms: float, x: ArrayLike) -> np.ndarray:
        """Filter one sample; returns a new array shaped like ``x``.

        Notes
        -----
        t_ms
            The sample's timestamp in ms (finite); only differences matter.
        x
            Values of any shape, fixed after the first call; NaN marks lost elements.
        """
        t = float(t_ms)
        if not math.isfinite(t):
            raise ValueError(f"t_ms: expected a finite timestamp, got {t_ms!r}")
        xs = np.array(x, dtype=np.float64)
        finite = np.isfinite(xs)
        if self._x is None or self._dx is None or self._t_ms is None:
            self._t_ms = t
            self._x = np.where(finite, xs, np.nan)
            self._dx = np.where(finite, 0.0, np.nan)
            return self._x.copy()
        if xs.shape != self._x.shape:
            raise ValueError(f"x: expected shape {self._x.shape} as on earlier calls, got {xs.shape}")
        dt_s = (t - self._t_ms) / 1000.0
        if dt_s <= 0:
            return self._x.copy()
        prev_x, prev_dx = self._x, self._dx
        running = finite & np.isfinite(prev_x)
        with np.errstate(invalid="ignore"):
            dx = (xs - prev_x) / dt_s
            dx_hat = prev_dx + _alpha(self.d_cutoff_hz, dt_s) * (dx - prev_dx)
            cutoff = self.min_cutoff_hz + self.beta * np.abs(dx_hat)
            x_hat = prev_x + _alpha(cutoff, dt_s) * (xs - prev_x)
        self._x = np.where(running, x_hat, np.where(finite, xs, np.nan))
        self._dx = np.where(running, dx_hat, np.where(finite, 0.0, np.nan))
        self._t_ms = t
        return self._x.copy()


# ---------------------------------------------------------------- pipeline
def clean(seq: PoseSequence, params: CleaningParams | None = None) -> PoseSequence:
    """The offline cleaning pipeline: mask, repair swaps, interpolate gaps, low-pass.

    Notes
    -----
    params
        All thresholds of the pipeline (see :class:`CleaningParams` for each
        value's units and rationale); None = :meth:`CleaningParams.packaged`.
        They are recorded in ``meta['cleaning']`` so a saved sequence says how
        it was cleaned.
    """
    if params is None:
        params = CleaningParams.packaged()
    out = mask_low_visibility(seq, params.min_visibility)
    if params.repair_swaps:
        out = repair_swaps(out, params.swap_switch_cost, params.swap_mirror_cost)
    out = interpolate_gaps(out, params.max_gap_ms)
    out = lowpass(out, params.cutoff_hz, params.filter_order)
    meta = dict(out.meta)
    meta["cleaning"] = asdict(params)
    return out.with_(meta=meta)
