"""Camera view, facing direction and lift recognition from landmarks.

:func:`classify_view` tells a side view from a front or oblique one and which
way the lifter faces; :func:`recognize_lift` tells a squat from a deadlift from
the movement. Both work on a whole clip or on a frame subset (one rep).

How the view is measured
------------------------
The *yaw* is the angle between the lifter's left-right axis (shoulder line,
hip line) and the image plane: 0 deg = chest square to the camera (front or
back view), 90 deg = side-on. Two independent estimates are combined:

- image widths: the 2-D shoulder (hip) width over the 2-D torso length is
  ``cos(yaw)`` times its value in a front view, so
  ``yaw = arccos(ratio / front_ratio)``;
- world depth: MediaPipe world landmarks give the left-right axis in 3-D,
  ``yaw = atan2(|dz|, |dx|)``.

Both read low through MediaPipe (a square side view reads 74-84 deg: the
tracker keeps the two shoulders and hips apart even when one hides the
other), so their combination, the *raw* yaw, is mapped to the camera's true
yaw by a monotone curve measured on rendered clips at known camera azimuths
(``yaw_curve_*`` in ``calibration.toml``; ``benchmarks/view_calibration.py``).

Facing (the image side the chest points to) is a vote of cues that point
forward on any body: the nose ahead of the ears, the toes ahead of the heels
and the knees ahead of the hip-ankle line when they bend. In a front view the
nose nearer the camera than the ears means "camera", farther means "away".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np

from formcheck import geometry as geo
from formcheck.landmarks import Landmark as L
from formcheck.sequence import PoseSequence
from formcheck.settings import Calibrated

if TYPE_CHECKING:
    from formcheck.metrics import FrameMetrics

VIEWS = ("side", "front", "oblique")
FACINGS = ("left", "right", "camera", "away")
LIFTS = ("squat", "deadlift")

FrameSelector = slice | np.ndarray | list[int] | None


@dataclass(frozen=True)
class ViewInfo:
    """The camera's view of the lifter.

    Attributes
    ----------
    view
        ``"side"`` (sagittal), ``"front"`` (front or back) or ``"oblique"`` (in between).
    facing
        The image side the chest points to: ``"left"``/``"right"`` in side and
        oblique views, ``"camera"``/``"away"`` in front views.
    confidence
        0..1: how clearly the measurements put the clip in this view and facing
        (0 = no lifter found or a coin toss).
    yaw_deg
        Measured angle between the lifter's left-right axis and the image plane,
        0..90 deg (0 = square to the camera, 90 = side-on); NaN when unmeasured.
    features
        The measured features by name (floats, NaN where unmeasured), for reports and tuning.
    """

    view: str
    facing: str
    confidence: float
    yaw_deg: float = float("nan")
    features: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.view not in VIEWS:
            raise ValueError(f"view: expected one of {VIEWS}, got {self.view!r}")
        if self.facing not in FACINGS:
            raise ValueError(f"facing: expected one of {FACINGS}, got {self.facing!r}")
        sideways = self.facing in ("left", "right")
        if sideways == (self.view == "front"):
            want = "camera/away" if self.view == "front" else "left/right"
            raise ValueError(f"facing: expected {want} in a {self.view} view, got {self.facing!r}")
        c = float(self.confidence)
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"confidence: expected 0..1, got {self.confidence}")
        y = float(self.yaw_deg)
        if np.isfinite(y) and not 0.0 <= y <= 90.0:
            raise ValueError(f"yaw_deg: expected 0..90 or NaN, got {self.yaw_deg}")
        object.__setattr__(self, "confidence", c)
        object.__setattr__(self, "yaw_deg", y)
        object.__setattr__(self, "features", MappingProxyType({str(k): float(v) for k, v in self.features.items()}))

    @property
    def facing_sign(self) -> int:
        """+1 facing image right, -1 facing image left, 0 facing the camera or away."""
        return {"right": 1, "left": -1}.get(self.facing, 0)

    def to_dict(self) -> dict[str, Any]:
        return {"view": self.view, "facing": self.facing, "confidence": self.confidence,
                "yaw_deg": self.yaw_deg, "features": dict(self.features)}


@dataclass(frozen=True)
class ViewParams(Calibrated):
    """Calibration of :func:`classify_view`.

    No defaults here: the values live only in the ``[views]`` table of
    ``formcheck/config/calibration.toml`` (:meth:`packaged`).

    Notes
    -----
    front_shoulder_ratio
        2-D shoulder width / 2-D torso length (shoulder midpoint to hip
        midpoint) of a lifter square to the camera. Sets the image yaw
        estimate. Real front-view clips read 0.63-0.69 (MediaPipe full model).
    front_hip_ratio
        The same for the hip landmarks (MediaPipe's hips sit closer together
        than the shoulders): 0.35-0.42 on real front clips, ~0.45 implied by
        the 45-deg ones.
    world_weight
        Weight (0..1) of the world-landmark yaw in the combined yaw; the image
        estimates share the rest. The world yaw is the steadier of the two near
        a front view (arccos of a width ratio is steep there): real front clips
        read 1-13 deg from the world landmarks, 9-38 from the image widths.
    hidden_weight
        Weight of the occlusion vote: frames where one shoulder or hip is lost
        (NaN, e.g. masked for low visibility) while its twin is tracked vote
        for a side view (yaw 90) with this weight times their fraction; frames
        with both tracked give the measured yaws weight 1 times theirs.
    min_world_width_m
        World shoulder or hip pairs closer than this (metres, horizontal) give
        no yaw: the two labels sit on one point (e.g. a lost side filled in
        from its twin) and their direction is noise.
    yaw_curve_raw_deg, yaw_curve_true_deg
        The calibration curve: knots of a monotone piecewise-linear map from
        the combined (raw) yaw to the camera's true yaw, both 0..90 deg, from
        (0, 0) to (90, 90). Fitted on rendered clips at known azimuths
        (``python benchmarks/view_calibration.py --fit``): the median raw yaw
        of each true yaw. ``[0, 90]`` and ``[0, 90]`` is no correction.
    front_max_yaw_deg, side_min_yaw_deg
        Calibrated yaw below the first is a front view, above the second a side
        view, in between oblique (the renderer labels azimuths up to 25 deg
        off side-on "side" and from 65 "front").
    yaw_scale_deg
        Yaw distance from the nearest threshold that gives full view confidence.
    facing_scale
        Size of a facing cue (in torso lengths) that counts as a full vote.
    toward_scale_m, toward_scale_torso
        Front views: how much nearer the camera the nose is than the ears (world
        metres; image depth in torso lengths) for a full "camera" vote
        (farther = "away"). Absent both, the lifter is taken to face the camera.
    """

    TABLE = "views"

    front_shoulder_ratio: float
    front_hip_ratio: float
    world_weight: float
    hidden_weight: float
    min_world_width_m: float
    yaw_curve_raw_deg: tuple[float, ...]
    yaw_curve_true_deg: tuple[float, ...]
    front_max_yaw_deg: float
    side_min_yaw_deg: float
    yaw_scale_deg: float
    facing_scale: float
    toward_scale_m: float
    toward_scale_torso: float

    def __post_init__(self) -> None:
        # TOML arrays arrive as lists; the frozen params keep tuples
        raw = tuple(float(v) for v in self.yaw_curve_raw_deg)
        true = tuple(float(v) for v in self.yaw_curve_true_deg)
        object.__setattr__(self, "yaw_curve_raw_deg", raw)
        object.__setattr__(self, "yaw_curve_true_deg", true)
        if len(raw) != len(true) or len(raw) < 2:
            raise ValueError("yaw curve: expected yaw_curve_raw_deg and yaw_curve_true_deg of one length >= 2, "
                             f"got {len(raw)} and {len(true)}")
        if raw[0] != 0.0 or raw[-1] != 90.0 or true[0] != 0.0 or true[-1] != 90.0:
            raise ValueError(f"yaw curve: expected to run from (0, 0) to (90, 90), got ({raw[0]}, {true[0]}) to "
                             f"({raw[-1]}, {true[-1]})")
        if any(b <= a for a, b in zip(raw, raw[1:])) or any(b < a for a, b in zip(true, true[1:])):
            raise ValueError(f"yaw curve: expected increasing knots, got raw {list(raw)}, true {list(true)}")
        for name in ("front_shoulder_ratio", "front_hip_ratio", "yaw_scale_deg", "facing_scale", "toward_scale_m",
                     "toward_scale_torso"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name}: expected > 0, got {getattr(self, name)}")
        if not self.hidden_weight >= 0:
            raise ValueError(f"hidden_weight: expected >= 0, got {self.hidden_weight}")
        if not 0.0 <= self.world_weight <= 1.0:
            raise ValueError(f"world_weight: expected 0..1, got {self.world_weight}")
        if not 0.0 < self.front_max_yaw_deg < self.side_min_yaw_deg < 90.0:
            raise ValueError("yaw thresholds: expected 0 < front_max_yaw_deg < side_min_yaw_deg < 90, "
                             f"got {self.front_max_yaw_deg}, {self.side_min_yaw_deg}")


def select_frames(n: int, frames: FrameSelector) -> np.ndarray:
    """Frame indices chosen by ``frames`` (None = all; slice, bool mask or index array)."""
    if frames is None:
        return np.arange(n)
    if isinstance(frames, slice):
        return np.arange(n)[frames]
    arr = np.asarray(frames)
    if arr.dtype == bool:
        if arr.shape != (n,):
            raise ValueError(f"frames: expected a bool mask of shape ({n},), got {arr.shape}")
        return np.flatnonzero(arr)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise ValueError(f"frames: expected a slice, bool mask or 1-D integer indices, got {arr.dtype} {arr.shape}")
    if arr.size and (arr.min() < -n or arr.max() >= n):
        raise ValueError(f"frames: expected indices in [0, {n}), got {arr.min()}..{arr.max()}")
    return np.arange(n)[arr]


def _nanmedian(x: np.ndarray) -> float:
    return geo.nan_percentile(x, 50.0)


def _world_yaw_deg(w: np.ndarray, left: L, right: L, min_width_m: float) -> np.ndarray:
    """Yaw of a left/right pair's 3-D axis; NaN where the pair is narrower than ``min_width_m`` (one point twice)."""
    d = w[:, int(right)] - w[:, int(left)]
    width = np.hypot(d[:, 0], d[:, 2])
    yaw = np.degrees(np.arctan2(np.abs(d[:, 2]), np.abs(d[:, 0])))
    return np.where(width >= min_width_m, yaw, np.nan)


def _image_yaw_deg(ratio: float, front_ratio: float) -> float:
    if not np.isfinite(ratio):
        return float("nan")
    return float(np.degrees(np.arccos(np.clip(ratio / front_ratio, 0.0, 1.0))))


def calibrated_yaw_deg(raw_deg: float | np.ndarray, params: ViewParams) -> float | np.ndarray:
    """The camera's yaw (0..90 deg) from the landmarks' raw yaw, through the calibration curve; NaN stays NaN."""
    raw = np.asarray(raw_deg, dtype=float)
    out = np.where(np.isfinite(raw), np.interp(np.clip(raw, 0.0, 90.0), params.yaw_curve_raw_deg,
                                                params.yaw_curve_true_deg), np.nan)
    return float(out) if out.ndim == 0 else out


def _nanmean_weighted(values: list[float], weights: list[float]) -> float:
    v = np.asarray(values, float)
    w = np.asarray(weights, float)
    ok = np.isfinite(v) & (w > 0)
    return float(np.sum(v[ok] * w[ok]) / np.sum(w[ok])) if ok.any() else float("nan")


def _pair_mean(a: np.ndarray, left: L, right: L) -> np.ndarray:
    """Mean of a left/right landmark pair per frame; the one that is present when the other is lost."""
    return geo.weighted_midpoint(a[:, int(left)], a[:, int(right)], 1.0, 1.0)


def _facing_cues(xy: np.ndarray, torso_px: float) -> dict[str, float]:
    """Forward-pointing cues as signed image-x offsets in torso lengths (+ = toward image right)."""
    nose = xy[:, int(L.NOSE)]
    ears = _pair_mean(xy, L.LEFT_EAR, L.RIGHT_EAR)
    heels = _pair_mean(xy, L.LEFT_HEEL, L.RIGHT_HEEL)
    toes = _pair_mean(xy, L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX)
    hips = _pair_mean(xy, L.LEFT_HIP, L.RIGHT_HIP)
    knees = _pair_mean(xy, L.LEFT_KNEE, L.RIGHT_KNEE)
    ankles = _pair_mean(xy, L.LEFT_ANKLE, L.RIGHT_ANKLE)
    knee_fwd = knees[:, 0] - geo.midpoint(hips, ankles)[:, 0]
    # the knee only points forward while it bends: use the frames with the hip lowest
    hip_y = hips[:, 1]
    low = np.isfinite(hip_y) & (hip_y >= geo.nan_percentile(hip_y, 60.0))
    return {
        "facing_nose": _nanmedian(nose[:, 0] - ears[:, 0]) / torso_px,
        "facing_toes": _nanmedian(toes[:, 0] - heels[:, 0]) / torso_px,
        "facing_knees": (_nanmedian(knee_fwd[low]) if low.any() else float("nan")) / torso_px,
    }


def classify_view(seq: PoseSequence, frames: FrameSelector = None, params: ViewParams | None = None) -> ViewInfo:
    """Side, front or oblique view and the lifter's facing, for a clip or a frame subset.

    Notes
    -----
    seq
        A (preferably cleaned) pose sequence; frames without a lifter are ignored.
    frames
        ``None`` for the whole clip, or a slice / bool mask / index array (e.g. one rep).
    params
        Calibration, see :class:`ViewParams`; None = :meth:`ViewParams.packaged`.

    Returns a :class:`ViewInfo` with confidence 0 (and a side view facing
    right as a placeholder) when no frame has a lifter.
    """
    if params is None:
        params = ViewParams.packaged()
    idx = select_frames(seq.n_frames, frames)
    idx = idx[seq.detected[idx]]
    if idx.size == 0:
        return ViewInfo("side", "right", 0.0, float("nan"), {"n_frames": 0.0})
    xy = seq.xy_px[idx]
    w = seq.world_m[idx]
    sh = _pair_mean(xy, L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
    hp = _pair_mean(xy, L.LEFT_HIP, L.RIGHT_HIP)
    torso_px = geo.nan_percentile(geo.distance(sh, hp), 90.0)
    if not torso_px > 0:
        return ViewInfo("side", "right", 0.0, float("nan"), {"n_frames": float(idx.size)})
    pairs = ((L.LEFT_SHOULDER, L.RIGHT_SHOULDER), (L.LEFT_HIP, L.RIGHT_HIP))
    both = [np.isfinite(xy[:, int(a), 0]) & np.isfinite(xy[:, int(b), 0]) for a, b in pairs]
    one = [np.isfinite(xy[:, int(a), 0]) ^ np.isfinite(xy[:, int(b), 0]) for a, b in pairs]
    both_frac = float(np.mean([m.mean() for m in both]))
    hidden_frac = float(np.mean([m.mean() for m in one]))
    sh_w = np.abs(xy[:, int(L.LEFT_SHOULDER), 0] - xy[:, int(L.RIGHT_SHOULDER), 0])
    hp_w = np.abs(xy[:, int(L.LEFT_HIP), 0] - xy[:, int(L.RIGHT_HIP), 0])
    sh_ratio = _nanmedian(sh_w) / torso_px
    hp_ratio = _nanmedian(hp_w) / torso_px
    yaw_img_sh = _image_yaw_deg(sh_ratio, params.front_shoulder_ratio)
    yaw_img_hp = _image_yaw_deg(hp_ratio, params.front_hip_ratio)
    yaw_world_sh = _nanmedian(_world_yaw_deg(w, L.LEFT_SHOULDER, L.RIGHT_SHOULDER, params.min_world_width_m))
    yaw_world_hp = _nanmedian(_world_yaw_deg(w, L.LEFT_HIP, L.RIGHT_HIP, params.min_world_width_m))
    yaw_img = _nanmean_weighted([yaw_img_sh, yaw_img_hp], [1.0, 1.0])
    yaw_world = _nanmean_weighted([yaw_world_sh, yaw_world_hp], [1.0, 1.0])
    # a shoulder or hip that is lost while its twin is tracked is hidden behind the body: side-on evidence
    yaw_raw = _nanmean_weighted([yaw_img, yaw_world, 90.0],
                                [(1.0 - params.world_weight) * both_frac, params.world_weight * both_frac,
                                 params.hidden_weight * hidden_frac])
    yaw = calibrated_yaw_deg(yaw_raw, params)

    if not np.isfinite(yaw):
        view, margin = "oblique", float("nan")
    elif yaw < params.front_max_yaw_deg:
        view = "front"
        margin = params.front_max_yaw_deg - yaw
    elif yaw > params.side_min_yaw_deg:
        view = "side"
        margin = yaw - params.side_min_yaw_deg
    else:
        view = "oblique"
        margin = min(yaw - params.front_max_yaw_deg, params.side_min_yaw_deg - yaw)
    view_conf = float(np.clip(0.5 + 0.5 * margin / params.yaw_scale_deg, 0.0, 1.0)) if np.isfinite(yaw) else 0.0

    cues = _facing_cues(xy, torso_px)
    # toward-camera cue: ears farther from the camera than the nose (world z grows away from the camera)
    nose_z = w[:, int(L.NOSE), 2]
    ears_z = _pair_mean(w, L.LEFT_EAR, L.RIGHT_EAR)[:, 2]
    toward = _nanmedian(ears_z - nose_z)
    toward_px = _nanmedian(_pair_mean(seq.z_px[idx][..., None], L.LEFT_EAR, L.RIGHT_EAR)[:, 0]
                           - seq.z_px[idx, int(L.NOSE)]) / torso_px
    votes = [np.tanh(v / params.facing_scale) for v in cues.values() if np.isfinite(v)]
    lr_score = float(np.mean(votes)) if votes else float("nan")
    if view == "front":
        tw = [np.tanh(v / sc) for v, sc in ((toward, params.toward_scale_m), (toward_px, params.toward_scale_torso))
              if np.isfinite(v)]
        cam_score = float(np.mean(tw)) if tw else 1.0
        facing = "camera" if cam_score >= 0 else "away"
        facing_conf = 0.5 + 0.5 * abs(cam_score)
    else:
        facing = "right" if not lr_score < 0 else "left"
        facing_conf = abs(lr_score) if np.isfinite(lr_score) else 0.0
        cam_score = float("nan")
    features = {
        "n_frames": float(idx.size),
        "torso_px": torso_px,
        "shoulder_width_ratio": sh_ratio,
        "hip_width_ratio": hp_ratio,
        "both_sides_frac": both_frac,
        "one_side_hidden_frac": hidden_frac,
        "yaw_image_shoulder_deg": yaw_img_sh,
        "yaw_image_hip_deg": yaw_img_hp,
        "yaw_world_shoulder_deg": yaw_world_sh,
        "yaw_world_hip_deg": yaw_world_hp,
        "yaw_image_deg": yaw_img,
        "yaw_world_deg": yaw_world,
        "yaw_raw_deg": yaw_raw,
        **cues,
        "facing_lr_score": lr_score,
        "toward_camera_world_m": toward,
        "toward_camera_px_torso": toward_px,
        "toward_camera_score": cam_score,
        "view_confidence": view_conf,
        "facing_confidence": facing_conf,
    }
    conf = float(np.clip(min(view_conf, facing_conf), 0.0, 1.0))
    yaw_out = float(np.clip(yaw, 0.0, 90.0)) if np.isfinite(yaw) else float("nan")
    return ViewInfo(view, facing, conf, yaw_out, features)


# ---------------------------------------------------------------------------- lift recognition


@dataclass(frozen=True)
class LiftGuess:
    """Which lift the clip shows.

    Attributes
    ----------
    lift
        ``"squat"`` or ``"deadlift"``.
    confidence
        0..1 (0.5 = undecided; 0 = nothing to go on).
    reason
        One plain-English sentence with the evidence.
    features
        The measured features by name (NaN where unmeasured).
    """

    lift: str
    confidence: float
    reason: str
    features: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.lift not in LIFTS:
            raise ValueError(f"lift: expected one of {LIFTS}, got {self.lift!r}")
        c = float(self.confidence)
        if not 0.0 <= c <= 1.0:
            raise ValueError(f"confidence: expected 0..1, got {self.confidence}")
        object.__setattr__(self, "confidence", c)
        object.__setattr__(self, "features", MappingProxyType({str(k): float(v) for k, v in self.features.items()}))


@dataclass(frozen=True)
class LiftParams(Calibrated):
    """Calibration of :func:`recognize_lift`.

    No defaults here: the values live only in the ``[lift_recognition]`` table
    of ``formcheck/config/calibration.toml`` (:meth:`packaged`).

    Notes
    -----
    bottom_fraction
        Frames whose hip angle is in the most flexed ``bottom_fraction`` of the
        clip's hip-angle range (5th to 95th percentile) count as "the bottom"
        of the movement. A generous fraction pools every rep, so one odd
        moment (kneeling down, the tracker jumping to a bystander) cannot
        decide the lift. The hip angle, unlike the hip height, needs no ankles
        (often hidden by the plates at a deadlift's start).
    arm_drop_mid_leg, arm_drop_scale_leg
        Shoulder height minus wrist height at the bottom, in leg lengths. Hands
        hang from the shoulders in a deadlift (straight arms reaching down and
        forward to the bar: 0.54-0.88 on the real clips) and are held at the
        shoulders or chest in a squat (-0.2-0.16). The midpoint splits the two; the scale is the
        distance giving a full vote.
    knee_mid_deg, knee_scale_deg
        Median knee angle over the bottom frames: deep knee bend (squat) below
        the midpoint, modest bend (deadlift hinge) above it.
    hinge_mid_deg, hinge_scale_deg
        Knee angle minus hip angle at the bottom: a hinge closes the hip far
        more than the knee (deadlift), a squat closes both.
    trunk_mid_deg, trunk_scale_deg
        Median trunk lean over the bottom frames: a squat rarely leans past
        ~50 deg, a deadlift set-up usually does (45-75). Weak on its own.
    min_range_leg
        A hip-height range (5th to 95th percentile) below this, in leg
        lengths, means the lifter hardly moved: confidence is scaled down.
    weights
        Vote weights of (arm drop, knee bend, hinge, trunk lean).
    hands_ahead_max_thigh, hands_ahead_scale_thigh
        The veto (see :func:`recognize_lift`): hands further ahead of the
        shins and feet than this at the bottom (thigh lengths,
        :func:`hands_ahead_thigh`) mean a squat; the scale is the distance past
        it giving full confidence.
    max_rep_score
        :func:`recognize_lift_by_reps`: a cycle's score (-1..1) is clipped to
        this before its evidence is added, so no one cycle decides alone.
    """

    TABLE = "lift_recognition"

    bottom_fraction: float
    arm_drop_mid_leg: float
    arm_drop_scale_leg: float
    knee_mid_deg: float
    knee_scale_deg: float
    hinge_mid_deg: float
    hinge_scale_deg: float
    trunk_mid_deg: float
    trunk_scale_deg: float
    min_range_leg: float
    weights: tuple[float, float, float, float]
    hands_ahead_max_thigh: float
    hands_ahead_scale_thigh: float
    max_rep_score: float

    def __post_init__(self) -> None:
        # a TOML array arrives as a list; the frozen params keep a tuple
        object.__setattr__(self, "weights", tuple(self.weights))
        if not 0.0 < self.bottom_fraction < 1.0:
            raise ValueError(f"bottom_fraction: expected 0..1, got {self.bottom_fraction}")
        for name in ("arm_drop_scale_leg", "knee_scale_deg", "hinge_scale_deg", "trunk_scale_deg", "min_range_leg",
                     "hands_ahead_max_thigh", "hands_ahead_scale_thigh"):
            if not float(getattr(self, name)) > 0:
                raise ValueError(f"{name}: expected > 0, got {getattr(self, name)}")
        if not 0.0 < self.max_rep_score < 1.0:
            raise ValueError(f"max_rep_score: expected 0 < x < 1, got {self.max_rep_score}")
        if len(self.weights) != 4 or any(w < 0 for w in self.weights) or sum(self.weights) <= 0:
            raise ValueError(f"weights: expected 4 non-negative weights, got {self.weights}")


def hands_ahead_thigh(seq: PoseSequence, metrics: "FrameMetrics") -> np.ndarray:
    """Per frame: how far the hands are ahead of the shins and feet, in thigh lengths (side and oblique views).

    The mean of two horizontal offsets of the wrist midpoint, toward the
    facing direction: from the knee midpoint, and from mid-foot
    (``metrics.bar_x_offset_norm``). 0 = the hands hang at the shins over
    mid-foot, where a deadlift's weight rests; + = ahead of them. NaN in
    front views (no facing direction) and where a landmark is lost.
    """
    sign = metrics.view.facing_sign
    thigh = float(metrics.scales.get("thigh_px", float("nan")))
    if sign == 0 or not thigh > 0:
        return np.full(seq.n_frames, np.nan)
    wrists = _pair_mean(seq.xy_px, L.LEFT_WRIST, L.RIGHT_WRIST)
    knees = _pair_mean(seq.xy_px, L.LEFT_KNEE, L.RIGHT_KNEE)
    ahead_of_knees = sign * (wrists[:, 0] - knees[:, 0]) / thigh
    return 0.5 * (ahead_of_knees + metrics.bar_x_offset_norm)


def recognize_lift(seq: PoseSequence, metrics: "FrameMetrics", params: LiftParams | None = None,
                   frames: FrameSelector = None) -> LiftGuess:
    """Squat or deadlift, from where the hands are and how the hips and knees bend at the bottom.

    Notes
    -----
    seq
        The pose sequence the metrics came from (its frame count must match).
    metrics
        :class:`formcheck.metrics.FrameMetrics` of the clip or of one rep.
    params
        Calibration, see :class:`LiftParams`; None = :meth:`LiftParams.packaged`.
    frames
        ``None`` for the whole clip, or a slice / bool mask / index array (e.g. one rep).

    Deadlift evidence: hands hang an arm's length below the shoulders at the
    bottom, the hip closes far more than the knee (hinge), the knee bends
    modestly. Squat evidence: hands at the shoulders/chest, deep knee bend,
    hip and knee close together. One piece of evidence overrules the vote:
    a deadlift's weight rests at the feet, so hands held well ahead of the
    knees and feet at the bottom (:func:`hands_ahead_thigh` above
    ``params.hands_ahead_max_thigh``, side and oblique views) cannot be
    gripping it and the lift is a squat, however much it hinges. Returns
    ``confidence`` 0 and ``"squat"`` when nothing could be measured.
    """
    if params is None:
        params = LiftParams.packaged()
    if metrics.t_ms.shape[0] != seq.n_frames:
        raise ValueError(f"metrics: expected {seq.n_frames} frames like the sequence, got {metrics.t_ms.shape[0]}")
    chosen = np.zeros(seq.n_frames, dtype=bool)
    chosen[select_frames(seq.n_frames, frames)] = True
    hip_h = np.where(chosen, metrics.hip_height_norm, np.nan)
    # most flexed = smallest hip angle; without knees (no hip angle) the most inclined trunk
    flex = metrics.hip_deg if np.isfinite(metrics.hip_deg[chosen]).mean() >= 0.1 else -metrics.trunk_deg
    flex = np.where(chosen, flex, np.nan)
    ok = np.isfinite(flex)
    if ok.sum() < 3:
        return LiftGuess("squat", 0.0, "no usable frames: the hips and trunk were not tracked", {})
    rng = geo.nan_percentile(hip_h, 95.0) - geo.nan_percentile(hip_h, 5.0)
    lo, hi = geo.nan_percentile(flex, 5.0), geo.nan_percentile(flex, 95.0)
    bottom = ok & (flex <= lo + params.bottom_fraction * max(hi - lo, 1e-9))
    arm_drop = _nanmedian((metrics.shoulder_height_norm - metrics.wrist_height_norm)[bottom])
    knee_bottom = _nanmedian(metrics.knee_deg[bottom])
    hinge = _nanmedian((metrics.knee_deg - metrics.hip_deg)[bottom])
    trunk_bottom = _nanmedian(metrics.trunk_deg[bottom])
    ahead = _nanmedian(hands_ahead_thigh(seq, metrics)[bottom])
    votes = [
        (arm_drop - params.arm_drop_mid_leg) / params.arm_drop_scale_leg,
        (knee_bottom - params.knee_mid_deg) / params.knee_scale_deg,
        (hinge - params.hinge_mid_deg) / params.hinge_scale_deg,
        (trunk_bottom - params.trunk_mid_deg) / params.trunk_scale_deg,
    ]
    num = den = 0.0
    for v, wgt in zip(votes, params.weights):
        if np.isfinite(v):
            num += wgt * float(np.tanh(v))
            den += wgt
    feats = {"hip_range_leg": rng, "arm_drop_leg": arm_drop, "knee_bottom_deg": knee_bottom, "hinge_deg": hinge,
             "trunk_bottom_deg": trunk_bottom, "hands_ahead_thigh": ahead}
    if den == 0.0:
        return LiftGuess("squat", 0.0, "no usable frames at the bottom: hands, hips and knees not tracked", feats)
    score = num / den
    motion = float(np.clip(rng / params.min_range_leg, 0.0, 1.0)) if np.isfinite(rng) else 0.5
    parts = []
    if np.isfinite(arm_drop):
        hands = "hang well below" if arm_drop > params.arm_drop_mid_leg else "stay near"
        parts.append(f"the hands {hands} the shoulders ({arm_drop:.2f} leg lengths down)")
    if np.isfinite(knee_bottom):
        parts.append(f"the knees bend to {knee_bottom:.0f} deg")
    if np.isfinite(hinge):
        parts.append(f"the hip closes {hinge:.0f} deg more than the knee")
    if np.isfinite(trunk_bottom):
        parts.append(f"the trunk leans {trunk_bottom:.0f} deg")
    reason = "at the bottom " + ", ".join(parts)
    if np.isfinite(ahead) and ahead > params.hands_ahead_max_thigh:
        # the veto: no weight at the feet can be held this far ahead of them
        margin = float(np.tanh((ahead - params.hands_ahead_max_thigh) / params.hands_ahead_scale_thigh))
        feats["score"] = min(score, -margin)
        conf = float(np.clip((0.5 + 0.5 * margin) * motion, 0.0, 1.0))
        return LiftGuess("squat", conf, f"at the bottom the hands are {ahead:.2f} thigh lengths ahead of the shins "
                         "and feet, too far to hold a weight resting at the feet (" + ", ".join(parts) + ")", feats)
    lift = "deadlift" if score > 0 else "squat"
    conf = float(np.clip((0.5 + 0.5 * abs(score)) * motion, 0.0, 1.0))
    feats["score"] = score
    return LiftGuess(lift, conf, reason, feats)


def recognize_lift_by_reps(seq: PoseSequence, metrics: "FrameMetrics", rep_frames: list[np.ndarray],
                           params: LiftParams | None = None) -> LiftGuess:
    """Squat or deadlift from each movement cycle on its own, the evidence added up over the cycles.

    Notes
    -----
    rep_frames
        One bool mask (or index array) per movement cycle, e.g. the reps found
        on the hip height before the lift is known. Without any, this is
        :func:`recognize_lift` on the whole clip.

    Each cycle's score (-1 squat .. +1 deadlift, :func:`recognize_lift`)
    is read as independent evidence for the same lift and the evidence is
    added as log-odds (``atanh`` of the score, clipped at
    ``params.max_rep_score`` so that no one cycle is certain). A clear cycle
    therefore outweighs several that are a coin toss: a squat with the hands
    hanging to the floor at the bottom reads like a kettlebell deadlift
    (scores near 0) and is told apart by its other reps, while a clip that
    mixes the lift with other motion (a tutorial's talking and demonstrations)
    is judged on its cycles, not on a pool of all its frames.
    """
    if params is None:
        params = LiftParams.packaged()
    clip = recognize_lift(seq, metrics, params)
    guesses = [recognize_lift(seq, metrics, params, frames=f) for f in rep_frames]
    scores = [g.features.get("score", float("nan")) for g in guesses if g.confidence > 0]
    scores = [s for s in scores if np.isfinite(s)]
    if not scores:
        return clip
    cap = params.max_rep_score
    evidence = float(np.mean([np.arctanh(np.clip(s, -cap, cap)) for s in scores]))
    lift = "deadlift" if evidence > 0 else "squat"
    motion = float(np.clip(clip.features.get("hip_range_leg", float("nan")) / params.min_range_leg, 0.0, 1.0))
    if not np.isfinite(motion):
        motion = 0.5
    conf = float(np.clip((0.5 + 0.5 * abs(np.tanh(evidence))) * motion, 0.0, 1.0))
    n_dl = sum(s > 0 for s in scores)
    feats = {**clip.features, "clip_score": clip.features.get("score", float("nan")), "score": float(np.tanh(evidence)),
             "reps_read": float(len(scores)), "reps_deadlift_like": float(n_dl)}
    like = "deadlift" if n_dl * 2 > len(scores) else "squat"
    agree = n_dl if lift == "deadlift" else len(scores) - n_dl
    reason = (f"{agree} of {len(scores)} movement cycles read as a {lift}"
              + (f" (the clearest decide; most look like a {like})" if like != lift else "")
              + f"; over the clip {clip.reason}")
    return LiftGuess(lift, conf, reason, feats)
