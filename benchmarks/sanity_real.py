"""The pre-judging clip checks (formcheck/sanity.py) on the labelled real clips.

Run from the repository root with the pose cache filled (a clip whose pose is
not cached is listed as such and skipped, never extracted, unless ``--extract``)::

    nice python benchmarks/sanity_real.py --cache /path/to/poses

Per clip (``labels.json`` order): whether the clip is labelled usable, the
problems found (none = ``ok``) and the measures behind them: the median body
axis (feet to shoulders, degrees from image-up), the share of frames reading
upside down / sideways, the shares of frames with a knee / an ankle in the picture, the
upright time (ms) and the highest hip (leg lengths). The summary says how
many usable clips tripped a check (it should be none) and how many unusable
ones did.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_LIFTS = Path(os.environ.get("FORMCHECK_SHARED_LIFTS", REPO.parent / "shared" / "data" / "lifts"))


def _f(x: float | None, fmt: str) -> str:
    return "–" if x is None or not np.isfinite(x) else format(x, fmt)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lifts", type=Path, default=DEFAULT_LIFTS, help="folder with labels.json and videos/")
    ap.add_argument("--model", default="full")
    ap.add_argument("--cache", type=Path, default=None, help="pose cache folder (formcheck.pipeline.pose_cached)")
    ap.add_argument("--extract", action="store_true", help="extract the pose of clips not in the cache (slow)")
    args = ap.parse_args(argv)
    labels_path = args.lifts / "labels.json"
    if not labels_path.is_file():
        print(f"sanity_real: {labels_path} not found; nothing to check (skipped).")
        return 0

    from formcheck.cleaning import clean
    from formcheck.metrics import compute_frame_metrics
    from formcheck.pipeline import file_sha256, pose_cached
    from formcheck.sanity import check_clip
    from formcheck.views import classify_view

    labels = json.loads(labels_path.read_text(encoding="utf-8"))
    print("| clip | usable | result | body axis deg | upside down | sideways | knees in view | feet in view | upright ms | highest hip |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    counts = {"usable_ok": 0, "usable_tripped": 0, "unusable_ok": 0, "unusable_tripped": 0, "not_cached": 0}
    tripped_usable: list[str] = []
    for item in labels:
        clip = args.lifts / "videos" / item["file"]
        if not clip.is_file():
            print(f"| {item['file']} | {item['usable']} | missing file | | | | | | | |")
            continue
        key = f"{file_sha256(clip)[:24]}.{Path(str(args.model)).stem}.npz"
        if not args.extract and (args.cache is None or not (args.cache / key).is_file()):
            counts["not_cached"] += 1
            print(f"| {item['file']} | {item['usable']} | not cached | | | | | | | |")
            continue
        raw, _sha, _ = pose_cached(clip, model=args.model, cache_dir=args.cache)
        seq = clean(raw)
        with np.errstate(all="ignore"):
            if seq.n_frames and seq.detected.any():
                m = compute_frame_metrics(seq, classify_view(seq))
                res = check_clip(seq, m.hip_height_norm, m.trunk_deg)
            else:
                res = check_clip(seq)
        ms = res.measures
        usable = bool(item["usable"])
        key_c = ("usable_" if usable else "unusable_") + ("ok" if res.ok else "tripped")
        counts[key_c] += 1
        if usable and not res.ok:
            tripped_usable.append(item["file"])
        print(f"| {item['file']} | {usable} | {', '.join(res.codes) or 'ok'} | {_f(ms['body_axis_median_deg'], '.0f')} | "
              f"{_f(ms['upside_down_frac'], '.2f')} | {_f(ms['sideways_frac'], '.2f')} | "
              f"{_f(ms['knees_in_view_frac'], '.2f')} | {_f(ms['feet_in_view_frac'], '.2f')} | "
              f"{_f(ms['upright_ms'], '.0f')} | "
              f"{_f(ms['max_hip_height_norm'], '.2f')} |")
    print()
    print(f"usable clips: {counts['usable_ok']} pass, {counts['usable_tripped']} tripped"
          + (f" ({', '.join(tripped_usable)})" if tripped_usable else "")
          + f"; unusable clips: {counts['unusable_tripped']} tripped, {counts['unusable_ok']} pass; "
            f"not cached: {counts['not_cached']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
