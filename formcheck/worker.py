"""Clip analyses off the Streamlit script thread, with progress and a cache.

:class:`JobManager` (one per server process) runs each :class:`AnalysisRequest` in its
own spawned process, at most ``FORMCHECK_MAX_JOBS`` (default 1) at a time, so a long
analysis never holds the GIL of the server that other sessions use. The job calls
:func:`formcheck.pipeline.analyze_video`, records the session with
:meth:`formcheck.storage.Store.save_analysis` as soon as the report exists (reps, flags,
images: :attr:`JobState.report_ready`, the page shows them), then adds the annotated video
(:attr:`JobState.video_ready`), a slow-motion clip of each flagged rep and the original
clip to it (:meth:`formcheck.storage.Store.attach_files`); the page only polls
:meth:`JobManager.state`. Progress and the outcome come back through a queue. The app's
manager is ``warm``: one job process waits with its imports done, so a click does not pay
for starting Python and MediaPipe. With ``FORMCHECK_RAY_ADDRESS`` set, each job runs as a
task on that Ray cluster instead of a spawned process (:class:`formcheck.rayengine.RayAppJob`:
same job function, same messages; the store's folder and database must then be reachable from
the cluster's nodes).

Cache: a clip's analysis key is a hash of its content (SHA-256), the lift and model
asked for, the formcheck version and the rule/guidance files. A request whose key (and
athlete) already has a session finishes at once with that session, and two requests
for the same key share one job. A cached session without its video (its job stopped with
the server after the report: a Retry) gets a job that makes the video; the job is linked
to the session from the start, and :meth:`Store.video_job` tells History and Review the
video is on its way.

Outcomes are a session id or one friendly line for the user (not a video, no person,
no complete rep, ...). An unexpected error is logged with its traceback under a short
reference that the message quotes; the user never sees the traceback.

Crashes: a job process dies with the server that started it (:func:`formcheck.procs.spawn`),
even after a ``kill -9``. Each job is recorded in the store (:meth:`Store.record_job`) with
the server as its owner; a job the dead server left queued or running is marked
``interrupted`` when the next server opens the store, and :func:`retry_request` rebuilds
its request for a retry.
"""

from __future__ import annotations

import atexit
import hashlib
import logging
import multiprocessing as mp
import multiprocessing.util  # noqa: F401 - imported first, its exit handler (which joins every child) runs after JobManager.shutdown
import os
import queue
import shutil
import threading
import time
import traceback
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, BinaryIO, Callable, Mapping

from formcheck import __version__, procs
from formcheck.storage import (SOURCE_KINDS, JobRecord, SessionRecord, Store, StoreError, clean_athlete,
                               database_url_from_env, safe_url, store_url)

__all__ = [
    "ENV_MAX_JOBS", "JOB_STATES", "AnalysisRejected", "AnalysisRequest", "JobManager", "JobState",
    "Provisional", "ProvisionalRep", "analysis_key", "copy_and_hash", "file_sha256", "job_store", "retry_request",
    "run_analysis",
]

ENV_MAX_JOBS = "FORMCHECK_MAX_JOBS"
JOB_STATES = ("queued", "running", "done", "failed")
LIFTS = ("auto", "squat", "deadlift")
_CONFIG_DIR = Path(__file__).resolve().parent / "config"
_CHUNK = 1 << 20

_log = logging.getLogger(__name__)

ProgressFn = Callable[[str, float], None]


class AnalysisRejected(ValueError):
    """The clip cannot be analysed, or gave no usable result; the message is for the user."""


@dataclass(frozen=True)
class AnalysisRequest:
    """One clip to analyse.

    Notes
    -----
    video_path : a file the job may read: a checked upload in the store's work folder, or a bundled sample.
    source_name : what the user calls the clip (display only, never a path).
    source_kind : "upload" or "sample".
    video_sha256 : the clip's content hash (:func:`file_sha256`), the cache key's base.
    delete_input : the job owns ``video_path`` (an upload copy) and removes it when done.
    database : the server's database URL *with its password masked* (:attr:`Store.safe_url`), or "" (not
        checked). A request carries no credentials: it is recorded in the store and sent to the job
        process or Ray task. The job opens the database its own environment names
        (``FORMCHECK_DATABASE_URL``: a spawned job inherits the server's; on Ray, each node's, see
        docs/scale.md) and fails with a clear message when that is not this one (:func:`job_store`).
    """

    video_path: Path
    source_name: str
    source_kind: str
    video_sha256: str
    data_dir: Path
    database: str = ""
    lift: str = "auto"
    model: str = "full"
    athlete: str = ""
    delete_input: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "video_path", Path(self.video_path))
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "athlete", clean_athlete(self.athlete))
        if self.source_kind not in SOURCE_KINDS:
            raise ValueError(f"source_kind: expected one of {SOURCE_KINDS}, got {self.source_kind!r}")
        if self.lift not in LIFTS:
            raise ValueError(f"lift: expected one of {LIFTS}, got {self.lift!r}")
        if not (isinstance(self.video_sha256, str) and len(self.video_sha256) == 64):
            raise ValueError(f"video_sha256: expected 64 hex characters, got {self.video_sha256!r}")
        if not (isinstance(self.model, str) and self.model):
            raise ValueError(f"model: expected a model name, got {self.model!r}")
        if not isinstance(self.database, str):
            raise ValueError(f"database: expected a masked URL, got {type(self.database).__name__}")
        object.__setattr__(self, "database", safe_url(self.database) if self.database else "")

    @property
    def key(self) -> str:
        return analysis_key(self.video_sha256, self.lift, self.model)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (paths as strings), for the job record; :meth:`from_dict` reads it back."""
        return {"video_path": str(self.video_path), "source_name": self.source_name, "source_kind": self.source_kind,
                "video_sha256": self.video_sha256, "data_dir": str(self.data_dir), "database": self.database,
                "lift": self.lift, "model": self.model, "athlete": self.athlete, "delete_input": self.delete_input}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "AnalysisRequest":
        return cls(**{k: d[k] for k in ("video_path", "source_name", "source_kind", "video_sha256", "data_dir",
                                        "database", "lift", "model", "athlete", "delete_input") if k in d})


def job_store(request: AnalysisRequest) -> Store:
    """The store of ``request``: its folder, and the database this process's environment names.

    Raises :class:`StoreError` (masked URLs only) when that database is not the one the request was made
    on, e.g. a Ray node started without ``FORMCHECK_DATABASE_URL``: it would store the results elsewhere.
    """
    url = database_url_from_env()
    mine = safe_url(store_url(request.data_dir, url))
    if request.database and mine != request.database:
        raise StoreError(f"this job process would use the database {mine}, not the server's {request.database}: "
                         "give the job workers the server's FORMCHECK_DATABASE_URL (docs/scale.md)")
    return Store(request.data_dir, url)


def retry_request(job: JobRecord) -> AnalysisRequest:
    """The request of a recorded (e.g. interrupted) job, to run it again.

    Raises :class:`AnalysisRejected` when its clip is gone (an upload copy is kept a day).
    """
    try:
        request = AnalysisRequest.from_dict(job.request)
    except (TypeError, ValueError) as exc:
        raise AnalysisRejected(f"the analysis of “{job.source_name}” cannot be repeated ({exc})") from exc
    if not request.video_path.is_file():
        raise AnalysisRejected(f"the clip “{job.source_name}” is no longer on the server: upload it again")
    return request


@dataclass(frozen=True)
class ProvisionalRep:
    """One rep completed in the part of the clip posed so far, and the faults flagged on it then."""

    rep: int
    start_ms: float
    end_ms: float
    flags: tuple[str, ...] = ()
    borderline: tuple[str, ...] = ()


@dataclass(frozen=True)
class Provisional:
    """Results during the pose pass (:func:`formcheck.pipeline.provisional_summary`): the clip's first
    ``through_ms`` analysed, its completed reps and their flags. Not the report: the final analysis
    (the whole clip, the deadlift bar check) replaces them and may count or flag otherwise."""

    through_ms: float
    duration_ms: float | None
    lift: str
    reps: tuple[ProvisionalRep, ...]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "Provisional":
        return cls(through_ms=float(d["through_ms"]),
                   duration_ms=None if d.get("duration_ms") is None else float(d["duration_ms"]),
                   lift=str(d.get("lift", "")),
                   reps=tuple(ProvisionalRep(rep=int(r["rep"]), start_ms=float(r["start_ms"]), end_ms=float(r["end_ms"]),
                                             flags=tuple(r.get("flags", ())), borderline=tuple(r.get("borderline", ())))
                              for r in d.get("reps", ())))


@dataclass(frozen=True)
class JobState:
    """Where a job is. ``fraction`` is 0..1; ``message`` is the failure line for the user."""

    job_id: str
    state: str
    stage: str = "waiting"
    fraction: float = 0.0
    session_id: str | None = None
    message: str = ""
    cached: bool = False
    source_name: str = ""
    #: The annotated video is stored (the session's report is, once ``session_id`` is set).
    video_ready: bool = False
    #: Reps and flags of the clip's start while the pose pass runs (None before the first rep).
    provisional: Provisional | None = None

    def __post_init__(self) -> None:
        if self.state not in JOB_STATES:
            raise ValueError(f"state: expected one of {JOB_STATES}, got {self.state!r}")
        if not 0.0 <= self.fraction <= 1.0:
            raise ValueError(f"fraction: expected 0..1, got {self.fraction!r}")
        if self.state == "done" and not self.session_id:
            raise ValueError("a done job: expected a session id, got none")
        if self.state == "failed" and not self.message:
            raise ValueError("a failed job: expected a message, got none")

    @property
    def finished(self) -> bool:
        return self.state in ("done", "failed")

    @property
    def report_ready(self) -> bool:
        """The session (report, reps, flags, images) is stored; the video may still be being made."""
        return self.session_id is not None


# --------------------------------------------------------------------------- hashing and keys


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def copy_and_hash(src: BinaryIO, dst: Path, *, max_bytes: int | None = None) -> tuple[int, str]:
    """Copy a stream to ``dst`` while hashing it: (bytes, sha256). Over ``max_bytes`` raises AnalysisRejected."""
    h = hashlib.sha256()
    n = 0
    with open(dst, "wb") as out:
        for chunk in iter(lambda: src.read(_CHUNK), b""):
            n += len(chunk)
            if max_bytes is not None and n > max_bytes:
                raise AnalysisRejected(f"the file is larger than the {max_bytes // (1 << 20)} MB limit")
            h.update(chunk)
            out.write(chunk)
    return n, h.hexdigest()


_rules_fingerprint_cache: str | None = None
_sample_hashes: dict[tuple[str, int, int], str] = {}
_sample_lock = threading.Lock()


def _rules_fingerprint() -> str:
    global _rules_fingerprint_cache
    if _rules_fingerprint_cache is None:
        h = hashlib.sha256()
        for p in sorted(_CONFIG_DIR.glob("*.toml")):
            h.update(p.name.encode())
            h.update(p.read_bytes())
        _rules_fingerprint_cache = h.hexdigest()[:16]
    return _rules_fingerprint_cache


def analysis_key(video_sha256: str, lift: str, model: str) -> str:
    """The cache key: clip content, options, formcheck version and its rule files."""
    text = "|".join((video_sha256, lift, model, __version__, _rules_fingerprint()))
    return hashlib.sha256(text.encode()).hexdigest()


# --------------------------------------------------------------------------- the job itself

_STATUS_MESSAGES = {
    "no_person": "No person was found in “{name}”. Film the whole body, head to feet, from the side or at 45°, "
                 "in good light.",
    "no_complete_rep": "No complete rep was found in “{name}”. Make sure the clip shows each rep from standing, "
                       "down to the bottom and back up.",
}


#: Pipeline stage -> (overall progress at its start, at its end, words for the user).
_PIPELINE_STAGES = {
    "pose": (0.02, 0.70, "finding the lifter in every frame"),
    "analysis": (0.70, 0.72, "measuring reps and faults"),
    "images": (0.72, 0.75, "drawing the worst moments"),
    "video": (0.75, 0.88, "making the annotated video"),
    "done": (0.88, 0.88, "making the annotated video"),
}


def _user_text(message: str, request: AnalysisRequest) -> str:
    """A one-line error about the clip with the server-side path replaced by the user's name for it."""
    text = " ".join(str(message).split())
    for p in (str(request.video_path), request.video_path.name):
        text = text.replace(p, f"“{request.source_name}”")
    return text


def run_analysis(request: AnalysisRequest, progress: ProgressFn | None = None,
                 on_report: Callable[[str], None] | None = None,
                 on_video: Callable[[], None] | None = None,
                 on_provisional: Callable[[dict[str, Any]], None] | None = None) -> str:
    """Analyse one clip and record it; returns the session id (in-process; :class:`JobManager` spawns it).

    The session is stored as soon as the report exists (reps, flags, images, reports) and
    ``on_report(session_id)`` is called; the annotated video is made next and added to the session,
    then ``on_video()`` is called; the slow-motion clips of flagged reps and the original clip follow.
    ``on_provisional`` receives the reps and flags of the clip's start during the pose pass
    (:func:`formcheck.pipeline.provisional_summary`), before the report exists.
    A failure after the report is stored is logged and leaves the session without its video.
    A session of the same request stored earlier is the answer; when it has no video (its job was
    stopped with the server after the report) and the clip is still there, ``on_report`` is called with
    it at once and the clip is analysed again to make the video (:func:`needs_video`).

    Raises :class:`AnalysisRejected` with a message for the user when the clip is not a
    readable video or gives no usable result; nothing is stored then.
    """
    from formcheck.models import ModelNotFoundError
    from formcheck.pipeline import analyze_video
    from formcheck.video import VideoError, probe

    report_progress = progress or (lambda stage, fraction: None)
    store = job_store(request)
    try:
        cached = store.find_session(request.key, request.athlete)
        if cached is not None and not needs_video(cached, request):
            return cached.id
        # the session of an earlier run of this request, stored at its report, without its video (the server
        # stopped while the video was made): the clip is analysed again for the video only
        stored: list[str] = [cached.id] if cached is not None else []  # the session id, once the report is stored
        if cached is not None and on_report is not None:
            on_report(cached.id)
        report_progress("checking the video", 0.0)
        try:
            probe(request.video_path)
        except VideoError as exc:
            if stored:
                _log.warning("the annotated video of %s could not be made: %s", request.source_name, exc)
                return stored[0]
            raise AnalysisRejected(f"We could not read {_user_text(str(exc), request)}") from exc

        out_dir = store.work_dir / f"job-{uuid.uuid4().hex}"
        out_dir.mkdir(parents=True)
        try:
            def pipeline_progress(stage: str, fraction: float) -> None:
                lo, hi, words = _PIPELINE_STAGES.get(stage, (None, None, stage))
                if lo is not None:
                    report_progress(words, lo + (hi - lo) * min(1.0, max(0.0, float(fraction))))

            def report_ready(result: Any) -> None:
                if stored:  # the session is stored already: only its video is wanted
                    return
                report_progress("saving the results", _PIPELINE_STAGES["images"][1])
                session_id = _store_report(store, request, result, out_dir)
                stored.append(session_id)
                if on_report is not None:
                    on_report(session_id)

            try:
                result = analyze_video(request.video_path, lift=request.lift, model=request.model, out_dir=out_dir,
                                       athlete=request.athlete, make_video=True, formats=("json", "md", "html"),
                                       progress=pipeline_progress, on_report=report_ready,
                                       on_provisional=on_provisional)
            except (VideoError, ModelNotFoundError) as exc:
                if not stored:
                    raise AnalysisRejected(_user_text(str(exc), request)) from exc
                _log.warning("the annotated video of %s could not be made: %s", request.source_name, exc)
                result = None
            except Exception:
                if not stored:
                    raise
                _log.error("the annotated video of %s failed\n%s", request.source_name, traceback.format_exc())
                result = None
            if not stored:  # analyze_video returns only after on_report; be safe
                raise AnalysisRejected(f"The analysis of “{request.source_name}” gave no report.")
            session_id = stored[0]
            video = result.files.get("video") if result is not None else None
            try:  # the session is stored and shown: what follows adds to it, and its failure is only logged
                if video is not None:
                    store.attach_files(session_id, {"video": video}, move=True)
                    if on_video is not None:
                        on_video()
                    _attach_rep_clips(store, session_id, report_progress)
                report_progress("saving", 0.97)
                store.attach_files(session_id, {"original": request.video_path}, move=request.delete_input)
            except Exception:  # noqa: BLE001 - the user has the results; the log keeps the details
                _log.error("adding the video files of %s failed\n%s", request.source_name, traceback.format_exc())
            report_progress("done", 1.0)
            return session_id
        finally:
            shutil.rmtree(out_dir, ignore_errors=True)
    finally:
        store.close()
        if request.delete_input:
            request.video_path.unlink(missing_ok=True)


def needs_video(session: SessionRecord, request: AnalysisRequest) -> bool:
    """A stored session of this request still lacks its annotated video and the clip is there to make it."""
    return session.file("video") is None and request.video_path.is_file()


def _store_report(store: Store, request: AnalysisRequest, result: Any, out_dir: Path) -> str:
    """Store the session of a clip whose report exists (no video yet); returns its id.

    The report names the clip as the user does, its warnings too; the HTML and Markdown reports are
    rendered again with those names. Raises :class:`AnalysisRejected` for a report without a result
    (no person, no complete rep): nothing is stored then.
    """
    from formcheck.report import FormReport, render_html, render_markdown

    report = result.analysis.report
    if report.status in _STATUS_MESSAGES:
        raise AnalysisRejected(_STATUS_MESSAGES[report.status].format(name=request.source_name))
    rep_dict = report.to_dict()
    rep_dict["source"] = {**rep_dict["source"], "file": request.source_name}
    rep_dict["warnings"] = [_user_text(w, request) for w in rep_dict.get("warnings", [])]
    fixed = FormReport.from_dict(rep_dict)
    files = {k: Path(v) for k, v in result.files.items() if k not in ("json", "video")}
    images = {k: v for k, v in files.items() if k.startswith("worst_")}
    if "plot" in files:
        images["angles"] = files["plot"]
    (out_dir / "fixed.html").write_text(render_html(fixed, images), encoding="utf-8")
    files["html"] = out_dir / "fixed.html"
    (out_dir / "fixed.md").write_text(
        render_markdown(fixed, {k: v.name for k, v in images.items()}), encoding="utf-8")
    files["md"] = out_dir / "fixed.md"
    session = store.save_analysis(
        fixed, files=files, athlete=request.athlete, source_kind=request.source_kind,
        source_name=request.source_name, analysis_key=request.key, move=True,
    )
    return session.id


def _attach_rep_clips(store: Store, session_id: str, report_progress: ProgressFn) -> None:
    """Cut the slow-motion clip of each flagged rep from the session's stored video and add it."""
    from formcheck.app.media import make_rep_clip

    session = store.get_session(session_id)
    video = session.file("video") if session is not None else None
    if session is None or video is None:
        return
    flagged = sorted({int(f["rep"]) for f in session.report.get("flags", [])})
    for i, rep_no in enumerate(flagged):
        report_progress("cutting slow-motion clips of flagged reps", 0.88 + 0.08 * i / len(flagged))
        rep = session.rep(rep_no)
        if rep is None:
            continue
        clip = store.rep_clip_path(session, rep_no)
        tmp = clip.with_name(f".{clip.stem}-{uuid.uuid4().hex}.mp4")
        made = make_rep_clip(video, rep["start_ms"], rep["end_ms"], tmp)
        store.attach_files(session_id, {f"rep_{rep_no}_slow": made}, move=True)


def _preload() -> None:
    """Import what a job needs (the pipeline, MediaPipe's vision tasks, the report and video code)."""
    import formcheck.app.media  # noqa: F401
    import formcheck.pipeline  # noqa: F401
    import formcheck.report  # noqa: F401
    from mediapipe.tasks.python import vision  # noqa: F401


def _warm_main(inbox: Any, messages: Any) -> None:
    """Entry point of a warm job process: imports everything first, then runs the one request it is sent.

    The imports take 2-6 s of CPU on the development machine; a warm process has paid them before
    the user clicks. ``None`` on ``inbox`` ends it unused.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s formcheck job: %(message)s")
    try:
        _preload()
    except ImportError:  # the job will report it properly
        _log.warning("preloading the analysis modules failed\n%s", traceback.format_exc())
    request = inbox.get()
    if request is not None:
        _job_main(request, messages)


def _job_main(request: AnalysisRequest, messages: Any) -> None:
    """Entry point of a job process: runs :func:`run_analysis`, reports through ``messages``."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s formcheck job: %(message)s")
    try:
        session_id = run_analysis(request, lambda stage, fraction: messages.put(("progress", stage, fraction)),
                                  on_report=lambda sid: messages.put(("report", sid)),
                                  on_video=lambda: messages.put(("video",)),
                                  on_provisional=lambda summary: messages.put(("provisional", summary)))
        messages.put(("done", session_id))
    except (AnalysisRejected, StoreError) as exc:
        messages.put(("failed", str(exc)))
    except Exception:  # noqa: BLE001 - any other failure is a bug: log it in full, tell the user one line
        ref = uuid.uuid4().hex[:8]
        _log.error("analysis of %s failed (ref %s)\n%s", request.source_name, ref, traceback.format_exc())
        messages.put(("failed", f"The analysis of “{request.source_name}” failed unexpectedly "
                                f"(reference {ref}; the details are in the server log)."))


# --------------------------------------------------------------------------- the manager
def _ray_address() -> str | None:
    """``FORMCHECK_RAY_ADDRESS``: uploads are analysed on that Ray cluster (formcheck/rayengine.py)."""
    from formcheck.rayengine import ENV_ADDRESS

    return os.environ.get(ENV_ADDRESS, "").strip() or None



#: Finished jobs remembered (for pages polling them) before the oldest are forgotten.
KEEP_FINISHED_JOBS = 200


@dataclass
class _Job:
    state: JobState
    request: AnalysisRequest
    process: Any = None
    done: threading.Event = field(default_factory=threading.Event)
    finished_at: float = 0.0


class JobManager:
    """Runs analysis jobs in spawned processes, ``max_parallel`` at a time (thread-safe)."""

    def __init__(self, max_parallel: int | None = None, *, warm: bool = False) -> None:
        """``warm``: keep one job process started ahead, its imports done (:func:`_warm_main`), so the
        next analysis starts at once; a new one is started after each job (not during one: it would
        take CPU from it)."""
        if max_parallel is None:
            max_parallel = int(os.environ.get(ENV_MAX_JOBS, "1") or 1)
        if max_parallel < 1:
            raise ValueError(f"max_parallel: expected >= 1, got {max_parallel}")
        self.max_parallel = max_parallel
        self._slots = threading.Semaphore(max_parallel)
        self._lock = threading.Lock()
        self._jobs: dict[str, _Job] = {}
        self._by_key: dict[tuple[str, str, str], str] = {}
        #: This server process, as recorded on its jobs (tells a dead server's jobs apart).
        self.owner = procs.owner_token()
        self._stopping = False
        #: The Ray cluster that runs the jobs (``FORMCHECK_RAY_ADDRESS``; docs/scale.md), else None: local processes.
        self.ray_address = _ray_address()
        self.warm = warm and self.ray_address is None  # on Ray the cluster's workers stay warm
        self._spare: tuple[Any, Any, Any] | None = None  # (process, inbox, messages) of the warm process
        atexit.register(self.shutdown)
        self._start_spare()

    def _start_spare(self) -> None:
        """Start a warm job process if there is none (from a thread that lives as long as it does:
        a child is told of its parent's death when the thread that started it ends)."""
        if not self.warm or self._stopping:
            return
        with self._lock:
            if self._spare is not None and self._spare[0].is_alive():
                return
            self._spare = None

        def keep() -> None:
            ctx = mp.get_context("spawn")
            inbox, messages = ctx.Queue(), ctx.Queue()
            process = procs.spawn(_warm_main, (inbox, messages), name="formcheck-analysis")
            procs.start(process)
            with self._lock:
                self._spare = (process, inbox, messages)
            process.join()

        threading.Thread(target=keep, name="formcheck-warm-job", daemon=True).start()

    def _take_spare(self) -> tuple[Any, Any, Any] | None:
        with self._lock:
            spare, self._spare = self._spare, None
        if spare is not None and spare[0].is_alive():
            return spare
        return None

    def submit(self, request: AnalysisRequest, store: Store | None = None) -> str:
        """Start (or join, or answer from the cache) the analysis of one clip; returns a job id.

        ``store`` is the request's store if the caller has it open (saves opening it again).
        """
        dedupe = (str(request.data_dir), request.key, request.athlete)
        with self._lock:
            existing = self._by_key.get(dedupe)
            if existing is not None and not self._jobs[existing].state.finished:
                if request.delete_input:
                    request.video_path.unlink(missing_ok=True)
                return existing
            job_id = uuid.uuid4().hex
            job = _Job(JobState(job_id, "queued", source_name=request.source_name), request)
            self._jobs[job_id] = job
            self._by_key[dedupe] = job_id
        if store is None:
            lookup = job_store(request)
            try:
                cached = lookup.find_session(request.key, request.athlete)
            finally:
                lookup.close()
        else:
            cached = store.find_session(request.key, request.athlete)
        if cached is not None and needs_video(cached, request):
            # its report is stored, its video is not (a job stopped with the server): a job makes the video;
            # the session is linked from the start, so the page shows the results while it waits for it
            self._record(job, store)
            self._set_session(job, cached.id)
            threading.Thread(target=self._run, args=(job,), name=f"formcheck-job-{job_id[:8]}", daemon=True).start()
            return job_id
        if cached is not None:
            if request.delete_input:
                request.video_path.unlink(missing_ok=True)
            self._finish(job, replace(job.state, state="done", stage="done", fraction=1.0,
                                      session_id=cached.id, cached=True))
            return job_id
        self._record(job, store)
        threading.Thread(target=self._run, args=(job,), name=f"formcheck-job-{job_id[:8]}", daemon=True).start()
        return job_id

    def _record(self, job: _Job, store: Store | None) -> None:
        """Record the job in its store (owner: this server) so a restart can tell it was interrupted."""
        req = job.request
        try:
            target = store if store is not None else job_store(req)
            try:
                target.record_job(job.state.job_id, owner=self.owner, source_name=req.source_name,
                                  source_kind=req.source_kind, request=req.to_dict())
            finally:
                if target is not store:
                    target.close()
        except Exception:  # noqa: BLE001 - bookkeeping must never stop an analysis
            _log.warning("could not record job %s\n%s", job.state.job_id, traceback.format_exc())

    def _set_session(self, job: _Job, session_id: str) -> None:
        """Link the job to its stored session: the record first, then the state the pages read, so whoever sees
        the results (drawn from the state) finds the job's session in the store too, and a server stopped
        during the video leaves the job linked to it."""
        self._write_record(job.request, replace(job.state, session_id=session_id))
        self._update(job, session_id=session_id)

    def _save_state(self, job: _Job) -> None:
        """Copy the job's state to its record."""
        self._write_record(job.request, job.state)

    def _write_record(self, req: AnalysisRequest, s: JobState) -> None:
        """Write ``s`` to the job's record (best effort; not once the server is stopping)."""
        if self._stopping:
            return
        try:
            store = job_store(req)
            try:
                if store.get_job(s.job_id) is not None:
                    store.update_job(s.job_id, state=s.state, stage=s.stage, session_id=s.session_id,
                                     message=s.message)
            finally:
                store.close()
        except Exception:  # noqa: BLE001 - bookkeeping must never stop an analysis
            _log.warning("could not update job %s\n%s", s.job_id, traceback.format_exc())

    def state(self, job_id: str) -> JobState:
        with self._lock:
            job = self._jobs.get(job_id)
            if job is None:
                raise KeyError(f"no job {job_id!r}")
            return job.state

    def wait(self, job_id: str, timeout: float | None = None) -> JobState:
        with self._lock:
            job = self._jobs[job_id]
        job.done.wait(timeout)
        return self.state(job_id)

    def _update(self, job: _Job, **changes: Any) -> None:
        with self._lock:
            job.state = replace(job.state, **changes)

    def _finish(self, job: _Job, final: JobState) -> None:
        with self._lock:
            job.state = final
            job.finished_at = time.monotonic()
            finished = sorted((j for j in self._jobs.values() if j.state.finished), key=lambda j: j.finished_at)
            for old in finished[:max(0, len(finished) - KEEP_FINISHED_JOBS)]:
                del self._jobs[old.state.job_id]
            self._by_key = {k: v for k, v in self._by_key.items() if v in self._jobs}
        job.done.set()

    def _run(self, job: _Job) -> None:
        try:
            with self._slots:
                self._update(job, state="running", stage="starting")
                self._save_state(job)
                final = self._run_process(job)
        except Exception:  # noqa: BLE001 - a job must always finish, or its page would wait forever
            ref = uuid.uuid4().hex[:8]
            _log.error("analysis job %s failed to run (ref %s)\n%s", job.state.job_id, ref, traceback.format_exc())
            final = replace(job.state, state="failed", message=(
                f"The analysis of “{job.request.source_name}” could not be started (reference {ref}; "
                "the details are in the server log)."))
        if job.request.delete_input:
            job.request.video_path.unlink(missing_ok=True)
        # the record first (as in _set_session): a page that sees the job finished finds it finished in the store
        self._write_record(job.request, final)
        self._finish(job, final)
        self._start_spare()

    def _run_process(self, job: _Job) -> JobState:
        spare = None if self.ray_address else self._take_spare()
        if self.ray_address:  # a Ray task instead of a process: same job function, same messages
            from formcheck.rayengine import RayAppJob

            process = RayAppJob(job.request, self.ray_address)
            job.process = process
            messages = process.messages
        elif spare is not None:  # a warm process, its imports done, waits for a request
            process, inbox, messages = spare
            job.process = process
            inbox.put(job.request)
        else:
            ctx = mp.get_context("spawn")
            messages = ctx.Queue()
            # Not a daemon: the pipeline may start its own pose worker processes. It dies with this
            # server, even a killed one (procs.spawn); this thread lives until the process is done.
            process = procs.spawn(_job_main, (job.request, messages), name="formcheck-analysis")
            job.process = process
            procs.start(process)
        final: JobState | None = None
        while final is None:
            try:
                msg = messages.get(timeout=0.25)
            except queue.Empty:
                if process.is_alive():
                    continue
                try:
                    msg = messages.get(timeout=1.0)
                except queue.Empty:
                    final = replace(job.state, state="failed", message=(
                        f"The analysis of “{job.request.source_name}” stopped unexpectedly "
                        f"(exit code {process.exitcode}). Try again, or try a shorter clip."))
                    continue
            kind = msg[0]
            if kind == "progress":
                self._update(job, stage=str(msg[1]), fraction=min(1.0, max(job.state.fraction, float(msg[2]))))
            elif kind == "report":
                self._set_session(job, str(msg[1]))
            elif kind == "video":
                self._update(job, video_ready=True)
            elif kind == "provisional":
                if job.state.session_id is None:  # the report, once there, is what the page shows
                    self._update(job, provisional=Provisional.from_dict(msg[1]))
            elif kind == "done":
                final = replace(job.state, state="done", stage="done", fraction=1.0, session_id=msg[1],
                                video_ready=True)
            else:
                final = replace(job.state, state="failed", message=str(msg[1]))
        process.join(timeout=30)
        return final

    def shutdown(self) -> None:
        """Stop running job processes (server exit); their records say "interrupted"."""
        with self._lock:
            self._stopping = True
            unfinished = [j for j in self._jobs.values() if not j.state.finished]
            running = [j.process for j in unfinished if j.process is not None and j.process.is_alive()]
            if self._spare is not None and self._spare[0].is_alive():
                running.append(self._spare[0])
            self._spare = None
        for p in running:
            p.terminate()
        deadline = time.monotonic() + 5
        for p in running:
            p.join(max(0.0, deadline - time.monotonic()))
        for j in unfinished:
            try:
                store = job_store(j.request)
                try:
                    if store.get_job(j.state.job_id) is not None:
                        store.update_job(j.state.job_id, state="interrupted",
                                         message="The server was stopped while this analysis ran.")
                finally:
                    store.close()
            except Exception:  # noqa: BLE001 - the server is exiting; the next start recovers the rest
                _log.warning("could not mark job %s interrupted", j.state.job_id)


def sample_request_fields(path: Path) -> Mapping[str, Any]:
    """``video_path``, ``source_name`` and ``video_sha256`` of a bundled sample (hash cached by size and mtime)."""
    st = path.stat()
    cache_key = (str(path), st.st_size, st.st_mtime_ns)
    with _sample_lock:
        sha = _sample_hashes.get(cache_key)
    if sha is None:
        sha = file_sha256(path)
        with _sample_lock:
            _sample_hashes[cache_key] = sha
    return {"video_path": path, "source_name": path.name, "video_sha256": sha}

