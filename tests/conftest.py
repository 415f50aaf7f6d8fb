"""Shared test fixtures.

Real-footage tests use ../shared/data/lifts (never committed); they are marked
``slow`` and skip cleanly when that folder is missing.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
# tools/ (the synthetic-athlete generator) and tests/support are importable in tests.
for p in (REPO, REPO / "tests"):
    if str(p) not in sys.path:
        sys.path.insert(0, str(p))

SHARED_LIFTS = Path(os.environ.get("FORMCHECK_SHARED_LIFTS", REPO.parent / "shared" / "data" / "lifts"))
SAMPLES = REPO / "sample_videos"
TEST_DATA = REPO / "tests" / "data"


@pytest.fixture(scope="session")
def shared_lifts() -> Path:
    """../shared/data/lifts, or skip the test when it is not there."""
    if not (SHARED_LIFTS / "labels.json").is_file() or not (SHARED_LIFTS / "videos").is_dir():
        pytest.skip(f"real footage not available at {SHARED_LIFTS}")
    return SHARED_LIFTS


@pytest.fixture(scope="session")
def samples_dir() -> Path:
    return SAMPLES


@pytest.fixture(scope="session")
def test_data() -> Path:
    return TEST_DATA


@pytest.fixture(scope="session")
def real_pose_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pose cache shared by the real-footage tests (so each clip goes through MediaPipe once per run).

    Set FORMCHECK_TEST_POSE_CACHE to a folder to keep the cache between runs.
    """
    env = os.environ.get("FORMCHECK_TEST_POSE_CACHE")
    if env:
        Path(env).mkdir(parents=True, exist_ok=True)
        return Path(env)
    return tmp_path_factory.mktemp("pose_cache")


@pytest.fixture(scope="session")
def sample_analyses(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every bundled sample analysed once per test run (full model), by file stem."""
    from formcheck.pipeline import analyze_video

    out = tmp_path_factory.mktemp("samples_out")
    results = {}
    for clip in sorted(SAMPLES.glob("*.mp4")):
        results[clip.stem] = analyze_video(clip, model="full", out_dir=out / clip.stem, make_video=False)
    return results


# --------------------------------------------------------------------------- PostgreSQL
# The storage tests run on SQLite and on a real PostgreSQL server (tests/support/pgserver.py) started
# once per test run. Without the server binaries they skip, except when FORMCHECK_REQUIRE_POSTGRES=1
# (set by .ci/run): then a missing server is a failure.
ENV_REQUIRE_POSTGRES = "FORMCHECK_REQUIRE_POSTGRES"
#: Every table the store writes, emptied between tests (the schema's bookkeeping tables are kept).
STORE_TABLES = ("comments", "flags", "sessions", "jobs", "roster", "users", "athletes")


@pytest.fixture(scope="session")
def pg_server():
    from support import pgserver

    try:
        server = pgserver.start()
    except pgserver.PgUnavailable as exc:
        if os.environ.get(ENV_REQUIRE_POSTGRES, "").strip() not in ("", "0"):
            pytest.fail(f"{ENV_REQUIRE_POSTGRES} is set: {exc}")
        pytest.skip(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def pg_database(pg_server, tmp_path_factory: pytest.TempPathFactory):
    """One database for the run, migrated by the store; yields (url, engine)."""
    import sqlalchemy as sa

    from formcheck.storage import Store

    url = pg_server.create_database()
    Store(tmp_path_factory.mktemp("pg-migrate"), url).close()
    engine = sa.create_engine(url)
    yield url, engine
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest) -> str | None:
    """None (the store's SQLite file in its data folder) or the URL of an emptied PostgreSQL database."""
    if request.param == "sqlite":
        return None
    import sqlalchemy as sa

    url, engine = request.getfixturevalue("pg_database")
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(STORE_TABLES)} RESTART IDENTITY CASCADE"))
    return url
