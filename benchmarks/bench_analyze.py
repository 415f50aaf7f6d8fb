"""Time to report: ``formcheck analyze`` with its default outputs on a 60 s 1080p clip, stage by stage.

Run from the repository root (heavy: under ``nice`` on a shared machine, one at a time)::

    nice python benchmarks/bench_analyze.py                 # builds the clips once into --workdir
    nice python benchmarks/bench_analyze.py --clip my.mp4   # time your own clip(s) instead
    nice python benchmarks/bench_analyze.py --compare ../main   # the same clips, also with another checkout's code
    nice python benchmarks/bench_analyze.py --minutes 10 --fps 30   # memory flatness: a 10-minute 1080p30 clip

Without ``--clip`` it builds two clips from the bundled ``sample_videos/deadlift_side_good.mp4``
(its first 15 s scaled to 1080 lines and padded to 1920x1080, H.264, then that segment repeated by
copying its packets to 60 s or ``--minutes``): one at 30 fps and one at 60 fps (each source frame
shown for two 1/60 s frames). (Before 2026-12-08 the whole minute was encoded, the sample looping
every 15.2 s; encoding 1080p took most of an hour on the loaded machine.) They go to ``--workdir`` (default
``/tmp/formcheck-bench``), are reused by later runs and are never part of the repository.

Each clip is analysed once by :func:`formcheck.pipeline.analyze_video` with the defaults of
``formcheck analyze`` (full model, silhouettes, JSON/Markdown/HTML reports, flag images, annotated
video; ``--every-frame`` to turn the frame-rate cap off) in this process. The stages come from its
progress callback: decode+pose (the pose pass), analysis (cleaning to rules, the deadlift bar check,
CSV and plot), reports (flag images and the report files) and video (the annotated video). The
real-time factor is video seconds per wall-clock second (above 1 is faster than real time). The CPU
columns (the child process, all threads) depend less on what else runs on the machine than wall time does.

Each clip is analysed in a fresh child process (so one run's imports and caches do not help the
next); ``peak MB`` is the child's largest resident memory, sampled every 20 ms. ``--compare DIR``
runs every clip with the ``formcheck`` package of another checkout too, right before this one's,
so both rows see the same machine load.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import threading
import platform
import sys
import tempfile
import time
from fractions import Fraction
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CODE = Path(os.environ.get("FORMCHECK_BENCH_CODE", REPO))  # whose formcheck a --compare child imports
if str(CODE) not in sys.path:
    sys.path.insert(0, str(CODE))

SAMPLE = REPO / "sample_videos" / "deadlift_side_good.mp4"
STAGES = (("pose", "decode+pose"), ("analysis", "analysis"), ("images", "reports"), ("video", "video"))


def build_clip(dst: Path, fps: int, seconds: float = 60.0, size: tuple[int, int] = (1920, 1080)) -> Path:
    """Loop :data:`SAMPLE` to ``seconds``, scale it to ``size`` (aspect kept, padded) and encode at ``fps``."""
    import av
    import cv2
    import numpy as np

    from formcheck import video

    if dst.is_file():
        return dst
    src = [f.rgb for f in video.iter_frames(SAMPLE)]
    w, h = size
    sh, sw = src[0].shape[:2]
    scale = min(w / sw, h / sh)
    nw, nh = int(round(sw * scale)) // 2 * 2, int(round(sh * scale)) // 2 * 2
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    canvas = np.zeros((h, w, 3), np.uint8)
    tmp = dst.with_name(dst.name + ".part.mp4")
    out = av.open(str(tmp), "w")
    stream = out.add_stream("libx264", rate=Fraction(fps), options={"preset": "veryfast", "crf": "20", "g": str(2 * fps)})
    stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
    n = int(round(seconds * fps))
    repeat = max(1, fps // 30)  # the sample is 30 fps: at 60 fps each picture is shown twice
    last = -1
    for i in range(n):
        k = (i // repeat) % len(src)
        if k != last:
            canvas[y0:y0 + nh, x0:x0 + nw] = cv2.resize(src[k], (nw, nh), interpolation=cv2.INTER_LINEAR)
            last = k
        frame = av.VideoFrame.from_ndarray(canvas, format="rgb24")
        frame.pts = i
        frame.time_base = Fraction(1, fps)
        for packet in stream.encode(frame):
            out.mux(packet)
    for packet in stream.encode(None):
        out.mux(packet)
    out.close()
    tmp.replace(dst)
    return dst


def loop_clip(src: Path, dst: Path, times: int) -> Path:
    """``src`` played ``times`` times in a row, packets copied (no re-encoding: a 10-minute clip in seconds).

    ``src`` starts with a key frame (as :func:`build_clip` makes it), so every copy decodes on its own."""
    import av

    if dst.is_file():
        return dst
    tmp = dst.with_name(dst.name + ".part.mp4")
    with av.open(str(src)) as inp, av.open(str(tmp), "w") as out:
        vin = inp.streams.video[0]
        vout = out.add_stream_from_template(vin)
        span = None
        for k in range(times):
            inp.seek(0)
            last = 0
            for packet in inp.demux(vin):
                if packet.dts is None:
                    continue
                shift = 0 if k == 0 else k * span
                last = max(last, (packet.pts or 0) + (packet.duration or 0))
                packet.pts = None if packet.pts is None else packet.pts + shift
                packet.dts += shift
                packet.stream = vout
                out.mux(packet)
            if span is None:
                span = last
    tmp.replace(dst)
    return dst


class PeakRss:
    """Largest resident set size of this process while in the ``with`` block, sampled every 20 ms (MB)."""

    def __enter__(self) -> "PeakRss":
        import psutil

        self._proc = psutil.Process()
        self.peak_mb = self._proc.memory_info().rss / 1e6
        self._stop = threading.Event()
        self._th = threading.Thread(target=self._run, daemon=True)
        self._th.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 1e6)

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._th.join()
        self.peak_mb = max(self.peak_mb, self._proc.memory_info().rss / 1e6)


def time_clip(path: Path, every_frame: bool, model: str, max_stride: int | None = None) -> dict:
    from formcheck import video
    from formcheck.pipeline import analyze_video

    marks: list[tuple[str, float]] = []
    cpu_marks: dict[str, float] = {}

    def progress(stage: str, frac: float) -> None:
        if not marks or marks[-1][0] != stage:
            marks.append((stage, time.perf_counter()))
            cpu_marks[stage] = time.process_time()

    import formcheck.pipeline as pipeline_mod

    store_bytes: list[int] = []

    class MeasuredStore(pipeline_mod.FrameStore):  # records the frame store's disk use when it is closed
        def close(self) -> None:
            store_bytes.append(self.bytes_used)
            super().close()

    pipeline_mod.FrameStore = MeasuredStore
    if max_stride is not None:  # the pose pass with another adaptive stride than the packaged one
        import functools

        pipeline_mod.extract_pose = functools.partial(pipeline_mod.extract_pose, max_stride=max_stride)
    info = video.probe(path)
    with tempfile.TemporaryDirectory(prefix="bench-analyze-") as out:
        with PeakRss() as mem:
            t0, c0 = time.perf_counter(), time.process_time()
            res = analyze_video(path, model=model, out_dir=out, progress=progress, every_frame=every_frame)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        size = video.probe(res.files["video"]).size if "video" in res.files else None
    starts = dict((s, t) for s, t in marks)
    order = [s for s, _ in marks]
    stage_s = {}
    for name, _ in STAGES:
        if name in starts:
            nxt = order[order.index(name) + 1] if order.index(name) + 1 < len(order) else None
            stage_s[name] = (starts[nxt] if nxt else t0 + wall) - starts[name]
    return {
        "clip": path.name, "size": f"{info.width}x{info.height}", "fps": info.fps_nominal,
        "video_s": (info.duration_ms or 0.0) / 1000.0, "wall_s": wall, "stages": stage_s, "cpu_s": cpu,
        "pose_cpu_s": cpu_marks.get("analysis", c0 + cpu) - cpu_marks.get("pose", c0),
        "frames": res.pose.stats.get("frames"), "skipped": res.pose.stats.get("frames_skipped", 0),
        "strided": res.pose.stats.get("frames_strided", 0), "store_mb": sum(store_bytes) / 1e6,
        "reps": res.report.rep_count, "flags": len(res.report.flags), "video_size": size,
        "peak_mb": mem.peak_mb, "load_start": os.getloadavg()[0],
        "code_file": sys.modules["formcheck"].__file__,
    }


def run_child(clip: Path, every_frame: bool, model: str, code: Path, max_stride: int | None = None) -> dict:
    """:func:`time_clip` in a fresh interpreter importing ``formcheck`` from ``code`` (a checkout)."""
    load = os.getloadavg()[0]
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", str(clip), "--model", model]
    if every_frame:
        cmd.append("--every-frame")
    if max_stride is not None:
        cmd += ["--max-stride", str(max_stride)]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["FORMCHECK_BENCH_CODE"] = str(Path(code).resolve())
    out = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True).stdout
    row = json.loads(out.strip().splitlines()[-1])
    if not str(row["code_file"]).startswith(env["FORMCHECK_BENCH_CODE"]):
        raise RuntimeError(f"expected formcheck from {code}, got {row['code_file']}")
    row["load_start"] = load
    return row


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--clip", type=Path, action="append", help="time this clip instead of the built ones (repeat)")
    ap.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "formcheck-bench")
    ap.add_argument("--model", default="full")
    ap.add_argument("--every-frame", action="store_true", help="turn the pose pass's frame-rate cap off")
    ap.add_argument("--max-stride", type=int, default=None,
                    help="this checkout's adaptive stride (default: [pose] max_stride; 1: off); --compare rows keep "
                         "their own code's default")
    ap.add_argument("--minutes", type=float, default=1.0, help="length of the built clips (default 1)")
    ap.add_argument("--fps", type=int, action="append", help="frame rate of the built clips (repeat; default 30 and 60)")
    ap.add_argument("--compare", type=Path, action="append", default=[],
                    help="also run each clip with the formcheck package of this checkout (repeat)")
    ap.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:  # one clip in this (fresh) process, one JSON line out
        print(json.dumps(time_clip(args.child, args.every_frame, args.model, args.max_stride), default=str))
        return 0
    clips = args.clip
    if not clips:
        args.workdir.mkdir(parents=True, exist_ok=True)
        t = time.perf_counter()
        secs = 60.0 * args.minutes
        tag = f"{args.minutes:g}min" if args.minutes != 1.0 else "60s"
        if float(secs / 15.0).is_integer():  # 15 s encoded once, then looped by copying packets (4x faster)
            clips = [loop_clip(build_clip(args.workdir / f"bench_15s_1080p{fps}.mp4", fps, seconds=15.0),
                               args.workdir / f"bench_{tag}_1080p{fps}.mp4", int(secs / 15.0))
                     for fps in (args.fps or (30, 60))]
        else:
            clips = [build_clip(args.workdir / f"bench_{tag}_1080p{fps}.mp4", fps, seconds=secs)
                     for fps in (args.fps or (30, 60))]
        print(f"clips ready in {args.workdir} ({time.perf_counter() - t:.0f} s)")
    print(f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; {platform.processor() or platform.machine()}, "
          f"{os.cpu_count()} cores; model {args.model}; every frame: {args.every_frame}; "
          f"load average {os.getloadavg()[0]:.1f}")
    head = "| clip | code | load | size | fps | frames analysed | wall s | real-time factor | " + \
        " | ".join(f"{label} s" for _, label in STAGES) + " | CPU s | decode+pose CPU s | peak MB | store MB | reps | flags | video |"
    print(head)
    print("|" + "---|" * (head.count("|") - 1))
    codes = [*args.compare, REPO]
    for clip in clips:
        for code in codes:
            r = run_child(clip, args.every_frame, args.model, code, args.max_stride if code == REPO else None)
            stages = " | ".join(f"{r['stages'].get(name, 0.0):.1f}" for name, _ in STAGES)
            vid = "x".join(map(str, r["video_size"])) if r["video_size"] else "-"
            fps = f"{r['fps']:.3g}" if r["fps"] else "?"
            name = "this" if code == REPO else code.name
            print(f"| {r['clip']} | {name} | {r['load_start']:.1f} | {r['size']} | {fps} | "
                  f"{r['frames']} (+{r['skipped']} skipped, {r.get('strided', 0)} by the stride) | {r['wall_s']:.1f} | "
                  f"{r['video_s'] / r['wall_s']:.2f}x | {stages} | {r['cpu_s']:.1f} | {r['pose_cpu_s']:.1f} | "
                  f"{r['peak_mb']:.0f} | {r.get('store_mb', float('nan')):.0f} | {r['reps']} | {r['flags']} | "
                  f"{vid} |", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
