"""Clip-structure stress cases for rep counting: synthetic pose sequences with exact rep truth.

Every case is a :class:`StressCase`: a MediaPipe-like :class:`PoseSequence` and the rep count a coach
would give (the conventions of ``../shared/data/lifts/LABELS.md``, "Conventions" and "coach_reps"),
with the spans of the counted and the partial reps. Purely synthetic: joints come from the kinematic
body model (:mod:`tools.synth.kinematics`), nothing is taken from real footage.

How a case is made
------------------
1. A lifter: body proportions (thigh, shank, trunk, arms) scaled by up to +-10 %.
2. A script: a timeline of postures, each a point on one posture curve of that body
   (``squat`` with arms forward or a back bar, ``pull`` for a deadlift from the floor,
   ``rdl`` for a top-start hinge, ``bend`` for bending down without a bar) with eased moves,
   holds, walking (translation with stepping feet and a bobbing trunk), turning (yaw about the
   vertical), gesturing arms and weight shifts. Each completed cycle records its truth.
3. A window of the script is the clip (clips that start mid-descent, end mid-lowering, ...).
   Where the window cuts a cycle, the truth follows the counting conventions; windows are drawn
   clear of the thresholds (a squat opening at 20-45 % of the way down is never drawn, for
   example), so the truth is never a matter of interpretation.
4. A camera: side (0 +- 10 deg), 45 deg or front, facing left or right, 3-7 m away, with optional pan,
   zoom and shake applied in the image (scale and translation drift).
5. Sampling: 20-60 fps, optionally variable frame rate (frame intervals jittered, occasional
   stalls).
6. MediaPipe-like errors: pixel noise (2-6 px on a 330 px figure, scaled to the figure), more noise on
   the far side, left/right label swaps in bursts on 5-25 % of side-view frames (the cleaning
   calibration's "about a fifth"), lost frames (NaN rows) in bursts on 0-4 % of frames (the usable
   real clips lose the hips on 0-6 % of frames, one on 22 %), and every frame where the head, hips or
   feet are out of the picture. The ``*-dropouts-swaps`` families take 1.5x the noise, 1.6x the swaps
   and 3x the lost frames.

Counting conventions applied to the truth
-----------------------------------------
Squat (and top-start RDL): top -> bottom -> top; a clip opening more than about a third of the way
down, or ending before the lifter is back up (held at least ``EDGE_HOLD_S``), is a partial rep.
Deadlift from the floor: one pull from the floor (or the set position) to lockout; the clip may open
with the lifter set at the bar (that pull counts); a pull the clip opens on more than half-way up is
partial, as is one the clip ends before lockout; the final set-down is part of the last rep.

Use :func:`all_cases` for the suite; :data:`FAMILIES` names each family and the function making it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Callable

import numpy as np

from formcheck.landmarks import N_LANDMARKS, Landmark, mirror_index, LEFT_RIGHT_PAIRS
from formcheck.sequence import PoseSequence
from tools.synth.kinematics import (DEADLIFT_START, PLATE_RADIUS_M, Body, Camera, Controls, bar_height_m, ease, pose,
                                   solve_knee_for_bar, solve_trunk_for_bar)

L = Landmark

#: A top at a clip's edge counts as "back up" (or "locked out") only when held at least this long.
EDGE_HOLD_S = 0.35
#: Depth fractions of a squat's range at which a clip opening (or ending) is clearly counted / clearly partial.
SQUAT_OPEN_OK, SQUAT_OPEN_PARTIAL = 0.12, 0.5
#: A deadlift clip opening on a pull: below this share of the way up it counts, above PULL_OPEN_PARTIAL it is partial.
PULL_OPEN_OK, PULL_OPEN_PARTIAL = 0.05, 0.6

_Q = np.linspace(0.0, 1.0, 41)


# --------------------------------------------------------------------------- lifters and posture curves


#: Number of distinct lifters (body proportions) the cases draw from; their posture curves are cached.
N_BODIES = 8


def make_body(rng: np.random.Generator) -> Body:
    """A lifter: one of :data:`N_BODIES` bodies whose thigh, shank, trunk and arms are scaled by up to +-10 %."""
    return _body(int(rng.integers(N_BODIES)))


@lru_cache(maxsize=None)
def _body(k: int) -> Body:
    b = Body()
    r = np.random.default_rng([4242, k])
    f = {name: float(r.uniform(0.9, 1.1)) for name in ("thigh", "shank", "trunk", "arm")}

    def sc(v: tuple[float, float], s: float) -> tuple[float, float]:
        return (v[0] * s, v[1] * s)

    return replace(
        b, thigh_m=b.thigh_m * f["thigh"], shank_m=b.shank_m * f["shank"],
        l5_to_t12_m=sc(b.l5_to_t12_m, f["trunk"]), t12_to_shoulder_m=sc(b.t12_to_shoulder_m, f["trunk"]),
        t12_to_c7_m=sc(b.t12_to_c7_m, f["trunk"]), upper_arm_m=b.upper_arm_m * f["arm"],
        forearm_m=b.forearm_m * f["arm"],
    )


@lru_cache(maxsize=None)
def _curve(body: Body, kind: str, knob: float) -> np.ndarray:
    """(41, 33, 3) joints along one posture curve, q = 0 (standing / lockout) .. 1 (deepest).

    ``squat_fwd`` / ``squat_bar``: bodyweight (arms forward) or back squat down to ``knob`` times the
    full depth (knee bend 128 deg). ``pull``: the deadlift pull of the kinematic model, lockout (q=0)
    to the bar on the floor (q=1). ``rdl``: a hinge with soft knees (32 deg), bar in hand, to a trunk lean of
    ``knob`` deg. ``bend``: a hinge without a bar, arms hanging, trunk to ``knob`` deg.
    """
    if kind == "pull":
        # the kinematic model's good pull (tools.synth.kinematics._deadlift_blocks): the trunk starts to rise
        # at 45 % of the way, the knees are solved so straight arms hold the bar at its eased height
        base = Controls(stance_half_m=0.16, toe_out_deg=8.0, arms="bar_hands", grip_half_m=0.25)
        bottom = solve_trunk_for_bar(replace(base, knee_flex_deg=DEADLIFT_START["knee_flex_deg"],
                                             shank_deg=DEADLIFT_START["shank_deg"]), PLATE_RADIUS_M, body)
        top = base
        h_top = bar_height_m(top, body)
        frames = []
        for q in _Q:
            p = 1.0 - float(q)
            if p >= 1.0:
                c = top
            else:
                et = ease((p - 0.45) / 0.55)
                c = replace(base, trunk_deg=bottom.trunk_deg + (top.trunk_deg - bottom.trunk_deg) * et)
                c = solve_knee_for_bar(c, bottom, top, PLATE_RADIUS_M + (h_top - PLATE_RADIUS_M) * ease(p), body)
            frames.append(pose(c, body).landmarks_m)
        return np.stack(frames)
    frames = []
    for q in _Q:
        if kind in ("squat_fwd", "squat_bar"):
            u = q * knob
            lean = 36.0 if kind == "squat_fwd" else 40.0
            c = Controls(knee_flex_deg=128.0 * u, shank_deg=34.0 * u, trunk_deg=lean * u,
                         stance_half_m=0.24, toe_out_deg=20.0, arms="forward" if kind == "squat_fwd" else "back_bar",
                         grip_half_m=0.42)
        elif kind == "rdl":
            c = Controls(knee_flex_deg=32.0 * q, shank_deg=8.0 * q, trunk_deg=knob * q, stance_half_m=0.16,
                         toe_out_deg=8.0, arms="bar_hands", grip_half_m=0.25)
        elif kind == "bend":
            c = Controls(knee_flex_deg=45.0 * q, shank_deg=15.0 * q, trunk_deg=knob * q, stance_half_m=0.18,
                         toe_out_deg=10.0, arms="hang")
        else:
            raise ValueError(f"kind: unknown posture curve {kind!r}")
        frames.append(pose(c, body).landmarks_m)
    return np.stack(frames)


# --------------------------------------------------------------------------- scripts


@dataclass
class Cycle:
    """One movement cycle of the script, in script seconds.

    ``kind``: ``"squat"`` (top -> bottom -> top; also the top-start RDL) or ``"pull"`` (floor ->
    lockout). For a squat ``t0`` is the descent's start, ``t_bottom0``/``t_bottom1`` the bottom
    reached / left, ``t1`` back at the top; for a pull ``t0`` is the set-up descent's start (or the
    lowering's), ``t_bottom1`` the lift-off, ``t1`` lockout. ``counts``: False for motion that is
    never a rep (a stand-up without the bar, bending to load plates). ``bar``: what the bar did in a
    rise from the floor: ``"carried"`` (a pull), ``"left down"`` (the lifter set it down, let go and
    stood up: the bar was in hand before this rise's lowering) or ``"never held"`` (bending to it and
    back up without taking it, as when loading plates).
    """

    kind: str
    t0: float
    t_bottom0: float
    t_bottom1: float
    t1: float
    counts: bool = True
    bar: str = "carried"


@dataclass
class Script:
    """A timeline of postures of one lifter; every ``add_*`` appends at the end (``t``)."""

    body: Body
    t: float = 0.0
    keys: list[tuple[float, str, float, float, float]] = field(default_factory=list)  # t0, curve, q0, q1, t1
    cycles: list[Cycle] = field(default_factory=list)
    track: list[tuple[float, float, float, float]] = field(default_factory=list)  # t, x (m), z (m), yaw (deg)
    walks: list[tuple[float, float]] = field(default_factory=list)  # t0, t1 of each walk (stepping feet)
    gestures: list[tuple[float, float]] = field(default_factory=list)  # t0, t1 (arms move while talking)
    sway: list[tuple[float, float]] = field(default_factory=list)  # t0, t1 (weight shifts)
    curve: str = "squat_fwd"
    knob: float = 1.0
    q: float = 0.0
    x_m: float = 0.0
    z_m: float = 0.0
    yaw_deg: float = 0.0

    def place(self, x_m: float, z_m: float, yaw_deg: float) -> "Script":
        """Where the lifter stands and faces (yaw 0 = the lift's facing, +90 = toward world -z) from now on."""
        self.x_m, self.z_m, self.yaw_deg = x_m, z_m, yaw_deg
        self.track.append((self.t, x_m, z_m, yaw_deg))
        return self

    def use(self, curve: str, knob: float) -> "Script":
        """Switch posture curve (only while standing, q = 0, where the curves meet)."""
        self.curve, self.knob = curve, knob
        return self

    def move(self, dur: float, q1: float) -> "Script":
        self.keys.append((self.t, f"{self.curve}:{self.knob}", self.q, q1, self.t + dur))
        self.t += dur
        self.q = q1
        return self

    def hold(self, dur: float) -> "Script":
        return self.move(dur, self.q)

    def turn_to(self, dur: float, yaw_deg: float) -> "Script":
        """Turn on the spot to face ``yaw_deg`` (the shorter way round)."""
        d = (yaw_deg - self.yaw_deg + 180.0) % 360.0 - 180.0
        self.track.append((self.t, self.x_m, self.z_m, self.yaw_deg))
        self.hold(dur)
        self.yaw_deg += d
        self.track.append((self.t, self.x_m, self.z_m, self.yaw_deg))
        return self

    def walk_to(self, x_m: float, z_m: float, speed_m_s: float, turn_s: float = 0.5) -> "Script":
        """Turn toward (x, z), walk there at ``speed_m_s`` (stepping), stop."""
        dx, dz = x_m - self.x_m, z_m - self.z_m
        dist = math.hypot(dx, dz)
        if dist < 1e-6:
            return self
        self.turn_to(turn_s, math.degrees(math.atan2(-dz, dx)))
        dur = dist / speed_m_s
        self.track.append((self.t, self.x_m, self.z_m, self.yaw_deg))
        self.walks.append((self.t, self.t + dur))
        self.hold(dur)
        self.x_m, self.z_m = x_m, z_m
        self.track.append((self.t, self.x_m, self.z_m, self.yaw_deg))
        return self

    def talk(self, dur: float) -> "Script":
        self.gestures.append((self.t, self.t + dur))
        self.sway.append((self.t, self.t + dur))
        return self.hold(dur)

    # one cycle each -------------------------------------------------------------------------
    def squat_rep(self, down: float, bottom: float, up: float, depth: float = 1.0, counts: bool = True) -> "Script":
        t0 = self.t
        self.move(down, depth).hold(bottom)
        tb1 = self.t
        self.move(up, 0.0)
        self.cycles.append(Cycle("squat", t0, t0 + down, tb1, self.t, counts))
        return self

    def pull_rep(self, setup: float, floor: float, pull: float, counts: bool = True) -> "Script":
        """From standing / lockout: down to the bar (``setup`` s), ``floor`` s there, the pull to lockout."""
        t0 = self.t
        self.move(setup, 1.0).hold(floor)
        tb1 = self.t
        self.move(pull, 0.0)
        self.cycles.append(Cycle("pull", t0, t0 + setup, tb1, self.t, counts))
        return self


def _ease(s: np.ndarray) -> np.ndarray:
    s = np.clip(s, 0.0, 1.0)
    return 0.5 - 0.5 * np.cos(np.pi * s)


def _render_joints(sc: Script, t: np.ndarray) -> np.ndarray:
    """(N, 33, 3) world joints of the script at script times ``t`` (s)."""
    n = t.size
    out = np.empty((n, N_LANDMARKS, 3))
    k_of = np.clip(np.searchsorted([k[0] for k in sc.keys], t, side="right") - 1, 0, len(sc.keys) - 1)
    for ki in np.unique(k_of):
        t0, name, q0, q1, t1 = sc.keys[ki]
        idx = np.flatnonzero(k_of == ki)
        s = (t[idx] - t0) / max(t1 - t0, 1e-9)
        q = q0 + (q1 - q0) * _ease(s)
        kind, knob = name.split(":")
        cur = _curve(sc.body, kind, float(knob))
        f = np.clip(q, 0.0, 1.0) * (_Q.size - 1)
        j = np.clip(np.floor(f).astype(int), 0, _Q.size - 2)
        w = (f - j)[:, None, None]
        out[idx] = (1 - w) * cur[j] + w * cur[j + 1]
    # gestures: wrists (and hands) swing between the sides and the chest, elbows half as much
    for g0, g1 in sc.gestures:
        m = (t >= g0) & (t <= g1)
        if not m.any():
            continue
        tt = t[m] - g0
        env = np.clip(np.minimum(tt, g1 - t[m]) / 0.4, 0.0, 1.0)
        for side, ph in (("LEFT", 0.0), ("RIGHT", 1.7)):
            a = env * (0.5 + 0.5 * np.sin(2 * np.pi * tt / 1.9 + ph)) * (0.6 + 0.4 * np.sin(2 * np.pi * tt / 4.3 + ph))
            for part, share in (("WRIST", 1.0), ("INDEX", 1.0), ("PINKY", 1.0), ("THUMB", 1.0), ("ELBOW", 0.45)):
                lm = int(L[f"{side}_{part}"])
                out[m, lm, 1] += share * 0.42 * a
                out[m, lm, 0] += share * 0.22 * a
    for s0, s1 in sc.sway:
        m = (t >= s0) & (t <= s1)
        out[m, :, 2] += 0.04 * np.sin(2 * np.pi * (t[m] - s0) / 3.1)[:, None]
        out[m, :23, 1] -= 0.012 * (0.5 + 0.5 * np.sin(2 * np.pi * (t[m] - s0) / 2.3))[:, None]
    # walking: stepping feet and a bobbing body; then the lifter's heading and position
    walking = np.zeros(n, dtype=bool)
    phase = np.zeros(n)
    for w0, w1 in sc.walks:
        m = (t >= w0) & (t <= w1)
        walking |= m
        phase[m] = (t[m] - w0) / 0.55  # one step per 0.55 s
    if walking.any():
        step = np.where(walking, np.abs(np.sin(np.pi * phase)), 0.0)
        left = (np.floor(phase) % 2 == 0) & walking
        for side, on in (("LEFT", left), ("RIGHT", walking & ~left)):
            lift = np.where(on, step, 0.0)
            for part, h in (("ANKLE", 0.10), ("HEEL", 0.10), ("FOOT_INDEX", 0.07), ("KNEE", 0.05)):
                out[:, int(L[f"{side}_{part}"]), 1] += h * lift
        out[:, :25, 1] += np.where(walking, 0.018 * np.abs(np.cos(np.pi * phase)), 0.0)[:, None]
    if sc.track:
        tk = np.array(sorted(sc.track, key=lambda r: r[0]))
        x, z, yaw = (np.interp(t, tk[:, 0], tk[:, k]) for k in (1, 2, 3))
        c, s = np.cos(np.radians(yaw)), np.sin(np.radians(yaw))
        px, pz = out[..., 0].copy(), out[..., 2].copy()
        out[..., 0] = c[:, None] * px + s[:, None] * pz + x[:, None]
        out[..., 2] = -s[:, None] * px + c[:, None] * pz + z[:, None]
    return out


# --------------------------------------------------------------------------- camera, sampling, errors


@dataclass(frozen=True)
class Shot:
    """Camera and sampling of one case (drawn by :func:`draw_shot`)."""

    camera: Camera
    fps: float
    vfr: bool
    zoom: float  # scale at the end of the clip relative to the start (1 = none)
    pan_frac: tuple[float, float]  # image translation over the clip, in frame widths / heights
    shake_frac: float  # shake amplitude, fraction of the figure's height
    noise_px: float  # landmark noise (px) for a 330 px figure
    swap_rate: float  # share of frames with left/right labels swapped (side view)
    drop_rate: float  # share of frames with no lifter


def draw_shot(rng: np.random.Generator, *, moving: bool = False, view: str | None = None, rough: bool = False) -> Shot:
    """A random camera: mostly side views, some 45 deg and front; ``moving`` adds pan, zoom and shake."""
    v = view or str(rng.choice(["side", "side", "side", "oblique", "front"]))
    az = {"side": rng.uniform(-8, 10), "oblique": rng.uniform(35, 55), "front": rng.uniform(75, 90)}[v]
    w, h = [(640, 480), (1280, 720), (720, 1280), (480, 360)][int(rng.integers(4))]
    dist = float(rng.uniform(3.0, 7.0))
    fill = float(rng.uniform(0.45, 0.75))  # the standing lifter's share of the frame height (whole body in view)
    zoom = float(rng.uniform(0.65, min(1.5, 0.88 / fill))) if moving else 1.0
    focal = fill * h * dist / 1.75
    cam = Camera(azimuth_deg=float(az), facing=str(rng.choice(["left", "right"])), distance_m=dist,
                 height_m=float(rng.uniform(0.5, 1.4)), target_m=(0.05, 0.85, 0.0), width_px=w, height_px=h,
                 focal_px=focal)
    fps = float(rng.choice([20.0, 24.0, 25.0, 29.97, 30.0, 50.0, 60.0, rng.uniform(20, 60)]))
    return Shot(
        camera=cam, fps=fps, vfr=bool(rng.random() < 0.25),
        zoom=zoom,
        pan_frac=(float(rng.uniform(-0.15, 0.15)), float(rng.uniform(-0.05, 0.05))) if moving else (0.0, 0.0),
        shake_frac=float(rng.uniform(0.005, 0.02)) if moving else 0.0,
        noise_px=float(rng.uniform(2.0, 6.0)) * (1.5 if rough else 1.0),
        swap_rate=float(rng.uniform(0.05, 0.25)) * (1.6 if rough else 1.0),
        drop_rate=float(rng.uniform(0.0, 0.04)) * (3.0 if rough else 1.0),
    )


def _times(rng: np.random.Generator, dur_s: float, fps: float, vfr: bool) -> np.ndarray:
    """Frame times (s) from 0 over ``dur_s``: constant rate, or jittered intervals with occasional stalls."""
    dt = 1.0 / fps
    if not vfr:
        return np.arange(0.0, dur_s, dt)
    n = int(dur_s / dt * 1.5) + 4
    steps = dt * rng.uniform(0.55, 1.45, size=n)
    stall = rng.random(n) < 0.02
    steps[stall] *= rng.uniform(2.0, 4.0, size=int(stall.sum()))
    t = np.r_[0.0, np.cumsum(steps)]
    return t[t < dur_s]


def _bursts(n: int, rate: float, lo: int, hi: int, rng: np.random.Generator) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    target = int(round(rate * n))
    guard = 0
    while mask.sum() < target and guard < 10 * n:
        guard += 1
        k = int(rng.integers(lo, hi + 1))
        s = int(rng.integers(0, max(1, n - k + 1)))
        mask[s:s + k] = True
    return mask


def film(sc: Script, shot: Shot, t0: float, t1: float, rng: np.random.Generator, *, source: str) -> PoseSequence:
    """The script's window [t0, t1) (script seconds) as a MediaPipe-like pose sequence."""
    ts = _times(rng, t1 - t0, shot.fps, shot.vfr)
    joints = _render_joints(sc, ts + t0)
    cam = shot.camera
    xy = cam.project(joints)
    pc = cam.to_camera(joints) * np.array([1.0, -1.0, -1.0])
    n = ts.size
    u = ts / max(ts[-1], 1e-9)
    # camera motion in the image: zoom about the frame centre, pan, shake
    centre = np.array([cam.width_px / 2.0, cam.height_px / 2.0])
    scale = np.exp(np.log(shot.zoom) * _ease(u * 1.3 - 0.15))
    fig_h = float(np.nanmedian(np.nanmax(xy[..., 1], axis=1) - np.nanmin(xy[..., 1], axis=1)))
    shift = np.outer(_ease(u), np.array(shot.pan_frac) * [cam.width_px, cam.height_px])
    if shot.shake_frac > 0:
        walk = np.cumsum(rng.normal(0.0, 1.0, size=(n, 2)), axis=0)
        walk -= np.linspace(0, 1, n)[:, None] * walk[-1]
        walk /= max(np.abs(walk).max(), 1e-9)
        shift += shot.shake_frac * fig_h * (walk + 0.3 * rng.normal(0.0, 1.0, size=(n, 2)))
    xy = centre + scale[:, None, None] * (xy - centre) + shift[:, None, :]
    # landmark errors
    sideness = math.cos(math.radians(abs(cam.azimuth_deg))) ** 2
    far = np.zeros((n, N_LANDMARKS), dtype=bool)
    left = [int(a) for a, _ in LEFT_RIGHT_PAIRS]
    right = [int(b) for _, b in LEFT_RIGHT_PAIRS]
    far_left = pc[:, left, 2] > pc[:, right, 2]
    far[:, left] = far_left
    far[:, right] = ~far_left
    sigma = shot.noise_px * fig_h * scale / 330.0
    noise = rng.normal(0.0, 1.0, size=xy.shape) * sigma[:, None, None]
    noise *= np.where(far, 1.0 + 0.6 * sideness, 1.0)[..., None]
    xy = xy + noise
    z_px = (pc[..., 2] - pc[:, [23, 24], 2].mean(axis=1, keepdims=True)) * cam.focal_px / pc[:, [23, 24], 2].mean(
        axis=1, keepdims=True)
    world = pc - pc[:, [23, 24]].mean(axis=1, keepdims=True) + rng.normal(0.0, 0.015, size=pc.shape)
    vis = np.clip(np.where(far, 0.97 + (0.45 - 0.97) * sideness, 0.97) + rng.normal(0, 0.02, size=(n, N_LANDMARKS)),
                  0.0, 1.0)
    pres = np.clip(vis + 0.02, 0.0, 1.0)
    if shot.swap_rate > 0 and sideness > 0.2:
        swap = _bursts(n, shot.swap_rate * sideness, 2, 12, rng)
        perm = mirror_index()
        for arr in (xy, z_px, world, vis, pres):
            arr[swap] = arr[swap][:, perm]
    # a lifter whose hips, feet or head leave the picture is not tracked (MediaPipe finds no whole person)
    key = xy[:, [0, 23, 24, 27, 28]]
    gone = np.any((key[..., 0] < 0) | (key[..., 0] > cam.width_px) | (key[..., 1] < 0) | (key[..., 1] > cam.height_px),
                  axis=1)
    drop = gone | (_bursts(n, shot.drop_rate, 1, 6, rng) if shot.drop_rate > 0 else np.zeros(n, dtype=bool))
    xy[drop] = np.nan
    z_px[drop] = np.nan
    world[drop] = np.nan
    vis[drop] = 0.0
    pres[drop] = 0.0
    return PoseSequence(t_ms=ts * 1000.0, xy_px=xy, z_px=z_px, world_m=world, visibility=vis, presence=pres,
                        frame_w=cam.width_px, frame_h=cam.height_px, source=source, model="stress_clips",
                        meta={"synthetic": True})


# --------------------------------------------------------------------------- truth


@dataclass(frozen=True)
class StressCase:
    """One stress case: the sequence, the lift, and the coach's count with the spans behind it (clip ms)."""

    case_id: str
    family: str
    seed: int
    lift: str
    seq: PoseSequence
    reps: int
    rep_spans_ms: tuple[tuple[float, float], ...]
    partial_spans_ms: tuple[tuple[float, float], ...]
    shallow: bool = False
    #: Every rise of the script (its cycles, also those outside the window), in clip ms (negative before the
    #: clip opens): (lift-off, top, ``Cycle.bar``). What the bar did in each is what the clip pipeline's image
    #: bar check looks at (``tests/test_rep_stress.py`` simulates it).
    rises_ms: tuple[tuple[float, float, str], ...] = ()


def _q_at(sc: Script, t: float) -> float:
    for t0, _, q0, q1, t1 in sc.keys:
        if t0 <= t < t1:
            return q0 + (q1 - q0) * float(_ease(np.array((t - t0) / max(t1 - t0, 1e-9))))
    return sc.q


def truth(sc: Script, t0: float, t1: float, lift: str) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """Counted and partial cycles of the window [t0, t1) of ``sc`` (clip ms), by the counting conventions.

    Raises ``ValueError`` when a window edge falls where the conventions leave room for doubt (the
    families then draw another window).
    """
    reps, partial = [], []
    for c in sc.cycles:
        if c.t1 <= t0 or c.t0 >= t1:
            continue  # outside the window (a lockout before it opens: its lowering is no rep)
        if c.kind == "pull" and t1 <= c.t_bottom1:
            continue  # the clip ends before the bar leaves the floor: no pull seen
        span = (max(c.t0, t0) * 1000.0 - t0 * 1000.0, min(c.t1, t1) * 1000.0 - t0 * 1000.0)
        if c.kind == "squat":
            q_b = max(_q_at(sc, c.t_bottom0), 1e-6)
            if t1 <= c.t_bottom0 and _q_at(sc, t1) / q_b < SQUAT_OPEN_PARTIAL:
                continue  # ends early in the descent: a dip, not even a partial rep
            ok_open = c.t0 >= t0 or (t0 < c.t_bottom0 and _q_at(sc, t0) / q_b <= SQUAT_OPEN_OK)
            cut_open = t0 > c.t0 and (t0 >= c.t_bottom0 or _q_at(sc, t0) / q_b >= SQUAT_OPEN_PARTIAL)
            ok_end = t1 >= c.t1 + EDGE_HOLD_S
            cut_end = t1 < c.t1 and (t1 <= c.t_bottom1 or _q_at(sc, t1) / q_b >= SQUAT_OPEN_PARTIAL)
        else:
            ok_open = t0 <= c.t_bottom1 or _q_at(sc, t0) >= 1.0 - PULL_OPEN_OK
            cut_open = t0 > c.t_bottom1 and _q_at(sc, t0) <= 1.0 - PULL_OPEN_PARTIAL
            ok_end = t1 >= c.t1 + EDGE_HOLD_S
            cut_end = t1 < c.t1 and _q_at(sc, t1) >= 0.4
        if not ((ok_open or cut_open) and (ok_end or cut_end)):
            raise ValueError("window edge inside a cycle's doubtful zone")
        if not c.counts:
            continue
        (reps if ok_open and ok_end else partial).append(span)
    return reps, partial


# --------------------------------------------------------------------------- families


def _tempo(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _squat_set(sc: Script, rng: np.random.Generator, n: int, *, depth: tuple[float, float] = (0.85, 1.05),
               down: tuple[float, float] = (0.6, 1.8), bottom: tuple[float, float] = (0.0, 0.4),
               up: tuple[float, float] = (0.5, 1.5), rest: tuple[float, float] = (0.2, 1.5)) -> Script:
    for k in range(n):
        sc.squat_rep(_tempo(rng, *down), _tempo(rng, *bottom), _tempo(rng, *up), min(_tempo(rng, *depth), 1.0))
        if k < n - 1:
            sc.hold(_tempo(rng, *rest))
    return sc


def _squat_script(rng: np.random.Generator) -> Script:
    body = make_body(rng)
    sc = Script(body)
    return sc.use("squat_fwd" if rng.random() < 0.5 else "squat_bar", 1.0)


def _pull_set(sc: Script, rng: np.random.Generator, n: int, *, floor: tuple[float, float] = (0.3, 1.5),
              pull: tuple[float, float] = (0.6, 1.6), hold: tuple[float, float] = (0.2, 1.2),
              lower: tuple[float, float] = (0.6, 1.6), setup: tuple[float, float] = (0.8, 1.8)) -> Script:
    """``n`` pulls from standing: set-up descent, floor, pull, lockout hold, lowering (the last is the set-down)."""
    for k in range(n):
        down = _tempo(rng, *setup) if k == 0 else _tempo(rng, *lower)
        sc.pull_rep(down, _tempo(rng, *floor), _tempo(rng, *pull))
        sc.hold(_tempo(rng, *hold))
    sc.move(_tempo(rng, *lower), 1.0)
    return sc


def _dl_script(rng: np.random.Generator) -> Script:
    body = make_body(rng)
    return Script(body).use("pull", 1.0)


@dataclass(frozen=True)
class Built:
    """What a family function returns: the script, its window, the lift and the shot."""

    script: Script
    t0: float
    t1: float
    lift: str
    shot: Shot
    shallow: bool = False
    hide_from_q: float | None = None  # the lifter is lost whenever deeper than this (something in the foreground)
    second: tuple[float, float, int] | None = None  # a second shot (t0, t1) of the script after a fade of n frames


FamilyFn = Callable[[np.random.Generator], Built]


def fam_squat_clean(rng):
    sc = _squat_script(rng)
    sc.hold(_tempo(rng, 0.6, 2.0))
    _squat_set(sc, rng, int(rng.integers(1, 6)))
    sc.hold(_tempo(rng, 0.6, 2.0))
    return Built(sc, 0.0, sc.t, "squat", draw_shot(rng))


def fam_squat_starts_mid_descent(rng):
    sc = _squat_script(rng)
    sc.hold(0.5)
    _squat_set(sc, rng, int(rng.integers(2, 5)))
    sc.hold(_tempo(rng, 0.6, 1.5))
    c = sc.cycles[0]
    t0 = c.t0 + (c.t_bottom0 - c.t0) * float(rng.uniform(0.55, 0.95))
    return Built(sc, t0, sc.t, "squat", draw_shot(rng))


def fam_squat_starts_on_tail(rng):
    sc = _squat_script(rng)
    sc.hold(0.5)
    _squat_set(sc, rng, int(rng.integers(2, 5)))
    sc.hold(_tempo(rng, 0.6, 1.5))
    c = sc.cycles[0]
    t0 = c.t_bottom1 + (c.t1 - c.t_bottom1) * float(rng.uniform(0.0, 0.6))
    return Built(sc, t0, sc.t, "squat", draw_shot(rng))


def fam_squat_ends_mid_lowering(rng):
    sc = _squat_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    _squat_set(sc, rng, int(rng.integers(2, 5)))
    c = sc.cycles[-1]
    t1 = c.t0 + (c.t_bottom0 - c.t0) * float(rng.uniform(0.6, 1.0)) if rng.random() < 0.5 else \
        c.t_bottom1 + (c.t1 - c.t_bottom1) * float(rng.uniform(0.0, 0.35))
    return Built(sc, 0.0, t1, "squat", draw_shot(rng))


def fam_squat_pause_bottom(rng):
    sc = _squat_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    _squat_set(sc, rng, int(rng.integers(1, 4)), bottom=(1.0, 4.0))
    sc.hold(_tempo(rng, 0.5, 1.5))
    return Built(sc, 0.0, sc.t, "squat", draw_shot(rng))


def fam_squat_slow_eccentric(rng):
    sc = _squat_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    _squat_set(sc, rng, int(rng.integers(1, 4)), down=(3.0, 6.0), up=(0.8, 2.5))
    sc.hold(_tempo(rng, 0.5, 1.5))
    return Built(sc, 0.0, sc.t, "squat", draw_shot(rng))


def fam_squat_fast_bounce(rng):
    sc = _squat_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    _squat_set(sc, rng, int(rng.integers(3, 9)), down=(0.35, 0.6), bottom=(0.0, 0.05), up=(0.3, 0.55),
               rest=(0.05, 0.25))
    sc.hold(_tempo(rng, 0.5, 1.5))
    return Built(sc, 0.0, sc.t, "squat", draw_shot(rng))


def fam_squat_shallow(rng):
    sc = _squat_script(rng)
    half = rng.random() < 0.5
    sc.hold(_tempo(rng, 0.5, 1.5))
    _squat_set(sc, rng, int(rng.integers(1, 5)), depth=(0.68, 0.8) if half else (0.52, 0.58))
    sc.hold(_tempo(rng, 0.5, 1.5))
    return Built(sc, 0.0, sc.t, "squat", draw_shot(rng), shallow=True)


def _start_point(rng: np.random.Generator, shot: Shot) -> tuple[float, float]:
    """Off to one side across the picture, or further from the camera (never closer to it than the spot)."""
    far = float(rng.uniform(1.5, 2.8))
    away = 1.0 if shot.camera.facing == "left" else -1.0  # the camera stands on the lifter's -z side when "left"
    return (far * float(rng.choice([-1.0, 1.0])), 0.0) if rng.random() < 0.6 else (0.0, far * away)


def _walk_in(sc: Script, rng: np.random.Generator, shot: Shot) -> None:
    """Start off to one side (across the picture, or away from the camera) and walk to the spot."""
    x, z = _start_point(rng, shot)
    sc.place(x, z, math.degrees(math.atan2(z, -x)))
    sc.walk_to(0.0, 0.0, float(rng.uniform(0.8, 1.4)), turn_s=0.05)
    sc.turn_to(float(rng.uniform(0.4, 0.9)), 0.0)
    sc.hold(float(rng.uniform(0.3, 1.0)))


def _walk_off(sc: Script, rng: np.random.Generator, shot: Shot) -> None:
    x, z = _start_point(rng, shot)
    sc.walk_to(x, z, float(rng.uniform(0.8, 1.4)), turn_s=float(rng.uniform(0.4, 0.9)))


def fam_squat_walk_in_off(rng):
    sc = _squat_script(rng)
    shot = draw_shot(rng)
    _walk_in(sc, rng, shot)
    _squat_set(sc, rng, int(rng.integers(1, 5)))
    sc.hold(_tempo(rng, 0.3, 1.2))
    _walk_off(sc, rng, shot)
    return Built(sc, 0.0, sc.t, "squat", shot)


def fam_squat_camera_moves(rng):
    sc = _squat_script(rng)
    sc.hold(_tempo(rng, 0.6, 2.0))
    _squat_set(sc, rng, int(rng.integers(1, 6)))
    sc.hold(_tempo(rng, 0.6, 2.0))
    return Built(sc, 0.0, sc.t, "squat", draw_shot(rng, moving=True))


def fam_squat_rough_tracking(rng):
    sc = _squat_script(rng)
    sc.hold(_tempo(rng, 0.6, 2.0))
    _squat_set(sc, rng, int(rng.integers(1, 6)))
    sc.hold(_tempo(rng, 0.6, 2.0))
    return Built(sc, 0.0, sc.t, "squat", draw_shot(rng, rough=True, view="side"))


def fam_dl_touch_and_go(rng):
    sc = _dl_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    n = int(rng.integers(2, 7))
    sc.pull_rep(_tempo(rng, 0.8, 1.6), _tempo(rng, 0.5, 1.5), _tempo(rng, 0.6, 1.3))
    for _ in range(n - 1):
        sc.hold(_tempo(rng, 0.0, 0.25))
        sc.pull_rep(_tempo(rng, 0.5, 1.0), _tempo(rng, 0.0, 0.1), _tempo(rng, 0.5, 1.1))
    sc.hold(_tempo(rng, 0.3, 1.0)).move(_tempo(rng, 0.6, 1.4), 1.0).hold(_tempo(rng, 0.3, 1.0))
    return Built(sc, 0.0, sc.t, "deadlift", draw_shot(rng))


def fam_dl_reset_between(rng):
    """Dead stops: the bar rests on the floor, the lifter shifts (hips up and down, a half stand) and re-sets."""
    sc = _dl_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    n = int(rng.integers(2, 6))
    for k in range(n):
        if k == 0:
            sc.pull_rep(_tempo(rng, 0.8, 1.6), _tempo(rng, 0.5, 1.5), _tempo(rng, 0.7, 1.5))
        else:
            t0 = sc.t
            sc.move(_tempo(rng, 0.6, 1.4), 1.0)
            tb0 = sc.t
            for _ in range(int(rng.integers(1, 3))):  # re-set: rise a little and settle again
                sc.move(_tempo(rng, 0.3, 0.7), float(rng.uniform(0.75, 0.9))).move(_tempo(rng, 0.3, 0.7), 1.0)
            sc.hold(_tempo(rng, 0.3, 1.0))
            tb1 = sc.t
            sc.move(_tempo(rng, 0.7, 1.5), 0.0)
            sc.cycles.append(Cycle("pull", t0, tb0, tb1, sc.t))
        sc.hold(_tempo(rng, 0.3, 1.2))
    sc.move(_tempo(rng, 0.6, 1.4), 1.0).hold(_tempo(rng, 0.5, 1.5))
    return Built(sc, 0.0, sc.t, "deadlift", draw_shot(rng))


def fam_dl_set_at_bar(rng):
    sc = _dl_script(rng)
    sc.move(0.01, 1.0)  # already set at the bar when the clip opens
    sc.q = 1.0
    t_open = sc.t
    sc.hold(_tempo(rng, 0.5, 2.5))
    tb1 = sc.t
    sc.move(_tempo(rng, 0.7, 1.5), 0.0)
    sc.cycles.append(Cycle("pull", t_open, t_open, tb1, sc.t))
    sc.hold(_tempo(rng, 0.3, 1.2))
    n = int(rng.integers(0, 4))
    for _ in range(n):
        sc.pull_rep(_tempo(rng, 0.6, 1.4), _tempo(rng, 0.2, 1.2), _tempo(rng, 0.7, 1.5)).hold(_tempo(rng, 0.3, 1.2))
    sc.move(_tempo(rng, 0.6, 1.4), 1.0).hold(_tempo(rng, 0.3, 1.2))
    return Built(sc, t_open, sc.t, "deadlift", draw_shot(rng))


def fam_dl_starts_mid_pull(rng):
    sc = _dl_script(rng)
    sc.hold(0.3)
    _pull_set(sc, rng, int(rng.integers(2, 5)))
    sc.hold(_tempo(rng, 0.3, 1.0))
    c = sc.cycles[0]
    t0 = c.t_bottom1 + (c.t1 - c.t_bottom1) * float(rng.uniform(0.55, 0.85))
    return Built(sc, t0, sc.t, "deadlift", draw_shot(rng))


def fam_dl_starts_on_tail(rng):
    sc = _dl_script(rng)
    sc.hold(0.3)
    _pull_set(sc, rng, int(rng.integers(2, 5)))
    sc.hold(_tempo(rng, 0.3, 1.0))
    c = sc.cycles[1]
    t0 = c.t0 + (c.t_bottom0 - c.t0) * float(rng.uniform(0.1, 0.7))  # the bar on its way down
    return Built(sc, t0, sc.t, "deadlift", draw_shot(rng))


def fam_dl_ends_mid_lowering(rng):
    sc = _dl_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    _pull_set(sc, rng, int(rng.integers(1, 5)))
    t_low0, _, _, _, t_low1 = sc.keys[-1]
    t1 = t_low0 + (t_low1 - t_low0) * float(rng.uniform(0.2, 0.8))
    return Built(sc, 0.0, t1, "deadlift", draw_shot(rng))


def fam_dl_ends_at_lockout(rng):
    sc = _dl_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    _pull_set(sc, rng, int(rng.integers(1, 5)))
    c = sc.cycles[-1]
    t1 = c.t1 + float(rng.uniform(EDGE_HOLD_S, 0.8))
    return Built(sc, 0.0, t1, "deadlift", draw_shot(rng))


def fam_dl_ends_mid_pull(rng):
    sc = _dl_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    _pull_set(sc, rng, int(rng.integers(2, 5)))
    c = sc.cycles[-1]
    t1 = c.t_bottom1 + (c.t1 - c.t_bottom1) * float(rng.uniform(0.1, 0.45))
    return Built(sc, 0.0, t1, "deadlift", draw_shot(rng))


def fam_dl_lockout_hold(rng):
    """Lockout held 2-10 s, a slow lowering, the lifter then staying down at the bar (shifting a little)."""
    sc = _dl_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    for k in range(int(rng.integers(1, 3))):
        sc.pull_rep(_tempo(rng, 0.8, 1.6) if k == 0 else 0.01, _tempo(rng, 0.5, 1.5), _tempo(rng, 0.8, 1.6))
        sc.hold(_tempo(rng, 2.0, 10.0))
        sc.move(_tempo(rng, 1.5, 4.0), 1.0)
    for _ in range(int(rng.integers(0, 3))):
        sc.move(_tempo(rng, 0.4, 1.0), float(rng.uniform(0.85, 0.95))).move(_tempo(rng, 0.4, 1.0), 1.0)
    sc.hold(_tempo(rng, 1.0, 4.0))
    return Built(sc, 0.0, sc.t, "deadlift", draw_shot(rng))


def fam_dl_slow_eccentric(rng):
    sc = _dl_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    _pull_set(sc, rng, int(rng.integers(1, 4)), lower=(3.0, 6.0))
    sc.hold(_tempo(rng, 0.3, 1.0))
    return Built(sc, 0.0, sc.t, "deadlift", draw_shot(rng))


def fam_dl_romanian(rng):
    """Top-start pulls: standing with the bar, hinge (knees soft) until the bar is below the knees or at mid-shin
    (the hands 0.4-0.55 leg lengths lower), back up, n times (a cycle like a squat's)."""
    body = make_body(rng)
    sc = Script(body).use("rdl", float(rng.choice([85.0, 90.0, 95.0])))
    sc.hold(_tempo(rng, 0.6, 2.0))
    _squat_set(sc, rng, int(rng.integers(1, 7)), down=(0.8, 2.5), bottom=(0.0, 0.4), up=(0.7, 1.6),
               rest=(0.1, 1.0))
    sc.hold(_tempo(rng, 0.6, 2.0))
    return Built(sc, 0.0, sc.t, "deadlift", draw_shot(rng))


def fam_dl_set_down_stand_up(rng):
    """After the last set-down the lifter lets go of the bar and stands up without it (not a rep)."""
    sc = _dl_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    _pull_set(sc, rng, int(rng.integers(1, 4)))
    sc.hold(_tempo(rng, 0.3, 1.2))
    t0 = sc.t
    sc.move(_tempo(rng, 0.7, 1.5), 0.0)
    sc.cycles.append(Cycle("pull", t0, t0, t0, sc.t, counts=False, bar="left down"))
    sc.hold(_tempo(rng, 0.8, 2.5))
    return Built(sc, 0.0, sc.t, "deadlift", draw_shot(rng))


def fam_dl_walk_in_off(rng):
    """Walk to the bar, the set, the set-down, stand up without the bar, walk off."""
    sc = _dl_script(rng)
    shot = draw_shot(rng)
    _walk_in(sc, rng, shot)
    _pull_set(sc, rng, int(rng.integers(1, 4)))
    sc.hold(_tempo(rng, 0.3, 1.0))
    t0 = sc.t
    sc.move(_tempo(rng, 0.7, 1.5), 0.0)  # lets go of the bar and stands up
    sc.cycles.append(Cycle("pull", t0, t0, t0, sc.t, counts=False, bar="left down"))
    sc.hold(_tempo(rng, 0.3, 1.0))
    _walk_off(sc, rng, shot)
    return Built(sc, 0.0, sc.t, "deadlift", shot)


def fam_dl_load_plates(rng):
    """Walk to the bar's end, bend to slide a plate on, back to the middle (both ends or one); then the set."""
    body = make_body(rng)
    sc = Script(body).use("bend", float(rng.choice([60.0, 75.0, 85.0])))
    sc.hold(_tempo(rng, 0.3, 1.0))
    for side in ((1.0, -1.0) if rng.random() < 0.5 else (float(rng.choice([-1.0, 1.0])),)):
        sc.walk_to(0.0, 1.1 * side, float(rng.uniform(0.7, 1.2)))
        sc.turn_to(_tempo(rng, 0.3, 0.7), -90.0 * side if rng.random() < 0.5 else 0.0)
        t0 = sc.t
        sc.move(_tempo(rng, 0.7, 1.3), float(rng.uniform(0.6, 1.0)))
        tb0 = sc.t
        sc.hold(_tempo(rng, 0.5, 2.0))
        tb1 = sc.t
        sc.move(_tempo(rng, 0.6, 1.2), 0.0)
        sc.cycles.append(Cycle("pull", t0, tb0, tb1, sc.t, counts=False, bar="never held"))
    sc.walk_to(0.0, 0.0, float(rng.uniform(0.7, 1.2)))
    sc.turn_to(_tempo(rng, 0.4, 0.8), 0.0)
    sc.hold(_tempo(rng, 0.3, 1.0))
    sc.use("pull", 1.0)
    _pull_set(sc, rng, int(rng.integers(1, 4)))
    sc.hold(_tempo(rng, 0.5, 1.5))
    return Built(sc, 0.0, sc.t, "deadlift", draw_shot(rng, view="side"))


def fam_stand_still(rng):
    sc = _squat_script(rng) if rng.random() < 0.5 else _dl_script(rng)
    sc.hold(_tempo(rng, 3.0, 10.0))
    return Built(sc, 0.0, sc.t, str(rng.choice(["squat", "deadlift"])), draw_shot(rng))


def fam_walking(rng):
    sc = Script(make_body(rng)).use("bend", 60.0)
    far = float(rng.uniform(1.0, 2.2))
    d = float(rng.choice([-1.0, 1.0]))
    shot = draw_shot(rng)
    zmax = max(0.0, min(1.5, shot.camera.distance_m - 2.5))  # stays at least 2.5 m from the camera
    sc.place(-far * d, float(rng.uniform(-zmax, zmax)), 0.0 if d > 0 else 180.0)
    for _ in range(int(rng.integers(1, 4))):
        sc.walk_to(far * d, float(rng.uniform(-zmax, zmax)), float(rng.uniform(0.7, 1.5)))
        sc.hold(_tempo(rng, 0.2, 1.0))
        d = -d
    return Built(sc, 0.0, sc.t, str(rng.choice(["squat", "deadlift"])), shot)


def fam_talking(rng):
    sc = Script(make_body(rng)).use("bend", 60.0)
    if rng.random() < 0.6:
        sc.place(0.0, 0.0, float(rng.choice([-90.0, 90.0])))  # faces the camera of a side-view set-up
    sc.hold(_tempo(rng, 0.3, 1.0)).talk(_tempo(rng, 4.0, 12.0)).hold(_tempo(rng, 0.3, 1.0))
    return Built(sc, 0.0, sc.t, str(rng.choice(["squat", "deadlift"])), draw_shot(rng))


def fam_dl_bent_over_no_pull(rng):
    """The lifter stays bent over the bar the whole clip (re-gripping, shifting the hips) and never pulls."""
    sc = _dl_script(rng)
    sc.move(0.01, float(rng.uniform(0.85, 1.0)))
    for _ in range(int(rng.integers(2, 7))):
        sc.move(_tempo(rng, 0.3, 1.0), float(rng.uniform(0.7, 1.0))).hold(_tempo(rng, 0.2, 1.5))
    return Built(sc, 0.01, sc.t, "deadlift", draw_shot(rng))


def fam_squat_vfr_lowfps(rng):
    sc = _squat_script(rng)
    sc.hold(_tempo(rng, 0.6, 2.0))
    _squat_set(sc, rng, int(rng.integers(1, 6)))
    sc.hold(_tempo(rng, 0.6, 2.0))
    shot = replace(draw_shot(rng), fps=float(rng.uniform(20.0, 26.0)), vfr=True)
    return Built(sc, 0.0, sc.t, "squat", shot)


def fam_dl_camera_moves(rng):
    sc = _dl_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    _pull_set(sc, rng, int(rng.integers(1, 5)))
    sc.hold(_tempo(rng, 0.5, 1.5))
    return Built(sc, 0.0, sc.t, "deadlift", draw_shot(rng, moving=True))


def fam_dl_rough_tracking(rng):
    sc = _dl_script(rng)
    sc.hold(_tempo(rng, 0.5, 1.5))
    _pull_set(sc, rng, int(rng.integers(1, 5)))
    sc.hold(_tempo(rng, 0.5, 1.5))
    return Built(sc, 0.0, sc.t, "deadlift", draw_shot(rng, rough=True, view="side"))


def _hide_deep(seq: PoseSequence, sc: Script, t0: float, q_min: float) -> PoseSequence:
    """``seq`` with no lifter on every frame where the posture is at least ``q_min`` deep: a bed, a bench or a
    rack in the foreground hides the hips near the bottom and the tracker loses the whole person."""
    lost = np.array([_q_at(sc, t0 + ti / 1000.0) >= q_min for ti in seq.t_ms])
    nan3 = np.where(lost[:, None, None], np.nan, 1.0)
    return replace(seq, xy_px=seq.xy_px * nan3, z_px=seq.z_px * nan3[..., 0], world_m=seq.world_m * nan3,
                   visibility=np.where(lost[:, None], 0.0, seq.visibility),
                   presence=np.where(lost[:, None], 0.0, seq.presence))


def fam_squat_bottom_hidden(rng):
    """Something in the foreground hides the lifter at depth: tracking is lost for about 0.35-0.75 s around
    every bottom (from three quarters of the way down), longer than a brief occlusion; the coach sees the
    lifter go down behind it and come back up, and counts every rep."""
    sc = _squat_script(rng)
    sc.hold(_tempo(rng, 0.6, 2.0))
    _squat_set(sc, rng, int(rng.integers(2, 7)), down=(0.6, 1.0), bottom=(0.0, 0.1), up=(0.5, 0.9))
    sc.hold(_tempo(rng, 0.6, 2.0))
    return Built(sc, 0.0, sc.t, "squat", draw_shot(rng), hide_from_q=0.75)


def _after_fade(a: PoseSequence, b: PoseSequence, n_fade: int) -> tuple[PoseSequence, float]:
    """Shot ``a``, ``n_fade`` frames with no lifter (a fade or dissolve), then shot ``b``; and ``b``'s time offset."""
    dt = float(np.median(np.diff(a.t_ms)))
    t_fade = a.t_ms[-1] + dt * np.arange(1, n_fade + 1)
    off = a.t_ms[-1] + dt * (n_fade + 1) - b.t_ms[0]
    n = n_fade

    def cat(x: np.ndarray, y: np.ndarray, fill: float) -> np.ndarray:
        return np.concatenate([x, np.full((n, *x.shape[1:]), fill), y])

    seq = replace(a, t_ms=np.concatenate([a.t_ms, t_fade, b.t_ms + off]), xy_px=cat(a.xy_px, b.xy_px, np.nan),
                  z_px=cat(a.z_px, b.z_px, np.nan), world_m=cat(a.world_m, b.world_m, np.nan),
                  visibility=cat(a.visibility, b.visibility, 0.0), presence=cat(a.presence, b.presence, 0.0))
    return seq, float(off)


def fam_squat_fade_between_shots(rng):
    """A tutorial cut: the first shot ends at the bottom of a rep, a quick fade (up to 0.1 s without the lifter),
    and the second shot opens on the same lifter standing, later in the set. The cut rep is partial."""
    sc = _squat_script(rng)
    sc.hold(_tempo(rng, 0.6, 2.0))
    _squat_set(sc, rng, int(rng.integers(3, 7)), rest=(0.6, 1.5))
    sc.hold(_tempo(rng, 0.6, 1.5))
    k = int(rng.integers(0, len(sc.cycles) - 1))
    c, nxt = sc.cycles[k], sc.cycles[k + 1]
    t1 = float(rng.uniform(c.t_bottom0 - 0.1 * (c.t_bottom0 - c.t0), c.t_bottom1))  # the first shot ends at the bottom
    b0 = c.t1 + (nxt.t0 - c.t1) * float(rng.uniform(0.4, 0.8))  # the second shot opens standing, before rep k+1
    shot = draw_shot(rng)
    n_fade = int(rng.integers(0, max(1, int(0.1 * shot.fps))))  # the lifter unseen for up to 0.1 s
    return Built(sc, 0.0, t1, "squat", shot, second=(b0, sc.t, n_fade))


#: Family id -> (function, seeds). Ids name the test cases: ``<family>-seed<NN>``.
FAMILIES: dict[str, FamilyFn] = {
    "squat-clean-set": fam_squat_clean,
    "squat-starts-mid-descent": fam_squat_starts_mid_descent,
    "squat-starts-on-tail": fam_squat_starts_on_tail,
    "squat-ends-mid-lowering": fam_squat_ends_mid_lowering,
    "squat-pause-bottom": fam_squat_pause_bottom,
    "squat-slow-eccentric": fam_squat_slow_eccentric,
    "squat-fast-bounce": fam_squat_fast_bounce,
    "squat-shallow-half-quarter": fam_squat_shallow,
    "squat-walk-in-walk-off": fam_squat_walk_in_off,
    "squat-camera-pan-zoom-shake": fam_squat_camera_moves,
    "squat-vfr-low-fps": fam_squat_vfr_lowfps,
    "squat-dropouts-swaps": fam_squat_rough_tracking,
    "deadlift-touch-and-go": fam_dl_touch_and_go,
    "deadlift-reset-between-pulls": fam_dl_reset_between,
    "deadlift-opens-set-at-bar": fam_dl_set_at_bar,
    "deadlift-starts-mid-pull": fam_dl_starts_mid_pull,
    "deadlift-starts-on-tail": fam_dl_starts_on_tail,
    "deadlift-ends-mid-lowering": fam_dl_ends_mid_lowering,
    "deadlift-ends-at-lockout": fam_dl_ends_at_lockout,
    "deadlift-ends-mid-pull": fam_dl_ends_mid_pull,
    "deadlift-lockout-hold": fam_dl_lockout_hold,
    "deadlift-slow-eccentric": fam_dl_slow_eccentric,
    "deadlift-romanian-top-start": fam_dl_romanian,
    "deadlift-set-down-stand-up": fam_dl_set_down_stand_up,
    "deadlift-walk-in-walk-off": fam_dl_walk_in_off,
    "deadlift-load-plates-first": fam_dl_load_plates,
    "deadlift-camera-pan-zoom-shake": fam_dl_camera_moves,
    "deadlift-dropouts-swaps": fam_dl_rough_tracking,
    "deadlift-bent-over-no-pull": fam_dl_bent_over_no_pull,
    "squat-bottom-hidden": fam_squat_bottom_hidden,
    "squat-fade-between-shots": fam_squat_fade_between_shots,
    "none-standing-still": fam_stand_still,
    "none-walking": fam_walking,
    "none-talking-to-camera": fam_talking,
}

#: Families where no rep happens at all (the target there is 0 reps on every case).
REP_FREE = frozenset({"none-standing-still", "none-walking", "none-talking-to-camera", "deadlift-bent-over-no-pull"})

SEEDS_PER_FAMILY = 18


def make_case(family: str, seed: int) -> StressCase:
    """Case ``seed`` of ``family`` (deterministic). Windows in a doubtful zone are redrawn."""
    fn = FAMILIES[family]
    digest = sum((i + 1) * ord(ch) for i, ch in enumerate(family))
    for attempt in range(20):
        rng = np.random.default_rng([digest, seed, attempt])
        built = fn(rng)
        try:
            reps, partial = truth(built.script, built.t0, built.t1, built.lift)
            if built.second is not None:
                reps2, partial2 = truth(built.script, built.second[0], built.second[1], built.lift)
        except ValueError:
            continue
        case_id = f"{family}-seed{seed:02d}"
        seq = film(built.script, built.shot, built.t0, built.t1, rng, source=f"stress:{case_id}")
        if built.second is not None:
            b0, b1, n_fade = built.second
            seq2 = film(built.script, built.shot, b0, b1, rng, source=f"stress:{case_id}")
            seq, off_ms = _after_fade(seq, seq2, n_fade)
            reps += [(a + off_ms, b + off_ms) for a, b in reps2]
            partial += [(a + off_ms, b + off_ms) for a, b in partial2]
        if built.hide_from_q is not None:
            seq = _hide_deep(seq, built.script, built.t0, built.hide_from_q)
        rises = tuple((round(1000.0 * (c.t_bottom1 - built.t0), 1), round(1000.0 * (c.t1 - built.t0), 1), c.bar)
                      for c in built.script.cycles)
        return StressCase(case_id, family, seed, built.lift, seq, len(reps), tuple(reps), tuple(partial),
                          built.shallow, rises)
    raise RuntimeError(f"{family} seed {seed}: no window clear of the counting thresholds in 20 draws")


def all_cases(seeds: int = SEEDS_PER_FAMILY) -> list[tuple[str, int]]:
    """Every (family, seed) of the suite."""
    return [(f, s) for f in FAMILIES for s in range(seeds)]
