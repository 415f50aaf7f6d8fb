"""Provisional results during the pose pass (issue #13): the posed start of a clip, its analysis, the job state.

Synthetic sequences with exact truth (tools/synth kinematics, as in test_faults_sim.py): a squat set
seen from the side with a fault on one rep, fed frame by frame into a :class:`PrefixWatch` as the
pose pass's chunks would, then analysed as it grows.
"""

from __future__ import annotations

import queue
import re
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from formcheck import pipeline
from formcheck.analysis import analyze_sequence
from formcheck.pose import PrefixWatch
from formcheck.sequence import PoseSequence
from formcheck.storage import Store
from formcheck.video import VideoInfo
from formcheck.worker import AnalysisRequest, JobManager, Provisional
from support.landmark_sim import MEDIAPIPE_LIKE, SimSequence, simulate_sequence
from test_storage import make_report
from tools.synth.kinematics import FAULT_PRESETS


def _sim() -> SimSequence:
    """Three side-view squats, forward lean on the second (0-based 1), MediaPipe-like noise."""
    return simulate_sequence("squat", 0.0, 3, corruption=MEDIAPIPE_LIKE.with_seed(3),
                             faults={1: FAULT_PRESETS["excessive_forward_lean"]}, seed=0)


def _info(seq: PoseSequence) -> VideoInfo:
    return VideoInfo(path=Path("sim.mp4"), width=seq.frame_w, height=seq.frame_h, rotation_deg=0, fps_nominal=30.0,
                     duration_ms=float(seq.t_ms[-1]) + 33.3, n_frames_est=seq.n_frames, codec="h264",
                     container="mov,mp4,m4a,3gp,3g2,mj2", has_audio=False)


def _head(seq: PoseSequence, n: int) -> PoseSequence:
    """The first ``n`` frames of ``seq``."""
    return seq.with_(t_ms=seq.t_ms[:n], xy_px=seq.xy_px[:n], z_px=seq.z_px[:n], world_m=seq.world_m[:n],
                     visibility=seq.visibility[:n], presence=seq.presence[:n])


def _feed(watch: PrefixWatch, seq: PoseSequence, chunk: int, frames: range) -> None:
    """Hand ``frames`` of ``seq`` to ``watch`` as chunk ``chunk`` would (one detection per frame)."""
    for i in frames:
        img = np.concatenate([seq.xy_px[i], seq.z_px[i][:, None], seq.visibility[i][:, None],
                              seq.presence[i][:, None]], axis=1).astype(np.float32)
        watch.add(chunk, float(seq.t_ms[i]), 1, (seq.frame_w, seq.frame_h), [img],
                  [seq.world_m[i].astype(np.float32)], [])


# --------------------------------------------------------------------------- the posed start


@pytest.mark.parametrize("first, first_ended, second, expected", [
    pytest.param(0, False, 0, 0, id="nothing-yet"),
    pytest.param(10, False, 0, 10, id="first-chunk-so-far"),
    pytest.param(10, False, 5, 10, id="second-chunk-waits-for-the-first"),
    pytest.param("half", True, 5, "half+5", id="first-chunk-ended-second-joins"),
    pytest.param("half", True, "rest", "all", id="whole-clip"),
])
def test_prefix_watch_gives_the_gapless_start(first: Any, first_ended: bool, second: Any, expected: Any) -> None:
    seq = _sim().seq
    half = seq.n_frames // 2
    n = {"half": half, "rest": seq.n_frames - half, "half+5": half + 5, "all": seq.n_frames}
    first_n, second_n, want = (n.get(x, x) for x in (first, second, expected))
    watch = PrefixWatch()
    assert watch.snapshot() is None and watch.through_ms is None
    watch._start(_info(seq), "sim.mp4", "full", False, 640)
    _feed(watch, seq, 0, range(first_n))
    if first_ended:
        watch.end(0)
    _feed(watch, seq, 1, range(half, half + second_n))
    snap = watch.snapshot()
    if want == 0:
        assert snap is None and watch.through_ms is None
        return
    got, masks = snap
    assert masks is None and got.n_frames == want
    assert watch.through_ms == pytest.approx(seq.t_ms[want - 1])
    np.testing.assert_allclose(got.t_ms, seq.t_ms[:want])
    np.testing.assert_allclose(got.xy_px, seq.xy_px[:want].astype(np.float32), equal_nan=True)


# --------------------------------------------------------------------------- its analysis as it grows


class _GrowingWatch:
    """A stand-in for :class:`PrefixWatch` whose posed start grows by ``step`` frames at each look."""

    def __init__(self, seq: PoseSequence, step: int) -> None:
        self.seq, self.step, self.n = seq, step, 0

    @property
    def through_ms(self) -> float | None:
        self.n = min(self.seq.n_frames, self.n + self.step)
        return float(self.seq.t_ms[self.n - 1])

    @property
    def duration_ms(self) -> float:
        return float(self.seq.t_ms[-1])

    def snapshot(self) -> tuple[PoseSequence, None]:
        return _head(self.seq, self.n), None


def _analyse(seq: PoseSequence, masks: Any) -> Any:
    return analyze_sequence(seq, lift="auto", masks=masks)


def test_provisional_results_grow_rep_by_rep_and_end_as_the_final_report() -> None:
    sim = _sim()
    seq = sim.seq
    sent: list[dict[str, Any]] = []
    early = pipeline._Provisional(_GrowingWatch(seq, step=30), _analyse, sent.append, start=False)
    while early._watch.n < seq.n_frames:
        early.step()
    final = analyze_sequence(seq, lift="auto").report
    assert final.rep_count == 3 and {(f["rep"], f["code"]) for f in final.flags} == {(2, "excessive_forward_lean")}
    assert sent, "no provisional result"
    counts = [len(s["reps"]) for s in sent]
    assert counts == sorted(counts) and counts[0] >= 1, "reps are only ever added, never shown as none"
    # each summary differs from the one before in what a user sees (no resend of the same reps and flags)
    gists = [pipeline._gist(s) for s in sent]
    assert all(a != b for a, b in zip(gists, gists[1:]))
    # the first rep was shown before the clip's second rep ended (the point of it)
    second_end = sim.truth.reps[1].end_ms
    assert sent[0]["through_ms"] < second_end
    # every rep shown agrees with the final report: same rep, same flags
    for s in sent:
        assert s["lift"] == final.lift
        for r in s["reps"]:
            fr = next(x for x in final.reps if x["rep"] == r["rep"])
            assert abs(fr["end_ms"] - r["end_ms"]) < 300.0
            assert r["flags"] == sorted({f["code"] for f in final.flags if f["rep"] == r["rep"]})


def test_nothing_is_emitted_after_stop_or_before_the_start_has_grown() -> None:
    seq = _sim().seq
    sent: list[dict[str, Any]] = []
    watch = _GrowingWatch(seq, step=1)  # 33 ms more video at each look: below PROVISIONAL_MIN_NEW_MS
    early = pipeline._Provisional(watch, _analyse, sent.append, start=False)
    watch.n = seq.n_frames - 2
    assert early.step() is not None  # the first look analyses what there is
    watch.n = seq.n_frames - 2
    assert early.step() is None, "analysed again for one more frame"
    early.stop()
    watch.step = seq.n_frames
    assert early.step() is None and len(sent) == 1


def test_provisional_summary_of_a_start_without_a_complete_rep_has_no_reps() -> None:
    seq = _sim().seq
    start = _head(seq, int(np.searchsorted(seq.t_ms, 1500.0)))
    s = pipeline.provisional_summary(_analyse(start, None), float(start.t_ms[-1]), 9000.0)
    assert s["reps"] == [] and s["duration_ms"] == 9000.0


# --------------------------------------------------------------------------- the job's state


class _FakeProcess:
    pid, exitcode = 0, 0

    def is_alive(self) -> bool:
        return True

    def join(self, timeout: float | None = None) -> None:
        return None

    def terminate(self) -> None:
        return None


SUMMARY = {"through_ms": 4000.0, "duration_ms": 10000.0, "lift": "squat",
           "reps": [{"rep": 1, "start_ms": 900.0, "end_ms": 3600.0, "flags": ["shallow_depth"], "borderline": []}]}


def test_job_state_carries_the_provisional_results_until_the_report(tmp_path: Path) -> None:
    store = Store(tmp_path / "data")
    clip = store.work_dir / "upload-x.mp4"
    clip.write_bytes(b"x")
    req = AnalysisRequest(video_path=clip, source_name="c.mp4", source_kind="upload", video_sha256="7" * 64,
                          data_dir=tmp_path / "data", model="lite", delete_input=True)
    jobs = JobManager()
    inbox: queue.Queue[Any] = queue.Queue()
    messages: queue.Queue[Any] = queue.Queue()
    jobs._spare = (_FakeProcess(), inbox, messages)  # a job process that says what the test tells it
    try:
        job_id = jobs.submit(req, store)
        assert inbox.get(timeout=10) == req
        messages.put(("provisional", SUMMARY))
        deadline = time.monotonic() + 10
        while jobs.state(job_id).provisional is None:
            assert time.monotonic() < deadline, "the provisional results never reached the job's state"
            time.sleep(0.02)
        state = jobs.state(job_id)
        assert not state.report_ready and state.provisional == Provisional.from_dict(SUMMARY)
        assert state.provisional.reps[0].flags == ("shallow_depth",)
        session = store.save_analysis(make_report(), analysis_key=req.key)
        later = {**SUMMARY, "reps": [*SUMMARY["reps"], {**SUMMARY["reps"][0], "rep": 2}]}
        messages.put(("report", session.id))
        messages.put(("provisional", later))  # after the report: the report is what counts
        messages.put(("done", session.id))
        final = jobs.wait(job_id, timeout=10)
    finally:
        jobs.shutdown()
    assert final.state == "done" and final.session_id == session.id
    assert final.provisional == Provisional.from_dict(SUMMARY)


# --------------------------------------------------------------------------- the page


def _final(reps: list[tuple[int, float]], flags: list[tuple[int, str]]) -> dict[str, Any]:
    return {"reps": [{"rep": n, "start_ms": end - 2500.0, "end_ms": end} for n, end in reps],
            "flags": [{"rep": n, "code": c} for n, c in flags]}


@pytest.mark.parametrize("final, expected", [
    pytest.param(_final([(1, 3600.0), (2, 7000.0)], [(1, "shallow_depth")]), [], id="confirmed"),
    pytest.param(_final([(1, 3600.0), (2, 7000.0)], [(1, "shallow_depth"), (2, "knee_cave")]), [],
                 id="later-rep-flagged-is-no-contradiction"),
    pytest.param(_final([(1, 3600.0)], []), ["rep 1: no flag (first look: {shallow_depth})"], id="flag-dropped"),
    pytest.param(_final([(1, 2000.0), (2, 3900.0)], [(1, "shallow_depth")]),
                 ["in the first 4.0 s, 2 rep(s) instead of 1"], id="rep-split-in-two"),
    pytest.param(_final([(1, 7000.0)], [(1, "shallow_depth")]), ["in the first 4.0 s, 0 rep(s) instead of 1"],
                 id="rep-not-counted-there"),
])
def test_the_final_report_says_where_it_differs_from_the_first_look(final: dict[str, Any],
                                                                     expected: list[str]) -> None:
    from formcheck.app.analyse import early_differences

    got = early_differences(Provisional.from_dict(SUMMARY), final)
    assert got == [e.format(shallow_depth=_title("shallow_depth")) for e in expected]


def _title(code: str) -> str:
    from formcheck.app.ui import fault_title

    return fault_title(code)


def test_provisional_text_says_provisional_and_lists_each_rep() -> None:
    from formcheck.app.analyse import provisional_text

    text = provisional_text(Provisional.from_dict(SUMMARY), "my *clip*.mp4")
    assert "provisional" in text.lower() and "not the results yet" in text
    assert "4.0 s of 10.0 s" in text and "1 rep completed" in text
    assert f"| 1 | 0.9 s – 3.6 s | {_title('shallow_depth')} |" in text
    assert "my \\*clip\\*" in text or "*clip*" not in text  # user text escaped


class _FakeJobs:
    """A job manager whose one job shows ``provisional`` on the first look, then is done with ``session_id``."""

    def __init__(self, provisional: Provisional, session_id: str) -> None:
        self.looks = 0
        self.provisional, self.session_id = provisional, session_id

    def state(self, job_id: str) -> Any:
        from formcheck.worker import JobState

        self.looks += 1
        if self.looks == 1:
            return JobState(job_id, "running", stage="finding the lifter in every frame", fraction=0.4,
                            source_name="c.mp4", provisional=self.provisional)
        return JobState(job_id, "done", stage="done", fraction=1.0, session_id=self.session_id, source_name="c.mp4",
                        video_ready=True, provisional=self.provisional)


@pytest.mark.parametrize("first_look_flags, note", [
    pytest.param([], False, id="results-confirm-the-first-look"),
    pytest.param(["shallow_depth"], True, id="results-differ-and-say-so"),
])
def test_results_page_says_when_they_differ_from_the_first_look(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                first_look_flags: list[str], note: bool) -> None:
    from unittest import mock

    from streamlit.testing.v1 import AppTest

    data = tmp_path / "data"
    monkeypatch.setenv("FORMCHECK_DATA_DIR", str(data))
    store = Store(data)
    session = store.save_analysis(make_report(n_reps=3), analysis_key="c" * 64)  # reps end 3.5, 6.5, 9.5 s
    store.close()
    first_look = Provisional.from_dict({**SUMMARY, "reps": [{**SUMMARY["reps"][0], "start_ms": 1000.0,
                                                            "end_ms": 3500.0, "flags": first_look_flags}]})
    fake = _FakeJobs(first_look, session.id)
    app = str(Path(__file__).resolve().parents[1] / "app.py")
    with mock.patch("formcheck.app.analyse.get_jobs", return_value=fake):
        at = AppTest.from_file(app, default_timeout=60).run()
        at.session_state["fc_jobs"] = ["d" * 32]
        at.run()
    assert fake.looks >= 2 and not at.exception
    assert [str(m.value) for m in at.metric if m.label == "Reps"] == ["3"]
    infos = re.sub(r"\\(.)", r"\1", " ".join(str(i.value) for i in at.info))  # Markdown escapes undone
    assert ("differs from the provisional first look" in infos) is note, infos
    if note:
        assert "rep 1: no flag (first look: " in infos
    assert not any("First look, provisional" in str(w.value) for w in at.warning), "the first look stayed"
