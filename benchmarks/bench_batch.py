"""Throughput of a batch: the local engine (clip after clip) against a local Ray (one task per clip).

    nice .venv/bin/python benchmarks/bench_batch.py [--copies 1] [--cpus 2] [--model full] [--out /tmp/bench_batch]

The batch is the bundled samples (``sample_videos/*.mp4``), each ``--copies`` times (a copy is
a new file name, same content), analysed with the defaults of ``formcheck analyze`` except
``--no-video`` and ``--workers 1`` (one core per clip, so both engines do the same work).

Serial: ``formcheck analyze FOLDER --no-video --workers 1`` in a child process; its CPU time is
the child's (``RUSAGE_CHILDREN``). Ray: :func:`formcheck.rayengine.run_batch` (what ``--engine
ray`` runs) on a local Ray started with ``--cpus`` CPUs; its CPU time is the driver's plus each
worker process's total (imports included) as reported by its last task. Ray's own daemons
(GCS, raylet) are not counted. Prints a Markdown table (docs/scale.md).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def _batch_folder(root: Path, copies: int) -> list[Path]:
    folder = root / "clips"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    clips = []
    for k in range(copies):
        for src in sorted((REPO / "sample_videos").glob("*.mp4")):
            dst = folder / f"{src.stem}_{k}.mp4"
            shutil.copyfile(src, dst)
            clips.append(dst)
    return clips


def _cpu_children() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def _cpu_self() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--copies", type=int, default=1, help="each bundled sample this many times")
    ap.add_argument("--cpus", type=int, default=2, help="CPUs of the local Ray")
    ap.add_argument("--model", default="full")
    ap.add_argument("--out", type=Path, default=Path("/tmp/bench_batch"))
    args = ap.parse_args()

    from formcheck import batch, rayengine
    from formcheck.models import resolve_model
    from formcheck.video import probe

    clips = _batch_folder(args.out, args.copies)
    video_s = sum((probe(c).duration_ms or 0.0) for c in clips) / 1000.0
    n = len(clips)
    rows = []

    # serial: the local engine, in a child process
    serial_out = args.out / "serial"
    shutil.rmtree(serial_out, ignore_errors=True)
    cpu0, t0 = _cpu_children(), time.perf_counter()
    subprocess.run([str(Path(sys.executable).with_name("formcheck")), "analyze", str(clips[0].parent),
                    "--no-video", "--workers", "1", "--model", args.model, "--out", str(serial_out)],
                   check=True, stdout=subprocess.DEVNULL)
    wall, cpu = time.perf_counter() - t0, _cpu_children() - cpu0
    rows.append(("local (serial)", 1, wall, cpu))

    # ray: a local Ray with --cpus CPUs, one task per clip
    ray_out = args.out / "ray"
    shutil.rmtree(ray_out, ignore_errors=True)
    settings = batch.BatchSettings(model=args.model, make_video=False, workers=1)
    fp = batch.settings_fingerprint(settings, resolve_model(args.model))
    cpu0, t0 = _cpu_self(), time.perf_counter()
    started = rayengine.connect(None, num_cpus=args.cpus)
    try:
        result, info = rayengine.run_batch(clips, settings, ray_out, fp, show_progress=False)
    finally:
        if started:
            import ray

            ray.shutdown()
    wall = time.perf_counter() - t0
    per_pid: dict[int, float] = {}
    for i in info:
        per_pid[i["pid"]] = max(per_pid.get(i["pid"], 0.0), i["process_cpu_s"])
    cpu = _cpu_self() - cpu0 + sum(per_pid.values())
    rss = max((i["rss_mb"] for i in info), default=float("nan"))
    failed = sum(r.outcome == "failed" for r in result)
    rows.append((f"ray, local, {args.cpus} CPUs", len(per_pid), wall, cpu))

    load = os.getloadavg()
    print(f"batch: {n} clips, {video_s:.1f} s of video, model {args.model}, --no-video --workers 1; "
          f"{os.cpu_count()} cores, load average {load[0]:.1f} at the end; ray failures: {failed}; "
          f"largest Ray worker resident memory after a clip: {rss:.0f} MiB\n")
    print("| engine | worker processes | wall s | clips/min | CPU s | CPU s per clip | CPU s per video s |")
    print("|---|---|---|---|---|---|---|")
    for name, procs, wall, cpu in rows:
        print(f"| {name} | {procs} | {wall:.1f} | {60.0 * n / wall:.2f} | {cpu:.1f} | {cpu / n:.2f} | "
              f"{cpu / video_s:.2f} |")
    return 0 if not failed else 1


if __name__ == "__main__":
    raise SystemExit(main())
