"""What the head proxy's two "not assessable" rules read on the labelled real clips.

Run from the repository root (poses are extracted once and cached, as for
``benchmarks/eval_real.py``)::

    nice python benchmarks/head_proxy_inputs.py --cache /path/to/poses

Per clip: the view and yaw (:func:`formcheck.views.classify_view`), the median
of MediaPipe's nose depth minus the ears' (world landmarks, cm; + = nose
farther from the camera: the face turned away, ``MetricParams.face_away_m``),
the number of frames that read as standing tall (hips at least
``standing_hip_height_norm`` leg lengths high with the trunk within
``standing_max_trunk_deg`` of upright; the proxy needs 3), the highest hip
reading, and why the proxy is missing when it is (``FrameMetrics.notes``).
These are the figures behind change 4 in docs/accuracy.md.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_VIDEOS = REPO.parent / "shared" / "data" / "lifts" / "videos"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--videos", type=Path, default=DEFAULT_VIDEOS)
    ap.add_argument("--model", default="full")
    ap.add_argument("--cache", type=Path, default=None, help="pose cache folder (default: none, extract again)")
    args = ap.parse_args(argv)
    if not args.videos.is_dir():
        print(f"head_proxy_inputs: {args.videos} not found; nothing to read (skipped).")
        return 0

    from formcheck.cleaning import clean
    from formcheck.landmarks import Landmark as L
    from formcheck.metrics import MetricParams, compute_frame_metrics
    from formcheck.pipeline import pose_cached
    from formcheck.views import classify_view

    p = MetricParams.packaged()
    print("| clip | view | yaw deg | nose - ears depth cm | standing-tall frames | highest hip (leg) | proxy missing because |")
    print("|---|---|---|---|---|---|---|")
    for clip in sorted(args.videos.glob("*.mp4")):
        raw, _sha, _ = pose_cached(clip, model=args.model, cache_dir=args.cache)
        seq = clean(raw)
        view = classify_view(seq)
        with np.errstate(all="ignore"):
            m = compute_frame_metrics(seq, view)
            w = seq.world_m[seq.detected]
            dz = w[:, L.NOSE, 2] - 0.5 * (w[:, L.LEFT_EAR, 2] + w[:, L.RIGHT_EAR, 2])
            stand = (m.hip_height_norm >= p.standing_hip_height_norm) & (np.abs(m.trunk_deg) <= p.standing_max_trunk_deg)
            dz_cm = 100.0 * float(np.nanmedian(dz)) if np.isfinite(dz).any() else float("nan")
            hip_max = float(np.nanmax(m.hip_height_norm)) if np.isfinite(m.hip_height_norm).any() else float("nan")
        print(f"| {clip.name} | {view.view} | {view.yaw_deg:.0f} | {dz_cm:.1f} | {int(stand.sum())} | {hip_max:.2f} | "
              f"{m.notes.get('back_rounding_proxy', '')} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
