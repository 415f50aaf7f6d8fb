"""The Streamlit app under AppTest: every page, a real upload, review actions that persist, bad uploads.

One real analysis (a bundled sample, lite model) runs once per test session in the app's
worker process; tests that change review state work on a copy of its data directory.
"""

from __future__ import annotations

import os
import re
import shutil
import time
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator
from unittest import mock

import pytest
from streamlit.testing.v1 import AppTest

from formcheck.storage import Store
from formcheck.video import VideoWriter, iter_frames
from formcheck.worker import AnalysisRequest, JobManager, JobState, analysis_key
from support import make_clips as mc
from test_storage import make_report

REPO = Path(__file__).resolve().parents[1]
APP = str(REPO / "app.py")
SAMPLES = Path(os.environ.get("FORMCHECK_SAMPLES_DIR") or REPO / "sample_videos")
SAMPLE = SAMPLES / "squat_side_faults.mp4"
PAGES = {"analyse": "formcheck/app/pages/analyse.py", "review": "formcheck/app/pages/review.py",
         "history": "formcheck/app/pages/history.py", "live": "formcheck/app/pages/live.py"}
ANALYSIS_TIMEOUT_S = 600
RUN_TIMEOUT_S = 60
EVIL = "**Bo** <img src=x onerror=alert(1)> :violet[pwn] [link](http://e.vil) $x^2$"
#: Pieces of EVIL that must never reach a Markdown-rendering element unescaped.
EVIL_RAW = ("**Bo**", "<img", ":violet[", "](http://e.vil", "$x^2$")


def app(page: str | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S).run()
    if page is not None:
        at.switch_page(PAGES[page]).run()
    return at


def click_analyse(at: AppTest, name: str, data: bytes, *, model: str = "lite", athlete: str = "") -> AppTest:
    """Upload and click Analyse: the run ends once the results are stored (the video may follow)."""
    at.selectbox(key="fc_model").set_value(model)
    at.text_input(key="fc_athlete").set_value(athlete)
    at.file_uploader(key="fc_uploads").set_value((name, data, "video/mp4"))
    at.run()
    return at.button(key="fc_analyse").click().run(timeout=ANALYSIS_TIMEOUT_S)


def followed_jobs(at: AppTest) -> list[str]:
    return list(at.session_state["fc_jobs"]) if "fc_jobs" in at.session_state else []


def until_done(at: AppTest) -> AppTest:
    """Rerun the page until it follows no job (in a browser its timer does this while the video is made)."""
    deadline = time.monotonic() + ANALYSIS_TIMEOUT_S
    while followed_jobs(at):
        assert time.monotonic() < deadline, "the annotated video never came"
        time.sleep(0.25)
        at.run()
    return at


def upload(at: AppTest, name: str, data: bytes, *, model: str = "lite", athlete: str = "") -> AppTest:
    return until_done(click_analyse(at, name, data, model=model, athlete=athlete))


def texts(at: AppTest) -> list[str]:
    """Every Markdown-rendered text on the page (where user text must arrive escaped)."""
    out: list[str] = []
    for kind in ("markdown", "caption", "subheader", "title", "header", "error", "warning", "info", "success"):
        out += [str(e.value) for e in getattr(at, kind)]
    return out


def unescaped(text: str) -> str:
    """``text`` without its Markdown backslash escapes (what could still act as Markdown)."""
    return re.sub(r"\\.", "", text)


def unescaped_md(text: str) -> str:
    """``text`` with its Markdown backslash escapes undone (what the user reads)."""
    return re.sub(r"\\(.)", r"\1", text)


def flag_keys(at: AppTest, prefix: str) -> list[str]:
    return [b.key for b in at.button if b.key and b.key.startswith(prefix)]


#: What the page showed at the end of the Analyse click's run (before the video was ready), by the fixture.
FIRST_RUN: dict[str, Any] = {}


@pytest.fixture(scope="session")
def analysed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, AppTest, float]]:
    """A data dir holding one real analysis of SAMPLE, made by uploading it in the app."""
    assert SAMPLE.is_file(), f"sample clip missing: {SAMPLE}"
    data = tmp_path_factory.mktemp("analysed") / "data"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("FORMCHECK_DATA_DIR", str(data))
        t0 = time.monotonic()
        at = click_analyse(app(), SAMPLE.name, SAMPLE.read_bytes(), athlete="Sam")
        FIRST_RUN.update(metrics={m.label: m.value for m in at.metric}, videos=len(at.get("video")),
                         infos=[str(i.value) for i in at.info], jobs=followed_jobs(at),
                         errors=[str(e.value) for e in at.error])
        at = until_done(at)
        yield data, at, time.monotonic() - t0


@pytest.fixture()
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    monkeypatch.setenv("FORMCHECK_DATA_DIR", str(d))
    return d


@pytest.fixture()
def analysed_copy(analysed: tuple[Path, AppTest, float], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    d = tmp_path / "data"
    shutil.copytree(analysed[0], d)
    monkeypatch.setenv("FORMCHECK_DATA_DIR", str(d))
    return d


# --------------------------------------------------------------------------- empty app


@pytest.mark.parametrize(
    "page, expected",
    [("analyse", "Upload a clip and press"), ("review", "Nothing to review yet"), ("history", "No sessions yet")],
    ids=["analyse", "review", "history"],
)
def test_empty_pages_say_what_to_do(data_dir: Path, page: str, expected: str) -> None:
    at = app(page)
    assert not at.exception
    assert any(expected in t for t in texts(at)), texts(at)


def test_navigation_has_the_four_pages(data_dir: Path) -> None:
    source = Path(APP).read_text()
    for title in ("Analyse", "Review", "History", "Live"):
        assert f'title="{title}"' in source
    for path in PAGES.values():
        assert (REPO / path).is_file()
    at = app()
    assert at.title[0].value == "Analyse a lift"


def test_live_page_opens(data_dir: Path) -> None:
    pytest.importorskip("streamlit_webrtc")
    ctx = SimpleNamespace(state=SimpleNamespace(playing=False), video_processor=None)
    with mock.patch("streamlit_webrtc.webrtc_streamer", return_value=ctx) as streamer:
        at = app("live")
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == "Live"
    assert streamer.called


# --------------------------------------------------------------------------- analysing


def test_upload_shows_results(analysed: tuple[Path, AppTest, float]) -> None:
    data, at, _ = analysed
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Lift"] == "Squat"
    assert int(metrics["Reps"]) >= 3
    assert int(metrics["Flags"]) >= 1
    assert {"Angles over time", "Reps", "Flagged reps", "What to work on", "Downloads"} <= {s.value for s in at.subheader}
    assert len(at.get("video")) >= 1
    assert len(at.get("vega_lite_chart")) == 1
    assert len(at.dataframe) == 1
    assert {b.label for b in at.download_button} == {"JSON report", "Per-frame CSV", "HTML report", "Annotated video"}
    assert len(at.slider) >= 1, "a frame stepper per flagged rep"
    assert any("professional" in w.value or "stop" in w.value.lower() for w in at.warning), "red-flag notice"
    store = Store(data)
    (s,) = store.list_sessions()
    assert (s.athlete, s.source_kind, s.source_name, s.model) == ("Sam", "upload", SAMPLE.name, "lite")
    for name in ("video", "original", "csv", "html", "json", "pose"):
        assert s.file(name) is not None, name
    assert s.report["source"]["file"] == SAMPLE.name
    flagged_reps = {f["rep"] for f in s.report["flags"]}
    assert all(store.rep_clip_path(s, r).is_file() for r in flagged_reps), "slow-motion clips of flagged reps"
    assert list(store.work_dir.iterdir()) == [], "no scratch files left behind"


def test_results_are_shown_before_the_video(analysed: tuple[Path, AppTest, float]) -> None:
    """The click's run ends with the reps and flags on the page while the annotated video is still made."""
    assert not FIRST_RUN["errors"], FIRST_RUN["errors"]
    assert int(FIRST_RUN["metrics"]["Reps"]) >= 3 and int(FIRST_RUN["metrics"]["Flags"]) >= 1
    assert FIRST_RUN["videos"] == 0 and len(FIRST_RUN["jobs"]) == 1, "the video is not there yet: its job is followed"
    assert any("video is being prepared" in i for i in FIRST_RUN["infos"]), FIRST_RUN["infos"]
    assert len(analysed[1].get("video")) >= 1 and followed_jobs(analysed[1]) == [], "then the video comes"


def test_sample_button_frame_stepper_and_slow_motion_loop(analysed_copy: Path) -> None:
    at = app()
    at.text_input(key="fc_athlete").set_value("Sam")
    at.selectbox(key="fc_model").set_value("lite")
    at.button(key=f"fc_sample_{SAMPLE.stem}").click().run(timeout=RUN_TIMEOUT_S)  # one click; cached
    assert not at.exception and not at.error
    assert {m.label for m in at.metric} >= {"Lift", "Reps", "Flags", "View", "Confidence"}
    def stepped() -> list[str]:
        return [c for im in at.image for c in im.captions if c.startswith("frame ")]

    slider = at.slider[0]
    before = stepped()
    assert len(before) == len(at.slider), "each stepper shows its frame"
    slider.set_value(slider.max).run()
    assert not at.exception
    after = stepped()
    assert after[0] != before[0] and after[1:] == before[1:], "only the stepped rep's frame changes"
    def t_s(caption: str) -> float:
        return float(re.search(r" at ([0-9.]+) s", caption).group(1))

    assert t_s(after[0]) > t_s(before[0]), "the last frame of the rep is later than its worst moment"
    toggle = next(t for t in at.toggle if "slow motion" in t.label)
    videos = len(at.get("video"))
    toggle.set_value(True).run()
    assert len(at.get("video")) == videos + 1


def test_rerun_and_repeat_upload_use_the_cache(analysed: tuple[Path, AppTest, float],
                                               analysed_copy: Path) -> None:
    first_seconds = analysed[2]
    at = app()
    t0 = time.monotonic()
    at = upload(at, "renamed.mp4", SAMPLE.read_bytes(), athlete="Sam")
    took = time.monotonic() - t0
    assert not at.exception and not at.error
    assert took < max(20.0, first_seconds / 2), f"cached upload took {took:.1f} s (first: {first_seconds:.1f} s)"
    assert len(Store(analysed_copy).list_sessions()) == 1
    before = [m.value for m in at.metric]
    at.run()  # a plain rerun keeps the results and starts nothing
    assert [m.value for m in at.metric] == before
    assert at.session_state["fc_jobs"] == []


# --------------------------------------------------------------------------- bad uploads


def _no_person_clip(path: Path) -> bytes:
    mc.write_clip(path, n_frames=45, size=(320, 240), fps=15)
    return path.read_bytes()


def _standing_only_clip(path: Path) -> bytes:
    frames = list(iter_frames(SAMPLE, end_ms=900.0))
    with VideoWriter(path, 30.0, (frames[0].width, frames[0].height)) as w:
        for f in frames:
            w.write(f.rgb, t_ms=f.t_ms)
    return path.read_bytes()


@pytest.mark.parametrize(
    "make, env_mb, expected",
    [
        (lambda p: mc.write_text(p).read_bytes(), None, "is not a video formcheck can read"),
        (lambda p: b"", None, "is empty"),
        (lambda p: mc.write_jpeg(p).read_bytes(), None, "is not a video formcheck can read"),
        (lambda p: mc.write_audio_only(p).read_bytes(), None, "is not a video formcheck can read"),
        (lambda p: SAMPLE.read_bytes()[:1500], None, "is not a video formcheck can read"),
        (lambda p: b"\0" * (2 << 20), "1", "more than the 1 MB limit"),
        (_no_person_clip, None, "No person was found"),
        (_standing_only_clip, None, "No complete rep was found"),
    ],
    ids=["text", "empty", "still-image", "audio-only", "truncated-header", "too-big", "no-person", "no-complete-rep"],
)
def test_bad_upload_shows_message_and_stores_nothing(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                     make: Any, env_mb: str | None, expected: str) -> None:
    if env_mb:
        monkeypatch.setenv("FORMCHECK_MAX_UPLOAD_MB", env_mb)
    data = make(tmp_path / "input.mp4")
    at = upload(app(), "my clip.mp4", data)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and expected in errors[0], errors
    assert "my clip" in errors[0] and str(data_dir) not in errors[0], "named as the user knows it, no server path"
    store = Store(data_dir)
    assert store.list_sessions() == []
    assert list(store.sessions_dir.iterdir()) == []
    assert list(store.work_dir.iterdir()) == []
    assert not at.metric, "no results shown"


# --------------------------------------------------------------------------- review and history


def test_review_confirm_persists_across_runs(analysed_copy: Path) -> None:
    at = app("review")
    assert not at.exception
    confirm = flag_keys(at, "confirm-")
    assert confirm, "the queue shows the flagged reps"
    flag_id = int(confirm[0].split("-")[1])
    at.button(key=confirm[0]).click().run()
    assert not at.exception
    assert f"confirm-{flag_id}" not in flag_keys(at, "confirm-"), "gone from the 'to review' queue"

    fresh = app("review")  # a new browser session on the same data dir
    fresh.selectbox(key="rv-status").set_value("confirmed").run()
    assert flag_keys(fresh, "confirm-") == [f"confirm-{flag_id}"]
    assert fresh.button(key=f"confirm-{flag_id}").disabled
    assert Store(analysed_copy).get_flag(flag_id).review_status == "confirmed"


def test_review_dismiss_severity_comment_and_missed_fault(analysed_copy: Path) -> None:
    at = app("review")
    first = int(flag_keys(at, "dismiss-")[0].split("-")[1])
    store = Store(analysed_copy)
    before = store.get_flag(first)
    new_sev = "minor" if before.severity == "major" else "major"
    at.button_group(key=f"sev-{first}-{before.severity}").set_value(new_sev).run()
    at.text_input(key=f"comment-{first}").set_value(f"coach says {EVIL}").run()
    at.button(key=f"dismiss-{first}").click().run()
    assert not at.exception
    f = store.get_flag(first)
    assert (f.review_status, f.severity, f.auto_severity) == ("dismissed", new_sev, before.severity)
    assert [c.text for c in f.comments] == [f"coach says {EVIL}"]

    session = store.get_session(f.session_id)
    rep = f.rep
    flagged_here = {x.code for x in store.flags_for_session(session.id) if x.rep == rep}
    missing = next(c for c in store.judged_codes(session) if c not in flagged_here)
    key = f"missed-{session.id[:12]}-{rep}"
    at = app("review")
    at.selectbox(key="rv-status").set_value("(all)").run()  # the rep may have nothing left to review
    at.selectbox(key=f"{key}-code").set_value(missing).run()
    at.button(key=f"{key}-add").click().run()
    assert not at.exception
    added = [x for x in store.flags_for_session(session.id) if x.origin == "coach"]
    assert [(x.rep, x.code, x.review_status) for x in added] == [(rep, missing, "confirmed")]

    fresh = app("review")
    fresh.selectbox(key="rv-status").set_value("(all)").run()
    shown = texts(fresh)
    assert any("coach says" in t for t in shown), "the comment is shown after a fresh start"
    assert not any(raw in unescaped(t) for t in shown for raw in EVIL_RAW), "and escaped"
    assert fresh.button(key=f"dismiss-{first}").disabled, "still dismissed"


def test_history_shows_sessions_and_trend(analysed_copy: Path) -> None:
    at = app("history")
    assert not at.exception
    assert at.selectbox(key="hist-athlete").value == "Sam"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Sessions"] == "1" and int(metrics["Reps analysed"]) >= 3
    assert len(at.get("vega_lite_chart")) >= 2, "fault trend and the session's angle chart"
    assert len(at.dataframe) >= 1
    assert "Flagged reps" in {s.value for s in at.subheader}, "the session's results below"


def test_export_downloads_after_review(analysed_copy: Path) -> None:
    store = Store(analysed_copy)
    f = store.review_queue()[0]
    store.set_review(f.id, status="confirmed")
    at = app("review")
    labels = {b.label: b for b in at.download_button}
    assert not labels["labels.json"].disabled and not labels["flags.csv"].disabled
    entry = store.export_labels()[0]
    assert entry["file"] == SAMPLE.name
    rep = next(r for r in entry["reps"] if abs(r["start_s"] * 1000 - store.get_session(f.session_id).rep(f.rep)["start_ms"]) < 10)
    assert rep["faults"][f.code] == "yes"


# --------------------------------------------------------------------------- escaping and errors


def test_user_text_is_escaped_everywhere(data_dir: Path, tmp_path: Path) -> None:
    store = Store(data_dir)
    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")], athlete=EVIL), source_name=EVIL)
    store.add_comment(store.flags_for_session(s.id)[0].id, EVIL)
    for page in ("review", "history"):
        at = app(page)
        assert not at.exception
        shown = texts(at)
        assert any("Bo" in t for t in shown), f"{page} shows the name"
        bad = [t for t in shown if any(raw in unescaped(t) for raw in EVIL_RAW)]
        assert not bad, f"{page}: unescaped user text in {bad}"


def test_unexpected_error_shows_no_traceback(analysed_copy: Path) -> None:
    with mock.patch("formcheck.storage.Store.review_queue", side_effect=RuntimeError("secret internals")):
        at = app("review")
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and "Something went wrong" in errors[0] and "reference" in errors[0]
    assert not any("secret internals" in t for t in texts(at))


@pytest.mark.parametrize(
    "text, shown",
    [("Sam", "Sam"), ("a*b_c", "a\\*b\\_c"), ("<b>x</b>", "\\<b\\>x\\</b\\>"), ("two\nlines", "two lines"),
     (":red[x]", "\\:red\\[x\\]"), ("$1", "\\$1")],
    ids=["plain", "emphasis", "html", "newline", "directive", "latex"],
)
def test_md_escapes_user_text(text: str, shown: str) -> None:
    from formcheck.app.ui import md

    assert md(text) == shown


@pytest.mark.parametrize(
    "name, stem",
    [("squat.mp4", "squat"), ("../../etc/passwd", "passwd"), ("my clip (1).MOV", "my_clip_1"), ("<>.mp4", "formcheck"),
     ("x" * 100 + ".mp4", "x" * 60)],
    ids=["plain", "traversal", "spaces", "nothing-left", "long"],
)
def test_download_names_are_safe(name: str, stem: str) -> None:
    from formcheck.app.results import download_stem

    assert download_stem(name) == stem


# --------------------------------------------------------------------------- worker pieces


@pytest.mark.parametrize(
    "changes, message",
    [({"source_kind": "webcam"}, "source_kind"), ({"lift": "bench"}, "lift"), ({"video_sha256": "abc"}, "64 hex"),
     ({"model": ""}, "model")],
    ids=["kind", "lift", "sha", "model"],
)
def test_analysis_request_validated(tmp_path: Path, changes: dict[str, Any], message: str) -> None:
    base = dict(video_path=tmp_path / "v.mp4", source_name="v.mp4", source_kind="upload", video_sha256="0" * 64,
                data_dir=tmp_path)
    with pytest.raises(ValueError, match=message):
        AnalysisRequest(**{**base, **changes})


@pytest.mark.parametrize(
    "a, b",
    [(("0" * 64, "auto", "lite"), ("1" * 64, "auto", "lite")), (("0" * 64, "auto", "lite"), ("0" * 64, "squat", "lite")),
     (("0" * 64, "auto", "lite"), ("0" * 64, "auto", "full"))],
    ids=["content", "lift", "model"],
)
def test_cache_key_depends_on_content_and_options(a: tuple[str, str, str], b: tuple[str, str, str]) -> None:
    assert analysis_key(*a) == analysis_key(*a)
    assert analysis_key(*a) != analysis_key(*b)


@pytest.mark.parametrize(
    "kwargs, message",
    [({"state": "paused"}, "state"), ({"state": "done"}, "session id"), ({"state": "failed"}, "message"),
     ({"state": "running", "fraction": 1.5}, "fraction")],
    ids=["state", "done-without-session", "failed-without-message", "fraction"],
)
def test_job_state_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        JobState(job_id="j", **kwargs)


def test_job_manager_answers_from_the_cache(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    clip = tmp_path / "upload.mp4"
    clip.write_bytes(b"x")
    req = AnalysisRequest(video_path=clip, source_name="c.mp4", source_kind="upload", video_sha256="0" * 64,
                          data_dir=tmp_path / "data", model="lite", athlete="Ann", delete_input=True)
    video = tmp_path / "annotated.mp4"
    video.write_bytes(b"v")
    s = store.save_analysis(make_report(athlete="Ann"), analysis_key=req.key, video_path=video)  # complete
    jobs = JobManager()
    state = jobs.wait(jobs.submit(req, store), timeout=5)
    assert (state.state, state.session_id, state.cached) == ("done", s.id, True)
    assert not clip.exists(), "the upload copy is removed once answered"


def test_warm_job_process_runs_the_next_job_and_is_replaced(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    clip = store.work_dir / "upload-not-a-video.mp4"
    clip.write_bytes(b"not a video")
    req = AnalysisRequest(video_path=clip, source_name="notes.mp4", source_kind="upload", video_sha256="5" * 64,
                          data_dir=tmp_path / "data", model="lite", delete_input=True)
    jobs = JobManager(warm=True)
    try:
        deadline = time.monotonic() + 60
        while jobs._spare is None:
            assert time.monotonic() < deadline, "no warm process was started"
            time.sleep(0.05)
        warm_pid = jobs._spare[0].pid
        job_id = jobs.submit(req, store)
        state = jobs.wait(job_id, timeout=120)
        assert state.state == "failed" and "could not read" in state.message and "notes.mp4" in state.message
        assert jobs._jobs[job_id].process.pid == warm_pid, "the job ran in the warm process"
        while jobs._spare is None or jobs._spare[0].pid == warm_pid:
            assert time.monotonic() < deadline + 60, "no new warm process after the job"
            time.sleep(0.05)
        spare = jobs._spare[0]
    finally:
        jobs.shutdown()
    assert not spare.is_alive(), "the warm process stops with the server"
    assert store.list_sessions() == [] and not clip.exists()


def test_server_with_a_warm_job_process_exits(tmp_path: Path) -> None:
    """Python's exit joins every child process: the warm one, waiting for work, must be stopped first."""
    import subprocess
    import sys

    code = ("import time; from formcheck.worker import JobManager; j = JobManager(warm=True)\n"
            "while j._spare is None: time.sleep(0.05)\n"
            "time.sleep(8)  # the warm process is up, waiting for work\n")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code], env=env, timeout=60, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_killed_analysis_reports_failure_and_leaves_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    clip = store.work_dir / "upload-test.mp4"
    shutil.copyfile(SAMPLE, clip)
    req = AnalysisRequest(video_path=clip, source_name="my clip.mp4", source_kind="upload", video_sha256="1" * 64,
                          data_dir=tmp_path / "data", model="lite", delete_input=True)
    jobs = JobManager()
    job_id = jobs.submit(req, store)
    deadline = time.monotonic() + ANALYSIS_TIMEOUT_S
    while jobs.state(job_id).fraction < 0.05 and not jobs.state(job_id).finished:
        assert time.monotonic() < deadline, "the analysis never started"
        time.sleep(0.2)
    os.kill(jobs._jobs[job_id].process.pid, 9)  # the job's process, as the OOM killer would
    state = jobs.wait(job_id, timeout=60)
    assert state.state == "failed" and "stopped unexpectedly" in state.message and "my clip.mp4" in state.message
    assert store.list_sessions() == [] and list(store.sessions_dir.iterdir()) == []
    assert not clip.exists()
    store.remove_leftovers(older_than_s=0, work_older_than_s=0)
    assert list(store.work_dir.iterdir()) == []


# --------------------------------------------------------------------------- review work visible everywhere


def test_history_follows_the_review(analysed_copy: Path) -> None:
    store = Store(analysed_copy)
    before = app("history")
    n_flags = int({m.label: m.value for m in before.metric}["Flags"])
    f = store.review_queue()[0]
    store.set_review(f.id, status="dismissed")
    store.add_comment(f.id, f"false alarm {EVIL}")
    at = app("history")
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Flags"]) == n_flags - 1, "a dismissed flag no longer counts"
    assert metrics["Dismissed"] == "1" and int(metrics["Flags to review"]) == n_flags - 1
    shown = texts(at)
    assert any("1 dismissed" in t for t in shown)
    assert any("false alarm" in t for t in shown), "comments are shown with the session's flags"
    assert not any(raw in unescaped(t) for t in shown for raw in EVIL_RAW)


@pytest.mark.parametrize("scope", ["all", "unreviewed"], ids=["all-reps", "not-yet-reviewed"])
def test_missed_fault_on_a_clean_session(data_dir: Path, scope: str) -> None:
    store = Store(data_dir)
    clean = store.save_analysis(make_report(n_reps=2, flags=[]), athlete="Cleo", source_name="clean.mp4")
    at = app("review")
    assert not at.exception
    assert not flag_keys(at, "confirm-"), "no flag anywhere: the flagged view is empty"
    at.button_group(key="rv-scope").set_value(scope).run()
    assert not at.exception
    key = f"missed-{clean.id[:12]}-2"
    assert any("formcheck flagged nothing on this rep" in t for t in texts(at))
    at.selectbox(key=f"{key}-code").set_value("shallow_depth").run()
    at.text_input(key=f"{key}-note").set_value("above parallel").run()
    at.button(key=f"{key}-add").click().run()
    assert not at.exception
    (added,) = store.flags_for_session(clean.id)
    assert (added.rep, added.code, added.origin, added.review_status) == (2, "shallow_depth", "coach", "confirmed")
    assert [c.text for c in added.comments] == ["above parallel"]
    assert store.export_labels()[0]["reps"][1]["faults"]["shallow_depth"] == "yes"


def test_review_filters_by_date(data_dir: Path) -> None:
    import datetime as dt

    store = Store(data_dir)
    store.save_analysis(make_report(n_reps=1, flags=[(1, "rounded_back", "major")]))
    at = app("review")
    assert len(flag_keys(at, "confirm-")) == 1
    at.date_input(key="rv-since").set_value(dt.date.today() + dt.timedelta(days=1)).run()
    assert not at.exception and not flag_keys(at, "confirm-")
    at.button_group(key="rv-scope").set_value("all").run()
    assert not at.exception
    assert any("No rep matches these filters" in t for t in texts(at))


# --------------------------------------------------------------------------- deleting


def test_delete_session_from_history(data_dir: Path, tmp_path: Path) -> None:
    store = Store(data_dir)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    old = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")]), athlete="Dee", source_name="old.mp4",
                              video_path=video)
    time.sleep(0.01)
    new = store.save_analysis(make_report(flags=[]), athlete="Dee", source_name="new.mp4", video_path=video)
    at = app("history")
    at.selectbox(key="hist-session").set_value(old.id).run()
    key = f"hist-{old.id[:8]}"
    at.button(key=f"{key}-delete").click().run()
    assert any("removed for good" in str(w.value) for w in at.warning), "asks first"
    assert store.get_session(old.id) is not None and old.dir.is_dir()
    at.button(key=f"{key}-delete-no").click().run()
    assert store.get_session(old.id) is not None, "cancel keeps it"
    assert not any("removed for good" in str(w.value) for w in at.warning)
    at.button(key=f"{key}-delete").click().run()
    at.button(key=f"{key}-delete-yes").click().run()
    assert not at.exception
    assert store.get_session(old.id) is None and not old.dir.exists() and store.flags_for_session(old.id) == []
    assert [s.id for s in store.list_sessions()] == [new.id] and new.dir.is_dir()
    assert any("Deleted" in t for t in texts(at))
    assert at.selectbox(key="hist-session").value == new.id
    at.button(key=f"hist-{new.id[:8]}-delete").click().run()
    at.button(key=f"hist-{new.id[:8]}-delete-yes").click().run()
    assert not at.exception and store.list_sessions() == []
    assert any("No sessions yet" in t for t in texts(at))


# --------------------------------------------------------------------------- after a server restart


def _interrupted_job(data_dir: Path, tmp_path: Path, job_id: str = "d" * 32) -> tuple[Store, AnalysisRequest]:
    import subprocess
    import sys

    from formcheck import procs

    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    store = Store(data_dir)
    clip = store.work_dir / "upload-interrupted.mp4"
    clip.write_bytes(b"x")
    req = AnalysisRequest(video_path=clip, source_name="squat day.mp4", source_kind="upload", video_sha256="3" * 64,
                          data_dir=data_dir, model="lite", athlete="Ann", delete_input=True)
    store.record_job(job_id, owner=procs.owner_token(dead.pid), source_name=req.source_name, source_kind="upload",
                     request=req.to_dict())
    store.update_job(job_id, state="running")
    return store, req


def test_page_open_across_a_restart_says_what_happened(data_dir: Path, tmp_path: Path) -> None:
    store, req = _interrupted_job(data_dir, tmp_path)
    session = store.save_analysis(make_report(athlete="Ann"), analysis_key=req.key, source_name="squat day.mp4")
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    at.query_params["jobs"] = "d" * 32  # the tab's URL still names the job it followed
    at.run()
    assert not at.exception
    assert any("was interrupted" in str(w.value) and "squat day" in str(w.value) for w in at.warning)
    assert store.get_job("d" * 32).state == "interrupted"
    at.button(key=f"fc_retry_{'d' * 32}").click().run(timeout=ANALYSIS_TIMEOUT_S)
    assert not at.exception
    assert store.get_job("d" * 32).state == "retried"
    assert not any("was interrupted" in str(w.value) for w in at.warning)
    assert session.source_name in [unescaped_md(s.value) for s in at.subheader], "the retry's result is shown"


def test_interrupted_job_can_be_dismissed_or_reports_a_lost_upload(data_dir: Path, tmp_path: Path) -> None:
    store, req = _interrupted_job(data_dir, tmp_path)
    _interrupted_job(data_dir, tmp_path, job_id="e" * 32)
    at = app()
    assert sum("was interrupted" in str(w.value) for w in at.warning) == 2
    at.button(key=f"fc_dismiss_{'d' * 32}").click().run()
    assert store.get_job("d" * 32).state == "dismissed"
    assert not req.video_path.exists(), "the upload copy kept for a retry goes with the dismissal"
    at.button(key=f"fc_retry_{'e' * 32}").click().run()
    assert not at.exception
    assert any("upload it again" in str(e.value) for e in at.error)
    assert not any("was interrupted" in str(w.value) for w in at.warning)


def test_done_job_of_an_earlier_server_shows_its_result(data_dir: Path, tmp_path: Path) -> None:
    store, req = _interrupted_job(data_dir, tmp_path)
    s = store.save_analysis(make_report(athlete="Ann"), source_name="finished.mp4")
    store.update_job("d" * 32, state="done", session_id=s.id)
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    at.query_params["jobs"] = "d" * 32
    at.run()
    assert not at.exception
    assert "finished.mp4" in [unescaped_md(x.value) for x in at.subheader]


# --------------------------------------------------------------------------- offline


def _favicon_of_app_icon() -> None:
    import streamlit as st
    from streamlit.commands.page_config import _get_favicon_string

    from formcheck.app.ui import APP_ICON

    st.text(_get_favicon_string(APP_ICON))


def test_page_icon_is_served_by_the_app_itself(data_dir: Path) -> None:
    """A ":material/...:" page icon makes the browser fetch the favicon from fonts.gstatic.com (offline: broken)."""
    import streamlit as st

    from formcheck.app.ui import APP_ICON

    with mock.patch.object(st, "set_page_config", wraps=st.set_page_config) as spy:
        at = app()
    assert not at.exception
    icon = spy.call_args.kwargs["page_icon"]
    assert icon == APP_ICON and Path(icon).is_file() and Path(icon).suffix == ".png"
    assert (REPO / "formcheck") in Path(icon).resolve().parents, "shipped in the package"
    assert "app/icon.png" in (REPO / "pyproject.toml").read_text(), "and listed as package data"
    favicon = AppTest.from_function(_favicon_of_app_icon).run().text[0].value
    assert favicon.startswith("/") and "media/" in favicon and "://" not in favicon, favicon


def test_reloaded_tab_follows_its_running_job(data_dir: Path, tmp_path: Path) -> None:
    store = Store(data_dir)
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"x")
    req = AnalysisRequest(video_path=clip, source_name="reloaded.mp4", source_kind="upload", video_sha256="4" * 64,
                          data_dir=data_dir, model="lite")
    store.save_analysis(make_report(), analysis_key=req.key, source_name="reloaded.mp4")
    from formcheck.app.ui import get_jobs

    job_id = get_jobs().submit(req, store)  # the server's job manager, as a tab started it
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    at.query_params["jobs"] = job_id
    at.run()
    assert not at.exception
    assert "reloaded.mp4" in [unescaped_md(x.value) for x in at.subheader]


# --------------------------------------------------------------------------- the reviewed report


def test_session_view_shows_the_coach_review_and_its_report(data_dir: Path) -> None:
    store = Store(data_dir)
    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")]), athlete="Ann", source_name="a.mp4")
    at = app("history")
    assert not at.exception
    assert not any("Reviewed by the coach" in t for t in texts(at)), "nothing reviewed yet"
    assert not any(b.label.startswith("Reviewed report") for b in at.download_button)
    f = store.flags_for_session(s.id)[0]
    store.set_review(f.id, status="dismissed")
    store.add_comment(f.id, f"not rounded {EVIL}")
    at = app("history")
    assert not at.exception
    day = store.coach_reviewed_at(store.get_session(s.id)).date().isoformat()
    assert any(f"Reviewed by the coach on {day}" in t for t in texts(at))
    assert {"Reviewed report (HTML)", "Reviewed report (Markdown)"} <= {b.label for b in at.download_button}
    page = store.reviewed_report(s.id, "html")
    assert "<del class=dismissed>rounded_back</del>" in page and "<img src=x" not in page


# --------------------------------------------------------------------------- comments on the timeline


def test_review_comment_pinned_to_a_time(data_dir: Path) -> None:
    store = Store(data_dir)
    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major")]), athlete="Ann", source_name="a.mp4")
    fid = store.flags_for_session(s.id)[0].id  # rep 1 spans 1.00-3.50 s
    at = app("review")
    at.text_input(key=f"comment-{fid}").set_value("general note").run()
    at.number_input(key=f"comment-{fid}-t").set_value(2.2).run()
    at.text_input(key=f"comment-{fid}").set_value(f"knees in here {EVIL}").run()
    assert not at.exception
    assert [(c.text, c.t_ms) for c in store.get_flag(fid).comments] == [
        (f"knees in here {EVIL}", 2200.0), ("general note", None)]
    assert at.number_input(key=f"comment-{fid}-t").value is None, "the time is cleared for the next comment"
    shown = texts(app("review"))
    assert any("at 2.20 s:" in t and "knees in here" in t for t in shown)
    assert not any(raw in unescaped(t) for t in shown for raw in EVIL_RAW)


def test_session_view_pins_a_comment_to_the_stepped_frame(analysed_copy: Path) -> None:
    store = Store(analysed_copy)
    (s,) = store.list_sessions()
    at = app("history")
    assert not at.exception
    assert not at.get("video")[0].proto.subtitles, "no captions before any timed comment"
    slider = at.slider[0]
    slider.set_value(slider.max).run()
    save = next(b for b in at.button if b.key and b.key.endswith("-tc-save"))
    ckey = save.key.removesuffix("-save")
    t_label = float(re.search(r"at ([0-9.]+) s", save.label).group(1))
    at.text_input(key=f"{ckey}-text").set_value(f"lost the brace {EVIL}")
    save.click().run()
    assert not at.exception
    timed = [(f, c) for f in store.flags_for_session(s.id) for c in f.comments if c.t_ms is not None]
    assert len(timed) == 1 and timed[0][1].text == f"lost the brace {EVIL}"
    assert abs(timed[0][1].t_ms / 1000 - t_label) < 0.006
    rep = s.rep(timed[0][0].rep)
    assert rep["start_ms"] <= timed[0][1].t_ms <= rep["end_ms"]
    shown = texts(at)
    assert any("💬 at" in t and "lost the brace" in t for t in shown), "shown with the frame it is pinned to"
    assert not any(raw in unescaped(t) for t in shown for raw in EVIL_RAW)
    fresh = app("history")
    assert fresh.get("video")[0].proto.subtitles, "the annotated video carries the comment as a caption track"


# --------------------------------------------------------------------------- side-by-side compare


def test_default_reference_is_the_latest_clean_rep(data_dir: Path, tmp_path: Path) -> None:
    from formcheck.app.compare import pick_reference

    store = Store(data_dir)
    video = tmp_path / "v.mp4"
    video.write_bytes(b"x")
    old = store.save_analysis(make_report(n_reps=2), athlete="Ann", video_path=video)
    time.sleep(0.01)
    new = store.save_analysis(make_report(n_reps=3, flags=[(1, "rounded_back", "major"), (2, "shallow_depth", "minor"),
                                                           (3, "heels_lift", "minor")]), athlete="Ann", video_path=video)
    items = store.rep_queue(athlete="Ann", lift="squat")
    assert (pick_reference(items, (new.id, 1)).session.id, pick_reference(items, (new.id, 1)).rep) == (old.id, 1)
    flags = {f.rep: f for f in store.flags_for_session(new.id)}
    store.set_review(flags[3].id, status="dismissed")  # rep 3 is clean after review: the newest clean rep
    store.set_review(flags[2].id, status="confirmed")
    items = store.rep_queue(athlete="Ann", lift="squat")
    ref = pick_reference(items, (new.id, 1))
    assert (ref.session.id, ref.rep) == (new.id, 3)
    assert pick_reference(items, (new.id, 3)).session.id == old.id, "never the rep itself"
    assert pick_reference([i for i in items if i.session.id == new.id], (new.id, 3)) is None


def test_compare_side_by_side_in_the_session_view(analysed_copy: Path) -> None:
    store = Store(analysed_copy)
    (s,) = store.list_sessions()
    at = app("history")
    toggle = next(t for t in at.toggle if t.key and t.key.endswith("-compare"))
    rep_no = int(toggle.key.split("-")[-2])
    toggle.set_value(True).run()
    assert not at.exception, at.exception
    def shown() -> list[str]:
        return [c for im in at.image for c in im.captions if "% of the rep" in c]

    assert len(shown()) == 2 and all("bottom (50% of the rep)" in c for c in shown())
    pick = next(sb for sb in at.selectbox if sb.key and sb.key.endswith("-cmp-with"))
    other_sid, other_rep = pick.value.split(":")
    assert other_sid == s.id and int(other_rep) != rep_no
    times = [float(re.search(r"at ([0-9.]+) s", c).group(1)) for c in shown()]
    for t, n in zip(times, (rep_no, int(other_rep))):
        assert abs(t * 1000 - s.rep(n)["bottom_ms"]) <= 5.01, "both at their bottom (caption in 0.01 s)"
    slider = next(sl for sl in at.slider if sl.key and sl.key.endswith("-cmp-phase"))
    slider.set_value(0).run()
    times = [float(re.search(r"at ([0-9.]+) s", c).group(1)) for c in shown()]
    for t, n in zip(times, (rep_no, int(other_rep))):
        assert abs(t * 1000 - s.rep(n)["start_ms"]) <= 5.01, "both at their start"
    videos = len(at.get("video"))
    next(t for t in at.toggle if t.key and t.key.endswith("-cmp-slow")).set_value(True).run()
    assert not at.exception
    assert len(at.get("video")) == videos + 1
    clip = s.dir / f"compare_{rep_no}_{s.id[:12]}_{other_rep}.mp4"
    assert clip.is_file()
    frames = list(iter_frames(clip))
    assert len(frames) >= 10 and frames[0].width > frames[0].height * 0.9, "two frames side by side"


# --------------------------------------------------------------------------- a session stored before its video

BEING_MADE = {"history": "The annotated video is being made", "review": "The video of this session is being made"}
NO_VIDEO = {"history": "No annotated video was kept", "review": "There is no video of this session"}


@pytest.mark.parametrize("page", ["history", "review"])
def test_video_being_made_is_said_and_picked_up(data_dir: Path, tmp_path: Path, page: str) -> None:
    """A job of this server stored the session at its report and still makes the video: the page says so, not
    that there is none, and shows the video once it is stored (the job then ends)."""
    from formcheck import procs

    store = Store(data_dir)
    s = store.save_analysis(make_report(athlete="Ann", n_reps=1, flags=[(1, "rounded_back", "major")]),
                            athlete="Ann", source_name="squat day.mp4")
    job_id = "b" * 32
    store.record_job(job_id, owner=procs.owner_token(), source_name="squat day.mp4", source_kind="upload",
                     request={})
    store.update_job(job_id, state="running", session_id=s.id)
    at = app(page)
    assert not at.exception
    shown = texts(at)
    assert any(BEING_MADE[page] in t for t in shown), shown
    assert not any(NO_VIDEO[page] in t for t in shown)
    assert not at.get("video")

    video = mc.write_clip(tmp_path / "annotated.mp4", n_frames=90, size=(320, 240), fps=30)
    store.attach_files(s.id, {"video": video})
    store.update_job(job_id, state="done", session_id=s.id)
    at.run()
    assert not at.exception
    assert not any(BEING_MADE[page] in t for t in texts(at))
    assert at.get("video"), "the stored video is shown"


@pytest.mark.parametrize("page", ["history", "review"])
def test_video_of_an_interrupted_job_is_not_waited_for(data_dir: Path, tmp_path: Path, page: str) -> None:
    """The server stopped while the video was made: nobody makes it, and the page says there is none."""
    store, req = _interrupted_job(data_dir, tmp_path)
    s = store.save_analysis(make_report(athlete="Ann", n_reps=1, flags=[(1, "rounded_back", "major")]),
                            athlete="Ann", analysis_key=req.key, source_name="squat day.mp4")
    store.update_job("d" * 32, state="running", session_id=s.id)
    at = app(page)
    assert not at.exception
    assert store.get_job("d" * 32).state == "interrupted"
    assert not any(BEING_MADE[page] in t for t in texts(at))
    assert any(NO_VIDEO[page] in t for t in texts(at))


def test_retry_makes_the_video_of_a_session_stored_without_it(data_dir: Path, tmp_path: Path) -> None:
    """A job stopped with the server after storing the report: its Retry finds the session in the cache
    and makes the missing video (the page shows the results at once and the video when it is stored)."""
    store, req = _interrupted_job(data_dir, tmp_path)
    req.video_path.write_bytes(_standing_only_clip(tmp_path / "standing.mp4"))  # a short clip: the video is quick
    s = store.save_analysis(make_report(athlete="Ann"), athlete="Ann", analysis_key=req.key,
                            source_name="squat day.mp4")
    store.update_job("d" * 32, state="running", session_id=s.id)
    at = app()
    assert store.get_job("d" * 32).state == "interrupted"
    at.button(key=f"fc_retry_{'d' * 32}").click().run(timeout=ANALYSIS_TIMEOUT_S)
    assert not at.exception
    assert "squat day.mp4" in [unescaped_md(x.value) for x in at.subheader], "the results are shown at once"
    (job_id,) = followed_jobs(at)
    assert store.video_job(s.id) is not None and store.video_job(s.id).id == job_id
    at = until_done(at)
    assert not at.exception
    stored = store.get_session(s.id)
    assert stored.file("video") is not None and stored.file("original") is not None
    assert [x.id for x in store.list_sessions()] == [s.id], "no second session: the cached one got its video"
    assert store.get_job(job_id).state == "done" and store.video_job(s.id) is None
    assert at.get("video"), "the video is shown once made"
    assert not req.video_path.exists(), "the upload copy went into the session"


def test_job_manager_makes_the_missing_video_of_a_cached_session(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    clip = store.work_dir / "upload-standing.mp4"
    clip.write_bytes(_standing_only_clip(tmp_path / "standing.mp4"))
    req = AnalysisRequest(video_path=clip, source_name="c.mp4", source_kind="upload", video_sha256="6" * 64,
                          data_dir=tmp_path / "data", model="lite", athlete="Ann", delete_input=True)
    s = store.save_analysis(make_report(athlete="Ann"), athlete="Ann", analysis_key=req.key)
    jobs = JobManager()
    try:
        job_id = jobs.submit(req, store)
        first = jobs.state(job_id)
        assert first.session_id == s.id and first.report_ready and not first.cached, first
        assert store.get_job(job_id).session_id == s.id, "the record is linked before the job runs"
        state = jobs.wait(job_id, timeout=ANALYSIS_TIMEOUT_S)
    finally:
        jobs.shutdown()
    assert (state.state, state.session_id, state.video_ready) == ("done", s.id, True)
    assert store.get_session(s.id).file("video") is not None
    assert len(store.list_sessions()) == 1 and not clip.exists()
