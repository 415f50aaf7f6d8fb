"""formcheck.pose: accuracy on synthetic clips, lifter choice, NaN rows, parallel chunks, cleanup.

Clips are cut or composed from the sample videos into tmp folders; the
ground truth is the generator's per-frame ``xy_px`` (see docs/synthetic.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import zipfile
import types
from dataclasses import replace
from pathlib import Path

import cv2
import numpy as np
import pytest

from formcheck import pose, video
from formcheck.landmarks import N_LANDMARKS, Landmark, mirror_index
from formcheck.pose import MaskTrack, PoseResult, extract_pose

BODY = [
    Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER, Landmark.LEFT_ELBOW, Landmark.RIGHT_ELBOW,
    Landmark.LEFT_WRIST, Landmark.RIGHT_WRIST, Landmark.LEFT_HIP, Landmark.RIGHT_HIP,
    Landmark.LEFT_KNEE, Landmark.RIGHT_KNEE, Landmark.LEFT_ANKLE, Landmark.RIGHT_ANKLE,
]
#: Mean landmark error allowed against the generator's ground truth (px at 640x480).
MAX_MEAN_ERR_PX = 15.0


# --------------------------------------------------------------------------- helpers
@pytest.fixture(scope="module")
def model_path() -> Path:
    from formcheck.models import ModelNotFoundError, resolve_model

    try:
        return resolve_model("full")
    except ModelNotFoundError as exc:
        pytest.skip(f"no pose model: {exc}")


def _sample(samples_dir: Path, stem: str) -> tuple[Path, dict]:
    mp4 = samples_dir / f"{stem}.mp4"
    gt = samples_dir / f"{stem}.json"
    if not mp4.is_file() or not gt.is_file():
        pytest.skip(f"sample {stem} not rendered yet")
    return mp4, json.loads(gt.read_text())


def _write(path: Path, frames: list[tuple[float, np.ndarray]], fps: float = 30.0) -> Path:
    h, w = frames[0][1].shape[:2]
    with video.VideoWriter(path, fps, (w, h), crf=18) as wr:
        for t, rgb in frames:
            wr.write(np.ascontiguousarray(rgb), t_ms=t)
    return path


def _cut(src: Path, dst: Path, end_ms: float) -> Path:
    return _write(dst, [(f.t_ms, f.rgb) for f in video.iter_frames(src, end_ms=end_ms)])


def _err_px(xy: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-frame mean body-landmark distance, the better of as-labelled and left/right swapped."""
    direct = np.linalg.norm(xy[:, BODY] - truth[:, BODY], axis=2).mean(axis=1)
    swapped = np.linalg.norm(xy[:, mirror_index()][:, BODY] - truth[:, BODY], axis=2).mean(axis=1)
    return np.fmin(direct, swapped)


def _rows_at(t_all: np.ndarray, rows: np.ndarray, t_ms: np.ndarray) -> np.ndarray:
    """The rows of a per-frame array (frame times ``t_all``) for the analysed frames at ``t_ms``."""
    return np.asarray(rows)[[int(np.argmin(np.abs(np.asarray(t_all) - t))) for t in t_ms]]


def _truth_at(gt: dict, t_ms: np.ndarray) -> np.ndarray:
    t_gt = np.asarray(gt["frames"]["t_ms"])
    idx = np.array([int(np.argmin(np.abs(t_gt - t))) for t in t_ms])
    assert np.all(np.abs(t_gt[idx] - t_ms) < 1.0), "clip frames do not line up with the ground truth"
    return np.asarray(gt["frames"]["xy_px"], dtype=float)[idx]


SHORT_SOURCES = ("squat_side_good", "squat_side_faults", "deadlift_side_good", "squat_front_kneecave")


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory, samples_dir: Path) -> tuple[Path, dict]:
    """The first 4 s of a sample (the good side squat when rendered): setup and a first descent."""
    for stem in SHORT_SOURCES:
        if (samples_dir / f"{stem}.mp4").is_file() and (samples_dir / f"{stem}.json").is_file():
            src, gt = _sample(samples_dir, stem)
            return _cut(src, tmp_path_factory.mktemp("short") / "short.mp4", 4000.0), gt
    pytest.skip("no sample video rendered yet")


@pytest.fixture(scope="module")
def short_single(short_clip: tuple[Path, dict], model_path: Path) -> PoseResult:
    return extract_pose(short_clip[0], model=str(model_path), workers=1)


# --------------------------------------------------------------------------- accuracy
@pytest.mark.parametrize(
    "stem, end_ms",
    [("squat_side_good", 4000.0), ("deadlift_side_good", 4000.0), ("squat_front_kneecave", 4000.0)],
    ids=["squat-side", "deadlift-side", "squat-front"],
)
def test_sample_detection_and_error(tmp_path, samples_dir, model_path, stem, end_ms):
    src, gt = _sample(samples_dir, stem)
    clip = _cut(src, tmp_path / f"{stem}.mp4", end_ms)
    res = extract_pose(clip, model=str(model_path), workers=1)
    seq = res.sequence
    assert seq.detection_rate == 1.0
    assert (seq.frame_w, seq.frame_h) == (gt["width"], gt["height"])
    err = _err_px(seq.xy_px, _truth_at(gt, seq.t_ms))
    assert np.nanmean(err) < MAX_MEAN_ERR_PX, f"mean landmark error {np.nanmean(err):.1f} px"


def test_result_fields(short_single, short_clip):
    res = short_single
    seq = res.sequence
    t_all = np.array([f.t_ms for f in video.iter_frames(short_clip[0])])
    kept = pose.analysis_frames(t_all, res.stats["analysis_step_ms"])  # the frame-rate cap's choice
    # ...of which the adaptive stride skipped some while the lifter stood still
    assert seq.n_frames == int(kept.sum()) - res.stats["frames_strided"] == res.stats["frames"] \
        == len(t_all) - res.stats["frames_skipped"]
    assert np.isin(np.round(seq.t_ms, 1), np.round(t_all[kept], 1)).all()
    assert res.masks is None
    assert res.stats["workers"] == 1 and res.stats["model"] == Path(str(res.stats["model_path"])).stem
    assert 0 < res.stats["seconds"] and res.stats["realtime_factor"] > 0
    assert np.all(np.isfinite(seq.world_m[seq.detected]))
    assert np.all((seq.visibility >= 0) & (seq.visibility <= 1))
    assert seq.meta["formcheck_version"]


def test_downscale_keeps_pixels_of_analysed_frame(short_clip, short_single, model_path):
    # every frame the cap keeps (no adaptive stride: its choice follows the landmarks, which differ
    # a little with the size), so every row of the default pass has its twin here
    small = extract_pose(short_clip[0], model=str(model_path), workers=1, max_side=320, max_stride=1).sequence
    full = short_single.sequence
    assert (small.frame_w, small.frame_h) == (320, 240)
    rows = np.searchsorted(small.t_ms, full.t_ms)
    np.testing.assert_array_equal(small.t_ms[rows], full.t_ms)
    diff = np.linalg.norm(small.xy_px[rows][:, BODY] * 2.0 - full.xy_px[:, BODY], axis=2)
    assert np.nanmedian(diff) < 8.0


# --------------------------------------------------------------------------- several people
def test_two_people_clip_picks_lifter(test_data, model_path):
    clip = test_data / "two_people.mp4"
    if not clip.is_file():
        pytest.skip("tests/data/two_people.mp4 not rendered yet")
    gt = json.loads(clip.with_suffix(".json").read_text())
    seq = extract_pose(clip, model=str(model_path)).sequence
    lifter = _err_px(seq.xy_px, _truth_at(gt, seq.t_ms))
    other = _err_px(seq.xy_px, _rows_at(gt["frames"]["t_ms"], np.asarray(gt["other_person"]["xy_px"], dtype=float),
                                        seq.t_ms))
    picked = np.nan_to_num(lifter, nan=np.inf) < np.nan_to_num(other, nan=np.inf)
    assert picked.mean() >= 0.95


@pytest.fixture(scope="module")
def two_visible_people(tmp_path_factory, samples_dir) -> tuple[Path, np.ndarray]:
    """3 s: the front squat lifter on the left, a 85% copy (half a clip later) on the right.

    Both figures are large enough for MediaPipe to find, unlike the small
    bystander of two_people.mp4. Returns the clip and the lifter's truth.
    """
    src, gt = _sample(samples_dir, "squat_front_kneecave")
    frames = video.read_all(src, end_ms=3000.0)
    later = video.read_all(src, start_ms=4000.0, end_ms=7000.0)
    truth = np.asarray(gt["frames"]["xy_px"], dtype=float)[: len(frames)]
    h, w = frames[0].rgb.shape[:2]
    cx = int(np.nanmedian(truth[:, [Landmark.LEFT_HIP, Landmark.RIGHT_HIP], 0]))
    x0 = min(max(cx - w // 4, 0), w // 2)
    s = 0.85
    sh, sw = int(h * s), int(w // 2 * s)
    out = []
    for i, f in enumerate(frames):
        canvas = np.empty_like(f.rgb)
        canvas[:] = f.rgb[0, 0]
        canvas[:, : w // 2] = f.rgb[:, x0 : x0 + w // 2]
        other = later[min(i, len(later) - 1)].rgb[:, x0 : x0 + w // 2]
        canvas[h - sh :, w // 2 + 10 : w // 2 + 10 + sw] = cv2.resize(other, (sw, sh), interpolation=cv2.INTER_AREA)
        out.append((f.t_ms, canvas))
    clip = _write(tmp_path_factory.mktemp("two") / "two_visible.mp4", out)
    return clip, truth - np.array([x0, 0.0])


@pytest.mark.parametrize(
    "kwargs",
    [dict(workers=1), dict(workers=1, num_poses=2), dict(workers=2)],
    ids=["auto-poses", "fixed-2-poses", "two-workers"],
)
def test_visible_bystander_is_not_the_lifter(two_visible_people, model_path, kwargs):
    clip, truth = two_visible_people
    res = extract_pose(clip, model=str(model_path), **kwargs)
    seq = res.sequence
    assert res.stats["people_max"] == 2, "the composed clip should show MediaPipe two people"
    assert res.stats["num_poses"] >= 2
    err = _err_px(seq.xy_px, _rows_at([f.t_ms for f in video.iter_frames(clip)], truth, seq.t_ms))
    assert np.mean(np.nan_to_num(err, nan=np.inf) < 30.0) >= 0.95


# --------------------------------------------------------------------------- tracking logic (no model)
def _person(cx: float, top: float, height: float) -> np.ndarray:
    """A crude 33-landmark figure: all points on a vertical line, torso in the middle."""
    img = np.zeros((N_LANDMARKS, 5), dtype=np.float32)
    img[:, 0] = cx
    img[:, 1] = np.linspace(top, top + height, N_LANDMARKS)
    for lm, frac in ((Landmark.LEFT_SHOULDER, 0.25), (Landmark.RIGHT_SHOULDER, 0.25),
                     (Landmark.LEFT_HIP, 0.5), (Landmark.RIGHT_HIP, 0.5)):
        img[int(lm), 1] = top + frac * height
    img[:, 3:] = 0.9
    return img


def _run_tracker(frames: list[list[tuple[float, float, float]]], dt_ms: float = 33.3):
    t = np.arange(len(frames)) * dt_ms
    counts = np.array([len(f) for f in frames])
    dets = [_person(*p) for f in frames for p in f]
    img = np.stack(dets) if dets else np.zeros((0, N_LANDMARKS, 5), np.float32)
    centre, size = pose._person_geometry(img)
    track = pose._assign_tracks(t, counts, centre, size)
    frame_of = np.repeat(np.arange(len(frames)), counts)
    chosen, n_tracks = pose._pick_lifter(frame_of, track, centre, size, t, 480)
    xs = np.array([img[d, 0, 0] if d >= 0 else np.nan for d in chosen])
    return xs, n_tracks


LIFTER = (200.0, 50.0, 380.0)
BYSTANDER = (520.0, 150.0, 200.0)


@pytest.mark.parametrize(
    "frames, want_x, want_tracks",
    [
        ([[BYSTANDER, LIFTER]] * 30, [200.0] * 30, 2),
        ([[LIFTER, BYSTANDER] if i % 2 else [BYSTANDER, LIFTER] for i in range(30)], [200.0] * 30, 2),
        ([[LIFTER]] * 10 + [[]] * 10 + [[(210.0, 50.0, 380.0)]] * 10, [200.0] * 10 + [np.nan] * 10 + [210.0] * 10, 1),
        ([[LIFTER]] * 20 + [[(520.0, 60.0, 370.0)]] * 20, [200.0] * 20 + [520.0] * 20, 2),
        ([[LIFTER, BYSTANDER]] * 20 + [[BYSTANDER]] * 2 + [[LIFTER, BYSTANDER]] * 20,
         [200.0] * 20 + [np.nan] * 2 + [200.0] * 20, 2),
        ([[(200.0 + 8.0 * i, 50.0, 380.0), (600.0 - 8.0 * i, 150.0, 200.0)] for i in range(40)],
         [200.0 + 8.0 * i for i in range(40)], 2),
    ],
    ids=["bystander-listed-first", "order-alternates", "lost-and-found", "cut-to-new-place",
         "lifter-missing-bystander-stays", "walk-past-each-other"],
)
def test_tracking_follows_the_lifter(frames, want_x, want_tracks):
    xs, n_tracks = _run_tracker(frames)
    np.testing.assert_allclose(xs, np.asarray(want_x, dtype=float), atol=1e-3)
    assert n_tracks == want_tracks


def test_tracking_without_detections():
    xs, n_tracks = _run_tracker([[]] * 5)
    assert np.isnan(xs).all() and n_tracks == 0


# --------------------------------------------------------------------------- NaN rows
def test_blank_frames_become_nan_rows(tmp_path, short_clip, model_path):
    person = video.read_all(short_clip[0], end_ms=3000.0)
    grey = np.full_like(person[0].rgb, 128)
    step = 1000.0 / 30.0
    frames = [(i * step, f.rgb) for i, f in enumerate(person[:45])]
    frames += [((45 + i) * step, grey) for i in range(30)]
    frames += [((75 + i) * step, f.rgb) for i, f in enumerate(person[45:90])]
    clip = _write(tmp_path / "gap.mp4", frames)
    res = extract_pose(clip, model=str(model_path), workers=1)
    seq = res.sequence
    t_all = np.array([t for t, _ in frames])
    kept = np.isin(np.round(t_all, 1), np.round(seq.t_ms, 1))  # a row for each analysed frame
    assert seq.n_frames == int(kept.sum())
    assert not (kept & ~pose.analysis_frames(t_all, res.stats["analysis_step_ms"])).any()
    blank = np.zeros(len(frames), dtype=bool)
    blank[45:75] = True
    blank = blank[kept]
    assert not seq.detected[blank].any()
    assert np.isnan(seq.xy_px[blank]).all() and (seq.visibility[blank] == 0).all()
    assert seq.detected[~blank].mean() >= 0.95


def test_no_person_is_a_result(tmp_path, model_path):
    frames = [(i * 40.0, np.full((240, 320, 3), 60 + i, np.uint8)) for i in range(20)]
    res = extract_pose(_write(tmp_path / "empty.mp4", frames, fps=25.0), model=str(model_path), workers=1)
    assert res.sequence.n_frames == 20
    assert res.stats["detected"] == 0 and res.sequence.detection_rate == 0.0


# --------------------------------------------------------------------------- parallel chunks
def test_parallel_matches_single(short_clip, short_single, model_path):
    progress: list[tuple[int, int]] = []
    par = extract_pose(short_clip[0], model=str(model_path), workers=2,
                       progress=lambda d, t: progress.append((d, t)))
    a, b = short_single.sequence, par.sequence
    assert par.stats["workers"] == 2 and par.stats["warmup_frames"] > 0
    np.testing.assert_array_equal(a.t_ms, b.t_ms)
    np.testing.assert_array_equal(a.detected, b.detected)
    diff = np.linalg.norm(a.xy_px[:, BODY] - b.xy_px[:, BODY], axis=2)
    assert np.nanmedian(diff) < 1.0
    assert np.nanpercentile(diff, 95) < 10.0
    done = [d for d, _ in progress]
    assert done == sorted(done) and progress[-1] == (a.n_frames, a.n_frames)


def test_parallel_ignores_a_page_script_as_main(short_clip, short_single, model_path, tmp_path, monkeypatch):
    # inside `streamlit run` (and after Streamlit's AppTest) __main__ is a page script; workers must not run it
    script = tmp_path / "page.py"
    script.write_text("raise RuntimeError('page script executed in a pose worker')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    par = extract_pose(short_clip[0], model=str(model_path), workers=2)
    assert par.stats["workers"] == 2
    np.testing.assert_array_equal(par.sequence.detected, short_single.sequence.detected)


@pytest.mark.parametrize(
    "duration_ms, workers, want",
    [
        (None, 2, [(None, None, -np.inf, np.inf)]),
        (10_000.0, 1, [(None, None, -np.inf, np.inf)]),
        (10_000.0, 2, [(None, 5500.0, -np.inf, 5000.0), (4000.0, None, 5000.0, np.inf)]),
        (1500.0, 2, [(None, 1250.0, -np.inf, 750.0), (0.0, None, 750.0, np.inf)]),
    ],
    ids=["unknown-duration", "one-worker", "two-workers", "shorter-than-warmup"],
)
def test_plan_chunks(duration_ms, workers, want):
    assert pose._plan_chunks(duration_ms, workers) == want


@pytest.mark.parametrize(
    "duration_ms, want", [(None, 1), (3000.0, 1), (pose.AUTO_PARALLEL_MIN_MS, 2), (600_000.0, 2)],
    ids=["unknown", "short", "threshold", "long"],
)
def test_auto_workers(monkeypatch, duration_ms, want):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0, 1}, raising=False)
    assert pose.auto_workers(duration_ms) == want
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0}, raising=False)
    assert pose.auto_workers(duration_ms) == 1


# --------------------------------------------------------------------------- cleanup and errors
class _Recorder:
    """Wraps real landmarkers, records close() and fails on a chosen call."""

    def __init__(self, real_factory, fail_on: str | None, fail_at: int) -> None:
        self.real_factory = real_factory
        self.fail_on, self.fail_at = fail_on, fail_at
        self.created: list[_Recorder.Wrapped] = []

    class Wrapped:
        def __init__(self, real, owner: "_Recorder", video_mode: bool) -> None:
            self.real, self.owner, self.video_mode = real, owner, video_mode
            self.closed = False
            self.calls = 0

        def _maybe_fail(self, kind: str) -> None:
            self.calls += 1
            if self.owner.fail_on == kind and self.calls >= self.owner.fail_at:
                raise RuntimeError(f"injected {kind} failure")

        def detect_for_video(self, image, ts):
            self._maybe_fail("video")
            return self.real.detect_for_video(image, ts)

        def detect(self, image):
            self._maybe_fail("scan")
            return self.real.detect(image)

        def close(self) -> None:
            self.closed = True
            self.real.close()

    def __call__(self, model_path, num_poses, masks, video_mode=True):
        w = _Recorder.Wrapped(self.real_factory(model_path, num_poses, masks, video_mode), self, video_mode)
        self.created.append(w)
        return w


@pytest.mark.parametrize("workers", [1, 2], ids=["one-chunk", "two-chunks"])
@pytest.mark.parametrize(
    "fail_on, fail_at, exc",
    [("video", 3, RuntimeError), ("scan", 1, RuntimeError), ("decode", 3, video.VideoError), (None, 0, None)],
    ids=["inference", "people-scan", "decode", "no-failure"],
)
def test_landmarkers_always_closed(monkeypatch, short_clip, model_path, fail_on, fail_at, exc, workers):
    rec = _Recorder(pose._create_landmarker, fail_on, fail_at)
    monkeypatch.setattr(pose, "_create_landmarker", rec)
    if fail_on == "decode":
        real_iter = video.iter_frames

        def failing(*args, **kwargs):
            for i, fr in enumerate(real_iter(*args, **kwargs)):
                if i >= fail_at:
                    raise video.VideoError("injected decode failure")
                yield fr

        monkeypatch.setattr(video, "iter_frames", failing)
    threads_before = set(threading.enumerate())
    if exc is None:
        res = extract_pose(short_clip[0], model=str(model_path), workers=workers)
        assert res.stats["workers"] == workers
    else:
        with pytest.raises(exc, match="injected"):
            extract_pose(short_clip[0], model=str(model_path), workers=workers)
    assert rec.created and all(w.closed for w in rec.created)
    # with two chunks, both ran (the failing one and the one told to stop), and no thread outlives the call
    assert len({id(w) for w in rec.created if w.video_mode}) >= workers
    assert not [t for t in threading.enumerate() if t not in threads_before and t.name.startswith("formcheck-")]


def test_stderr_silencing_nests_across_threads(tmp_path):
    """Overlapping silenced sections in two threads restore fd 2 only when the last one ends."""
    log = tmp_path / "stderr.txt"
    fd = os.open(log, os.O_WRONLY | os.O_CREAT)
    saved = os.dup(2)
    os.dup2(fd, 2)
    try:
        first_in, second_in, first_out = threading.Event(), threading.Event(), threading.Event()

        def first() -> None:
            with pose.native_stderr_silenced():
                first_in.set()
                second_in.wait(10)
                os.write(2, b"hidden-1\n")
            first_out.set()

        def second() -> None:
            first_in.wait(10)
            with pose.native_stderr_silenced():
                second_in.set()
                first_out.wait(10)
                os.write(2, b"hidden-2\n")

        ths = [threading.Thread(target=first), threading.Thread(target=second)]
        for t in ths:
            t.start()
        for t in ths:
            t.join(20)
        os.write(2, b"visible\n")
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(fd)
    assert log.read_text() == "visible\n"


def test_worker_failure_is_raised_not_hung(tmp_path, short_clip):
    bad = tmp_path / "broken.task"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("pose_detector.tflite", b"not a model")
    with pytest.raises((RuntimeError, ValueError, OSError), match="pose_landmarks_detector"):
        extract_pose(short_clip[0], model=str(bad), workers=2)


@pytest.mark.parametrize(
    "kwargs, match",
    [(dict(workers=0), "workers"), (dict(max_side=8), "max_side"), (dict(num_poses=9), "num_poses")],
    ids=["workers", "max-side", "num-poses"],
)
def test_bad_arguments(tmp_path, kwargs, match):
    with pytest.raises(ValueError, match=match):
        extract_pose(tmp_path / "never-opened.mp4", **kwargs)


def test_not_a_video_is_a_video_error(tmp_path):
    p = tmp_path / "notes.mp4"
    p.write_text("hello")
    with pytest.raises(video.VideoError):
        extract_pose(p)


@pytest.mark.parametrize("workers", [1, 2], ids=["one-chunk", "two-chunks"])
def test_native_logs_are_silenced(short_clip, model_path, workers):
    code = (
        "import sys; from formcheck.pose import extract_pose; "
        f"extract_pose({str(short_clip[0])!r}, model={str(model_path)!r}, workers={workers})"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("FORMCHECK_VERBOSE", "GLOG_minloglevel",
                                                             "TF_CPP_MIN_LOG_LEVEL")}
    env["PYTHONPATH"] = os.pathsep.join([str(Path(pose.__file__).parents[1]), env.get("PYTHONPATH", "")])
    quiet = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert quiet.stderr.strip() == ""
    loud = subprocess.run([sys.executable, "-c", code], env={**env, "FORMCHECK_VERBOSE": "1"},
                          capture_output=True, text=True, timeout=300)
    assert loud.returncode == 0 and loud.stderr.strip() != ""


#: Upper case: that user enters native_stderr_silenced; lower case: it leaves.
OVERLAPS = [
    ("nested", "ABba"),
    ("crossed", "ABab"),
    ("one-after-the-other", "AaBb"),
    ("three", "ABCacb"),
]


def _fd2_identity() -> tuple[int, int]:
    st = os.fstat(2)
    return st.st_dev, st.st_ino


@pytest.mark.parametrize(("name", "order"), OVERLAPS, ids=[c[0] for c in OVERLAPS])
def test_overlapping_silencing_puts_stderr_back(name: str, order: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two threads silencing fd 2 at once (an upload analysed while a live stream opens its model):
    whatever order they leave in, the real stderr comes back."""
    monkeypatch.delenv("FORMCHECK_VERBOSE", raising=False)
    before = _fd2_identity()
    devnull = os.stat(os.devnull)
    open_cms: dict = {}
    for step in order:
        key = step.upper()
        if step.isupper():
            open_cms[key] = pose.native_stderr_silenced()
            open_cms[key].__enter__()
            assert _fd2_identity() == (devnull.st_dev, devnull.st_ino)
        else:
            open_cms.pop(key).__exit__(None, None, None)
            if open_cms:
                assert _fd2_identity() == (devnull.st_dev, devnull.st_ino)
    assert _fd2_identity() == before


# --------------------------------------------------------------------------- masks
def test_masks_follow_the_lifter(short_clip, model_path):
    res = extract_pose(short_clip[0], model=str(model_path), workers=1, keep_masks=True)
    seq, masks = res.sequence, res.masks
    assert isinstance(masks, MaskTrack)
    np.testing.assert_array_equal(masks.t_ms, seq.t_ms)
    assert masks.has_mask[seq.detected].mean() >= 0.95
    inside = []
    for i in np.flatnonzero(masks.has_mask)[::10]:
        full = masks.full(i)
        for lm in (Landmark.LEFT_HIP, Landmark.RIGHT_HIP, Landmark.LEFT_SHOULDER, Landmark.RIGHT_SHOULDER):
            x, y = np.round(seq.xy_px[i, int(lm)]).astype(int)
            inside.append(bool(full[np.clip(y, 0, masks.frame_h - 1), np.clip(x, 0, masks.frame_w - 1)]))
    assert np.mean(inside) >= 0.9
    bytes_per_frame = masks.bits.nbytes / max(1, int(masks.has_mask.sum()))
    assert bytes_per_frame < masks.frame_w * masks.frame_h / 8


def _mask_track(n: int = 3) -> MaskTrack:
    crops = [pose._MaskCrop((2, 1, 7, 5), np.packbits(np.eye(4, 5, dtype=bool).ravel())), None,
             pose._MaskCrop((0, 0, 3, 3), np.packbits(np.ones(9, dtype=bool)))][:n]
    return MaskTrack.from_crops(np.arange(n) * 33.0, crops, 10, 8)


def test_mask_track_round_trip(tmp_path):
    m = _mask_track()
    assert m.crop(1) is None and not m.full(1).any()
    np.testing.assert_array_equal(m.crop(0), np.eye(4, 5, dtype=bool))
    assert m.full(0)[1:5, 2:7].sum() == 4 and m.full(0).sum() == 4
    assert m.full(2)[:3, :3].all()
    back = MaskTrack.load(m.save(tmp_path / "m.npz"))
    for i in range(3):
        np.testing.assert_array_equal(back.full(i), m.full(i))


@pytest.mark.parametrize(
    "change, match",
    [
        (dict(bbox_px=np.zeros((2, 4))), "bbox_px: expected shape 3x4"),
        (dict(offsets=np.zeros(3)), "offsets: expected shape 4"),
        (dict(frame_w=0), "frame size"),
        (dict(frame_w=5), "inside"),
        (dict(threshold=1.5), "threshold"),
    ],
    ids=["bbox-rows", "offsets-len", "frame-size", "box-outside", "threshold"],
)
def test_mask_track_validation(change, match):
    m = _mask_track()
    fields = dict(t_ms=m.t_ms, bbox_px=m.bbox_px, offsets=m.offsets, bits=m.bits, frame_w=10, frame_h=8)
    with pytest.raises(ValueError, match=match):
        MaskTrack(**{**fields, **change})


# --------------------------------------------------------------------------- overlay (drawing only)
from formcheck import overlay  # noqa: E402
from formcheck.sequence import PoseSequence  # noqa: E402


def _standing_figure() -> np.ndarray:
    xy = np.full((N_LANDMARKS, 2), np.nan)
    pts = {
        Landmark.NOSE: (100, 30), Landmark.LEFT_EYE: (104, 26), Landmark.RIGHT_EYE: (96, 26),
        Landmark.LEFT_EAR: (110, 28), Landmark.RIGHT_EAR: (90, 28),
        Landmark.LEFT_SHOULDER: (130, 60), Landmark.RIGHT_SHOULDER: (70, 60),
        Landmark.LEFT_ELBOW: (140, 100), Landmark.RIGHT_ELBOW: (60, 100),
        Landmark.LEFT_WRIST: (145, 140), Landmark.RIGHT_WRIST: (55, 140),
        Landmark.LEFT_HIP: (120, 150), Landmark.RIGHT_HIP: (80, 150),
        Landmark.LEFT_KNEE: (122, 200), Landmark.RIGHT_KNEE: (78, 200),
        Landmark.LEFT_ANKLE: (124, 250), Landmark.RIGHT_ANKLE: (76, 250),
        Landmark.LEFT_HEEL: (118, 258), Landmark.RIGHT_HEEL: (82, 258),
        Landmark.LEFT_FOOT_INDEX: (140, 262), Landmark.RIGHT_FOOT_INDEX: (60, 262),
    }
    for lm, p in pts.items():
        xy[int(lm)] = p
    return xy


@pytest.mark.parametrize(
    "vis_value, want_drawn",
    [(1.0, True), (0.2, False), (None, True)],
    ids=["visible", "below-threshold", "no-visibility"],
)
def test_draw_skeleton_draws_visible_joints(vis_value, want_drawn):
    rgb = np.zeros((300, 200, 3), np.uint8)
    xy = _standing_figure()
    vis = None if vis_value is None else np.full(N_LANDMARKS, vis_value)
    style = overlay.SkeletonStyle()
    overlay.draw_skeleton(rgb, xy, vis, style=style)
    lk = xy[int(Landmark.LEFT_KNEE)].astype(int)
    rk = xy[int(Landmark.RIGHT_KNEE)].astype(int)
    assert rgb.any() == want_drawn
    if want_drawn:
        assert tuple(rgb[lk[1], lk[0]]) == style.left_rgb
        assert tuple(rgb[rk[1], rk[0]]) == style.right_rgb


def test_draw_skeleton_nan_row_and_scale():
    rgb = np.zeros((600, 400, 3), np.uint8)
    overlay.draw_skeleton(rgb, np.full((N_LANDMARKS, 2), np.nan))
    assert not rgb.any()
    overlay.draw_skeleton(rgb, _standing_figure(), scale=2.0)
    lk = (_standing_figure()[int(Landmark.LEFT_KNEE)] * 2).astype(int)
    assert rgb[lk[1], lk[0]].any()


@pytest.mark.parametrize(
    "rgb, xy, match",
    [
        (np.zeros((10, 10), np.uint8), np.zeros((N_LANDMARKS, 2)), "rgb"),
        (np.zeros((10, 10, 3), np.float32), np.zeros((N_LANDMARKS, 2)), "rgb"),
        (np.zeros((10, 10, 3), np.uint8), np.zeros((17, 2)), "xy_px_row"),
    ],
    ids=["grey", "float", "17-points"],
)
def test_draw_skeleton_validation(rgb, xy, match):
    with pytest.raises(ValueError, match=match):
        overlay.draw_skeleton(rgb, xy)


def test_skeleton_style_validation():
    with pytest.raises(ValueError, match="left_rgb"):
        overlay.SkeletonStyle(left_rgb=(300, 0, 0))
    with pytest.raises(ValueError, match="min_visibility"):
        overlay.SkeletonStyle(min_visibility=2.0)


def test_write_overlay_video_matches_rows_by_time(tmp_path):
    n = 12
    t = np.arange(n) * 40.0
    clip = _write(tmp_path / "plain.mp4", [(ti, np.full((300, 200, 3), 40, np.uint8)) for ti in t], fps=25.0)
    rows = PoseSequence.empty_rows(n)
    rows["xy_px"][: n // 2] = _standing_figure()
    rows["visibility"][: n // 2] = 1.0
    seq = PoseSequence(t_ms=t, **rows, frame_w=200, frame_h=300)
    out = overlay.write_overlay_video(tmp_path / "o.mp4", clip, seq)
    frames = video.read_all(out)
    assert video.probe(out).codec == "h264"
    np.testing.assert_allclose([f.t_ms for f in frames], t, atol=0.5)
    lk = _standing_figure()[int(Landmark.LEFT_KNEE)].astype(int)
    for i, f in enumerate(frames):
        knee_drawn = int(f.rgb[lk[1], lk[0]].astype(int).sum()) > 3 * 60
        label_drawn = int(f.rgb[12, 12, 0]) > 80
        assert knee_drawn == (i < n // 2) and label_drawn == (i >= n // 2), i


# --------------------------------------------------------------------------- frame-rate cap
def _times(fps: float, seconds: float, jitter_ms: float = 0.0) -> np.ndarray:
    n = int(round(fps * seconds))
    t = np.arange(n) * 1000.0 / fps
    if jitter_ms:
        t = t + np.random.default_rng(0).uniform(-jitter_ms, jitter_ms, n)
        t[0] = 0.0
    return t


CAP_CASES = [
    # (id, frame times, nominal fps, cap, analysed frames in the first 2 s, smallest and largest gap in ms)
    ("60fps-every-other", _times(60, 2), 60.0, 30.0, 60, (33.3, 33.4)),
    ("59.94fps-every-other", _times(59.94, 2), 59.94, 30.0, 60, (33.3, 33.4)),
    ("60fps-jittered-2ms", _times(60, 2, jitter_ms=2.0), 60.0, 30.0, 60, (29.3, 37.4)),
    ("50fps-all-at-30", _times(50, 2), 50.0, 30.0, 100, (19.9, 20.1)),  # every other would be 25 < 30
    ("120fps-every-fourth", _times(120, 2), 120.0, 30.0, 61, (24.9, 33.4)),
    ("40fps-all", _times(40, 2), 40.0, 30.0, 80, (24.9, 25.1)),
    ("30fps-all", _times(30, 2), 30.0, 30.0, 60, (33.3, 33.4)),
    ("29.97fps-all", _times(29.97, 2), 29.97, 30.0, 60, (33.3, 33.4)),
    ("25fps-all", _times(25, 2), 25.0, 30.0, 50, (39.9, 40.1)),
    ("60fps-no-nominal-rate", _times(60, 2), None, 30.0, 60, (33.3, 33.4)),
    ("60fps-no-cap", _times(60, 2), 60.0, None, 120, (16.6, 16.7)),
    # at 15 (the measured candidate for 30 fps clips): every k-th frame, k the largest keeping at least 15 a second
    ("30fps-every-other-at-15", _times(30, 2), 30.0, 15.0, 30, (66.6, 66.7)),
    ("29.97fps-every-other-at-15", _times(29.97, 2), 29.97, 15.0, 30, (66.7, 66.8)),
    ("30.22fps-every-other-at-15", _times(30.22, 2), 30.22, 15.0, 30, (66.1, 66.2)),
    ("29.97fps-jittered-5ms-at-15", _times(29.97, 2, jitter_ms=5.0), 29.97, 15.0, 30, (56.7, 76.8)),
    ("27.85fps-all-at-15", _times(27.85, 2), 27.85, 15.0, 56, (35.9, 36.0)),
    ("25fps-all-at-15", _times(25, 2), 25.0, 15.0, 50, (39.9, 40.1)),
    ("24fps-all-at-15", _times(24, 2), 24.0, 15.0, 48, (41.6, 41.7)),
    ("50fps-every-third-at-15", _times(50, 2), 50.0, 15.0, 34, (59.9, 60.1)),
    ("59.94fps-every-fourth-at-15", _times(59.94, 2), 59.94, 15.0, 31, (66.7, 66.8)),
    ("60fps-every-fourth-at-15", _times(60, 2), 60.0, 15.0, 31, (66.6, 66.7)),
]


@pytest.mark.parametrize(("name", "t_ms", "fps", "cap", "n_kept", "gaps"), CAP_CASES, ids=[c[0] for c in CAP_CASES])
def test_analysis_frames_cap_the_rate_evenly_by_timestamp(name, t_ms, fps, cap, n_kept, gaps):
    step = pose.analysis_step_ms(fps, cap)
    keep = pose.analysis_frames(t_ms, step)
    assert keep[0] and int(keep.sum()) == n_kept
    d = np.diff(t_ms[keep])
    assert gaps[0] <= d[1:].min() and d.max() <= gaps[1]  # (the first slot is shorter by the phase)
    # one frame at a time (as the decoder sees them, from any chunk start) chooses the same frames
    for start in (0, 7, 31):
        prev, got = None, []
        for t in t_ms[start:]:
            slot = None if step is None else pose.analysis_slot(t, step)
            got.append(step is None or slot != prev)
            prev = slot
        np.testing.assert_array_equal(np.array(got)[1:], keep[start + 1:])


STEP_CASES = [
    # (id, clip fps, rate, max_frame_step, frames per analysed one)
    ("60fps-at-15-no-step-cap", 60.0, 15.0, None, 4),
    ("60fps-at-15-every-other-at-most", 60.0, 15.0, 2, 2),
    ("120fps-at-15-every-other-at-most", 120.0, 15.0, 2, 2),
    ("50fps-at-15-every-other-at-most", 50.0, 15.0, 2, 2),
    ("30fps-at-15", 30.0, 15.0, 2, 2),
    ("29.97fps-at-15", 29.97, 15.0, 2, 2),
    ("25fps-at-15-whole", 25.0, 15.0, 2, 1),
    ("60fps-step-cap-1-whole", 60.0, 15.0, 1, 1),
]


@pytest.mark.parametrize(("name", "fps", "rate", "max_step", "k"), STEP_CASES, ids=[c[0] for c in STEP_CASES])
def test_analysis_step_is_the_largest_keeping_the_rate_and_at_most_max_step(name, fps, rate, max_step, k):
    assert pose.analysis_step_ms(fps, rate, max_step) == pytest.approx(k * 1000.0 / fps)


def test_pose_params_reject_a_frame_step_below_one():
    with pytest.raises(ValueError, match="max_frame_step: expected a whole number of at least 1, got 0"):
        replace(pose.PoseParams.packaged(), analysis_fps=15.0, max_frame_step=0)


THIN_CASES = [
    # (id, clip fps, analysis rate, frames of 2 s, rows kept: every k-th frame from the first)
    ("60fps-at-15-every-fourth", 60.0, 15.0, 120, 4),
    ("30fps-at-15-every-other", 30.0, 15.0, 60, 2),
    ("25fps-at-15-whole", 25.0, 15.0, 50, 1),
    ("60fps-no-rate-whole", 60.0, None, 120, 1),
]


@pytest.mark.parametrize(("name", "fps", "rate", "n", "k"), THIN_CASES, ids=[c[0] for c in THIN_CASES])
def test_thin_to_cap_keeps_the_rows_and_silhouettes_a_capped_pass_analyses(name, fps, rate, n, k):
    t = np.arange(n) * 1000.0 / fps
    rows = PoseSequence.empty_rows(n)
    rows["xy_px"][:, :, 0] = np.arange(n)[:, None]  # x = the frame's index, to see which rows are kept
    seq = PoseSequence(t_ms=t, frame_w=10, frame_h=8, **rows)
    crops = [pose._MaskCrop((0, 0, 1 + i % 7, 2), np.packbits(np.ones(2 * (1 + i % 7), dtype=bool)))
             if i % 3 else None for i in range(n)]
    masks = MaskTrack.from_crops(t, crops, 10, 8)
    thin, thin_masks = pose.thin_to_cap(seq, masks, fps, rate)
    # the same frames as the extractor's choice, which is every k-th frame after a shorter first slot
    keep = pose.analysis_frames(t, pose.analysis_step_ms(fps, rate))
    np.testing.assert_array_equal(thin.t_ms, t[keep])
    np.testing.assert_array_equal(thin.xy_px[:, 0, 0], np.flatnonzero(keep))
    assert np.all(np.diff(np.flatnonzero(keep))[1:] == k)
    np.testing.assert_array_equal(thin_masks.t_ms, thin.t_ms)
    for j, i in enumerate(np.flatnonzero(keep)):
        a, b = masks.crop(int(i)), thin_masks.crop(j)
        assert (a is None and b is None) or np.array_equal(a, b)
    assert thin.meta.get("frames_skipped", 0) == n - int(keep.sum())


def test_high_fps_clip_is_analysed_at_the_cap_unless_every_frame(tmp_path, short_clip, model_path):
    person = video.read_all(short_clip[0], end_ms=2000.0)
    frames = [(i * 1000.0 / 60.0, person[i // 2].rgb) for i in range(2 * len(person))]
    clip = _write(tmp_path / "sixty.mp4", frames, fps=60.0)
    # the cap alone (the adaptive stride off: test_adaptive_stride_* below)
    capped = extract_pose(clip, model=str(model_path), workers=1, max_stride=1)
    every = extract_pose(clip, model=str(model_path), workers=1, every_frame=True)
    split = extract_pose(clip, model=str(model_path), workers=2, max_stride=1)
    t_all = np.array([t for t, _ in frames])
    np.testing.assert_allclose(every.sequence.t_ms, t_all, atol=0.1)
    rate, max_step = pose.PoseParams.packaged().analysis_fps, pose.PoseParams.packaged().max_frame_step
    k = min(max(1, int(60.0 * 1.01 / rate)), max_step)  # every k-th frame: 2 with the packaged [pose]
    np.testing.assert_allclose(capped.sequence.t_ms, t_all[::k], atol=0.1)
    assert capped.stats["frames_skipped"] == len(frames) - capped.sequence.n_frames == len(frames) - len(t_all[::k])
    assert capped.sequence.meta["analysis_fps"] == rate and every.stats["frames_skipped"] == 0
    np.testing.assert_array_equal(split.sequence.t_ms, capped.sequence.t_ms)  # chunks choose the same frames
    same = np.isin(np.round(every.sequence.t_ms, 1), np.round(capped.sequence.t_ms, 1))
    diff = np.linalg.norm(every.sequence.xy_px[same][:, BODY] - capped.sequence.xy_px[:, BODY], axis=2)
    assert np.nanmedian(diff) < 3.0
    # the overlay of a capped sequence writes its analysed frames only (no frames without a skeleton)
    from formcheck import overlay

    out = overlay.write_overlay_video(tmp_path / "o.mp4", clip, capped.sequence)
    assert len(video.read_all(out)) == capped.sequence.n_frames


@pytest.mark.parametrize("workers", [1, 2], ids=["one-chunk", "two-chunks"])
def test_pose_pass_keeps_the_frames_it_analysed_and_notes_the_ones_it_skipped(tmp_path, short_clip, model_path,
                                                                             workers):
    """The frame store of a capped 60 fps clip holds every analysed frame, byte for byte as a fresh
    decode at the analysed size gives it, and knows the skipped ones (so a lookup never guesses)."""
    from formcheck.framestore import FrameStore

    person = video.read_all(short_clip[0], end_ms=2000.0)
    frames = [(i * 1000.0 / 60.0, person[i // 2].rgb) for i in range(2 * len(person))]
    clip = _write(tmp_path / "sixty.mp4", frames, fps=60.0)
    with FrameStore(dir=tmp_path) as store:
        res = extract_pose(clip, model=str(model_path), workers=workers, frames=store, max_side=96, max_stride=1)
        assert store.finished
        fresh = video.read_all(clip, max_side=96)
        assert store.decoded_times() == [f.t_ms for f in fresh]
        held = [f for f in fresh if store.holds(f.t_ms)]
        np.testing.assert_array_equal([f.t_ms for f in held], res.sequence.t_ms)
        assert len(held) == len(fresh) - res.stats["frames_skipped"]
        for want, got in zip(held, store.frames([f.t_ms for f in held])):
            assert got.t_ms == want.t_ms
            np.testing.assert_array_equal(got.rgb, want.rgb)


# --------------------------------------------------------------------------- adaptive stride
@pytest.fixture(scope="module")
def still_then_moving(tmp_path_factory, short_clip) -> tuple[Path, np.ndarray]:
    """30 fps: 1.5 s of one picture (a lifter standing perfectly still), then 2.5 s of the sample."""
    person = video.read_all(short_clip[0], end_ms=2500.0)
    step = 1000.0 / 30.0
    frames = [(i * step, person[0].rgb) for i in range(45)]
    frames += [((45 + i) * step, f.rgb) for i, f in enumerate(person)]
    clip = _write(tmp_path_factory.mktemp("stride") / "still.mp4", frames)
    return clip, np.array([t for t, _ in frames])


def test_adaptive_stride_skips_every_other_frame_of_a_still_lifter(still_then_moving, model_path):
    """The still part is analysed every other frame (after the first window), never two skips in a row;
    the rows are frames of the clip, the skips are counted, and ``--every-frame`` / max_stride 1 analyse all."""
    from formcheck.framestore import FrameStore
    from formcheck.stride import StrideGate

    clip, t_all = still_then_moving
    pp = pose.PoseParams.packaged()
    with FrameStore() as store:
        res = extract_pose(clip, model=str(model_path), workers=1, max_stride=2, frames=store, max_side=320)
        # every decoded frame is held or noted: a strided frame was decoded, so lookups find it
        assert store.decoded_times() == pytest.approx(t_all.tolist(), abs=0.1)
        assert all(store.holds(t) for t in res.sequence.t_ms)
    seq = res.sequence
    analysed = np.isin(np.round(t_all, 1), np.round(seq.t_ms, 1))
    assert analysed.sum() == seq.n_frames == len(t_all) - res.stats["frames_skipped"]
    assert res.stats["frames_strided"] == res.stats["frames_skipped"] > 0 and res.stats["max_stride"] == 2
    still = (t_all > pp.stride_window_ms + 100) & (t_all < 44 * 1000.0 / 30.0)
    assert analysed[still].mean() <= 0.55
    assert not (~analysed[1:] & ~analysed[:-1]).any(), "two frames in a row skipped at max_stride 2"
    # the same choice as the gate makes on these very landmarks (it is causal and deterministic)
    gate = StrideGate(replace(pp.stride, max_stride=2))
    for t in t_all:
        want = gate.want(t)
        assert want == bool(np.isin(np.round(t, 1), np.round(seq.t_ms, 1)))
        if want:
            i = int(np.argmin(np.abs(seq.t_ms - t)))
            gate.seen(t, seq.xy_px[i] if seq.detected[i] else None)
    for kwargs in ({"every_frame": True}, {"max_stride": 1}):
        full = extract_pose(clip, model=str(model_path), workers=1, max_side=320, **kwargs)
        assert full.sequence.n_frames == len(t_all) and full.stats["frames_strided"] == 0, kwargs


def test_max_stride_is_checked(short_clip, model_path):
    with pytest.raises(ValueError, match="max_stride"):
        extract_pose(short_clip[0], model=str(model_path), max_stride=0)
