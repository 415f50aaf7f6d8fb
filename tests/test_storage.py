"""formcheck.storage: sessions, review state, export to the labels format, durability, concurrency."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any, Sequence

import pytest

from formcheck.faults import FAULT_CODES
from formcheck.report import FormReport, guidance_block
from formcheck.storage import (
    FILE_MODE,
    SCHEMA_VERSION,
    FlagRecord,
    SessionRecord,
    Store,
    StoreError,
    clean_athlete,
)

REPO = Path(__file__).resolve().parents[1]
SQUAT_CODES = ("excessive_forward_lean", "shallow_depth", "hips_rise_early", "knee_cave", "heels_lift",
               "rounded_back", "incomplete_lockout")


def make_report(*, lift: str = "squat", n_reps: int = 3, flags: Sequence[tuple[int, str, str]] = (),
                not_assessable: Sequence[str] = ("knee_cave",), athlete: str = "", sha: str = "ab" * 32,
                file: str = "clip.mp4") -> FormReport:
    """A valid squat report with ``n_reps`` reps 3 s apart and the given (rep, code, severity) flags."""
    codes = SQUAT_CODES if lift == "squat" else ("rounded_back", "hips_rise_early", "hips_too_low_start", "bar_drift",
                                                 "hyperextension_lockout", "incomplete_lockout", "knee_cave",
                                                 "heels_lift")
    flagged = {c for _, c, _ in flags}
    verdicts = {c: "flagged" if c in flagged else ("not_assessable" if c in not_assessable else "clear") for c in codes}
    reps = []
    for i in range(n_reps):
        start = 1000.0 + 3000.0 * i
        rep_verdicts = {c: ("flagged" if any(r == i + 1 and fc == c for r, fc, _ in flags)
                            else "not_assessable" if c in not_assessable else "clear") for c in codes}
        reps.append({"rep": i + 1, "start_ms": start, "bottom_ms": start + 1200.0, "end_ms": start + 2500.0,
                     "phases": [{"name": "descent", "start_ms": start, "end_ms": start + 1200.0}],
                     "tempo_ms": {"descent": 1200.0, "ascent": 1300.0}, "view": "side", "measures": {},
                     "verdicts": rep_verdicts})
    flag_dicts = [{"code": c, "rep": r, "phase": "ascent", "t_ms": reps[r - 1]["bottom_ms"], "frame": 40,
                   "measured": 52.0, "limit": 45.0, "units": "deg", "severity": sev, "confidence": 0.8,
                   "measure": "trunk_lean_max", "message": f"{c} on rep {r}"} for r, c, sev in flags]
    return FormReport(
        source={"file": file, "sha256": sha, "duration_ms": 1000.0 + 3000.0 * n_reps, "n_frames": 300, "fps": 30.0,
                "width": 640, "height": 480, "rotation_deg": 0},
        status="ok", lift=lift, lift_source="auto", lift_confidence=0.9, view="side", facing="left",
        view_confidence=0.9, detection_rate=1.0, rep_count=n_reps, partial_reps=[], reps=reps, flags=flag_dicts,
        verdicts=verdicts, not_assessable={c: "not assessable from a side view" for c in not_assessable if c in codes},
        guidance=guidance_block(sorted(flagged), lift), model="lite", athlete=athlete,
    )


@pytest.fixture()
def store(tmp_path: Path, db_url: str | None) -> Store:
    """A store on SQLite and on PostgreSQL (the ``db_url`` fixture)."""
    s = Store(tmp_path / "data", db_url)
    yield s
    s.close()


def _files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, data in (("csv", b"frame,t_ms\n0,0\n"), ("worst_1_rounded_back", b"\x89PNG fake")):
        p = tmp_path / f"in-{name}.{'csv' if name == 'csv' else 'png'}"
        p.write_bytes(data)
        out[name] = p
    return out


# --------------------------------------------------------------------------- schema and records


def test_schema_created_once_and_versioned(tmp_path: Path) -> None:
    s1 = Store(tmp_path / "d")
    s1.close()
    s2 = Store(tmp_path / "d")  # opening again applies nothing twice
    assert s2.schema_version() == SCHEMA_VERSION
    s2.close()
    con = sqlite3.connect(tmp_path / "d" / "formcheck.db")
    try:
        assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        rows = con.execute("SELECT version FROM schema_migrations").fetchall()
        assert rows == [(v,) for v in range(1, SCHEMA_VERSION + 1)]
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"sessions", "flags", "comments", "schema_migrations"} <= tables
    finally:
        con.close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    Store(tmp_path / "d").close()
    con = sqlite3.connect(tmp_path / "d" / "formcheck.db")
    con.execute("INSERT INTO schema_migrations VALUES (?, 'from the future', '2099-01-01 00:00:00')",
                (SCHEMA_VERSION + 1,))
    con.commit()
    con.close()
    with pytest.raises(StoreError, match="newer than this formcheck"):
        Store(tmp_path / "d")


def test_data_dir_and_database_url_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FORMCHECK_DATA_DIR", str(tmp_path / "files"))
    monkeypatch.setenv("FORMCHECK_DB_URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    store = Store.from_env()
    s = store.save_analysis(make_report())
    assert store.data_dir == tmp_path / "files" and s.dir.parent == tmp_path / "files" / "sessions"
    assert (tmp_path / "elsewhere.db").is_file() and not (tmp_path / "files" / "formcheck.db").exists()
    store.close()
    monkeypatch.setenv("FORMCHECK_DB_URL", "not a url")
    with pytest.raises(StoreError, match="database URL"):
        Store.from_env()


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("  Sam  ", "Sam"),
        ("Ann\nMarie\t Lee", "Ann Marie Lee"),
        ("x\x00y\x1b[31m", "x y [31m"),
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),
        ("é" * 100, "é" * 80),
        (None, ""),
    ],
    ids=["strip", "whitespace", "control-chars", "markup-kept-as-text", "capped", "none"],
)
def test_clean_athlete(raw: str | None, expected: str) -> None:
    assert clean_athlete(raw) == expected


@pytest.mark.parametrize(
    "changes, message",
    [
        ({"id": "../../etc"}, "32-hex session id"),
        ({"source_kind": "camera"}, "source_kind"),
        ({"rep_count": -1}, "rep_count"),
    ],
    ids=["bad-id", "bad-kind", "negative-reps"],
)
def test_session_record_validated(store: Store, changes: dict[str, Any], message: str) -> None:
    s = store.save_analysis(make_report())
    fields = {k: getattr(s, k) for k in SessionRecord.__dataclass_fields__}
    with pytest.raises(StoreError, match=message):
        SessionRecord(**{**fields, **changes})


@pytest.mark.parametrize(
    "changes, message",
    [({"code": "bad_knees"}, "fault code"), ({"severity": "fatal"}, "severity"),
     ({"review_status": "maybe"}, "review_status"), ({"rep": 0}, "1-based rep")],
    ids=["code", "severity", "status", "rep"],
)
def test_flag_record_validated(store: Store, changes: dict[str, Any], message: str) -> None:
    store.save_analysis(make_report(flags=[(1, "shallow_depth", "minor")]))
    f = store.review_queue()[0]
    fields = {k: getattr(f, k) for k in FlagRecord.__dataclass_fields__}
    with pytest.raises(StoreError, match=message):
        FlagRecord(**{**fields, **changes})


# --------------------------------------------------------------------------- saving


def test_save_and_read_back(store: Store, tmp_path: Path) -> None:
    video = tmp_path / "annotated.mp4"
    video.write_bytes(b"not really a video")
    report = make_report(flags=[(2, "excessive_forward_lean", "major"), (3, "shallow_depth", "minor")], athlete="Ann")
    s = store.save_analysis(report, video_path=video, files=_files(tmp_path), source_kind="sample",
                            source_name="../../etc/passwd", analysis_key="k1")
    assert (s.athlete, s.lift, s.rep_count, s.flag_count, s.source_kind) == ("Ann", "squat", 3, 2, "sample")
    assert s.source_name == "../../etc/passwd"  # kept as text only
    assert s.dir == store.sessions_dir / s.id
    assert sorted(p.name for p in s.dir.iterdir()) == ["csv.csv", "report.json", "video.mp4",
                                                       "worst_1_rounded_back.png"]
    assert s.file("video").read_bytes() == b"not really a video"
    assert video.exists(), "copied, not moved"
    assert json.loads(s.file("json").read_text())["athlete"] == "Ann"
    assert store.get_session(s.id) == s
    assert store.find_session("k1", "Ann") == s
    assert store.find_session("k1", "Bob") is None
    assert store.list_sessions(athlete="Ann") == [s]
    assert store.athletes() == ["Ann"]
    assert [(f.rep, f.code, f.review_status, f.origin) for f in store.flags_for_session(s.id)] == [
        (2, "excessive_forward_lean", "pending", "auto"), (3, "shallow_depth", "pending", "auto")]


def test_save_moves_files_and_saves_pose(store: Store, tmp_path: Path) -> None:
    from support.seq_factory import make_seq, uniform_t_ms

    seq = make_seq(uniform_t_ms(10, fps=30.0), {})
    files = _files(tmp_path)
    s = store.save_analysis(make_report().to_dict(), pose=seq, files=files, source_kind="live", move=True)
    assert not any(p.exists() for p in files.values())
    assert s.file("pose").name == "pose.npz"
    from formcheck.sequence import PoseSequence

    assert PoseSequence.load(s.file("pose")).n_frames == 10


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"files": {"../x": "FILE"}}, "file key"),
        ({"files": {"csv": "/no/such/file.csv"}}, "existing file"),
        ({"source_kind": "webcam"}, "source_kind"),
        ({"report": {"status": "ok"}}, "schema_version"),
    ],
    ids=["path-in-key", "missing-file", "bad-kind", "invalid-report"],
)
def test_save_rejects_bad_input_and_keeps_nothing(store: Store, tmp_path: Path, kwargs: dict[str, Any],
                                                  message: str) -> None:
    kwargs = dict(kwargs)  # the parameter's dict is shared by the SQLite and PostgreSQL runs
    f = tmp_path / "f.csv"
    f.write_text("x")
    if "files" in kwargs:
        kwargs["files"] = {k: (f if v == "FILE" else v) for k, v in kwargs["files"].items()}
    report = kwargs.pop("report", make_report())
    with pytest.raises(StoreError, match=message):
        store.save_analysis(report, **kwargs)
    assert store.list_sessions() == []
    assert list(store.sessions_dir.iterdir()) == []
    assert list((store.data_dir / ".staging").iterdir()) == []


@pytest.mark.parametrize(
    "move, kept", [(True, False), (False, True)], ids=["moved", "copied"],
)
def test_attach_files_adds_to_a_stored_session(store: Store, tmp_path: Path, move: bool, kept: bool) -> None:
    s = store.save_analysis(make_report(), files=_files(tmp_path))
    assert s.file("video") is None
    video = tmp_path / "annotated.mp4"
    video.write_bytes(b"video bytes")
    after = store.attach_files(s.id, {"video": video}, move=move)
    assert after.file("video").read_bytes() == b"video bytes" and after.file("video").name == "video.mp4"
    assert after.file("csv") is not None and after.file("worst_1_rounded_back") is not None, "earlier files kept"
    assert store.get_session(s.id).file("video") == after.file("video")
    assert video.exists() == kept
    assert oct(after.file("video").stat().st_mode & 0o777) == oct(FILE_MODE)
    assert not [p.name for p in s.dir.iterdir() if p.name.startswith(".")], "no temporary file left"
    again = tmp_path / "again.mp4"
    again.write_bytes(b"second")
    assert store.attach_files(s.id, {"video": again}).file("video").read_bytes() == b"second", "a key is replaced"


@pytest.mark.parametrize(
    "session, files, message",
    [
        ("unknown", {"video": "FILE"}, "no session"),
        ("stored", {"../video": "FILE"}, "file key"),
        ("stored", {"video": "/no/such/file.mp4"}, "existing file"),
    ],
    ids=["unknown-session", "path-in-key", "missing-file"],
)
def test_attach_files_rejects_bad_input_and_adds_nothing(store: Store, tmp_path: Path, session: str,
                                                         files: dict[str, str], message: str) -> None:
    s = store.save_analysis(make_report())
    f = tmp_path / "f.mp4"
    f.write_bytes(b"x")
    sid = s.id if session == "stored" else "0" * 32
    with pytest.raises(StoreError, match=message):
        store.attach_files(sid, {k: (f if v == "FILE" else v) for k, v in files.items()})
    assert sorted(store.get_session(s.id).files) == sorted(s.files)
    assert sorted(p.name for p in s.dir.iterdir()) == sorted(p.name for p in s.files.values())


# --------------------------------------------------------------------------- review state


@pytest.mark.parametrize(
    "actions, expected",
    [
        ([{"status": "confirmed"}], ("confirmed", "major", True)),
        ([{"status": "dismissed"}], ("dismissed", "major", True)),
        ([{"severity": "minor"}], ("pending", "minor", False)),
        ([{"status": "confirmed"}, {"status": "pending"}], ("pending", "major", True)),
        ([{"status": "dismissed", "severity": "minor"}], ("dismissed", "minor", True)),
    ],
    ids=["confirm", "dismiss", "severity-only", "confirm-then-reset", "dismiss-and-downgrade"],
)
def test_review_actions_persist(tmp_path: Path, actions: list[dict[str, str]], expected: tuple[str, str, bool]) -> None:
    store = Store(tmp_path / "d")
    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")]))
    fid = store.review_queue()[0].id
    for a in actions:
        store.set_review(fid, **a)
    store.close()
    again = Store(tmp_path / "d")  # a fresh store sees what was committed
    f = again.get_flag(fid)
    assert (f.review_status, f.severity, again.get_session(s.id).reviewed_at is not None) == expected
    assert f.auto_severity == "major"


def test_comments_and_missed_faults(store: Store) -> None:
    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")], athlete="Ann"))
    fid = store.review_queue()[0].id
    store.add_comment(fid, "  lumbar flexion at the bottom \x00 ")
    store.add_comment(fid, "second look: yes")
    assert [c.text for c in store.get_flag(fid).comments] == ["lumbar flexion at the bottom", "second look: yes"]
    m = store.add_missed_fault(s.id, 2, "heels_lift", severity="major", comment="heels up at the bottom")
    assert (m.rep, m.code, m.origin, m.review_status, m.severity, m.auto_severity, m.measured) == (
        2, "heels_lift", "coach", "confirmed", "major", None, None)
    assert m.t_ms == 5200.0
    assert [c.text for c in m.comments] == ["heels up at the bottom"]


@pytest.mark.parametrize(
    "rep, code, message",
    [(9, "heels_lift", "rep: expected"), (1, "bar_drift", "judged for a squat"), (1, "rounded_back", "already has"),
     (1, "not_a_fault", "judged for a squat")],
    ids=["rep-out-of-range", "code-not-for-lift", "duplicate", "unknown-code"],
)
def test_missed_fault_rejected(store: Store, rep: int, code: str, message: str) -> None:
    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")]))
    with pytest.raises(StoreError, match=message):
        store.add_missed_fault(s.id, rep, code)
    assert len(store.flags_for_session(s.id)) == 1


@pytest.mark.parametrize(
    "call, message",
    [(lambda st: st.set_review(999, status="confirmed"), "no flag"),
     (lambda st: st.set_review(1, status="maybe"), "status"),
     (lambda st: st.add_comment(1, "   "), "empty comment"),
     (lambda st: st.mark_session_reviewed("f" * 32), "no session")],
    ids=["unknown-flag", "bad-status", "empty-comment", "unknown-session"],
)
def test_review_errors(store: Store, call: Any, message: str) -> None:
    store.save_analysis(make_report(flags=[(1, "rounded_back", "major")]))
    with pytest.raises(StoreError, match=message):
        call(store)


def test_queue_filters_and_order(store: Store) -> None:
    a = store.save_analysis(make_report(flags=[(1, "rounded_back", "minor"), (2, "shallow_depth", "major")],
                                        athlete="Ann"))
    time.sleep(0.01)
    b = store.save_analysis(make_report(lift="deadlift", flags=[(1, "bar_drift", "minor")], athlete="Bob"))
    q = store.review_queue()
    assert [(f.session_id, f.code) for f in q] == [(b.id, "bar_drift"), (a.id, "rounded_back"), (a.id, "shallow_depth")]
    assert [f.code for f in store.review_queue(order="severity")] == ["shallow_depth", "bar_drift", "rounded_back"]
    assert [f.code for f in store.review_queue(athlete="Ann")] == ["rounded_back", "shallow_depth"]
    assert [f.code for f in store.review_queue(lift="deadlift")] == ["bar_drift"]
    assert [f.code for f in store.review_queue(code="shallow_depth")] == ["shallow_depth"]
    store.set_review(q[0].id, status="dismissed")
    assert [f.code for f in store.review_queue()] == ["rounded_back", "shallow_depth"]
    assert [f.code for f in store.review_queue(status="dismissed")] == ["bar_drift"]
    assert len(store.review_queue(status=None)) == 3


def test_history_counts_reviewed_faults(store: Store) -> None:
    store.save_analysis(make_report(flags=[(1, "rounded_back", "major"), (2, "rounded_back", "minor"),
                                           (3, "shallow_depth", "minor")], athlete="Ann"))
    time.sleep(0.01)
    s2 = store.save_analysis(make_report(n_reps=4, flags=[(1, "rounded_back", "major")], athlete="Ann"))
    store.set_review(store.flags_for_session(s2.id)[0].id, status="dismissed")
    store.add_missed_fault(s2.id, 4, "heels_lift")
    h = store.athlete_history("Ann")
    assert [p.session_id for p in h][1] == s2.id
    assert h[0].fault_reps == {"rounded_back": 2, "shallow_depth": 1} and h[0].pending == 3
    assert h[1].fault_reps == {"heels_lift": 1} and h[1].pending == 0
    assert h[0].rate("rounded_back") == pytest.approx(2 / 3)
    assert h[1].rate("rounded_back") == 0.0


# --------------------------------------------------------------------------- export


def test_export_labels_format(store: Store) -> None:
    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major"), (2, "shallow_depth", "minor"),
                                               (3, "heels_lift", "minor")], athlete="Ann"),
                            source_name="ann_squat.mp4")
    unreviewed = store.save_analysis(make_report(flags=[(1, "rounded_back", "minor")]))
    fl = {f.code: f for f in store.flags_for_session(s.id)}
    store.set_review(fl["rounded_back"].id, status="confirmed")
    store.set_review(fl["shallow_depth"].id, status="dismissed")
    store.add_missed_fault(s.id, 3, "excessive_forward_lean")
    store.add_comment(fl["rounded_back"].id, "clear flexion")
    labels = store.export_labels()
    assert [e["session_id"] for e in labels] == [s.id], "sessions without any review are left out"
    assert unreviewed.id not in json.dumps(labels)
    e = labels[0]
    assert e["file"] == "ann_squat.mp4" and e["lift"] == "squat" and e["view"] == "side" and e["usable"] is True
    assert e["rep_count"] == len(e["reps"]) == 3
    assert e["reps"][0]["start_s"] == 1.0 and e["reps"][0]["bottom_s"] == 2.2 and e["reps"][0]["end_s"] == 3.5
    for entry in [e, *e["reps"]]:
        assert list(entry["faults"]) == list(FAULT_CODES), "exactly the 10 codes, in the labels' order"
    r1, r2, r3 = (r["faults"] for r in e["reps"])
    assert r1["rounded_back"] == "yes"                     # confirmed
    assert r2["shallow_depth"] == "no"                     # dismissed
    assert r3["heels_lift"] == "unsure"                    # not reviewed
    assert r3["excessive_forward_lean"] == "yes"           # missed fault added
    assert r1["bar_drift"] == r1["hips_too_low_start"] == "n/a"  # not judged for a squat
    assert r1["knee_cave"] == "n/a"                        # not assessable from the side
    assert r1["shallow_depth"] == "unsure"                 # judged clear, session not fully reviewed
    assert e["faults"]["rounded_back"] == "yes" and e["faults"]["heels_lift"] == "unsure"
    assert e["faults"]["shallow_depth"] == "unsure" and e["faults"]["bar_drift"] == "n/a"
    assert "clear flexion" in e["notes"]

    store.set_review(fl["heels_lift"].id, status="confirmed")  # nothing pending: session reviewed
    r1 = store.export_labels()[0]["reps"][0]["faults"]
    assert r1["shallow_depth"] == "no" and r1["heels_lift"] == "no"
    csv_text = store.export_flags_csv()
    lines = csv_text.strip().splitlines()
    assert lines[0].startswith("session_id,file,athlete,lift,view,rep,start_s,bottom_s,end_s,code,origin,review_status,label")
    assert len(lines) == 1 + 4
    assert any(",rounded_back,auto,confirmed,yes," in line and "clear flexion" in line for line in lines)
    assert any(",excessive_forward_lean,coach,confirmed,yes," in line for line in lines)


def test_export_matches_evaluate_reader(store: Store) -> None:
    """The export is read by formcheck.evaluate like the hand labels."""
    from formcheck.evaluate import ClipOutcome, evaluate

    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")]))
    store.set_review(store.flags_for_session(s.id)[0].id, status="confirmed")
    label = store.export_labels()[0]
    summary = evaluate([ClipOutcome(label=label, report=s.report)])
    assert summary.rep_exact == 1
    assert summary.rep_level["rounded_back"].tp == 1


# --------------------------------------------------------------------------- crashes and concurrency

_WRITER = textwrap.dedent(
    """
    import os, sys, time
    sys.path[:0] = [{repo!r}, {tests!r}]
    from formcheck import storage
    from test_storage import make_report

    data_dir, mode = sys.argv[1], sys.argv[2]

    class PausingStore(storage.Store):
        def _insert_session_rows(self, conn, row, flag_rows):
            super()._insert_session_rows(conn, row, flag_rows)
            if mode == "pause-in-transaction":
                print("IN_TX", row["id"], flush=True)
                time.sleep(600)

    if mode == "pause-while-copying":
        real_place = storage._place
        def slow_place(src, dst, *, move):
            real_place(src, dst, move=move)
            print("COPYING", dst.parent.name, flush=True)
            time.sleep(600)
        storage._place = slow_place

    store = PausingStore(data_dir)
    src = os.path.join(data_dir, "..", "in.csv")
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    for i in range(n):
        s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major"), (2, "shallow_depth", "minor")],
                                            athlete=sys.argv[4] if len(sys.argv) > 4 else "w"),
                                files={{"csv": src}})
        if len(sys.argv) > 4:
            store.set_review(store.flags_for_session(s.id)[0].id, status="confirmed")
        print("COMMITTED", s.id, flush=True)
    """
)


@pytest.fixture()
def writer_script(tmp_path: Path) -> Path:
    p = tmp_path / "writer.py"
    p.write_text(_WRITER.format(repo=str(REPO), tests=str(REPO / "tests")))
    (tmp_path / "in.csv").write_text("frame,t_ms\n0,0\n")
    return p


def _start_writer(script: Path, data_dir: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, str(script), str(data_dir), *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def _wait_for(proc: subprocess.Popen[str], prefix: str, timeout: float = 60.0) -> list[str]:
    """Lines of the writer's stdout up to the first one starting with ``prefix``."""
    lines: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            pytest.fail(f"writer ended before {prefix}: {proc.stderr.read()}")
        lines.append(line.strip())
        if line.startswith(prefix):
            return lines
    pytest.fail(f"no {prefix} from the writer within {timeout} s")


def _check_consistent(data_dir: Path) -> Store:
    con = sqlite3.connect(data_dir / "formcheck.db")
    try:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        for sid, n in con.execute("SELECT id, flag_count FROM sessions"):
            assert con.execute("SELECT COUNT(*) FROM flags WHERE session_id = ?", (sid,)).fetchone()[0] == n
    finally:
        con.close()
    store = Store(data_dir)
    for s in store.list_sessions():
        assert s.file("json") is not None, "a visible session has its report"
        assert all(p.is_file() for p in s.files.values()), "and every file it lists"
    return store


@pytest.mark.parametrize("mode", ["pause-in-transaction", "pause-while-copying"])
def test_kill_mid_write_keeps_committed_and_hides_partial(tmp_path: Path, writer_script: Path, mode: str) -> None:
    data = tmp_path / "data"
    store = Store(data)
    kept = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")], athlete="Ann"))
    store.set_review(store.review_queue()[0].id, status="confirmed")
    store.close()

    proc = _start_writer(writer_script, data, mode)
    try:
        line = _wait_for(proc, "IN_TX" if mode == "pause-in-transaction" else "COPYING")[-1]
        partial_id = line.split()[1]
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL

    store = _check_consistent(data)
    assert [s.id for s in store.list_sessions()] == [kept.id]
    assert store.get_session(partial_id) is None
    assert store.get_flag(store.flags_for_session(kept.id)[0].id).review_status == "confirmed"
    leftovers = [p.name for p in store.remove_leftovers(older_than_s=0)]
    assert leftovers == [partial_id]
    assert sorted(p.name for p in store.sessions_dir.iterdir()) == [kept.id]
    # the store still takes writes after the crash
    store.save_analysis(make_report())
    assert len(store.list_sessions()) == 2


def test_kill_during_a_stream_of_writes(tmp_path: Path, writer_script: Path) -> None:
    data = tmp_path / "data"
    Store(data).close()
    proc = _start_writer(writer_script, data, "loop", "1000")
    committed: list[str] = []
    try:
        for _ in range(8):
            committed.append(_wait_for(proc, "COMMITTED")[-1].split()[1])
        time.sleep(0.05)  # land somewhere in the middle of a later write
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
    store = _check_consistent(data)
    visible = {s.id for s in store.list_sessions()}
    assert set(committed) <= visible, "every session reported committed is there"


def test_two_writer_processes(tmp_path: Path, writer_script: Path) -> None:
    data = tmp_path / "data"
    Store(data).close()
    procs = [_start_writer(writer_script, data, "loop", "12", name) for name in ("Ann", "Bob")]
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err
        outs.append([line.split()[1] for line in out.splitlines() if line.startswith("COMMITTED")])
    store = _check_consistent(data)
    assert [len(o) for o in outs] == [12, 12]
    assert {s.id for s in store.list_sessions()} == set(outs[0]) | set(outs[1])
    for name in ("Ann", "Bob"):
        assert len(store.review_queue(athlete=name, status="confirmed")) == 12
        assert len(store.review_queue(athlete=name, status="pending")) == 12


# --------------------------------------------------------------------------- every review action exported


@pytest.mark.parametrize(
    "action, check",
    [
        (lambda st, f: st.set_review(f.id, severity="minor"),
         lambda e, row: e["review"][0]["severity"] == "minor" and e["review"][0]["auto_severity"] == "major"
         and row["severity"] == "minor" and row["auto_severity"] == "major" and row["review_status"] == "pending"),
        (lambda st, f: st.add_comment(f.id, "look at the hips"),
         lambda e, row: e["review"][0]["comments"][0]["text"] == "look at the hips" and "look at the hips" in e["notes"]
         and row["comments"] == "look at the hips"),
        (lambda st, f: st.set_review(f.id, status="confirmed"),
         lambda e, row: e["reps"][0]["faults"]["rounded_back"] == "yes" and row["label"] == "yes"),
        (lambda st, f: st.set_review(f.id, status="dismissed"),
         lambda e, row: e["reps"][0]["faults"]["rounded_back"] == "no" and row["label"] == "no"),
        (lambda st, f: st.add_missed_fault(f.session_id, 3, "heels_lift"),
         lambda e, row: e["reps"][2]["faults"]["heels_lift"] == "yes"
         and any(r["code"] == "heels_lift" and r["origin"] == "coach" for r in e["review"])),
    ],
    ids=["severity-change-only", "comment-only", "confirm", "dismiss", "added-fault"],
)
def test_every_review_action_reaches_both_exports(store: Store, action: Any, check: Any) -> None:
    import csv as csv_mod
    import io

    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")]))
    other = store.save_analysis(make_report(flags=[(2, "shallow_depth", "minor")]))  # untouched: left out
    assert store.export_labels() == [] and len(store.export_flags_csv().splitlines()) == 1
    action(store, store.flags_for_session(s.id)[0])
    labels = store.export_labels()
    assert [e["session_id"] for e in labels] == [s.id]
    rows = list(csv_mod.DictReader(io.StringIO(store.export_flags_csv())))
    assert {r["session_id"] for r in rows} == {s.id} and other.id not in json.dumps(labels)
    assert check(labels[0], next(r for r in rows if r["code"] == "rounded_back"))
    assert len(store.export_labels(reviewed_only=False)) == 2


def test_clean_session_with_an_added_fault_is_exported(store: Store) -> None:
    s = store.save_analysis(make_report(flags=[]))
    store.add_missed_fault(s.id, 2, "shallow_depth", comment="above parallel")
    (e,) = store.export_labels()
    assert e["reps"][1]["faults"]["shallow_depth"] == "yes" and e["reps"][0]["faults"]["shallow_depth"] == "no"
    assert "above parallel" in store.export_flags_csv()


EVIL_CELLS = ["=HYPERLINK(\"http://e.vil\")", "+1+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx"]


def test_csv_export_guards_formula_cells(store: Store) -> None:
    import csv as csv_mod
    import io

    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")]), athlete=EVIL_CELLS[0],
                            source_name=EVIL_CELLS[3])
    fid = store.flags_for_session(s.id)[0].id
    store.add_comment(fid, EVIL_CELLS[1])
    rows = list(csv_mod.reader(io.StringIO(store.export_flags_csv())))
    for cell in (c for row in rows for c in row):
        assert not cell.startswith(("=", "+", "@", "\t", "\r")), cell
        assert not cell.startswith("-") or float(cell) < 0, cell
    row = dict(zip(rows[0], rows[1]))
    assert row["athlete"] == "'" + EVIL_CELLS[0] and row["file"] == "'" + EVIL_CELLS[3]
    assert row["comments"] == "'" + EVIL_CELLS[1]


@pytest.mark.parametrize(
    "value, written",
    [*[(v, "'" + v) for v in EVIL_CELLS],
     ("-12.5", "-12.5"), ("+3", "+3"), ("-1e-05", "-1e-05"), (-4.0, -4.0), (7, 7), (None, None),
     ("plain", "plain"), ("a=b", "a=b"), ("", "")],
    ids=["equals", "plus", "minus-formula", "at", "tab", "cr", "negative-number", "plus-number", "exponent",
         "float", "int", "none", "text", "equals-inside", "empty"],
)
def test_safe_cell(value: Any, written: Any) -> None:
    from formcheck.csvsafe import safe_cell

    assert safe_cell(value) == written


def test_every_csv_writer_uses_the_guard() -> None:
    """No module writes CSV except through formcheck.csvsafe (one helper, every writer)."""
    offenders = [str(p.relative_to(REPO)) for p in sorted(REPO.rglob("*.py"))
                 if ".venv" not in p.parts and p.name != "csvsafe.py" and "tests" not in p.parts
                 and ("csv.writer(" in p.read_text(encoding="utf-8", errors="replace")
                      or "csv.DictWriter(" in p.read_text(encoding="utf-8", errors="replace"))]
    assert offenders == []


def test_history_counts_follow_the_reviews(store: Store) -> None:
    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major"), (2, "shallow_depth", "minor")],
                                        athlete="Ann"))
    fl = store.flags_for_session(s.id)
    h = store.athlete_history("Ann")[0]
    assert (h.pending, h.confirmed, h.dismissed) == (2, 0, 0)
    store.set_review(fl[0].id, status="dismissed")
    store.add_missed_fault(s.id, 3, "heels_lift")
    h = store.athlete_history("Ann")[0]
    assert (h.pending, h.confirmed, h.dismissed) == (1, 1, 1)
    assert store.review_counts([s.id]) == {s.id: {"pending": 1, "confirmed": 1, "dismissed": 1}}


# --------------------------------------------------------------------------- every rep reviewable


def test_rep_queue_lists_clean_reps_and_sessions(store: Store) -> None:
    from datetime import date, timedelta

    clean = store.save_analysis(make_report(n_reps=2, flags=[], athlete="Ann"))
    time.sleep(0.01)
    flagged = store.save_analysis(make_report(n_reps=3, flags=[(2, "rounded_back", "major")], athlete="Bob"))
    every = [(i.session.id, i.rep, [f.code for f in i.flags]) for i in store.rep_queue()]
    assert every == [(flagged.id, 1, []), (flagged.id, 2, ["rounded_back"]), (flagged.id, 3, []),
                     (clean.id, 1, []), (clean.id, 2, [])]
    assert len(store.rep_queue(scope="unreviewed")) == 5, "nobody reviewed anything yet"
    assert [(i.session.id, i.rep) for i in store.rep_queue(code="rounded_back")] == [(flagged.id, 2)]
    assert [i.session.id for i in store.rep_queue(athlete="Ann")] == [clean.id] * 2
    today = date.today()
    assert len(store.rep_queue(since=today, until=today)) == 5
    assert store.rep_queue(until=today - timedelta(days=1)) == []
    assert store.rep_queue(since=today + timedelta(days=1)) == []

    store.mark_session_reviewed(clean.id)  # looked at the clean clip: nothing to add
    store.set_review(store.flags_for_session(flagged.id)[0].id, status="confirmed")
    assert store.rep_queue(scope="unreviewed") == []
    store.set_review(store.flags_for_session(flagged.id)[0].id, status="pending")
    assert [(i.session.id, i.rep) for i in store.rep_queue(scope="unreviewed")] == [(flagged.id, 2)]


def test_missed_fault_on_a_clean_session(store: Store) -> None:
    s = store.save_analysis(make_report(n_reps=2, flags=[]))
    assert store.review_queue(status=None) == [], "no flag, so the flag queue is empty"
    m = store.add_missed_fault(s.id, 1, "rounded_back", severity="major", comment="flexed at the bottom")
    item = store.rep_queue()[0]
    assert [f.id for f in item.flags] == [m.id] and item.reviewed
    assert store.get_session(s.id).reviewed_at is not None
    assert store.export_labels()[0]["reps"][0]["faults"]["rounded_back"] == "yes"


def test_rep_queue_rejects_a_bad_scope(store: Store) -> None:
    with pytest.raises(StoreError, match="scope in"):
        store.rep_queue(scope="flagged")


# --------------------------------------------------------------------------- deleting a session


def test_delete_session_removes_files_and_rows(store: Store, tmp_path: Path) -> None:
    video = tmp_path / "in.mp4"
    video.write_bytes(b"not really a video")
    gone = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")], athlete="Ann"),
                               video_path=video, original_path=video, files=_files(tmp_path))
    kept = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")], athlete="Ann"), files=_files(tmp_path))
    fid = store.flags_for_session(gone.id)[0].id
    store.add_comment(fid, "flexion")
    store.add_missed_fault(gone.id, 2, "heels_lift")
    store.rep_clip_path(gone, 1).write_bytes(b"clip cut later by the app")
    assert gone.file("video") and gone.file("original") and gone.file("csv")

    store.delete_session(gone.id)
    assert not gone.dir.exists() and not any((store.data_dir / ".staging").iterdir())
    assert store.get_session(gone.id) is None and store.flags_for_session(gone.id) == []
    with store._engine.connect() as con:  # the rows themselves, on either database
        assert con.exec_driver_sql(f"SELECT count(*) FROM sessions WHERE id = '{gone.id}'").scalar() == 0
        assert con.exec_driver_sql(f"SELECT count(*) FROM flags WHERE session_id = '{gone.id}'").scalar() == 0
        assert con.exec_driver_sql(f"SELECT count(*) FROM comments WHERE flag_id = {int(fid)}").scalar() == 0
    assert [s.id for s in store.list_sessions()] == [kept.id] and kept.file("csv") is not None
    assert len(store.flags_for_session(kept.id)) == 1
    assert store.athlete_history("Ann")[0].session_id == kept.id


@pytest.mark.parametrize("sid", ["f" * 32, "../etc", ""], ids=["unknown", "path", "empty"])
def test_delete_unknown_session(store: Store, sid: str) -> None:
    store.save_analysis(make_report())
    with pytest.raises(StoreError, match="no session"):
        store.delete_session(sid)
    assert len(store.list_sessions()) == 1


def test_version_1_database_upgrades_in_place(tmp_path: Path) -> None:
    """A database made before the jobs table (schema 1) keeps its sessions and gains the table."""
    old = Store(tmp_path / "d")
    s = old.save_analysis(make_report(flags=[(1, "rounded_back", "major")]))
    old.set_review(old.flags_for_session(s.id)[0].id, status="confirmed")
    old.close()
    con = sqlite3.connect(tmp_path / "d" / "formcheck.db")
    con.execute("DROP TABLE alembic_version")  # the hand-written runner of version 1 knew no Alembic
    con.execute("DROP TABLE jobs")
    con.execute("DELETE FROM schema_migrations WHERE version > 1")
    con.commit()
    con.close()
    upgraded = Store(tmp_path / "d")
    assert upgraded.schema_version() == SCHEMA_VERSION
    assert upgraded.get_session(s.id) is not None
    assert upgraded.flags_for_session(s.id)[0].review_status == "confirmed"
    upgraded.record_job("f" * 32, owner="x", source_name="c.mp4", source_kind="upload", request={})
    assert upgraded.get_job("f" * 32).state == "queued"


def _as_version_2(db: Path) -> None:
    """Turn a database into what schema 2 made: comments without t_ms, migrations 1-2 recorded, no Alembic."""
    con = sqlite3.connect(db)
    con.executescript("""
        CREATE TABLE comments_v2 (id INTEGER PRIMARY KEY AUTOINCREMENT, flag_id INTEGER NOT NULL
            REFERENCES flags(id) ON DELETE CASCADE, text TEXT NOT NULL, created_at DATETIME NOT NULL);
        INSERT INTO comments_v2 SELECT id, flag_id, text, created_at FROM comments;
        DROP TABLE comments;
        ALTER TABLE comments_v2 RENAME TO comments;
        DELETE FROM schema_migrations WHERE version > 2;
        DROP TABLE alembic_version;  -- the hand-written runner of version 2 knew no Alembic
    """)
    con.commit()
    con.close()


def test_version_2_database_gains_comment_times_in_place(tmp_path: Path) -> None:
    old = Store(tmp_path / "d")
    s = old.save_analysis(make_report(flags=[(1, "rounded_back", "major")]))
    fid = old.flags_for_session(s.id)[0].id
    old.add_comment(fid, "written before times existed")
    old.close()
    _as_version_2(tmp_path / "d" / "formcheck.db")
    con = sqlite3.connect(tmp_path / "d" / "formcheck.db")
    assert "t_ms" not in {r[1] for r in con.execute("PRAGMA table_info(comments)")}
    con.close()
    upgraded = Store(tmp_path / "d")
    assert upgraded.schema_version() == SCHEMA_VERSION
    (c,) = upgraded.get_flag(fid).comments
    assert (c.text, c.t_ms) == ("written before times existed", None)
    f = upgraded.add_comment(fid, "knees in here", t_ms=1500.0)
    assert [(c.text, c.t_ms) for c in f.comments] == [("knees in here", 1500.0),
                                                      ("written before times existed", None)]
    upgraded.close()
    again = Store(tmp_path / "d")  # opening again applies nothing twice
    assert again.schema_version() == SCHEMA_VERSION and len(again.get_flag(fid).comments) == 2


def test_timed_comments_in_time_order_and_in_the_exports(store: Store) -> None:
    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")]))
    fid = store.flags_for_session(s.id)[0].id  # rep 1 spans 1.0-3.5 s
    store.add_comment(fid, "general")
    store.add_comment(fid, "later", t_ms=3000.0)
    store.add_comment(fid, "earlier", t_ms=1250.0)
    f = store.get_flag(fid)
    assert [(c.text, c.t_ms) for c in f.comments] == [("earlier", 1250.0), ("later", 3000.0), ("general", None)]
    (entry,) = store.export_labels()
    assert [(c["text"], c["t_s"]) for c in entry["review"][0]["comments"]] == [
        ("earlier", 1.25), ("later", 3.0), ("general", None)]
    csv_text = store.export_flags_csv()
    assert "[at 1.25 s] earlier | [at 3.00 s] later | general" in csv_text


@pytest.mark.parametrize(
    "t_ms, message",
    [(999.0, "within rep 1 \\(1.00-3.50 s\\), got 1.00 s"), (3600.0, "within rep 1"), (float("nan"), "finite"),
     ("soon", "finite"), (True, "finite")],
    ids=["before-the-rep", "after-the-rep", "nan", "text", "bool"],
)
def test_comment_time_must_be_in_the_rep(store: Store, t_ms: Any, message: str) -> None:
    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")]))
    fid = store.flags_for_session(s.id)[0].id
    with pytest.raises(StoreError, match=message):
        store.add_comment(fid, "x", t_ms=t_ms)
    assert store.get_flag(fid).comments == ()


# --------------------------------------------------------------------------- the job still making a session's video


@pytest.mark.parametrize("state, linked, expected", [
    ("running", True, True),       # the report is stored, the video is being made
    ("queued", True, True),        # a retry that makes the video, linked at once
    ("running", False, False),     # a job not yet at its report: not this session's
    ("done", True, False),
    ("failed", True, False),
    ("interrupted", True, False),  # the server stopped: nobody makes the video
], ids=["running", "queued-retry", "not-linked", "done", "failed", "interrupted"])
def test_video_job_is_the_live_job_linked_to_the_session(store: Store, state: str, linked: bool,
                                                         expected: bool) -> None:
    from formcheck import procs

    s = store.save_analysis(make_report())
    other = store.save_analysis(make_report())
    job_id = "a" * 32
    store.record_job(job_id, owner=procs.owner_token(), source_name="c.mp4", source_kind="upload", request={})
    store.update_job(job_id, state=state, session_id=s.id if linked else None)
    job = store.video_job(s.id)
    assert (job.id if job else None) == (job_id if expected else None)
    assert store.video_job(other.id) is None
    assert store.video_job("not an id") is None
