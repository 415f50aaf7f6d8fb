"""Run MediaPipe Pose on the synthetic samples and compare with their ground truth.

Usage::

    python -m tools.synth.check_samples [--samples sample_videos] [--tests-data tests/data]
                                        [--model full] [--markdown]

For every ``<name>.mp4`` with a ``<name>.json`` beside it, runs the Tasks API
``PoseLandmarker`` in VIDEO mode on the decoded frames (one pose) and reports:

- detection rate: frames with a pose / all frames;
- mean pixel error over shoulders, hips, knees, ankles and wrists on detected
  frames, tolerant to left/right label swaps (each frame takes the better of
  the labelled and the swapped assignment; the swap rate is reported);
- the same error over landmarks the renderer marks visible only;
- trunk angle MAE (image plane, shoulder midpoint over hip midpoint, degrees)
  over rep frames;
- per rep, ground truth against MediaPipe: largest trunk lean, depth, knee
  width ratio and early hip-rise ratio (:func:`rep_measures`).

The still image ``synth_person_side.png`` is checked in IMAGE mode.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from formcheck.landmarks import Landmark

REPO = Path(__file__).resolve().parents[2]
L = Landmark
#: Joints scored, as (left, right) pairs.
SCORED = ((L.LEFT_SHOULDER, L.RIGHT_SHOULDER), (L.LEFT_HIP, L.RIGHT_HIP), (L.LEFT_KNEE, L.RIGHT_KNEE),
          (L.LEFT_ANKLE, L.RIGHT_ANKLE), (L.LEFT_WRIST, L.RIGHT_WRIST))


@dataclass(frozen=True)
class CheckResult:
    """Agreement of MediaPipe with one clip's ground truth (pixels, degrees)."""

    name: str
    n_frames: int
    detection_rate: float
    mean_px: float
    mean_visible_px: float
    per_joint_px: dict[str, float]
    swap_rate: float
    trunk_mae_deg: float
    torso_px: float
    reps: tuple[tuple[tuple[str, ...], dict[str, float], dict[str, float]], ...] = ()


def _landmarker(model: Path, video: bool) -> Any:
    from mediapipe.tasks.python import BaseOptions, vision

    mode = vision.RunningMode.VIDEO if video else vision.RunningMode.IMAGE
    return vision.PoseLandmarker.create_from_options(
        vision.PoseLandmarkerOptions(base_options=BaseOptions(model_asset_path=str(model)), running_mode=mode,
                                     num_poses=1))


def _to_px(result: Any, w: int, h: int) -> np.ndarray | None:
    if not result.pose_landmarks:
        return None
    return np.array([[lm.x * w, lm.y * h] for lm in result.pose_landmarks[0]])


def _trunk_deg(xy: np.ndarray, facing_sign: float) -> float:
    sm = 0.5 * (xy[L.LEFT_SHOULDER] + xy[L.RIGHT_SHOULDER])
    hm = 0.5 * (xy[L.LEFT_HIP] + xy[L.RIGHT_HIP])
    d = sm - hm
    return float(np.degrees(np.arctan2(facing_sign * d[0], -d[1])))


def compare(name: str, truth_xy: np.ndarray, visible: np.ndarray, pred: list[np.ndarray | None],
            in_rep: np.ndarray, facing_sign: float) -> CheckResult:
    """Score predictions ``pred`` (per frame (33, 2) or None) against ``truth_xy`` (N, 33, 2)."""
    n = len(pred)
    errs, vis_errs, swaps, trunk = [], [], [], []
    per_joint: dict[str, list[float]] = {a.name.lower().removeprefix("left_"): [] for a, _ in SCORED}
    for i, p in enumerate(pred):
        if p is None:
            continue
        same = np.array([[np.linalg.norm(p[a] - truth_xy[i, a]), np.linalg.norm(p[b] - truth_xy[i, b])]
                         for a, b in SCORED])
        swap = np.array([[np.linalg.norm(p[a] - truth_xy[i, b]), np.linalg.norm(p[b] - truth_xy[i, a])]
                         for a, b in SCORED])
        swapped = swap.sum() < same.sum()
        e = swap if swapped else same
        swaps.append(swapped)
        errs.extend(e.ravel())
        for (a, b), row in zip(SCORED, e):
            per_joint[a.name.lower().removeprefix("left_")].extend(row)
            for lm, err in zip((a, b), row):
                if visible[i, lm]:
                    vis_errs.append(err)
        if in_rep[i]:
            trunk.append(abs(_trunk_deg(p, facing_sign) - _trunk_deg(truth_xy[i], facing_sign)))
    det = sum(p is not None for p in pred)
    sm = 0.5 * (truth_xy[:, L.LEFT_SHOULDER] + truth_xy[:, L.RIGHT_SHOULDER])
    hm = 0.5 * (truth_xy[:, L.LEFT_HIP] + truth_xy[:, L.RIGHT_HIP])

    def mean(x: list[Any]) -> float:
        return float(np.mean(x)) if x else float("nan")

    return CheckResult(name, n, det / n if n else 0.0, mean(errs), mean(vis_errs),
                       {k: mean(v) for k, v in per_joint.items()}, mean(swaps), mean(trunk),
                       float(np.linalg.norm(sm[0] - hm[0])))


def rep_measures(xy: np.ndarray, t_ms: np.ndarray, reps: list[dict[str, Any]], facing_sign: float,
                 deep: np.ndarray) -> list[dict[str, float]]:
    """Per rep, from image landmarks (N, 33, 2): the numbers the fault rules look at.

    ``trunk_max_deg``: largest 2-D trunk lean; ``depth_thigh``: lowest hip
    midpoint relative to the knee midpoint in thigh lengths (+ = hip below the
    knee); ``knee_ratio_min``: narrowest knee width over ankle width;
    ``hip_rise_ratio``: hip rise over shoulder rise in the first 40% of the
    ascent / pull. NaN where landmarks are missing.
    """
    def mid(a: Landmark, b: Landmark) -> np.ndarray:
        return 0.5 * (xy[:, a] + xy[:, b])

    hip, knee, sh = mid(L.LEFT_HIP, L.RIGHT_HIP), mid(L.LEFT_KNEE, L.RIGHT_KNEE), mid(L.LEFT_SHOULDER, L.RIGHT_SHOULDER)
    thigh = np.linalg.norm(hip - knee, axis=1)
    d = sh - hip
    trunk = np.degrees(np.arctan2(facing_sign * d[:, 0], -d[:, 1]))
    knee_w = np.abs(xy[:, L.LEFT_KNEE, 0] - xy[:, L.RIGHT_KNEE, 0])
    ankle_w = np.abs(xy[:, L.LEFT_ANKLE, 0] - xy[:, L.RIGHT_ANKLE, 0])
    out = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for rep in reps:
            m = (t_ms >= rep["start_ms"]) & (t_ms < rep["end_ms"])
            up = next(p for p in rep["phases"] if p["name"] in ("ascent", "pull"))
            early = (t_ms >= up["start_ms"]) & (t_ms < up["start_ms"] + 0.4 * (up["end_ms"] - up["start_ms"]))
            idx = np.flatnonzero(early)
            rise = float("nan")
            if len(idx) > 1:
                i0, i1 = idx[0], idx[-1]
                rise = float((hip[i0, 1] - hip[i1, 1]) / (sh[i0, 1] - sh[i1, 1]))
            out.append({
                "trunk_max_deg": float(np.nanmax(trunk[m])),
                "depth_thigh": float(np.nanmax((hip[m, 1] - knee[m, 1]) / thigh[m])),
                "knee_ratio_min": float(np.nanmin(knee_w[m & deep] / ankle_w[m & deep])) if (m & deep).any()
                else float("nan"),
                "hip_rise_ratio": rise,
            })
    return out


def check_video(mp4: Path, model: Path) -> CheckResult:
    import av
    import mediapipe as mp

    truth = json.loads(mp4.with_suffix(".json").read_text(encoding="utf-8"))
    fr = truth["frames"]
    xy = np.array(fr["xy_px"], dtype=float)
    visible = np.array(fr.get("visible", np.ones(xy.shape[:2])), dtype=bool)
    in_rep = np.array(fr["rep"]) >= 0
    facing = 1.0 if truth["camera"]["facing"] == "right" else -1.0
    t_ms = np.array(fr["t_ms"], dtype=float)
    lmk = _landmarker(model, video=True)
    pred: list[np.ndarray | None] = []
    try:
        with av.open(str(mp4)) as container:
            for i, frame in enumerate(container.decode(video=0)):
                rgb = frame.to_ndarray(format="rgb24")
                res = lmk.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)),
                                           int(round(t_ms[min(i, len(t_ms) - 1)])))
                pred.append(_to_px(res, rgb.shape[1], rgb.shape[0]))
    finally:
        lmk.close()
    if len(pred) != len(xy):
        raise ValueError(f"{mp4}: expected {len(xy)} frames from the ground truth, decoded {len(pred)}")
    mp_xy = np.array([p if p is not None else np.full((len(Landmark), 2), np.nan) for p in pred])
    deep = np.array(fr["knee_deg"], dtype=float) < 110.0
    truth_reps = rep_measures(xy, t_ms, truth["reps"], facing, deep)
    mp_reps = rep_measures(mp_xy, t_ms, truth["reps"], facing, deep)
    result = compare(mp4.stem, xy, visible, pred, in_rep, facing)
    return replace(result, reps=tuple((tuple(r["faults"]), g, m) for r, g, m in zip(truth["reps"], truth_reps, mp_reps)))


def check_image(png: Path, model: Path) -> CheckResult:
    import cv2
    import mediapipe as mp

    truth = json.loads(png.with_suffix(".json").read_text(encoding="utf-8"))
    rgb = cv2.imread(str(png))[:, :, ::-1]
    lmk = _landmarker(model, video=False)
    try:
        res = lmk.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb)))
    finally:
        lmk.close()
    xy = np.array(truth["xy_px"], dtype=float)[None]
    vis = np.array(truth["visible"], dtype=bool)[None]
    facing = 1.0 if truth["camera"]["facing"] == "right" else -1.0
    return compare(png.stem, xy, vis, [_to_px(res, rgb.shape[1], rgb.shape[0])], np.array([True]), facing)


def table(results: list[CheckResult]) -> str:
    """Markdown table of the results."""
    joints = [a.name.lower().removeprefix("left_") for a, _ in SCORED]
    head = ("| clip | frames | detected | mean px (" + "/".join(joints) + ") | visible-only px | "
            "L/R swaps | trunk MAE deg | torso px |")
    lines = [head, "|" + "---|" * 8]
    for r in results:
        pj = "/".join(f"{r.per_joint_px[j]:.1f}" for j in joints)
        lines.append(f"| {r.name} | {r.n_frames} | {100 * r.detection_rate:.0f}% | {r.mean_px:.1f} ({pj}) | "
                     f"{r.mean_visible_px:.1f} | {100 * r.swap_rate:.0f}% | {r.trunk_mae_deg:.1f} | {r.torso_px:.0f} |")
    return "\n".join(lines)


def rep_table(results: list[CheckResult]) -> str:
    """Markdown table of per-rep measures: ground truth / MediaPipe."""
    keys = ("trunk_max_deg", "depth_thigh", "knee_ratio_min", "hip_rise_ratio")
    lines = ["| clip | rep | faults | " + " | ".join(keys) + " |", "|" + "---|" * (3 + len(keys))]
    for r in results:
        for k, (faults, g, m) in enumerate(r.reps):
            cells = " | ".join(f"{g[x]:.2f} / {m[x]:.2f}" for x in keys)
            lines.append(f"| {r.name} | {k + 1} | {', '.join(faults) or 'good'} | {cells} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    from formcheck.models import resolve_model

    ap = argparse.ArgumentParser(prog="python -m tools.synth.check_samples", description=__doc__.split("\n")[0])
    ap.add_argument("--samples", default=str(REPO / "sample_videos"))
    ap.add_argument("--tests-data", default=str(REPO / "tests" / "data"))
    ap.add_argument("--model", default="full", help="lite, full, heavy or a .task path (formcheck.models)")
    ap.add_argument("--only", nargs="*", default=None, help="file stems to check")
    a = ap.parse_args(argv)
    model = resolve_model(a.model)
    videos = sorted(Path(a.samples).glob("*.mp4")) + sorted(Path(a.tests_data).glob("two_people.mp4"))
    images = sorted(Path(a.tests_data).glob("synth_person_side.png"))
    results = []
    for path in videos + images:
        if a.only and path.stem not in a.only:
            continue
        if not path.with_suffix(".json").is_file():
            continue
        res = check_video(path, model) if path.suffix == ".mp4" else check_image(path, model)
        results.append(res)
        print(f"{path.name}: detected {100 * res.detection_rate:.0f}%, mean {res.mean_px:.1f} px", flush=True)
    print()
    print(f"model: {model.name}")
    print(table(results))
    print()
    print("Per rep, ground truth / MediaPipe:")
    print()
    print(rep_table(results))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
