"""Simulated :class:`PoseSequence` objects with MediaPipe-like errors, for tests.

The kinematic model (:mod:`tools.synth.kinematics`) gives exact 3-D joints and
their projections; :func:`to_pose_sequence` turns one simulated clip into what
MediaPipe would plausibly return, and :func:`simulate_sequence` does both.

Typical use::

    sim = simulate_sequence("squat", view_deg=0, reps=2, corruption=MEDIAPIPE_LIKE)
    m = compute_frame_metrics(sim.seq, classify_view(sim.seq))
    # compare m.trunk_deg with sim.truth.trunk3d_deg

Corruptions (all seeded, see :class:`Corruption`): Gaussian pixel noise, the
hip landmark displaced up and forward of the joint centre, left/right label
swaps in bursts (side views), lower visibility and more noise on the far side,
whole-frame dropouts (NaN rows), noisy world landmarks and depth.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Mapping

import numpy as np

from formcheck.landmarks import LEFT_RIGHT_PAIRS, N_LANDMARKS, Landmark, mirror_index
from formcheck.sequence import PoseSequence
from tools.synth.kinematics import SimResult, simulate

L = Landmark
_LEFT = [int(a) for a, _ in LEFT_RIGHT_PAIRS]
_RIGHT = [int(b) for _, b in LEFT_RIGHT_PAIRS]


@dataclass(frozen=True)
class Corruption:
    """MediaPipe-like errors added to a simulated clip.

    Notes
    -----
    noise_px
        Gaussian sigma (px) of landmark noise for a figure ``ref_height_px``
        tall; scaled with the figure's actual height.
    far_noise_factor
        Noise multiplier for the far side's landmarks in a side view (MediaPipe
        guesses occluded points); blends to 1 in a front view.
    hip_up_m, hip_fwd_m
        The hip landmarks sit this far above (world vertical) and in front
        (lifter's facing direction) of the true joint centres, in metres.
    swap_fraction
        Fraction of frames whose left/right labels are swapped, in bursts, in a
        pure side view; scaled by cos^2 of the camera azimuth (none in front).
    swap_burst_frames
        (min, max) length of one swap burst, in frames.
    far_visibility
        Visibility of the far side's landmarks in a pure side view (near side
        ~0.97); blends to the near value in a front view.
    dropout_fraction
        Fraction of frames with no lifter (NaN rows, scores 0), in bursts of
        ``dropout_burst_frames`` (min, max).
    world_noise_m
        Gaussian sigma (m) added to the world landmarks; depth (z) gets
        ``depth_noise_factor`` times as much, in world and in ``z_px``.
    seed
        Seed of all random draws.
    """

    noise_px: float = 0.0
    ref_height_px: float = 330.0
    far_noise_factor: float = 1.0
    hip_up_m: float = 0.0
    hip_fwd_m: float = 0.0
    swap_fraction: float = 0.0
    swap_burst_frames: tuple[int, int] = (3, 12)
    far_visibility: float = 0.97
    dropout_fraction: float = 0.0
    dropout_burst_frames: tuple[int, int] = (1, 4)
    world_noise_m: float = 0.0
    depth_noise_factor: float = 3.0
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("noise_px", "ref_height_px", "world_noise_m", "depth_noise_factor"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"Corruption.{name}: expected >= 0, got {getattr(self, name)}")
        if not self.far_noise_factor >= 1.0:
            raise ValueError(f"Corruption.far_noise_factor: expected >= 1, got {self.far_noise_factor}")
        for name in ("swap_fraction", "far_visibility", "dropout_fraction"):
            if not 0.0 <= float(getattr(self, name)) <= 1.0:
                raise ValueError(f"Corruption.{name}: expected 0..1, got {getattr(self, name)}")
        for name in ("swap_burst_frames", "dropout_burst_frames"):
            lo, hi = getattr(self, name)
            if not 1 <= lo <= hi:
                raise ValueError(f"Corruption.{name}: expected 1 <= min <= max frames, got {(lo, hi)}")

    def with_seed(self, seed: int) -> "Corruption":
        return Corruption(**{**self.__dict__, "seed": int(seed)})


#: Exact landmarks: hip landmarks at the joint centres, no noise, full visibility.
CLEAN = Corruption()

#: What MediaPipe Pose typically does to a ~330 px tall lifter.
MEDIAPIPE_LIKE = Corruption(
    noise_px=5.0, far_noise_factor=1.6, hip_up_m=0.055, hip_fwd_m=0.02, swap_fraction=0.2,
    far_visibility=0.45, dropout_fraction=0.03, world_noise_m=0.015, seed=7,
)

#: Only the systematic hip-landmark offset (no noise): isolates the depth/trunk correction.
HIP_OFFSET_ONLY = Corruption(hip_up_m=0.055, hip_fwd_m=0.02)


@dataclass(frozen=True)
class SimSequence:
    """A simulated clip: the corrupted :class:`PoseSequence` and the exact ground truth."""

    seq: PoseSequence
    truth: SimResult
    corruption: Corruption

    @property
    def view(self) -> str:
        """``side``, ``front`` or ``oblique`` (the camera's azimuth, as the kinematic model names it)."""
        return self.truth.camera.view

    @property
    def facing(self) -> str:
        """Expected :class:`formcheck.views.ViewInfo` facing: ``camera`` in front views, else the image side."""
        return "camera" if self.view == "front" else self.truth.camera.facing

    @property
    def facing_sign(self) -> int:
        return 0 if self.view == "front" else int(self.truth.camera.facing_sign)

    def depth_thigh(self) -> np.ndarray:
        """Exact hip-joint height over the knee in thigh lengths, mean of both legs (+ = hip above)."""
        return truth_depth_thigh(self.truth)


def truth_depth_thigh(sim: SimResult) -> np.ndarray:
    """Exact depth (hip joint over knee, thigh lengths, mean of both legs) of a simulated clip."""
    j = sim.joints_3d
    d = [(j[:, int(h), 1] - j[:, int(k), 1]) / sim.body.thigh_m
         for h, k in ((L.LEFT_HIP, L.LEFT_KNEE), (L.RIGHT_HIP, L.RIGHT_KNEE))]
    return 0.5 * (d[0] + d[1])


def truth_height_norm(sim: SimResult, lm_left: Landmark, lm_right: Landmark) -> np.ndarray:
    """Exact height of a landmark pair's midpoint above the ankle midpoint, in leg lengths."""
    j = sim.joints_3d
    y = 0.5 * (j[:, int(lm_left), 1] + j[:, int(lm_right), 1])
    ank = 0.5 * (j[:, int(L.LEFT_ANKLE), 1] + j[:, int(L.RIGHT_ANKLE), 1])
    return (y - ank) / sim.body.leg_m


def _bursts(n: int, fraction: float, lengths: tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    """Bool mask with about ``fraction`` of ``n`` frames set, in bursts."""
    mask = np.zeros(n, dtype=bool)
    target = int(round(fraction * n))
    guard = 0
    while mask.sum() < target and guard < 10 * n:
        guard += 1
        k = int(rng.integers(lengths[0], lengths[1] + 1))
        s = int(rng.integers(0, max(1, n - k + 1)))
        mask[s:s + k] = True
    return mask


def _camera_frame(sim: SimResult, pts_m: np.ndarray) -> np.ndarray:
    """World points -> camera frame with MediaPipe's axes (x right, y down, z away from the camera)."""
    pc = sim.camera.to_camera(pts_m)
    return pc * np.array([1.0, -1.0, -1.0])


def to_pose_sequence(sim: SimResult, corruption: Corruption = CLEAN, *, source: str = "") -> PoseSequence:
    """Turn a simulated clip into a MediaPipe-like :class:`PoseSequence` (see :class:`Corruption`).

    ``world_m`` is the (corrupted) joints in camera-aligned axes, centred on
    the hip-landmark midpoint; ``z_px`` is depth relative to that midpoint in
    pixel scale (focal length / distance).
    """
    c = corruption
    rng = np.random.default_rng(c.seed)
    n = sim.n_frames
    cam = sim.camera
    joints = np.array(sim.joints_3d, dtype=float)

    fwd = np.array([1.0, 0.0, 0.0])
    up = np.array([0.0, 1.0, 0.0])
    for hip in (L.LEFT_HIP, L.RIGHT_HIP):
        joints[:, int(hip)] += c.hip_up_m * up + c.hip_fwd_m * fwd

    xy = cam.project(joints)
    pc = _camera_frame(sim, joints)
    hip_mid_c = 0.5 * (pc[:, int(L.LEFT_HIP)] + pc[:, int(L.RIGHT_HIP)])
    depth_mid = hip_mid_c[:, 2:3]
    z_px = (pc[:, :, 2] - depth_mid) * cam.focal_px / depth_mid
    world = pc - hip_mid_c[:, None, :]

    # side-ness: 1 in a pure side view, 0 in a front view
    a = math.radians(abs(cam.azimuth_deg))
    sideness = math.cos(a) ** 2
    fig_h = float(np.nanmedian(np.nanmax(xy[:, :, 1], axis=1) - np.nanmin(xy[:, :, 1], axis=1)))
    sigma = c.noise_px * fig_h / c.ref_height_px

    # the far member of every left/right pair (larger camera depth)
    far_left = pc[:, _LEFT, 2] > pc[:, _RIGHT, 2]
    far = np.zeros((n, N_LANDMARKS), dtype=bool)
    far[:, _LEFT] = far_left
    far[:, _RIGHT] = ~far_left
    noise_scale = np.where(far, 1.0 + (c.far_noise_factor - 1.0) * sideness, 1.0)
    if sigma > 0:
        xy = xy + rng.normal(0.0, sigma, size=xy.shape) * noise_scale[..., None]
        z_px = z_px + rng.normal(0.0, c.depth_noise_factor * sigma, size=z_px.shape) * noise_scale
    if c.world_noise_m > 0:
        wn = rng.normal(0.0, c.world_noise_m, size=world.shape)
        wn[..., 2] *= c.depth_noise_factor
        world = world + wn * noise_scale[..., None]

    near_vis = 0.97
    far_vis = near_vis + (c.far_visibility - near_vis) * sideness
    vis = np.where(far, far_vis, near_vis)
    if sigma > 0 or c.far_visibility < near_vis:
        vis = vis + rng.normal(0.0, 0.02, size=vis.shape)
    vis = np.clip(vis, 0.0, 1.0)
    presence = np.clip(vis + 0.02, 0.0, 1.0)

    if c.swap_fraction > 0 and sideness > 0:
        swap = _bursts(n, c.swap_fraction * sideness, c.swap_burst_frames, rng)
        perm = mirror_index()
        for arr in (xy, z_px, world, vis, presence):
            arr[swap] = arr[swap][:, perm]
    if c.dropout_fraction > 0:
        drop = _bursts(n, c.dropout_fraction, c.dropout_burst_frames, rng)
        xy[drop] = np.nan
        z_px[drop] = np.nan
        world[drop] = np.nan
        vis[drop] = 0.0
        presence[drop] = 0.0

    meta: Mapping[str, Any] = {"synthetic": True, "lift": sim.lift, "view": cam.view, "facing": cam.facing,
                               "azimuth_deg": cam.azimuth_deg, "corruption_seed": c.seed}
    return PoseSequence(
        t_ms=sim.t_ms, xy_px=xy, z_px=z_px, world_m=world, visibility=vis, presence=presence,
        frame_w=cam.width_px, frame_h=cam.height_px, source=source or f"sim:{sim.lift}:{cam.view}",
        model="landmark_sim", meta=meta,
    )


def _freeze(value: Any) -> Any:
    """A hashable stand-in for a ``simulate`` argument (dicts and lists become sorted tuples)."""
    if isinstance(value, Mapping):
        return tuple(sorted((k, _freeze(v)) for k, v in value.items()))
    if isinstance(value, (list, tuple, set, frozenset)):
        return tuple(_freeze(v) for v in value)
    return value


@lru_cache(maxsize=64)
def _simulate_cached(lift: str, view_deg: float, reps: int, frozen: tuple) -> SimResult:
    kwargs = {k: (dict(v) if k == "faults" and v is not None else v) for k, v in frozen}
    return simulate(lift, view_deg=view_deg, reps=reps, **kwargs)


def simulate_sequence(lift: str = "squat", view_deg: float = 0.0, reps: int = 2,
                      corruption: Corruption = CLEAN, **sim_kwargs: Any) -> SimSequence:
    """Simulate a clip with :func:`tools.synth.kinematics.simulate` and corrupt it.

    ``sim_kwargs`` go to ``simulate`` (``faults``, ``fps``, ``facing``,
    ``equipment``, ``seed``, ``camera``, ...). Simulations are cached (the model
    is deterministic), so tests that corrupt one clip several ways pay once.
    """
    frozen = tuple(sorted((k, _freeze(v)) for k, v in sim_kwargs.items()))
    truth = _simulate_cached(lift, float(view_deg), reps, frozen)
    return SimSequence(to_pose_sequence(truth, corruption), truth, corruption)
