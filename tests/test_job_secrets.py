"""No database credentials in job records, job messages or logs; the job process still reaches the right database.

A job request carries the server's database URL with its password masked; the job process opens the
database its own environment names (FORMCHECK_DATABASE_URL, inherited from the server).
"""

from __future__ import annotations

import json
import logging
import multiprocessing as mp
from pathlib import Path

import pytest
import sqlalchemy as sa

from formcheck.storage import Store, StoreError, safe_url
from formcheck.worker import AnalysisRequest, JobManager, _job_main, job_store, retry_request
from test_storage import make_report

PASSWORD = "Sup3r-s3cret_pw"
PG_URL = f"postgresql://coach:{PASSWORD}@127.0.0.1:1/formcheck"  # port 1: nothing listens, refused at once


def _request(tmp_path: Path, **changes: object) -> AnalysisRequest:
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"x")
    base = dict(video_path=clip, source_name="my clip.mp4", source_kind="upload", video_sha256="7" * 64,
                data_dir=tmp_path / "data", model="lite", athlete="Ann")
    return AnalysisRequest(**{**base, **changes})


def _all_columns(store: Store) -> str:
    """Every stored column of every row of every table, as one text."""
    with store._engine.connect() as conn:
        return "\n".join(repr(tuple(r)) for t in sa.inspect(conn).get_table_names()
                         for r in conn.execute(sa.text(f'SELECT * FROM "{t}"')))


@pytest.mark.parametrize(
    "url, expected",
    [(PG_URL, "postgresql://coach:***@127.0.0.1:1/formcheck"),
     ("postgresql+psycopg://coach@db/x", "postgresql+psycopg://coach@db/x"),
     ("sqlite:////tmp/f.db", "sqlite:////tmp/f.db"),
     (f"bad url://coach:{PASSWORD}@db", "bad url://coach:***@db")],
    ids=["password", "no-password", "sqlite", "unparsable"],
)
def test_safe_url_masks_the_password(url: str, expected: str) -> None:
    got = safe_url(url)
    assert got == expected and PASSWORD not in got


def test_request_never_holds_the_password(tmp_path: Path) -> None:
    req = _request(tmp_path, database=PG_URL)  # even handed the full URL, it keeps the masked one
    assert req.database == "postgresql://coach:***@127.0.0.1:1/formcheck"
    assert PASSWORD not in repr(req) and PASSWORD not in json.dumps(req.to_dict())


def test_stored_job_has_no_password_in_any_column(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    req = _request(tmp_path, database=safe_url(PG_URL))
    store.record_job("a" * 32, owner="x", source_name=req.source_name, source_kind="upload",
                     request={**req.to_dict(), "db_url": PG_URL})  # a caller that still adds the URL
    store.update_job("a" * 32, state="failed", message="m")
    assert PASSWORD not in _all_columns(store)
    assert "db_url" not in store.get_job("a" * 32).request


def test_old_job_rows_lose_their_url_and_still_retry(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A record made before 2026-12-08 holds ``db_url``: it is never read out, dropped at the next open,
    and its retry runs on the database of the environment."""
    monkeypatch.delenv("FORMCHECK_DATABASE_URL", raising=False)
    monkeypatch.delenv("FORMCHECK_DB_URL", raising=False)
    store = Store(tmp_path / "data")
    req = _request(tmp_path)
    old = {k: v for k, v in req.to_dict().items() if k != "database"} | {"db_url": PG_URL}
    store.record_job("b" * 32, owner="x", source_name=req.source_name, source_kind="upload", request={})
    with store._engine.begin() as conn:  # the row as the old release wrote it
        conn.execute(sa.text("UPDATE jobs SET request_json = :j"), {"j": json.dumps(old)})
    assert PASSWORD not in json.dumps(dict(store.get_job("b" * 32).request)), "not shown even before the scrub"
    store.close()
    again = Store(tmp_path / "data")
    assert PASSWORD not in _all_columns(again)
    retried = retry_request(again.get_job("b" * 32))
    assert retried == req and retried.database == ""
    assert job_store(retried).db_url == again.db_url


def _run_job(request: AnalysisRequest) -> tuple:
    """The job function in a spawned process, as the job manager starts it (it inherits this environment);
    its outcome message (``done`` or ``failed``)."""
    ctx = mp.get_context("spawn")
    messages = ctx.Queue()
    p = ctx.Process(target=_job_main, args=(request, messages))
    p.start()
    try:
        while True:  # progress, "report" (a cached session without its video is named at once), ...: the outcome
            msg = messages.get(timeout=120)
            if msg[0] in ("done", "failed"):
                return msg
    finally:
        p.join(30)


@pytest.mark.parametrize(
    "env, database, outcome",
    [("elsewhere", "elsewhere", "done"),   # server and job both on the env's database: the job finds its session
     ("elsewhere", "default", "failed"),   # the job's environment names another database than the server's
     (None, "postgres", "failed")],        # e.g. a Ray node started without FORMCHECK_DATABASE_URL
    ids=["same-database", "other-database", "worker-without-url"],
)
def test_job_process_reaches_the_servers_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                  caplog: pytest.LogCaptureFixture, env: str | None,
                                                  database: str, outcome: str) -> None:
    urls = {"elsewhere": f"sqlite:///{tmp_path / 'elsewhere.db'}", "default": None, "postgres": PG_URL}
    monkeypatch.delenv("FORMCHECK_DB_URL", raising=False)
    if env is None:
        monkeypatch.delenv("FORMCHECK_DATABASE_URL", raising=False)
    else:
        monkeypatch.setenv("FORMCHECK_DATABASE_URL", urls[env])
    served = safe_url(urls[database]) if urls[database] else Store(tmp_path / "data", None).safe_url
    req = _request(tmp_path, database=served)
    if outcome == "done":
        session = Store(tmp_path / "data", urls["elsewhere"]).save_analysis(make_report(athlete="Ann"),
                                                                            analysis_key=req.key)
    with caplog.at_level(logging.DEBUG):
        kind, *rest = _run_job(req)
    assert kind == outcome, rest
    if outcome == "done":
        assert rest == [session.id]
    else:
        assert "FORMCHECK_DATABASE_URL" in rest[0] and PASSWORD not in rest[0]
    assert PASSWORD not in caplog.text


def test_job_manager_logs_and_records_no_password(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    """A server whose PostgreSQL is down: the records it cannot write are logged, masked."""
    monkeypatch.setenv("FORMCHECK_DATABASE_URL", PG_URL)
    with pytest.raises(StoreError) as err:
        Store(tmp_path / "data", PG_URL)
    assert PASSWORD not in str(err.value) and "coach:***@" in str(err.value)
    req = _request(tmp_path, database=safe_url(PG_URL))
    records = Store(tmp_path / "data", f"sqlite:///{tmp_path / 'records.db'}")  # stands in for the PostgreSQL
    jobs = JobManager()
    try:
        with caplog.at_level(logging.DEBUG):
            job_id = jobs.submit(req, records)
            state = jobs.wait(job_id, timeout=120)
    finally:
        jobs.shutdown()
    assert state.state == "failed" and PASSWORD not in state.message and "coach:***@" in state.message
    assert "could not update job" in caplog.text and PASSWORD not in caplog.text
    assert records.get_job(job_id) is not None and PASSWORD not in _all_columns(records)
