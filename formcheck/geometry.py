"""Vectorised geometry on landmark arrays.

Every function takes arrays whose last axis holds coordinates (2 for image
points ``(x, y)``, 3 for world points) and broadcasts over all leading axes,
so one call handles one point, one frame of many points, or a whole clip.

Conventions
-----------
- Image coordinates: x to the right, y *down* (as in :mod:`formcheck.sequence`).
- Angles are in degrees.
- A NaN coordinate, a zero-length segment or a non-finite ``facing_sign``
  gives NaN, never an exception and never a silent 0.
- ``facing_sign`` is +1 when the lifter's chest points to image right (+x),
  -1 when it points to image left. Signed results are "positive toward the
  facing direction".
"""

from __future__ import annotations

import numpy as np

#: Segments shorter than this (in the coordinates' own unit) count as degenerate.
DEGENERATE_LEN = 1e-9


def _arr(a: np.ndarray | float, name: str, min_dim: int = 1) -> np.ndarray:
    arr = np.asarray(a, dtype=np.float64)
    if arr.ndim < min_dim:
        raise ValueError(f"{name}: expected an array of points (..., D), got a scalar")
    return arr


def _sign(facing_sign: np.ndarray | float) -> np.ndarray:
    s = np.asarray(facing_sign, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(s) & (s != 0), np.sign(s), np.nan)


def midpoint(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Midpoint of ``a`` and ``b`` (same shape as the broadcast inputs).

    NaN where either point is NaN: a midpoint of one known point would sit
    half a body width away from the truth.
    """
    a, b = _arr(a, "a"), _arr(b, "b")
    return 0.5 * (a + b)


def weighted_midpoint(a: np.ndarray, b: np.ndarray, w_a: np.ndarray, w_b: np.ndarray) -> np.ndarray:
    """Weighted mean of two points, ``(w_a*a + w_b*b) / (w_a + w_b)``.

    Notes
    -----
    w_a, w_b
        Non-negative weights, shape of the inputs without the coordinate axis.
        A point that is NaN contributes nothing (its weight is treated as 0), so
        the result is the other point; NaN only when both are NaN or both
        weights are 0.
    """
    a, b = _arr(a, "a"), _arr(b, "b")
    wa = np.asarray(w_a, dtype=np.float64)[..., None]
    wb = np.asarray(w_b, dtype=np.float64)[..., None]
    if np.any(wa < 0) or np.any(wb < 0):
        raise ValueError("weights: expected non-negative weights, got a negative value")
    ok_a = np.isfinite(a).all(axis=-1, keepdims=True) & np.isfinite(wa)
    ok_b = np.isfinite(b).all(axis=-1, keepdims=True) & np.isfinite(wb)
    wa = np.where(ok_a, wa, 0.0)
    wb = np.where(ok_b, wb, 0.0)
    total = wa + wb
    num = np.where(ok_a, a, 0.0) * wa + np.where(ok_b, b, 0.0) * wb
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, num / np.where(total > 0, total, 1.0), np.nan)


def distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Euclidean distance between ``a`` and ``b``, in the points' unit (>= 0)."""
    a, b = _arr(a, "a"), _arr(b, "b")
    return np.linalg.norm(a - b, axis=-1)


def angle_at(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Angle ABC at vertex ``b`` between rays B->A and B->C, degrees in [0, 180].

    180 = A, B and C on a straight line with B between them (a straight
    joint), 90 = a right angle, 0 = A and C in the same direction from B.
    Unsigned. NaN where a ray has zero length or a point is NaN.
    """
    a, b, c = _arr(a, "a"), _arr(b, "b"), _arr(c, "c")
    u = a - b
    v = c - b
    nu = np.linalg.norm(u, axis=-1)
    nv = np.linalg.norm(v, axis=-1)
    dot = np.sum(u * v, axis=-1)
    if u.shape[-1] == 2:
        cross = np.abs(u[..., 0] * v[..., 1] - u[..., 1] * v[..., 0])
    else:
        cross = np.linalg.norm(np.cross(u, v), axis=-1)
    ang = np.degrees(np.arctan2(cross, dot))
    return np.where((nu > DEGENERATE_LEN) & (nv > DEGENERATE_LEN), ang, np.nan)


def inclination_from_vertical(
    top: np.ndarray, bottom: np.ndarray, facing_sign: np.ndarray | float
) -> np.ndarray:
    """Signed tilt of the image segment bottom->top from image vertical, degrees in (-180, 180].

    0 = ``top`` straight above ``bottom``; + = ``top`` leans toward the facing
    direction (e.g. a trunk leaning forward), - = away from it (leaning back);
    +-90 = horizontal; 180 = ``top`` straight below ``bottom``.
    2-D image points only (y down). NaN for a zero-length segment, a NaN
    point or a ``facing_sign`` that is not +-1 (0 or NaN).
    """
    top, bottom = _arr(top, "top"), _arr(bottom, "bottom")
    if top.shape[-1] != 2 or bottom.shape[-1] != 2:
        raise ValueError(f"points: expected 2-D image points (..., 2), got (..., {top.shape[-1]})")
    v = top - bottom
    s = _sign(facing_sign)
    ang = np.degrees(np.arctan2(v[..., 0] * s, -v[..., 1]))
    ang = np.where(ang == -180.0, 180.0, ang)
    return np.where(np.linalg.norm(v, axis=-1) > DEGENERATE_LEN, ang, np.nan)


def line_vs_vertical_deg(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Unsigned angle between the image line through ``p`` and ``q`` and the vertical, degrees in [0, 90].

    0 = vertical line, 90 = horizontal. Direction-free (swapping p and q
    changes nothing). NaN for coincident or NaN points.
    """
    p, q = _arr(p, "p"), _arr(q, "q")
    v = q - p
    ang = np.degrees(np.arctan2(np.abs(v[..., 0]), np.abs(v[..., 1])))
    return np.where(np.linalg.norm(v[..., :2], axis=-1) > DEGENERATE_LEN, ang, np.nan)


def line_vs_horizontal_deg(p: np.ndarray, q: np.ndarray) -> np.ndarray:
    """Unsigned angle between the image line through ``p`` and ``q`` and the horizontal, degrees in [0, 90].

    0 = horizontal line (e.g. level shoulders), 90 = vertical. NaN for
    coincident or NaN points.
    """
    return 90.0 - line_vs_vertical_deg(p, q)


def signed_horizontal_offset(
    point: np.ndarray, ref: np.ndarray, facing_sign: np.ndarray | float
) -> np.ndarray:
    """Horizontal offset of ``point`` from ``ref`` in the facing direction, in the points' unit.

    0 = same image x; + = ``point`` is ahead of ``ref`` (toward where the
    chest points), - = behind it. NaN for NaN points or a ``facing_sign``
    that is not +-1.
    """
    point, ref = _arr(point, "point"), _arr(ref, "ref")
    return (point[..., 0] - ref[..., 0]) * _sign(facing_sign)


def point_line_distance(
    p: np.ndarray, a: np.ndarray, b: np.ndarray, signed: bool = False
) -> np.ndarray:
    """Distance from ``p`` to the infinite line through ``a`` and ``b``, in the points' unit.

    Unsigned (>= 0) by default. With ``signed=True`` (2-D only) the result is
    + when ``p`` lies to the right of the direction a->b as seen on screen
    (image y down), - to the left, 0 on the line. NaN when ``a`` and ``b``
    coincide or any point is NaN.
    """
    p, a, b = _arr(p, "p"), _arr(a, "a"), _arr(b, "b")
    d = b - a
    w = p - a
    nd = np.linalg.norm(d, axis=-1)
    if d.shape[-1] == 2:
        cross = d[..., 0] * w[..., 1] - d[..., 1] * w[..., 0]
    elif signed:
        raise ValueError(f"signed distance: expected 2-D points, got {d.shape[-1]}-D")
    else:
        cross = np.linalg.norm(np.cross(d, w), axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        dist = cross / nd
    if not signed:
        dist = np.abs(dist)
    return np.where(nd > DEGENERATE_LEN, dist, np.nan)


def nan_percentile(x: np.ndarray, q: float) -> float:
    """``np.nanpercentile`` of a 1-D series that returns NaN (no warning) when all values are NaN."""
    x = np.asarray(x, dtype=np.float64)
    finite = x[np.isfinite(x)]
    return float(np.percentile(finite, q)) if finite.size else float("nan")
