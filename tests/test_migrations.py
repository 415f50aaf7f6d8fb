"""The schema's Alembic migrations (formcheck/migrations) and the database URL, on SQLite and PostgreSQL.

The version-4 database is rebuilt from tests/data/storage_v4/dump.sql, which the hand-written migration
runner of formcheck before Alembic made (tests/data/storage_v4/make_dump.py says how): no code of
today's store touches it before the upgrade under test.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from formcheck.storage import SCHEMA_VERSION, Store, StoreError, database_url, database_url_from_env, metadata

DUMP_V4 = Path(__file__).resolve().parent / "data" / "storage_v4" / "dump.sql"
#: What the dump holds (make_dump.py): rows per table.
V4_ROWS = {"sessions": 4, "flags": 4, "comments": 3, "jobs": 2, "users": 3, "roster": 2, "athletes": 1,
           "schema_migrations": 4}


def _rows(db: Path) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table of the dump, read with sqlite3 (no formcheck code), in a fixed order."""
    con = sqlite3.connect(db)
    try:
        return {t: sorted(con.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr) for t in V4_ROWS}
    finally:
        con.close()


def _schema_diff(engine: sa.Engine) -> list[Any]:
    """Differences between the database's tables and the ones formcheck.storage declares ([] when equal)."""
    with engine.connect() as conn:
        return compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), metadata)


def _v4_database(tmp_path: Path) -> Path:
    db = tmp_path / "d" / "formcheck.db"
    db.parent.mkdir(mode=0o700)
    con = sqlite3.connect(db)
    con.executescript(DUMP_V4.read_text(encoding="utf-8"))
    con.close()
    return db


def test_version_4_database_of_the_hand_written_runner_upgrades_in_place(tmp_path: Path) -> None:
    db = _v4_database(tmp_path)
    before = _rows(db)
    assert {t: len(r) for t, r in before.items()} == V4_ROWS
    assert [r[0] for r in before["schema_migrations"]] == [1, 2, 3, 4]
    con = sqlite3.connect(db)
    assert "alembic_version" not in {r[0] for r in con.execute("SELECT name FROM sqlite_master")}
    con.close()

    store = Store(tmp_path / "d")
    assert store.schema_version() == SCHEMA_VERSION == 4
    assert _schema_diff(store._engine) == []  # the same tables, columns, types, indexes as a new database
    store.close()
    assert _rows(db) == before, "every row of every table is kept as it was"
    con = sqlite3.connect(db)
    try:
        assert con.execute("SELECT version_num FROM alembic_version").fetchall() == [("0004",)]
    finally:
        con.close()
    Store(tmp_path / "d").close()  # opening again changes nothing
    assert _rows(db) == before

    # What the store reads back is what the old version wrote.
    store = Store(tmp_path / "d")
    assert store.schema_version() == SCHEMA_VERSION
    by_athlete = {s.athlete: s for s in store.list_sessions()}
    assert sorted(by_athlete) == ["", "Ann", "Ben (no account)", "Zoë Ångström"]
    ann, zoe = by_athlete["Ann"], by_athlete["Zoë Ångström"]
    assert ann.owner_id == store.user_named("Ann").id and by_athlete["Ben (no account)"].owner_id is None
    f1, f2 = store.flags_for_session(ann.id)
    assert (f1.review_status, f1.severity, f2.review_status) == ("confirmed", "minor", "dismissed")
    assert [(c.text, c.t_ms) for c in f1.comments] == [("chest drops at the bottom — brace harder", 1234.5),
                                                       ("general note, no time", None)]
    assert zoe.reviewed_at is not None and {f.origin for f in store.flags_for_session(zoe.id)} == {"auto", "coach"}
    assert [u.name for u in store.roster(store.user_named("Cora").id)] == ["Ann", "Zoë Ångström"]
    assert "Ben (no account)" in store.athletes()
    assert store.get_job("f" * 32).session_id == ann.id and store.get_job("e" * 32).state == "failed"
    assert store.authenticate("Cora", "cora's password").is_coach  # (re-hashes the low-cost test hash)
    store.close()


@pytest.fixture()
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new, empty database: SQLite or (param "postgresql") one on the test server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    server = request.getfixturevalue("pg_server")
    url = server.create_database()
    yield url
    server.drop_database(url)


BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("fresh_url", BACKENDS, indirect=True)
def test_revisions_build_exactly_the_declared_tables(fresh_url: str, tmp_path: Path) -> None:
    store = Store(tmp_path / "files", fresh_url)
    try:
        assert store.schema_version() == SCHEMA_VERSION
        assert _schema_diff(store._engine) == []
        with store._engine.connect() as conn:
            assert list(conn.exec_driver_sql("SELECT version FROM schema_migrations ORDER BY version").scalars()) == \
                list(range(1, SCHEMA_VERSION + 1)), "an older formcheck (hand-written runner) still sees the version"
    finally:
        store.close()


@pytest.mark.parametrize("fresh_url", BACKENDS, indirect=True)
def test_stores_opened_at_once_on_a_new_database_migrate_it_once(fresh_url: str, tmp_path: Path) -> None:
    """Several servers starting together: one migrates, the others wait for it (lock), nobody fails."""
    errors: list[BaseException] = []
    opened: list[Store] = []

    def open_one(i: int) -> None:
        try:
            opened.append(Store(tmp_path / f"files{i}", fresh_url))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=open_one, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    try:
        assert errors == [] and len(opened) == 4
        with opened[0]._engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM schema_migrations").scalar() == SCHEMA_VERSION
            assert list(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()) == ["0004"]
    finally:
        for s in opened:
            s.close()


@pytest.mark.parametrize(
    "revision, message",
    [("0099", "newer than this formcheck"), ("zzzz", "newer than this formcheck")],
    ids=["later-number", "unknown-name"],
)
def test_a_database_of_a_newer_formcheck_is_refused(tmp_path: Path, revision: str, message: str) -> None:
    Store(tmp_path / "d").close()
    con = sqlite3.connect(tmp_path / "d" / "formcheck.db")
    con.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    con.commit()
    con.close()
    with pytest.raises(StoreError, match=message):
        Store(tmp_path / "d")


@pytest.mark.parametrize(
    "given, expected",
    [
        ("postgresql://u:p@db.example:5432/fc", "postgresql+psycopg://u:p@db.example:5432/fc"),
        ("postgres://u@db/fc", "postgresql+psycopg://u@db/fc"),
        ("postgresql+psycopg://u@db/fc", "postgresql+psycopg://u@db/fc"),
        ("  sqlite:////srv/fc.db ", "sqlite:////srv/fc.db"),
    ],
    ids=["postgresql", "postgres-alias", "driver-named", "sqlite"],
)
def test_database_url(given: str, expected: str) -> None:
    assert database_url(given) == expected


@pytest.mark.parametrize(
    "env, expected",
    [
        ({}, None),
        ({"FORMCHECK_DB_URL": "sqlite:////old.db"}, "sqlite:////old.db"),
        ({"FORMCHECK_DATABASE_URL": "postgresql://h/fc", "FORMCHECK_DB_URL": "sqlite:////old.db"},
         "postgresql+psycopg://h/fc"),
        ({"FORMCHECK_DATABASE_URL": "  ", "FORMCHECK_DB_URL": ""}, None),
    ],
    ids=["unset", "old-name", "new-name-wins", "blank"],
)
def test_database_url_from_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str], expected: str | None) -> None:
    for name in ("FORMCHECK_DATABASE_URL", "FORMCHECK_DB_URL"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert database_url_from_env() == expected


def test_unreachable_server_is_a_clear_error(tmp_path: Path) -> None:
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreError, match=r"cannot open the database postgresql\+psycopg://fc:\*\*\*@127\.0\.0\.1"):
        Store(tmp_path / "d", f"postgresql://fc:secret@127.0.0.1:{port}/fc?connect_timeout=5")


@pytest.mark.parametrize("fresh_url", BACKENDS, indirect=True)
def test_a_database_of_the_hand_written_runner_is_stamped_not_rebuilt(fresh_url: str, tmp_path: Path) -> None:
    """The runner's state on either database: the tables, schema_migrations 1-4, no alembic_version.

    (On SQLite the dump test above uses the runner's own output; on PostgreSQL this state is made by
    dropping alembic_version, the only table the runner did not make: the revisions build exactly the
    runner's tables, test_revisions_build_exactly_the_declared_tables.)
    """
    from test_storage import make_report

    store = Store(tmp_path / "files", fresh_url)
    s = store.save_analysis(make_report(athlete="Ann", flags=[(1, "rounded_back", "major")]))
    store.add_comment(store.flags_for_session(s.id)[0].id, "kept", t_ms=1500.0)
    store.close()
    engine = sa.create_engine(fresh_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("DROP TABLE alembic_version")
        with engine.connect() as conn:
            before = {t: sorted(map(tuple, conn.exec_driver_sql(f"SELECT * FROM {t}")), key=repr)
                      for t in ("sessions", "flags", "comments", "schema_migrations")}
        reopened = Store(tmp_path / "files", fresh_url)
        assert reopened.schema_version() == SCHEMA_VERSION
        assert reopened.get_flag(reopened.flags_for_session(s.id)[0].id).comments[0].text == "kept"
        reopened.close()
        with engine.connect() as conn:
            assert list(conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars()) == ["0004"]
            after = {t: sorted(map(tuple, conn.exec_driver_sql(f"SELECT * FROM {t}")), key=repr) for t in before}
        assert after == before
    finally:
        engine.dispose()
