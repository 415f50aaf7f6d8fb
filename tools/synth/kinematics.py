"""Synthetic athlete kinematics: squat and deadlift reps with exact ground truth.

Pure numpy (no rendering dependencies). :func:`simulate` turns a lift, a camera
view, a rep count and per-rep :class:`Fault` s into per-frame 3-D joints, their
2-D projections and exact ground-truth angles. :func:`pose` is the underlying
forward model: one :class:`Controls` -> one :class:`Pose`. The renderer
(``tools.synth.render``) skins a body mesh with the segment frames of a
:class:`Pose`.

Coordinate frames
-----------------
World (``joints_3d``, every ``*_m`` quantity)
    Metres. Origin on the floor, midway between the ankles. ``+x`` is the
    direction the lifter faces, ``+y`` is up, ``+z`` is the lifter's *right*
    (right-handed). The lifter stays in place; only the joints move.
Image (``xy_px``)
    Pixels, origin at the top-left corner, ``x`` to the right, ``y`` *down*
    (as in :mod:`formcheck.sequence`). Pinhole projection, no distortion.
Camera (:class:`Camera`)
    ``azimuth_deg`` = 0 puts the camera level with the lifter's side (pure side
    view), 90 puts it in front of the lifter (front view), 45 in between.
    ``facing`` says which way the lifter faces in the image: ``"left"`` places
    the camera on the lifter's left side (-z), ``"right"`` on the right side.
Segment frames (:class:`Pose` ``.frames``)
    One rotation and origin per :class:`Segment`. In the upright rest posture
    trunk, neck and head frames are the identity. Limb frames have local ``+y``
    along the bone (proximal to distal) and local ``+x`` towards the limb's
    *pole*: the front of the knee for thigh and shank, the point of the elbow
    for upper arm and forearm (see :func:`limb_frame`). The hand frame is the
    forearm frame, turned (back squat only) by the smallest rotation that
    takes the forearm direction to the hand direction (the wrist bend).

Angle conventions (all degrees)
-------------------------------
``knee_deg``
    Interior 3-D angle at the knee between thigh and shank, mean of both legs:
    180 = straight leg, smaller = more bent.
``hip_deg``
    Hip angle in the sagittal plane, mean of both legs:
    ``180 - (trunk3d_deg - thigh_deg)`` where ``thigh_deg`` is the forward lean
    of the knee -> hip line from vertical, both projected on the sagittal
    (x, y) plane. 180 = trunk in line with the thighs (standing tall), smaller
    = more flexed, above 180 = trunk behind the thigh line (hyperextension).
``trunk3d_deg``
    Lean of the hip-midpoint -> shoulder-midpoint line from vertical in the
    sagittal plane: 0 = upright, + = leaning forward (chest towards the facing
    direction), - = leaning back.
``trunk_deg``
    The same line measured in the image (2-D): angle between the projected
    shoulder-midpoint minus hip-midpoint and image vertical (up); + = towards
    the side of the image the lifter faces. In a front view it measures
    sideways tilt and is ~0.
``lumbar_deg``
    Flexion of the lower thorax (T12) relative to the pelvis: 0 = neutral
    (the rest posture's curve), + = rounded lower back, - = arched /
    hyperextended.
``thoracic_deg``
    Extra flexion of the shoulder girdle relative to T12: + = rounded upper back.
``knee_cave_deg``
    Inward rotation of each knee's bending plane away from the foot direction
    (valgus): 0 = knees track the toes, + = knees collapse inwards.
``heel_lift_m``
    Height the heels are raised, rotating each foot about the ball of the foot.

Timing
------
Frame ``i`` is sampled at ``t_ms = i * 1000 / fps`` (constant frame rate). A clip
is set-up, then the reps, then a finish. Squat rep: ``descent``, ``bottom``,
``ascent`` (standing to standing; ``bottom_ms`` is the middle of the bottom
pause). Deadlift rep (``reps``, the convention of ``../shared/data/lifts/LABELS.md``):
descent toward the floor begins (``start_ms``; the set-up hinge for the first
rep) -> last moment with the bar on the floor (``bottom_ms``) -> lockout reached
(``end_ms``), phases ``lowering``, ``floor``, ``pull``, then ``lockout`` (the
hold after ``end_ms``) and, on the last rep, ``set-down``.
The per-frame arrays describe the motion blocks instead: ``phase`` is the
block (``pull``, ``lockout``, ``lowering`` with the bar; ``setup`` including
the deadlift's hinge down to grip the bar, ``rest`` between reps, ``finish``)
and ``rep_index`` the rep whose bar-moving block it is (for a deadlift, the
pull, the lockout and the lowering after it), -1 elsewhere.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace
from enum import IntEnum
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from formcheck.landmarks import N_LANDMARKS, Landmark

L = Landmark

GENERATOR_VERSION = "1.1"

LIFTS = ("squat", "deadlift")
ARM_MODES = ("hang", "forward", "back_bar", "bar_hands")
FACINGS = ("left", "right")

#: Every fault code the generator can inject, in a fixed order.
FAULT_CODES: tuple[str, ...] = (
    "rounded_back",
    "hips_rise_early",
    "excessive_forward_lean",
    "shallow_depth",
    "knee_cave",
    "heels_lift",
    "hyperextension_lockout",
    "bar_drift",
    "hips_too_low_start",
    "incomplete_lockout",
)

#: Fault codes that make sense for each lift.
LIFT_FAULTS: dict[str, frozenset[str]] = {
    "squat": frozenset(
        {"rounded_back", "hips_rise_early", "excessive_forward_lean", "shallow_depth", "knee_cave", "heels_lift"}
    ),
    "deadlift": frozenset(
        {"rounded_back", "hips_rise_early", "knee_cave", "hyperextension_lockout", "bar_drift",
         "hips_too_low_start", "incomplete_lockout"}
    ),
}

#: Barbell geometry (metres): plate radius sets the bar height on the floor.
PLATE_RADIUS_M = 0.225
BAR_RADIUS_M = 0.014


# ---------------------------------------------------------------------------- small maths
def _pitch(a_rad: float) -> np.ndarray:
    """Rotation about the lateral (z) axis tipping ``+y`` forward (towards ``+x``) by ``a_rad``."""
    c, s = math.cos(a_rad), math.sin(a_rad)
    return np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])


def _yaw(a_rad: float) -> np.ndarray:
    """Rotation about the vertical (y) axis turning ``+x`` towards ``-z`` by ``a_rad``."""
    c, s = math.cos(a_rad), math.sin(a_rad)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _cross(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Cross product of two 3-vectors (np.cross is slow for single vectors)."""
    return np.array([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]])


def _unit(v: np.ndarray) -> np.ndarray:
    n = float(np.linalg.norm(v))
    if n < 1e-12:
        raise ValueError("expected a non-zero vector, got a zero-length one")
    return v / n


def _rotation_between(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Smallest rotation taking unit vector ``a`` to unit vector ``b`` (Rodrigues)."""
    v = _cross(a, b)
    c = float(a @ b)
    if c < -1.0 + 1e-9:
        raise ValueError("expected vectors less than 180 deg apart")
    vx = np.array([[0.0, -v[2], v[1]], [v[2], 0.0, -v[0]], [-v[1], v[0], 0.0]])
    return np.eye(3) + vx + vx @ vx / (1.0 + c)


def limb_frame(axis: np.ndarray, pole: np.ndarray) -> np.ndarray:
    """Rotation whose local ``+y`` is ``axis`` and local ``+x`` points towards ``pole``.

    ``pole`` is made orthogonal to ``axis``; local ``+z`` completes a
    right-handed frame. Used for the limbs here and for the rest-pose frames of
    the mesh in the renderer, so both share one convention.
    """
    y = _unit(np.asarray(axis, dtype=float))
    p = np.asarray(pole, dtype=float)
    x = p - float(p @ y) * y
    if np.linalg.norm(x) < 1e-9:
        alt = np.array([1.0, 0.0, 0.0]) if abs(y[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
        x = alt - float(alt @ y) * y
    x = _unit(x)
    return np.column_stack([x, y, _cross(x, y)])


def _two_link(root: np.ndarray, end: np.ndarray, l1: float, l2: float, pole: np.ndarray) -> np.ndarray:
    """Middle joint of a two-link chain from ``root`` to ``end``, bending towards ``pole``.

    ``end`` must be within reach (``|end - root| <= l1 + l2``).
    """
    d_vec = end - root
    d = float(np.linalg.norm(d_vec))
    if d > l1 + l2 + 1e-9 or d < abs(l1 - l2) - 1e-9:
        raise ValueError(f"two-link chain: expected a reachable end, got distance {d:.4f} for links {l1:.4f}+{l2:.4f}")
    u = d_vec / d
    a = (l1 * l1 - l2 * l2 + d * d) / (2.0 * d)
    h = math.sqrt(max(l1 * l1 - a * a, 0.0))
    w = pole - float(pole @ u) * u
    nw = float(np.linalg.norm(w))
    w = w / nw if nw > 1e-12 else np.zeros(3)
    return root + a * u + h * w


def ease(x: float) -> float:
    """Smooth 0 -> 1 ramp (half cosine) on [0, 1], clamped outside."""
    x = min(max(x, 0.0), 1.0)
    return 0.5 - 0.5 * math.cos(math.pi * x)


def _lerp(a: float, b: float, w: float) -> float:
    return a + (b - a) * w


# ---------------------------------------------------------------------------- body
@dataclass(frozen=True)
class Body:
    """Segment lengths and rest offsets of the figure, in metres.

    Defaults are measured on the MakeHuman base mesh (about 1.67 m tall) that
    the renderer skins, so rendered limbs and these joints coincide. 2-D
    offsets are ``(forward, up)`` in the parent segment's rest frame.
    """

    ankle_height_m: float = 0.0720
    shank_m: float = 0.3817
    thigh_m: float = 0.4213
    hip_half_m: float = 0.1104
    hip_to_l5_m: tuple[float, float] = (-0.0219, 0.0701)
    l5_to_t12_m: tuple[float, float] = (0.0356, 0.1610)
    t12_to_shoulder_m: tuple[float, float] = (-0.0113, 0.2449)
    shoulder_half_m: float = 0.1677
    t12_to_c7_m: tuple[float, float] = (-0.0191, 0.3094)
    c7_to_head_m: tuple[float, float] = (0.0093, 0.1085)
    upper_arm_m: float = 0.2276
    forearm_m: float = 0.2263
    ball_forward_m: float = 0.121
    heel_back_m: float = 0.052
    heel_height_m: float = 0.022
    toe_forward_m: float = 0.190
    toe_height_m: float = 0.016
    #: Distance from the joint line to the front of the leg (bar contact): at the
    #: ankle, the knee and the hip.
    shin_front_m: float = 0.045
    knee_front_m: float = 0.055
    thigh_front_m: float = 0.085
    #: Face points relative to the head joint, ``(forward, up, right)``; ``right``
    #: is negated for the left side.
    nose_m: tuple[float, float, float] = (0.150, -0.008, 0.0)
    eye_inner_m: tuple[float, float, float] = (0.128, 0.030, 0.017)
    eye_m: tuple[float, float, float] = (0.126, 0.031, 0.031)
    eye_outer_m: tuple[float, float, float] = (0.118, 0.031, 0.045)
    ear_m: tuple[float, float, float] = (0.012, 0.018, 0.080)
    mouth_m: tuple[float, float, float] = (0.133, -0.040, 0.024)

    def __post_init__(self) -> None:
        for f in fields(self):
            v = getattr(self, f.name)
            if isinstance(v, tuple):
                if not all(math.isfinite(x) for x in v):
                    raise ValueError(f"Body.{f.name}: expected finite offsets, got {v}")
            elif not (math.isfinite(v) and v > 0):
                raise ValueError(f"Body.{f.name}: expected a positive length in metres, got {v}")

    @property
    def arm_m(self) -> float:
        return self.upper_arm_m + self.forearm_m

    @property
    def leg_m(self) -> float:
        return self.thigh_m + self.shank_m


# ---------------------------------------------------------------------------- controls
@dataclass(frozen=True)
class Controls:
    """One frame's posture. Angles in degrees (conventions in the module docstring).

    ``knee_flex_deg`` is the exact 3-D knee flexion (0 = straight, so the
    resulting ``knee_deg`` is ``180 - knee_flex_deg``). ``shank_deg`` is the
    forward tilt of an equivalent sagittal shank; it sets how far forward the
    knees travel and so how far back the hips sit. ``trunk_deg`` is the exact
    ``trunk3d_deg``. ``arms`` is one of :data:`ARM_MODES`: ``hang`` (arms at the
    sides), ``forward`` (bodyweight squat, arms held out in front),
    ``back_bar`` (hands on a bar resting on the upper back) or ``bar_hands``
    (deadlift: hands on a bar kept in contact with the front of the legs, plus
    ``bar_drift_m`` away from them). With ``bar_gripped`` False the deadlift bar
    lies on the floor at ``bar_floor_x_m`` while the hands hang where they
    would hold it.
    """

    knee_flex_deg: float = 0.0
    shank_deg: float = 0.0
    trunk_deg: float = 0.0
    lumbar_deg: float = 0.0
    thoracic_deg: float = 0.0
    knee_cave_deg: float = 0.0
    heel_lift_m: float = 0.0
    stance_half_m: float = 0.22
    toe_out_deg: float = 15.0
    arms: str = "hang"
    grip_half_m: float = 0.25
    bar_drift_m: float = 0.0
    bar_gripped: bool = True
    bar_floor_x_m: float = 0.1

    def __post_init__(self) -> None:
        checks = (
            ("knee_flex_deg", 0.0, 160.0), ("shank_deg", -20.0, 60.0), ("trunk_deg", -45.0, 100.0),
            ("lumbar_deg", -40.0, 70.0), ("thoracic_deg", -30.0, 50.0), ("knee_cave_deg", -30.0, 40.0),
            ("heel_lift_m", 0.0, 0.12), ("stance_half_m", 0.05, 0.6), ("toe_out_deg", -10.0, 45.0),
            ("grip_half_m", 0.1, 0.7), ("bar_drift_m", 0.0, 0.4), ("bar_floor_x_m", -0.5, 1.0),
        )
        for name, lo, hi in checks:
            v = getattr(self, name)
            if not (math.isfinite(v) and lo <= v <= hi):
                raise ValueError(f"Controls.{name}: expected a value in [{lo}, {hi}], got {v}")
        if self.arms not in ARM_MODES:
            raise ValueError(f"Controls.arms: expected one of {ARM_MODES}, got {self.arms!r}")


# ---------------------------------------------------------------------------- pose
class Segment(IntEnum):
    """Rigid body parts driven by a :class:`Pose` (the renderer skins the mesh to these)."""

    PELVIS = 0
    LUMBAR = 1
    THORAX = 2
    NECK = 3
    HEAD = 4
    LEFT_THIGH = 5
    RIGHT_THIGH = 6
    LEFT_SHANK = 7
    RIGHT_SHANK = 8
    LEFT_FOOT = 9
    RIGHT_FOOT = 10
    LEFT_TOES = 11
    RIGHT_TOES = 12
    LEFT_UPPER_ARM = 13
    RIGHT_UPPER_ARM = 14
    LEFT_FOREARM = 15
    RIGHT_FOREARM = 16
    LEFT_HAND = 17
    RIGHT_HAND = 18


class Anchor(IntEnum):
    """Skeleton points that are not MediaPipe landmarks (world metres in :class:`Pose`)."""

    HIP_MID = 0
    L5 = 1
    T12 = 2
    C7 = 3
    HEAD = 4
    SHOULDER_MID = 5
    LEFT_BALL = 6
    RIGHT_BALL = 7


@dataclass(frozen=True)
class Pose:
    """Result of :func:`pose`: landmarks, extra anchors, segment frames and the bar.

    ``landmarks_m`` is (33, 3) in world metres indexed by :class:`Landmark`;
    ``anchors_m`` is (len(Anchor), 3); ``frame_rot`` (len(Segment), 3, 3) and
    ``frame_origin_m`` (len(Segment), 3) give each segment's frame (see module
    docstring). ``bar_m`` is the barbell's centre (NaN when there is no bar) and
    ``bar_rot`` its orientation (bar axis = local ``z``).
    """

    landmarks_m: np.ndarray
    anchors_m: np.ndarray
    frame_rot: np.ndarray
    frame_origin_m: np.ndarray
    bar_m: np.ndarray
    bar_rot: np.ndarray

    def __post_init__(self) -> None:
        shapes = {"landmarks_m": (N_LANDMARKS, 3), "anchors_m": (len(Anchor), 3),
                  "frame_rot": (len(Segment), 3, 3), "frame_origin_m": (len(Segment), 3),
                  "bar_m": (3,), "bar_rot": (3, 3)}
        for name, shape in shapes.items():
            arr = np.asarray(getattr(self, name), dtype=float)
            if arr.shape != shape:
                raise ValueError(f"Pose.{name}: expected shape {shape}, got {arr.shape}")
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        if not np.all(np.isfinite(self.landmarks_m)):
            raise ValueError("Pose.landmarks_m: expected all 33 landmarks finite")

    def landmark(self, lm: Landmark) -> np.ndarray:
        return self.landmarks_m[int(lm)]

    def anchor(self, a: Anchor) -> np.ndarray:
        return self.anchors_m[int(a)]

    @property
    def has_bar(self) -> bool:
        return bool(np.all(np.isfinite(self.bar_m)))


def _side_sign(side: str) -> float:
    return 1.0 if side == "right" else -1.0


_SIDES = ("left", "right")


def _lm(side: str, part: str) -> Landmark:
    return Landmark[f"{side.upper()}_{part}"]


def _seg(side: str, part: str) -> Segment:
    return Segment[f"{side.upper()}_{part}"]


@dataclass(frozen=True)
class _Legs:
    hip_mid: np.ndarray
    hips: dict[str, np.ndarray]
    knees: dict[str, np.ndarray]
    ankles: dict[str, np.ndarray]
    heels: dict[str, np.ndarray]
    toes: dict[str, np.ndarray]
    balls: dict[str, np.ndarray]
    knee_poles: dict[str, np.ndarray]
    foot_rot: dict[str, np.ndarray]
    toe_rot: dict[str, np.ndarray]


def _solve_legs(b: Body, c: Controls) -> _Legs:
    """Feet on the floor, hip midpoint placed so each knee bends exactly ``knee_flex_deg``."""
    heel_span = b.ball_forward_m + b.heel_back_m
    beta = math.asin(min(c.heel_lift_m / heel_span, 0.95))
    to = math.radians(c.toe_out_deg)
    cave = math.radians(c.knee_cave_deg)
    hips, knees, ankles, heels, toes, balls, poles, frot, trot = {}, {}, {}, {}, {}, {}, {}, {}, {}
    for side in _SIDES:
        sg = _side_sign(side)
        yaw = _yaw(-sg * to)
        foot = yaw @ _pitch(beta)
        ball = np.array([0.0, 0.0, sg * c.stance_half_m]) + yaw @ np.array([b.ball_forward_m, 0.0, 0.0])
        balls[side] = ball
        ankles[side] = ball + foot @ np.array([-b.ball_forward_m, b.ankle_height_m, 0.0])
        heels[side] = ball + foot @ np.array([-heel_span, b.heel_height_m, 0.0])
        toes[side] = ball + yaw @ np.array([b.toe_forward_m - b.ball_forward_m, b.toe_height_m, 0.0])
        poles[side] = np.array([math.cos(to - cave), 0.0, sg * math.sin(to - cave)])
        frot[side], trot[side] = foot, yaw
    ankle_mid = 0.5 * (ankles["left"] + ankles["right"])
    lat = abs(ankles["right"][2] - ankle_mid[2]) - b.hip_half_m
    theta = math.radians(c.knee_flex_deg)
    s, t = b.shank_m, b.thigh_m
    reach = math.sqrt(s * s + t * t + 2.0 * s * t * math.cos(theta))
    if reach <= abs(lat) + 1e-6:
        raise ValueError(f"stance {c.stance_half_m} m is too wide for knee flexion {c.knee_flex_deg} deg")
    r = math.sqrt(reach * reach - lat * lat)
    alpha = math.radians(c.shank_deg)
    phi = math.atan2(s * math.sin(alpha) + t * math.sin(alpha - theta), s * math.cos(alpha) + t * math.cos(alpha - theta))
    hip_mid = np.array([ankle_mid[0] + r * math.sin(phi), ankle_mid[1] + r * math.cos(phi), 0.0])
    for side in _SIDES:
        sg = _side_sign(side)
        hips[side] = hip_mid + np.array([0.0, 0.0, sg * b.hip_half_m])
        knees[side] = _two_link(hips[side], ankles[side], t, s, poles[side])
    return _Legs(hip_mid, hips, knees, ankles, heels, toes, balls, poles, frot, trot)


def _spine_vector(b: Body, lumbar_rad: float, thoracic_rad: float) -> np.ndarray:
    """Hip midpoint -> shoulder midpoint with the pelvis upright, for the given spine flexion."""
    o1 = np.array([*b.hip_to_l5_m, 0.0])
    o2 = np.array([*b.l5_to_t12_m, 0.0])
    o3 = np.array([*b.t12_to_shoulder_m, 0.0])
    return o1 + _pitch(lumbar_rad / 2.0) @ o2 + _pitch(lumbar_rad + thoracic_rad) @ o3


def _pelvis_pitch(b: Body, c: Controls) -> float:
    """Pelvis tilt (rad) that makes the hip->shoulder line lean exactly ``trunk_deg``."""
    lam, tho = math.radians(c.lumbar_deg), math.radians(c.thoracic_deg)
    v = _spine_vector(b, lam, tho)
    return math.radians(c.trunk_deg) - math.atan2(v[0], v[1])


def _bar_contact(b: Body, c: Controls, ankle: tuple[float, float], knee: tuple[float, float],
                 hip: tuple[float, float], shoulder: tuple[float, float]) -> tuple[float, float]:
    """Deadlift hands: straight arms from the shoulder, the bar touching the front of the legs.

    All points are sagittal ``(x, y)`` of one leg and the shoulder midpoint.
    Returns the wrists' ``(x, y)``. The bar centre (``_GRIP_DROP_M`` below the
    wrists) lies ``bar_drift_m`` in front of the leg surface, which runs from
    ``shin_front_m`` at the ankle over ``knee_front_m`` at the knee to
    ``thigh_front_m`` at the hip; of the points on the arms' reach circle the
    lowest one is used. With no contact possible the arms hang straight down.
    """
    dz = c.grip_half_m - b.shoulder_half_m
    reach = 0.995 * b.arm_m
    reach_xy = math.sqrt(max(reach * reach - dz * dz, 1e-6))
    cx, cy = shoulder[0], shoulder[1] - _GRIP_DROP_M
    gap = BAR_RADIUS_M + c.bar_drift_m
    lines = (
        ((ankle[0] + b.shin_front_m, ankle[1]), (knee[0] + b.knee_front_m, knee[1]), -math.inf, knee[1]),
        ((knee[0] + b.knee_front_m, knee[1]), (hip[0] + b.thigh_front_m, hip[1]), knee[1], math.inf),
    )
    best: tuple[float, float] | None = None
    for (x0, y0), (x1, y1), y_lo, y_hi in lines:
        dy = y1 - y0
        if abs(dy) < 1e-9:
            continue
        m = (x1 - x0) / dy
        q = x0 + gap - m * y0 - cx
        qa = m * m + 1.0
        qb = 2.0 * (m * q - cy)
        qc = q * q + cy * cy - reach_xy * reach_xy
        disc = qb * qb - 4.0 * qa * qc
        if disc < 0:
            continue
        y = (-qb - math.sqrt(disc)) / (2.0 * qa)
        if y_lo - 1e-9 <= y <= y_hi + 1e-9 and y <= cy and (best is None or y < best[1]):
            best = (q + cx + m * y, y)
    if best is None:
        return cx, cy - reach_xy + _GRIP_DROP_M
    return best[0], best[1] + _GRIP_DROP_M


def _sagittal_chain(b: Body, c: Controls, knee_flex_deg: float, shank_deg: float, trunk_deg: float
                    ) -> tuple[tuple[float, float], tuple[float, float], tuple[float, float], tuple[float, float]]:
    """Right ankle, knee, hip and the shoulder midpoint as sagittal ``(x, y)``, in plain floats.

    The same geometry as :func:`pose` (feet, legs, spine), without numpy, so the
    bar solvers can call it thousands of times.
    """
    to, cave = math.radians(c.toe_out_deg), math.radians(c.knee_cave_deg)
    beta = math.asin(min(c.heel_lift_m / (b.ball_forward_m + b.heel_back_m), 0.95))
    ct, st, cb, sb = math.cos(to), math.sin(to), math.cos(beta), math.sin(beta)
    px, py = -cb * b.ball_forward_m + sb * b.ankle_height_m, sb * b.ball_forward_m + cb * b.ankle_height_m
    ax, ay, az = ct * b.ball_forward_m + ct * px, py, c.stance_half_m + st * b.ball_forward_m + st * px
    theta, alpha = math.radians(knee_flex_deg), math.radians(shank_deg)
    s, t = b.shank_m, b.thigh_m
    reach = math.sqrt(s * s + t * t + 2.0 * s * t * math.cos(theta))
    lat = az - b.hip_half_m
    r = math.sqrt(max(reach * reach - lat * lat, 1e-12))
    phi = math.atan2(s * math.sin(alpha) + t * math.sin(alpha - theta), s * math.cos(alpha) + t * math.cos(alpha - theta))
    hx, hy, hz = ax + r * math.sin(phi), ay + r * math.cos(phi), b.hip_half_m
    dx, dy, dzz = ax - hx, ay - hy, az - hz
    d = math.sqrt(dx * dx + dy * dy + dzz * dzz)
    ux, uy, uz = dx / d, dy / d, dzz / d
    a = (t * t - s * s + d * d) / (2.0 * d)
    h = math.sqrt(max(t * t - a * a, 0.0))
    pxx, pzz = math.cos(to - cave), math.sin(to - cave)
    pu = pxx * ux + pzz * uz
    wx, wy, wz = pxx - pu * ux, -pu * uy, pzz - pu * uz
    nw = math.sqrt(wx * wx + wy * wy + wz * wz)
    if nw > 1e-12:
        wx, wy = wx / nw, wy / nw
    else:
        wx = wy = 0.0
    kx, ky = hx + a * ux + h * wx, hy + a * uy + h * wy
    lam, tho = math.radians(c.lumbar_deg), math.radians(c.thoracic_deg)

    def rot(ang: float, v: tuple[float, float]) -> tuple[float, float]:
        ca, sa = math.cos(ang), math.sin(ang)
        return ca * v[0] + sa * v[1], -sa * v[0] + ca * v[1]

    o2, o3 = rot(lam / 2.0, b.l5_to_t12_m), rot(lam + tho, b.t12_to_shoulder_m)
    vx, vy = b.hip_to_l5_m[0] + o2[0] + o3[0], b.hip_to_l5_m[1] + o2[1] + o3[1]
    a_p = math.radians(trunk_deg) - math.atan2(vx, vy)
    sx, sy = rot(a_p, (vx, vy))
    return (ax, ay), (kx, ky), (hx, hy), (hx + sx, hy + sy)


_GRIP_DROP_M = 0.035
#: Back squat: the fingers wrap back over the bar, pointing this way in the thorax frame
#: (backwards, slightly down, and a little outwards); other arm modes keep the hand in line.
_BACK_BAR_HAND_DIR = (-1.0, -0.3)
_BACK_BAR_M = (-0.075, 0.290)


def _hands_on_bar(b: Body, c: Controls, legs: _Legs, shoulders: dict[str, np.ndarray]) -> tuple[float, float]:
    sm = 0.5 * (shoulders["left"] + shoulders["right"])

    def xy(p: np.ndarray) -> tuple[float, float]:
        return float(p[0]), float(p[1])

    return _bar_contact(b, c, xy(legs.ankles["right"]), xy(legs.knees["right"]), xy(legs.hips["right"]), xy(sm))


def _arm_targets(b: Body, c: Controls, legs: _Legs, shoulders: dict[str, np.ndarray], thorax: np.ndarray,
                 t12: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray],
                                           np.ndarray, np.ndarray]:
    """Wrist targets, elbow poles, thumb hints, bar centre and bar rotation for the arm mode."""
    wrists, poles, thumbs = {}, {}, {}
    bar = np.full(3, np.nan)
    bar_rot = np.eye(3)
    if c.arms == "back_bar":
        bar = t12 + thorax @ np.array([*_BACK_BAR_M, 0.0])
        bar_rot = thorax
    elif c.arms == "bar_hands":
        wx, wy = _hands_on_bar(b, c, legs, shoulders)
        hands_bar = np.array([wx, wy - _GRIP_DROP_M, 0.0])
        bar = hands_bar if c.bar_gripped else np.array([c.bar_floor_x_m, PLATE_RADIUS_M, 0.0])
    for side in _SIDES:
        sg = _side_sign(side)
        sh = shoulders[side]
        if c.arms == "hang":
            wrists[side] = sh + np.array([0.0, -0.995 * b.arm_m, 0.0]) + np.array([0.01, 0.0, sg * 0.03])
            poles[side] = np.array([-1.0, 0.0, 0.3 * sg])
            thumbs[side] = np.array([1.0, 0.0, 0.0])
        elif c.arms == "forward":
            reach = 0.97 * b.arm_m
            dz = -sg * 0.06
            wrists[side] = sh + np.array([math.sqrt(reach * reach - dz * dz), 0.0, dz])
            poles[side] = np.array([0.0, -1.0, 0.3 * sg])
            thumbs[side] = np.array([0.0, 1.0, 0.0])
        elif c.arms == "back_bar":
            wrists[side] = bar + thorax @ np.array([0.03, -0.015, sg * c.grip_half_m])
            poles[side] = thorax @ _unit(np.array([-0.2, -1.0, 0.35 * sg]))
            thumbs[side] = -sg * (thorax @ np.array([0.0, 0.0, 1.0]))
        else:
            wx, wy = _hands_on_bar(b, c, legs, shoulders)
            wrists[side] = np.array([wx, wy, sg * c.grip_half_m])
            poles[side] = np.array([-1.0, 0.0, 0.25 * sg])
            thumbs[side] = np.array([0.0, 0.0, -sg])
    return wrists, poles, thumbs, bar, bar_rot


def pose(c: Controls, body: Body | None = None) -> Pose:
    """Forward kinematics: one frame's :class:`Controls` -> :class:`Pose` (world metres)."""
    b = body or Body()
    legs = _solve_legs(b, c)
    lam, tho = math.radians(c.lumbar_deg), math.radians(c.thoracic_deg)
    a_p = _pelvis_pitch(b, c)
    r_pelvis, r_lumbar, r_thorax = _pitch(a_p), _pitch(a_p + lam / 2.0), _pitch(a_p + lam + tho)
    a_thorax = a_p + lam + tho
    r_neck, r_head = _pitch(0.5 * a_thorax), _pitch(0.3 * a_thorax)
    hip_mid = legs.hip_mid
    l5 = hip_mid + r_pelvis @ np.array([*b.hip_to_l5_m, 0.0])
    t12 = l5 + r_lumbar @ np.array([*b.l5_to_t12_m, 0.0])
    c7 = t12 + r_thorax @ np.array([*b.t12_to_c7_m, 0.0])
    head = c7 + r_neck @ np.array([*b.c7_to_head_m, 0.0])
    shoulders = {s: t12 + r_thorax @ np.array([*b.t12_to_shoulder_m, _side_sign(s) * b.shoulder_half_m]) for s in _SIDES}

    wrist_targets, elbow_poles, thumb_hints, bar, bar_rot = _arm_targets(b, c, legs, shoulders, r_thorax, t12)

    lms = np.zeros((N_LANDMARKS, 3))
    rot = np.zeros((len(Segment), 3, 3))
    org = np.zeros((len(Segment), 3))
    for seg, r, o in ((Segment.PELVIS, r_pelvis, hip_mid), (Segment.LUMBAR, r_lumbar, l5),
                      (Segment.THORAX, r_thorax, t12), (Segment.NECK, r_neck, c7), (Segment.HEAD, r_head, head)):
        rot[seg], org[seg] = r, o

    def face(off: tuple[float, float, float], sg: float) -> np.ndarray:
        return head + r_head @ np.array([off[0], off[1], sg * off[2]])

    lms[L.NOSE] = face(b.nose_m, 0.0)
    for side in _SIDES:
        sg = _side_sign(side)
        lms[_lm(side, "EYE_INNER")] = face(b.eye_inner_m, sg)
        lms[_lm(side, "EYE")] = face(b.eye_m, sg)
        lms[_lm(side, "EYE_OUTER")] = face(b.eye_outer_m, sg)
        lms[_lm(side, "EAR")] = face(b.ear_m, sg)
        lms[Landmark.MOUTH_RIGHT if side == "right" else Landmark.MOUTH_LEFT] = face(b.mouth_m, sg)

        hip, knee, ankle = legs.hips[side], legs.knees[side], legs.ankles[side]
        lms[_lm(side, "HIP")], lms[_lm(side, "KNEE")], lms[_lm(side, "ANKLE")] = hip, knee, ankle
        lms[_lm(side, "HEEL")], lms[_lm(side, "FOOT_INDEX")] = legs.heels[side], legs.toes[side]
        rot[_seg(side, "THIGH")], org[_seg(side, "THIGH")] = limb_frame(knee - hip, legs.knee_poles[side]), hip
        rot[_seg(side, "SHANK")], org[_seg(side, "SHANK")] = limb_frame(ankle - knee, legs.knee_poles[side]), knee
        rot[_seg(side, "FOOT")], org[_seg(side, "FOOT")] = legs.foot_rot[side], ankle
        rot[_seg(side, "TOES")], org[_seg(side, "TOES")] = legs.toe_rot[side], legs.balls[side]

        sh = shoulders[side]
        target = wrist_targets[side]
        d = float(np.linalg.norm(target - sh))
        if d > 0.995 * b.arm_m:
            target = sh + (target - sh) * (0.995 * b.arm_m / d)
        elbow = _two_link(sh, target, b.upper_arm_m, b.forearm_m, elbow_poles[side])
        wrist = target
        lms[_lm(side, "SHOULDER")], lms[_lm(side, "ELBOW")], lms[_lm(side, "WRIST")] = sh, elbow, wrist
        rot[_seg(side, "UPPER_ARM")] = limb_frame(elbow - sh, elbow_poles[side])
        org[_seg(side, "UPPER_ARM")] = sh
        r_forearm = limb_frame(wrist - elbow, elbow_poles[side])
        rot[_seg(side, "FOREARM")], org[_seg(side, "FOREARM")] = r_forearm, elbow
        fore = r_forearm[:, 1]
        if c.arms == "back_bar":
            hand_dir = _unit(r_thorax @ np.array([*_BACK_BAR_HAND_DIR, 0.0]) + np.array([0.0, 0.0, 0.3 * sg]))
            r_hand = _rotation_between(fore, hand_dir) @ r_forearm
        else:
            r_hand = r_forearm
        rot[_seg(side, "HAND")], org[_seg(side, "HAND")] = r_hand, wrist
        along = r_hand[:, 1]
        thumb_dir = limb_frame(along, thumb_hints[side])[:, 0]
        lms[_lm(side, "INDEX")] = wrist + 0.085 * along + 0.020 * thumb_dir
        lms[_lm(side, "PINKY")] = wrist + 0.075 * along - 0.025 * thumb_dir
        lms[_lm(side, "THUMB")] = wrist + 0.045 * along + 0.040 * thumb_dir

    anchors = np.zeros((len(Anchor), 3))
    anchors[Anchor.HIP_MID], anchors[Anchor.L5], anchors[Anchor.T12] = hip_mid, l5, t12
    anchors[Anchor.C7], anchors[Anchor.HEAD] = c7, head
    anchors[Anchor.SHOULDER_MID] = 0.5 * (shoulders["left"] + shoulders["right"])
    anchors[Anchor.LEFT_BALL], anchors[Anchor.RIGHT_BALL] = legs.balls["left"], legs.balls["right"]
    return Pose(lms, anchors, rot, org, bar, bar_rot)


def bar_height_m(c: Controls, body: Body | None = None) -> float:
    """Height of the gripped bar's centre for ``bar_hands`` controls (world y, metres)."""
    return _bar_y(body or Body(), c, c.knee_flex_deg, c.shank_deg, c.trunk_deg)


def _bar_y(b: Body, c: Controls, knee_flex_deg: float, shank_deg: float, trunk_deg: float) -> float:
    ankle, knee, hip, sm = _sagittal_chain(b, c, knee_flex_deg, shank_deg, trunk_deg)
    return _bar_contact(b, c, ankle, knee, hip, sm)[1] - _GRIP_DROP_M


def solve_trunk_for_bar(c: Controls, target_m: float, body: Body | None = None,
                        lo_deg: float = -30.0, hi_deg: float = 95.0) -> Controls:
    """``c`` with ``trunk_deg`` chosen so the gripped bar's centre is at height ``target_m``.

    Bisection on the trunk lean (bar height falls as the trunk leans forward).
    Raises ``ValueError`` when the target is out of reach in ``[lo_deg, hi_deg]``.
    """
    b = body or Body()

    def h(tr: float) -> float:
        return _bar_y(b, c, c.knee_flex_deg, c.shank_deg, tr)

    h_lo, h_hi = h(lo_deg), h(hi_deg)
    if not (h_hi - 1e-9 <= target_m <= h_lo + 1e-9):
        raise ValueError(f"bar height {target_m:.3f} m: expected within [{h_hi:.3f}, {h_lo:.3f}] for this posture")
    lo, hi = lo_deg, hi_deg
    for _ in range(48):
        mid = 0.5 * (lo + hi)
        if h(mid) > target_m:
            lo = mid
        else:
            hi = mid
    return replace(c, trunk_deg=0.5 * (lo + hi))


def solve_knee_for_bar(c: Controls, bottom: Controls, top: Controls, target_m: float,
                       body: Body | None = None) -> Controls:
    """``c`` with knee bend and shank tilt on the line from ``bottom`` to ``top``, bar at ``target_m``.

    ``knee_flex_deg`` and ``shank_deg`` are interpolated together between the two
    postures; the fraction is found by bisection (the bar rises as the knees
    straighten). Clamped to the end posture when the target is out of reach.
    """
    b = body or Body()

    def at(u: float) -> Controls:
        return replace(c, knee_flex_deg=_lerp(bottom.knee_flex_deg, top.knee_flex_deg, u),
                       shank_deg=_lerp(bottom.shank_deg, top.shank_deg, u))

    def h(u: float) -> float:
        return _bar_y(b, c, _lerp(bottom.knee_flex_deg, top.knee_flex_deg, u),
                      _lerp(bottom.shank_deg, top.shank_deg, u), c.trunk_deg)

    if h(0.0) >= target_m:
        return at(0.0)
    if h(1.0) <= target_m:
        return at(1.0)
    lo, hi = 0.0, 1.0
    for _ in range(40):
        mid = 0.5 * (lo + hi)
        if h(mid) < target_m:
            lo = mid
        else:
            hi = mid
    return at(0.5 * (lo + hi))


# ---------------------------------------------------------------------------- camera
@dataclass(frozen=True)
class Camera:
    """Pinhole camera looking at the lifter (conventions in the module docstring).

    ``azimuth_deg``: 0 = side view, 90 = front view. ``facing``: which way the
    lifter faces in the image (``"left"`` or ``"right"``; in a front view it only
    picks which side the camera swings from). ``distance_m`` is measured
    horizontally from ``target_m`` (world point at the image centre, before the
    camera is raised to ``height_m``). ``focal_px`` in pixels.
    """

    azimuth_deg: float = 0.0
    facing: str = "left"
    distance_m: float = 3.6
    height_m: float = 1.0
    target_m: tuple[float, float, float] = (0.05, 0.85, 0.0)
    width_px: int = 640
    height_px: int = 480
    focal_px: float = 720.0

    def __post_init__(self) -> None:
        if self.facing not in FACINGS:
            raise ValueError(f"Camera.facing: expected one of {FACINGS}, got {self.facing!r}")
        if not (math.isfinite(self.azimuth_deg) and -10.0 <= self.azimuth_deg <= 100.0):
            raise ValueError(f"Camera.azimuth_deg: expected a value in [-10, 100], got {self.azimuth_deg}")
        if not (self.distance_m > 0.5 and self.focal_px > 0 and self.width_px > 0 and self.height_px > 0):
            raise ValueError("Camera: expected distance_m > 0.5 and positive focal_px, width_px, height_px")

    @property
    def facing_sign(self) -> float:
        """+1 when the lifter faces image right, -1 when image left (as in formcheck.geometry)."""
        return 1.0 if self.facing == "right" else -1.0

    @property
    def view(self) -> str:
        """``side`` (azimuth <= 25), ``front`` (>= 65) or ``oblique``."""
        a = abs(self.azimuth_deg)
        return "side" if a <= 25.0 else "front" if a >= 65.0 else "oblique"

    @property
    def position_m(self) -> np.ndarray:
        a = math.radians(self.azimuth_deg)
        tgt = np.array(self.target_m, dtype=float)
        side = -1.0 if self.facing == "left" else 1.0
        pos = tgt + self.distance_m * np.array([math.sin(a), 0.0, side * math.cos(a)])
        pos[1] = self.height_m
        return pos

    @property
    def rotation(self) -> np.ndarray:
        """Camera-to-world rotation, OpenGL style: columns are camera x (right), y (up), z (backwards)."""
        pos = self.position_m
        z = _unit(pos - np.array(self.target_m, dtype=float))
        x = _unit(_cross(np.array([0.0, 1.0, 0.0]), z))
        return np.column_stack([x, _cross(z, x), z])

    def pose_matrix(self) -> np.ndarray:
        """4x4 camera-to-world transform (the form pyrender expects)."""
        m = np.eye(4)
        m[:3, :3], m[:3, 3] = self.rotation, self.position_m
        return m

    def to_camera(self, points_m: np.ndarray) -> np.ndarray:
        """World points (..., 3) in camera coordinates (x right, y up, z backwards)."""
        return (np.asarray(points_m, dtype=float) - self.position_m) @ self.rotation

    def project(self, points_m: np.ndarray) -> np.ndarray:
        """World points (..., 3) -> image points (..., 2) in pixels (y down)."""
        pc = self.to_camera(points_m)
        depth = -pc[..., 2]
        u = 0.5 * self.width_px + self.focal_px * pc[..., 0] / depth
        v = 0.5 * self.height_px - self.focal_px * pc[..., 1] / depth
        return np.stack([u, v], axis=-1)

    def depth_m(self, points_m: np.ndarray) -> np.ndarray:
        """Distance of world points in front of the camera along its axis (metres)."""
        return -self.to_camera(points_m)[..., 2]

    def to_dict(self) -> dict[str, Any]:
        return {"azimuth_deg": self.azimuth_deg, "facing": self.facing, "distance_m": self.distance_m,
                "height_m": self.height_m, "target_m": list(self.target_m), "focal_px": self.focal_px,
                "width_px": self.width_px, "height_px": self.height_px}


def place(points_m: np.ndarray, yaw_deg: float = 0.0, offset_m: Iterable[float] = (0.0, 0.0, 0.0)) -> np.ndarray:
    """Move a figure: rotate world points about the vertical by ``yaw_deg`` then shift.

    ``yaw_deg`` > 0 turns the figure's facing direction from ``+x`` towards ``-z``
    (its left, seen from above). Used to put a second person in a scene.
    """
    r = _yaw(math.radians(yaw_deg))
    return np.asarray(points_m, dtype=float) @ r.T + np.asarray(list(offset_m), dtype=float)


# ---------------------------------------------------------------------------- faults
@dataclass(frozen=True)
class Fault:
    """Fault magnitudes for one rep (all zero = a good rep).

    ==========================  ==========================================================
    field                       effect (code)
    ==========================  ==========================================================
    ``lumbar_deg``              extra lumbar flexion at the worst point (rounded_back)
    ``thoracic_deg``            extra upper-back flexion at the worst point (rounded_back)
    ``hips_rise``               0..1: knees straighten ahead of the chest (hips_rise_early)
    ``forward_lean_deg``        extra trunk lean at the bottom (excessive_forward_lean)
    ``depth_loss``              0..1: fraction of squat depth left out (shallow_depth)
    ``knee_cave_deg``           inward knee rotation at the bottom / ascent (knee_cave)
    ``heel_lift_m``             heel rise at the bottom (heels_lift)
    ``lean_back_deg``           trunk behind vertical at lockout (hyperextension_lockout)
    ``bar_drift_m``             bar forward of the legs mid-pull (bar_drift)
    ``start_knee_extra_deg``    extra knee bend at the deadlift start (hips_too_low_start)
    ``lockout_short_deg``       hips and knees left bent at the top (incomplete_lockout)
    ==========================  ==========================================================
    """

    lumbar_deg: float = 0.0
    thoracic_deg: float = 0.0
    hips_rise: float = 0.0
    forward_lean_deg: float = 0.0
    depth_loss: float = 0.0
    knee_cave_deg: float = 0.0
    heel_lift_m: float = 0.0
    lean_back_deg: float = 0.0
    bar_drift_m: float = 0.0
    start_knee_extra_deg: float = 0.0
    lockout_short_deg: float = 0.0

    def __post_init__(self) -> None:
        limits = {"lumbar_deg": 60.0, "thoracic_deg": 40.0, "hips_rise": 1.0, "forward_lean_deg": 35.0,
                  "depth_loss": 0.8, "knee_cave_deg": 30.0, "heel_lift_m": 0.08, "lean_back_deg": 30.0,
                  "bar_drift_m": 0.25, "start_knee_extra_deg": 45.0, "lockout_short_deg": 40.0}
        for name, hi in limits.items():
            v = getattr(self, name)
            if not (math.isfinite(v) and 0.0 <= v <= hi):
                raise ValueError(f"Fault.{name}: expected a value in [0, {hi}], got {v}")

    @property
    def codes(self) -> tuple[str, ...]:
        """Fault codes this rep carries, in :data:`FAULT_CODES` order."""
        on = {
            "rounded_back": self.lumbar_deg > 0 or self.thoracic_deg > 0,
            "hips_rise_early": self.hips_rise > 0,
            "excessive_forward_lean": self.forward_lean_deg > 0,
            "shallow_depth": self.depth_loss > 0,
            "knee_cave": self.knee_cave_deg > 0,
            "heels_lift": self.heel_lift_m > 0,
            "hyperextension_lockout": self.lean_back_deg > 0,
            "bar_drift": self.bar_drift_m > 0,
            "hips_too_low_start": self.start_knee_extra_deg > 0,
            "incomplete_lockout": self.lockout_short_deg > 0,
        }
        return tuple(c for c in FAULT_CODES if on[c])

    @classmethod
    def of(cls, *codes: str) -> "Fault":
        """The preset magnitudes (:data:`FAULT_PRESETS`) of the given codes, combined."""
        kw: dict[str, float] = {}
        for code in codes:
            if code not in FAULT_PRESETS:
                raise ValueError(f"fault code: expected one of {FAULT_CODES}, got {code!r}")
            for f in fields(FAULT_PRESETS[code]):
                v = getattr(FAULT_PRESETS[code], f.name)
                if v:
                    kw[f.name] = v
        return cls(**kw)


#: Magnitudes a coach would clearly see, yet within what lifters really do.
FAULT_PRESETS: dict[str, Fault] = {
    "rounded_back": Fault(lumbar_deg=32.0, thoracic_deg=15.0),
    "hips_rise_early": Fault(hips_rise=1.0),
    "excessive_forward_lean": Fault(forward_lean_deg=20.0),
    "shallow_depth": Fault(depth_loss=0.45),
    "knee_cave": Fault(knee_cave_deg=16.0),
    "heels_lift": Fault(heel_lift_m=0.045),
    "hyperextension_lockout": Fault(lean_back_deg=14.0),
    "bar_drift": Fault(bar_drift_m=0.12),
    "hips_too_low_start": Fault(start_knee_extra_deg=32.0),
    "incomplete_lockout": Fault(lockout_short_deg=24.0),
}


# ---------------------------------------------------------------------------- schedule
@dataclass(frozen=True)
class PhaseSpan:
    name: str
    start_ms: float
    end_ms: float

    def __post_init__(self) -> None:
        if not self.end_ms > self.start_ms:
            raise ValueError(f"phase {self.name}: expected end_ms > start_ms, got {self.start_ms}..{self.end_ms}")


@dataclass(frozen=True)
class RepTruth:
    """Ground-truth boundaries of one rep (ms from the first frame) and its fault codes."""

    index: int
    start_ms: float
    bottom_ms: float
    end_ms: float
    faults: tuple[str, ...]
    phases: tuple[PhaseSpan, ...]

    def __post_init__(self) -> None:
        if not self.start_ms <= self.bottom_ms < self.end_ms:
            raise ValueError(f"rep {self.index}: expected start <= bottom < end, got "
                             f"{self.start_ms}, {self.bottom_ms}, {self.end_ms}")
        bad = [c for c in self.faults if c not in FAULT_CODES]
        if bad:
            raise ValueError(f"rep {self.index}: expected fault codes from {FAULT_CODES}, got {bad}")

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "start_ms": round(self.start_ms, 3), "bottom_ms": round(self.bottom_ms, 3),
                "end_ms": round(self.end_ms, 3), "faults": list(self.faults),
                "phases": [{"name": p.name, "start_ms": round(p.start_ms, 3), "end_ms": round(p.end_ms, 3)}
                           for p in self.phases]}


@dataclass(frozen=True)
class _Block:
    """A stretch of the timeline: ``fn(s)`` gives the controls at progress ``s`` in [0, 1]."""

    t0_s: float
    t1_s: float
    phase: str
    rep: int
    fn: Callable[[float], Controls]


#: Squat tempo (s) and good-rep bottom posture.
SQUAT_TEMPO_S = {"descent": 1.3, "bottom": 0.25, "ascent": 1.15}
SQUAT_BOTTOM = {"knee_flex_deg": 128.0, "shank_deg": 34.0, "trunk_deg": 40.0}
#: Deadlift tempo (s) and good-rep start / lockout posture.
DEADLIFT_TEMPO_S = {"approach": 1.1, "grip": 0.4, "pull": 1.3, "lockout": 0.5, "lowering": 1.2, "release": 1.0}
DEADLIFT_START = {"knee_flex_deg": 90.0, "shank_deg": 11.0}
#: Deadlift hips rising early: extra forward lean (deg) while the knees straighten.
_HIPS_RISE_LEAN_DEG = 12.0
#: Squat hips rising early: peak extra forward lean (deg) early in the ascent, and the
#: fraction of the ascent by which the knees finish straightening (at full fault).
_SQUAT_HIPS_RISE_LEAN_DEG = 22.0
_SQUAT_HIPS_RISE_KNEE_END = 0.45


@dataclass(frozen=True)
class _RepPlan:
    """One rep's fault and its seeded variation (tempo and depth factors, trunk offset)."""

    fault: Fault
    tempo: float
    depth: float
    trunk_offset_deg: float


def _squat_blocks(reps: list[_RepPlan], setup_s: float, rest_s: float, end_s: float, equipment: str
                  ) -> list[_Block]:
    base = Controls(stance_half_m=0.24, toe_out_deg=20.0, arms="back_bar" if equipment == "barbell" else "forward",
                    grip_half_m=0.42)
    stand = base
    blocks = [_Block(0.0, setup_s, "setup", -1, lambda s: stand)]
    t = setup_s
    for k, rp in enumerate(reps):
        f = rp.fault
        keep = 1.0 - f.depth_loss
        knee_b = SQUAT_BOTTOM["knee_flex_deg"] * rp.depth * keep
        shank_b = SQUAT_BOTTOM["shank_deg"] * rp.depth * keep
        trunk_b = SQUAT_BOTTOM["trunk_deg"] * keep + rp.trunk_offset_deg + f.forward_lean_deg
        if equipment != "barbell":
            trunk_b -= 4.0

        def at(dk: float, dt: float, f: Fault = f, knee_b: float = knee_b, shank_b: float = shank_b,
               trunk_b: float = trunk_b, extra_trunk: float = 0.0) -> Controls:
            return replace(base, knee_flex_deg=knee_b * dk, shank_deg=shank_b * dk, trunk_deg=trunk_b * dt + extra_trunk,
                           lumbar_deg=f.lumbar_deg * dt, thoracic_deg=f.thoracic_deg * dt,
                           knee_cave_deg=f.knee_cave_deg * math.sqrt(max(dk, 0.0)), heel_lift_m=f.heel_lift_m * dk)

        def descent(s: float, at: Callable[..., Controls] = at) -> Controls:
            return at(ease(s), ease(s))

        def bottom(s: float, at: Callable[..., Controls] = at) -> Controls:
            return at(1.0, 1.0)

        def ascent(s: float, at: Callable[..., Controls] = at, hr: float = f.hips_rise) -> Controls:
            dt = 1.0 - ease(s)
            dk = 1.0 - ease(min(1.0, s / (1.0 - (1.0 - _SQUAT_HIPS_RISE_KNEE_END) * hr)))
            bump = hr * _SQUAT_HIPS_RISE_LEAN_DEG * math.sin(math.pi * min(1.0, s / 0.85))
            return at(dk, dt, extra_trunk=bump)

        d, b_, a = (SQUAT_TEMPO_S[p] * rp.tempo for p in ("descent", "bottom", "ascent"))
        blocks += [_Block(t, t + d, "descent", k, descent), _Block(t + d, t + d + b_, "bottom", k, bottom),
                   _Block(t + d + b_, t + d + b_ + a, "ascent", k, ascent)]
        t += d + b_ + a
        if k < len(reps) - 1:
            blocks.append(_Block(t, t + rest_s, "rest", -1, lambda s: stand))
            t += rest_s
    blocks.append(_Block(t, t + end_s, "finish", -1, lambda s: stand))
    return blocks


def _fault_bump(p: float) -> float:
    """Deadlift fault profile over the pull: 0 on the floor, 1 from 25% to 50%, 0 again by 85%."""
    if p < 0.25:
        return ease(p / 0.25)
    if p < 0.5:
        return 1.0
    return 1.0 - ease((p - 0.5) / 0.35)


def _deadlift_blocks(reps: list[_RepPlan], setup_s: float, rest_s: float, end_s: float, body: Body
                     ) -> list[_Block]:
    """Deadlift timeline. Every bar-moving stretch goes bottom (p=0) -> top (p=1).

    The trunk lean follows a schedule, the bar height eases between the floor
    and the top, and the knee bend is solved so the straight arms hold the bar
    at that height: when the trunk is held down (hips rising early) the knees
    straighten first, as they do in real pulls.
    """
    base = Controls(stance_half_m=0.16, toe_out_deg=8.0, arms="bar_hands", grip_half_m=0.25)
    h_floor = PLATE_RADIUS_M

    def start_pose(extra_deg: float, depth: float) -> Controls:
        k = DEADLIFT_START["knee_flex_deg"] * depth + extra_deg
        sh = DEADLIFT_START["shank_deg"] * depth + 0.3 * extra_deg
        return solve_trunk_for_bar(replace(base, knee_flex_deg=k, shank_deg=sh), h_floor, body)

    def top_pose(f: Fault, start: Controls) -> Controls:
        knee = 0.8 * f.lockout_short_deg
        return replace(base, knee_flex_deg=knee, shank_deg=knee * start.shank_deg / start.knee_flex_deg,
                       trunk_deg=-f.lean_back_deg + 0.8 * f.lockout_short_deg, lumbar_deg=-0.6 * f.lean_back_deg)

    def travel(bottom: Controls, top: Controls, p: float, trunk_delay: float, gripped: bool, bar_x: float,
               extra: Fault = Fault(), bump: float = 0.0) -> Controls:
        """Posture at progress ``p`` from ``bottom`` (bar on the floor) to ``top``.

        The trunk starts to rise at ``p = trunk_delay``; ``extra`` adds spine
        flexion, knee cave, bar drift and (hips rising early) extra forward lean,
        each scaled by ``bump`` (0..1).
        """
        if p >= 1.0:
            return replace(top, bar_gripped=gripped, bar_floor_x_m=bar_x)
        et = ease((p - trunk_delay) / (1.0 - trunk_delay))
        c = replace(base, trunk_deg=_lerp(bottom.trunk_deg, top.trunk_deg, et) + _HIPS_RISE_LEAN_DEG * extra.hips_rise * bump,
                    knee_cave_deg=extra.knee_cave_deg * bump,
                    lumbar_deg=_lerp(bottom.lumbar_deg, top.lumbar_deg, ease(p)) + extra.lumbar_deg * bump,
                    thoracic_deg=_lerp(bottom.thoracic_deg, top.thoracic_deg, ease(p)) + extra.thoracic_deg * bump,
                    bar_drift_m=extra.bar_drift_m * bump, bar_gripped=gripped, bar_floor_x_m=bar_x)
        h_top = bar_height_m(top, body)
        return solve_knee_for_bar(c, bottom, top, _lerp(h_floor, h_top, ease(p)), body)

    def floor_x(c: Controls) -> float:
        return float(pose(replace(c, bar_gripped=True), body).bar_m[0])

    starts = [start_pose(rp.fault.start_knee_extra_deg, rp.depth) for rp in reps]
    good_bottom = start_pose(0.0, 1.0)
    stand = top_pose(Fault(), good_bottom)
    first_x, last_x = floor_x(starts[0]), floor_x(good_bottom)
    tempo = DEADLIFT_TEMPO_S

    stand_first = replace(stand, bar_gripped=False, bar_floor_x_m=first_x)
    blocks = [_Block(0.0, setup_s, "setup", -1, lambda s: stand_first)]
    t = setup_s
    blocks.append(_Block(t, t + tempo["approach"], "setup", -1,
                         lambda s: travel(starts[0], stand, 1.0 - s, 0.1, False, first_x)))
    t += tempo["approach"]
    blocks.append(_Block(t, t + tempo["grip"], "setup", -1, lambda s: starts[0]))
    t += tempo["grip"]
    for k, rp in enumerate(reps):
        f = rp.fault
        start = starts[k]
        top = top_pose(f, start)
        delay = 0.45 + 0.25 * f.hips_rise

        def pull(s: float, start: Controls = start, top: Controls = top, f: Fault = f, delay: float = delay
                 ) -> Controls:
            return travel(start, top, s, delay, True, 0.0, f, _fault_bump(s))

        def lockout(s: float, top: Controls = top) -> Controls:
            return top

        def lowering(s: float, top: Controls = top, f: Fault = f) -> Controls:
            return travel(good_bottom, top, 1.0 - s, 0.45, True, 0.0, replace(f, hips_rise=0.0), _fault_bump(1.0 - s))

        dp, dl, dw = (tempo[p] * rp.tempo for p in ("pull", "lockout", "lowering"))
        blocks += [_Block(t, t + dp, "pull", k, pull), _Block(t + dp, t + dp + dl, "lockout", k, lockout),
                   _Block(t + dp + dl, t + dp + dl + dw, "lowering", k, lowering)]
        t += dp + dl + dw
        if k < len(reps) - 1:
            nxt = starts[k + 1]

            def rest(s: float, nxt: Controls = nxt) -> Controls:
                e = ease(s)
                c = replace(base, knee_flex_deg=_lerp(good_bottom.knee_flex_deg, nxt.knee_flex_deg, e),
                            shank_deg=_lerp(good_bottom.shank_deg, nxt.shank_deg, e))
                return solve_trunk_for_bar(c, h_floor, body)

            blocks.append(_Block(t, t + rest_s, "rest", -1, rest))
            t += rest_s
    blocks.append(_Block(t, t + tempo["grip"], "finish", -1, lambda s: good_bottom))
    t += tempo["grip"]
    blocks.append(_Block(t, t + tempo["release"], "finish", -1,
                         lambda s: travel(good_bottom, stand, s, 0.1, False, last_x)))
    t += tempo["release"]
    stand_last = replace(stand, bar_gripped=False, bar_floor_x_m=last_x)
    blocks.append(_Block(t, t + end_s, "finish", -1, lambda s: stand_last))
    return blocks


def _deadlift_truth(blocks: list[_Block], k: int, last: bool, faults: tuple[str, ...]) -> RepTruth:
    """Rep ``k`` of a deadlift timeline in the convention of ``../shared/data/lifts/LABELS.md``.

    ``start_ms``: the descent toward the floor begins (the set-up hinge for the
    first rep, the previous rep's lowering otherwise); ``bottom_ms``: the last
    moment with the bar on the floor, just before the pull; ``end_ms``: lockout
    reached. Phases as :mod:`formcheck.reps` names them: ``lowering`` (to the
    floor), ``floor`` (grip or rest at the bar), ``pull``, then ``lockout`` (the
    hold, after ``end_ms``) and, for the last rep only, ``set-down`` (the final
    lowering, which belongs to the last rep's cycle and is not a rep).
    """
    i_pull = next(i for i, blk in enumerate(blocks) if blk.rep == k and blk.phase == "pull")
    down, floor, pull, hold = blocks[i_pull - 2], blocks[i_pull - 1], blocks[i_pull], blocks[i_pull + 1]
    if not (down.phase in ("setup", "lowering") and floor.phase in ("setup", "rest") and hold.phase == "lockout"):
        raise RuntimeError(f"deadlift timeline: unexpected blocks around pull {k}: "
                           f"{down.phase}, {floor.phase}, {pull.phase}, {hold.phase}")
    named = [("lowering", down), ("floor", floor), ("pull", pull), ("lockout", hold)]
    if last:
        named.append(("set-down", blocks[i_pull + 2]))
    spans = tuple(PhaseSpan(name, 1000.0 * blk.t0_s, 1000.0 * blk.t1_s) for name, blk in named)
    return RepTruth(k, 1000.0 * down.t0_s, 1000.0 * pull.t0_s, 1000.0 * pull.t1_s, faults, spans)


# ---------------------------------------------------------------------------- result
@dataclass(frozen=True)
class SimResult:
    """A simulated clip: per-frame joints, projections and ground truth (see module docstring).

    Arrays have one row per frame. ``rep_index`` is -1 outside reps; ``phase``
    holds phase names. ``bar_m`` is NaN where there is no bar.
    """

    lift: str
    camera: Camera
    body: Body
    fps: float
    equipment: str
    t_ms: np.ndarray
    joints_3d: np.ndarray
    xy_px: np.ndarray
    trunk_deg: np.ndarray
    trunk3d_deg: np.ndarray
    knee_deg: np.ndarray
    hip_deg: np.ndarray
    lumbar_deg: np.ndarray
    thoracic_deg: np.ndarray
    knee_cave_deg: np.ndarray
    heel_lift_m: np.ndarray
    bar_m: np.ndarray
    rep_index: np.ndarray
    phase: np.ndarray
    reps: tuple[RepTruth, ...]
    controls: tuple[Controls, ...] = field(repr=False)

    def __post_init__(self) -> None:
        if self.lift not in LIFTS:
            raise ValueError(f"SimResult.lift: expected one of {LIFTS}, got {self.lift!r}")
        n = len(self.t_ms)
        expect = {"joints_3d": (n, N_LANDMARKS, 3), "xy_px": (n, N_LANDMARKS, 2), "trunk_deg": (n,),
                  "trunk3d_deg": (n,), "knee_deg": (n,), "hip_deg": (n,), "lumbar_deg": (n,), "thoracic_deg": (n,),
                  "knee_cave_deg": (n,), "heel_lift_m": (n,), "bar_m": (n, 3), "rep_index": (n,), "phase": (n,)}
        for name, shape in expect.items():
            arr = np.asarray(getattr(self, name))
            if arr.shape != shape:
                raise ValueError(f"SimResult.{name}: expected shape {shape}, got {arr.shape}")
            arr = arr.copy()
            arr.setflags(write=False)
            object.__setattr__(self, name, arr)
        t = np.asarray(self.t_ms, dtype=float).copy()
        t.setflags(write=False)
        object.__setattr__(self, "t_ms", t)
        if len(self.controls) != n:
            raise ValueError(f"SimResult.controls: expected {n} entries, got {len(self.controls)}")

    @property
    def n_frames(self) -> int:
        return int(self.t_ms.shape[0])

    @property
    def faults(self) -> tuple[str, ...]:
        """Clip-level fault codes: every code any rep carries, in :data:`FAULT_CODES` order."""
        seen = {c for r in self.reps for c in r.faults}
        return tuple(c for c in FAULT_CODES if c in seen)

    def pose_at(self, i: int) -> Pose:
        """The full :class:`Pose` of frame ``i`` (segment frames for rendering)."""
        return pose(self.controls[i], self.body)

    def to_dict(self, *, xy_decimals: int = 1, deg_decimals: int = 2) -> dict[str, Any]:
        """JSON-ready ground truth (schema in docs/synthetic.md)."""
        def r(a: np.ndarray, d: int) -> list[Any]:
            return np.round(np.asarray(a, dtype=float), d).tolist()

        return {
            "schema_version": 1,
            "generator": "tools.synth",
            "generator_version": GENERATOR_VERSION,
            "fps": self.fps,
            "width": self.camera.width_px,
            "height": self.camera.height_px,
            "camera": self.camera.to_dict(),
            "lift": self.lift,
            "equipment": self.equipment,
            "view": self.camera.view,
            "n_frames": self.n_frames,
            "reps": [rp.to_dict() for rp in self.reps],
            "faults": list(self.faults),
            "landmarks": [lm.name.lower() for lm in Landmark],
            "frames": {
                "t_ms": r(self.t_ms, 3),
                "xy_px": r(self.xy_px, xy_decimals),
                "trunk_deg": r(self.trunk_deg, deg_decimals),
                "trunk3d_deg": r(self.trunk3d_deg, deg_decimals),
                "knee_deg": r(self.knee_deg, deg_decimals),
                "hip_deg": r(self.hip_deg, deg_decimals),
                "lumbar_deg": r(self.lumbar_deg, deg_decimals),
                "thoracic_deg": r(self.thoracic_deg, deg_decimals),
                "knee_cave_deg": r(self.knee_cave_deg, deg_decimals),
                "heel_lift_m": r(self.heel_lift_m, 4),
                "rep": [int(x) for x in self.rep_index],
                "phase": [str(x) for x in self.phase],
            },
        }


def joint_angles(joints_3d: np.ndarray) -> dict[str, np.ndarray]:
    """Exact ``knee_deg``, ``hip_deg`` and ``trunk3d_deg`` from world joints (..., 33, 3).

    Conventions as in the module docstring; knee and hip are the mean of the
    two sides. The knee angle is the 3-D interior angle; hip and trunk are
    measured in the sagittal plane.
    """
    j = np.asarray(joints_3d, dtype=float)
    sm = 0.5 * (j[..., L.LEFT_SHOULDER, :] + j[..., L.RIGHT_SHOULDER, :])
    hm = 0.5 * (j[..., L.LEFT_HIP, :] + j[..., L.RIGHT_HIP, :])
    trunk = sm - hm
    trunk3d = np.degrees(np.arctan2(trunk[..., 0], trunk[..., 1]))

    def ang(u: np.ndarray, v: np.ndarray) -> np.ndarray:
        return np.degrees(np.arctan2(np.linalg.norm(np.cross(u, v), axis=-1), np.sum(u * v, axis=-1)))

    knees, hips = [], []
    for side in _SIDES:
        hip, knee, ankle = (j[..., _lm(side, p), :] for p in ("HIP", "KNEE", "ANKLE"))
        knees.append(ang(hip - knee, ankle - knee))
        up = hip - knee
        thigh_deg = np.degrees(np.arctan2(up[..., 0], up[..., 1]))
        hips.append(180.0 - (trunk3d - thigh_deg))
    return {"knee_deg": 0.5 * (knees[0] + knees[1]), "hip_deg": 0.5 * (hips[0] + hips[1]), "trunk3d_deg": trunk3d}


def image_trunk_deg(xy_px: np.ndarray, facing_sign: float) -> np.ndarray:
    """2-D trunk lean from image landmarks (..., 33, 2): + towards the facing side (see module docstring)."""
    xy = np.asarray(xy_px, dtype=float)
    sm = 0.5 * (xy[..., L.LEFT_SHOULDER, :] + xy[..., L.RIGHT_SHOULDER, :])
    hm = 0.5 * (xy[..., L.LEFT_HIP, :] + xy[..., L.RIGHT_HIP, :])
    d = sm - hm
    return np.degrees(np.arctan2(facing_sign * d[..., 0], -d[..., 1]))


def _rep_plans(reps: int, faults: Mapping[int, Fault], seed: int | None) -> list[_RepPlan]:
    rng = np.random.default_rng(seed) if seed is not None else None
    plans = []
    for k in range(reps):
        if rng is None:
            tempo, depth, trunk = 1.0, 1.0, 0.0
        else:
            tempo = 1.0 + 0.05 * float(rng.uniform(-1, 1))
            depth = 1.0 + 0.02 * float(rng.uniform(-1, 1))
            trunk = 1.5 * float(rng.uniform(-1, 1))
        plans.append(_RepPlan(faults.get(k, Fault()), tempo, depth, trunk))
    return plans


def simulate(
    lift: str,
    view_deg: float = 0.0,
    reps: int = 3,
    faults: Mapping[int, Fault | str | Iterable[str]] | None = None,
    fps: float = 30.0,
    setup_s: float = 1.0,
    rest_s: float | None = None,
    end_s: float = 0.8,
    facing: str = "left",
    seed: int | None = 0,
    equipment: str = "barbell",
    camera: Camera | None = None,
    body: Body | None = None,
) -> SimResult:
    """Simulate a set of ``reps`` reps of ``lift`` ("squat" or "deadlift").

    ``faults`` maps a 0-based rep index to a :class:`Fault`, a fault code, or
    several codes (preset magnitudes, :data:`FAULT_PRESETS`). ``rest_s`` is the
    pause between reps (default 0.8 s standing for squats, 0.6 s with the bar on
    the floor for deadlifts). ``seed`` adds small per-rep variation in tempo
    (+-5%), depth (+-2%) and trunk lean (+-1.5 deg); ``None`` makes every good
    rep identical. ``equipment``: "barbell" (back squat / deadlift) or
    "bodyweight" (squat with arms held forward). ``camera`` overrides
    ``view_deg``/``facing``. Deterministic for a given set of arguments.
    """
    if lift not in LIFTS:
        raise ValueError(f"lift: expected one of {LIFTS}, got {lift!r}")
    if not (isinstance(reps, int) and 1 <= reps <= 30):
        raise ValueError(f"reps: expected an integer in [1, 30], got {reps!r}")
    if not (math.isfinite(fps) and 1.0 <= fps <= 240.0):
        raise ValueError(f"fps: expected a value in [1, 240], got {fps}")
    if equipment not in ("barbell", "bodyweight"):
        raise ValueError(f"equipment: expected 'barbell' or 'bodyweight', got {equipment!r}")
    if lift == "deadlift" and equipment != "barbell":
        raise ValueError("equipment: a deadlift needs a barbell")
    rest = rest_s if rest_s is not None else (0.8 if lift == "squat" else 0.6)
    for name, v in (("setup_s", setup_s), ("rest_s", rest), ("end_s", end_s)):
        if not (math.isfinite(v) and 0.05 <= v <= 30.0):
            raise ValueError(f"{name}: expected seconds in [0.05, 30], got {v}")
    cam = camera if camera is not None else Camera(azimuth_deg=view_deg, facing=facing)
    b = body or Body()
    fault_map: dict[int, Fault] = {}
    for k, f in (faults or {}).items():
        if not (isinstance(k, int) and 0 <= k < reps):
            raise ValueError(f"faults: expected rep indices in [0, {reps - 1}], got {k!r}")
        fl = f if isinstance(f, Fault) else Fault.of(f) if isinstance(f, str) else Fault.of(*f)
        wrong = [c for c in fl.codes if c not in LIFT_FAULTS[lift]]
        if wrong:
            raise ValueError(f"faults: {wrong} cannot be injected into a {lift}; "
                             f"expected some of {sorted(LIFT_FAULTS[lift])}")
        fault_map[k] = fl
    plans = _rep_plans(reps, fault_map, seed)
    if lift == "squat":
        blocks = _squat_blocks(plans, setup_s, rest, end_s, equipment)
    else:
        blocks = _deadlift_blocks(plans, setup_s, rest, end_s, b)

    total_s = blocks[-1].t1_s
    n = int(math.floor(total_s * fps + 1e-9))
    t_ms = np.arange(n) * (1000.0 / fps)
    controls: list[Controls] = []
    phase = np.empty(n, dtype=object)
    rep_index = np.full(n, -1, dtype=np.int64)
    bi = 0
    for i in range(n):
        ts = i / fps
        while bi < len(blocks) - 1 and ts >= blocks[bi].t1_s - 1e-12:
            bi += 1
        blk = blocks[bi]
        s = (ts - blk.t0_s) / (blk.t1_s - blk.t0_s)
        controls.append(blk.fn(min(max(s, 0.0), 1.0)))
        phase[i], rep_index[i] = blk.phase, blk.rep
    poses = [pose(c, b) for c in controls]
    joints = np.stack([p.landmarks_m for p in poses])
    bar = np.stack([p.bar_m for p in poses])
    xy = cam.project(joints)
    ang = joint_angles(joints)

    rep_truths = []
    for k in range(reps):
        if lift == "squat":
            mine = [blk for blk in blocks if blk.rep == k]
            spans = tuple(PhaseSpan(blk.phase, 1000.0 * blk.t0_s, 1000.0 * blk.t1_s) for blk in mine)
            bot = next(sp for sp in spans if sp.name == "bottom")
            rep_truths.append(RepTruth(k, spans[0].start_ms, 0.5 * (bot.start_ms + bot.end_ms), spans[-1].end_ms,
                                       plans[k].fault.codes, spans))
        else:
            rep_truths.append(_deadlift_truth(blocks, k, k == reps - 1, plans[k].fault.codes))

    return SimResult(
        lift=lift, camera=cam, body=b, fps=float(fps), equipment=equipment, t_ms=t_ms, joints_3d=joints, xy_px=xy,
        trunk_deg=image_trunk_deg(xy, cam.facing_sign), trunk3d_deg=ang["trunk3d_deg"], knee_deg=ang["knee_deg"],
        hip_deg=ang["hip_deg"], lumbar_deg=np.array([c.lumbar_deg for c in controls]),
        thoracic_deg=np.array([c.thoracic_deg for c in controls]),
        knee_cave_deg=np.array([c.knee_cave_deg for c in controls]),
        heel_lift_m=np.array([c.heel_lift_m for c in controls]), bar_m=bar, rep_index=rep_index,
        phase=phase.astype(str), reps=tuple(rep_truths), controls=tuple(controls),
    )
