"""Crash safety: analysis workers die with a killed server; a dead server's jobs are marked interrupted;
a reviewer killed mid-write loses no review it committed."""

from __future__ import annotations

import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from formcheck import procs
from formcheck.storage import Store
from formcheck.worker import AnalysisRejected, AnalysisRequest, retry_request

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(os.environ.get("FORMCHECK_SAMPLES_DIR") or REPO / "sample_videos") / "squat_side_faults.mp4"
GONE_WITHIN_S = 5.0

needs_linux = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux only")


def _alive(pid: int) -> bool:
    """Running (a zombie waiting to be reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[-1].split()[0] != "Z"
    except OSError:
        return False


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            return [int(x) for x in fh.read().split()]
    except OSError:
        return []


def _wait_gone(pids: list[int], timeout: float) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_alive(p) for p in pids):
        time.sleep(0.05)
    return [p for p in pids if _alive(p)]


_PARENT = textwrap.dedent(
    """
    import multiprocessing, subprocess, sys, time
    sys.path[:0] = [{repo!r}]
    from formcheck import procs

    grandchild = [sys.executable, "-c", "import time; time.sleep(600)"]
    if sys.argv[1] == "bound":
        p = procs.spawn(subprocess.call, (grandchild,), name="bound")
    else:  # what formcheck did before: a plain spawned process
        p = multiprocessing.get_context("spawn").Process(target=subprocess.call, args=(grandchild,))
    procs.start(p)
    print("CHILD", p.pid, flush=True)
    time.sleep(600)
    """
)


@needs_linux
@pytest.mark.parametrize("mode, survives", [("bound", False), ("plain", True)], ids=["procs-spawn", "plain-spawn"])
def test_worker_dies_with_a_killed_parent(tmp_path: Path, mode: str, survives: bool) -> None:
    script = tmp_path / "parent.py"
    script.write_text(_PARENT.format(repo=str(REPO)))
    parent = subprocess.Popen([sys.executable, str(script), mode], stdout=subprocess.PIPE, text=True)
    left: list[int] = []
    try:
        line = parent.stdout.readline()
        assert line.startswith("CHILD"), line
        child = int(line.split()[1])
        deadline = time.monotonic() + 30
        while not _children(child):
            assert time.monotonic() < deadline, "the child never started its grandchild"
            time.sleep(0.05)
        family = [child, *_children(child)]
        assert all(_alive(p) for p in family)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        left = _wait_gone(family, GONE_WITHIN_S)
        if survives:  # the failure mode itself, so the bound case cannot pass for the wrong reason
            assert left == family
        else:
            assert left == [], f"still running {GONE_WITHIN_S} s after the parent was killed: {left}"
    finally:
        parent.kill()
        for p in left:
            os.kill(p, signal.SIGKILL)


@needs_linux
def test_terminate_stops_the_whole_group(tmp_path: Path) -> None:
    """A normal server exit terminates the job: its own children go with it."""
    p = procs.spawn(subprocess.call, ([sys.executable, "-c", "import time; time.sleep(600)"],))
    procs.start(p)
    deadline = time.monotonic() + 30
    while not _children(p.pid):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    family = [p.pid, *_children(p.pid)]
    p.terminate()
    p.join(GONE_WITHIN_S)
    left = _wait_gone(family, GONE_WITHIN_S)
    for pid in left:
        os.kill(pid, signal.SIGKILL)
    assert left == []


# --------------------------------------------------------------------------- job records


def _dead_owner() -> str:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return procs.owner_token(p.pid)


def _request(tmp_path: Path, clip: Path) -> AnalysisRequest:
    return AnalysisRequest(video_path=clip, source_name="my clip.mp4", source_kind="upload", video_sha256="2" * 64,
                           data_dir=tmp_path / "data", model="lite", athlete="Ann", delete_input=True)


@pytest.mark.parametrize(
    "state, owner, after",
    [("running", "dead", "interrupted"), ("queued", "dead", "interrupted"), ("running", "self", "running"),
     ("done", "dead", "done"), ("running", "other-host", "running")],
    ids=["running-dead-server", "queued-dead-server", "live-server", "finished", "other-host"],
)
def test_jobs_of_a_dead_server_are_interrupted_at_start_up(tmp_path: Path, state: str, owner: str, after: str) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    token = {"dead": _dead_owner(), "self": procs.owner_token(), "other-host": "elsewhere:1:1"}[owner]
    store = Store(tmp_path / "data")
    job_id = "a" * 32
    store.record_job(job_id, owner=token, source_name="my clip.mp4", source_kind="upload",
                     request=_request(tmp_path, clip).to_dict())
    if state != "queued":
        store.update_job(job_id, state=state, **({"session_id": "b" * 32} if state == "done" else {}))
    store.close()
    again = Store(tmp_path / "data")  # what a restarted server does first
    assert again.get_job(job_id).state == after
    assert [j.id for j in again.interrupted_jobs()] == ([job_id] if after == "interrupted" else [])


def test_retry_request_rebuilds_the_request(tmp_path: Path) -> None:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    req = _request(tmp_path, clip)
    store = Store(tmp_path / "data")
    store.record_job("c" * 32, owner=_dead_owner(), source_name=req.source_name, source_kind="upload",
                     request=req.to_dict())
    store.recover_jobs()
    job = store.get_job("c" * 32)
    assert retry_request(job) == req
    clip.unlink()
    with pytest.raises(AnalysisRejected, match="no longer on the server"):
        retry_request(job)


# --------------------------------------------------------------------------- the real thing

_SERVER = textwrap.dedent(
    """
    import sys, time
    sys.path[:0] = [{repo!r}]
    from pathlib import Path
    from formcheck.storage import Store
    from formcheck.worker import AnalysisRequest, JobManager, file_sha256

    data, clip = Path(sys.argv[1]), Path(sys.argv[2])
    store = Store(data)
    req = AnalysisRequest(video_path=clip, source_name="kill me.mp4", source_kind="upload",
                          video_sha256=file_sha256(clip), data_dir=data, model="lite", delete_input=True)
    jobs = JobManager()
    job_id = jobs.submit(req, store)
    while jobs.state(job_id).fraction < 0.05:
        assert not jobs.state(job_id).finished, jobs.state(job_id)
        time.sleep(0.1)
    print("RUNNING", job_id, jobs._jobs[job_id].process.pid, flush=True)
    time.sleep(600)
    """
)


@needs_linux
def test_killed_server_leaves_no_worker_and_an_interrupted_job(tmp_path: Path) -> None:
    """kill -9 of the server mid-analysis: the worker goes too, stores nothing, the job says interrupted."""
    assert SAMPLE.is_file(), f"sample clip missing: {SAMPLE}"
    data = tmp_path / "data"
    Store(data).close()
    clip = data / "work" / "upload-kill.mp4"
    shutil.copyfile(SAMPLE, clip)
    script = tmp_path / "server.py"
    script.write_text(_SERVER.format(repo=str(REPO)))
    server = subprocess.Popen([sys.executable, str(script), str(data), str(clip)], stdout=subprocess.PIPE, text=True)
    worker = None
    try:
        line = server.stdout.readline()
        assert line.startswith("RUNNING"), line
        job_id, worker = line.split()[1], int(line.split()[2])
        assert _alive(worker)
        server.send_signal(signal.SIGKILL)
        server.wait(10)
        assert _wait_gone([worker], GONE_WITHIN_S) == [], "the analysis outlived the killed server"
        time.sleep(2.0)
        store = Store(data)  # the restarted server
        assert store.list_sessions() == [] and list(store.sessions_dir.iterdir()) == []
        job = store.get_job(job_id)
        assert job.state == "interrupted" and job.source_name == "kill me.mp4"
        assert retry_request(job).video_path == clip, "the upload copy is kept for a retry"
    finally:
        server.kill()
        if worker is not None and _alive(worker):
            os.kill(worker, signal.SIGKILL)


# --------------------------------------------------------------------------- review writes under kill -9

_REVIEWER = textwrap.dedent(
    """
    import sys
    sys.path[:0] = [{repo!r}]
    from formcheck.storage import Store

    store = Store(sys.argv[1])
    flags = store.flags_for_session(sys.argv[2])
    for i in range(100000):
        f = flags[i % len(flags)]
        op = (i // len(flags)) % 3
        if op == 0:
            store.set_review(f.id, status="confirmed")
        elif op == 1:
            store.set_review(f.id, status="dismissed")
        else:
            store.add_comment(f.id, f"note {{i}}", t_ms=f.t_ms)
        print("COMMITTED", i, flush=True)
    """
)
_REVIEW_OPS = ("confirmed", "dismissed", "comment")


def _review_op(i: int, n_flags: int) -> tuple[int, str]:
    """(index of the flag, what the reviewer does) for write ``i``: the reviewer script's own sequence."""
    return i % n_flags, _REVIEW_OPS[(i // n_flags) % 3]


@needs_linux
@pytest.mark.parametrize("pause_s", [0.0, 0.003], ids=["right-after-a-commit", "mid-write"])
def test_killed_reviewer_loses_no_committed_review(tmp_path: Path, pause_s: float) -> None:
    """kill -9 during a stream of confirm/dismiss/comment writes: every write reported committed is there."""
    from test_storage import make_report

    data = tmp_path / "data"
    store = Store(data)
    session = store.save_analysis(make_report(flags=[(1, "rounded_back", "major"), (2, "shallow_depth", "minor"),
                                                     (3, "hips_rise_early", "minor")], athlete="Ann"))
    flag_ids = [f.id for f in store.flags_for_session(session.id)]
    store.close()
    script = tmp_path / "reviewer.py"
    script.write_text(_REVIEWER.format(repo=str(REPO)))
    proc = subprocess.Popen([sys.executable, str(script), str(data), session.id], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    reported: list[int] = []
    try:
        deadline = time.monotonic() + 30
        while len(reported) < 40:  # past a few full rounds of confirm, dismiss and comment on every flag
            assert time.monotonic() < deadline, "the reviewer was too slow"
            line = proc.stdout.readline()
            assert line.startswith("COMMITTED"), (line, proc.stderr.read() if not line else "")
            reported.append(int(line.split()[1]))
        time.sleep(pause_s)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        reported += [int(x.split()[1]) for x in proc.stdout.read().splitlines() if x.startswith("COMMITTED")]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    last = reported[-1]
    assert reported == list(range(last + 1))

    con = sqlite3.connect(data / "formcheck.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
    finally:
        con.close()
    store = Store(data)  # what a restarted server does
    n = len(flag_ids)
    # the write in flight at the kill may or may not have landed; nothing else may differ
    for in_flight in (0, 1):
        done = range(last + 1 + in_flight)
        want_status = {fid: "pending" for fid in flag_ids}
        want_notes: dict[int, list[tuple[str, float]]] = {fid: [] for fid in flag_ids}
        for i in done:
            k, op = _review_op(i, n)
            if op == "comment":
                want_notes[flag_ids[k]].append((f"note {i}", store.get_flag(flag_ids[k]).t_ms))
            else:
                want_status[flag_ids[k]] = op
        got = {fid: store.get_flag(fid) for fid in flag_ids}
        if all(got[fid].review_status == want_status[fid]
               and sorted((c.text, c.t_ms) for c in got[fid].comments) == sorted(want_notes[fid]) for fid in flag_ids):
            break
    else:
        pytest.fail(f"after the kill at write {last}: "
                    f"{[(f.review_status, [c.text for c in f.comments]) for f in got.values()]}")
    # and the store still takes review writes
    store.set_review(flag_ids[0], status="confirmed")
    assert store.get_flag(flag_ids[0]).review_status == "confirmed"
    store.close()
