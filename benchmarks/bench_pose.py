"""Pose extraction throughput: frames/s, real-time factor, CPU per frame, peak memory.

Run from the repository root (under ``nice`` on a shared machine)::

    nice python benchmarks/bench_pose.py                 # samples + 30 s and 60 s 1080p30 clips
    nice python benchmarks/bench_pose.py --quick         # samples + a 20 s 1080p30 clip, fewer runs
    nice python benchmarks/bench_pose.py --seconds 60 --models full --workers 2
    nice python benchmarks/bench_pose.py --quick --repeat 3   # best of 3 runs per row

Notes
-----
- The long clip is made on the fly in a temporary folder: a sample video
  upscaled to 1920x1080 (pillar-boxed), looped to the requested length and
  encoded as H.264 at 30 fps.
- ``rtf`` (real-time factor) is seconds of video per second of wall time.
  ``cpu ms/f`` is CPU time of the whole process tree per frame; on a shared
  machine wall time depends on the other load, so ``rtf@2cores`` projects the
  real-time factor on two idle cores from the CPU time (``2 / cpu per frame /
  fps``). The 1-minute load average is printed with every row.
- ``--repeat N`` runs every row N times and prints the fastest (lowest wall
  time) run: on a shared or virtual machine the same CPU-bound loop can take
  30 % longer from one run to the next, and the fastest run is the one least
  disturbed.
- ``peak MB`` is the peak resident memory of the process tree (this process
  plus worker processes), sampled every 50 ms with psutil, above the RSS
  before the run. Comparing the 30 s and 60 s clips shows whether memory is
  flat in clip length.
- ``decode`` rows time decoding and colour conversion alone (no inference),
  at full size and at the default ``max_side``: the part of the budget that
  downscaling does and does not save.
- ``inference only`` rows run one VIDEO-mode landmarker (one pose, no people
  scan) over frames decoded beforehand: the model's own cost per frame.
  Together with the ``decode`` row at the default ``max_side`` it gives the
  ``ceiling`` line: the real-time factor two idle cores could reach if the
  pipeline added nothing to inference and decoding
  (``2 / ((inference + decode) CPU per frame) / fps``).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import psutil

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from formcheck import video  # noqa: E402
from formcheck.pose import DEFAULT_MAX_SIDE, extract_pose  # noqa: E402


def _cpu_s() -> float:
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


class PeakRss:
    """Samples the RSS of this process and its children until stopped."""

    def __init__(self, every_s: float = 0.05) -> None:
        self.every_s = every_s
        self.peak_bytes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _tree_rss(self) -> int:
        me = psutil.Process()
        total = me.memory_info().rss
        for child in me.children(recursive=True):
            try:
                total += child.memory_info().rss
            except psutil.Error:
                continue
        return total

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak_bytes = max(self.peak_bytes, self._tree_rss())
            self._stop.wait(self.every_s)

    def __enter__(self) -> "PeakRss":
        self.base_bytes = self._tree_rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@dataclass(frozen=True)
class Row:
    clip: str
    what: str
    frames: int
    video_s: float
    wall_s: float
    cpu_s: float
    peak_mb: float
    load1: float

    @property
    def fps(self) -> float:
        return self.frames / self.wall_s

    @property
    def rtf(self) -> float:
        return self.video_s / self.wall_s

    @property
    def cpu_ms_per_frame(self) -> float:
        return 1000.0 * self.cpu_s / self.frames

    def rtf_2cores(self, clip_fps: float) -> float:
        return 2.0 / (self.cpu_s / self.frames) / clip_fps

    def line(self, clip_fps: float) -> str:
        return (f"{self.clip:28s} {self.what:26s} {self.frames:6d} {self.video_s:6.1f} {self.wall_s:7.1f} "
                f"{self.fps:7.1f} {self.rtf:6.2f} {self.cpu_ms_per_frame:8.1f} {self.rtf_2cores(clip_fps):10.2f} "
                f"{self.peak_mb:8.0f} {self.load1:5.1f}")


HEADER = (f"{'clip':28s} {'run':26s} {'frames':>6s} {'vid s':>6s} {'wall s':>7s} {'fps':>7s} {'rtf':>6s} "
          f"{'cpu ms/f':>8s} {'rtf@2cores':>10s} {'peak MB':>8s} {'load1':>5s}")


def run_pose(clip: Path, model: str, workers: int, max_side: int | None) -> Row:
    cpu0 = _cpu_s()
    with PeakRss() as mem:
        t0 = time.perf_counter()
        res = extract_pose(clip, model=model, workers=workers, max_side=max_side)
        wall = time.perf_counter() - t0
    side = "native" if max_side is None else str(max_side)
    return Row(clip.name, f"{model} w={workers} side={side}", res.stats["frames"], res.stats["video_seconds"], wall,
               _cpu_s() - cpu0, (mem.peak_bytes - mem.base_bytes) / 1e6, os.getloadavg()[0])


def run_decode(clip: Path, max_side: int | None) -> Row:
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    n, last = 0, 0.0
    for fr in video.iter_frames(clip, max_side=max_side):
        n, last = n + 1, fr.t_ms
    wall = time.perf_counter() - t0
    side = "native" if max_side is None else str(max_side)
    return Row(clip.name, f"decode side={side}", n, (last + 1000.0 / 30.0) / 1000.0, wall, _cpu_s() - cpu0, 0.0,
               os.getloadavg()[0])


def run_inference_only(clip: Path, model: str, max_side: int | None, limit: int = 300) -> Row:
    """One landmarker over ``limit`` frames decoded beforehand (no decode, scan or bookkeeping in the timing)."""
    import mediapipe as mp

    from formcheck.models import resolve_model
    from formcheck.pose import _create_landmarker, native_stderr_silenced

    frames = []
    for fr in video.iter_frames(clip, max_side=max_side):
        frames.append((fr.t_ms, np.ascontiguousarray(fr.rgb)))
        if len(frames) >= limit:
            break
    with native_stderr_silenced():
        lm = _create_landmarker(str(resolve_model(model)), 1, False)
        lm.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=frames[0][1]), 0)
    cpu0 = _cpu_s()
    t0 = time.perf_counter()
    try:
        for t_ms, rgb in frames[1:]:
            lm.detect_for_video(mp.Image(image_format=mp.ImageFormat.SRGB, data=rgb), int(round(t_ms)) + 1)
    finally:
        wall = time.perf_counter() - t0
        cpu = _cpu_s() - cpu0
        with native_stderr_silenced():
            lm.close()
    n = len(frames) - 1
    side = "native" if max_side is None else str(max_side)
    return Row(clip.name, f"{model} inference only side={side}", n, n / 30.0, wall, cpu, 0.0, os.getloadavg()[0])


def make_long_clip(src: Path, out: Path, seconds: float, size: tuple[int, int] = (1920, 1080)) -> Path:
    """Upscale ``src`` (pillar-boxed) to ``size`` and loop it to ``seconds`` at 30 fps."""
    import cv2

    frames = [f.rgb for f in video.iter_frames(src)]
    w, h = size
    fh, fw = frames[0].shape[:2]
    scale = min(w / fw, h / fh)
    nw, nh = int(round(fw * scale)) // 2 * 2, int(round(fh * scale)) // 2 * 2
    x0, y0 = (w - nw) // 2, (h - nh) // 2
    canvas = np.zeros((h, w, 3), np.uint8)
    n = int(round(seconds * 30))
    with video.VideoWriter(out, 30.0, size, preset="veryfast") as wr:
        for i in range(n):
            k = i % (2 * len(frames) - 2)
            src_frame = frames[k if k < len(frames) else 2 * len(frames) - 2 - k]
            canvas[y0 : y0 + nh, x0 : x0 + nw] = cv2.resize(src_frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
            wr.write(canvas, t_ms=i * 1000.0 / 30.0)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--samples", type=Path, default=REPO / "sample_videos")
    ap.add_argument("--seconds", type=float, nargs="*", default=[30.0, 60.0], help="lengths of the 1080p30 clips")
    ap.add_argument("--models", default="lite,full")
    ap.add_argument("--workers", default="1,2")
    ap.add_argument("--quick", action="store_true", help="one sample, a 20 s long clip, fewer runs")
    ap.add_argument("--repeat", type=int, default=1, help="runs per row; the fastest is printed")
    ap.add_argument("--no-samples", action="store_true", help="only the long 1080p30 clips")
    ap.add_argument("--json", type=Path, help="also write the rows as JSON here")
    args = ap.parse_args(argv)
    models = args.models.split(",")
    workers = [int(w) for w in args.workers.split(",")]
    samples = sorted(args.samples.glob("*.mp4"))
    if args.quick:
        samples, args.seconds = samples[:1], [20.0]
    if not samples:
        print(f"no sample videos in {args.samples}", file=sys.stderr)
        return 2
    print(f"cpus {os.cpu_count()}  affinity {len(os.sched_getaffinity(0))}  default max_side {DEFAULT_MAX_SIDE}")
    print(HEADER, flush=True)
    rows: list[Row] = []

    if args.repeat < 1:
        print(f"--repeat: expected 1 or more, got {args.repeat}", file=sys.stderr)
        return 2

    def best(run, *a) -> Row:
        return min((run(*a) for _ in range(args.repeat)), key=lambda r: r.wall_s)

    def emit(row: Row, clip_fps: float = 30.0) -> None:
        rows.append(row)
        print(row.line(clip_fps), flush=True)

    for clip in [] if args.no_samples else samples:
        for model in models:
            for w in workers:
                emit(best(run_pose, clip, model, w, DEFAULT_MAX_SIDE))
    with tempfile.TemporaryDirectory(prefix="bench_pose_") as tmp:
        for seconds in args.seconds:
            long_clip = make_long_clip(samples[0], Path(tmp) / f"long_{int(seconds)}s_1080p30.mp4", seconds)
            emit(best(run_decode, long_clip, None))
            decode = best(run_decode, long_clip, DEFAULT_MAX_SIDE)
            emit(decode)
            for model in models:
                if seconds == min(args.seconds):
                    inference = best(run_inference_only, long_clip, model, DEFAULT_MAX_SIDE)
                    emit(inference)
                    per_frame_s = (inference.cpu_s / inference.frames) + (decode.cpu_s / decode.frames)
                    print(f"ceiling {model}: 2 idle cores, nothing but inference + decode "
                          f"({1000 * per_frame_s:.1f} ms CPU/frame): rtf <= {2.0 / per_frame_s / 30.0:.2f}",
                          flush=True)
                for w in workers:
                    emit(best(run_pose, long_clip, model, w, DEFAULT_MAX_SIDE))
            if not args.quick and seconds == max(args.seconds):
                emit(best(run_pose, long_clip, "full", max(workers), None))
                emit(best(run_pose, long_clip, "full", max(workers), 480))
    if args.json:
        args.json.write_text(json.dumps([r.__dict__ | {"fps": r.fps, "rtf": r.rtf} for r in rows], indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
