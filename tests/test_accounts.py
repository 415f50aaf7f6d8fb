"""Accounts, roles, the roster, athlete create/rename/merge/delete, and the access rules (formcheck.access).

Every permission is checked by calling it as the wrong user and expecting a refusal.
"""

from __future__ import annotations

import io
import os
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable

import pytest

from formcheck.access import Access, AccessDenied, is_loopback
from formcheck.storage import SCHEMA_VERSION, Store, StoreError
from test_storage import _files, make_report

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"


# The access tables below check formcheck.access's decisions, which do not depend on the database;
# they run on SQLite only (the store calls they make run on PostgreSQL in the other tests here), to
# keep the test suite's time.
SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


@pytest.fixture(autouse=True)
def quick_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with small costs (the real ones take ~0.4 s a hash here); tests marked ``real_hash`` keep them."""
    if "real_hash" in request.keywords:
        return
    from argon2 import PasswordHasher

    import formcheck.storage as storage

    monkeypatch.setattr(storage, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    monkeypatch.setattr(storage, "_DUMMY", [])


@pytest.fixture()
def store(tmp_path: Path, db_url: str | None) -> Store:
    """A store on SQLite and on PostgreSQL (the ``db_url`` fixture)."""
    s = Store(tmp_path / "data", db_url)
    yield s
    s.close()


@pytest.fixture()
def club(store: Store) -> dict[str, Any]:
    """Coach Cora with athletes Ann and Ben on her roster; coach Dan with Eve; one session each (Ann has a flag)."""
    users = {n: store.add_user(n, r, PASSWORD) for n, r in
             (("Cora", "coach"), ("Dan", "coach"), ("Ann", "athlete"), ("Ben", "athlete"), ("Eve", "athlete"))}
    for coach, athlete in (("Cora", "Ann"), ("Cora", "Ben"), ("Dan", "Eve")):
        store.add_to_roster(coach, athlete)
    sessions = {n: store.save_analysis(make_report(athlete=n, flags=[(1, "rounded_back", "major")] if n == "Ann" else [],
                                                   sha=f"{i:02d}" * 32), athlete=n)
                for i, n in enumerate(("Ann", "Ben", "Eve"))}
    return {"users": users, "sessions": sessions,
            "acc": {n: Access(store, u) for n, u in users.items()}}


# --------------------------------------------------------------------------- accounts


@pytest.mark.real_hash
def test_add_user_and_authenticate(store: Store) -> None:
    assert not store.has_users()
    coach = store.add_user("  Cora  ", "coach", PASSWORD)
    assert store.has_users() and coach.name == "Cora" and coach.is_coach
    assert store.authenticate("Cora", PASSWORD) == coach
    assert store.authenticate("Cora", PASSWORD + "x") is None
    assert store.authenticate("Nobody", PASSWORD) is None
    with store._read() as conn:
        digest = conn.exec_driver_sql("SELECT password_hash FROM users").scalar()
    assert digest.startswith("$argon2id$v=19$m=65536,t=3,p=4$") and PASSWORD not in digest, digest


@pytest.mark.parametrize(
    "name, role, password, message",
    [("", "coach", PASSWORD, "empty name"), ("Zed", "admin", PASSWORD, "role in"),
     ("Zed", "coach", "short", "8-1024 characters"), ("zed", "athlete", PASSWORD, "taken"),
     ("Zed", "coach", 12345678, "expected text")],
    ids=["empty-name", "bad-role", "short-password", "name-taken-any-case", "password-not-text"],
)
def test_add_user_rejects(store: Store, name: str, role: str, password: Any, message: str) -> None:
    store.add_user("Zed", "coach", PASSWORD)
    with pytest.raises(StoreError, match=message):
        store.add_user(name, role, password)
    assert len(store.users()) == 1


def test_password_change(store: Store) -> None:
    store.add_user("Ann", "athlete", PASSWORD)
    store.set_password("Ann", "another long one")
    assert store.authenticate("Ann", PASSWORD) is None
    assert store.authenticate("Ann", "another long one") is not None


def test_athlete_account_adopts_earlier_sessions_and_owns_new_ones(store: Store) -> None:
    before = store.save_analysis(make_report(athlete="Ann"))
    other = store.save_analysis(make_report(athlete="Someone", sha="cd" * 32))
    assert before.owner_id is None
    ann = store.add_user("Ann", "athlete", PASSWORD)
    coach = store.add_user("Cora", "coach", PASSWORD)
    assert store.get_session(before.id).owner_id == ann.id
    assert store.get_session(other.id).owner_id is None
    assert store.save_analysis(make_report(athlete="Ann", sha="ef" * 32)).owner_id == ann.id
    assert store.save_analysis(make_report(athlete="Cora", sha="01" * 32)).owner_id is None, "a coach owns no session"
    assert coach.is_coach


def test_roster(store: Store) -> None:
    store.add_user("Cora", "coach", PASSWORD)
    store.add_user("Ann", "athlete", PASSWORD)
    store.add_user("Ben", "athlete", PASSWORD)
    store.add_to_roster("Cora", "Ann")
    store.add_to_roster("Cora", "Ann")  # twice: no change
    store.add_to_roster("Cora", "Ben")
    cora = store.user_named("Cora")
    assert [a.name for a in store.roster(cora.id)] == ["Ann", "Ben"]
    store.remove_from_roster("Cora", "Ben")
    assert [a.name for a in store.roster(cora.id)] == ["Ann"]
    with pytest.raises(StoreError, match="coach account"):
        store.add_to_roster("Ann", "Ben")
    with pytest.raises(StoreError, match="athlete account"):
        store.add_to_roster("Cora", "Cora")


# --------------------------------------------------------------------------- access rules


def test_no_account_means_single_user_everything_allowed(store: Store) -> None:
    s = store.save_analysis(make_report(athlete="Sam", flags=[(1, "rounded_back", "major")]))
    acc = Access(store, None)
    assert acc.single_user and acc.can_review and acc.owners() is None
    assert acc.session(s.id) == s and acc.athletes() == ["Sam"]
    acc.set_review(store.flags_for_session(s.id)[0].id, status="confirmed")
    store.add_user("Cora", "coach", PASSWORD)
    with pytest.raises(AccessDenied, match="log in"):
        Access(store, None)


def test_each_sees_only_what_is_theirs(store: Store, club: dict[str, Any]) -> None:
    acc, ses = club["acc"], club["sessions"]
    seen = {n: sorted(s.athlete for s in a.list_sessions()) for n, a in acc.items()}
    assert seen == {"Cora": ["Ann", "Ben"], "Dan": ["Eve"], "Ann": ["Ann"], "Ben": ["Ben"], "Eve": ["Eve"]}
    assert acc["Cora"].athletes() == ["Ann", "Ben"] and acc["Ben"].athletes() == ["Ben"]
    assert [f.athlete for f in acc["Cora"].review_queue()] == ["Ann"]
    assert acc["Ben"].review_queue() == [] and acc["Dan"].review_queue() == []
    assert {i.session.athlete for i in acc["Ben"].rep_queue()} == {"Ben"}
    assert acc["Ann"].athlete_history("Ann")[0].pending == 1
    assert acc["Ann"].session(ses["Ann"].id).id == ses["Ann"].id


# Every look-up by id or name that a hand-edited URL could reach, as the wrong user.
WRONG_USER: list[tuple[str, str, Callable[[Access, dict], Any]]] = [
    ("Ben", "session", lambda a, s: a.session(s["Ann"].id)),
    ("Dan", "session", lambda a, s: a.session(s["Ann"].id)),
    ("Ben", "flags", lambda a, s: a.flags_for_session(s["Ann"].id)),
    ("Ben", "counts", lambda a, s: a.review_counts([s["Ann"].id])),
    ("Ben", "history", lambda a, s: a.athlete_history("Ann")),
    ("Dan", "history", lambda a, s: a.athlete_history("Ann")),
    ("Ben", "flag", lambda a, s: a.flag(a.store.flags_for_session(s["Ann"].id)[0].id)),
    ("Ben", "rep-clip", lambda a, s: a.rep_clip_path(s["Ann"], 1)),
]


@SQLITE_ONLY
@pytest.mark.parametrize("who, what, call", WRONG_USER, ids=[f"{w}-{x}" for w, x, _ in WRONG_USER])
def test_someone_elses_session_is_refused(club: dict[str, Any], who: str, what: str, call: Callable) -> None:
    with pytest.raises(AccessDenied):
        call(club["acc"][who], club["sessions"])


def test_unknown_and_forbidden_sessions_get_the_same_answer(club: dict[str, Any]) -> None:
    ben = club["acc"]["Ben"]
    with pytest.raises(AccessDenied) as forbidden:
        ben.session(club["sessions"]["Ann"].id)
    with pytest.raises(AccessDenied) as unknown:
        ben.session("0" * 32)
    assert str(forbidden.value).replace(club["sessions"]["Ann"].id, "X") == str(unknown.value).replace("0" * 32, "X")
    assert ben.session_or_none("../../etc/passwd") is None


REVIEW_ACTIONS: list[tuple[str, Callable[[Access, Any, int], Any]]] = [
    ("confirm", lambda a, s, f: a.set_review(f, status="confirmed")),
    ("dismiss", lambda a, s, f: a.set_review(f, status="dismissed")),
    ("severity", lambda a, s, f: a.set_review(f, severity="minor")),
    ("comment", lambda a, s, f: a.add_comment(f, "looks fine to me")),
    ("missed-fault", lambda a, s, f: a.add_missed_fault(s.id, 2, "shallow_depth")),
    ("mark-reviewed", lambda a, s, f: a.mark_session_reviewed(s.id)),
    ("delete-session", lambda a, s, f: a.delete_session(s.id)),
    ("export-labels", lambda a, s, f: a.export_labels()),
    ("export-csv", lambda a, s, f: a.export_flags_csv()),
]


@SQLITE_ONLY
@pytest.mark.parametrize("who", ["Ann", "Ben", "Dan"], ids=["own-athlete", "other-athlete", "other-coach"])
@pytest.mark.parametrize("action", [c for _, c in REVIEW_ACTIONS], ids=[n for n, _ in REVIEW_ACTIONS])
def test_only_the_roster_coach_changes_a_review(store: Store, club: dict[str, Any], who: str, action: Callable) -> None:
    s = club["sessions"]["Ann"]
    flag = store.flags_for_session(s.id)[0]
    if who == "Dan" and action in (REVIEW_ACTIONS[-1][1], REVIEW_ACTIONS[-2][1]):
        assert not any(e.get("athlete") == "Ann" for e in (club["acc"]["Dan"].export_labels(reviewed_only=False)))
        return  # Dan may export, but only his own athletes' sessions
    with pytest.raises(AccessDenied):
        action(club["acc"][who], s, flag.id)
    after = store.flags_for_session(s.id)
    assert store.get_session(s.id) is not None and after == [flag], "nothing changed"


def test_roster_coach_reviews_and_the_athlete_sees_it(store: Store, club: dict[str, Any]) -> None:
    cora, ann = club["acc"]["Cora"], club["acc"]["Ann"]
    s = club["sessions"]["Ann"]
    flag = cora.flags_for_session(s.id)[0]
    cora.set_review(flag.id, status="dismissed")
    cora.add_comment(flag.id, "fine: the camera angle")
    cora.add_missed_fault(s.id, 2, "shallow_depth", comment="cut depth")
    seen = {f.code: (f.review_status, [c.text for c in f.comments]) for f in ann.flags_for_session(s.id)}
    assert seen == {"rounded_back": ("dismissed", ["fine: the camera angle"]),
                    "shallow_depth": ("confirmed", ["cut depth"])}
    assert [e["athlete"] for e in cora.export_labels()] == ["Ann"]


def test_uploads_are_recorded_for_the_right_athlete(club: dict[str, Any]) -> None:
    acc = club["acc"]
    assert acc["Ann"].upload_athlete("Ben") == "Ann", "an athlete uploads as themselves whatever is asked"
    assert acc["Cora"].upload_athlete("Ben") == "Ben"
    with pytest.raises(AccessDenied, match="roster"):
        acc["Cora"].upload_athlete("Eve")


def test_jobs_of_others_are_invisible(store: Store, club: dict[str, Any]) -> None:
    store.record_job("a" * 32, owner="x", source_name="ann.mp4", source_kind="upload", request={"athlete": "Ann"})
    store.update_job("a" * 32, state="done", session_id=club["sessions"]["Ann"].id)
    store.record_job("b" * 32, owner="dead", source_name="ann2.mp4", source_kind="upload", request={"athlete": "Ann"})
    store.recover_jobs(is_alive=lambda owner: False)
    acc = club["acc"]
    assert acc["Ann"].job("a" * 32) is not None and acc["Cora"].job("a" * 32) is not None
    assert acc["Ben"].job("a" * 32) is None and acc["Dan"].job("a" * 32) is None
    assert [j.id for j in acc["Ann"].interrupted_jobs()] == ["b" * 32]
    assert acc["Ben"].interrupted_jobs() == []


def test_removed_account_is_logged_out(store: Store, club: dict[str, Any]) -> None:
    store.delete_athlete("Ben")
    with pytest.raises(AccessDenied, match="log in again"):
        Access(store, club["users"]["Ben"])


@pytest.mark.parametrize(
    "address, local",
    [("localhost", True), ("127.0.0.1", True), ("127.1.2.3", True), ("::1", True), ("[::1]", True),
     ("0.0.0.0", False), ("::", False), ("192.168.1.5", False), ("", False), (None, False), ("example.org", False)],
    ids=["localhost", "v4", "v4-other", "v6", "v6-brackets", "any-v4", "any-v6", "lan", "empty", "unset", "name"],
)
def test_is_loopback(address: str | None, local: bool) -> None:
    assert is_loopback(address) is local


# --------------------------------------------------------------------------- roster operations


def test_create_rename_merge_delete_single_user(store: Store, tmp_path: Path) -> None:
    assert store.create_athlete(" Sam ") == "Sam"
    assert store.athletes() == ["Sam"]
    with pytest.raises(StoreError, match="taken"):
        store.create_athlete("sam")
    s1 = store.save_analysis(make_report(athlete="Sam", flags=[(1, "rounded_back", "major")]), files=_files(tmp_path))
    s2 = store.save_analysis(make_report(athlete="Samuel", sha="cd" * 32))
    assert store.rename_athlete("Sam", "Sammy") == "Sammy"
    assert store.get_session(s1.id).athlete == "Sammy" and store.get_session(s1.id).report["athlete"] == "Sammy"
    assert store.athletes() == ["Sammy", "Samuel"]
    with pytest.raises(StoreError, match="merge"):
        store.rename_athlete("Sammy", "Samuel")
    assert store.merge_athletes("Samuel", "Sammy") == "Sammy"
    assert store.athletes() == ["Sammy"]
    assert {s.id for s in store.list_sessions(athlete="Sammy")} == {s1.id, s2.id}
    assert store.athlete_history("Sammy")[0].pending == 1
    folder = store.get_session(s1.id).dir
    assert store.delete_athlete("Sammy") == 2
    assert store.athletes() == [] and store.list_sessions() == [] and not folder.exists()
    assert store.review_queue(status=None) == []


@pytest.mark.parametrize(
    "call, message",
    [(lambda s: s.rename_athlete("Nobody", "X"), "no athlete"), (lambda s: s.rename_athlete("Sam", "  "), "new name"),
     (lambda s: s.merge_athletes("Sam", "Sam"), "two different"), (lambda s: s.merge_athletes("Sam", "Nobody"), "no athlete"),
     (lambda s: s.delete_athlete("Nobody"), "no athlete"), (lambda s: s.create_athlete(""), "athlete's name")],
    ids=["rename-unknown", "rename-to-empty", "merge-self", "merge-unknown", "delete-unknown", "create-empty"],
)
def test_roster_operations_reject(store: Store, call: Callable, message: str) -> None:
    store.create_athlete("Sam")
    with pytest.raises(StoreError, match=message):
        call(store)
    assert store.athletes() == ["Sam"]


def test_roster_operations_with_accounts(store: Store, club: dict[str, Any]) -> None:
    cora, dan, ann = club["acc"]["Cora"], club["acc"]["Dan"], club["acc"]["Ann"]
    with pytest.raises(AccessDenied):
        dan.rename_athlete("Ann", "Anna")
    with pytest.raises(AccessDenied):
        ann.rename_athlete("Ann", "Anna")
    with pytest.raises(AccessDenied):
        dan.merge_athletes("Eve", "Ann")
    with pytest.raises(AccessDenied):
        cora.delete_athlete("Eve")
    assert cora.create_athlete("Fay", "fay's password") == "Fay"
    assert store.authenticate("Fay", "fay's password") is not None
    assert Access(store, club["users"]["Cora"]).roster_names() == ["Ann", "Ben", "Fay"]
    # A renamed athlete keeps their sessions and logs in under the new name.
    Access(store, club["users"]["Cora"]).rename_athlete("Ann", "Anna")
    anna = store.authenticate("Anna", PASSWORD)
    assert anna is not None and [s.athlete for s in Access(store, anna).list_sessions()] == ["Anna"]
    # Merging Ben into Anna: Ben's session becomes Anna's, Ben's account goes.
    Access(store, club["users"]["Cora"]).merge_athletes("Ben", "Anna")
    assert store.user_named("Ben") is None
    assert sorted(s.athlete for s in Access(store, anna).list_sessions()) == ["Anna", "Anna"]
    assert Access(store, club["users"]["Cora"]).delete_athlete("Anna") == 2
    assert store.user_named("Anna") is None and store.list_sessions(athlete="Anna") == []


# --------------------------------------------------------------------------- schema and files


def test_version_3_database_upgrades_in_place(tmp_path: Path) -> None:
    """A database made before accounts (schema 3) keeps its sessions; an athlete account then adopts them."""
    old = Store(tmp_path / "d")
    s = old.save_analysis(make_report(athlete="Ann", flags=[(1, "rounded_back", "major")]))
    old.set_review(old.flags_for_session(s.id)[0].id, status="confirmed")
    old.close()
    con = sqlite3.connect(tmp_path / "d" / "formcheck.db")
    con.execute("DROP INDEX ix_sessions_owner_id")
    con.execute("ALTER TABLE sessions DROP COLUMN owner_id")
    for table in ("roster", "users", "athletes"):
        con.execute(f"DROP TABLE {table}")
    con.execute("DELETE FROM schema_migrations WHERE version > 3")
    con.execute("DROP TABLE alembic_version")  # the hand-written runner of version 3 knew no Alembic
    con.commit()
    assert "owner_id" not in {r[1] for r in con.execute("PRAGMA table_info(sessions)")}
    con.close()
    upgraded = Store(tmp_path / "d")
    assert upgraded.schema_version() == SCHEMA_VERSION == 4
    assert upgraded.get_session(s.id).owner_id is None
    assert upgraded.flags_for_session(s.id)[0].review_status == "confirmed"
    ann = upgraded.add_user("Ann", "athlete", PASSWORD)
    assert upgraded.get_session(s.id).owner_id == ann.id
    upgraded.close()
    assert Store(tmp_path / "d").schema_version() == SCHEMA_VERSION  # opening again changes nothing


def test_data_folder_and_files_are_private(store: Store, tmp_path: Path) -> None:
    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")]), files=_files(tmp_path))
    store.add_user("Cora", "coach", PASSWORD)
    modes = {p.relative_to(store.data_dir): stat.S_IMODE(p.stat().st_mode)
             for p in [store.data_dir, *store.data_dir.rglob("*")]}
    assert len([p for p in modes if p.parts[:1] == ("sessions",)]) >= 4, modes
    wrong = {str(p): oct(m) for p, m in modes.items()
             if m != (0o700 if (store.data_dir / p).is_dir() else 0o600)}
    assert not wrong, wrong
    assert (s.dir / "report.json").is_file()


def test_existing_data_folder_is_made_private(tmp_path: Path) -> None:
    d = tmp_path / "open"
    d.mkdir(mode=0o755)
    os.chmod(d, 0o755)
    Store(d).close()
    assert stat.S_IMODE(d.stat().st_mode) == 0o700


# --------------------------------------------------------------------------- command line


def _cli(data: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    code = "import sys; from formcheck.cli import app; sys.argv[0] = 'formcheck'; app()"
    env = {**os.environ, "FORMCHECK_DATA_DIR": str(data), "PYTHONPATH": str(REPO)}
    return subprocess.run([sys.executable, "-c", code, *args], input=stdin, capture_output=True, text=True,
                          env=env, timeout=120)


def test_cli_users_add_roster_and_app_address(tmp_path: Path) -> None:
    data = tmp_path / "data"
    refused = _cli(data, "app", "--address", "0.0.0.0")
    assert refused.returncode == 2 and "no accounts" in refused.stderr and "Traceback" not in refused.stderr
    assert _cli(data, "users", "add", "Cora", "--role", "coach", stdin=PASSWORD + "\n").returncode == 0
    ok = _cli(data, "users", "add", "Ann", "--role", "athlete", "--coach", "Cora", stdin=PASSWORD + "\n")
    assert ok.returncode == 0 and "Cora's roster" in ok.stdout
    for args, stdin, message in ((("users", "add", "Ben", "--role", "admin"), PASSWORD, "--role"),
                                 (("users", "add", "Ben", "--role", "athlete"), "short\n", "8-1024"),
                                 (("users", "add", "Ben", "--role", "athlete", "--coach", "Ann"), PASSWORD, "coach"),
                                 (("users", "add", "ann", "--role", "athlete"), PASSWORD, "taken")):
        bad = _cli(data, *args, stdin=stdin)
        assert bad.returncode == 2 and message in bad.stderr and "Traceback" not in bad.stderr, bad.stderr
    listed = _cli(data, "users", "list")
    assert listed.stdout.split("\n")[:2] == ["athlete\tAnn", "coach\tCora"]
    assert _cli(data, "users", "roster", "Cora").stdout.strip() == "Cora: Ann"
    store = Store(data)
    assert store.authenticate("Ann", PASSWORD) is not None and store.user_named("Ben") is None


def test_read_password_from_a_pipe() -> None:
    from formcheck.cli import read_password

    assert read_password(io.StringIO("pass word with spaces \nsecond line\n")) == "pass word with spaces "


def test_a_second_server_cannot_take_a_name_while_the_first_is_writing(tmp_path: Path, db_url: str | None) -> None:
    """Writers queue (SQLite: BEGIN IMMEDIATE; PostgreSQL: an advisory lock): while one server's write
    transaction holds a new "Sam", another server's "sam" waits for it and is then refused as taken,
    instead of slipping in beside it (the name check ignores case, the table's constraint does not)."""
    import threading
    from datetime import datetime, timezone

    import sqlalchemy as sa

    from formcheck.storage import users

    first, second = Store(tmp_path / "data", db_url), Store(tmp_path / "data", db_url)
    outcome: list[BaseException | str] = []

    def add() -> None:
        try:
            second.add_user("sam", "coach", PASSWORD)
            outcome.append("added")
        except StoreError as exc:
            outcome.append(exc)

    try:
        with first._write() as conn:
            conn.execute(sa.insert(users).values(name="Sam", role="coach", password_hash="x",
                                                 created_at=datetime.now(timezone.utc)))
            racer = threading.Thread(target=add)
            racer.start()
            racer.join(timeout=1.5)
            assert racer.is_alive(), f"the second writer did not wait for the first: {outcome}"
        racer.join(timeout=30)
        assert len(outcome) == 1 and isinstance(outcome[0], StoreError), outcome
        assert "is taken" in str(outcome[0])
        assert [u.name for u in second.users()] == ["Sam"]
    finally:
        first.close()
        second.close()
