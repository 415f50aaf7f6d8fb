"""Clips analysed on Ray: ``formcheck analyze --engine ray`` and the app's jobs (``FORMCHECK_RAY_ADDRESS``).

The only module of formcheck that imports Ray (``pip install "formcheck[scale]"``); nothing
imports it unless the ray engine is asked for.

Batch (:func:`run_batch`): one Ray task per clip, one CPU each. With no address a local Ray
is started on this machine (all its cores) and stopped at the end; with one, the batch joins
that cluster. Each worker process imports MediaPipe, finds the model and reads the tuned rules
once and keeps them for every clip it is given (:func:`_worker_state`); the people scanner's
network is created once per process and reused (:func:`formcheck.pose.keep_scanners`). The
VIDEO-mode tracking landmarker is made anew for each clip: its tracking state belongs to one
clip, and reusing it would change the results against a serial run. A task that
fails (an error, or its worker process dying) is run once more; a clip that fails twice is
listed with its error and the batch goes on. Clips and the output folder are read and written
by the workers by path: on a cluster they must be on storage every node mounts at the same path.

App jobs (:class:`RayAppJob`): one task per upload, running the same job function as a
spawned process would (:func:`formcheck.worker._job_main`), its messages (progress, report
ready, done) passed back through a Ray queue; the page polls as it does for a local job.
"""

from __future__ import annotations

import logging
import os
import queue
import time
from pathlib import Path
from typing import Any, Callable, Sequence

from formcheck import batch
from formcheck.batch import BatchSettings, ClipRow

ENV_ADDRESS = "FORMCHECK_RAY_ADDRESS"
#: Tries of a clip: the first and one retry.
TRIES = 2

__all__ = ["ENV_ADDRESS", "RayAppJob", "RayUnavailable", "connect", "run_batch"]


class RayUnavailable(RuntimeError):
    """Ray is not installed or the cluster cannot be reached (one-line message)."""


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise RayUnavailable('the ray engine needs Ray: pip install "formcheck[scale]"') from None
    return ray


def connect(address: str | None = None, *, num_cpus: int | None = None) -> bool:
    """Join the Ray cluster at ``address``, or start a local one (``num_cpus``: default all cores).

    Returns True when this call started or joined it (the caller then shuts it down), False
    when Ray was already initialised in this process (e.g. by a test).
    """
    ray = _ray()
    if ray.is_initialized():
        return False
    kwargs: dict[str, Any] = {"logging_level": logging.WARNING, "log_to_driver": False}
    try:
        if address:
            ray.init(address=address, **kwargs)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, **kwargs)
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address else "a local Ray"
        raise RayUnavailable(f"could not start or join {where}: {' '.join(str(exc).split())}") from None
    return True


# --------------------------------------------------------------------------- in the worker process
#: What a worker process loaded once, by (model, rules files): model path, rule sets, load count.
_WORKER: dict[tuple[str, tuple[tuple[str, str], ...]], dict[str, Any]] = {}
_LOADS = 0


def _worker_state(settings: BatchSettings) -> dict[str, Any]:
    """The model and rules of ``settings`` in this worker process, read once and kept."""
    global _LOADS
    key = (settings.model, settings.rules_files)
    state = _WORKER.get(key)
    if state is None:
        import formcheck.pipeline  # noqa: F401 - MediaPipe, PyAV, the analysis: imported once per process
        from mediapipe.tasks.python import vision  # noqa: F401

        from formcheck.models import resolve_model
        from formcheck.pose import keep_scanners
        from formcheck.rules import load_rulesets

        keep_scanners()  # the people scanner's network, created once and reused (same results: IMAGE mode)
        _LOADS += 1
        state = {"model": str(resolve_model(settings.model)), "rules": load_rulesets(settings.rules_paths()),
                 "loads": _LOADS}
        _WORKER[key] = state
    return state


def _attempts_file(out: Path, clip: Path) -> Path:
    return out / f".{clip.stem}.attempts"


def _count_attempt(out: Path, clip: Path) -> int:
    """This try's number (1, 2, ...), kept in a small file beside the clip's report until it ends."""
    f = _attempts_file(out, clip)
    try:
        n = int(f.read_text(encoding="utf-8").strip() or 0) + 1
    except (OSError, ValueError):
        n = 1
    f.write_text(str(n), encoding="utf-8")
    return n


def _analyze_task(clip: str, settings: BatchSettings, out: str, fingerprint: str) -> dict[str, Any]:
    """One clip, in a Ray worker: the row of the summary, and which process did it."""
    out_dir, clip_path = Path(out), Path(clip)
    out_dir.mkdir(parents=True, exist_ok=True)
    attempt = _count_attempt(out_dir, clip_path)
    state = _worker_state(settings)
    row, res = batch.analyze_clip(clip_path, settings, out_dir, fingerprint, rules=state["rules"], attempts=attempt)
    _attempts_file(out_dir, clip_path).unlink(missing_ok=True)
    import psutil

    me = psutil.Process()
    cpu = me.cpu_times()
    return {"row": row.to_dict(), "pid": os.getpid(), "model_loads": state["loads"],
            "process_cpu_s": round(cpu.user + cpu.system, 3),  # this worker process so far, imports included
            "rss_mb": round(me.memory_info().rss / 2**20, 1),
            "video_ms": res.report.source.get("duration_ms")}


def _error_text(exc: BaseException) -> str:
    ray = _ray()
    cause = getattr(exc, "cause", None)
    if isinstance(exc, ray.exceptions.RayTaskError) and isinstance(cause, BaseException):
        from formcheck.video import VideoError

        if isinstance(cause, (VideoError, ValueError, OSError)):
            return " ".join(str(cause).split())
        return f"{type(cause).__name__}: {' '.join(str(cause).split())}"
    if isinstance(exc, (ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError)):
        return f"the worker analysing it died on each of {TRIES} tries"
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"


# --------------------------------------------------------------------------- the driver
def run_batch(clips: Sequence[Path], settings: BatchSettings, out: Path, fingerprint: str, *,
              address: str | None = None, resume: bool = False, num_cpus: int | None = None,
              on_row: Callable[[ClipRow], None] | None = None, show_progress: bool = True,
              console: Any = None) -> tuple[list[ClipRow], list[dict[str, Any]]]:
    """Analyse ``clips`` on Ray into ``out``: ``(rows in the clips' order, per-task worker info)``.

    ``on_row`` is called as each clip ends (resumed ones first). Ctrl-C cancels what is left.
    """
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, \
        TimeRemainingColumn

    out = Path(out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    clips = [Path(c).resolve() for c in clips]
    rows: dict[int, ClipRow] = {}
    todo: list[int] = []
    for i, clip in enumerate(clips):
        hit = batch.resumed_row(clip, out, fingerprint) if resume else None
        if hit is not None:
            rows[i] = hit
        else:
            todo.append(i)
    info: list[dict[str, Any]] = []
    progress = Progress(TextColumn("clips"), BarColumn(), MofNCompleteColumn(),
                        TextColumn("done {task.fields[done]}, failed {task.fields[failed]}"),
                        TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                        console=console, transient=True, disable=not show_progress)
    for i in sorted(rows):
        if on_row is not None:
            on_row(rows[i])
    if not todo:
        return [rows[i] for i in range(len(clips))], info
    ray = _ray()
    started = connect(address, num_cpus=num_cpus)
    try:
        workers = settings.workers or 1  # one CPU per task: Ray runs the clips side by side
        task = ray.remote(num_cpus=workers, max_retries=TRIES - 1, retry_exceptions=True)(_analyze_task)
        task_settings = batch.BatchSettings(**{**settings.__dict__, "workers": workers})
        for i in todo:
            _attempts_file(out, clips[i]).unlink(missing_ok=True)
        refs = {task.remote(str(clips[i]), task_settings, str(out), fingerprint): i for i in todo}
        done = sum(1 for r in rows.values())
        failed = 0
        with progress:
            bar = progress.add_task("clips", total=len(clips), completed=done, done=done, failed=0)
            pending = list(refs)
            while pending:
                ready, pending = ray.wait(pending, num_returns=1, timeout=1.0)
                for ref in ready:
                    i = refs[ref]
                    try:
                        result = ray.get(ref)
                        row = ClipRow.from_dict(result["row"])
                        info.append({k: v for k, v in result.items() if k != "row"} | {"clip": clips[i].name})
                        done += 1
                    except ray.exceptions.RayError as exc:
                        row = batch.failed_row(clips[i], _error_text(exc), attempts=TRIES)
                        _attempts_file(out, clips[i]).unlink(missing_ok=True)
                        failed += 1
                    rows[i] = row
                    progress.update(bar, advance=1, done=done, failed=failed)
                    if on_row is not None:
                        on_row(row)
    except KeyboardInterrupt:
        for ref in list(locals().get("pending", [])):
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()
    return [rows[i] for i in range(len(clips))], info


# --------------------------------------------------------------------------- the app's jobs
def _app_job(request: Any, messages: Any) -> None:
    from formcheck.worker import _job_main

    _job_main(request, messages)


class _Messages:
    """A Ray queue read like ``multiprocessing.Queue`` (``get(timeout)`` raises :class:`queue.Empty`)."""

    def __init__(self, q: Any) -> None:
        self._q = q

    def get(self, timeout: float | None = None) -> Any:
        from ray.util.queue import Empty

        try:
            return self._q.get(timeout=timeout)
        except Empty:
            raise queue.Empty from None


class RayAppJob:
    """An app job running as a Ray task, with the part of ``multiprocessing.Process`` the job manager uses."""

    def __init__(self, request: Any, address: str) -> None:
        ray = _ray()
        from ray.util.queue import Queue

        connect(address)
        self._ray = ray
        self._queue = Queue()
        self.messages = _Messages(self._queue)
        self._ref = ray.remote(num_cpus=1, max_retries=0)(_app_job).remote(request, self._queue)
        self._exitcode: int | None = None

    def is_alive(self) -> bool:
        ready, _ = self._ray.wait([self._ref], timeout=0)
        if not ready:
            return True
        if self._exitcode is None:
            try:
                self._ray.get(self._ref)
                self._exitcode = 0
            except self._ray.exceptions.RayError:
                self._exitcode = 1
        return False

    @property
    def exitcode(self) -> int | None:
        self.is_alive()
        return self._exitcode

    def terminate(self) -> None:
        self._ray.cancel(self._ref, force=True)

    def join(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_alive() and (deadline is None or time.monotonic() < deadline):
            time.sleep(0.1)
        if not self.is_alive():  # the job's messages are read: its queue actor goes too
            self._ray.kill(self._queue.actor)
