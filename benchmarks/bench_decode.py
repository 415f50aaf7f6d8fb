"""What decoding a 1080p clip costs, and what encoding the annotated video costs, per frame.

Run from the repository root (under ``nice`` on a shared machine; nothing else heavy at the same time)::

    nice python benchmarks/bench_decode.py                     # the 60 s 1080p30 clip of bench_analyze.py
    nice python benchmarks/bench_decode.py --clip my.mp4 --frames 600

Rows (CPU ms per frame counts every thread of the process; wall ms per frame is elapsed time):

- ``decode, threads <type>``: PyAV decoding only, with the codec's thread type as PyAV sets it by
  default, then ``SLICE``, ``FRAME`` and ``AUTO``.
- ``decode, skip non-reference``: ``skip_frame = NONREF`` (frames no other frame refers to are not
  decoded; which ones they are is the encoder's choice, so the frames the frame-rate cap keeps
  cannot be chosen this way); the ``frames`` column says how many came out.
- ``decode + shrink to 640 in swscale``: what the pose pass does (:func:`formcheck.video.iter_frames`
  with ``max_side=640``: the area filter inside the colour conversion).
- ``decode + RGB at full size + cv2 INTER_AREA``: converting first and shrinking after.
- ``frame store write + read``: what :mod:`formcheck.framestore` adds per analysed 640-px frame.
- ``encode 640-px, <preset>``: the annotated video's H.264 encoder (crf 23) on the shrunk frames.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DEFAULT_CLIP = Path(tempfile.gettempdir()) / "formcheck-bench" / "bench_60s_1080p30.mp4"


def _timed(fn):  # noqa: ANN001, ANN202
    c, w = time.process_time(), time.perf_counter()
    n = fn()
    return n, time.process_time() - c, time.perf_counter() - w


def decode(path: Path, limit: int, thread_type: str | None = None, skip: str | None = None) -> int:
    import av

    with av.open(str(path)) as c:
        s = c.streams.video[0]
        if thread_type:
            s.thread_type = thread_type
        if skip:
            s.codec_context.skip_frame = skip
        n = 0
        for _ in c.decode(s):
            n += 1
            if n >= limit:
                break
    return n


def main(argv: list[str] | None = None) -> int:
    import av
    import cv2
    import numpy as np

    from formcheck import video
    from formcheck.framestore import FrameStore

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, default=DEFAULT_CLIP, help="default: build it with bench_analyze.py")
    ap.add_argument("--frames", type=int, default=900)
    args = ap.parse_args(argv)
    if not args.clip.is_file():
        print(f"error: no clip {args.clip} (run benchmarks/bench_analyze.py once, or pass --clip)")
        return 2
    info = video.probe(args.clip)
    with av.open(str(args.clip)) as c:
        default_type = str(c.streams.video[0].thread_type)
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {os.cpu_count()} cores; {args.clip.name} "
          f"{info.width}x{info.height} {info.fps_nominal:g} fps; first {args.frames} frames; "
          f"load average {os.getloadavg()[0]:.1f}")
    print("| run | frames | CPU ms/frame | wall ms/frame |")
    print("|---|---|---|---|")

    def row(name: str, n: int, cpu: float, wall: float) -> None:
        print(f"| {name} | {n} | {1000 * cpu / max(n, 1):.2f} | {1000 * wall / max(n, 1):.2f} |", flush=True)

    row(f"decode, threads {default_type} (PyAV default)", *_timed(lambda: decode(args.clip, args.frames)))
    for tt in ("SLICE", "FRAME", "AUTO"):
        row(f"decode, threads {tt}", *_timed(lambda: decode(args.clip, args.frames, tt)))
    n_all = decode(args.clip, args.frames)
    n_skip, cpu, wall = _timed(lambda: decode(args.clip, args.frames, skip="NONREF"))
    row(f"decode, skip non-reference ({n_skip} of the first {n_all} came out)", n_skip, cpu, wall)

    def shrink_swscale() -> int:
        return sum(1 for _, _ in zip(video.iter_frames(args.clip, max_side=640), range(args.frames)))

    def shrink_cv2() -> int:
        n = 0
        for fr, _ in zip(video.iter_frames(args.clip), range(args.frames)):
            h, w = fr.rgb.shape[:2]
            s = 640 / max(h, w)
            cv2.resize(fr.rgb, (round(w * s), round(h * s)), interpolation=cv2.INTER_AREA)
            n += 1
        return n

    row("decode + shrink to 640 in swscale (the pose pass)", *_timed(shrink_swscale))
    row("decode + RGB at full size + cv2 INTER_AREA", *_timed(shrink_cv2))
    small = [fr for fr, _ in zip(video.iter_frames(args.clip, max_side=640), range(min(args.frames, 300)))]

    def store_rw() -> int:
        with FrameStore() as st:
            for fr in small:
                st.put(fr.index, fr.t_ms, np.ascontiguousarray(fr.rgb))
            st.finish()
            for _ in st.frames([fr.t_ms for fr in small]):
                pass
        return len(small)

    row("frame store write + read (640 px)", *_timed(store_rw))
    for preset in ("veryfast", "superfast", "ultrafast"):
        with tempfile.TemporaryDirectory() as d:
            out = Path(d) / "o.mp4"

            def enc() -> int:
                with video.VideoWriter(out, 30, (small[0].width, small[0].height), preset=preset) as vw:
                    for fr in small:
                        vw.write(np.array(fr.rgb), t_ms=fr.t_ms)
                return len(small)

            n, cpu, wall = _timed(enc)
            row(f"encode 640-px, {preset} ({out.stat().st_size / n / 1000:.1f} kB/frame)", n, cpu, wall)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
