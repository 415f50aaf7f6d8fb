"""One clip's pose: :class:`PoseSequence`.

Conventions
-----------
- ``t_ms``: presentation time of each decoded frame in milliseconds from the
  clip's first frame, strictly increasing. Time always comes from here, never
  from ``index / fps``: phone clips are often variable frame rate.
- ``xy_px``: image landmarks in pixels of the (upright, possibly downscaled)
  analysed frame; origin top-left, x to the right, y *down*.
- ``z_px``: MediaPipe's relative depth of each image landmark, in the same
  pixel scale as x (smaller = nearer the camera; origin at the hip midpoint).
- ``world_m``: MediaPipe world landmarks in metres, origin between the hips,
  x to the image right, y *down*, z away from the camera.
- ``visibility`` / ``presence``: MediaPipe scores in [0, 1].
- A frame where no lifter was found is a row of NaN (scores 0), never a
  dropped frame, so every array has one row per decoded frame.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from formcheck.csvsafe import csv_writer
from formcheck.landmarks import N_LANDMARKS, Landmark

#: :func:`sampling_interval_ms`: intervals this much shorter than the median belong to a denser sampling...
_DENSE_RATIO = 0.75
#: ...which sets the interval when at least this share of all intervals are that short.
_DENSE_MIN_SHARE = 0.1


def sampling_interval_ms(t_ms: np.ndarray) -> float:
    """The interval (ms) of the densest regular sampling in ``t_ms``: the median one, unless a
    sizeable share is much shorter (the adaptive stride of :mod:`formcheck.stride` analyses moving
    phases at the full rate and still ones at half of it; its median would be the still phases').

    The median interval of those at most 0.75 of the median, when they are at least 10 % of all
    intervals; otherwise the median. A clip sampled evenly (or with jitter under 25 %, or with
    dropped frames) gets its median, as before. NaN with fewer than 2 times.
    """
    dt = np.diff(np.asarray(t_ms, dtype=float))
    if dt.size == 0:
        return float("nan")
    med = float(np.median(dt))
    short = dt[dt <= _DENSE_RATIO * med]
    if short.size >= _DENSE_MIN_SHARE * dt.size and short.size > 0:
        return float(np.median(short))
    return med

SCHEMA_VERSION = 1


def _as(a: Any, dtype: type, name: str, shape: tuple[int | None, ...]) -> np.ndarray:
    arr = np.asarray(a, dtype=dtype)
    if arr.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, arr.shape)):
        want = "x".join("N" if s is None else str(s) for s in shape)
        raise ValueError(f"{name}: expected shape {want}, got {'x'.join(map(str, arr.shape))}")
    arr = np.ascontiguousarray(arr)
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class PoseSequence:
    """Landmarks of one lifter over one clip (see module docstring for units)."""

    t_ms: np.ndarray
    xy_px: np.ndarray
    z_px: np.ndarray
    world_m: np.ndarray
    visibility: np.ndarray
    presence: np.ndarray
    frame_w: int
    frame_h: int
    source: str = ""
    model: str = ""
    meta: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        t = _as(self.t_ms, np.float64, "t_ms", (None,))
        n = t.shape[0]
        object.__setattr__(self, "t_ms", t)
        object.__setattr__(self, "xy_px", _as(self.xy_px, np.float64, "xy_px", (n, N_LANDMARKS, 2)))
        object.__setattr__(self, "z_px", _as(self.z_px, np.float64, "z_px", (n, N_LANDMARKS)))
        object.__setattr__(self, "world_m", _as(self.world_m, np.float64, "world_m", (n, N_LANDMARKS, 3)))
        object.__setattr__(self, "visibility", _as(self.visibility, np.float64, "visibility", (n, N_LANDMARKS)))
        object.__setattr__(self, "presence", _as(self.presence, np.float64, "presence", (n, N_LANDMARKS)))
        if not np.all(np.isfinite(t)):
            raise ValueError("t_ms: expected finite timestamps, got NaN or inf")
        if n > 1 and not np.all(np.diff(t) > 0):
            raise ValueError("t_ms: expected strictly increasing timestamps")
        if int(self.frame_w) <= 0 or int(self.frame_h) <= 0:
            raise ValueError(f"frame size: expected positive width and height, got {self.frame_w}x{self.frame_h}")
        object.__setattr__(self, "frame_w", int(self.frame_w))
        object.__setattr__(self, "frame_h", int(self.frame_h))
        object.__setattr__(self, "meta", dict(self.meta))

    # ------------------------------------------------------------------ views
    @property
    def n_frames(self) -> int:
        return int(self.t_ms.shape[0])

    @property
    def duration_ms(self) -> float:
        return float(self.t_ms[-1] - self.t_ms[0]) if self.n_frames > 1 else 0.0

    @property
    def fps_est(self) -> float:
        """Frame rate from the timestamps: of the median interval, or of the densest sampling when the
        adaptive stride thinned still phases (:func:`sampling_interval_ms`; NaN with fewer than 2 frames)."""
        if self.n_frames < 2:
            return float("nan")
        return float(1000.0 / sampling_interval_ms(self.t_ms))

    @property
    def detected(self) -> np.ndarray:
        """Per frame: True where a lifter was found (hips and shoulders not NaN)."""
        core = [Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER, Landmark.LEFT_HIP, Landmark.RIGHT_HIP]
        return ~np.isnan(self.xy_px[:, core, 0]).all(axis=1)

    @property
    def detection_rate(self) -> float:
        return float(self.detected.mean()) if self.n_frames else 0.0

    def point(self, lm: Landmark) -> np.ndarray:
        """(N, 2) pixel track of one landmark."""
        return self.xy_px[:, int(lm), :]

    def with_(self, **changes: Any) -> "PoseSequence":
        """A copy with some fields replaced (validated again)."""
        return replace(self, **changes)

    # ------------------------------------------------------------------ IO
    def save(self, path: str | Path) -> Path:
        """Write a compressed ``.npz`` (arrays plus a JSON header)."""
        path = Path(path)
        header = {
            "schema_version": SCHEMA_VERSION,
            "frame_w": self.frame_w,
            "frame_h": self.frame_h,
            "source": self.source,
            "model": self.model,
            "meta": self.meta,
        }
        with open(path, "wb") as fh:
            np.savez_compressed(
                fh,
                t_ms=self.t_ms,
                xy_px=self.xy_px,
                z_px=self.z_px,
                world_m=self.world_m,
                visibility=self.visibility,
                presence=self.presence,
                header=np.array(json.dumps(header, default=str)),
            )
        return path

    @classmethod
    def load(cls, path: str | Path) -> "PoseSequence":
        path = Path(path)
        try:
            with np.load(path, allow_pickle=False) as z:
                header = json.loads(str(z["header"]))
                arrays = {k: z[k] for k in ("t_ms", "xy_px", "z_px", "world_m", "visibility", "presence")}
        except (OSError, KeyError, ValueError) as exc:
            raise ValueError(f"{path}: expected a formcheck pose .npz, got an unreadable file ({exc})") from exc
        if header.get("schema_version") != SCHEMA_VERSION:
            raise ValueError(
                f"{path}: expected pose schema version {SCHEMA_VERSION}, got {header.get('schema_version')}"
            )
        return cls(
            **arrays,
            frame_w=header["frame_w"],
            frame_h=header["frame_h"],
            source=header.get("source", ""),
            model=header.get("model", ""),
            meta=header.get("meta", {}),
        )

    def to_csv(self, path: str | Path) -> Path:
        """Tidy CSV: one row per frame and landmark (empty cells where NaN)."""
        path = Path(path)
        cols = ["frame", "t_ms", "landmark", "x_px", "y_px", "z_px", "wx_m", "wy_m", "wz_m", "visibility", "presence"]

        def f(v: float) -> str:
            return "" if not np.isfinite(v) else f"{v:.4f}"

        with open(path, "w", newline="") as fh:
            w = csv_writer(fh)
            w.writerow(cols)
            for i in range(self.n_frames):
                t = f"{self.t_ms[i]:.3f}"
                for lm in Landmark:
                    j = int(lm)
                    x, y = self.xy_px[i, j]
                    wx, wy, wz = self.world_m[i, j]
                    w.writerow([i, t, lm.name.lower(), f(x), f(y), f(self.z_px[i, j]), f(wx), f(wy), f(wz),
                                f(self.visibility[i, j]), f(self.presence[i, j])])
        return path

    @classmethod
    def empty_rows(cls, n: int) -> dict[str, np.ndarray]:
        """NaN arrays for ``n`` frames with no lifter (scores 0)."""
        return {
            "xy_px": np.full((n, N_LANDMARKS, 2), np.nan),
            "z_px": np.full((n, N_LANDMARKS), np.nan),
            "world_m": np.full((n, N_LANDMARKS, 3), np.nan),
            "visibility": np.zeros((n, N_LANDMARKS)),
            "presence": np.zeros((n, N_LANDMARKS)),
        }
