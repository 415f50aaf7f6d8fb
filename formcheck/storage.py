"""Persistent store of analysed sessions, their flags and the coach's reviews.

API (the app and the live page use only this)
---------------------------------------------
::

    store = Store.from_env()          # FORMCHECK_DATA_DIR / FORMCHECK_DATABASE_URL, else the defaults
    store = Store(data_dir, db_url=None)

    store.save_analysis(report, *, pose=None, video_path=None, original_path=None, files=None,
                        athlete=None, source_kind="upload", source_name="", analysis_key="",
                        move=False) -> SessionRecord
        report: FormReport or its dict. pose: PoseSequence, saved as pose.npz beside the DB.
        video_path: the video to show (annotated or recorded). original_path: the untouched input.
        files: more artefacts, name -> path ("csv", "html", "plot", "worst_<rep>_<code>", ...).
        athlete: None takes report["athlete"]. source_kind: "upload" | "sample" | "live".
        source_name: display only (e.g. the uploaded file's name), never used as a path.
        move: move the files instead of copying them (they must be yours to move).
    store.get_session(session_id) -> SessionRecord | None
    store.list_sessions(*, athlete=None, lift=None, since=None, until=None, limit=None) -> list[SessionRecord]
        (newest first; since/until: dates, both days included)
    store.find_session(analysis_key, athlete="") -> SessionRecord | None
    store.athletes() -> list[str]
    store.flags_for_session(session_id) -> list[FlagRecord]
    store.get_flag(flag_id) -> FlagRecord | None
    store.review_queue(*, athlete=None, lift=None, code=None, status="pending", order="newest",
                       since=None, until=None, limit=None) -> list[FlagRecord]
    store.rep_queue(*, scope="all", athlete=None, lift=None, code=None, since=None, until=None)
        -> list[RepItem]   (every rep, clean or flagged; scope "all" or "unreviewed")
    store.set_review(flag_id, *, status=None, severity=None) -> FlagRecord
    store.add_comment(flag_id, text, *, t_ms=None) -> FlagRecord
        (t_ms: pin the comment to a time in the flag's rep, ms from the clip's start; None for a general one)
    store.add_missed_fault(session_id, rep, code, *, severity="minor", comment="") -> FlagRecord
    store.mark_session_reviewed(session_id) -> SessionRecord
    store.delete_session(session_id) -> None      (its rows, reviews and every file, for good)
    store.athlete_history(athlete) -> list[HistoryPoint]
    store.review_counts(session_ids) -> {session id: {"pending": n, "confirmed": n, "dismissed": n}}
    store.review_records(session_id) -> list[dict]   (every flag's decision, severities and comments)
    store.coach_reviewed_at(session) -> datetime | None   (the coach's latest action on it, None if none)
    store.reviewed_report(session_id, fmt="html" | "md") -> str | None
        (the report re-rendered with the review, :mod:`formcheck.reviewed`; None before any review action)
    store.export_labels(*, athlete=None, lift=None, reviewed_only=True) -> list[dict]
    store.export_flags_csv(*, athlete=None, lift=None, reviewed_only=True) -> str
    store.rep_clip_path(session, rep) -> Path   (where a rep's slow-motion clip is kept)
    store.record_job(job_id, *, owner, source_name, source_kind, request) -> JobRecord   (state "queued")
    store.update_job(job_id, *, state, stage=None, session_id=None, message=None) -> JobRecord
    store.get_job(job_id) -> JobRecord | None
    store.video_job(session_id) -> JobRecord | None   (the queued/running job still to add the session's video)
    store.interrupted_jobs(*, max_age_s=WORK_STALE_AFTER_S) -> list[JobRecord]   (newest first)
    store.recover_jobs(is_alive=procs.owner_alive) -> list[JobRecord]
        (queued/running jobs whose server is gone become "interrupted"; run on every open)

    Accounts (see "Accounts and roster" below; who may do what is formcheck.access):
    store.has_users() -> bool
    store.add_user(name, role, password) -> UserRecord       (role "coach" | "athlete"; argon2 hash)
    store.authenticate(name, password) -> UserRecord | None
    store.get_user(user_id) / store.user_named(name) -> UserRecord | None;  store.users() -> list
    store.set_password(name, password) -> None
    store.add_to_roster(coach, athlete) / store.remove_from_roster(coach, athlete)   (names)
    store.roster(coach_id) -> list[UserRecord]      (the coach's athletes)
    store.create_athlete(name) / rename_athlete(old, new) / merge_athletes(source, target) -> str
    store.delete_athlete(name) -> int               (sessions deleted with their files)

Reading methods that list sessions (list_sessions, athletes, review_queue, rep_queue,
athlete_history, export_*) take ``owners``: None (every session) or the account ids whose
sessions may be listed, ``None`` in it standing for sessions without an owner.

Errors are :class:`StoreError` (a ``ValueError``) with a one-line message.

Layout
------
``data_dir/formcheck.db`` (SQLite in WAL mode unless ``FORMCHECK_DATABASE_URL`` names another
database, e.g. ``postgresql://user:pw@host/db``, which uses psycopg 3),
``data_dir/sessions/<session id>/`` with the session's files under fixed names (``report.json``,
``video.mp4``, ``pose.npz``, ...; a user's file name is never a path),
``data_dir/.staging/`` for sessions being written and ``data_dir/work/`` for the app's
scratch files.

Durability
----------
A session's files are written under ``.staging/<id>``, flushed, and the folder is renamed
into ``sessions/`` in one step; only then is its database row inserted, in one
transaction with its flags. A session is visible exactly when that transaction committed,
so a crash or kill at any moment leaves either the whole session or none of it (left-over
staging or orphan folders are removed the next time a store is opened). SQLite writes begin
with ``BEGIN IMMEDIATE`` and wait up to 30 s for another writer (several processes may
write at once).

Schema
------
The tables below are the current schema; Alembic builds and upgrades it (``formcheck/migrations``,
one revision per schema version, run by :meth:`Store.migrate` whenever a store is opened).

Review states
-------------
Each flag is ``pending`` (not reviewed), ``confirmed`` or ``dismissed`` (a false flag).
A fault the tool missed is added by the coach as a flag with ``origin="coach"``, already
confirmed. A session counts as reviewed (``reviewed_at``) once no flag of it is pending, or
when the coach marks it reviewed: its judged-and-clear faults then export as ``no``.
Times are naive UTC ``datetime`` values.

Accounts and roster
-------------------
Without any account the app is the single-user tool (every session visible). Accounts are
``coach`` or ``athlete`` (``users``; password hashed with argon2id by argon2-cffi, never stored).
``roster`` links coaches to their athletes. An athlete account's name is its athlete name: a
session whose athlete is that name is owned by the account (``sessions.owner_id``), also for
sessions recorded before the account existed (adopted when it is created). ``athletes`` holds
athletes created by name (without sessions yet) for the single-user roster.

Files
-----
The data folder and its sub-folders are made ``0700`` and the files the store writes (database,
session files) ``0600``, so other users of the machine cannot read clips or accounts.

Analysis jobs
-------------
The app records each analysis job (``jobs``: its request, the server process that owns it,
its state). A job still ``queued`` or ``running`` whose owner process is gone (the server was
killed or crashed) is marked ``interrupted`` whenever a store is opened, so a restarted
server can say what happened and offer a retry (``retried`` / ``dismissed`` close it).
"""

from __future__ import annotations

import io
import json
import math
import os
import re
import shutil
import time
import unicodedata
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Iterator, Mapping, Sequence

import sqlalchemy as sa
from sqlalchemy import event

from formcheck.csvsafe import csv_writer
from formcheck.faults import FAULT_CODES

__all__ = [
    "DB_FILENAME", "ENV_DATA_DIR", "ENV_DATABASE_URL", "ENV_DB_URL", "ORIGINS", "REVIEW_STATES", "SCHEMA_VERSION",
    "JOB_RECORD_STATES", "SEVERITIES", "SOURCE_KINDS", "CommentRecord", "FlagRecord", "HistoryPoint", "JobRecord",
    "RepItem", "ROLES", "SessionRecord", "UserRecord",
    "Store", "StoreError", "clean_athlete", "database_url", "database_url_from_env", "default_data_dir", "safe_url",
    "store_url",
]

ENV_DATA_DIR = "FORMCHECK_DATA_DIR"
ENV_DATABASE_URL = "FORMCHECK_DATABASE_URL"
#: The name the database URL had before FORMCHECK_DATABASE_URL (still read when that one is not set).
ENV_DB_URL = "FORMCHECK_DB_URL"
DB_FILENAME = "formcheck.db"
SCHEMA_VERSION = 4

SOURCE_KINDS = ("upload", "sample", "live")
REVIEW_STATES = ("pending", "confirmed", "dismissed")
SEVERITIES = ("minor", "major")
ORIGINS = ("auto", "coach")
#: Analysis jobs: live states, ends, and what a job left running by a dead server becomes.
JOB_RECORD_STATES = ("queued", "running", "done", "failed", "interrupted", "retried", "dismissed")
JOB_LIVE_STATES = ("queued", "running")
ORDERS = ("newest", "severity")
REP_SCOPES = ("all", "unreviewed")
MAX_ATHLETE_CHARS = 80
MAX_COMMENT_CHARS = 2000
MAX_SOURCE_NAME_CHARS = 200
ROLES = ("coach", "athlete")
MIN_PASSWORD_CHARS = 8
MAX_PASSWORD_CHARS = 1024
DIR_MODE = 0o700
FILE_MODE = 0o600
#: Staging and orphan folders younger than this may belong to a writer that is still running.
STALE_AFTER_S = 3600.0
SQLITE_BUSY_TIMEOUT_S = 30.0
#: Scratch files of the app's uploads and analyses ("upload-*", "job-*" in work/) are kept this long.
WORK_STALE_AFTER_S = 86400.0
WORK_PREFIXES = ("upload-", "job-")

_FILE_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,80}$")
_SUFFIX = re.compile(r"^\.[A-Za-z0-9]{1,5}$")
_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
#: Report view names -> the view names of the hand labels (LABELS.md).
_LABEL_VIEW = {"side": "side", "front": "front", "oblique": "45deg"}


class StoreError(ValueError):
    """A storage request that cannot be done; the message is one line."""


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def default_data_dir() -> Path:
    """``FORMCHECK_DATA_DIR`` if set, else ``platformdirs.user_data_dir("formcheck")``."""
    env = os.environ.get(ENV_DATA_DIR, "").strip()
    if env:
        return Path(env).expanduser()
    from platformdirs import user_data_dir

    return Path(user_data_dir("formcheck"))


def database_url(url: str) -> str:
    """``url`` as SQLAlchemy takes it: ``postgresql://`` and ``postgres://`` (no driver named) use psycopg 3."""
    url = url.strip()
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def store_url(data_dir: str | Path, db_url: str | None) -> str:
    """The database URL a :class:`Store` of ``data_dir`` and ``db_url`` opens (SQLite in the folder by default)."""
    return database_url(db_url) if db_url else f"sqlite:///{Path(data_dir).expanduser() / DB_FILENAME}"


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@\s]*@")


def safe_url(url: str) -> str:
    """``url`` with its password masked (``postgresql+psycopg://me:***@host/db``): for messages, logs, records.

    A URL SQLAlchemy cannot parse is masked by pattern (``scheme://user:<anything>@``)."""
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError, TypeError):
        return _URL_PASSWORD.sub(r"\1***@", str(url))


def database_url_from_env() -> str | None:
    """``FORMCHECK_DATABASE_URL`` (or the older ``FORMCHECK_DB_URL``), None when neither is set."""
    for name in (ENV_DATABASE_URL, ENV_DB_URL):
        value = os.environ.get(name, "").strip()
        if value:
            return database_url(value)
    return None


def clean_athlete(name: str | None) -> str:
    """An athlete name as stored: control characters dropped, spaces collapsed, at most 80 characters."""
    if name is None:
        return ""
    if not isinstance(name, str):
        raise StoreError(f"athlete: expected a string, got {type(name).__name__}")
    text = "".join(ch if unicodedata.category(ch)[0] != "C" else " " for ch in name)
    return " ".join(text.split())[:MAX_ATHLETE_CHARS]


def _clean_text(text: str, what: str, limit: int) -> str:
    if not isinstance(text, str):
        raise StoreError(f"{what}: expected a string, got {type(text).__name__}")
    kept = "".join(ch for ch in text if ch in "\n\t" or unicodedata.category(ch)[0] != "C")
    return kept.strip()[:limit]


def _check(cond: bool, what: str, got: Any) -> None:
    if not cond:
        raise StoreError(f"expected {what}, got {got!r}")


# --------------------------------------------------------------------------- records


@dataclass(frozen=True)
class SessionRecord:
    """One analysed clip (upload, sample or live recording) as stored."""

    id: str
    created_at: datetime
    athlete: str
    source_kind: str
    source_name: str
    video_sha256: str
    analysis_key: str
    lift: str
    view: str
    model: str
    status: str
    rep_count: int
    flag_count: int
    duration_ms: float | None
    reviewed_at: datetime | None
    report: Mapping[str, Any]
    dir: Path
    files: Mapping[str, Path] = field(default_factory=dict)
    #: The athlete account owning the session (None: no account, or the single-user app).
    owner_id: int | None = None

    def __post_init__(self) -> None:
        _check(bool(_SESSION_ID.match(self.id)), "a 32-hex session id", self.id)
        _check(self.source_kind in SOURCE_KINDS, f"source_kind in {SOURCE_KINDS}", self.source_kind)
        _check(isinstance(self.rep_count, int) and self.rep_count >= 0, "rep_count >= 0", self.rep_count)
        _check(isinstance(self.flag_count, int) and self.flag_count >= 0, "flag_count >= 0", self.flag_count)
        _check(isinstance(self.report, Mapping), "the report as a mapping", type(self.report).__name__)

    def file(self, name: str) -> Path | None:
        """The stored file called ``name`` ("video", "csv", "worst_2_rounded_back", ...) if it exists."""
        p = self.files.get(name)
        return p if p is not None and p.is_file() else None

    @property
    def reps(self) -> list[Mapping[str, Any]]:
        return list(self.report.get("reps", []))

    def rep(self, number: int) -> Mapping[str, Any] | None:
        return next((r for r in self.reps if r.get("rep") == number), None)


@dataclass(frozen=True)
class UserRecord:
    """An account of the web app (its password hash is never read out of the store)."""

    id: int
    name: str
    role: str
    created_at: datetime

    def __post_init__(self) -> None:
        _check(self.role in ROLES, f"role in {ROLES}", self.role)
        _check(isinstance(self.name, str) and bool(self.name), "a user name", self.name)

    @property
    def is_coach(self) -> bool:
        return self.role == "coach"


@dataclass(frozen=True)
class CommentRecord:
    """A coach's comment on a flag; ``t_ms`` pins it to a time in the rep (None: a general comment)."""

    id: int
    text: str
    created_at: datetime
    t_ms: float | None = None

    def __post_init__(self) -> None:
        _check(isinstance(self.text, str) and bool(self.text), "a non-empty comment", self.text)


@dataclass(frozen=True)
class FlagRecord:
    """One flag (the tool's or a coach's) with its review state and its session's context."""

    id: int
    session_id: str
    rep: int
    code: str
    phase: str
    t_ms: float | None
    frame: int | None
    measured: float | None
    limit: float | None
    units: str
    auto_severity: str | None
    severity: str
    confidence: float | None
    measure: str
    message: str
    origin: str
    review_status: str
    reviewed_at: datetime | None
    created_at: datetime
    athlete: str
    lift: str
    view: str
    source_name: str
    session_created_at: datetime
    comments: tuple[CommentRecord, ...] = ()

    def __post_init__(self) -> None:
        _check(self.code in FAULT_CODES, "a fault code from labels.json", self.code)
        _check(self.severity in SEVERITIES, f"severity in {SEVERITIES}", self.severity)
        _check(self.auto_severity in (None, *SEVERITIES), f"auto_severity None or in {SEVERITIES}", self.auto_severity)
        _check(self.origin in ORIGINS, f"origin in {ORIGINS}", self.origin)
        _check(self.review_status in REVIEW_STATES, f"review_status in {REVIEW_STATES}", self.review_status)
        _check(isinstance(self.rep, int) and self.rep >= 1, "a 1-based rep number", self.rep)


@dataclass(frozen=True)
class JobRecord:
    """One analysis job as recorded: ``request`` holds what a retry needs (paths, hash, options)."""

    id: str
    created_at: datetime
    updated_at: datetime
    state: str
    stage: str
    owner: str
    source_name: str
    source_kind: str
    request: Mapping[str, Any]
    session_id: str | None
    message: str

    def __post_init__(self) -> None:
        _check(bool(_SESSION_ID.match(self.id)), "a 32-hex job id", self.id)
        _check(self.state in JOB_RECORD_STATES, f"state in {JOB_RECORD_STATES}", self.state)


@dataclass(frozen=True)
class RepItem:
    """One rep of a session with every flag on it (none for a clean rep), for the review page."""

    session: SessionRecord
    rep: int
    flags: tuple[FlagRecord, ...] = ()

    def __post_init__(self) -> None:
        _check(self.session.rep(self.rep) is not None, f"a rep of session {self.session.id}", self.rep)
        _check(all(f.session_id == self.session.id and f.rep == self.rep for f in self.flags),
               "flags of this rep only", [(f.session_id, f.rep) for f in self.flags])

    @property
    def reviewed(self) -> bool:
        """No flag of the rep waits for review and its session is reviewed (see the module docstring)."""
        return self.session.reviewed_at is not None and all(f.review_status != "pending" for f in self.flags)


@dataclass(frozen=True)
class HistoryPoint:
    """One session of an athlete: how often each fault was seen (share of reps, after review)."""

    session_id: str
    created_at: datetime
    lift: str
    rep_count: int
    source_name: str
    fault_reps: Mapping[str, int]
    pending: int
    confirmed: int = 0
    dismissed: int = 0

    def __post_init__(self) -> None:
        _check(self.rep_count >= 0, "rep_count >= 0", self.rep_count)
        for code, n in self.fault_reps.items():
            _check(code in FAULT_CODES, "fault codes from labels.json", code)
            _check(0 <= n <= self.rep_count, f"0-{self.rep_count} reps with {code}", n)

    def rate(self, code: str) -> float:
        """Share of the session's reps with ``code`` (NaN without reps)."""
        return self.fault_reps.get(code, 0) / self.rep_count if self.rep_count else math.nan


# --------------------------------------------------------------------------- schema
#
# Convention: the tables below are the current schema. A change adds an Alembic revision in
# formcheck/migrations/versions (which keeps its own copy of what it creates) and changes the table
# here to match (tests/test_migrations.py compares them); a revision is never edited once released.

metadata = sa.MetaData()

#: The hand-written runner's record of versions applied (before Alembic). Still kept, one row per
#: schema version, so that an older formcheck refuses a database newer than itself.
schema_migrations = sa.Table(
    "schema_migrations", metadata,
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("description", sa.String(200), nullable=False),
    sa.Column("applied_at", sa.DateTime, nullable=False),
)

sessions = sa.Table(
    "sessions", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("state", sa.String(16), nullable=False),
    sa.Column("athlete", sa.String(MAX_ATHLETE_CHARS), nullable=False, index=True),
    sa.Column("source_kind", sa.String(16), nullable=False),
    sa.Column("source_name", sa.String(MAX_SOURCE_NAME_CHARS), nullable=False),
    sa.Column("video_sha256", sa.String(64), nullable=False),
    sa.Column("analysis_key", sa.String(64), nullable=False, index=True),
    sa.Column("lift", sa.String(16), nullable=False),
    sa.Column("view", sa.String(16), nullable=False),
    sa.Column("model", sa.String(100), nullable=False),
    sa.Column("status", sa.String(32), nullable=False),
    sa.Column("rep_count", sa.Integer, nullable=False),
    sa.Column("flag_count", sa.Integer, nullable=False),
    sa.Column("duration_ms", sa.Float, nullable=True),
    sa.Column("reviewed_at", sa.DateTime, nullable=True),
    sa.Column("report_json", sa.Text, nullable=False),
    sa.Column("files_json", sa.Text, nullable=False),
    sa.Column("owner_id", sa.Integer, nullable=True, index=True),  # migration 3
)

flags = sa.Table(
    "flags", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("session_id", sa.String(32), sa.ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("rep", sa.Integer, nullable=False),
    sa.Column("code", sa.String(40), nullable=False, index=True),
    sa.Column("phase", sa.String(64), nullable=False),
    sa.Column("t_ms", sa.Float, nullable=True),
    sa.Column("frame", sa.Integer, nullable=True),
    sa.Column("measured", sa.Float, nullable=True),
    sa.Column("limit_value", sa.Float, nullable=True),
    sa.Column("units", sa.String(16), nullable=False),
    sa.Column("auto_severity", sa.String(8), nullable=True),
    sa.Column("severity", sa.String(8), nullable=False),
    sa.Column("confidence", sa.Float, nullable=True),
    sa.Column("measure", sa.String(64), nullable=False),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("origin", sa.String(8), nullable=False),
    sa.Column("review_status", sa.String(12), nullable=False, index=True),
    sa.Column("reviewed_at", sa.DateTime, nullable=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.UniqueConstraint("session_id", "rep", "code", name="uq_flag_session_rep_code"),
)

comments = sa.Table(
    "comments", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("flag_id", sa.Integer, sa.ForeignKey("flags.id", ondelete="CASCADE"), nullable=False, index=True),
    sa.Column("text", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("t_ms", sa.Float, nullable=True),  # migration 3: the time in the rep it is pinned to
)


jobs = sa.Table(
    "jobs", metadata,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False, index=True),
    sa.Column("updated_at", sa.DateTime, nullable=False),
    sa.Column("state", sa.String(16), nullable=False, index=True),
    sa.Column("stage", sa.String(100), nullable=False),
    sa.Column("owner", sa.String(300), nullable=False),
    sa.Column("source_name", sa.String(MAX_SOURCE_NAME_CHARS), nullable=False),
    sa.Column("source_kind", sa.String(16), nullable=False),
    sa.Column("request_json", sa.Text, nullable=False),
    sa.Column("session_id", sa.String(32), nullable=True),
    sa.Column("message", sa.Text, nullable=False),
)


users = sa.Table(
    "users", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(MAX_ATHLETE_CHARS), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", sa.DateTime, nullable=False),
)

roster = sa.Table(
    "roster", metadata,
    sa.Column("coach_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    sa.Column("athlete_id", sa.Integer, sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True,
              index=True),
)

athletes = sa.Table(
    "athletes", metadata,
    sa.Column("name", sa.String(MAX_ATHLETE_CHARS), primary_key=True),
    sa.Column("created_at", sa.DateTime, nullable=False),
)


#: Where the Alembic scripts live (inside the installed package: formcheck/migrations).
MIGRATIONS_LOCATION = "formcheck:migrations"
#: PostgreSQL advisory lock taken while migrating, so two servers starting at once migrate one at a
#: time (SQLite's BEGIN IMMEDIATE does the same there). Any fixed 64-bit number; this is "fcmigrat" in ASCII.
PG_MIGRATION_LOCK = 0x66636D6967726174
#: PostgreSQL advisory lock every write transaction takes first, so writers queue one after another as
#: they do on SQLite (BEGIN IMMEDIATE): a check-then-insert (a user name "is taken", a clip already saved)
#: cannot interleave with another server's. This is "fcwriter" in ASCII.
PG_WRITE_LOCK = 0x6663777269746572
_script_dir: Any = None


def _migration_scripts() -> Any:
    """Alembic's view of formcheck/migrations (read once per process)."""
    global _script_dir
    if _script_dir is None:
        from alembic.script import ScriptDirectory

        _script_dir = ScriptDirectory(str(Path(__file__).resolve().parent / "migrations"))
        assert _script_dir.get_current_head() == f"{SCHEMA_VERSION:04d}", "SCHEMA_VERSION must name the head revision"
    return _script_dir


def _sqlite_engine(url: str) -> sa.Engine:
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_S})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # The driver's own transaction handling is turned off: _on_begin issues BEGIN itself,
        # so that writers take the write lock up front (no deadlock upgrading a read lock).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        try:
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_S * 1000)}")
        finally:
            cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        immediate = conn.get_execution_options().get("formcheck_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


# --------------------------------------------------------------------------- store


class Store:
    """Sessions, flags and reviews in a database, session files in ``data_dir`` (see module docstring)."""

    def __init__(self, data_dir: str | Path | None = None, db_url: str | None = None) -> None:
        self.data_dir = Path(data_dir).expanduser() if data_dir is not None else default_data_dir()
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True, mode=DIR_MODE)
            _private(self.data_dir, DIR_MODE)
            for sub in ("sessions", ".staging", "work"):
                (self.data_dir / sub).mkdir(exist_ok=True, mode=DIR_MODE)
                _private(self.data_dir / sub, DIR_MODE)
        except OSError as exc:
            raise StoreError(f"data directory {self.data_dir} is not writable ({exc.strerror or exc})") from exc
        self.db_url = store_url(self.data_dir, db_url)
        try:
            url = sa.make_url(self.db_url)
        except sa.exc.ArgumentError as exc:
            raise StoreError("database URL: expected e.g. sqlite:///path or postgresql://..., "
                             f"got {self._safe_url()!r}") from exc
        self.is_sqlite = url.get_backend_name() == "sqlite"
        try:
            self._engine = (_sqlite_engine(self.db_url) if self.is_sqlite
                            else sa.create_engine(self.db_url, pool_pre_ping=True))
        except (ImportError, sa.exc.ArgumentError) as exc:
            hint = ' (install it: pip install "formcheck[postgres]")' if url.get_backend_name() == "postgresql" else ""
            raise StoreError(f"database URL {self._safe_url()}: no driver for it{hint}: {exc}") from exc
        try:
            self.migrate()
        except sa.exc.DBAPIError as exc:  # cannot connect, no such database, no right to create tables
            self._engine.dispose()
            reason = self._unsecret(str(getattr(exc, "orig", exc))).strip().splitlines()
            raise StoreError(f"cannot open the database {self._safe_url()}: "
                             f"{reason[0] if reason else type(exc).__name__}") from exc
        if self.is_sqlite and not db_url:
            # chmod only: opening and closing the file here would drop this process's SQLite locks on it
            # (POSIX record locks belong to the process). SQLite gives -wal/-shm the database's mode.
            for suffix in ("", "-wal", "-shm"):
                _private(self.data_dir / f"{DB_FILENAME}{suffix}", FILE_MODE)
        self.remove_leftovers()
        self.recover_jobs()
        self._scrub_job_requests()

    @classmethod
    def from_env(cls) -> "Store":
        """The store named by ``FORMCHECK_DATA_DIR`` and ``FORMCHECK_DATABASE_URL`` (defaults otherwise)."""
        return cls(default_data_dir(), database_url_from_env())

    def close(self) -> None:
        self._engine.dispose()

    # ------------------------------------------------------------------ plumbing
    @property
    def sessions_dir(self) -> Path:
        return self.data_dir / "sessions"

    @property
    def work_dir(self) -> Path:
        """Scratch space for the app (uploads being checked, analyses in progress)."""
        return self.data_dir / "work"

    @contextmanager
    def _write(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as conn:
            conn.execution_options(formcheck_write=True)
            with conn.begin():
                if conn.dialect.name == "postgresql":
                    conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_WRITE_LOCK})
                yield conn

    @contextmanager
    def _read(self) -> Iterator[sa.Connection]:
        with self._engine.connect() as conn:
            yield conn

    def schema_version(self) -> int:
        """The database's schema version: its Alembic revision as a number (0 before any)."""
        from alembic.runtime.migration import MigrationContext

        with self._read() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        return int(current) if current else 0

    def migrate(self) -> None:
        """Create the schema on first use and apply newer revisions, each once (Alembic, formcheck/migrations).

        Runs in one write transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: under an advisory lock), so
        processes opening the store at once migrate one after the other. A database made by the
        hand-written runner of earlier releases (``schema_migrations`` only) is first stamped with the
        revision of its version. ``schema_migrations`` keeps a row per version applied, so an older
        formcheck still sees a newer database and refuses it; this one refuses a database newer than it.
        """
        from alembic.runtime.migration import MigrationContext

        scripts = _migration_scripts()
        head = scripts.get_current_head()
        with self._write() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": PG_MIGRATION_LOCK})
            schema_migrations.create(conn, checkfirst=True)
            recorded = set(conn.scalars(sa.select(schema_migrations.c.version)))
            context = MigrationContext.configure(conn)
            current = context.get_current_revision()
            known = {rev.revision: rev for rev in scripts.walk_revisions()}
            newest = max(recorded, default=0)
            if newest > SCHEMA_VERSION or (current is not None and current not in known):
                theirs = newest if newest > SCHEMA_VERSION else current
                raise StoreError(
                    f"the database {self._safe_url()} has schema version {theirs}, newer than this formcheck "
                    f"understands ({SCHEMA_VERSION}); upgrade formcheck"
                )
            if current is None and recorded:
                context.stamp(scripts, f"{newest:04d}")  # made by the hand-written runner: it is at that version
                current = f"{newest:04d}"
            if current != head:
                from alembic import command
                from alembic.config import Config

                config = Config()
                config.set_main_option("script_location", MIGRATIONS_LOCATION)
                config.attributes["connection"] = conn
                command.upgrade(config, "head")
            for rev, script in known.items():
                if int(rev) not in recorded:
                    conn.execute(sa.insert(schema_migrations).values(
                        version=int(rev), description=str(script.module.DESCRIPTION)[:200], applied_at=_now()))

    def _safe_url(self) -> str:
        return safe_url(self.db_url)

    def _unsecret(self, text: str) -> str:
        """``text`` (e.g. a driver's error) with this database's password, should it quote it, masked."""
        try:
            password = sa.make_url(self.db_url).password
        except sa.exc.ArgumentError:
            password = None
        return text.replace(str(password), "***") if password else text

    @property
    def safe_url(self) -> str:
        """This store's database URL with its password masked (what a job request may name)."""
        return safe_url(self.db_url)

    def remove_leftovers(self, older_than_s: float = STALE_AFTER_S,
                         work_older_than_s: float = WORK_STALE_AFTER_S) -> list[Path]:
        """Delete left-overs of interrupted work: staging folders and session folders without a committed
        row older than ``older_than_s``, the app's scratch files in ``work/`` older than ``work_older_than_s``."""
        cutoff = time.time() - older_than_s
        removed = []
        with self._read() as conn:
            known = set(conn.scalars(sa.select(sessions.c.id)))
        candidates = [(p, cutoff) for p in (self.data_dir / ".staging").iterdir()]
        candidates += [(p, cutoff) for p in self.sessions_dir.iterdir() if p.name not in known]
        work_cutoff = time.time() - work_older_than_s
        candidates += [(p, work_cutoff) for p in self.work_dir.iterdir() if p.name.startswith(WORK_PREFIXES)]
        for p, limit in candidates:
            try:
                if p.stat().st_mtime < limit:
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
                    removed.append(p)
            except FileNotFoundError:
                continue
        return removed

    # ------------------------------------------------------------------ analysis jobs
    def record_job(self, job_id: str, *, owner: str, source_name: str, source_kind: str,
                   request: Mapping[str, Any]) -> JobRecord:
        """Record a new job (state "queued") owned by the process ``owner`` (:func:`procs.owner_token`)."""
        _check(isinstance(job_id, str) and bool(_SESSION_ID.match(job_id)), "a 32-hex job id", job_id)
        _check(source_kind in SOURCE_KINDS, f"source_kind in {SOURCE_KINDS}", source_kind)
        now = _now()
        with self._write() as conn:
            conn.execute(sa.insert(jobs).values(
                id=job_id, created_at=now, updated_at=now, state="queued", stage="waiting", owner=str(owner)[:300],
                source_name=_clean_text(str(source_name), "source_name", MAX_SOURCE_NAME_CHARS),
                source_kind=source_kind, request_json=json.dumps(_job_request(request), default=str), session_id=None,
                message=""))
        job = self.get_job(job_id)
        assert job is not None
        return job

    def update_job(self, job_id: str, *, state: str, stage: str | None = None, session_id: str | None = None,
                   message: str | None = None) -> JobRecord:
        _check(state in JOB_RECORD_STATES, f"state in {JOB_RECORD_STATES}", state)
        values: dict[str, Any] = {"state": state, "updated_at": _now()}
        if stage is not None:
            values["stage"] = str(stage)[:100]
        if session_id is not None:
            values["session_id"] = session_id
        if message is not None:
            values["message"] = str(message)
        with self._write() as conn:
            if not conn.execute(sa.update(jobs).where(jobs.c.id == job_id).values(**values)).rowcount:
                raise StoreError(f"no job {job_id!r}")
        job = self.get_job(job_id)
        assert job is not None
        return job

    def get_job(self, job_id: str) -> JobRecord | None:
        if not isinstance(job_id, str) or not _SESSION_ID.match(job_id):
            return None
        with self._read() as conn:
            r = conn.execute(sa.select(jobs).where(jobs.c.id == job_id)).first()
        return _job_from_row(r) if r is not None else None

    def video_job(self, session_id: str) -> JobRecord | None:
        """The queued or running job linked to this session, newest first: its report is stored and the job is
        still to add the annotated video (None when no such job runs; a dead server's jobs are not running)."""
        if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
            return None
        q = (sa.select(jobs).where(jobs.c.session_id == session_id, jobs.c.state.in_(JOB_LIVE_STATES))
             .order_by(jobs.c.created_at.desc(), jobs.c.id).limit(1))
        with self._read() as conn:
            r = conn.execute(q).first()
        return _job_from_row(r) if r is not None else None

    def interrupted_jobs(self, *, max_age_s: float = WORK_STALE_AFTER_S) -> list[JobRecord]:
        """Jobs a dead server left unfinished, not yet retried or dismissed, newest first."""
        since = _now() - timedelta(seconds=max_age_s)
        q = (sa.select(jobs).where(jobs.c.state == "interrupted", jobs.c.created_at >= since)
             .order_by(jobs.c.created_at.desc(), jobs.c.id))
        with self._read() as conn:
            return [_job_from_row(r) for r in conn.execute(q)]

    def _scrub_job_requests(self) -> None:
        """Drop the database URL that job records of formcheck before 2026-12-08 kept in their request
        (a password with it); their jobs still retry, the worker takes the URL from its environment."""
        with self._read() as conn:
            old = conn.execute(sa.select(jobs.c.id, jobs.c.request_json)
                               .where(jobs.c.request_json.like(f'%"{_SECRET_REQUEST_KEYS[0]}"%'))).all()
        if old:
            with self._write() as conn:
                for r in old:
                    conn.execute(sa.update(jobs).where(jobs.c.id == r.id).values(
                        request_json=json.dumps(_job_request(json.loads(r.request_json)), default=str)))

    def recover_jobs(self, is_alive: Any = None) -> list[JobRecord]:
        """Mark "interrupted" every queued or running job whose owner process is gone; returns them."""
        if is_alive is None:
            from formcheck.procs import owner_alive as is_alive
        with self._read() as conn:
            live = conn.execute(sa.select(jobs.c.id, jobs.c.owner).where(jobs.c.state.in_(JOB_LIVE_STATES))).all()
        dead = [r.id for r in live if not is_alive(r.owner)]
        if dead:
            with self._write() as conn:
                conn.execute(sa.update(jobs).where(jobs.c.id.in_(dead), jobs.c.state.in_(JOB_LIVE_STATES))
                             .values(state="interrupted", updated_at=_now(),
                                     message="The server stopped while this analysis was running."))
        return [j for j in (self.get_job(i) for i in dead) if j is not None]

    # ------------------------------------------------------------------ writing sessions
    def save_analysis(
        self,
        report: Any,
        *,
        pose: Any = None,
        video_path: str | Path | None = None,
        original_path: str | Path | None = None,
        files: Mapping[str, str | Path] | None = None,
        athlete: str | None = None,
        source_kind: str = "upload",
        source_name: str = "",
        analysis_key: str = "",
        move: bool = False,
        owner_id: int | None = None,
    ) -> SessionRecord:
        """Record one analysed clip with its files; all of it or nothing (see the module docstring).

        ``owner_id`` None: the athlete account named ``athlete``, if there is one, owns the session.
        """
        rep = report.to_dict() if hasattr(report, "to_dict") else dict(report)
        from formcheck.report import upgrade_report, validate_report

        try:
            rep = upgrade_report(rep)
            validate_report(rep)
        except ValueError as exc:
            raise StoreError(str(exc)) from exc
        _check(source_kind in SOURCE_KINDS, f"source_kind in {SOURCE_KINDS}", source_kind)
        _check(isinstance(analysis_key, str) and len(analysis_key) <= 64, "an analysis key of <= 64 characters", analysis_key)
        athlete = clean_athlete(rep.get("athlete", "") if athlete is None else athlete)
        rep["athlete"] = athlete
        source_name = _clean_text(str(source_name), "source_name", MAX_SOURCE_NAME_CHARS)

        items: dict[str, Path] = {}
        for key, path in dict(files or {}).items():
            _check(bool(_FILE_KEY.match(str(key))), "a file key of letters, digits, _ and -", key)
            items[str(key)] = Path(path)
        if video_path is not None:
            items["video"] = Path(video_path)
        if original_path is not None:
            items["original"] = Path(original_path)
        for key, path in items.items():
            if not path.is_file():
                raise StoreError(f"file {key!r}: expected an existing file, got {path}")

        sid = uuid.uuid4().hex
        staging = self.data_dir / ".staging" / sid
        final = self.sessions_dir / sid
        stored: dict[str, str] = {}
        try:
            staging.mkdir(parents=True)
            for key, src in items.items():
                suffix = src.suffix.lower() if _SUFFIX.match(src.suffix) else ""
                name = f"{key}{suffix}"
                _place(src, staging / name, move=move)
                stored[key] = name
            if pose is not None:
                pose.save(staging / "pose.npz")
                _fsync_file(staging / "pose.npz")
                stored["pose"] = "pose.npz"
            _write_bytes(staging / "report.json", json.dumps(rep, indent=2, ensure_ascii=False).encode("utf-8"))
            stored["json"] = "report.json"
            for p in staging.iterdir():
                _private(p, FILE_MODE)
            _private(staging, DIR_MODE)
            _fsync_dir(staging)
            os.replace(staging, final)
            _fsync_dir(self.sessions_dir)
        except OSError as exc:
            shutil.rmtree(staging, ignore_errors=True)
            raise StoreError(f"could not write the session files under {self.data_dir} ({exc.strerror or exc})") from exc

        source = rep.get("source", {}) or {}
        now = _now()
        if owner_id is None and athlete:
            owner = self.user_named(athlete)
            owner_id = owner.id if owner is not None and owner.role == "athlete" else None
        row = dict(
            id=sid, created_at=now, state="complete", athlete=athlete, source_kind=source_kind,
            source_name=source_name, video_sha256=str(source.get("sha256", ""))[:64], analysis_key=analysis_key,
            lift=rep["lift"], view=rep["view"], model=str(rep.get("model", ""))[:100], status=rep["status"],
            rep_count=int(rep["rep_count"]), flag_count=len(rep.get("flags", [])),
            duration_ms=_float_or_none(source.get("duration_ms")), reviewed_at=None,
            report_json=json.dumps(rep, ensure_ascii=False), files_json=json.dumps(stored), owner_id=owner_id,
        )
        flag_rows = [
            dict(
                session_id=sid, rep=int(f["rep"]), code=f["code"], phase=_phase_text(f.get("phase")),
                t_ms=_float_or_none(f.get("t_ms")), frame=_int_or_none(f.get("frame")),
                measured=_float_or_none(f.get("measured")), limit_value=_float_or_none(f.get("limit")),
                units=str(f.get("units", "")), auto_severity=f["severity"], severity=f["severity"],
                confidence=_float_or_none(f.get("confidence")), measure=str(f.get("measure", "")),
                message=str(f.get("message", "")), origin="auto", review_status="pending", reviewed_at=None,
                created_at=now,
            )
            for f in rep.get("flags", [])
        ]
        try:
            with self._write() as conn:
                self._insert_session_rows(conn, row, flag_rows)
        except sa.exc.SQLAlchemyError as exc:
            shutil.rmtree(final, ignore_errors=True)
            raise StoreError(f"could not record the session in {self._safe_url()} ({type(exc).__name__})") from exc
        record = self.get_session(sid)
        assert record is not None
        return record

    def attach_files(self, session_id: str, files: Mapping[str, str | Path], *, move: bool = False) -> SessionRecord:
        """Add files to a stored session (the app's annotated video and rep clips, made after the report).

        Each file is placed under a temporary name and renamed, then the session's file list is updated
        in one transaction, so a reader sees a file either complete or not at all. A key already held is
        replaced. Raises :class:`StoreError` for an unknown session or a missing file (nothing is added).
        """
        record = self.get_session(session_id)
        if record is None:
            raise StoreError(f"no session {session_id!r}")
        items: dict[str, Path] = {}
        for key, path in dict(files).items():
            _check(bool(_FILE_KEY.match(str(key))), "a file key of letters, digits, _ and -", key)
            if not Path(path).is_file():
                raise StoreError(f"file {key!r}: expected an existing file, got {path}")
            items[str(key)] = Path(path)
        placed: dict[str, str] = {}
        try:
            for key, src in items.items():
                suffix = src.suffix.lower() if _SUFFIX.match(src.suffix) else ""
                name = f"{key}{suffix}"
                tmp = record.dir / f".{name}.{uuid.uuid4().hex}.part"
                try:
                    _place(src, tmp, move=move)
                    _private(tmp, FILE_MODE)
                    os.replace(tmp, record.dir / name)
                finally:
                    tmp.unlink(missing_ok=True)
                placed[key] = name
            _fsync_dir(record.dir)
        except OSError as exc:
            raise StoreError(f"could not add files to session {session_id} ({exc.strerror or exc})") from exc
        with self._write() as conn:
            row = conn.execute(sa.select(sessions.c.files_json).where(sessions.c.id == session_id)).first()
            if row is None:
                raise StoreError(f"no session {session_id!r}")
            stored = {**json.loads(row.files_json), **placed}
            conn.execute(sa.update(sessions).where(sessions.c.id == session_id)
                         .values(files_json=json.dumps(stored)))
        updated = self.get_session(session_id)
        assert updated is not None
        return updated

    def _insert_session_rows(self, conn: sa.Connection, row: dict[str, Any], flag_rows: list[dict[str, Any]]) -> None:
        conn.execute(sa.insert(sessions).values(**row))
        if flag_rows:
            conn.execute(sa.insert(flags), flag_rows)

    # ------------------------------------------------------------------ reading sessions
    def _session_from_row(self, r: Any) -> SessionRecord:
        d = self.sessions_dir / r.id
        stored = json.loads(r.files_json)
        return SessionRecord(
            id=r.id, created_at=r.created_at, athlete=r.athlete, source_kind=r.source_kind,
            source_name=r.source_name, video_sha256=r.video_sha256, analysis_key=r.analysis_key, lift=r.lift,
            view=r.view, model=r.model, status=r.status, rep_count=r.rep_count, flag_count=r.flag_count,
            duration_ms=r.duration_ms, reviewed_at=r.reviewed_at, report=json.loads(r.report_json), dir=d,
            files={k: d / v for k, v in stored.items()}, owner_id=r.owner_id,
        )

    def get_session(self, session_id: str) -> SessionRecord | None:
        if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
            return None
        with self._read() as conn:
            r = conn.execute(sa.select(sessions).where(sessions.c.id == session_id, sessions.c.state == "complete")).first()
        return self._session_from_row(r) if r is not None else None

    def list_sessions(self, *, athlete: str | None = None, lift: str | None = None, since: date | None = None,
                      until: date | None = None, limit: int | None = None,
                      owners: Sequence[int | None] | None = None) -> list[SessionRecord]:
        q = _owner_filter(sa.select(sessions).where(sessions.c.state == "complete"), owners)
        if athlete is not None:
            q = q.where(sessions.c.athlete == clean_athlete(athlete))
        if lift is not None:
            q = q.where(sessions.c.lift == lift)
        q = _date_filter(q, since, until)
        q = q.order_by(sessions.c.created_at.desc(), sessions.c.id)
        if limit is not None:
            q = q.limit(int(limit))
        with self._read() as conn:
            return [self._session_from_row(r) for r in conn.execute(q)]

    def find_session(self, analysis_key: str, athlete: str = "") -> SessionRecord | None:
        """The newest session analysed with ``analysis_key`` for this athlete (an analysis cache)."""
        if not analysis_key:
            return None
        q = (sa.select(sessions)
             .where(sessions.c.analysis_key == analysis_key, sessions.c.athlete == clean_athlete(athlete),
                    sessions.c.state == "complete")
             .order_by(sessions.c.created_at.desc()).limit(1))
        with self._read() as conn:
            r = conn.execute(q).first()
        return self._session_from_row(r) if r is not None else None

    def athletes(self, *, owners: Sequence[int | None] | None = None) -> list[str]:
        """Athlete names with at least one session, created by name, or with an athlete account;
        sorted, the unnamed "" last if used. ``owners``: only those of these accounts (see the API)."""
        q = _owner_filter(sa.select(sessions.c.athlete).where(sessions.c.state == "complete").distinct(), owners)
        uq = sa.select(users.c.name).where(users.c.role == "athlete")
        if owners is not None:
            uq = uq.where(users.c.id.in_([o for o in owners if o is not None]))
        with self._read() as conn:
            names = set(conn.scalars(q)) | set(conn.scalars(uq))
            if owners is None or None in owners:
                names |= set(conn.scalars(sa.select(athletes.c.name)))
        return sorted(names, key=lambda a: (a == "", a.casefold()))

    def rep_clip_path(self, session: SessionRecord, rep: int) -> Path:
        """Where the slow-motion clip of one rep is kept (made on demand by the app)."""
        _check(isinstance(rep, int) and rep >= 1, "a 1-based rep number", rep)
        return session.dir / f"rep_{rep}_slow.mp4"

    # ------------------------------------------------------------------ flags and reviews
    def _flag_query(self) -> sa.Select:
        return (sa.select(flags, sessions.c.athlete, sessions.c.lift, sessions.c.view, sessions.c.source_name,
                          sessions.c.created_at.label("session_created_at"))
                .join(sessions, flags.c.session_id == sessions.c.id)
                .where(sessions.c.state == "complete"))

    def _flags_from_rows(self, conn: sa.Connection, rows: Sequence[Any]) -> list[FlagRecord]:
        ids = [r.id for r in rows]
        by_flag: dict[int, list[CommentRecord]] = {}
        if ids:
            # Comments pinned to a time first, in time order; then the general ones as written.
            untimed = sa.case((comments.c.t_ms.is_(None), 1), else_=0)
            q = (sa.select(comments).where(comments.c.flag_id.in_(ids))
                 .order_by(untimed, comments.c.t_ms, comments.c.created_at, comments.c.id))
            for c in conn.execute(q):
                by_flag.setdefault(c.flag_id, []).append(CommentRecord(c.id, c.text, c.created_at, c.t_ms))
        return [
            FlagRecord(
                id=r.id, session_id=r.session_id, rep=r.rep, code=r.code, phase=r.phase, t_ms=r.t_ms, frame=r.frame,
                measured=r.measured, limit=r.limit_value, units=r.units, auto_severity=r.auto_severity,
                severity=r.severity, confidence=r.confidence, measure=r.measure, message=r.message, origin=r.origin,
                review_status=r.review_status, reviewed_at=r.reviewed_at, created_at=r.created_at,
                athlete=r.athlete, lift=r.lift, view=r.view, source_name=r.source_name,
                session_created_at=r.session_created_at, comments=tuple(by_flag.get(r.id, ())),
            )
            for r in rows
        ]

    def get_flag(self, flag_id: int) -> FlagRecord | None:
        with self._read() as conn:
            rows = conn.execute(self._flag_query().where(flags.c.id == int(flag_id))).all()
            found = self._flags_from_rows(conn, rows)
        return found[0] if found else None

    def flags_for_session(self, session_id: str) -> list[FlagRecord]:
        q = self._flag_query().where(flags.c.session_id == session_id).order_by(flags.c.rep, flags.c.t_ms, flags.c.id)
        with self._read() as conn:
            return self._flags_from_rows(conn, conn.execute(q).all())

    def review_queue(self, *, athlete: str | None = None, lift: str | None = None, code: str | None = None,
                     status: str | None = "pending", order: str = "newest", since: date | None = None,
                     until: date | None = None, limit: int | None = None,
                     owners: Sequence[int | None] | None = None) -> list[FlagRecord]:
        """Flags across sessions; ``status`` None means every state. ``order``: "newest" or "severity"."""
        _check(order in ORDERS, f"order in {ORDERS}", order)
        _check(status is None or status in REVIEW_STATES, f"status None or in {REVIEW_STATES}", status)
        q = _owner_filter(_date_filter(self._flag_query(), since, until), owners)
        if athlete is not None:
            q = q.where(sessions.c.athlete == clean_athlete(athlete))
        if lift is not None:
            q = q.where(sessions.c.lift == lift)
        if code is not None:
            q = q.where(flags.c.code == code)
        if status is not None:
            q = q.where(flags.c.review_status == status)
        newest = (sessions.c.created_at.desc(), flags.c.session_id, flags.c.rep, flags.c.id)
        if order == "severity":
            major_first = sa.case((flags.c.severity == "major", 0), else_=1)
            q = q.order_by(major_first, sa.func.coalesce(flags.c.confidence, 1.0).desc(), *newest)
        else:
            q = q.order_by(*newest)
        if limit is not None:
            q = q.limit(int(limit))
        with self._read() as conn:
            return self._flags_from_rows(conn, conn.execute(q).all())

    def rep_queue(self, *, scope: str = "all", athlete: str | None = None, lift: str | None = None,
                  code: str | None = None, since: date | None = None, until: date | None = None,
                  owners: Sequence[int | None] | None = None) -> list[RepItem]:
        """Every rep of the matching sessions, newest session first, clean reps included.

        ``scope`` "all": every rep; "unreviewed": reps not :attr:`RepItem.reviewed` (a flag still
        pending, or a session nobody reviewed yet, clean sessions included). ``code``: only reps
        with a flag of that fault (in any review state).
        """
        _check(scope in REP_SCOPES, f"scope in {REP_SCOPES}", scope)
        found = self.list_sessions(athlete=athlete, lift=lift, since=since, until=until, owners=owners)
        by_rep: dict[tuple[str, int], list[FlagRecord]] = {}
        if found:
            q = (self._flag_query().where(flags.c.session_id.in_([s.id for s in found]))
                 .order_by(flags.c.rep, flags.c.t_ms, flags.c.id))
            with self._read() as conn:
                for f in self._flags_from_rows(conn, conn.execute(q).all()):
                    by_rep.setdefault((f.session_id, f.rep), []).append(f)
        out = []
        for s in found:
            for r in s.reps:
                n = int(r["rep"])
                item = RepItem(s, n, tuple(by_rep.get((s.id, n), ())))
                if scope == "unreviewed" and item.reviewed:
                    continue
                if code is not None and not any(f.code == code for f in item.flags):
                    continue
                out.append(item)
        return out

    def set_review(self, flag_id: int, *, status: str | None = None, severity: str | None = None) -> FlagRecord:
        """Confirm, dismiss or reset a flag and/or change its severity."""
        _check(status is None or status in REVIEW_STATES, f"status in {REVIEW_STATES}", status)
        _check(severity is None or severity in SEVERITIES, f"severity in {SEVERITIES}", severity)
        values: dict[str, Any] = {"reviewed_at": _now()}
        if status is not None:
            values["review_status"] = status
        if severity is not None:
            values["severity"] = severity
        with self._write() as conn:
            session_id = conn.scalar(sa.select(flags.c.session_id).where(flags.c.id == int(flag_id)))
            if session_id is None:
                raise StoreError(f"no flag with id {flag_id}")
            conn.execute(sa.update(flags).where(flags.c.id == int(flag_id)).values(**values))
            self._mark_reviewed_if_done(conn, session_id)
        flag = self.get_flag(flag_id)
        assert flag is not None
        return flag

    def _mark_reviewed_if_done(self, conn: sa.Connection, session_id: str) -> None:
        pending = conn.scalar(sa.select(sa.func.count()).select_from(flags).where(
            flags.c.session_id == session_id, flags.c.review_status == "pending"))
        if pending == 0:
            conn.execute(sa.update(sessions).where(sessions.c.id == session_id, sessions.c.reviewed_at.is_(None))
                         .values(reviewed_at=_now()))

    def add_comment(self, flag_id: int, text: str, *, t_ms: float | None = None) -> FlagRecord:
        """Comment on a flag; ``t_ms`` (ms from the clip's start) pins it to a time within the flag's rep."""
        body = _clean_text(text, "comment", MAX_COMMENT_CHARS)
        if not body:
            raise StoreError("comment: expected some text, got an empty comment")
        if t_ms is not None:
            t = _float_or_none(t_ms) if not isinstance(t_ms, bool) else None
            _check(t is not None, "a comment time in ms (a finite number) or None", t_ms)
            t_ms = t
        with self._write() as conn:
            row = conn.execute(sa.select(flags.c.rep, sessions.c.report_json)
                               .join(sessions, flags.c.session_id == sessions.c.id)
                               .where(flags.c.id == int(flag_id))).first()
            if row is None:
                raise StoreError(f"no flag with id {flag_id}")
            if t_ms is not None:
                span = next((r for r in json.loads(row.report_json).get("reps", []) if r.get("rep") == row.rep), None)
                if span is None or not (span["start_ms"] <= t_ms <= span["end_ms"]):
                    where = f"{span['start_ms'] / 1000:.2f}-{span['end_ms'] / 1000:.2f} s" if span else "unknown"
                    raise StoreError(f"comment time: expected a time within rep {row.rep} ({where}), "
                                     f"got {t_ms / 1000:.2f} s")
            conn.execute(sa.insert(comments).values(flag_id=int(flag_id), text=body, created_at=_now(), t_ms=t_ms))
        flag = self.get_flag(flag_id)
        assert flag is not None
        return flag

    def judged_codes(self, session: SessionRecord) -> list[str]:
        """Fault codes judged for the session's lift (a missed fault must be one of them)."""
        verdicts = session.report.get("verdicts", {})
        return [c for c in FAULT_CODES if c in verdicts] or list(FAULT_CODES)

    def add_missed_fault(self, session_id: str, rep: int, code: str, *, severity: str = "minor",
                         comment: str = "") -> FlagRecord:
        """Record a fault the tool did not flag on ``rep``: a confirmed flag of origin "coach"."""
        session = self.get_session(session_id)
        if session is None:
            raise StoreError(f"no session {session_id!r}")
        rep_entry = session.rep(rep)
        if rep_entry is None:
            raise StoreError(f"rep: expected one of 1-{session.rep_count}, got {rep!r}")
        allowed = self.judged_codes(session)
        if code not in allowed:
            raise StoreError(f"fault: expected one judged for a {session.lift} ({', '.join(allowed)}), got {code!r}")
        _check(severity in SEVERITIES, f"severity in {SEVERITIES}", severity)
        body = _clean_text(comment, "comment", MAX_COMMENT_CHARS)
        now = _now()
        try:
            with self._write() as conn:
                flag_id = conn.execute(sa.insert(flags).values(
                    session_id=session_id, rep=rep, code=code, phase="", t_ms=_float_or_none(rep_entry.get("bottom_ms")),
                    frame=None, measured=None, limit_value=None, units="", auto_severity=None, severity=severity,
                    confidence=None, measure="", message="added by the coach", origin="coach",
                    review_status="confirmed", reviewed_at=now, created_at=now,
                )).inserted_primary_key[0]
                if body:
                    conn.execute(sa.insert(comments).values(flag_id=flag_id, text=body, created_at=now))
                self._mark_reviewed_if_done(conn, session_id)
        except sa.exc.IntegrityError as exc:
            raise StoreError(f"rep {rep} already has a {code} flag: confirm that one instead") from exc
        flag = self.get_flag(flag_id)
        assert flag is not None
        return flag

    def delete_session(self, session_id: str) -> None:
        """Remove a session for good: its row, flags, comments and its folder (clip, reports, rep clips).

        The rows go in one transaction; then the folder is moved to ``.staging`` and removed. A crash
        in between leaves a folder without a row, which :meth:`remove_leftovers` deletes later.
        """
        if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
            raise StoreError(f"no session {session_id!r}")
        with self._write() as conn:
            flag_ids = sa.select(flags.c.id).where(flags.c.session_id == session_id).scalar_subquery()
            conn.execute(sa.delete(comments).where(comments.c.flag_id.in_(flag_ids)))
            conn.execute(sa.delete(flags).where(flags.c.session_id == session_id))
            n = conn.execute(sa.delete(sessions).where(sessions.c.id == session_id)).rowcount
        if not n:
            raise StoreError(f"no session {session_id!r}")
        folder = self.sessions_dir / session_id
        trash = self.data_dir / ".staging" / f"deleted-{session_id}"
        try:
            os.replace(folder, trash)
        except FileNotFoundError:
            return
        except OSError:
            trash = folder
        shutil.rmtree(trash, ignore_errors=True)

    def mark_session_reviewed(self, session_id: str) -> SessionRecord:
        """The coach looked at the whole session: faults judged clear export as ``no``."""
        with self._write() as conn:
            n = conn.execute(sa.update(sessions).where(sessions.c.id == session_id).values(reviewed_at=_now())).rowcount
        if not n:
            raise StoreError(f"no session {session_id!r}")
        record = self.get_session(session_id)
        assert record is not None
        return record

    # ------------------------------------------------------------------ accounts
    def has_users(self) -> bool:
        """True once any account exists: the app then asks everyone to log in."""
        with self._read() as conn:
            return conn.scalar(sa.select(users.c.id).limit(1)) is not None

    def _user(self, where: Any) -> UserRecord | None:
        with self._read() as conn:
            r = conn.execute(sa.select(users.c.id, users.c.name, users.c.role, users.c.created_at).where(where)).first()
        return UserRecord(r.id, r.name, r.role, r.created_at) if r is not None else None

    def get_user(self, user_id: int) -> UserRecord | None:
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            return None
        return self._user(users.c.id == user_id)

    def user_named(self, name: str) -> UserRecord | None:
        """The account called ``name`` (as stored: see :func:`clean_athlete`)."""
        if not isinstance(name, str):
            return None
        return self._user(users.c.name == clean_athlete(name))

    def users(self) -> list[UserRecord]:
        with self._read() as conn:
            rows = conn.execute(sa.select(users.c.id, users.c.name, users.c.role, users.c.created_at)
                                .order_by(users.c.role, users.c.name)).all()
        return [UserRecord(r.id, r.name, r.role, r.created_at) for r in rows]

    def add_user(self, name: str, role: str, password: str) -> UserRecord:
        """Create an account. An athlete account owns the sessions already recorded under its name."""
        name = clean_athlete(name)
        if not name:
            raise StoreError("user name: expected some text, got an empty name")
        _check(role in ROLES, f"role in {ROLES}", role)
        digest = _hasher().hash(_check_password(password))
        with self._write() as conn:
            taken = {n.casefold() for n in conn.scalars(sa.select(users.c.name))}
            if name.casefold() in taken:
                raise StoreError(f"user name: {name!r} is taken")
            uid = conn.execute(sa.insert(users).values(name=name, role=role, password_hash=digest,
                                                       created_at=_now())).inserted_primary_key[0]
            if role == "athlete":
                conn.execute(sa.update(sessions).where(sessions.c.athlete == name, sessions.c.owner_id.is_(None))
                             .values(owner_id=uid))
                conn.execute(sa.delete(athletes).where(athletes.c.name == name))
        user = self.get_user(int(uid))
        assert user is not None
        return user

    def set_password(self, name: str, password: str) -> None:
        digest = _hasher().hash(_check_password(password))
        with self._write() as conn:
            if not conn.execute(sa.update(users).where(users.c.name == clean_athlete(name))
                                .values(password_hash=digest)).rowcount:
                raise StoreError(f"no user {name!r}")

    def authenticate(self, name: str, password: str) -> UserRecord | None:
        """The account if ``password`` is its password, else None (the same work either way)."""
        from argon2.exceptions import InvalidHashError, VerificationError

        hasher = _hasher()
        if not isinstance(name, str) or not isinstance(password, str):
            return None
        with self._read() as conn:
            r = conn.execute(sa.select(users).where(users.c.name == clean_athlete(name))).first()
        try:
            hasher.verify(r.password_hash if r is not None else _dummy_hash(), password)
        except (VerificationError, InvalidHashError):
            return None
        if r is None:
            return None
        if hasher.check_needs_rehash(r.password_hash):
            with self._write() as conn:
                conn.execute(sa.update(users).where(users.c.id == r.id).values(password_hash=hasher.hash(password)))
        return UserRecord(r.id, r.name, r.role, r.created_at)

    def _role_user(self, name: str, role: str) -> UserRecord:
        user = self.user_named(name)
        if user is None or user.role != role:
            raise StoreError(f"expected the name of a {role} account, got {name!r}")
        return user

    def add_to_roster(self, coach: str, athlete: str) -> None:
        """Put the athlete (account name) on the coach's roster (no change if already there)."""
        c, a = self._role_user(coach, "coach"), self._role_user(athlete, "athlete")
        with self._write() as conn:
            if conn.scalar(sa.select(roster.c.coach_id).where(roster.c.coach_id == c.id,
                                                                roster.c.athlete_id == a.id)) is None:
                conn.execute(sa.insert(roster).values(coach_id=c.id, athlete_id=a.id))

    def remove_from_roster(self, coach: str, athlete: str) -> None:
        c, a = self._role_user(coach, "coach"), self._role_user(athlete, "athlete")
        with self._write() as conn:
            conn.execute(sa.delete(roster).where(roster.c.coach_id == c.id, roster.c.athlete_id == a.id))

    def roster(self, coach_id: int) -> list[UserRecord]:
        """The athlete accounts on this coach's roster, by name."""
        q = (sa.select(users.c.id, users.c.name, users.c.role, users.c.created_at)
             .join(roster, roster.c.athlete_id == users.c.id)
             .where(roster.c.coach_id == int(coach_id)).order_by(users.c.name))
        with self._read() as conn:
            return [UserRecord(r.id, r.name, r.role, r.created_at) for r in conn.execute(q)]

    # ------------------------------------------------------------------ athletes (the roster by name)
    def _athlete_exists(self, conn: sa.Connection, name: str) -> bool:
        return any(conn.scalar(q) is not None for q in (
            sa.select(sessions.c.id).where(sessions.c.athlete == name).limit(1),
            sa.select(athletes.c.name).where(athletes.c.name == name),
            sa.select(users.c.id).where(users.c.name == name, users.c.role == "athlete")))

    def _name_taken(self, conn: sa.Connection, name: str) -> bool:
        folded = name.casefold()
        known = (set(conn.scalars(sa.select(sessions.c.athlete).distinct())) | set(conn.scalars(sa.select(athletes.c.name)))
                 | set(conn.scalars(sa.select(users.c.name))))
        return any(k.casefold() == folded for k in known)

    def _athlete_name(self, name: str, what: str) -> str:
        cleaned = clean_athlete(name)
        if not cleaned:
            raise StoreError(f"{what}: expected an athlete's name, got {name!r}")
        return cleaned

    def create_athlete(self, name: str) -> str:
        """Add an athlete by name (no account, no session yet); returns the name as stored."""
        name = self._athlete_name(name, "new athlete")
        with self._write() as conn:
            if self._name_taken(conn, name):
                raise StoreError(f"new athlete: {name!r} is taken")
            conn.execute(sa.insert(athletes).values(name=name, created_at=_now()))
        return name

    def _rename_sessions(self, conn: sa.Connection, where: Any, new: str, **values: Any) -> int:
        rows = conn.execute(sa.select(sessions.c.id, sessions.c.report_json).where(where)).all()
        for r in rows:
            rep = json.loads(r.report_json)
            rep["athlete"] = new
            conn.execute(sa.update(sessions).where(sessions.c.id == r.id)
                         .values(athlete=new, report_json=json.dumps(rep, ensure_ascii=False), **values))
        return len(rows)

    def rename_athlete(self, old: str, new: str) -> str:
        """Give an athlete another name: their sessions, and their account (its login name) if they have one."""
        old, new = self._athlete_name(old, "athlete"), self._athlete_name(new, "new name")
        with self._write() as conn:
            if not self._athlete_exists(conn, old):
                raise StoreError(f"no athlete {old!r}")
            if new != old and self._name_taken(conn, new) and new.casefold() != old.casefold():
                raise StoreError(f"new name: {new!r} is taken (merge the two athletes instead)")
            self._rename_sessions(conn, sessions.c.athlete == old, new)
            conn.execute(sa.update(athletes).where(athletes.c.name == old).values(name=new))
            conn.execute(sa.update(users).where(users.c.name == old, users.c.role == "athlete").values(name=new))
        return new

    def merge_athletes(self, source: str, target: str) -> str:
        """Move every session of ``source`` to ``target`` and remove ``source`` (its account too, if any)."""
        source, target = self._athlete_name(source, "athlete to merge"), self._athlete_name(target, "merge into")
        if source == target:
            raise StoreError("merge: expected two different athletes, got the same one twice")
        with self._write() as conn:
            for n in (source, target):
                if not self._athlete_exists(conn, n):
                    raise StoreError(f"no athlete {n!r}")
            src_id = conn.scalar(sa.select(users.c.id).where(users.c.name == source, users.c.role == "athlete"))
            dst_id = conn.scalar(sa.select(users.c.id).where(users.c.name == target, users.c.role == "athlete"))
            where = sessions.c.athlete == source
            if src_id is not None:
                where = sa.or_(where, sessions.c.owner_id == src_id)
            self._rename_sessions(conn, where, target, owner_id=dst_id)
            conn.execute(sa.delete(athletes).where(athletes.c.name == source))
            if src_id is not None:
                conn.execute(sa.delete(roster).where(roster.c.athlete_id == src_id))
                conn.execute(sa.delete(users).where(users.c.id == src_id))
        return target

    def delete_athlete(self, name: str) -> int:
        """Remove an athlete for good: every session (files too), the name, the account; returns sessions deleted."""
        name = self._athlete_name(name, "athlete")
        with self._read() as conn:
            if not self._athlete_exists(conn, name):
                raise StoreError(f"no athlete {name!r}")
            uid = conn.scalar(sa.select(users.c.id).where(users.c.name == name, users.c.role == "athlete"))
            where = sessions.c.athlete == name
            if uid is not None:
                where = sa.or_(where, sessions.c.owner_id == uid)
            ids = list(conn.scalars(sa.select(sessions.c.id).where(where)))
        for sid in ids:
            self.delete_session(sid)
        with self._write() as conn:
            conn.execute(sa.delete(athletes).where(athletes.c.name == name))
            if uid is not None:
                conn.execute(sa.delete(roster).where(roster.c.athlete_id == uid))
                conn.execute(sa.delete(users).where(users.c.id == uid))
        return len(ids)

    # ------------------------------------------------------------------ history and export
    def athlete_history(self, athlete: str, *, owners: Sequence[int | None] | None = None) -> list[HistoryPoint]:
        """The athlete's sessions, oldest first, with the reps showing each fault (dismissed flags left out)."""
        q = (sa.select(sessions.c.id, sessions.c.created_at, sessions.c.lift, sessions.c.rep_count, sessions.c.source_name)
             .where(sessions.c.athlete == clean_athlete(athlete), sessions.c.state == "complete")
             .order_by(sessions.c.created_at, sessions.c.id))
        q = _owner_filter(q, owners)
        with self._read() as conn:
            rows = conn.execute(q).all()
            fq = (sa.select(flags.c.session_id, flags.c.code, flags.c.rep, flags.c.review_status)
                  .where(flags.c.session_id.in_([r.id for r in rows])))
            flag_rows = conn.execute(fq).all() if rows else []
        reps: dict[str, dict[str, set[int]]] = {}
        counts: dict[str, dict[str, int]] = {}
        for f in flag_rows:
            by_status = counts.setdefault(f.session_id, dict.fromkeys(REVIEW_STATES, 0))
            by_status[f.review_status] += 1
            if f.review_status != "dismissed":
                reps.setdefault(f.session_id, {}).setdefault(f.code, set()).add(f.rep)
        return [
            HistoryPoint(session_id=r.id, created_at=r.created_at, lift=r.lift, rep_count=r.rep_count,
                         source_name=r.source_name,
                         fault_reps={c: len(s) for c, s in reps.get(r.id, {}).items()},
                         **counts.get(r.id, dict.fromkeys(REVIEW_STATES, 0)))
            for r in rows
        ]

    def review_counts(self, session_ids: Sequence[str]) -> dict[str, dict[str, int]]:
        """Per session: its flags (the tool's and the coach's) by review state, every state present."""
        ids = [i for i in session_ids if isinstance(i, str)]
        out = {i: dict.fromkeys(REVIEW_STATES, 0) for i in ids}
        if not ids:
            return out
        q = (sa.select(flags.c.session_id, flags.c.review_status, sa.func.count())
             .where(flags.c.session_id.in_(ids)).group_by(flags.c.session_id, flags.c.review_status))
        with self._read() as conn:
            for sid, status, n in conn.execute(q):
                out[sid][status] = int(n)
        return out

    def review_records(self, session_id: str) -> list[dict[str, Any]]:
        """Every flag of the session (the tool's and the coach's) with its decision, both severities and its
        comments, as plain dicts (the ``review`` entries of :meth:`export_labels`)."""
        return [_review_entry(f) for f in self.flags_for_session(session_id)]

    def coach_reviewed_at(self, session: SessionRecord) -> datetime | None:
        """When the coach last acted on the session (a decision, a severity, a comment, an added fault, or
        marking it reviewed); None when nothing was done yet."""
        fl = self.flags_for_session(session.id)
        if session.reviewed_at is None and not any(_touched(f) for f in fl):
            return None
        stamps = [session.reviewed_at] if session.reviewed_at else []
        stamps += [f.reviewed_at for f in fl if f.reviewed_at is not None]
        stamps += [c.created_at for f in fl for c in f.comments]
        return max(stamps) if stamps else None

    def reviewed_report(self, session_id: str, fmt: str = "html") -> str | None:
        """The session's report re-rendered with the coach's decisions and comments (``fmt`` "html", with
        the angle plot and worst frames embedded, or "md"); None before the coach did anything to it."""
        from formcheck.reviewed import render_reviewed_html, render_reviewed_markdown

        _check(fmt in ("html", "md"), "fmt 'html' or 'md'", fmt)
        session = self.get_session(session_id)
        if session is None:
            raise StoreError(f"no session {session_id!r}")
        when = self.coach_reviewed_at(session)
        if when is None:
            return None
        records = self.review_records(session_id)
        day = when.date().isoformat()
        if fmt == "md":
            return render_reviewed_markdown(session.report, records, reviewed_on=day)
        images = {("angles" if k == "plot" else k): p for k, p in session.files.items()
                  if k == "plot" or k.startswith("worst_")}
        return render_reviewed_html(session.report, records, reviewed_on=day, images=images)

    def _export_sessions(self, athlete: str | None, lift: str | None, reviewed_only: bool,
                         owners: Sequence[int | None] | None = None) -> list[tuple[SessionRecord, list[FlagRecord]]]:
        out = []
        for s in reversed(self.list_sessions(athlete=athlete, lift=lift, owners=owners)):
            fl = self.flags_for_session(s.id)
            if reviewed_only and s.reviewed_at is None and not any(_touched(f) for f in fl):
                continue
            out.append((s, fl))
        return out

    def export_labels(self, *, athlete: str | None = None, lift: str | None = None,
                      reviewed_only: bool = True, owners: Sequence[int | None] | None = None) -> list[dict[str, Any]]:
        """Reviewed sessions in the format of ``../shared/data/lifts/labels.json`` (see LABELS.md).

        A session is reviewed once the coach did anything to it: confirmed or dismissed a flag,
        changed a severity, wrote a comment, added a missed fault, or marked it reviewed.
        ``reviewed_only=False`` exports every session. Besides the labels' keys, each entry has
        ``review``: every flag with its decision, severity (formcheck's and the coach's), origin and
        comments, so no review action is lost.

        Per rep and fault: a confirmed flag or a missed fault the coach added -> ``yes``, a dismissed
        flag -> ``no``, a flag not reviewed yet -> ``unsure``; without a flag: a fault not judged for
        the lift or not assessable on that rep -> ``n/a``, judged clear -> ``no`` once the session
        is reviewed, else ``unsure``. Clip-level faults follow LABELS.md (any ``yes`` -> ``yes``,
        else any ``unsure`` -> ``unsure``, else ``no``; ``n/a`` when every rep is ``n/a``).
        """
        return [_label_entry(s, fl) for s, fl in self._export_sessions(athlete, lift, reviewed_only, owners)
                if s.lift in ("squat", "deadlift")]

    def export_flags_csv(self, *, athlete: str | None = None, lift: str | None = None,
                         reviewed_only: bool = True, owners: Sequence[int | None] | None = None) -> str:
        """One row per flag (the tool's and the coach's) of the reviewed sessions (see :meth:`export_labels`)
        with its review decision, label value, severities and comments; cells guarded against formulas."""
        buf = io.StringIO()
        w = csv_writer(buf)
        w.writerow(["session_id", "file", "athlete", "lift", "view", "rep", "start_s", "bottom_s", "end_s", "code",
                    "origin", "review_status", "label", "auto_severity", "severity", "measured", "limit", "units",
                    "confidence", "t_s", "reviewed_at", "comments"])
        for s, fl in self._export_sessions(athlete, lift, reviewed_only, owners):
            for f in fl:
                r = s.rep(f.rep) or {}
                w.writerow([
                    s.id, s.source_name, s.athlete, s.lift, s.view, f.rep, _s(r.get("start_ms")), _s(r.get("bottom_ms")),
                    _s(r.get("end_ms")), f.code, f.origin, f.review_status, _FLAG_LABEL[f.review_status],
                    f.auto_severity or "", f.severity, _blank(f.measured), _blank(f.limit), f.units,
                    _blank(f.confidence), _s(f.t_ms), f.reviewed_at.isoformat(timespec="seconds") if f.reviewed_at else "",
                    " | ".join(_comment_line(c) for c in f.comments),
                ])
        return buf.getvalue()


_FLAG_LABEL = {"confirmed": "yes", "dismissed": "no", "pending": "unsure"}


#: Keys of a job request never stored nor read back (credentials; old records had the database URL).
_SECRET_REQUEST_KEYS = ("db_url",)


def _job_request(request: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in dict(request).items() if k not in _SECRET_REQUEST_KEYS}


def _job_from_row(r: Any) -> JobRecord:
    return JobRecord(id=r.id, created_at=r.created_at, updated_at=r.updated_at, state=r.state, stage=r.stage,
                     owner=r.owner, source_name=r.source_name, source_kind=r.source_kind,
                     request=_job_request(json.loads(r.request_json)), session_id=r.session_id, message=r.message)


def _comment_line(c: CommentRecord) -> str:
    """A comment as one line of text, its time first when it is pinned to one ("[at 2.10 s] ...")."""
    return c.text if c.t_ms is None else f"[at {c.t_ms / 1000:.2f} s] {c.text}"


def _touched(f: FlagRecord) -> bool:
    """The coach did something to this flag: a decision, a severity change, a comment, or added it."""
    return (f.review_status != "pending" or f.origin == "coach" or bool(f.comments) or f.reviewed_at is not None
            or (f.auto_severity is not None and f.severity != f.auto_severity))


def _review_entry(f: FlagRecord) -> dict[str, Any]:
    return {
        "rep": f.rep, "code": f.code, "origin": f.origin, "review_status": f.review_status,
        "label": _FLAG_LABEL[f.review_status], "auto_severity": f.auto_severity, "severity": f.severity,
        "t_s": _s(f.t_ms), "reviewed_at": f.reviewed_at.isoformat(timespec="seconds") if f.reviewed_at else None,
        "comments": [{"text": c.text, "at": c.created_at.isoformat(timespec="seconds"), "t_s": _s(c.t_ms)}
                     for c in f.comments],
    }


def _label_entry(s: SessionRecord, fl: Sequence[FlagRecord]) -> dict[str, Any]:
    rep = s.report
    src = rep.get("source", {}) or {}
    verdicts = rep.get("verdicts", {})
    by_rep_code = {(f.rep, f.code): f for f in fl}
    reps = []
    for r in rep.get("reps", []):
        faults = {}
        for code in FAULT_CODES:
            f = by_rep_code.get((r["rep"], code))
            if f is not None:
                faults[code] = _FLAG_LABEL[f.review_status]
            elif code not in verdicts or r.get("verdicts", {}).get(code) == "not_assessable":
                faults[code] = "n/a"
            else:
                faults[code] = "no" if s.reviewed_at is not None else "unsure"
        reps.append({"start_s": _s(r["start_ms"]), "bottom_s": _s(r["bottom_ms"]), "end_s": _s(r["end_ms"]),
                     "faults": faults})
    clip_faults = {}
    for code in FAULT_CODES:
        values = {r["faults"][code] for r in reps}
        if "yes" in values:
            clip_faults[code] = "yes"
        elif "unsure" in values:
            clip_faults[code] = "unsure"
        elif "no" in values:
            clip_faults[code] = "no"
        else:
            clip_faults[code] = "n/a"
    pending = sum(f.review_status == "pending" for f in fl)
    notes = [f"rep {f.rep} {f.code} at {_s(f.t_ms)} s: {_comment_line(c)}" for f in fl for c in f.comments]
    w, h = src.get("width"), src.get("height")
    facing = rep.get("facing", "")
    return {
        "file": s.source_name or f"{s.id}.mp4",
        "session_id": s.id,
        "athlete": s.athlete,
        "sha256": s.video_sha256,
        "stored_video": f"sessions/{s.id}/{s.files['original'].name}" if "original" in s.files else None,
        "lift": s.lift,
        "variant": "",
        "view": _LABEL_VIEW.get(s.view, s.view),
        "facing": facing if facing in ("left", "right", "camera") else "mixed",
        "fps": src.get("fps"),
        "duration_s": _s(src.get("duration_ms")),
        "resolution": f"{w}x{h}" if w and h else "",
        "usable": s.status == "ok",
        "rep_count": len(reps),
        "partial_reps": len(_upgraded(rep).get("partial_reps", [])),
        "reps": reps,
        "faults": clip_faults,
        "confidence": "high" if pending == 0 and s.reviewed_at is not None else ("low" if pending == len(fl) else "medium"),
        "notes": "; ".join(notes),
        "reviewed_at": s.reviewed_at.isoformat(timespec="seconds") if s.reviewed_at else None,
        "review": [_review_entry(f) for f in fl],
    }


# --------------------------------------------------------------------------- helpers


_HASHER: Any = None
_DUMMY: list[str] = []


def _hasher() -> Any:
    """argon2-cffi's PasswordHasher (argon2id, the library's recommended parameters)."""
    global _HASHER
    if _HASHER is None:
        from argon2 import PasswordHasher

        _HASHER = PasswordHasher()
    return _HASHER


def _dummy_hash() -> str:
    """A hash to verify against when the user does not exist (so both cases take as long)."""
    if not _DUMMY:
        _DUMMY.append(_hasher().hash(uuid.uuid4().hex))
    return _DUMMY[0]


def _check_password(password: Any) -> str:
    if not isinstance(password, str):
        raise StoreError(f"password: expected text, got {type(password).__name__}")
    if not MIN_PASSWORD_CHARS <= len(password) <= MAX_PASSWORD_CHARS:
        raise StoreError(f"password: expected {MIN_PASSWORD_CHARS}-{MAX_PASSWORD_CHARS} characters, "
                         f"got {len(password)}")
    return password


def _owner_filter(q: sa.Select, owners: Sequence[int | None] | None) -> sa.Select:
    """Sessions owned by one of ``owners`` (None in it: sessions without an owner); every one for None."""
    if owners is None:
        return q
    ids = [int(o) for o in owners if o is not None]
    conds = [sessions.c.owner_id.in_(ids)] if ids else []
    if any(o is None for o in owners):
        conds.append(sessions.c.owner_id.is_(None))
    return q.where(sa.or_(*conds)) if conds else q.where(sa.false())


def _private(path: Path, mode: int) -> None:
    """Make ``path`` readable by its owner only (best effort: a file system without modes keeps its own)."""
    try:
        os.chmod(path, mode)
    except OSError:
        pass


def _date_filter(q: sa.Select, since: date | None, until: date | None) -> sa.Select:
    """Sessions created on ``since`` or later and on ``until`` or earlier (dates, UTC)."""
    if since is not None:
        _check(isinstance(since, date), "a date", since)
        q = q.where(sessions.c.created_at >= datetime(since.year, since.month, since.day))
    if until is not None:
        _check(isinstance(until, date), "a date", until)
        q = q.where(sessions.c.created_at < datetime(until.year, until.month, until.day) + timedelta(days=1))
    return q


def _s(ms: Any) -> float | None:
    v = _float_or_none(ms)
    return None if v is None else round(v / 1000.0, 2)


def _blank(x: float | None) -> str:
    return "" if x is None else f"{x:g}"


def _float_or_none(x: Any) -> float | None:
    if x is None:
        return None
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def _int_or_none(x: Any) -> int | None:
    if x is None:
        return None
    try:
        return int(x)
    except (TypeError, ValueError):
        return None


def _phase_text(phase: Any) -> str:
    if isinstance(phase, (list, tuple)):
        return ", ".join(str(p) for p in phase)[:64]
    return str(phase or "")[:64]


def _fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    except OSError:
        pass  # some filesystems cannot fsync a directory; the rename is still atomic
    finally:
        os.close(fd)


def _write_bytes(path: Path, data: bytes) -> None:
    with open(path, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


def _place(src: Path, dst: Path, *, move: bool) -> None:
    if move:
        try:
            os.replace(src, dst)
            _fsync_file(dst)
            return
        except OSError:
            pass  # another filesystem: copy instead
    shutil.copyfile(src, dst)
    _fsync_file(dst)


def _upgraded(report: Mapping[str, Any]) -> dict[str, Any]:
    """A stored report dict in the current report schema (stored reports may be older)."""
    from formcheck.report import upgrade_report

    return upgrade_report(report)
