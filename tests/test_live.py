"""Live mode: configuration, the analysis on simulated landmarks, the frame callback on real
frames of a bundled sample (against the offline analysis), threading and the Live page (AppTest).
"""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import sys
from fractions import Fraction
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Iterator
from unittest import mock

import av
import numpy as np
import pytest

from formcheck.analysis import analyze_sequence
from formcheck.landmarks import N_LANDMARKS
from formcheck.live import (
    ENV_ICE_SERVERS,
    MAX_CUES_SHOWN,
    FramePose,
    LiveAnalyzer,
    LiveConfig,
    LiveProcessor,
    PoseSmoother,
    rtc_configuration,
    run_frames,
    save_live_session,
)
from formcheck.sequence import PoseSequence

REPO = Path(__file__).resolve().parents[1]
FAULTS_CLIP = REPO / "sample_videos" / "squat_side_faults.mp4"
TB = Fraction(1, 90000)


# --------------------------------------------------------------------------- helpers
def poses_of(seq: PoseSequence) -> list[FramePose]:
    return [FramePose(float(seq.t_ms[i]), seq.xy_px[i], seq.z_px[i], seq.world_m[i], seq.visibility[i],
                      seq.presence[i]) for i in range(seq.n_frames)]


def _landmark(x: float, y: float, z: float = 0.0, vis: float = 1.0) -> SimpleNamespace:
    return SimpleNamespace(x=x, y=y, z=z, visibility=vis, presence=vis)


class FakeLandmarker:
    """Stands in for MediaPipe: replays a PoseSequence (normalised to the frame) by timestamp order."""

    instances: list["FakeLandmarker"] = []

    def __init__(self, seq: PoseSequence | None = None) -> None:
        self.seq = seq
        self.calls: list[int] = []
        self.closed = 0
        FakeLandmarker.instances.append(self)

    def detect_for_video(self, image: Any, ts: int) -> SimpleNamespace:
        if self.calls and ts <= self.calls[-1]:
            raise AssertionError(f"timestamps must increase: {ts} after {self.calls[-1]}")
        i = len(self.calls)
        self.calls.append(ts)
        if self.seq is None or i >= self.seq.n_frames or not np.isfinite(self.seq.xy_px[i, 0, 0]):
            return SimpleNamespace(pose_landmarks=[], pose_world_landmarks=[])
        w, h = self.seq.frame_w, self.seq.frame_h
        img = [_landmark(x / w, y / h, z / w, v) for (x, y), z, v in
               zip(self.seq.xy_px[i], self.seq.z_px[i], self.seq.visibility[i])]
        world = [_landmark(*p) for p in self.seq.world_m[i]]
        return SimpleNamespace(pose_landmarks=[img], pose_world_landmarks=[world])

    def close(self) -> None:
        self.closed += 1


def blank_frames(n: int, size: tuple[int, int] = (640, 480), fps: float = 30.0, t0_ms: float = 0.0
                 ) -> list[av.VideoFrame]:
    out = []
    for i in range(n):
        f = av.VideoFrame.from_ndarray(np.full((size[1], size[0], 3), 90, np.uint8), format="rgb24")
        f.pts = round((t0_ms + i * 1000.0 / fps) * 90)
        f.time_base = TB
        out.append(f)
    return out


def clip_frames(path: Path) -> Iterator[av.VideoFrame]:
    """The clip's frames as the browser would send them: fresh VideoFrames with the clip's timestamps."""
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            g = av.VideoFrame.from_ndarray(f.to_ndarray(format="yuv420p"), format="yuv420p")
            g.pts, g.time_base = f.pts, f.time_base
            yield g


@pytest.fixture(scope="module")
def simulated_squat() -> Any:
    from support.landmark_sim import MEDIAPIPE_LIKE, simulate_sequence

    return simulate_sequence("squat", view_deg=10.0, reps=4, corruption=MEDIAPIPE_LIKE,
                             faults={1: "excessive_forward_lean", 2: "shallow_depth"}, seed=3)


# --------------------------------------------------------------------------- configuration
@pytest.mark.parametrize("kwargs, message", [
    ({"lift": "bench"}, "lift: expected one of squat, deadlift, auto, got 'bench'"),
    ({"model": "heavy"}, "model: expected one of lite, full, got 'heavy'"),
    ({"metrics_window_ms": 50}, "metrics_window_ms: expected a duration >= 200 ms"),
    ({"history_ms": 1000.0}, "history_ms: expected >= metrics_window_ms"),
    ({"cue_hold_ms": -1}, "cue_hold_ms: expected a duration >= 0 ms"),
    ({"min_visibility": 1.5}, "min_visibility: expected a score in [0, 1]"),
    ({"record_video": True}, "video_dir: expected a folder when record_video is on"),
    ({"record_video": "yes", "video_dir": "/tmp"}, "record_video: expected True or False"),
], ids=["lift", "model", "window", "history", "cue-hold", "visibility", "video-dir", "record-type"])
def test_config_rejects(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=r"^" + __import__("re").escape(message)):
        LiveConfig(**kwargs)


def test_config_defaults_are_lite_and_offline_rep_params() -> None:
    from formcheck.reps import RepParams

    cfg = LiveConfig()
    assert (cfg.model, cfg.lift, cfg.rep_params) == ("lite", "squat", RepParams.packaged())
    assert 2000.0 <= cfg.cue_hold_ms <= 4000.0


@pytest.mark.parametrize("env, expected", [
    ({}, {"iceServers": []}),
    ({ENV_ICE_SERVERS: "  "}, {"iceServers": []}),
    ({ENV_ICE_SERVERS: '[{"urls": ["stun:stun.example.org:3478"]}]'},
     {"iceServers": [{"urls": ["stun:stun.example.org:3478"]}]}),
    ({ENV_ICE_SERVERS: '[{"urls": "turn:t.example.org", "username": "u", "credential": "p"}]'},
     {"iceServers": [{"urls": "turn:t.example.org", "username": "u", "credential": "p"}]}),
], ids=["unset", "blank", "stun", "turn"])
def test_rtc_configuration(env: dict[str, str], expected: dict[str, Any]) -> None:
    assert rtc_configuration(env) == expected


@pytest.mark.parametrize("raw", ["stun:x", '{"urls": "stun:x"}', '[{"url": "stun:x"}]', "[1]"],
                         ids=["not-json", "object", "no-urls", "not-objects"])
def test_rtc_configuration_rejects(raw: str) -> None:
    with pytest.raises(ValueError, match=f"^{ENV_ICE_SERVERS}: expected a JSON list"):
        rtc_configuration({ENV_ICE_SERVERS: raw})


@pytest.mark.parametrize("field, value", [
    ("xy_px", np.zeros((33, 3))), ("z_px", np.zeros(32)), ("world_m", np.zeros((33, 2))),
    ("visibility", np.zeros((1, 33))), ("t_ms", float("nan")),
], ids=["xy", "z", "world", "visibility", "time"])
def test_frame_pose_validates(field: str, value: Any) -> None:
    ok = FramePose.empty(0.0)
    kwargs = {k: getattr(ok, k) for k in ("t_ms", "xy_px", "z_px", "world_m", "visibility", "presence")}
    kwargs[field] = value
    with pytest.raises(ValueError, match=f"^{field}: expected"):
        FramePose(**kwargs)


def test_live_module_does_not_import_streamlit() -> None:
    code = "import sys, formcheck.live; print('streamlit' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"})
    assert out.stdout.strip() == "False"


#: A live stream that opens the real model: blank frames first (nobody in view), then a lifter steps
#: in (the bundled clip's frames; MediaPipe logs again on the first frame it finds a person in).
_LIVE_STREAM_CODE = """
import sys
from fractions import Fraction
import av, numpy as np
from formcheck.live import LiveConfig, LiveProcessor
proc = LiveProcessor(LiveConfig(lift="squat", model="lite"), threaded=False)
tb = Fraction(1, 90000)
def blank(i):
    f = av.VideoFrame.from_ndarray(np.full((480, 640, 3), 90, np.uint8), format="rgb24")
    f.pts, f.time_base = i * 3000, tb
    return f
for i in range(5):
    proc.process(blank(i))
with av.open(sys.argv[1]) as c:
    for k, f in enumerate(c.decode(video=0)):
        if k == 20:
            break
        g = av.VideoFrame.from_ndarray(f.to_ndarray(format="rgb24"), format="rgb24")
        g.pts, g.time_base = 15000 + k * 3000, tb
        proc.process(g)
proc.stop()
assert proc.wait(60)
snap = proc.snapshot()
assert snap.stats.frames_processed == 25, snap.stats
print(len([p for p in proc.session.sequence.detected if p]))
"""


def test_live_model_keeps_mediapipe_native_logs_off_stderr(faults_clip: Path) -> None:
    """As offline (test_pose.test_native_logs_are_silenced): no INFO/W0000 lines from C++ on stderr."""
    import os

    env = {k: v for k, v in os.environ.items() if k not in ("FORMCHECK_VERBOSE", "GLOG_minloglevel",
                                                             "TF_CPP_MIN_LOG_LEVEL")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")])
    args = [sys.executable, "-c", _LIVE_STREAM_CODE, str(faults_clip)]
    quiet = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert int(quiet.stdout.strip()) > 0  # the lifter was found, so the first-person log line was due
    assert quiet.stderr.strip() == ""
    loud = subprocess.run(args, env={**env, "FORMCHECK_VERBOSE": "1"}, capture_output=True, text=True, timeout=300)
    assert loud.returncode == 0, loud.stderr[-2000:]
    assert "W0000" in loud.stderr or "INFO:" in loud.stderr


# --------------------------------------------------------------------------- smoothing
def test_smoother_masks_doubtful_points_and_smooths_jitter() -> None:
    rng = np.random.default_rng(0)
    sm = PoseSmoother(LiveConfig().filter, 480, 0.5)
    base = np.full((N_LANDMARKS, 2), 200.0)
    raw_dev, out_dev = [], []
    for i in range(60):
        xy = base + rng.normal(0, 3.0, base.shape)
        vis = np.ones(N_LANDMARKS)
        vis[5] = 0.2
        out = sm(FramePose(i * 33.3, xy, np.zeros(N_LANDMARKS), np.zeros((N_LANDMARKS, 3)), vis, vis))
        assert np.isnan(out.xy_px[5]).all()
        if i > 20:
            raw_dev.append(np.abs(xy[0] - 200).mean())
            out_dev.append(np.abs(out.xy_px[0] - 200).mean())
    assert np.mean(out_dev) < 0.6 * np.mean(raw_dev)


# --------------------------------------------------------------------------- analysis on simulated landmarks
@pytest.mark.parametrize("lift_choice", ["squat", "auto"], ids=["chosen", "auto"])
def test_analyzer_counts_reps_and_flags_the_faulty_rep(simulated_squat: Any, lift_choice: str) -> None:
    seq = simulated_squat.seq
    an = LiveAnalyzer(LiveConfig(lift=lift_choice), seq.frame_w, seq.frame_h)
    sm = PoseSmoother(LiveConfig().filter, seq.frame_h, 0.5)
    reps = []
    for k in range(0, seq.n_frames, 3):  # batches of 3, like the analysis thread at 10 Hz
        reps += an.push([sm(p) for p in poses_of(seq)[k:k + 3]])
    reps += an.finish()
    truth = simulated_squat.truth
    assert an.lift == "squat"
    assert len(reps) == len(truth.reps) == 4
    for r, t in zip(reps, truth.reps):
        assert r.start_ms < t.bottom_ms < r.end_ms and r.end_ms - r.start_ms > 0.5 * (t.end_ms - t.start_ms), (r, t)
    assert "excessive_forward_lean" in reps[1].codes
    assert "chest up" in [f.cue for f in reps[1].flags]
    assert "excessive_forward_lean" not in reps[0].codes + reps[3].codes
    assert "shallow_depth" in reps[2].codes and "go deeper" in [f.cue for f in reps[2].flags]
    assert reps[1].cue == reps[1].flags[0].cue


def test_analyzer_agrees_with_offline_on_the_same_landmarks(simulated_squat: Any) -> None:
    seq = simulated_squat.seq
    an = LiveAnalyzer(LiveConfig(lift="squat"), seq.frame_w, seq.frame_h)
    sm = PoseSmoother(LiveConfig().filter, seq.frame_h, 0.5)
    reps = an.push([sm(p) for p in poses_of(seq)]) + an.finish()
    off = analyze_sequence(seq, lift="squat").report
    assert len(reps) == off.rep_count
    for live, rep in zip(reps, off.reps):
        assert live.trunk_lean_max_deg == pytest.approx(rep["measures"]["excessive_forward_lean"]["value"], abs=4.0)
    off_codes = {(f["rep"] - 1, f["code"]) for f in off.flags}
    assert ("excessive_forward_lean" in reps[1].codes) == ((1, "excessive_forward_lean") in off_codes)


@pytest.mark.parametrize("lift_choice", ["deadlift", "auto"], ids=["chosen", "auto"])
def test_analyzer_on_a_deadlift_agrees_with_offline(lift_choice: str) -> None:
    from support.landmark_sim import MEDIAPIPE_LIKE, simulate_sequence

    seq = simulate_sequence("deadlift", view_deg=10.0, reps=3, corruption=MEDIAPIPE_LIKE, seed=5).seq
    an = LiveAnalyzer(LiveConfig(lift=lift_choice), seq.frame_w, seq.frame_h)
    sm = PoseSmoother(LiveConfig().filter, seq.frame_h, 0.5)
    poses = [sm(p) for p in poses_of(seq)]
    reps = [r for k in range(0, len(poses), 6) for r in an.push(poses[k:k + 6])] + an.finish()
    off = analyze_sequence(seq, lift="auto").report
    assert an.lift == off.lift == "deadlift"
    assert len(reps) == off.rep_count >= 3
    for live, rep in zip(reps, off.reps):
        assert live.end_ms == pytest.approx(rep["end_ms"], abs=300)


def test_analyzer_rejects_time_going_backwards() -> None:
    an = LiveAnalyzer(LiveConfig(), 640, 480)
    an.push([FramePose.empty(100.0)])
    with pytest.raises(ValueError, match="^t_ms: expected strictly increasing"):
        an.push([FramePose.empty(100.0)])


def test_analyzer_without_a_lifter_counts_nothing() -> None:
    an = LiveAnalyzer(LiveConfig(lift="auto"), 640, 480)
    assert an.push([FramePose.empty(i * 33.3) for i in range(200)]) == []
    assert an.finish() == [] and an.rep_count == 0 and an.lift is None


# --------------------------------------------------------------------------- processor with a fake landmarker
def _processor(seq: PoseSequence | None = None, **kw: Any) -> tuple[LiveProcessor, list[FakeLandmarker]]:
    made: list[FakeLandmarker] = []

    def factory(model: str) -> FakeLandmarker:
        made.append(FakeLandmarker(seq))
        return made[-1]

    return LiveProcessor(LiveConfig(**kw), landmarker_factory=factory, **{"threaded": False}), made


def test_landmarker_created_once_per_stream_and_closed_at_stop() -> None:
    finished: list[Any] = []
    proc, made = _processor()
    proc.on_finished = lambda s: finished.append(s) or "record-1"
    assert made == []  # nothing is opened before the first frame
    run_frames(proc, blank_frames(10))
    assert len(made) == 1 and len(made[0].calls) == 10 and made[0].closed == 0
    proc.on_ended()
    proc.on_ended()  # idempotent
    assert proc.wait(10)
    assert made[0].closed == 1
    after = run_frames(proc, blank_frames(3, t0_ms=1000))  # late frames pass through untouched
    assert len(made[0].calls) == 10 and len(after) == 3
    assert len(finished) == 1 and finished[0].sequence.n_frames == 10
    snap = proc.snapshot()
    assert (snap.status, snap.record) == ("saved", "record-1")


def test_queued_frames_skip_to_the_newest() -> None:
    proc, made = _processor()
    frames = blank_frames(7)
    out = asyncio.run(proc.recv_queued(frames[:4]))
    out += asyncio.run(proc.recv_queued(frames[4:]))
    assert len(out) == 2
    assert made[0].calls == [1, 100]  # frames 3 and 6, timed from the first processed frame (after warm-up at 0)
    s = proc.stats()
    assert (s.frames_in, s.frames_processed, s.frames_dropped) == (7, 2, 5)


def test_frames_not_later_than_the_last_are_dropped() -> None:
    proc, made = _processor()
    a, b = blank_frames(2)
    run_frames(proc, [a, b, blank_frames(1)[0]])  # the third repeats time 0
    assert len(made[0].calls) == 2 and proc.stats().frames_dropped == 1


def test_frames_pass_through_while_the_model_loads_and_a_failed_model_is_reported() -> None:
    gate = __import__("threading").Event()

    def slow_broken_model(model: str) -> Any:
        gate.wait(10)
        raise ValueError("pose model 'lite' not found")

    proc = LiveProcessor(LiveConfig(), landmarker_factory=slow_broken_model)
    outs = run_frames(proc, blank_frames(3))
    assert len(outs) == 3 and proc.stats().frames_processed == 0 and proc.stats().frames_dropped == 3
    gate.set()
    assert not proc.wait_ready(10)
    assert "pose model 'lite' not found" in proc.snapshot().message
    proc.stop()
    assert proc.wait(10) and proc.snapshot().status == "empty"


def test_model_that_opens_after_the_stream_ended_is_closed() -> None:
    gate = __import__("threading").Event()
    made: list[FakeLandmarker] = []

    def slow_model(model: str) -> FakeLandmarker:
        gate.wait(10)
        made.append(FakeLandmarker())
        return made[-1]

    proc = LiveProcessor(LiveConfig(), landmarker_factory=slow_model)
    run_frames(proc, blank_frames(2))
    proc.stop()
    gate.set()
    proc.wait_ready(10)
    assert len(made) == 1 and made[0].closed == 1 and made[0].calls == []


def test_failed_save_is_reported_not_raised() -> None:
    proc, _ = _processor()

    def boom(session: Any) -> None:
        raise OSError("disk full")

    proc.on_finished = boom
    run_frames(proc, blank_frames(3))
    proc.stop()
    assert proc.wait(10)
    snap = proc.snapshot()
    assert snap.status == "error" and "disk full" in snap.message


def test_stream_without_frames_saves_nothing() -> None:
    called: list[Any] = []
    proc, made = _processor()
    proc.on_finished = called.append
    proc.stop()
    assert proc.wait(10) and called == [] and made == []
    assert proc.snapshot().status == "empty"


@pytest.mark.parametrize("threaded", [False, True], ids=["inline", "thread"])
def test_processor_replays_landmarks_into_reps_and_cues(simulated_squat: Any, threaded: bool) -> None:
    seq = simulated_squat.seq
    made: list[FakeLandmarker] = []
    proc = LiveProcessor(LiveConfig(lift="squat"), threaded=threaded,
                         landmarker_factory=lambda m: made.append(FakeLandmarker(seq)) or made[-1])
    frames = blank_frames(seq.n_frames + 1, size=(seq.frame_w, seq.frame_h), fps=seq.fps_est)
    run_frames(proc, frames[:1])  # opens the model (on its own thread when threaded) and passes through
    assert proc.wait_ready(10)
    outs = run_frames(proc, frames[1:])
    proc.stop()
    assert proc.wait(30)
    snap = proc.snapshot()
    assert snap.rep_count == 4 and len(snap.reps) == 4
    assert "chest up" in [f.cue for f in snap.reps[1].flags]
    recorded = proc.session.sequence if proc.session is not None else None
    # inline opens the model at once and analyses the first frame; threaded passes it through
    assert recorded is not None and recorded.n_frames == seq.n_frames + (0 if threaded else 1)
    np.testing.assert_allclose(recorded.xy_px[:seq.n_frames], seq.xy_px, atol=1e-6)
    # the overlay draws on the returned frames (the input frames are flat grey)
    changed = [np.abs(o.to_ndarray(format="rgb24").astype(int) - 90).sum(axis=2) > 60 for o in outs[::30]]
    assert min(c.mean() for c in changed) > 0.01


# --------------------------------------------------------------------------- real frames of a bundled sample
@pytest.fixture(scope="module")
def faults_clip() -> Path:
    if not FAULTS_CLIP.is_file():
        pytest.skip(f"bundled sample {FAULTS_CLIP.name} is missing")
    return FAULTS_CLIP


@pytest.fixture(scope="module")
def live_run(faults_clip: Path) -> LiveProcessor:
    # inline analysis: the same code as the stream's thread, batched by stream time, so the run is repeatable
    proc = LiveProcessor(LiveConfig(lift="squat", model="lite"), threaded=False)
    run_frames(proc, clip_frames(faults_clip))
    proc.stop()
    assert proc.wait(60)
    return proc


@pytest.fixture(scope="module")
def offline_report(faults_clip: Path) -> Any:
    from formcheck.pose import extract_pose

    res = extract_pose(faults_clip, model="lite", workers=1)
    return analyze_sequence(res.sequence, lift="squat").report


def test_live_on_sample_counts_reps_and_cues_the_faulty_rep(live_run: LiveProcessor, faults_clip: Path) -> None:
    truth = json.loads(faults_clip.with_suffix(".json").read_text())
    snap = live_run.snapshot()
    assert snap.status == "saved" and snap.stats.frames_processed == truth["n_frames"]
    assert snap.rep_count == len(truth["reps"]) == len(snap.reps)
    lean_rep = next(r["index"] for r in truth["reps"] if "excessive_forward_lean" in r["faults"])
    live = snap.reps[lean_rep]
    assert "excessive_forward_lean" in live.codes and "chest up" in live.cues[:MAX_CUES_SHOWN]  # drawn
    clean = next(r["index"] for r in truth["reps"] if not r["faults"])
    assert "excessive_forward_lean" not in snap.reps[clean].codes


def test_live_on_sample_agrees_with_offline(live_run: LiveProcessor, offline_report: Any) -> None:
    snap = live_run.snapshot()
    assert snap.rep_count == offline_report.rep_count
    for live, rep in zip(snap.reps, offline_report.reps):
        assert live.start_ms == pytest.approx(rep["start_ms"], abs=300)
        assert live.end_ms == pytest.approx(rep["end_ms"], abs=300)
        assert live.trunk_lean_max_deg == pytest.approx(rep["measures"]["excessive_forward_lean"]["value"], abs=5.0)
    off_lean = {f["rep"] - 1 for f in offline_report.flags if f["code"] == "excessive_forward_lean"}
    assert {r.index for r in snap.reps if "excessive_forward_lean" in r.codes} == off_lean


def _kept_frames(n: int, seed: int, share: float, longest: int) -> np.ndarray:
    """Indices of the frames left when runs of 1..``longest`` frames are dropped at ``share`` of the frames
    (a busy machine: the stream hands over only the newest frame)."""
    rng = random.Random(seed)
    keep: list[int] = []
    i = 0
    while i < n:
        if rng.random() < share:
            i += rng.randint(1, longest)
            continue
        keep.append(i)
        i += 1
    return np.array(keep)


@pytest.mark.parametrize("seed, share, longest", [(1, 0.3, 3), (5, 0.3, 3), (20, 0.2, 6), (39, 0.2, 6)],
                         ids=["third-dropped-a", "third-dropped-b", "fifth-dropped-in-runs-a",
                              "fifth-dropped-in-runs-b"])
def test_saved_session_with_dropped_frames_keeps_every_rep(live_run: LiveProcessor, faults_clip: Path, seed: int,
                                                           share: float, longest: int) -> None:
    """A live session is analysed again from the frames it processed; under load many are dropped. The
    sample's shallow rep must not be lost then (it was, read as a change of the lifter's size: the browser
    test's stored session had a rep fewer than the live counter)."""
    truth = json.loads(faults_clip.with_suffix(".json").read_text())
    assert live_run.session is not None
    seq = live_run.session.sequence
    keep = _kept_frames(seq.n_frames, seed, share, longest)
    sparse = seq.with_(**{k: getattr(seq, k)[keep] for k in ("t_ms", "xy_px", "z_px", "world_m", "visibility",
                                                             "presence")})
    report = analyze_sequence(sparse, lift="squat").report
    assert report.rep_count == len(truth["reps"]), (report.reps, report.partial_reps)


def test_live_session_saved_like_an_upload(live_run: LiveProcessor, tmp_path: Path) -> None:
    from formcheck.storage import Store

    store = Store(tmp_path / "data")
    assert live_run.session is not None
    rec = save_live_session(live_run.session, store)
    assert rec.source_kind == "live" and rec.rep_count == 4
    assert [s.id for s in store.list_sessions()] == [rec.id]
    queue = store.review_queue()
    assert queue and {f.session_id for f in queue} == {rec.id}
    assert rec.file("pose") is not None
    assert PoseSequence.load(rec.file("pose")).n_frames == live_run.session.sequence.n_frames


def test_recorded_video_goes_with_the_session(tmp_path: Path, simulated_squat: Any) -> None:
    from formcheck.storage import Store
    from formcheck.video import probe

    store = Store(tmp_path / "data")
    seq = simulated_squat.seq
    proc = LiveProcessor(LiveConfig(record_video=True, video_dir=tmp_path / "rec"), threaded=False,
                         landmarker_factory=lambda m: FakeLandmarker(seq),
                         on_finished=lambda s: save_live_session(s, store))
    run_frames(proc, blank_frames(45, size=(seq.frame_w, seq.frame_h)))
    proc.stop()
    assert proc.wait(30) and proc.snapshot().status == "saved"
    rec = proc.snapshot().record
    video = rec.file("video")
    assert video is not None and probe(video).n_frames_est in range(40, 50)
    assert list((tmp_path / "rec").glob("*.mp4")) == []  # moved into the store


# --------------------------------------------------------------------------- the page (AppTest)
def _page_script(store_dir: str) -> None:
    from formcheck.app.live_page import render_live_page
    from formcheck.storage import Store

    render_live_page(Store(store_dir))


def _fake_ctx(playing: bool = False, processor: Any = None) -> SimpleNamespace:
    return SimpleNamespace(state=SimpleNamespace(playing=playing, signalling=False), video_processor=processor)


def _run_page(tmp_path: Path, ctx: SimpleNamespace, env: dict[str, str] | None = None) -> tuple[Any, Any]:
    from streamlit.testing.v1 import AppTest

    with mock.patch.dict("os.environ", env or {}), \
            mock.patch("streamlit_webrtc.webrtc_streamer", return_value=ctx) as ws:
        at = AppTest.from_function(_page_script, args=(str(tmp_path / "data"),), default_timeout=60).run()
    return at, ws


def test_page_renders_with_offline_rtc_configuration(tmp_path: Path) -> None:
    at, ws = _run_page(tmp_path, _fake_ctx())
    assert not at.exception, at.exception
    kw = ws.call_args.kwargs
    assert kw["rtc_configuration"] == {"iceServers": []}
    assert kw["media_stream_constraints"]["audio"] is False
    assert kw["media_stream_constraints"]["video"]["width"]["ideal"] == 640
    assert kw["async_processing"] is True
    assert "denied" in kw["translations"]["device_access_denied"]
    assert "No camera" in kw["translations"]["device_not_available"]
    proc = kw["video_processor_factory"]()
    assert isinstance(proc, LiveProcessor) and (proc.config.lift, proc.config.model) == ("squat", "lite")
    assert [s.value for s in at.selectbox] == ["squat", "lite"]
    assert any("Press Start" in i.value for i in at.info)
    help_text = " ".join(c.value for c in at.caption)
    assert "NotAllowedError" in help_text and "NotFoundError" in help_text


def test_page_passes_the_users_choices_to_the_processor(tmp_path: Path) -> None:
    from streamlit.testing.v1 import AppTest

    with mock.patch("streamlit_webrtc.webrtc_streamer", return_value=_fake_ctx()) as ws:
        at = AppTest.from_function(_page_script, args=(str(tmp_path / "data"),), default_timeout=60).run()
        at.selectbox(key="live_lift").select("auto")
        at.selectbox(key="live_model").select("full")
        at.text_input(key="live_athlete").input("Ana")
        at.checkbox(key="live_keep_video").check()
        at.run()
    assert not at.exception, at.exception
    cfg = ws.call_args.kwargs["video_processor_factory"]().config
    assert (cfg.lift, cfg.model, cfg.athlete, cfg.record_video) == ("auto", "full", "Ana", True)


def test_page_reports_a_bad_ice_setting(tmp_path: Path) -> None:
    at, ws = _run_page(tmp_path, _fake_ctx(), env={ENV_ICE_SERVERS: "not json"})
    assert not at.exception
    assert ws.call_count == 0 and ENV_ICE_SERVERS in at.error[0].value


def test_page_shows_reps_cues_and_the_saved_session(tmp_path: Path, simulated_squat: Any) -> None:
    seq = simulated_squat.seq
    proc = LiveProcessor(LiveConfig(lift="squat"), threaded=False, landmarker_factory=lambda m: FakeLandmarker(seq),
                         on_finished=lambda s: SimpleNamespace(id="a" * 32, rep_count=4, flag_count=3))
    run_frames(proc, blank_frames(seq.n_frames, size=(seq.frame_w, seq.frame_h)))
    proc.stop()
    assert proc.wait(30)
    at, _ = _run_page(tmp_path, _fake_ctx(processor=proc))
    assert not at.exception, at.exception
    assert at.metric[0].value == "4"
    table = at.table[0].value
    assert list(table["Rep"]) == [1, 2, 3, 4]
    assert "chest up" in table["Cues"][1]
    assert any("Saved to History: 4 reps, 3 flags" in s.value for s in at.success)


def test_page_while_streaming_locks_the_settings_and_shows_progress(tmp_path: Path, simulated_squat: Any) -> None:
    seq = simulated_squat.seq
    proc = LiveProcessor(LiveConfig(lift="squat"), threaded=False, landmarker_factory=lambda m: FakeLandmarker(seq))
    run_frames(proc, blank_frames(60, size=(seq.frame_w, seq.frame_h)))
    at, _ = _run_page(tmp_path, _fake_ctx(playing=True, processor=proc))
    assert not at.exception, at.exception
    assert all(w.disabled for w in (*at.selectbox, at.text_input[0], at.checkbox[0]))
    assert any("Frames processed: 60" in c.value for c in at.caption)
    assert not any("NotAllowedError" in c.value for c in at.caption)  # the camera help is for a stopped stream
    proc.stop()
    assert proc.wait(10)
