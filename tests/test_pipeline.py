"""formcheck.pipeline's IO edge: the clip is hashed once, and a rep's bar-check frames come from one pass."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pytest

from formcheck import pipeline, video
from formcheck.pose import PoseResult
from support import make_clips as mc
from support.seq_factory import make_seq, uniform_t_ms

FPS = 30.0
N_FRAMES = 90  # 3 s at 30 fps: frame i at 33.3 * i ms


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # short keyframe interval so the one-pass reader seeks (a start well after 0) like on phone clips
    return mc.write_clip(tmp_path_factory.mktemp("pipeline") / "clip.mp4", n_frames=N_FRAMES, fps=FPS, gop=10)


def test_analyze_video_hashes_the_clip_once_even_when_the_bar_check_reruns(
        clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A vetoed deadlift rise re-runs the analysis; the sha256 of the whole file must not be computed again."""
    seq = make_seq(uniform_t_ms(N_FRAMES, fps=FPS), frame_w=128, frame_h=96, height_px=80.0)
    monkeypatch.setattr(pipeline, "extract_pose",
                        lambda path, **kw: PoseResult(sequence=seq, masks=None, info=video.probe(path)))
    calls: list[Path] = []
    real_sha = pipeline.file_sha256

    def counting_sha(path, *a, **kw):  # noqa: ANN001, ANN202
        calls.append(Path(path))
        return real_sha(path, *a, **kw)

    monkeypatch.setattr(pipeline, "file_sha256", counting_sha)
    reruns: list[int] = []

    def vetoing_bar_check(path, analysis, rerun, rules_paths=None, frames=None):  # noqa: ANN001, ANN202
        reruns.append(1)
        return rerun(not_reps=[], extra_warnings=["a rise at 1.0 s left the bar on the floor: not counted"],
                     extra={"bar_check": []})

    monkeypatch.setattr(pipeline, "with_bar_check", vetoing_bar_check)
    res = pipeline.analyze_video(clip, out_dir=tmp_path, make_video=False, formats=("json",))
    assert reruns == [1]
    assert calls == [clip]
    assert res.report.source["sha256"] == real_sha(clip)
    assert "a rise at 1.0 s left the bar on the floor: not counted" in res.report.warnings


def _nearest_by_windows(frames: list[video.Frame], t: float) -> video.Frame | None:
    """The reference: the nearest frame in [t - 300, t + 200) (the earlier on a tie), as the
    per-time seek-and-decode did before."""
    cands = [f for f in frames if max(0.0, t - 300.0) <= f.t_ms < t + 200.0]
    return min(cands, key=lambda f: abs(f.t_ms - t)) if cands else None


NEAR_CASES = [
    ("floor-lockout-before", [1500.0, 2200.0, 700.0]),
    ("first-rep-two-times", [400.0, 1200.0]),
    ("near-the-start", [10.0, 250.0]),
    ("on-frame-times", [1000.0, 1000.0 + 1000.0 / 3.0]),
    ("tie-between-frames", [1000.0 / 60.0 * 31.0]),
    ("past-the-end", [2500.0, 3300.0, 5000.0]),
    ("wide-apart", [100.0, 2900.0]),
]


@pytest.mark.parametrize(("name", "times"), NEAR_CASES, ids=[c[0] for c in NEAR_CASES])
def test_frames_near_match_the_per_time_reads_in_one_pass(
        clip: Path, monkeypatch: pytest.MonkeyPatch, name: str, times: list[float]) -> None:
    every = list(video.iter_frames(clip))
    assert len(every) == N_FRAMES
    opened: list[dict] = []
    converted: list[int] = []
    real_iter, real_rgb = video.iter_frames, video._to_rgb

    def counting_iter(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        opened.append(kw)
        return real_iter(*a, **kw)

    def counting_rgb(frame, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        converted.append(1)
        return real_rgb(frame, *a, **kw)

    monkeypatch.setattr(pipeline.video, "iter_frames", counting_iter)
    monkeypatch.setattr(video, "_to_rgb", counting_rgb)
    got = pipeline._frames_near(clip, times, max_side=128)
    assert len(opened) == 1  # one seek and one decoding pass for all the times
    for t, frame in zip(times, got):
        want = _nearest_by_windows(every, t)
        if want is None:
            assert frame is None, (t, frame)
        else:
            assert frame is not None and frame.index == want.index and frame.t_ms == want.t_ms, (t, frame, want)
            assert mc.read_code(np.asarray(frame.rgb)) == want.index
    # only frames inside a window (plus the reader's first frame) were converted to RGB
    in_windows = sum(any(max(0.0, t - 300.0) <= f.t_ms < t + 200.0 for t in times) for f in every)
    assert len(converted) <= in_windows + 1


def test_frames_near_of_no_times_reads_nothing(clip: Path) -> None:
    assert pipeline._frames_near(clip, [], max_side=128) == []


SIZE_CASES = [
    ("1080p-landscape", (1920, 1080), 720, (1280, 720)),
    ("1080p-portrait", (1080, 1920), 720, (720, 1280)),
    ("small-kept", (640, 360), 720, (640, 360)),
    ("odd-made-even", (641, 361), 720, (640, 360)),
    ("odd-after-scaling", (1001, 1500), 720, (720, 1078)),
    ("no-cap", (1920, 1080), None, (1920, 1080)),
]


@pytest.mark.parametrize(("name", "src", "max_lines", "want"), SIZE_CASES, ids=[c[0] for c in SIZE_CASES])
def test_annotated_video_size_caps_the_short_side_keeps_aspect_and_is_even(
        name: str, src: tuple[int, int], max_lines: int | None, want: tuple[int, int]) -> None:
    from formcheck.overlay import output_size

    assert output_size(*src, max_lines) == want


StubbedClip = Callable[[str, tuple[int, int], float, int, Callable[[], None]], Path]


@pytest.fixture()
def stubbed_clip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> StubbedClip:
    """``make(name, size, height_px, n_frames, on_writer) -> clip``: an ``n_frames`` clip of ``size`` written to
    ``tmp_path``, its pose pass stubbed (one figure ``height_px`` tall, in the clip's own pixels) and the
    overlay's video writer wrapped so that ``on_writer()`` is called as it starts."""
    from formcheck import overlay

    real_writer = overlay.video.VideoWriter

    def make(name: str, size: tuple[int, int], height_px: float, n: int, on_writer: Callable[[], None]) -> Path:
        clip = mc.write_clip(tmp_path / name, n_frames=n, size=size, fps=FPS)
        seq = make_seq(uniform_t_ms(n, fps=FPS), frame_w=size[0], frame_h=size[1], height_px=height_px)
        monkeypatch.setattr(pipeline, "extract_pose",
                            lambda path, **kw: PoseResult(sequence=seq, masks=None, info=video.probe(path)))

        def writer(path, fps, size, **kw):  # noqa: ANN001, ANN202
            on_writer()
            return real_writer(path, fps, size, **kw)

        monkeypatch.setattr(overlay.video, "VideoWriter", writer)
        return clip

    return make


def test_1080p_clip_gives_a_720_line_video_written_after_the_reports(
        tmp_path: Path, stubbed_clip: StubbedClip) -> None:
    """Results first: every report and flag image exists when the video writer starts; the video is 720p."""
    n = 12
    out = tmp_path / "out"
    seen: list[list[str]] = []
    # landmarks in full-size pixels (as with pose max_side=None): the cap, not the pose size, must shrink it
    big = stubbed_clip("big.mp4", (1920, 1080), 800.0, n, lambda: seen.append(sorted(p.name for p in out.iterdir())))
    res = pipeline.analyze_video(big, out_dir=out)
    assert len(seen) == 1
    assert {"big.report.json", "big.report.md", "big.report.html"} <= set(seen[0])
    images = [p.name for k, p in res.files.items() if k.startswith("worst_") or k == "plot"]
    assert set(images) <= set(seen[0])
    frames = video.read_all(res.files["video"])
    assert len(frames) == n
    assert (frames[0].width, frames[0].height) == (1280, 720)


def test_on_report_gets_every_file_but_the_video_before_the_video_is_written(
        tmp_path: Path, stubbed_clip: StubbedClip) -> None:
    """The app's hook: called once, after the report files exist and before the video writer starts."""
    events: list[str] = []
    got: list[pipeline.ClipResult] = []
    clip = stubbed_clip("clip.mp4", (640, 480), 400.0, 12, lambda: events.append("video"))

    def on_report(result: pipeline.ClipResult) -> None:
        events.append("report")
        got.append(result)

    res = pipeline.analyze_video(clip, out_dir=tmp_path / "out", on_report=on_report)
    assert events == ["report", "video"]
    assert "video" not in got[0].files and all(p.is_file() for p in got[0].files.values())
    assert {"json", "md", "html"} <= set(got[0].files) and "video" in res.files


def test_one_analyze_run_parses_each_rules_file_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A tuned rules file given on the command line is parsed once per run (the CLI reads it, then the
    analysis, its bar-check re-run and the bar check use that object); a packaged one at most once."""
    import importlib.resources
    import tomllib
    from types import SimpleNamespace

    from formcheck import cli, rules
    from support.landmark_sim import simulate_sequence

    tuned = tmp_path / "my_deadlift.toml"
    tuned.write_text((importlib.resources.files("formcheck") / "config" / "deadlift.toml").read_text("utf-8"),
                     encoding="utf-8")
    parsed: list[str] = []

    def counting_loads(text: str, **kw):  # noqa: ANN202
        data = tomllib.loads(text, **kw)
        parsed.append(str(data.get("lift")) + (" tuned" if text == tuned.read_text("utf-8") else " packaged"))
        return data

    monkeypatch.setattr(rules, "tomllib", SimpleNamespace(loads=counting_loads, TOMLDecodeError=tomllib.TOMLDecodeError))
    rules._load_packaged.cache_clear()  # so a packaged parse in this run is seen
    seq = simulate_sequence("deadlift", view_deg=90.0, reps=2).seq
    assert seq.n_frames > 0
    clip = mc.write_clip(tmp_path / "clip.mp4", n_frames=30, fps=FPS)
    monkeypatch.setattr(pipeline, "extract_pose",
                        lambda path, **kw: PoseResult(sequence=seq, masks=None, info=video.probe(path)))
    bar_checks: list[int] = []
    real_checks = pipeline.deadlift_bar_checks

    def vetoing_checks(path, analysis, rules_paths=None, frames=None):  # noqa: ANN001, ANN202
        out = real_checks(path, analysis, rules_paths, frames=frames)
        bar_checks.append(len(out))
        return [(rep, pipeline.BarCheck("bar stayed", 0.0, 0.0, 0.0, 0.0, "test")) for rep, _ in out[:1]] + out[1:]

    monkeypatch.setattr(pipeline, "deadlift_bar_checks", vetoing_checks)
    given = cli._rules_paths([tuned])
    res = pipeline.analyze_video(clip, lift="deadlift", out_dir=tmp_path / "out", make_video=False,
                                 rules_paths=given)
    assert bar_checks and bar_checks[0] >= 1, "the bar check must have run on a counted rep"
    assert any("left the bar on the floor" in w for w in res.report.warnings), "the re-run must have happened"
    assert parsed.count("deadlift tuned") == 1
    assert parsed.count("deadlift packaged") == 0
    assert parsed.count("squat packaged") <= 1


def test_bar_check_and_worst_flag_frames_come_from_one_decoding_pass(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A deadlift with flags and bar checks on every rep (and a vetoed rise, so the analysis re-runs)
    opens the clip once for all those frames; each flag image shows the frame nearest its time."""
    from support.landmark_sim import MEDIAPIPE_LIKE, simulate_sequence
    from tools.synth.kinematics import Fault

    # side view (0 deg), a fault on the second rep: the first rep's rise is vetoed below, the flag stays.
    # A lean-back of 30 deg at lockout clears its limit and error band (the preset hips-rise-early reads
    # borderline since the bands landed, and a borderline reading has no flag image)
    seq = simulate_sequence("deadlift", 0.0, 3, corruption=MEDIAPIPE_LIKE.with_seed(1),
                            faults={1: Fault(lean_back_deg=30.0)}, seed=0).seq
    n = int(np.searchsorted(seq.t_ms, seq.t_ms[-1])) + 1
    clip = mc.write_clip(tmp_path / "clip.mp4", n_frames=n, fps=FPS, gop=15)
    monkeypatch.setattr(pipeline, "extract_pose",
                        lambda path, **kw: PoseResult(sequence=seq, masks=None, info=video.probe(path)))
    real_checks = pipeline.deadlift_bar_checks
    checked: list[int] = []

    def vetoing_checks(path, analysis, rules_paths=None, frames=None):  # noqa: ANN001, ANN202
        out = real_checks(path, analysis, rules_paths, frames=frames)
        checked.append(len(out))
        return [(rep, pipeline.BarCheck("bar stayed", 0.0, 0.0, 0.0, 0.0, "test")) for rep, _ in out[:1]] + out[1:]

    monkeypatch.setattr(pipeline, "deadlift_bar_checks", vetoing_checks)
    opened: list[dict] = []
    real_iter = video.iter_frames

    def counting_iter(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        opened.append(kw)
        return real_iter(*a, **kw)

    monkeypatch.setattr(pipeline.video, "iter_frames", counting_iter)
    drawn: dict[float, video.Frame] = {}
    real_draw = pipeline.draw_flag_frame

    def recording_draw(frame, seq_, flag, *a, **kw):  # noqa: ANN001, ANN002, ANN003, ANN202
        drawn[flag["t_ms"]] = frame
        return real_draw(frame, seq_, flag, *a, **kw)

    monkeypatch.setattr(pipeline, "draw_flag_frame", recording_draw)
    res = pipeline.analyze_video(clip, lift="deadlift", out_dir=tmp_path / "out", make_video=False)
    assert len(checked) == 1 and checked[0] >= 3, "every rep must have been bar-checked"
    assert res.report.flags, "the clip must have flags whose frames are drawn"
    assert len(opened) == 1, opened
    every = list(real_iter(clip))
    for f in res.report.flags:
        png = res.files[f"worst_{f['rep']}_{f['code']}"]
        assert png.is_file()
        want = min((fr for fr in every if f["t_ms"] - 500.0 <= fr.t_ms < f["t_ms"] + 200.0),
                   key=lambda fr: abs(fr.t_ms - f["t_ms"]))
        got = drawn[f["t_ms"]]
        assert (got.index, got.t_ms) == (want.index, want.t_ms)
        assert mc.read_code(np.asarray(got.rgb)) == want.index


RERUN_CASES = [("deadlift-veto-first-rep", "deadlift", True), ("squat-same-call-twice", "squat", False)]


@pytest.mark.parametrize(("name", "lift", "veto"), RERUN_CASES, ids=[c[0] for c in RERUN_CASES])
def test_a_second_analysis_of_the_same_poses_reuses_the_cleaning_and_reports_the_same(
        monkeypatch: pytest.MonkeyPatch, name: str, lift: str, veto: bool) -> None:
    """The bar check's re-run analyses the very same pose sequence: cleaning, view and frame metrics are
    not computed again, and the report is the one a fresh analysis of an equal (not the same) sequence gives."""
    from dataclasses import replace as dc_replace

    from formcheck import analysis
    from support.landmark_sim import simulate_sequence

    seq = simulate_sequence(lift, 0.0, 3, seed=0).seq
    cleaned: list[int] = []
    real_clean = analysis.clean
    monkeypatch.setattr(analysis, "clean", lambda raw, params=None: cleaned.append(1) or real_clean(raw, params))
    first = analysis.analyze_sequence(seq, lift=lift)
    rep = first.segmentation.reps[0]
    not_reps = [(rep.bottom_ms, rep.end_ms)] if veto else []
    again = analysis.analyze_sequence(seq, lift=lift, not_reps=not_reps)
    assert cleaned == [1]
    fresh = analysis.analyze_sequence(dc_replace(seq), lift=lift, not_reps=not_reps)  # an equal copy: cleaned anew
    assert cleaned == [1, 1]
    assert again.report.to_json() == fresh.report.to_json()
    assert again.report.rep_count == first.report.rep_count - (1 if veto else 0)
