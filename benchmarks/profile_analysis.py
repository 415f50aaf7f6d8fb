"""Where the time after the pose pass goes: ``analyze_video`` under cProfile with the pose pass cached.

Run from the repository root (after ``benchmarks/bench_analyze.py`` built its clips)::

    nice python benchmarks/profile_analysis.py                       # the 60 s 1080p30 bench clip
    nice python benchmarks/profile_analysis.py --clip my.mp4 --top 40
    FORMCHECK_BENCH_CODE=../main nice python benchmarks/profile_analysis.py   # another checkout's code

The first run extracts the clip's poses (full model, silhouettes, as ``formcheck analyze``) and keeps
them in ``--workdir`` (a pickle next to the clip, never in the repository); later runs reuse them,
so only the analysis, bar check, reports, images and annotated video are timed. With cached poses the
pose pass writes no frame store, so the later steps decode the clip as they do when the store cannot
help; ``--store`` fills a store from one decoding pass first (what the pose pass does) to time the
steps as ``formcheck analyze`` runs them. Prints the stage times and the functions with the most
cumulative time (cProfile slows Python code down; read the shares, not the absolute seconds).
"""

from __future__ import annotations

import argparse
import cProfile
import hashlib
import os
import pickle
import pstats
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = Path(os.environ.get("FORMCHECK_BENCH_CODE", REPO))
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

DEFAULT_CLIP = Path(tempfile.gettempdir()) / "formcheck-bench" / "bench_60s_1080p30.mp4"


def main(argv: list[str] | None = None) -> int:
    import numpy as np

    import formcheck
    from formcheck import pipeline, video

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP)
    ap.add_argument("--top", type=int, default=25)
    ap.add_argument("--no-video", action="store_true")
    ap.add_argument("--store", action="store_true", help="fill a frame store first, as the pose pass does")
    args = ap.parse_args(argv)
    if not args.clip.is_file():
        print(f"error: no clip {args.clip} (run benchmarks/bench_analyze.py once, or pass --clip)")
        return 2
    cache = args.clip.with_name(args.clip.name + ".poses.pkl")
    if cache.is_file():
        res = pickle.loads(cache.read_bytes())
    else:
        res = pipeline.extract_pose(args.clip, model="full", keep_masks=True)
        cache.write_bytes(pickle.dumps(res))

    def fake_pose(path, frames=None, **kw):  # noqa: ANN001, ANN003, ANN202
        if frames is not None and args.store:
            keep = set(np.round(res.sequence.t_ms, 6))
            for fr in video.iter_frames(path, max_side=max(res.sequence.frame_w, res.sequence.frame_h)):
                if round(fr.t_ms, 6) in keep:
                    frames.put(fr.index, fr.t_ms, np.ascontiguousarray(fr.rgb))
                else:
                    frames.note_decoded(fr.t_ms)
            frames.finish()
        return res

    pipeline.extract_pose = fake_pose
    marks: list[tuple[str, float]] = []

    def progress(stage: str, frac: float) -> None:
        if not marks or marks[-1][0] != stage:
            marks.append((stage, time.perf_counter()))

    prof = cProfile.Profile()
    with tempfile.TemporaryDirectory(prefix="profile-analysis-") as out:
        t0 = time.perf_counter()
        prof.enable()
        rep = pipeline.analyze_video(args.clip, out_dir=out, progress=progress, make_video=not args.no_video)
        prof.disable()
        wall = time.perf_counter() - t0
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; code {Path(formcheck.__file__).parents[1]}; "
          f"{args.clip.name}; load average {os.getloadavg()[0]:.1f}; store filled first: {args.store}")
    ends = [t for _, t in marks[1:]] + [t0 + wall]
    print("stages (s, under cProfile):", ", ".join(f"{s} {e - t:.1f}" for (s, t), e in zip(marks, ends)),
          f"; total {wall:.1f}; reps {rep.report.rep_count}; report sha256 "
          f"{hashlib.sha256(rep.report.to_json().encode()).hexdigest()[:16]}")
    pstats.Stats(prof).sort_stats("cumulative").print_stats(args.top)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
