"""Build small, exactly known :class:`PoseSequence` objects for tests.

Typical use::

    t = uniform_t_ms(90, fps=30.0)
    knee = np.column_stack([np.full(90, 600.0), np.linspace(500, 560, 90)])
    seq = make_seq(t, {Landmark.LEFT_KNEE: knee})

Landmarks without a track come from a plausible standing skeleton
(:func:`standing_skeleton`) or are NaN (``fill="nan"``).
"""

from __future__ import annotations

from typing import Iterable, Literal, Mapping

import numpy as np
from numpy.typing import ArrayLike

from formcheck.landmarks import LEFT_RIGHT_PAIRS, N_LANDMARKS, Landmark
from formcheck.sequence import PoseSequence

L = Landmark

View = Literal["side", "front"]

#: Standing pose as (height above the floor, forward offset) in fractions of body height.
#: Forward is the direction the lifter faces.
_STANDING_UP_FWD: dict[str, tuple[float, float]] = {
    "nose": (0.930, 0.060),
    "eye_inner": (0.945, 0.045),
    "eye": (0.947, 0.040),
    "eye_outer": (0.946, 0.030),
    "ear": (0.935, -0.010),
    "mouth": (0.905, 0.045),
    "shoulder": (0.820, 0.000),
    "elbow": (0.630, -0.010),
    "wrist": (0.485, 0.000),
    "pinky": (0.440, -0.005),
    "index": (0.430, 0.005),
    "thumb": (0.450, 0.010),
    "hip": (0.530, 0.000),
    "knee": (0.285, 0.010),
    "ankle": (0.040, 0.000),
    "heel": (0.015, -0.030),
    "foot_index": (0.005, 0.110),
}

#: Half the left-right separation of each part, fraction of body height (front view width).
_HALF_WIDTH: dict[str, float] = {
    "nose": 0.0, "eye_inner": 0.012, "eye": 0.020, "eye_outer": 0.028, "ear": 0.042,
    "mouth": 0.018, "shoulder": 0.120, "elbow": 0.140, "wrist": 0.150, "pinky": 0.155,
    "index": 0.150, "thumb": 0.140, "hip": 0.090, "knee": 0.090, "ankle": 0.090,
    "heel": 0.090, "foot_index": 0.110,
}


def _part_and_side(lm: Landmark) -> tuple[str, int]:
    name = lm.name.lower()
    for prefix, sign in (("left_", 1), ("right_", -1)):
        if name.startswith(prefix):
            return name[len(prefix):], sign
    if name.startswith("mouth_"):
        return "mouth", 1 if name.endswith("left") else -1
    return name, 0


def uniform_t_ms(n_frames: int, fps: float = 30.0) -> np.ndarray:
    """Timestamps of ``n_frames`` frames at a constant ``fps``, starting at 0 ms."""
    if n_frames < 0:
        raise ValueError(f"n_frames: expected >= 0, got {n_frames}")
    if not fps > 0:
        raise ValueError(f"fps: expected > 0, got {fps}")
    return np.arange(n_frames) * (1000.0 / fps)


def standing_skeleton(
    view: View = "side",
    *,
    height_px: float = 480.0,
    center_x_px: float = 640.0,
    floor_y_px: float = 660.0,
    px_per_m: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """A plausible standing lifter: ``(xy_px (33, 2), depth_m (33,))``.

    Notes
    -----
    view
        ``"side"``: the lifter faces image-left, so their left side is the one
        nearer the camera (negative depth); the far side is drawn
        ``0.015 * height_px`` to the right so that left and right never
        coincide exactly. ``"front"``: the lifter faces the camera, their left
        side on the image right; depth 0.
    height_px
        Standing height in pixels (default 480: a lifter filling two thirds of a 720p frame).
    center_x_px, floor_y_px
        Image x of the ankles' midpoint and image y of the floor, in pixels.
    px_per_m
        Image scale used for ``depth_m``; default ``height_px / 1.75`` (a 1.75 m lifter).
    """
    if not height_px > 0:
        raise ValueError(f"height_px: expected > 0, got {height_px}")
    if view not in ("side", "front"):
        raise ValueError(f"view: expected 'side' or 'front', got {view!r}")
    scale_m = (px_per_m or height_px / 1.75)
    xy = np.empty((N_LANDMARKS, 2))
    depth_m = np.zeros(N_LANDMARKS)
    for lm in Landmark:
        part, side = _part_and_side(lm)
        up, fwd = _STANDING_UP_FWD[part]
        half = _HALF_WIDTH[part]
        y = floor_y_px - up * height_px
        if view == "side":
            x = center_x_px - fwd * height_px
            if side == -1:
                x += 0.015 * height_px
            depth_m[lm] = -side * half * height_px / scale_m
        else:
            x = center_x_px + side * half * height_px
        xy[lm] = (x, y)
    return xy, depth_m


def make_seq(
    t_ms: ArrayLike,
    tracks: Mapping[Landmark, ArrayLike] | None = None,
    *,
    fill: Literal["standing", "nan"] = "standing",
    view: View = "side",
    visibility: float | ArrayLike = 1.0,
    presence: float | ArrayLike | None = None,
    z_px: ArrayLike | None = None,
    world_m: ArrayLike | None = None,
    height_px: float = 480.0,
    px_per_m: float | None = None,
    frame_w: int = 1280,
    frame_h: int = 720,
    source: str = "synthetic",
    meta: Mapping[str, object] | None = None,
) -> PoseSequence:
    """A :class:`PoseSequence` from timestamps and per-landmark pixel tracks.

    Notes
    -----
    t_ms
        (N,) strictly increasing timestamps in ms (use :func:`uniform_t_ms` for CFR).
    tracks
        ``{Landmark: (N, 2) xy_px}``; NaN rows mark frames where that landmark is lost.
        A ``(2,)`` value is held constant over all frames.
    fill
        Landmarks without a track: ``"standing"`` takes them from
        :func:`standing_skeleton` (constant over time), ``"nan"`` leaves them lost.
    view
        Skeleton used by ``fill="standing"`` and for the derived depth.
    visibility, presence
        A scalar (used wherever ``xy_px`` is finite; 0 where it is NaN) or an
        (N, 33) array used as given. ``presence`` defaults to the visibility array.
    z_px, world_m
        (N, 33) and (N, 33, 3) arrays used as given. When omitted they are
        derived roughly: ``world_m`` x/y is ``(xy_px - hip midpoint) / px_per_m``
        (the frame centre stands in when the hips are lost) and z is the
        skeleton's depth; ``z_px`` is that depth times ``px_per_m``. Both are NaN
        where ``xy_px`` is NaN.
    height_px, px_per_m
        Skeleton height in pixels and image scale (default ``height_px / 1.75``).
    """
    t = np.asarray(t_ms, dtype=np.float64)
    if t.ndim != 1:
        raise ValueError(f"t_ms: expected shape N, got {'x'.join(map(str, t.shape))}")
    n = t.shape[0]
    if fill not in ("standing", "nan"):
        raise ValueError(f"fill: expected 'standing' or 'nan', got {fill!r}")
    scale = float(px_per_m or height_px / 1.75)
    base_xy, depth_m = standing_skeleton(view, height_px=height_px, px_per_m=scale,
                                         center_x_px=frame_w / 2, floor_y_px=frame_h * 0.92)
    xy = np.broadcast_to(base_xy, (n, N_LANDMARKS, 2)).copy()
    if fill == "nan":
        xy[:] = np.nan
    for lm, track in (tracks or {}).items():
        if not isinstance(lm, Landmark):
            raise TypeError(f"tracks: expected Landmark keys, got {type(lm).__name__}")
        arr = np.asarray(track, dtype=np.float64)
        if arr.shape == (2,):
            arr = np.broadcast_to(arr, (n, 2))
        if arr.shape != (n, 2):
            raise ValueError(f"tracks[{lm.name}]: expected shape {n}x2, got {'x'.join(map(str, arr.shape))}")
        xy[:, lm] = arr
    lost = np.isnan(xy).any(axis=2)

    def scores(value: float | ArrayLike, name: str) -> np.ndarray:
        arr = np.asarray(value, dtype=np.float64)
        if arr.ndim == 0:
            return np.where(lost, 0.0, float(arr))
        if arr.shape != (n, N_LANDMARKS):
            raise ValueError(f"{name}: expected shape {n}x{N_LANDMARKS}, got {'x'.join(map(str, arr.shape))}")
        return arr.copy()

    vis = scores(visibility, "visibility")
    pres = vis.copy() if presence is None else scores(presence, "presence")

    if world_m is None:
        hip_mid = xy[:, [L.LEFT_HIP, L.RIGHT_HIP]].mean(axis=1)
        centre = np.array([frame_w / 2, frame_h / 2], dtype=np.float64)
        hip_mid = np.where(np.isnan(hip_mid), centre, hip_mid)
        world = np.empty((n, N_LANDMARKS, 3))
        world[..., :2] = (xy - hip_mid[:, None, :]) / scale
        world[..., 2] = depth_m
        world[lost] = np.nan
    else:
        world = np.asarray(world_m, dtype=np.float64)
    if z_px is None:
        z = np.broadcast_to(depth_m * scale, (n, N_LANDMARKS)).copy()
        z[lost] = np.nan
    else:
        z = np.asarray(z_px, dtype=np.float64)
    return PoseSequence(
        t_ms=t, xy_px=xy, z_px=z, world_m=world, visibility=vis, presence=pres,
        frame_w=frame_w, frame_h=frame_h, source=source, model="synthetic", meta=dict(meta or {}),
    )


def swap_labels(
    seq: PoseSequence,
    frames: Iterable[int] | np.ndarray,
    pairs: Iterable[tuple[Landmark, Landmark]] = LEFT_RIGHT_PAIRS,
) -> PoseSequence:
    """``seq`` with each (left, right) pair in ``pairs`` exchanged on ``frames``.

    Notes
    -----
    Mimics a MediaPipe label swap: coordinates, depth, world position and both
    scores move together. ``frames`` are frame indices (or a boolean mask);
    ``pairs`` defaults to every pair (a full-body swap).
    """
    idx = np.asarray(list(frames) if not isinstance(frames, np.ndarray) else frames)
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    idx = idx.astype(np.intp)
    out = {}
    for name in ("xy_px", "z_px", "world_m", "visibility", "presence"):
        arr = np.array(getattr(seq, name))
        for a, b in pairs:
            left = arr[idx, int(a)].copy()
            arr[idx, int(a)] = arr[idx, int(b)]
            arr[idx, int(b)] = left
        out[name] = arr
    return seq.with_(**out)
