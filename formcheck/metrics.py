"""Per-frame metric series of one clip: :class:`FrameMetrics`.

Sources
-------
- Side views: image landmarks (pixels). The lifter moves in the image plane,
  so 2-D angles are the true sagittal angles. Joint angles use the chain
  nearer the camera (visibility and MediaPipe depth decide, per frame, with
  a soft weight); midpoints weight each side by its visibility, so they do
  not change when MediaPipe swaps the left/right labels.
- Front and oblique views: sagittal angles (trunk, hip, shin, bar offset,
  depth) come from the world landmarks projected onto the lifter's sagittal
  plane, levelled so the straight legs of the standing frames are vertical;
  the knee angle is the 3-D world angle; both sides are averaged.
- Heights (hip, shoulder, wrist above the ankles) always come from image y.

MediaPipe's hip landmark sits above and in front of the hip joint centre.
Every metric uses a corrected hip: the landmark moved down by
:attr:`MetricParams.hip_offset_up_thigh` and back (against the facing
direction) by :attr:`MetricParams.hip_offset_fwd_thigh`, both in thigh lengths.

Scales (thigh, shin, foot length in pixels) are per clip: a high percentile
of the per-frame 2-D lengths, which is the true length whenever the segment
lies in the image plane. A camera that zooms or a lifter walking toward it
breaks this assumption.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping

import numpy as np

from formcheck import geometry as geo
from formcheck.landmarks import LEFT_RIGHT_PAIRS, Landmark as L
from formcheck.sequence import PoseSequence
from formcheck.settings import Calibrated
from formcheck.views import ViewInfo

_SIDES = ((L.LEFT_SHOULDER, L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE, L.LEFT_HEEL, L.LEFT_FOOT_INDEX, L.LEFT_WRIST),
          (L.RIGHT_SHOULDER, L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX, L.RIGHT_WRIST))
_CHAIN = slice(0, 4)
#: The hip correction scales with the thigh length, which is measured from the corrected hip: a fixed
#: point that gains about one digit per pass (the offset is ~0.1 thigh lengths).
_OFFSET_ITERATIONS = 12


@dataclass(frozen=True)
class MetricParams(Calibrated):
    """Calibration of :func:`compute_frame_metrics`.

    No defaults here: the values live only in the ``[metrics]`` table of
    ``formcheck/config/calibration.toml`` (:meth:`packaged`); ``"hybrid"``
    below is the value there.

    Notes
    -----
    hip_offset_up_thigh, hip_offset_fwd_thigh
        How far MediaPipe's hip landmark sits above (vertical) and in front
        (horizontal, toward the facing direction) of the hip joint centre, in
        thigh lengths; subtracted from the landmark before any metric. About
        5 cm up and 2 cm forward on an adult (thigh ~0.42 m): uncorrected, a side
        view reads squat depth ~0.13 thigh lengths too shallow and a leaning
        trunk a few degrees too far forward (measured on synthetic renders).
        Real footage neither confirms nor refutes it: uncorrected hip-knee over
        knee-ankle lengths read 0.80-1.22 (median 0.98) on 26 real side clips,
        while the true thigh/shin ratio of adults is ~0.85-1.0.
    length_percentile
        Percentile of the per-frame 2-D segment lengths taken as the clip's
        true length in pixels (a segment is never longer than when it lies in
        the image plane; the top few percent are noise).
    shin_per_thigh
        Shin length over thigh length assumed when the ankles are never seen
        (feet out of frame), so heights in leg lengths still exist. MediaPipe's
        knee-ankle and corrected hip-knee distances are about equal.
    near_vis_gain, near_depth_gain
        Side-view near-chain weight = sigmoid(near_vis_gain * (visibility
        difference) + near_depth_gain * (depth difference in torso lengths)).
        Larger values pick one chain more sharply.
    near_smooth_ms
        The near-chain score is a running median over this many milliseconds:
        the lifter does not turn round within a rep, so single frames whose
        labels flicker (a swap the cleaning missed) cannot flip the choice.
    min_ankle_sep_thigh
        Front-view knee/ankle ratio is NaN when the ankles are closer than
        this (thigh lengths): the ratio of two tiny numbers is noise.
    standing_hip_height_norm
        Frames with the hip at least this high (leg lengths above the ankles)
        count as standing: the reference for :attr:`FrameMetrics.back_rounding_proxy`.
    standing_max_trunk_deg
        ... and with the trunk within this many degrees of vertical. The head
        proxy needs at least 3 such frames (within ``head_reference_ms`` of
        each other): in a clip where the lifter is never
        seen standing tall (a loop cut mid-set, a single pull cut at lockout)
        it has no reference, and it is NaN (not assessable) rather than
        measured against the clip's own average posture.
    face_away_m
        Front and oblique views: when MediaPipe's nose sits this much farther
        from the camera than the midpoint of the ears (world landmarks, metres,
        running median over ``face_window_ms`` around the frame), the
        lifter's face is turned away and the ear and nose points are guesses;
        the head proxy is then NaN in those frames, and they give no standing
        reference either. Facing the camera
        at 45 degrees the nose reads 1.5-6.6 cm nearer than the ears on the
        labelled real clips, turned away 2.8-8.5 cm farther; seen side-on the
        two are level within ~2 cm on all but one clip (6 cm), so side views
        are left out of this test (``benchmarks/head_proxy_inputs.py``).
        0.02 m is a face turned about 12 degrees past side-on, away from the
        camera (the nose sits about 10 cm in front of the ears).
    level_world_by_standing
        Front views: MediaPipe's world axes follow the camera, so a camera
        pitched down tilts every sagittal angle. When True, the world frame is
        levelled so that the legs (ankle midpoint to hip midpoint) are vertical,
        on median, in the standing frames (hip height >= standing_hip_height_norm).
    max_level_deg
        Largest levelling correction applied (deg); larger estimates are clipped.
    oblique_source
        Oblique views. ``"image"``: image midpoints with horizontal distances
        stretched by 1/sin(yaw); ``"world"``: world landmarks as in front views;
        ``"hybrid"`` (default): the trunk line (trunk, chord, head) from the
        world landmarks and everything else (hip, knee, shin, depth, bar) from
        the stretched image. Checked on the TBY66 kettlebell clips filmed from the
        side and at 45 deg at once: world trunk matched the side view within
        ~3 deg but world knees read a standing knee ~155 deg (side: ~170) and
        bottom knees 8-20 deg too open; the stretched image matched the side
        knee within ~3 deg (one class 8) but read the trunk 5-7 deg too far
        forward (and the hip angle ~8 deg too closed at the bottom), while
        mixing the world trunk with the image thigh read a standing hip ~165.
    min_oblique_yaw_deg
        Smallest yaw (deg) used for that stretch (limits it to 1/sin(25) = 2.4x).
    foot_min_visibility, foot_edge_margin_ratio
        Heel rise is read only in frames where the heel and toe landmarks of
        that foot have at least this visibility (0..1) and both lie above the
        bottom edge of the picture by this share of the frame height. When the
        feet are cut off by the frame, MediaPipe still places them (below the
        edge or on it, with low visibility), and their guessed height swings
        by a quarter of a foot or more from frame to frame: on the real clips
        filmed with the lower legs out of frame that read as heels lifting.
    min_foot_px
        Heel rise is not read at all when the foot is shorter than this in the
        picture (pixels, heel to toe). The heel limit is a fifth of a foot and
        MediaPipe's heel point jitters by a couple of pixels, so a 25 px foot
        is the smallest on which a lift at the limit (5 px) stands out from the
        jitter; on a 19 px foot (a 196 px tall GIF) the jitter read as a lift.
    heel_reference_ms
        The heel's usual level, from which its rise is read, is the running
        median of its height in the picture over this much time centred on each
        frame (ms), not one level for the whole clip: the picture's heel height
        moves with the camera (an edit to another shot, a hand-held or
        re-framing camera), and a clip-wide level read the heels of a whole shot
        as lifted by 0.4-0.6 of a foot after a tutorial's cut to a camera
        behind the lifter. Long enough to hold about three reps and the
        standing between them, so that a heel raised through one rep's bottom
        is a small minority of the window and barely moves its median; a heel
        held up for half of it or more would move its own reference.
    head_reference_ms
        The head proxy's upright reference is the median of its value over the
        standing-tall frames (face seen) within this much time centred on each
        frame (at least 3 of them), not over the whole clip: the angle seen
        from one camera is not the angle seen from another, so in a long
        recording with edits between shots a clip-wide reference mixes them.
        Where no such window holds 3 standing frames the reference of the
        nearest windows that do is used. Only standing frames count, so a
        rep's own bottom never enters its reference. Long on purpose: the
        standing head angle varies by several degrees from one stand to the
        next, and shorter windows read that variation as a new reference
        (measured in calibration.toml).
    face_window_ms
        The face test (``face_away_m``) is a running median over this much time
        centred on each frame, so it follows an edit to a camera behind the
        lifter: those frames are neither read nor taken as the reference.
    """

    TABLE = "metrics"

    hip_offset_up_thigh: float
    hip_offset_fwd_thigh: float
    length_percentile: float
    shin_per_thigh: float
    near_vis_gain: float
    near_depth_gain: float
    near_smooth_ms: float
    min_ankle_sep_thigh: float
    standing_hip_height_norm: float
    standing_max_trunk_deg: float
    level_world_by_standing: bool
    max_level_deg: float
    oblique_source: str
    min_oblique_yaw_deg: float
    foot_min_visibility: float
    foot_edge_margin_ratio: float
    min_foot_px: float
    heel_reference_ms: float
    face_away_m: float
    head_reference_ms: float
    face_window_ms: float

    def __post_init__(self) -> None:
        for name in ("hip_offset_up_thigh", "hip_offset_fwd_thigh"):
            v = float(getattr(self, name))
            if not -0.5 < v < 0.5:
                raise ValueError(f"{name}: expected a small offset in (-0.5, 0.5) thigh lengths, got {v}")
        if not 50.0 <= self.length_percentile <= 100.0:
            raise ValueError(f"length_percentile: expected 50..100, got {self.length_percentile}")
        if not 0.5 <= self.shin_per_thigh <= 1.5:
            raise ValueError(f"shin_per_thigh: expected 0.5..1.5, got {self.shin_per_thigh}")
        for name in ("near_vis_gain", "near_depth_gain", "min_ankle_sep_thigh", "standing_max_trunk_deg", "face_away_m"):
            if not float(getattr(self, name)) >= 0:
                raise ValueError(f"{name}: expected >= 0, got {getattr(self, name)}")
        if self.oblique_source not in ("hybrid", "image", "world"):
            raise ValueError(f"oblique_source: expected 'hybrid', 'image' or 'world', got {self.oblique_source!r}")
        if not 0.0 < self.min_oblique_yaw_deg <= 90.0:
            raise ValueError(f"min_oblique_yaw_deg: expected 0..90, got {self.min_oblique_yaw_deg}")
        if not 0.0 < self.standing_hip_height_norm <= 1.2:
            raise ValueError(f"standing_hip_height_norm: expected 0..1.2, got {self.standing_hip_height_norm}")
        if not 0.0 <= self.foot_min_visibility <= 1.0:
            raise ValueError(f"foot_min_visibility: expected 0..1, got {self.foot_min_visibility}")
        if not self.min_foot_px >= 0.0:
            raise ValueError(f"min_foot_px: expected >= 0, got {self.min_foot_px}")
        if not self.heel_reference_ms > 0.0:
            raise ValueError(f"heel_reference_ms: expected > 0 ms, got {self.heel_reference_ms}")
        for name in ("head_reference_ms", "face_window_ms"):
            if not float(getattr(self, name)) > 0.0:
                raise ValueError(f"{name}: expected > 0 ms, got {getattr(self, name)}")
        if not 0.0 <= self.foot_edge_margin_ratio < 0.5:
            raise ValueError(f"foot_edge_margin_ratio: expected 0..0.5, got {self.foot_edge_margin_ratio}")


#: Per-frame series of :class:`FrameMetrics` (all (N,) float arrays).
SERIES = ("trunk_deg", "hip_deg", "knee_deg", "shin_deg", "depth_thigh", "hip_height_norm",
          "shoulder_height_norm", "wrist_height_norm", "knee_ankle_ratio", "heel_rise_norm",
          "bar_x_offset_norm", "back_rounding_proxy", "chord_ratio", "quality",
          "left_weight")


@dataclass(frozen=True)
class FrameMetrics:
    """Per-frame metrics of one clip; every series is an (N,) float array, NaN where not measured.

    Attributes
    ----------
    t_ms
        Frame times (ms), as in the pose sequence.
    trunk_deg
        The "spinal angle": the line from the hip midpoint up to the shoulder
        midpoint against vertical, degrees. 0 = upright, + = leaning forward
        (toward the facing direction), - = leaning back, 90 = horizontal.
    hip_deg
        Hip angle between the trunk line and the thigh in the sagittal plane,
        degrees: ``180 - (trunk lean - thigh lean)``. 180 = trunk in line with
        the thigh (standing tall), smaller = more hip flexion (~40-80 at the
        bottom of a squat or a deadlift set-up), above 180 = trunk behind the
        thigh line (hyperextension at lockout).
    knee_deg
        Hip-knee-ankle angle, degrees: 180 = straight leg, 90 = right angle.
    shin_deg
        Ankle-to-knee line against vertical, degrees: 0 = vertical shin,
        + = knee ahead of the ankle (toward the facing direction).
    depth_thigh
        Hip joint height over the knee, in thigh lengths: + = hip above the
        knee (~1 standing), 0 = thigh parallel, - = hip below the knee. The
        sine of the thigh's angle below horizontal.
    hip_height_norm, shoulder_height_norm, wrist_height_norm
        Height above the ankles, in leg lengths (thigh + shin): 0 = ankle
        level, ~1 = hip standing, ~1.5-1.6 = shoulders standing. + = up.
        While the ankles are lost the ankle level is interpolated in time.
    knee_ankle_ratio
        Front and oblique views: horizontal knee separation / ankle separation.
        1 = knees over the ankles, < 1 = knees caving in, > 1 = knees out.
        Unitless; NaN in side views.
    heel_rise_norm
        Side and oblique views: heel height above its usual level (its running
        median over ``heel_reference_ms``, see :class:`MetricParams`), in foot
        lengths. 0 = heel down, + = heel raised. NaN in front views.
    bar_x_offset_norm
        Hands (wrist midpoint, i.e. the bar) ahead of mid-foot (midpoint of
        heel and toe), in thigh lengths: 0 = over mid-foot, + = in front (toward
        the facing direction), - = behind.
    back_rounding_proxy
        Landmark proxy for back rounding, degrees: how far the ears have
        dropped forward of the trunk line, i.e. the angle at the shoulder
        midpoint between the hip-to-shoulder line extended and the
        shoulder-to-ear line, minus its value in the lifter's own standing
        frames nearby in time (``MetricParams.head_reference_ms``: the same
        camera shot, when an edit cuts to another). 0 = as standing, + = ears
        forward/below the trunk line (upper back or neck flexed), - = behind it
        (chest up, head back). NaN throughout when the clip has no standing
        frame to compare with, and NaN in the frames where the face is turned
        away from the camera in a front or oblique view
        (``MetricParams.face_away_m``).
        Honest limits: landmarks barely see the spine. Lumbar flexion hardly
        moves any landmark (in a synthetic side squat +35 deg of lumbar
        flexion moved the trunk line 1.5-3 deg, shortened the hip-shoulder
        chord 1-3 % and left this angle unchanged); the angle answers to
        upper-back rounding and to neck flexion alike (the ear sits near the
        head's nodding axis, so looking down moves it little, tucking the
        chin does). On the labelled real deadlift reps it read a median of
        +14 deg on "rounded" reps and -8 on the others, but the rounded reps
        come from two lifters only. Weak evidence: compare reps of one lifter
        and judge :attr:`spine_flexion_deg` beside it when it is filled.
    chord_ratio
        Hip-shoulder distance (the trunk chord) over its standing value,
        unitless: 1 = as standing, < 1 = shorter. Spine flexion shortens it
        with the square of the angle (kinematic model: 10 deg -> 0.4 %,
        35 deg -> 3 %, 50 deg -> 5.6 %), but so do shoulders pulled forward by
        hanging arms: good real deadlift reps read 0.84-0.92 at the floor.
    quality
        0..1 per frame: visibility of the landmarks used (0 = no lifter).
    left_weight
        0..1 per frame: weight of the lifter's left chain in the side-specific
        metrics (1 = left only, 0.5 = both sides equally).
    spine_flexion_deg
        Slot for a silhouette-based spine flexion estimate (degrees, 0 = the
        lifter's own set-up, + = more flexed); None until an estimator fills it.
    view
        The :class:`ViewInfo` the metrics were computed for.
    scales
        Per-clip lengths used for normalisation (``thigh_px``, ``shin_px``,
        ``leg_px``, ``foot_px``, ``torso_px``, ``thigh_sagittal`` (px or m), ``chord_ref`` in the
        chord's unit) and ``level_deg`` (levelling applied to world landmarks);
        NaN where unmeasured.
    notes
        Series name -> why that series is NaN throughout (e.g. the head proxy
        with the face turned away); shown as the "not assessable" reason of
        the rules that read it.
    """

    t_ms: np.ndarray
    trunk_deg: np.ndarray
    hip_deg: np.ndarray
    knee_deg: np.ndarray
    shin_deg: np.ndarray
    depth_thigh: np.ndarray
    hip_height_norm: np.ndarray
    shoulder_height_norm: np.ndarray
    wrist_height_norm: np.ndarray
    knee_ankle_ratio: np.ndarray
    heel_rise_norm: np.ndarray
    bar_x_offset_norm: np.ndarray
    back_rounding_proxy: np.ndarray
    chord_ratio: np.ndarray
    quality: np.ndarray
    left_weight: np.ndarray
    view: ViewInfo
    scales: Mapping[str, float]
    spine_flexion_deg: np.ndarray | None = None
    notes: Mapping[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = np.asarray(self.t_ms, dtype=np.float64)
        if t.ndim != 1:
            raise ValueError(f"t_ms: expected shape (N,), got {t.shape}")
        n = t.shape[0]
        t = t.copy()
        t.setflags(write=False)
        object.__setattr__(self, "t_ms", t)
        names = SERIES + (("spine_flexion_deg",) if self.spine_flexion_deg is not None else ())
        for name in names:
            a = np.array(getattr(self, name), dtype=np.float64)
            if a.shape != (n,):
                raise ValueError(f"{name}: expected shape ({n},), got {a.shape}")
            a.setflags(write=False)
            object.__setattr__(self, name, a)
        q = self.quality
        if np.any(~np.isfinite(q)) or np.any((q < 0) | (q > 1)):
            raise ValueError("quality: expected finite values in [0, 1], got values outside")
        if not isinstance(self.view, ViewInfo):
            raise ValueError(f"view: expected a ViewInfo, got {type(self.view).__name__}")
        object.__setattr__(self, "scales", MappingProxyType({str(k): float(v) for k, v in self.scales.items()}))
        bad = [k for k in self.notes if k not in names]
        if bad:
            raise ValueError(f"notes: expected series names, got {bad}")
        object.__setattr__(self, "notes", MappingProxyType({str(k): str(v) for k, v in self.notes.items()}))

    @property
    def n_frames(self) -> int:
        return int(self.t_ms.shape[0])

    def signals(self) -> dict[str, np.ndarray]:
        """Every per-frame series by name (``spine_flexion_deg`` only when filled)."""
        out = {name: getattr(self, name) for name in SERIES}
        if self.spine_flexion_deg is not None:
            out["spine_flexion_deg"] = self.spine_flexion_deg
        return out

    def with_spine_flexion(self, spine_flexion_deg: np.ndarray) -> "FrameMetrics":
        """A copy with the silhouette-based spine flexion series filled in."""
        return replace(self, spine_flexion_deg=spine_flexion_deg)


# ---------------------------------------------------------------------------- helpers


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _pts(a: np.ndarray, lm: L) -> np.ndarray:
    return a[:, int(lm)]


def _mix(left: np.ndarray, right: np.ndarray, w_left: np.ndarray) -> np.ndarray:
    """Per-frame weighted mean of a left and a right series; falls back to the one that is finite."""
    wl = np.where(np.isfinite(left), w_left, 0.0)
    wr = np.where(np.isfinite(right), 1.0 - w_left, 0.0)
    tot = wl + wr
    num = np.where(wl > 0, left, 0.0) * wl + np.where(wr > 0, right, 0.0) * wr
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(tot > 0, num / np.where(tot > 0, tot, 1.0), np.nan)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > geo.DEGENERATE_LEN, v / n, np.nan)


def _row_nanmean(a: np.ndarray) -> np.ndarray:
    ok = np.isfinite(a)
    cnt = ok.sum(axis=1)
    tot = np.where(ok, a, 0.0).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(cnt > 0, tot / np.maximum(cnt, 1), np.nan)


def _near_left_weight(seq: PoseSequence, view: ViewInfo, torso_px: float, p: MetricParams) -> np.ndarray:
    left = [int(x) for x in _SIDES[0][_CHAIN]]
    right = [int(x) for x in _SIDES[1][_CHAIN]]
    vis = np.nan_to_num(seq.visibility, nan=0.0)
    if view.view == "front":
        vl, vr = vis[:, left].mean(axis=1), vis[:, right].mean(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            w = np.where(vl + vr > 0, vl / (vl + vr), 0.5)
        return np.clip(w, 0.0, 1.0)
    d_vis = vis[:, left].mean(axis=1) - vis[:, right].mean(axis=1)
    z = seq.z_px
    d_z = (_row_nanmean(z[:, right]) - _row_nanmean(z[:, left])) / torso_px
    logit = p.near_vis_gain * d_vis + p.near_depth_gain * np.nan_to_num(d_z, nan=0.0)
    logit = np.where(seq.detected, logit, np.nan)
    logit = np.nan_to_num(_rolling_median(seq.t_ms, logit, p.near_smooth_ms), nan=0.0)
    if view.view == "oblique":
        logit = 0.5 * logit
    return _sigmoid(logit)


def _rolling_median(t_ms: np.ndarray, x: np.ndarray, window_ms: float) -> np.ndarray:
    """Centred running median over ``window_ms`` of time (NaN ignored; NaN where the window has no value)."""
    if window_ms <= 0 or x.size == 0:
        return x.copy()
    lo = np.searchsorted(t_ms, t_ms - 0.5 * window_ms, side="left")
    hi = np.searchsorted(t_ms, t_ms + 0.5 * window_ms, side="right")
    return np.array([geo.nan_percentile(x[a:b], 50.0) for a, b in zip(lo, hi)])


#: A slow running level (see :func:`_slow_level`) is computed this many times per window and interpolated.
_LEVEL_STEPS_PER_WINDOW = 50


def _slow_level(t_ms: np.ndarray, x: np.ndarray, window_ms: float, min_count: int = 1) -> np.ndarray:
    """Centred running median of ``x`` over ``window_ms``, for a level that changes slowly (NaN ignored).

    The median is taken at points spaced 1/50 of the window apart in time and interpolated between
    them, so each frame's level comes from windows centred at most 1/100 of a window away from it:
    a small part of the cost of one median per frame on a long clip. Points whose window holds
    fewer than ``min_count`` values are skipped (the frames there take the level of the nearest
    points); all NaN when no window holds that many.
    """
    ok = np.isfinite(x)
    if ok.sum() < max(min_count, 1):
        return np.full(x.shape, np.nan)
    step = window_ms / _LEVEL_STEPS_PER_WINDOW
    grid = np.arange(t_ms[0], t_ms[-1] + step, step)
    lo = np.searchsorted(t_ms, grid - 0.5 * window_ms, side="left")
    hi = np.searchsorted(t_ms, grid + 0.5 * window_ms, side="right")
    seen = np.r_[0, np.cumsum(ok)]
    level = np.array([geo.nan_percentile(x[a:b], 50.0) if seen[b] - seen[a] >= min_count else np.nan
                      for a, b in zip(lo, hi)])
    good = np.isfinite(level)
    return np.interp(t_ms, grid[good], level[good]) if good.any() else np.full(x.shape, np.nan)


def _fill_in_time(t_ms: np.ndarray, x: np.ndarray, where: np.ndarray) -> np.ndarray:
    """``x`` with its NaN entries inside ``where`` filled from the nearest finite samples in time.

    Used for the ankles (the floor): plates, a bench or the frame edge often
    hide the feet for a while, and the lifter does not move them mid-set.
    """
    ok = np.isfinite(x)
    if ok.all() or not ok.any():
        return x.copy()
    filled = np.interp(t_ms, t_ms[ok], x[ok])
    return np.where(ok | ~where, x, filled)


def _side_len(a_l: np.ndarray, b_l: np.ndarray, a_r: np.ndarray, b_r: np.ndarray, w_left: np.ndarray,
              q: float) -> float:
    """Clip length of a left/right segment pair: percentile ``q`` of the per-frame side-weighted 2-D length.

    Weighting per frame (rather than averaging two per-side lengths) keeps the
    near leg's length in a side view, where perspective makes it look longer
    than the far one; with mixed labels (swaps) it still follows the near leg.
    """
    return geo.nan_percentile(_mix(geo.distance(a_l, b_l), geo.distance(a_r, b_r), w_left), q)


def _sagittal_frame(world: np.ndarray, view: ViewInfo) -> np.ndarray:
    """Unit forward direction (3,) of the lifter in world coordinates, sign fixed by the view's facing."""
    r = (_pts(world, L.RIGHT_HIP) - _pts(world, L.LEFT_HIP)) \
        + (_pts(world, L.RIGHT_SHOULDER) - _pts(world, L.LEFT_SHOULDER))
    f = np.stack([-r[:, 2], np.zeros(len(r)), r[:, 0]], axis=1)
    f = _unit(f)
    want = {"camera": np.array([0.0, 0.0, -1.0]), "away": np.array([0.0, 0.0, 1.0]),
            "right": np.array([1.0, 0.0, 0.0]), "left": np.array([-1.0, 0.0, 0.0])}[view.facing]
    flip = np.sum(f * want, axis=1) < 0
    f = np.where(flip[:, None], -f, f)
    med = np.nanmedian(f, axis=0) if np.isfinite(f).all(axis=1).any() else want
    med = _unit(med[None, :])[0]
    return med if np.isfinite(med).all() else want


def _rotate_sagittal(pts: np.ndarray, level_deg: float) -> np.ndarray:
    """Rotate (forward, down) points so that a line leaning ``level_deg`` forward becomes vertical."""
    a = np.radians(level_deg)
    x, up = pts[..., 0], -pts[..., 1]
    return np.stack([x * np.cos(a) - up * np.sin(a), -(x * np.sin(a) + up * np.cos(a))], axis=-1)


def _to_sagittal(world: np.ndarray, fwd: np.ndarray) -> np.ndarray:
    """World points (N, K, 3) -> sagittal-plane points (N, K, 2): (forward, down) in metres."""
    return np.stack([world @ fwd, world[..., 1]], axis=-1)


def _hip_correction(n: int, thigh: float, fwd_x: float, p: MetricParams) -> np.ndarray:
    """Vector (N, 2) to add to the hip landmark to reach the joint centre (y down).

    ``fwd_x`` is the x part of the lifter's forward direction in these
    coordinates (+-1 in a side view, ~0 in a front view).
    """
    v = np.array([-p.hip_offset_fwd_thigh * fwd_x, p.hip_offset_up_thigh]) * thigh
    return np.tile(v, (n, 1))


# ---------------------------------------------------------------------------- steps


@dataclass(frozen=True)
class _Sagittal:
    """Points in the lifter's sagittal plane: x forward, y down (px in side views, metres otherwise)."""

    pts: np.ndarray
    hip_l: np.ndarray
    hip_r: np.ndarray
    knee_l_deg: np.ndarray
    knee_r_deg: np.ndarray
    thigh: float
    level_deg: float


def _image_hips(xy: np.ndarray, w_left: np.ndarray, fwd_x: float, p: MetricParams
                ) -> tuple[np.ndarray, float]:
    """Image hip correction (N, 2) and the thigh length (px) measured from the corrected hips."""
    n = xy.shape[0]
    corr = np.zeros((n, 2))
    thigh = float("nan")
    for _ in range(_OFFSET_ITERATIONS):
        thigh = _side_len(_pts(xy, L.LEFT_HIP) + corr, _pts(xy, L.LEFT_KNEE), _pts(xy, L.RIGHT_HIP) + corr,
                          _pts(xy, L.RIGHT_KNEE), w_left, p.length_percentile)
        corr = _hip_correction(n, thigh, fwd_x, p)
    return corr, thigh


def _side_sagittal(xy: np.ndarray, hip_corr: np.ndarray, thigh_px: float, facing_sign: float) -> _Sagittal:
    """Side view: the image itself, mirrored so that forward is +x."""
    flip = np.array([facing_sign, 1.0])
    pts = xy * flip
    hip_l = (_pts(xy, L.LEFT_HIP) + hip_corr) * flip
    hip_r = (_pts(xy, L.RIGHT_HIP) + hip_corr) * flip
    knee_l = geo.angle_at(hip_l, _pts(pts, L.LEFT_KNEE), _pts(pts, L.LEFT_ANKLE))
    knee_r = geo.angle_at(hip_r, _pts(pts, L.RIGHT_KNEE), _pts(pts, L.RIGHT_ANKLE))
    return _Sagittal(pts, hip_l, hip_r, knee_l, knee_r, thigh_px, 0.0)


def _world_sagittal(world: np.ndarray, fwd: np.ndarray, w_left: np.ndarray, standing: np.ndarray,
                    p: MetricParams) -> _Sagittal:
    """Front views: world landmarks on the sagittal plane, levelled on the standing frames."""
    n = world.shape[0]
    c3 = np.zeros((n, 3))
    c_s = np.zeros((n, 2))
    thigh_m = float("nan")
    for _ in range(_OFFSET_ITERATIONS):
        thigh_m = _side_len(_pts(world, L.LEFT_HIP) + c3, _pts(world, L.LEFT_KNEE), _pts(world, L.RIGHT_HIP) + c3,
                            _pts(world, L.RIGHT_KNEE), w_left, p.length_percentile)
        c_s = _hip_correction(n, thigh_m, 1.0, p)
        c3 = np.stack([c_s[:, 0] * fwd[0], c_s[:, 1], c_s[:, 0] * fwd[2]], axis=1)
    knee_l = geo.angle_at(_pts(world, L.LEFT_HIP) + c3, _pts(world, L.LEFT_KNEE), _pts(world, L.LEFT_ANKLE))
    knee_r = geo.angle_at(_pts(world, L.RIGHT_HIP) + c3, _pts(world, L.RIGHT_KNEE), _pts(world, L.RIGHT_ANKLE))
    pts = _to_sagittal(world, fwd)
    level_deg = 0.0
    if p.level_world_by_standing:
        hips = geo.weighted_midpoint(_pts(pts, L.LEFT_HIP), _pts(pts, L.RIGHT_HIP), 1.0, 1.0) + c_s
        ankles = geo.weighted_midpoint(_pts(pts, L.LEFT_ANKLE), _pts(pts, L.RIGHT_ANKLE), 1.0, 1.0)
        legs_deg = geo.inclination_from_vertical(hips, ankles, 1.0)
        if np.isfinite(legs_deg[standing]).sum() >= 3:
            level_deg = float(np.clip(np.nanmedian(legs_deg[standing]), -p.max_level_deg, p.max_level_deg))
        pts = _rotate_sagittal(pts, level_deg)
        c_s = _rotate_sagittal(c_s, level_deg)
    return _Sagittal(pts, _pts(pts, L.LEFT_HIP) + c_s, _pts(pts, L.RIGHT_HIP) + c_s, knee_l, knee_r, thigh_m,
                     level_deg)


def _oblique_sagittal(xy: np.ndarray, hip_corr: np.ndarray, facing_sign: float, yaw_deg: float,
                      p: MetricParams) -> _Sagittal:
    """Oblique views: the image, left/right pairs merged into midpoints, horizontal distances stretched.

    A forward distance in the sagittal plane shows in the image shrunk by
    ``sin(yaw)``; midpoints cancel the left-right spread (hip width, knees
    pushed out), which would otherwise leak into the horizontal.
    """
    yaw = yaw_deg if np.isfinite(yaw_deg) else 45.0
    stretch = 1.0 / np.sin(np.radians(np.clip(yaw, p.min_oblique_yaw_deg, 90.0)))
    pts = np.array(xy, dtype=np.float64)
    for a, b in LEFT_RIGHT_PAIRS:
        mid = geo.weighted_midpoint(xy[:, int(a)], xy[:, int(b)], 1.0, 1.0)
        pts[:, int(a)] = mid
        pts[:, int(b)] = mid
    pts[..., 0] *= facing_sign * stretch
    hip = _pts(pts, L.LEFT_HIP) + hip_corr * np.array([facing_sign * stretch, 1.0])
    thigh = geo.nan_percentile(geo.distance(hip, _pts(pts, L.LEFT_KNEE)), p.length_percentile)
    knee = geo.angle_at(hip, _pts(pts, L.LEFT_KNEE), _pts(pts, L.LEFT_ANKLE))
    return _Sagittal(pts, hip, hip.copy(), knee, knee.copy(), thigh, 0.0)


def _standing_reference(x: np.ndarray, standing: np.ndarray, fallback_q: float | None) -> float:
    """Median of ``x`` over the standing frames; when fewer than 3 stand, its ``fallback_q`` percentile (None: NaN)."""
    ok = standing & np.isfinite(x)
    if ok.sum() >= 3:
        return float(np.median(x[ok]))
    return geo.nan_percentile(x, fallback_q) if fallback_q is not None else float("nan")


def _face_turned_away(t_ms: np.ndarray, world_m: np.ndarray, detected: np.ndarray, min_m: float,
                      window_ms: float) -> np.ndarray:
    """Per frame: True where the nose is more than ``min_m`` farther from the camera than the ears.

    The depth difference is a running median over ``window_ms`` centred on the frame (see
    :func:`_slow_level`), so one shot filmed from behind the lifter is told from another filmed
    from the front. MediaPipe world ``z`` grows away from the camera. All False when no frame
    has a lifter.
    """
    ears_z = 0.5 * (world_m[:, L.LEFT_EAR, 2] + world_m[:, L.RIGHT_EAR, 2])
    dz = np.where(detected, world_m[:, L.NOSE, 2] - ears_z, np.nan)
    with np.errstate(invalid="ignore"):
        return _slow_level(t_ms, dz, window_ms) > min_m


# ---------------------------------------------------------------------------- main


def _foot_in_view(seq: PoseSequence, heel: L, toe: L, p: MetricParams) -> np.ndarray:
    """Frames where this foot's heel and toe are seen well and clear of the picture's bottom edge."""
    vis = np.nan_to_num(seq.visibility[:, [int(heel), int(toe)]], nan=0.0)
    y = seq.xy_px[:, [int(heel), int(toe)], 1]
    with np.errstate(invalid="ignore"):
        clear = np.all(y <= seq.frame_h * (1.0 - p.foot_edge_margin_ratio), axis=1)
    return clear & np.all(vis >= p.foot_min_visibility, axis=1)


def compute_frame_metrics(seq: PoseSequence, view: ViewInfo, params: MetricParams | None = None) -> FrameMetrics:
    """All per-frame metrics of a (cleaned) pose sequence.

    Notes
    -----
    seq
        Cleaned landmarks (see :mod:`formcheck.cleaning`); lost landmarks NaN.
    view
        From :func:`formcheck.views.classify_view`: picks the source (image in
        side views, world landmarks otherwise) and the facing sign.
    params
        Calibration, see :class:`MetricParams`; None = :meth:`MetricParams.packaged`.
    """
    n = seq.n_frames
    p = params if params is not None else MetricParams.packaged()
    xy = seq.xy_px
    vis = np.nan_to_num(seq.visibility, nan=0.0)
    side_view = view.view == "side"

    def vw(lm: L) -> np.ndarray:
        return vis[:, int(lm)] + 1e-6

    def vmid(a: np.ndarray, lm_l: L, lm_r: L) -> np.ndarray:
        return geo.weighted_midpoint(_pts(a, lm_l), _pts(a, lm_r), vw(lm_l), vw(lm_r))

    def side_len(a_l: L, b_l: L, a_r: L, b_r: L) -> float:
        return _side_len(_pts(xy, a_l), _pts(xy, b_l), _pts(xy, a_r), _pts(xy, b_r), w_left, p.length_percentile)

    sh_mid = vmid(xy, L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
    torso_px = geo.nan_percentile(geo.distance(sh_mid, vmid(xy, L.LEFT_HIP, L.RIGHT_HIP)), p.length_percentile)
    w_left = _near_left_weight(seq, view, torso_px if torso_px > 0 else 1.0, p)
    w_left = np.where(seq.detected, w_left, 0.5)
    # the landmarks' own (raw) yaw, before the calibration curve that names the camera's angle: the image
    # geometry below (hip offset, oblique stretch) was tuned on it and is unchanged by the curve
    yaw = float(view.features.get("yaw_raw_deg", view.yaw_deg))
    yaw = yaw if np.isfinite(yaw) else 45.0
    img_fwd_x = float(view.facing_sign) * np.sin(np.radians(yaw))

    # -------- image scales, corrected hips, heights
    hip_corr, thigh_px = _image_hips(xy, w_left, img_fwd_x, p)
    hip_l, hip_r = _pts(xy, L.LEFT_HIP) + hip_corr, _pts(xy, L.RIGHT_HIP) + hip_corr
    hip_mid = vmid(xy, L.LEFT_HIP, L.RIGHT_HIP) + hip_corr
    shin_px = side_len(L.LEFT_KNEE, L.LEFT_ANKLE, L.RIGHT_KNEE, L.RIGHT_ANKLE)
    if not np.isfinite(shin_px):
        shin_px = p.shin_per_thigh * thigh_px
    leg_px = thigh_px + shin_px
    foot_px = side_len(L.LEFT_HEEL, L.LEFT_FOOT_INDEX, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX)
    ankle_y = _fill_in_time(seq.t_ms, _mix(_pts(xy, L.LEFT_ANKLE)[:, 1], _pts(xy, L.RIGHT_ANKLE)[:, 1], w_left),
                            seq.detected)
    wrist_mid = geo.weighted_midpoint(_pts(xy, L.LEFT_WRIST), _pts(xy, L.RIGHT_WRIST),
                                      w_left * vw(L.LEFT_WRIST), (1 - w_left) * vw(L.RIGHT_WRIST))
    hip_h = (ankle_y - hip_mid[:, 1]) / leg_px
    sh_h = (ankle_y - sh_mid[:, 1]) / leg_px
    wrist_h = (ankle_y - wrist_mid[:, 1]) / leg_px

    # -------- sagittal angles (x forward, y down)
    standing = hip_h >= p.standing_hip_height_norm
    if side_view:
        sg = _side_sagittal(xy, hip_corr, thigh_px, float(view.facing_sign))
    elif view.view == "oblique" and p.oblique_source != "world":
        sg = _oblique_sagittal(xy, hip_corr, float(view.facing_sign), yaw, p)
    else:
        sg = _world_sagittal(seq.world_m, _sagittal_frame(seq.world_m, view), w_left, standing, p)
    # the trunk line (and the chord and head measures on it) may come from another source than the legs
    tg = sg
    if view.view == "oblique" and p.oblique_source == "hybrid":
        tg = _world_sagittal(seq.world_m, _sagittal_frame(seq.world_m, view), w_left, standing, p)
    sag = sg.pts
    sag_sh = vmid(tg.pts, L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
    sag_hip = geo.weighted_midpoint(tg.hip_l, tg.hip_r, vw(L.LEFT_HIP), vw(L.RIGHT_HIP))
    trunk = geo.inclination_from_vertical(sag_sh, sag_hip, 1.0)
    # the hip angle pairs the thigh with the trunk line of the same source, so that standing reads ~180
    leg_trunk = trunk if tg is sg else geo.inclination_from_vertical(
        vmid(sag, L.LEFT_SHOULDER, L.RIGHT_SHOULDER),
        geo.weighted_midpoint(sg.hip_l, sg.hip_r, vw(L.LEFT_HIP), vw(L.RIGHT_HIP)), 1.0)
    thigh_l = geo.inclination_from_vertical(sg.hip_l, _pts(sag, L.LEFT_KNEE), 1.0)
    thigh_r = geo.inclination_from_vertical(sg.hip_r, _pts(sag, L.RIGHT_KNEE), 1.0)
    hip_deg = 180.0 - (leg_trunk - _mix(thigh_l, thigh_r, w_left))
    knee_deg = _mix(sg.knee_l_deg, sg.knee_r_deg, w_left)
    shin = _mix(geo.inclination_from_vertical(_pts(sag, L.LEFT_KNEE), _pts(sag, L.LEFT_ANKLE), 1.0),
                geo.inclination_from_vertical(_pts(sag, L.RIGHT_KNEE), _pts(sag, L.RIGHT_ANKLE), 1.0), w_left)
    # side views read depth from the image; world y is free of the perspective that makes knees nearer
    # the camera look lower, so front and oblique views read it there
    depth = _mix((_pts(sag, L.LEFT_KNEE)[:, 1] - sg.hip_l[:, 1]) / sg.thigh,
                 (_pts(sag, L.RIGHT_KNEE)[:, 1] - sg.hip_r[:, 1]) / sg.thigh, w_left)
    mid_foot = geo.weighted_midpoint(
        geo.midpoint(_pts(sag, L.LEFT_HEEL), _pts(sag, L.LEFT_FOOT_INDEX)),
        geo.midpoint(_pts(sag, L.RIGHT_HEEL), _pts(sag, L.RIGHT_FOOT_INDEX)), w_left + 1e-6, 1 - w_left + 1e-6)
    sag_wrist = geo.weighted_midpoint(_pts(sag, L.LEFT_WRIST), _pts(sag, L.RIGHT_WRIST),
                                      w_left * vw(L.LEFT_WRIST), (1 - w_left) * vw(L.RIGHT_WRIST))
    bar = geo.signed_horizontal_offset(sag_wrist, mid_foot, 1.0) / sg.thigh

    # -------- front-plane and foot metrics
    if side_view:
        knee_ratio = np.full(n, np.nan)
    else:
        knee_sep = np.abs(_pts(xy, L.LEFT_KNEE)[:, 0] - _pts(xy, L.RIGHT_KNEE)[:, 0])
        ankle_sep = np.abs(_pts(xy, L.LEFT_ANKLE)[:, 0] - _pts(xy, L.RIGHT_ANKLE)[:, 0])
        with np.errstate(invalid="ignore", divide="ignore"):
            knee_ratio = np.where(ankle_sep >= p.min_ankle_sep_thigh * thigh_px, knee_sep / ankle_sep, np.nan)
    if view.view == "front" or not foot_px >= p.min_foot_px:
        heel = np.full(n, np.nan)
    else:
        hl = np.where(_foot_in_view(seq, L.LEFT_HEEL, L.LEFT_FOOT_INDEX, p), _pts(xy, L.LEFT_HEEL)[:, 1], np.nan)
        hr = np.where(_foot_in_view(seq, L.RIGHT_HEEL, L.RIGHT_FOOT_INDEX, p), _pts(xy, L.RIGHT_HEEL)[:, 1], np.nan)
        # the usual level is local in time: the picture's heel height moves with the camera (MetricParams)
        heel = _mix((_slow_level(seq.t_ms, hl, p.heel_reference_ms) - hl) / foot_px,
                    (_slow_level(seq.t_ms, hr, p.heel_reference_ms) - hr) / foot_px, w_left)

    # -------- back-rounding proxies relative to the standing frames
    chord = geo.distance(sag_sh, sag_hip)
    sag_ear = vmid(tg.pts, L.LEFT_EAR, L.RIGHT_EAR)
    head = geo.angle_at(sag_ear, sag_sh, 2 * sag_sh - sag_hip)
    head = head * np.sign(geo.point_line_distance(sag_ear, sag_hip, sag_sh, signed=True))
    standing &= np.abs(trunk) <= p.standing_max_trunk_deg
    chord_ref = _standing_reference(chord, standing, p.length_percentile)
    chord_ratio = chord / chord_ref if chord_ref > 0 else np.full(n, np.nan)
    # the head's upright reference is local in time (the same shot); frames with the face turned away
    # are guesses: neither read nor a reference (MetricParams.head_reference_ms, face_away_m)
    away = (np.zeros(n, bool) if side_view else
            _face_turned_away(seq.t_ms, seq.world_m, seq.detected, p.face_away_m, p.face_window_ms))
    head = np.where(away, np.nan, head)
    head_ref = _slow_level(seq.t_ms, np.where(standing, head, np.nan), p.head_reference_ms, min_count=3)
    head_fwd = head - head_ref
    notes = {}
    if away.any() and not (~away & seq.detected).any():
        notes["back_rounding_proxy"] = "the face is turned away from the camera, so the head's position is a guess"
    elif np.isnan(head_ref).all() and np.isfinite(head).any():
        notes["back_rounding_proxy"] = ("no frame shows the lifter standing tall (hips high, trunk upright), so "
                                        "the head has no upright posture to be compared with")

    # -------- tracking quality
    chain_l = [int(x) for x in _SIDES[0][_CHAIN]]
    chain_r = [int(x) for x in _SIDES[1][_CHAIN]]
    q = w_left * vis[:, chain_l].mean(axis=1) + (1 - w_left) * vis[:, chain_r].mean(axis=1)
    q = np.where(seq.detected, np.clip(q, 0.0, 1.0), 0.0)

    scales = {"thigh_px": thigh_px, "shin_px": shin_px, "leg_px": leg_px, "foot_px": foot_px,
              "torso_px": torso_px, "thigh_sagittal": sg.thigh, "chord_ref": chord_ref,
              "level_deg": tg.level_deg}
    return FrameMetrics(
        t_ms=seq.t_ms, trunk_deg=trunk, hip_deg=hip_deg, knee_deg=knee_deg, shin_deg=shin,
        depth_thigh=depth, hip_height_norm=hip_h, shoulder_height_norm=sh_h, wrist_height_norm=wrist_h,
        knee_ankle_ratio=knee_ratio, heel_rise_norm=heel, bar_x_offset_norm=bar,
        back_rounding_proxy=head_fwd, chord_ratio=chord_ratio,
        quality=q, left_weight=w_left, view=view, scales=scales, notes=notes,
    )


__all__ = ["FrameMetrics", "MetricParams", "SERIES", "compute_frame_metrics"]


# ---------------------------------------------------------------------------- rep-segmentation signals
def rolling_median(t_ms: np.ndarray, x: np.ndarray, width_ms: float) -> np.ndarray:
    """Centred rolling median over ``width_ms`` of time (NaN-aware; NaN stays NaN)."""
    t = np.asarray(t_ms, dtype=np.float64)
    x = np.asarray(x, dtype=np.float64)
    lo = np.searchsorted(t, t - width_ms / 2.0)
    hi = np.searchsorted(t, t + width_ms / 2.0, side="right")
    out = np.full_like(x, np.nan)
    for i in range(x.size):
        w = x[lo[i]:hi[i]]
        w = w[np.isfinite(w)]
        if w.size:
            out[i] = np.median(w)
    return np.where(np.isfinite(x), out, np.nan)


def rep_height_signals(seq: PoseSequence, floor_window_ms: float = 1000.0) -> tuple[np.ndarray, np.ndarray]:
    """Hip and wrist heights above the floor, in leg lengths, for rep segmentation.

    Notes
    -----
    Computed from the *uncleaned* landmarks on purpose: the visibility mask
    of :func:`formcheck.cleaning.clean` hides hips and hands behind the plates
    for a whole deadlift set-up, and the pull would vanish into a gap. Left
    and right midpoints make the signals immune to label swaps. The floor is
    the lower ankle's image height, taken as a rolling median over
    ``floor_window_ms`` so a single ankle landmark jumping for half a second
    (seen at lockout in side-view barbell clips) does not move it. Leg length
    is the 90th percentile of hip-knee + knee-ankle over the clip, in pixels.
    0 = floor level, ~1 = hip height standing; + = up.
    """
    xy = seq.xy_px

    def p(lm: L) -> np.ndarray:
        return xy[:, int(lm)]

    hip = 0.5 * (p(L.LEFT_HIP) + p(L.RIGHT_HIP))
    wrist = 0.5 * (p(L.LEFT_WRIST) + p(L.RIGHT_WRIST))
    legs = [geo.distance(p(h), p(k)) + geo.distance(p(k), p(a)) for h, k, a in (
        (L.LEFT_HIP, L.LEFT_KNEE, L.LEFT_ANKLE), (L.RIGHT_HIP, L.RIGHT_KNEE, L.RIGHT_ANKLE))]
    leg = np.fmax(legs[0], legs[1])
    leg_px = geo.nan_percentile(leg, 90.0)
    nan = np.full(seq.n_frames, np.nan)
    if not (np.isfinite(leg_px) and leg_px > 0):
        return nan, nan.copy()
    floor = rolling_median(seq.t_ms, np.fmax(p(L.LEFT_ANKLE)[:, 1], p(L.RIGHT_ANKLE)[:, 1]), floor_window_ms)
    return (floor - hip[:, 1]) / leg_px, (floor - wrist[:, 1]) / leg_px


def rep_scale_signal(seq: PoseSequence, window_ms: float = 500.0) -> np.ndarray:
    """The lifter's size in the picture per frame, relative to the clip's (about 1; NaN where lost).

    Notes
    -----
    The shank (knee to ankle, the longer of the two sides) in pixels, as a rolling median over
    ``window_ms``, divided by its 90th percentile over the clip. A squat or a pull barely changes it
    (the shank tilts at most about 35 degrees toward the camera, which shortens it by under a fifth,
    and not at all seen from the side), while walking toward or away from the camera, or a zoom,
    changes it in proportion to the whole figure. :func:`rep_height_signals` divides by one leg length
    for the whole clip; :func:`formcheck.reps.segment_reps` uses this to tell a rep from a change of
    size.
    """
    xy = seq.xy_px
    shank = np.fmax(geo.distance(xy[:, int(L.LEFT_KNEE)], xy[:, int(L.LEFT_ANKLE)]),
                    geo.distance(xy[:, int(L.RIGHT_KNEE)], xy[:, int(L.RIGHT_ANKLE)]))
    ref = geo.nan_percentile(shank, 90.0)
    if not (np.isfinite(ref) and ref > 0):
        return np.full(seq.n_frames, np.nan)
    return rolling_median(seq.t_ms, shank, window_ms) / ref
