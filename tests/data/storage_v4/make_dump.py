"""Write dump.sql: a formcheck database of schema version 4 made by the hand-written migration runner.

This is test data for tests/test_migrations.py (an existing database upgrades in place to Alembic).
It must be made by the code that made version-4 databases, not by today's code: run it from a
checkout of the commit before the move to Alembic (8d88f3f), e.g.

    git worktree add /tmp/fc-v4 8d88f3f
    PYTHONPATH=/tmp/fc-v4 .venv/bin/python tests/data/storage_v4/make_dump.py

Every table gets rows (accounts, roster, named athletes, sessions with and without an owner, auto and
coach flags in every review state, comments with and without a time, jobs in several states), with
non-ASCII text, NULLs and fractional seconds. The argon2 hashes use small costs (they are only text
here). The output is SQLite's ``.dump`` text, so the test rebuilds the database without any formcheck code.
"""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from pathlib import Path

import formcheck.storage as storage
from argon2 import PasswordHasher

OUT = Path(__file__).resolve().parent / "dump.sql"


def main() -> None:
    if storage.SCHEMA_VERSION != 4 or not hasattr(storage, "MIGRATIONS"):
        sys.exit(f"run this with formcheck's version-4 storage (hand-written runner); got {storage.__file__}")
    sys.path.insert(0, str(Path(storage.__file__).resolve().parents[1] / "tests"))
    from test_storage import make_report  # that checkout's valid-report builder

    storage._hasher = lambda: PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    with tempfile.TemporaryDirectory() as tmp:
        store = storage.Store(Path(tmp) / "d")
        cora = store.add_user("Cora", "coach", "cora's password")
        store.add_user("Ann", "athlete", "ann's password")
        store.add_user("Zoë Ångström", "athlete", "zoe's password")
        store.add_to_roster("Cora", "Ann")
        store.add_to_roster("Cora", "Zoë Ångström")
        store.create_athlete("Ben (no account)")
        a1 = store.save_analysis(make_report(athlete="Ann", flags=[(1, "rounded_back", "major"),
                                                                   (2, "knee_cave", "minor")], sha="a1" * 32,
                                                 not_assessable=()),
                                 source_name="ann squat 1.mp4", analysis_key="k1")
        a2 = store.save_analysis(make_report(lift="deadlift", athlete="Zoë Ångström", n_reps=2,
                                             flags=[(1, "bar_drift", "minor")], sha="b2" * 32),
                                 source_kind="sample", source_name="dl – ünïcode.mov", analysis_key="k2")
        store.save_analysis(make_report(athlete="Ben (no account)", n_reps=1, sha="c3" * 32),
                            source_kind="live", source_name="live")
        store.save_analysis(make_report(n_reps=0, sha="d4" * 32), source_name="")
        f1, f2 = store.flags_for_session(a1.id)
        store.set_review(f1.id, status="confirmed", severity="minor")
        store.set_review(f2.id, status="dismissed")
        store.add_comment(f1.id, "chest drops at the bottom — brace harder", t_ms=1234.5)
        store.add_comment(f1.id, "general note, no time")
        store.add_missed_fault(a2.id, 2, "hips_rise_early", severity="major", comment="missed by the tool")
        store.mark_session_reviewed(a2.id)
        store.record_job("e" * 32, owner="host:1:1", source_name="up.mp4", source_kind="upload", request={"model": "lite"})
        store.update_job("e" * 32, state="failed", stage="pose", message="no person found")
        store.record_job("f" * 32, owner="host:2:2", source_name="up2.mp4", source_kind="upload", request={})
        store.update_job("f" * 32, state="done", stage="finished", session_id=a1.id, message="ok")
        assert cora.is_coach and store.schema_version() == 4
        store.close()
        con = sqlite3.connect(Path(tmp) / "d" / "formcheck.db")
        OUT.write_text("\n".join(con.iterdump()) + "\n", encoding="utf-8")
        con.close()
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
