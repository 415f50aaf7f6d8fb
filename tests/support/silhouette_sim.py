"""Silhouettes for tests: drawn shapes with a known back curve, and a kinematic body outline.

Two sources of boolean masks that stand in for MediaPipe's segmentation:

- :func:`arc_torso_mask`: a torso-like band whose back edge is a circular arc
  of a known angle over the shoulder-hip chord (any chord direction, either
  facing), with optional notches, bumps and ragged edges.
- :func:`kinematic_masks`: per frame of a :mod:`tools.synth.kinematics`
  simulation, the union of discs swept along the model's own spine
  (hip centre -> L5 -> T12 -> C7 -> head) and legs. The back's outline then
  bends where the model's lumbar and thoracic joints bend, independently of
  the estimator under test.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from formcheck.spine import dorsal_normal


def arc_sagitta(chord: float, angle_deg: float) -> float:
    """Sagitta of a circular arc turning ``angle_deg`` over ``chord`` (signed)."""
    return 0.5 * chord * math.tan(math.radians(angle_deg) / 4.0)


def sub_arc_deg(angle_deg: float, start: float, end: float) -> float:
    """Turning angle of the part of a circular arc between chord fractions ``start`` and ``end``."""
    if abs(angle_deg) < 1e-9:
        return 0.0
    th = math.radians(angle_deg)
    r = 1.0 / (2.0 * math.sin(abs(th) / 2.0))  # chord = 1
    a0, a1 = math.asin((start - 0.5) / r), math.asin((end - 0.5) / r)
    return math.copysign(math.degrees(a1 - a0), angle_deg)


def arc_torso_mask(shape: tuple[int, int], shoulder: tuple[float, float], hip: tuple[float, float], facing: int,
                   angle_deg: float, depth_px: float = 60.0, front_px: float = 40.0, *,
                   notch: tuple[float, float, float] | None = None, ragged_px: float = 0.0) -> np.ndarray:
    """A torso band around the shoulder-hip chord whose back edge is an arc turning ``angle_deg``.

    The back edge sits ``depth_px`` behind the chord at both ends and bulges by
    the arc's sagitta in between (+ = rounded). ``notch`` = (from, to, px) cuts
    the back edge in by ``px`` between chord fractions ``from`` and ``to``
    (negative px adds a bump); ``ragged_px`` adds a sawtooth of that amplitude.
    """
    h, w = shape
    s, hp = np.asarray(shoulder, float), np.asarray(hip, float)
    length = float(np.linalg.norm(hp - s))
    along = (hp - s) / length
    n = dorsal_normal(s, hp, facing)
    yy, xx = np.mgrid[0:h, 0:w].astype(float)
    rel = np.stack([xx - s[0], yy - s[1]], axis=-1)
    a = rel @ along  # px along the chord from the shoulder
    b = rel @ n  # px toward the back
    u = a / length
    edge = depth_px + _arc_offset(u, angle_deg) * length
    if notch is not None:
        lo, hi, px = notch
        edge = np.where((u >= lo) & (u <= hi), edge - px, edge)
    if ragged_px > 0:
        edge = edge + ragged_px * np.where((np.floor(a / 3.0) % 2) == 0, 1.0, -1.0)
    return (u >= -0.15) & (u <= 1.15) & (b >= -front_px) & (b <= edge)


def _arc_offset(u: np.ndarray, angle_deg: float) -> np.ndarray:
    """Offset (in chords) of a circular arc through u = 0 and u = 1, turning ``angle_deg``; 0 at the ends."""
    if abs(angle_deg) < 1e-9:
        return np.zeros_like(u)
    th = math.radians(abs(angle_deg))
    r = 1.0 / (2.0 * math.sin(th / 2.0))
    h = r * (1.0 - math.cos(th / 2.0))
    dx = np.clip(u - 0.5, -r, r)
    off = np.sqrt(r**2 - dx**2) - (r - h)
    return math.copysign(1.0, angle_deg) * off


@dataclass(frozen=True)
class ListMasks:
    """A :class:`formcheck.spine.MaskSource` over a list of whole-frame masks (None = no mask)."""

    frames: tuple[np.ndarray | None, ...]

    @property
    def n_frames(self) -> int:
        return len(self.frames)

    @property
    def bbox_px(self) -> np.ndarray:
        out = np.full((len(self.frames), 4), -1, dtype=np.int32)
        for i, m in enumerate(self.frames):
            if m is not None:
                out[i] = (0, 0, m.shape[1], m.shape[0])
        return out

    def crop(self, i: int) -> np.ndarray | None:
        return self.frames[i]


def kinematic_masks(sim, radius_m: float = 0.11, limb_radius_m: float = 0.07) -> ListMasks:  # noqa: ANN001
    """Per-frame silhouettes of a simulated clip: discs swept along its spine chain and legs."""
    from tools.synth.kinematics import Anchor, pose

    from formcheck.landmarks import Landmark as L

    cam = sim.camera
    h, w = int(cam.height_px), int(cam.width_px)
    frames = []
    for c in sim.controls:
        p = pose(c, sim.body)
        spine = np.stack([p.anchor(Anchor.HIP_MID), p.anchor(Anchor.L5), p.anchor(Anchor.T12),
                          p.anchor(Anchor.C7)])
        legs = [(p.landmark(L.LEFT_HIP), p.landmark(L.LEFT_KNEE)), (p.landmark(L.LEFT_KNEE), p.landmark(L.LEFT_ANKLE)),
                (p.landmark(L.RIGHT_HIP), p.landmark(L.RIGHT_KNEE)),
                (p.landmark(L.RIGHT_KNEE), p.landmark(L.RIGHT_ANKLE))]
        depth = float(np.mean(cam.depth_m(spine)))
        px_per_m = cam.focal_px / depth
        m = np.zeros((h, w), dtype=bool)
        segs = [(spine[k], spine[k + 1], radius_m) for k in range(3)] + [(a, b, limb_radius_m) for a, b in legs]
        for a3, b3, r_m in segs:
            a2, b2 = cam.project(np.stack([a3, b3]))
            _capsule(m, a2, b2, r_m * px_per_m)
        frames.append(m)
    return ListMasks(tuple(frames))


def _capsule(m: np.ndarray, a: np.ndarray, b: np.ndarray, r: float) -> None:
    """Set the pixels of ``m`` within ``r`` of segment ``a``-``b`` (only its bounding box is visited)."""
    h, w = m.shape
    x0, y0 = (max(0, int(np.floor(min(a[k], b[k]) - r))) for k in (0, 1))
    x1, y1 = min(w, int(np.ceil(max(a[0], b[0]) + r)) + 1), min(h, int(np.ceil(max(a[1], b[1]) + r)) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
    d = b - a
    ll = float(d @ d) or 1e-9
    t = np.clip(((xx - a[0]) * d[0] + (yy - a[1]) * d[1]) / ll, 0.0, 1.0)
    px, py = a[0] + t * d[0], a[1] + t * d[1]
    m[y0:y1, x0:x1] |= (xx - px) ** 2 + (yy - py) ** 2 <= r * r
