"""Back rounding from the lifter's silhouette: the curve of the back between shoulders and hips.

The 33 pose landmarks barely see the spine (see ``back_rounding_proxy`` in
:mod:`formcheck.metrics`), but the lifter's segmentation silhouette does: a
rounded back bulges away from the straight shoulder-hip line. Per frame this
module

1. draws the *chord* from the shoulder midpoint to the hip midpoint (image
   landmarks, pixels);
2. walks out from the chord, perpendicular to it and toward the back (the side
   away from where the lifter faces), at ``stations`` points between
   ``start_fraction`` and ``end_fraction`` of the chord, until it leaves the
   silhouette: those exit points are the back's outline (the *dorsal contour*);
3. fits a parabola to the outline's distance from the chord (leaving out
   notches and bumps once) and takes its *sagitta* ``h`` (how far the middle
   bulges past the line joining the outline's two ends) over that line's
   length ``c``;
4. turns it into an angle: a circular arc with sagitta ``h`` over chord ``c``
   turns its tangent by ``4 * atan(2 h / c)``; that angle, in degrees, is the
   frame's raw bend (+ = bulging backward, rounded; - = hollow, arched);
5. subtracts the lifter's own neutral (the median raw bend over the frames in
   which they stand upright, clipped to ``[min_neutral_deg, max_neutral_deg]``;
   as packaged both are 0, so nothing is subtracted and the outline is read
   against a straight line: docs/accuracy.md, "Rounded back without a standing
   reference"), and smooths over time with a running median.

Frames are rejected (NaN) with a counted reason when the mask is missing, the
shoulders or hips are not tracked, the back's edge cannot be found at enough
points (hidden by a plate, the bar, an arm, out of frame) or the outline is too
ragged to fit. Only frames seen nearly side-on are read (``min_yaw_deg``, per
rep): from the front or the back the back's outline is not in the picture,
and from 45 degrees it is the side of the torso, not the spine's profile.

Honest limits: this is a 2D outline from one camera. It is the skin and
clothing of the back, not the spine; baggy clothes and long hair change it; in
a 45-degree view the bend is foreshortened; the angle is a bend of the outline
*equivalent* to a circular arc, not a vertebral measurement.

Pure numpy/SciPy: masks come in through the :class:`MaskSource` protocol
(:class:`formcheck.pose.MaskTrack` satisfies it).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, fields
from functools import lru_cache
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Mapping, Protocol

import numpy as np

from formcheck.landmarks import Landmark as L
from formcheck.settings import table_fields

#: Why a frame has no estimate (counted in :attr:`SpineEstimate.rejected`).
REASONS = ("no_mask", "not_side_on", "landmarks", "chord_outside_mask", "edge_not_found", "too_few_points",
           "ragged_outline")


class MaskSource(Protocol):
    """What the estimator needs from a mask track (:class:`formcheck.pose.MaskTrack` has it)."""

    @property
    def n_frames(self) -> int: ...

    bbox_px: np.ndarray

    def crop(self, i: int) -> np.ndarray | None: ...


@dataclass(frozen=True)
class SpineParams:
    """Thresholds of the silhouette estimator.

    Their values live in one place only, ``formcheck/config/spine.toml`` (or a
    tuned copy): every field is required; :func:`load_params` reads them.

    Notes
    -----
    - ``start_fraction`` / ``end_fraction``: the back is read between these
      shares of the shoulder-to-hip chord (0 = shoulders). Near the shoulders
      the outline runs over the shoulder blade and neck, near the hips over the
      buttocks; both bulge whatever the spine does.
    - ``stations``: points read along the back; 24 gives a point every
      ~4 px on a 150-px torso, enough for a stable parabola fit.
    - ``max_depth_fraction``: an edge further than this share of the chord from
      it is not the back (a torso is about 0.3-0.4 chords thick from the
      joint line); the silhouette has merged with something.
    - ``min_station_ratio``: share of the points that must find the edge.
    - ``outlier_ratio``: points further than this share of the outline's
      length from the first fit are notches (bar, plates) or bumps (a hand) and
      are dropped before the second fit.
    - ``max_residual_ratio``: RMS scatter left after the second fit, as a share
      of the outline's length, above which the outline is too ragged.
    - ``min_landmark_visibility``: shoulders and hips tracked at least this well.
    - ``neutral_trunk_max_deg`` / ``min_neutral_frames``: the neutral back is
      the median raw bend over frames whose trunk leans at most this far from
      upright; with fewer such frames, the 10th percentile of all frames.
    - ``max_neutral_deg``: the neutral is capped at this bend (0 = a straight
      outline). Standing upright, the outline of the read span is straight or
      hollow (lumbar lordosis); a bowed standing reading is contamination: on
      the labelled side-view barbell deadlifts the plates overlap the hips at
      lockout and the standing frames read +15 to +30 deg on lifters whose
      loaded back reads about 0 (see docs/accuracy.md).
    - ``min_neutral_deg``: the neutral is floored at this bend (negative =
      hollow). Over the read span a standing back's lumbar curve makes the
      outline hollow by a few centimetres, about 30 deg of equivalent arc;
      a more hollow standing reading is the buttocks or clothing in the
      outline, or a few poorly read frames (a rendered sample read 34 of 334
      frames and gave -101 deg, which turned a straight squat into +32).
    - ``smooth_ms``: running-median window against frame-to-frame jitter.
    - ``min_yaw_deg``: frames are read only while the camera sees the lifter
      this close to side-on (the view's yaw, 90 = side-on, measured per rep
      by :func:`formcheck.views.classify_view`); further round, the outline
      is the side of the torso (shoulder blade, lats), not the back's profile.
      On the labelled clips, side views at 70-74 deg yaw (63-67 before the
      yaw's calibration curve) read bowed outlines on straight backs (see
      docs/accuracy.md).

    No defaults here: the values live only in ``spine.toml``
    (:func:`load_params`); tests change one with :func:`dataclasses.replace`.
    """

    start_fraction: float
    end_fraction: float
    stations: int
    max_depth_fraction: float
    min_station_ratio: float
    outlier_ratio: float
    max_residual_ratio: float
    min_landmark_visibility: float
    neutral_trunk_max_deg: float
    min_neutral_frames: int
    max_neutral_deg: float
    min_neutral_deg: float
    smooth_ms: float
    min_yaw_deg: float

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if f.type in (int, "int"):
                if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
                    raise ValueError(f"{f.name}: expected a whole number, got {v!r}")
                object.__setattr__(self, f.name, int(v))
            else:
                if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                        or not math.isfinite(v):
                    raise ValueError(f"{f.name}: expected a finite number, got {v!r}")
                object.__setattr__(self, f.name, float(v))
        if not 0.0 <= self.start_fraction < self.end_fraction <= 1.0:
            raise ValueError(f"start_fraction/end_fraction: expected 0 <= start < end <= 1, got "
                             f"{self.start_fraction}, {self.end_fraction}")
        if self.stations < 5:
            raise ValueError(f"stations: expected at least 5, got {self.stations}")
        for name in ("max_depth_fraction", "min_station_ratio", "outlier_ratio", "max_residual_ratio"):
            v = getattr(self, name)
            if not 0.0 < v <= 1.0:
                raise ValueError(f"{name}: expected a ratio in (0, 1], got {v}")
        if not 0.0 <= self.min_landmark_visibility <= 1.0:
            raise ValueError(f"min_landmark_visibility: expected 0..1, got {self.min_landmark_visibility}")
        if self.smooth_ms < 0:
            raise ValueError(f"smooth_ms: expected >= 0, got {self.smooth_ms}")
        if self.neutral_trunk_max_deg <= 0:
            raise ValueError(f"neutral_trunk_max_deg: expected > 0, got {self.neutral_trunk_max_deg}")
        if self.min_neutral_frames < 1:
            raise ValueError(f"min_neutral_frames: expected at least 1, got {self.min_neutral_frames}")
        if not self.min_neutral_deg <= self.max_neutral_deg:
            raise ValueError(f"min_neutral_deg: expected <= max_neutral_deg, got {self.min_neutral_deg}, "
                             f"{self.max_neutral_deg}")
        if not 0.0 <= self.min_yaw_deg <= 90.0:
            raise ValueError(f"min_yaw_deg: expected 0..90, got {self.min_yaw_deg}")


@lru_cache(maxsize=1)
def _packaged_params() -> SpineParams:
    ref = resources.files("formcheck") / "config" / "spine.toml"
    return params_from_toml(tomllib.loads(ref.read_text(encoding="utf-8")), "spine.toml")


def params_from_toml(data: Mapping[str, object], where: str = "spine.toml") -> SpineParams:
    """:class:`SpineParams` from a parsed ``spine.toml``: every key of ``[spine]`` required, none unknown."""
    try:
        kwargs = table_fields(SpineParams, data.get("spine"), "spine")
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    try:
        return SpineParams(**kwargs)
    except ValueError as exc:
        raise ValueError(f"{where}: spine.{exc}") from exc


def load_params(path: str | Path | None = None) -> SpineParams:
    """The estimator's thresholds from the packaged ``spine.toml`` or from ``path``."""
    if path is None:
        return _packaged_params()
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{p}: expected a readable TOML file ({exc})") from exc
    return params_from_toml(data, str(p))


# --------------------------------------------------------------------------- one frame
@dataclass(frozen=True)
class BackOutline:
    """One frame's reading: the dorsal contour and its bend.

    ``contour_px`` (K, 2) holds the back's edge points in frame pixels (NaN
    where not found or dropped as an outlier); ``chord_px`` (2, 2) the shoulder
    and hip midpoints; ``sagitta_px`` the fitted bulge past the outline's end
    line (+ = backward); ``length_px`` that line's length; ``bend_deg`` the
    equivalent arc angle ``4 atan(2 sagitta / length)``; ``reason`` is "" for a
    good frame or one of :data:`REASONS`.
    """

    contour_px: np.ndarray
    chord_px: np.ndarray
    sagitta_px: float
    length_px: float
    bend_deg: float
    reason: str = ""

    @property
    def ok(self) -> bool:
        return self.reason == ""


def _rejected(reason: str, k: int, chord: np.ndarray, contour: np.ndarray | None = None) -> BackOutline:
    c = np.full((k, 2), np.nan) if contour is None else contour
    return BackOutline(c, chord, float("nan"), float("nan"), float("nan"), reason)


def dorsal_normal(shoulder_px: np.ndarray, hip_px: np.ndarray, facing_sign: int) -> np.ndarray:
    """Unit vector perpendicular to the trunk chord, pointing out of the lifter's back.

    With ``u`` the unit vector from hips to shoulders (image coordinates, y
    down) and the lifter facing image right (``facing_sign`` +1), the back is
    at ``(u_y, -u_x)``: standing (``u`` up) that is image left, hinged over
    (``u`` pointing right) it is image up. Facing left mirrors it.
    """
    u = np.asarray(shoulder_px, float) - np.asarray(hip_px, float)
    u = u / np.linalg.norm(u)
    return float(facing_sign) * np.array([u[1], -u[0]])


def read_back(mask: np.ndarray, origin_px: tuple[int, int], shoulder_px: np.ndarray, hip_px: np.ndarray,
              facing_sign: int, params: SpineParams | None = None) -> BackOutline:
    """Read the back's outline and bend in one frame.

    ``mask`` is a boolean silhouette whose pixel ``[0, 0]`` sits at frame
    pixel ``origin_px`` (x, y): a crop from :class:`formcheck.pose.MaskTrack`
    or a whole frame with origin (0, 0). ``shoulder_px`` / ``hip_px`` are the
    shoulder and hip midpoints in frame pixels.
    """
    p = params or load_params()
    k = int(p.stations)
    s_px = np.asarray(shoulder_px, float)
    h_px = np.asarray(hip_px, float)
    chord = np.stack([s_px, h_px])
    if facing_sign not in (-1, 1) or not np.all(np.isfinite(chord)):
        return _rejected("landmarks", k, chord)
    length = float(np.linalg.norm(h_px - s_px))
    if length < 10.0:
        return _rejected("landmarks", k, chord)
    n = dorsal_normal(s_px, h_px, facing_sign)
    along = (h_px - s_px) / length
    frac = np.linspace(p.start_fraction, p.end_fraction, k)
    base = s_px[None, :] + frac[:, None] * length * along[None, :]  # (K, 2) points on the chord
    max_steps = max(2, int(math.ceil(p.max_depth_fraction * length)))
    steps = np.arange(max_steps + 1, dtype=float)  # 1-px steps outward
    pts = base[:, None, :] + steps[None, :, None] * n[None, None, :]  # (K, M, 2)
    ox, oy = origin_px
    col = np.rint(pts[..., 0] - ox).astype(np.int64)
    row = np.rint(pts[..., 1] - oy).astype(np.int64)
    hgt, wid = mask.shape
    inb = (col >= 0) & (col < wid) & (row >= 0) & (row < hgt)
    inside = np.zeros(col.shape, dtype=bool)
    inside[inb] = mask[row[inb], col[inb]]
    start_in = inside[:, 0]
    if start_in.mean() < p.min_station_ratio:
        return _rejected("chord_outside_mask", k, chord)
    leaves = ~inside
    has_edge = leaves.any(axis=1) & start_in
    if has_edge.mean() < p.min_station_ratio:
        return _rejected("edge_not_found", k, chord)
    depth = np.where(has_edge, np.argmax(leaves, axis=1) - 0.5, np.nan)  # px from the chord to the edge
    contour = base + depth[:, None] * n[None, :]
    t = np.linspace(-1.0, 1.0, k)
    half = 0.5 * (p.end_fraction - p.start_fraction) * length
    keep = np.isfinite(depth)
    fit = _fit(t, depth, keep)
    out_len = 2.0 * math.hypot(half, fit[1])
    resid = depth - np.polyval(fit[::-1], t)
    keep = keep & (np.abs(np.nan_to_num(resid, nan=np.inf)) <= p.outlier_ratio * out_len)
    if keep.mean() < p.min_station_ratio:
        contour[~keep] = np.nan
        return _rejected("too_few_points", k, chord, contour)
    a, b, c = _fit(t, depth, keep)
    resid = depth[keep] - (a + b * t[keep] + c * t[keep] ** 2)
    out_len = 2.0 * math.hypot(half, b)
    contour[~keep] = np.nan
    if float(np.sqrt(np.mean(resid**2))) > p.max_residual_ratio * out_len:
        return _rejected("ragged_outline", k, chord, contour)
    sagitta = -c  # the line through the fitted ends sits at a + c in the middle; the outline at a
    bend = math.degrees(4.0 * math.atan(2.0 * sagitta / out_len))
    return BackOutline(contour, chord, float(sagitta), float(out_len), float(bend), "")


def _fit(t: np.ndarray, y: np.ndarray, keep: np.ndarray) -> tuple[float, float, float]:
    """Least-squares ``y = a + b t + c t^2`` over ``keep``."""
    tk, yk = t[keep], y[keep]
    a_mat = np.stack([np.ones_like(tk), tk, tk**2], axis=1)
    coef, *_ = np.linalg.lstsq(a_mat, yk, rcond=None)
    return float(coef[0]), float(coef[1]), float(coef[2])


# --------------------------------------------------------------------------- a clip
@dataclass(frozen=True)
class SpineEstimate:
    """Silhouette back rounding over a clip.

    Attributes
    ----------
    t_ms : (N,)
        Frame times.
    raw_bend_deg : (N,)
        Each frame's bend of the back's outline (see the module docstring),
        degrees, + = rounded (bulging backward), NaN where rejected.
    flexion_deg : (N,)
        ``raw_bend_deg`` smoothed, minus the lifter's neutral (0 as packaged):
        0 = the neutral outline (a straight one as packaged), + = more rounded, degrees.
        This is what fills ``FrameMetrics.spine_flexion_deg``.
    neutral_deg : float
        The neutral raw bend that was subtracted (NaN when nothing was read).
    contour_px : (N, K, 2)
        The back's edge points per frame (NaN where not read), for drawing.
    chord_px : (N, 2, 2)
        Shoulder and hip midpoints per frame.
    rejected : mapping
        Frames without an estimate, counted by reason (:data:`REASONS`).
    """

    t_ms: np.ndarray
    raw_bend_deg: np.ndarray
    flexion_deg: np.ndarray
    neutral_deg: float
    contour_px: np.ndarray
    chord_px: np.ndarray
    rejected: Mapping[str, int]

    def __post_init__(self) -> None:
        n = np.asarray(self.t_ms).shape[0]
        for name, tail in (("raw_bend_deg", ()), ("flexion_deg", ()), ("chord_px", (2, 2))):
            a = np.asarray(getattr(self, name), dtype=float)
            if a.shape != (n, *tail):
                raise ValueError(f"{name}: expected shape {(n, *tail)}, got {a.shape}")
        c = np.asarray(self.contour_px)
        if c.ndim != 3 or c.shape[0] != n or c.shape[2] != 2:
            raise ValueError(f"contour_px: expected shape ({n}, K, 2), got {c.shape}")
        bad = [r for r in self.rejected if r not in REASONS]
        if bad:
            raise ValueError(f"rejected: expected reasons among {REASONS}, got {bad}")
        object.__setattr__(self, "rejected", MappingProxyType(dict(self.rejected)))

    @property
    def n_frames(self) -> int:
        return int(np.asarray(self.t_ms).shape[0])

    @property
    def read_share(self) -> float:
        """Share of frames with a raw reading."""
        return float(np.isfinite(self.raw_bend_deg).mean()) if self.n_frames else 0.0

    def summary(self) -> dict[str, object]:
        """Plain numbers for the report (``extra.spine``)."""
        fin = self.flexion_deg[np.isfinite(self.flexion_deg)]
        return {
            "frames": self.n_frames,
            "frames_read": int(np.isfinite(self.raw_bend_deg).sum()),
            "rejected": {k: int(v) for k, v in self.rejected.items() if v},
            "neutral_bend_deg": round(self.neutral_deg, 1) if math.isfinite(self.neutral_deg) else None,
            "max_flexion_deg": round(float(fin.max()), 1) if fin.size else None,
        }


def _mid(xy: np.ndarray, vis: np.ndarray, left: L, right: L, min_vis: float) -> tuple[np.ndarray, bool]:
    pts = xy[[int(left), int(right)]]
    v = vis[[int(left), int(right)]]
    ok = np.all(np.isfinite(pts), axis=1) & (np.nan_to_num(v, nan=0.0) >= min_vis)
    if not ok.any():
        return np.array([np.nan, np.nan]), False
    return pts[ok].mean(axis=0), True


def rolling_nanmedian(t_ms: np.ndarray, x: np.ndarray, window_ms: float) -> np.ndarray:
    """Running median over ``window_ms`` (centred, by timestamps) of the finite samples.

    A frame stays NaN when it was NaN or when fewer than half of its window's
    frames are finite.
    """
    t = np.asarray(t_ms, float)
    x = np.asarray(x, float)
    out = np.full_like(x, np.nan)
    if window_ms <= 0:
        return x.copy()
    half = 0.5 * window_ms
    lo = np.searchsorted(t, t - half, side="left")
    hi = np.searchsorted(t, t + half, side="right")
    for i in np.flatnonzero(np.isfinite(x)):
        w = x[lo[i] : hi[i]]
        f = w[np.isfinite(w)]
        if f.size * 2 >= w.size:
            out[i] = float(np.median(f))
    return out


def estimate_spine(t_ms: np.ndarray, xy_px: np.ndarray, visibility: np.ndarray, masks: MaskSource,
                   facing_sign: int, trunk_deg: np.ndarray, params: SpineParams | None = None,
                   yaw_deg: np.ndarray | None = None) -> SpineEstimate:
    """Silhouette back rounding for every frame of a clip.

    ``xy_px`` (N, 33, 2) and ``visibility`` (N, 33) are the lifter's image
    landmarks (cleaned), ``masks`` their silhouettes, ``facing_sign`` +1 when
    the lifter faces image right and -1 left (0: not a side or oblique view:
    every frame is rejected), ``trunk_deg`` (N,) the trunk's lean from
    upright, used to find the neutral (standing) frames. ``yaw_deg`` (N,) is
    the camera's view of the lifter per frame (0 = square on, 90 = side-on;
    :attr:`formcheck.views.ViewInfo.yaw_deg` of the frame's rep): frames
    under ``min_yaw_deg`` or NaN are rejected as ``not_side_on``. ``None``
    means the caller vouches for a side-on view in every frame.
    """
    p = params or load_params()
    t = np.asarray(t_ms, float)
    n = t.shape[0]
    if masks.n_frames != n:
        raise ValueError(f"masks: expected {n} frames like the landmarks, got {masks.n_frames}")
    k = int(p.stations)
    raw = np.full(n, np.nan)
    contour = np.full((n, k, 2), np.nan)
    chord = np.full((n, 2, 2), np.nan)
    counts = dict.fromkeys(REASONS, 0)
    side_on = np.ones(n, dtype=bool)
    if yaw_deg is not None:
        yaw = np.asarray(yaw_deg, float)
        if yaw.shape != (n,):
            raise ValueError(f"yaw_deg: expected shape ({n},), got {yaw.shape}")
        with np.errstate(invalid="ignore"):
            side_on = yaw >= p.min_yaw_deg
    for i in range(n):
        crop = masks.crop(i)
        if crop is None:
            counts["no_mask"] += 1
            continue
        if not side_on[i]:
            counts["not_side_on"] += 1
            continue
        s, ok_s = _mid(xy_px[i], visibility[i], L.LEFT_SHOULDER, L.RIGHT_SHOULDER, p.min_landmark_visibility)
        h, ok_h = _mid(xy_px[i], visibility[i], L.LEFT_HIP, L.RIGHT_HIP, p.min_landmark_visibility)
        if not (ok_s and ok_h):
            counts["landmarks"] += 1
            continue
        x0, y0 = (int(v) for v in masks.bbox_px[i][:2])
        out = read_back(crop, (x0, y0), s, h, facing_sign, p)
        chord[i] = out.chord_px
        contour[i] = out.contour_px
        if out.ok:
            raw[i] = out.bend_deg
        else:
            counts[out.reason] += 1
    neutral = neutral_bend(raw, trunk_deg, p)
    smooth = rolling_nanmedian(t, raw, p.smooth_ms)
    return SpineEstimate(t_ms=t, raw_bend_deg=raw, flexion_deg=smooth - neutral, neutral_deg=neutral,
                         contour_px=contour, chord_px=chord, rejected=counts)


def neutral_bend(raw_bend_deg: np.ndarray, trunk_deg: np.ndarray, params: SpineParams) -> float:
    """The lifter's neutral raw bend: median over upright frames (see :class:`SpineParams`)."""
    raw = np.asarray(raw_bend_deg, float)
    ok = np.isfinite(raw)
    if not ok.any():
        return float("nan")
    with np.errstate(invalid="ignore"):
        upright = ok & (np.abs(np.asarray(trunk_deg, float)) <= params.neutral_trunk_max_deg)
    if upright.sum() >= params.min_neutral_frames:
        neutral = float(np.median(raw[upright]))
    else:
        neutral = float(np.percentile(raw[ok], 10))
    return float(np.clip(neutral, params.min_neutral_deg, params.max_neutral_deg))
