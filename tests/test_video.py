"""formcheck.video: probing, decoding, timing, rotation, chunks, damage, writing.

Every clip is generated on the fly into a temporary folder
(tests/support/make_clips.py). Inputs that could make the decoder hang run in
a forked child process with a timeout.
"""

from __future__ import annotations

import logging
import multiprocessing
import re
import struct
import traceback
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterator

import av
import numpy as np
import psutil
import pytest

from formcheck import procs, video
from formcheck.video import Frame, VideoError, VideoInfo, VideoWriter
from support import make_clips as mc

W, H = 128, 96
ISOLATED_TIMEOUT_S = 30.0
WORKER_START_S = 60.0

# --------------------------------------------------------------------------- helpers


def _call(fn: Callable[..., Any], args: tuple[Any, ...]) -> tuple[Any, ...]:
    try:
        return ("ok", fn(*args))
    except Exception as exc:  # handed back to the parent, which fails the test with it
        return ("raised", type(exc).__name__, str(exc), traceback.format_exc())


class IsolatedRunner:
    """Runs calls in one spawned worker process, so a hang becomes a test failure.

    A fresh interpreter (``spawn``) avoids forking a test process that may hold
    other tests' threads. A call that times out kills the worker; the next call
    starts a new one.
    """

    def __init__(self) -> None:
        self._ctx = multiprocessing.get_context("spawn")
        self._pool: Any = None

    def run(self, fn: Callable[..., Any], *args: Any, timeout_s: float = ISOLATED_TIMEOUT_S) -> Any:
        starting = self._pool is None
        if starting:
            with procs.hidden_main():  # another test may have left a page script as __main__ (Streamlit AppTest)
                self._pool = self._ctx.Pool(1)
        pending = self._pool.apply_async(_call, (fn, args))
        try:
            result = pending.get(timeout_s + (WORKER_START_S if starting else 0.0))
        except multiprocessing.TimeoutError:
            self.close()
            pytest.fail(f"{getattr(fn, '__name__', fn)}{args} did not finish within {timeout_s:.0f} s")
        if result[0] != "ok":
            pytest.fail(f"unexpected {result[1]}: {result[2]}\n{result[3]}")
        return result[1]

    def close(self) -> None:
        if self._pool is not None:
            self._pool.terminate()
            self._pool.join()
            self._pool = None


@pytest.fixture(scope="module")
def isolated() -> Iterator[IsolatedRunner]:
    runner = IsolatedRunner()
    yield runner
    runner.close()


def summarise(path: Path) -> dict[str, Any]:
    """probe + iter_frames on one input, as plain data (runs in the child)."""
    try:
        info = video.probe(path)
    except VideoError as exc:
        return {"outcome": "error", "stage": "probe", "message": str(exc)}
    warnings: list[str] = []
    frames: list[tuple[int, float]] = []
    try:
        for f in video.iter_frames(path, warn=warnings.append):
            frames.append((f.index, f.t_ms))
    except VideoError as exc:
        if frames:
            raise AssertionError(f"VideoError after {len(frames)} frames: {exc}") from exc
        return {"outcome": "error", "stage": "iter_frames", "message": str(exc)}
    return {"outcome": "frames", "fps_nominal": info.fps_nominal, "frames": frames, "warnings": warnings}


def _times(frames: list[Frame]) -> list[float]:
    return [f.t_ms for f in frames]


def _codes(frames: list[Frame]) -> list[int]:
    return [mc.read_code(f.rgb) for f in frames]


def _patch_avi_rate(src: Path, dst: Path, scale: int, rate: int) -> Path:
    """Copy an AVI with its video stream header's dwScale/dwRate (fps = rate / scale) replaced."""
    data = bytearray(src.read_bytes())
    strh = data.find(b"strh")
    data[strh + 28 : strh + 36] = struct.pack("<II", scale, rate)
    avih = data.find(b"avih")
    data[avih + 8 : avih + 12] = struct.pack("<I", 0)
    dst.write_bytes(bytes(data))
    return dst


class Clips:
    """Generates each named test clip once per module, on first use."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._made: dict[str, Path] = {}

    def get(self, name: str) -> Path:
        if name not in self._made:
            self._made[name] = MAKERS[name](self.root, self)
        return self._made[name]


VFR_PTS_MS = [0, 30, 70, 100, 133, 200, 210, 260, 300, 333, 400, 420]
TEXTURED = {"n_frames": 60, "gop": 10, "noise": 60}

MAKERS: dict[str, Callable[[Path, Clips], Path]] = {
    "mp4_h264": lambda d, c: mc.write_clip(d / "h264.mp4"),
    "mov_h264": lambda d, c: mc.write_clip(d / "h264.mov"),
    "avi_mjpeg": lambda d, c: mc.write_clip(d / "mjpeg.avi", codec="mjpeg"),
    "webm_vp8": lambda d, c: mc.write_clip(d / "vp8.webm", codec="libvpx"),
    "webm_vp9": lambda d, c: mc.write_clip(
        d / "vp9.webm", codec="libvpx-vp9", options={"deadline": "realtime", "cpu-used": "8"}
    ),
    "mkv_h264": lambda d, c: mc.write_clip(d / "h264.mkv"),
    "gif": lambda d, c: mc.write_clip(d / "anim.gif", codec="gif", fps=10),
    "m4v_h264": lambda d, c: mc.write_clip(d / "h264.m4v", fmt="mp4"),
    "vfr_mp4": lambda d, c: mc.write_clip(d / "vfr.mp4", pts=VFR_PTS_MS, time_base=Fraction(1, 1000)),
    "single_frame": lambda d, c: mc.write_clip(d / "one.mp4", n_frames=1),
    "with_audio": lambda d, c: mc.write_with_audio(d / "audio_video.mp4"),
    "textured_mp4": lambda d, c: mc.write_clip(d / "textured.mp4", **TEXTURED),
    "textured_faststart": lambda d, c: mc.write_clip(
        d / "textured_fast.mp4", container_options={"movflags": "+faststart"}, **TEXTURED
    ),
    "textured_avi": lambda d, c: mc.write_clip(d / "textured.avi", codec="mjpeg", n_frames=40, noise=60),
    "textured_webm": lambda d, c: mc.write_clip(d / "textured.webm", codec="libvpx", n_frames=40, noise=60),
    # bad inputs
    "missing": lambda d, c: d / "does_not_exist.mp4",
    "directory": lambda d, c: d,
    "zero_bytes": lambda d, c: (d / "empty.mp4").write_bytes(b"") or d / "empty.mp4",
    "text_as_mp4": lambda d, c: mc.write_text(d / "notes.mp4"),
    "jpeg_as_mp4": lambda d, c: mc.write_jpeg(d / "photo.mp4"),
    "audio_only": lambda d, c: mc.write_audio_only(d / "voice.mp4"),
    "truncated_moov_at_end": lambda d, c: mc.truncate(c.get("textured_mp4"), d / "cut_moov_end.mp4"),
    "truncated_faststart": lambda d, c: mc.truncate(c.get("textured_faststart"), d / "cut_fast.mp4"),
    "truncated_faststart_tiny": lambda d, c: mc.truncate(c.get("textured_faststart"), d / "cut_tiny.mp4", 0.05),
    "truncated_webm": lambda d, c: mc.truncate(c.get("textured_webm"), d / "cut.webm"),
    "corrupt_mp4": lambda d, c: mc.corrupt_middle(c.get("textured_mp4"), d / "corrupt.mp4"),
    "corrupt_faststart": lambda d, c: mc.corrupt_middle(c.get("textured_faststart"), d / "corrupt_fast.mp4"),
    "corrupt_avi": lambda d, c: mc.corrupt_middle(c.get("textured_avi"), d / "corrupt.avi"),
    "corrupt_webm": lambda d, c: mc.corrupt_middle(c.get("textured_webm"), d / "corrupt.webm"),
    "fps_zero_avi": lambda d, c: _patch_avi_rate(c.get("avi_mjpeg"), d / "fps0.avi", 1, 0),
    "fps_huge_avi": lambda d, c: _patch_avi_rate(c.get("avi_mjpeg"), d / "fps_huge.avi", 1, 100000),
    "fps_tiny_avi": lambda d, c: _patch_avi_rate(c.get("avi_mjpeg"), d / "fps_tiny.avi", 1000, 1),
    "fps_huge_mp4": lambda d, c: mc.write_clip(
        d / "fps_huge.mp4", n_frames=30, pts=list(range(30)), time_base=Fraction(1, 90000)
    ),
    "no_pts_h264": lambda d, c: mc.write_raw_h264(d / "raw.h264"),
}


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    return Clips(tmp_path_factory.mktemp("clips"))


# --------------------------------------------------------------------------- bad inputs

# (id, clip, expected outcome, message regex for errors, warning required)
#   outcome "error": VideoError before any frame; "frames": frames (warning as given);
#   "either": VideoError, or frames plus a warning.
BAD_INPUTS = [
    ("missing", "missing", "error", r"^no such file: .*does_not_exist\.mp4$", None),
    ("directory", "directory", "error", r" is a folder, not a video file$", None),
    ("zero_bytes", "zero_bytes", "error", r"empty\.mp4 is empty \(0 bytes\)$", None),
    ("text_renamed_mp4", "text_as_mp4", "error", r"notes\.mp4: not a readable video \(.+\)$", None),
    ("jpeg_renamed_mp4", "jpeg_as_mp4", "error", r"photo\.mp4: a still image \(jpeg\), not a video$", None),
    ("audio_only", "audio_only", "error", r"voice\.mp4: no video stream \(audio only\)$", None),
    ("truncated_moov_at_end", "truncated_moov_at_end", "either", r"cut_moov_end\.mp4: ", None),
    ("truncated_faststart", "truncated_faststart", "either", r"cut_fast\.mp4: ", None),
    ("truncated_faststart_tiny", "truncated_faststart_tiny", "either", r"cut_tiny\.mp4: ", None),
    ("truncated_webm", "truncated_webm", "frames", None, True),
    ("corrupt_mid_mp4", "corrupt_mp4", "frames", None, None),
    ("corrupt_mid_faststart", "corrupt_faststart", "frames", None, None),
    ("corrupt_mid_avi", "corrupt_avi", "frames", None, None),
    ("corrupt_mid_webm", "corrupt_webm", "frames", None, None),
    ("fps_zero_avi", "fps_zero_avi", "frames", None, None),
    ("fps_garbage_huge_avi", "fps_huge_avi", "frames", None, True),
    ("fps_garbage_tiny_avi", "fps_tiny_avi", "frames", None, True),
    ("fps_garbage_huge_mp4", "fps_huge_mp4", "frames", None, True),
    ("no_pts_raw_h264", "no_pts_h264", "frames", None, True),
    ("single_frame", "single_frame", "frames", None, False),
]


@pytest.mark.parametrize(
    ("clip", "outcome", "message", "warned"), [c[1:] for c in BAD_INPUTS], ids=[c[0] for c in BAD_INPUTS]
)
def test_bad_inputs(
    isolated: IsolatedRunner, clips: Clips, clip: str, outcome: str, message: str | None, warned: bool | None
) -> None:
    path = clips.get(clip)
    result = isolated.run(summarise, path)
    if result["outcome"] == "error":
        assert outcome in ("error", "either"), f"unexpected VideoError: {result['message']}"
        assert "\n" not in result["message"]
        assert result["message"].strip() == result["message"] and result["message"]
        if message:
            assert re.search(message, result["message"]), result["message"]
        return
    assert outcome in ("frames", "either"), f"expected a VideoError, got {len(result['frames'])} frames"
    frames = result["frames"]
    assert frames, "no frames and no VideoError"
    t = np.array([tf[1] for tf in frames])
    assert t[0] == 0.0
    if len(t) > 1:
        dt = np.diff(t)
        assert np.all(dt > 0), "t_ms must be strictly increasing"
        assert 1000 / 240 <= np.median(dt) <= 1000, f"implausible median frame interval {np.median(dt)} ms"
    assert [tf[0] for tf in frames] == list(range(len(frames)))
    fps = result["fps_nominal"]
    assert fps is None or video.FPS_SANE_MIN <= fps <= video.FPS_SANE_MAX
    assert all("\n" not in w for w in result["warnings"])
    assert len(result["warnings"]) == len(set(result["warnings"])), "each warning once"
    if outcome == "either" or warned:
        assert result["warnings"], "expected a warning"
    if warned is False:
        assert result["warnings"] == []


def test_single_frame_clip(clips: Clips) -> None:
    frames = video.read_all(clips.get("single_frame"))
    assert [(f.index, f.t_ms, mc.read_code(f.rgb)) for f in frames] == [(0, 0.0, 0)]


@pytest.mark.parametrize(
    ("clip", "pattern_"),
    [
        ("fps_huge_avi", r"implausible frame rate .*timing frames at 30 fps"),
        ("fps_huge_mp4", r"implausible frame rate .*timing frames at 30 fps"),
        ("no_pts_h264", r"no timestamps; timing frames at \d+ fps"),
    ],
    ids=["avi_100000fps", "mp4_90000fps", "raw_h264_no_pts"],
)
def test_untimed_clips_get_even_fallback_timing(clips: Clips, clip: str, pattern_: str) -> None:
    warnings: list[str] = []
    frames = video.read_all(clips.get(clip), warn=warnings.append)
    fps = video.probe(clips.get(clip)).fps_nominal or video.FALLBACK_FPS
    assert _times(frames) == pytest.approx([i * 1000 / fps for i in range(len(frames))])
    assert _codes(frames) == list(range(len(frames)))
    assert len(warnings) == 1 and re.search(pattern_, warnings[0]), warnings


# --------------------------------------------------------------------------- good inputs

GOOD_INPUTS = [
    # id, clip, codec, container substring, fps, n frames, t_ms tolerance (ms; WebM/MKV store whole ms)
    ("mp4_h264", "mp4_h264", "h264", "mp4", 30.0, 12, 1e-6),
    ("mov_h264", "mov_h264", "h264", "mov", 30.0, 12, 1e-6),
    ("avi_mjpeg", "avi_mjpeg", "mjpeg", "avi", 30.0, 12, 1e-6),
    ("webm_vp8", "webm_vp8", "vp8", "webm", 30.0, 12, 0.5),
    ("webm_vp9", "webm_vp9", "vp9", "webm", 30.0, 12, 0.5),
    ("mkv_h264", "mkv_h264", "h264", "matroska", 30.0, 12, 0.5),
    ("gif", "gif", "gif", "gif", 10.0, 12, 1e-6),
    ("m4v_h264", "m4v_h264", "h264", "mp4", 30.0, 12, 1e-6),
]


@pytest.mark.parametrize(
    ("clip", "codec", "container", "fps", "n", "tol_ms"), [c[1:] for c in GOOD_INPUTS], ids=[c[0] for c in GOOD_INPUTS]
)
def test_good_inputs(clips: Clips, clip: str, codec: str, container: str, fps: float, n: int, tol_ms: float) -> None:
    path = clips.get(clip)
    info = video.probe(path)
    assert (info.width, info.height, info.rotation_deg) == (W, H, 0)
    assert info.codec == codec
    assert container in info.container
    assert info.fps_nominal == pytest.approx(fps, rel=1e-3)
    assert info.n_frames_est == n
    assert info.duration_ms == pytest.approx(n * 1000 / fps, abs=2)
    assert info.has_audio is False
    warnings: list[str] = []
    frames = video.read_all(path, warn=warnings.append)
    assert warnings == []
    assert [f.index for f in frames] == list(range(n))
    assert _codes(frames) == list(range(n))
    assert _times(frames) == pytest.approx([i * 1000 / fps for i in range(n)], abs=tol_ms)
    for f in frames:
        assert f.rgb.shape == (H, W, 3) and f.rgb.dtype == np.uint8
        assert mc.is_upright(f.rgb), "red block top-left and blue top-right (upright, RGB order)"
        assert not f.rgb.flags.writeable


def test_has_audio(clips: Clips) -> None:
    info = video.probe(clips.get("with_audio"))
    assert info.has_audio is True
    assert _codes(video.read_all(clips.get("with_audio"))) == list(range(10))


def test_vfr_t_ms_equal_written_pts(clips: Clips) -> None:
    frames = video.read_all(clips.get("vfr_mp4"))
    assert _times(frames) == pytest.approx(VFR_PTS_MS, abs=1e-6)
    assert _codes(frames) == list(range(len(VFR_PTS_MS)))


@pytest.mark.parametrize(
    ("written_pts", "expected_t_ms"),
    [
        ([0, 33, 33, 66, 100], [0, 33, 34, 66, 100]),
        ([0, 66, 33, 100, 133], [0, 66, 67, 100, 133]),
        ([0, 33, 33, 33, 133], [0, 33, 34, 35, 133]),
    ],
    ids=["duplicate", "backwards", "duplicate_run"],
)
def test_bad_pts_are_nudged_forward_with_one_warning(
    tmp_path: Path, written_pts: list[int], expected_t_ms: list[float]
) -> None:
    path = mc.write_clip(
        tmp_path / "pts.mkv",
        codec="mjpeg",
        n_frames=len(written_pts),
        time_base=Fraction(1, 1000),
        rewrite_pts=written_pts,
    )
    warnings: list[str] = []
    frames = video.read_all(path, warn=warnings.append)
    assert _times(frames) == pytest.approx(expected_t_ms)
    assert len(warnings) == 1 and "nudged forward" in warnings[0]


@pytest.mark.parametrize("rotation_cw", [0, 90, 180, 270], ids=["rot0", "rot90_portrait_phone", "rot180", "rot270"])
def test_rotation_metadata_gives_upright_frames(tmp_path: Path, rotation_cw: int) -> None:
    path = mc.write_clip(tmp_path / f"rot{rotation_cw}.mp4", n_frames=4, rotation_cw_deg=rotation_cw)
    with av.open(str(path)) as c:
        stored = next(c.decode(video=0))
        stored_size = (stored.width, stored.height)
    assert stored_size == ((H, W) if rotation_cw in (90, 270) else (W, H))
    info = video.probe(path)
    assert (info.width, info.height, info.rotation_deg) == (W, H, rotation_cw)
    frames = video.read_all(path)
    assert all(f.rgb.shape == (H, W, 3) and mc.is_upright(f.rgb) for f in frames)
    assert _codes(frames) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    ("rotation_cw", "max_side", "size"),
    [
        (0, 64, (64, 48)),
        (0, 50, (50, 38)),
        (90, 64, (64, 48)),
        (0, 1000, (W, H)),
        (0, W, (W, H)),
    ],
    ids=["half", "odd_ratio", "after_rotation", "never_enlarge", "exact_fit"],
)
def test_downscale(tmp_path: Path, rotation_cw: int, max_side: int, size: tuple[int, int]) -> None:
    path = mc.write_clip(tmp_path / "clip.mp4", n_frames=3, rotation_cw_deg=rotation_cw)
    frames = video.read_all(path, max_side=max_side)
    assert {(f.width, f.height) for f in frames} == {size}
    assert video.scaled_size(W, H, max_side) == size
    assert _codes(frames) == [0, 1, 2] and all(mc.is_upright(f.rgb) for f in frames)


@pytest.mark.parametrize(
    "kwargs",
    [{"max_side": 0}, {"max_side": 12.5}, {"start_ms": 100, "end_ms": 100}, {"start_ms": float("nan")}],
    ids=["max_side_zero", "max_side_float", "empty_range", "nan_start"],
)
def test_bad_arguments(clips: Clips, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="expected"):
        video.iter_frames(clips.get("mp4_h264"), **kwargs)


# --------------------------------------------------------------------------- chunks

CHUNK_CLIPS = [
    ("mp4_bframes", lambda d: mc.write_clip(d / "c.mp4", n_frames=90, gop=10)),
    ("mp4_vfr", lambda d: mc.write_clip(
        d / "v.mp4", n_frames=40, gop=8, time_base=Fraction(1, 1000),
        pts=[int(x) for x in np.cumsum([0] + [25 + (i * 7) % 20 for i in range(39)])],
    )),
    ("webm_vp8", lambda d: mc.write_clip(d / "c.webm", codec="libvpx", n_frames=45, gop=10)),
    ("mkv_h264", lambda d: mc.write_clip(d / "c.mkv", n_frames=45, gop=12)),
    ("avi_mjpeg", lambda d: mc.write_clip(d / "c.avi", codec="mjpeg", n_frames=30)),
    ("gif_no_seek", lambda d: mc.write_clip(d / "c.gif", codec="gif", n_frames=20, fps=10)),
    ("rotated_downscaled", lambda d: mc.write_clip(d / "r.mp4", n_frames=30, gop=7, rotation_cw_deg=90)),
]


@pytest.mark.parametrize("make", [c[1] for c in CHUNK_CLIPS], ids=[c[0] for c in CHUNK_CLIPS])
def test_chunks_stitch_to_full_sequence(tmp_path: Path, make: Callable[[Path], Path]) -> None:
    path = make(tmp_path)
    full = video.read_all(path, max_side=100)
    end = full[-1].t_ms
    cuts = [0.0, end * 0.3, end * 0.31, end * 0.55, end * 0.8, end + 1]
    stitched: list[Frame] = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        stitched += video.read_all(path, start_ms=a, end_ms=b, max_side=100)
    assert [(f.index, f.t_ms) for f in stitched] == [(f.index, f.t_ms) for f in full]
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(stitched, full))
    tail = video.read_all(path, start_ms=end * 0.8, max_side=100)
    assert [(f.index, f.t_ms) for f in tail] == [(f.index, f.t_ms) for f in full if f.t_ms >= end * 0.8]
    assert video.read_all(path, start_ms=end + 1) == []


def test_chunk_seeks_instead_of_decoding_everything(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = mc.write_clip(tmp_path / "long.mp4", n_frames=120, gop=10)
    decoded = 0
    original = video._Source.frames

    def counting(self: Any) -> Any:
        nonlocal decoded
        for frame in original(self):
            decoded += 1
            yield frame

    monkeypatch.setattr(video._Source, "frames", counting)
    frames = video.read_all(path, start_ms=3000)
    assert [f.index for f in frames] == list(range(90, 120))
    assert decoded < 60, f"decoded {decoded} frames for a 30-frame chunk at the end"


WANT_CASES = [
    ("two-windows", dict(start_ms=200.0, end_ms=3000.0), lambda t: 300.0 <= t < 500.0 or 2000.0 <= t < 2200.0),
    ("every-third", dict(), lambda t: round(t * 30.0 / 1000.0) % 3 == 0),
    ("none", dict(start_ms=1000.0), lambda t: False),
    ("all", dict(end_ms=1000.0), lambda t: True),
]


@pytest.mark.parametrize(("name", "bounds", "want"), WANT_CASES, ids=[c[0] for c in WANT_CASES])
def test_want_picks_frames_without_converting_the_rest(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, bounds: dict,
        want: Callable[[float], bool]) -> None:
    path = mc.write_clip(tmp_path / "c.mp4", n_frames=120, gop=10)
    full = video.read_all(path, max_side=100, **bounds)
    converted = 0
    original = video._to_rgb

    def counting(*a: Any, **kw: Any) -> Any:
        nonlocal converted
        converted += 1
        return original(*a, **kw)

    monkeypatch.setattr(video, "_to_rgb", counting)
    picked = list(video.iter_frames(path, max_side=100, want=want, **bounds))
    expected = [f for f in full if want(f.t_ms)]
    assert [(f.index, f.t_ms) for f in picked] == [(f.index, f.t_ms) for f in expected]
    assert all(np.array_equal(a.rgb, b.rgb) for a, b in zip(picked, expected))
    assert converted <= len(expected) + 1  # the reader converts the clip's first frame to check it


def test_want_must_be_callable(tmp_path: Path) -> None:
    path = mc.write_clip(tmp_path / "c.mp4", n_frames=5)
    with pytest.raises(ValueError, match="want: expected None or a callable"):
        video.iter_frames(path, want=True)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- memory


def test_memory_stays_flat_on_a_long_clip(tmp_path: Path) -> None:
    n, size = 900, (320, 240)
    path = mc.write_clip(tmp_path / "long.mp4", n_frames=n, size=size, options={"preset": "ultrafast"}, gop=60)
    proc = psutil.Process()
    baseline = peak = 0
    count = 0
    for f in video.iter_frames(path):
        count += 1
        if count == 30:
            baseline = proc.memory_info().rss
        elif count > 30 and count % 50 == 0:
            peak = max(peak, proc.memory_info().rss)
    assert count == n
    growth_mb = (peak - baseline) / 2**20
    held_mb = n * size[0] * size[1] * 3 / 2**20
    assert growth_mb < 20, f"RSS grew {growth_mb:.1f} MB while streaming ({held_mb:.0f} MB if frames were kept)"


# --------------------------------------------------------------------------- find_videos


def test_find_videos(tmp_path: Path) -> None:
    folder = tmp_path / "clips"
    folder.mkdir()
    for name in ["b.mp4", "A.MOV", "c.gif", "notes.txt", ".hidden.mp4", "._b.mp4", "d.webm"]:
        (folder / name).write_bytes(b"x")
    (folder / "sub").mkdir()
    (folder / "sub" / "e.mp4").write_bytes(b"x")
    loose = tmp_path / "loose.xyz"
    loose.write_bytes(b"x")
    found = video.find_videos([folder, loose, folder / "b.mp4"])
    assert [p.name for p in found] == ["A.MOV", "b.mp4", "c.gif", "d.webm", "loose.xyz"]


@pytest.mark.parametrize("suffix", video.SUPPORTED_SUFFIXES, ids=[s.lstrip(".") for s in video.SUPPORTED_SUFFIXES])
def test_find_videos_takes_every_supported_suffix(tmp_path: Path, suffix: str) -> None:
    (tmp_path / f"clip{suffix}").write_bytes(b"x")
    (tmp_path / "clip.txt").write_bytes(b"x")
    assert [p.name for p in video.find_videos([tmp_path])] == [f"clip{suffix}"]


def test_find_videos_missing_path(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"^no such file or folder: .*gone$"):
        video.find_videos([tmp_path, tmp_path / "gone"])


# --------------------------------------------------------------------------- writer


def _stream_facts(path: Path) -> tuple[str, str, int, int]:
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        return s.codec_context.name, s.codec_context.pix_fmt, s.codec_context.width, s.codec_context.height


@pytest.mark.parametrize(
    ("size", "fps", "times_ms", "expected_t_ms", "coded_size"),
    [
        ((128, 96), 25.0, None, [i * 40.0 for i in range(10)], (128, 96)),
        ((128, 96), 30.0, [1000 + t for t in VFR_PTS_MS], [float(t) for t in VFR_PTS_MS], (128, 96)),
        ((129, 97), 30.0, [0, 33.5, 70.25, 100], [0, 33.5, 70.25, 100], (130, 98)),
    ],
    ids=["cfr_no_times", "vfr_with_offset", "odd_size_padded"],
)
def test_writer_roundtrip(
    tmp_path: Path,
    size: tuple[int, int],
    fps: float,
    times_ms: list[float] | None,
    expected_t_ms: list[float],
    coded_size: tuple[int, int],
) -> None:
    path = tmp_path / "out.mp4"
    n = len(expected_t_ms)
    with VideoWriter(path, fps, size) as writer:
        for i in range(n):
            writer.write(mc.pattern(i, *size), None if times_ms is None else times_ms[i])
    assert writer.n_written == n
    assert _stream_facts(path) == ("h264", "yuv420p", *coded_size)
    boxes = mc.mp4_top_level_boxes(path)
    assert boxes.index("moov") < boxes.index("mdat"), f"not faststart: {boxes}"
    frames = video.read_all(path)
    assert _times(frames) == pytest.approx(expected_t_ms, abs=0.006)
    assert _codes(frames) == list(range(n))
    assert all(mc.is_upright(f.rgb) for f in frames)


@pytest.mark.parametrize(
    ("action", "error", "match"),
    [
        (
            lambda w: w.write(np.zeros((96, 128), np.uint8)),
            ValueError,
            r"expected a 96x128x3 uint8 array, got uint8 96x128",
        ),
        (lambda w: w.write(np.zeros((96, 128, 3), np.float32)), ValueError, r"expected a 96x128x3 uint8 array"),
        (
            lambda w: (w.write(mc.pattern(0), 10.0), w.write(mc.pattern(1), 10.0)),
            ValueError,
            r"expected a time after 10\.000 ms",
        ),
        (lambda w: w.write(mc.pattern(0), float("inf")), ValueError, r"t_ms: expected a finite time"),
        (lambda w: (w.write(mc.pattern(0)), w.close(), w.write(mc.pattern(1))), VideoError, r"write after close"),
        (lambda w: w.close(), VideoError, r"no frames were written"),
    ],
    ids=["grey_frame", "float_frame", "repeated_time", "infinite_time", "write_after_close", "no_frames"],
)
def test_writer_misuse(tmp_path: Path, action: Callable[[VideoWriter], Any], error: type, match: str) -> None:
    writer = VideoWriter(tmp_path / "out.mp4", 30, (128, 96))
    with pytest.raises(error, match=match):
        action(writer)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"fps": 0, "size": (128, 96)}, ValueError, r"fps: expected a number in 1-240, got 0"),
        ({"fps": 30, "size": (128, 0)}, ValueError, r"size: expected \(width, height\) positive ints"),
        ({"fps": 30, "size": (128,)}, ValueError, r"size: expected"),
    ],
    ids=["fps_zero", "height_zero", "size_one_value"],
)
def test_writer_bad_arguments(tmp_path: Path, kwargs: dict[str, Any], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        VideoWriter(tmp_path / "out.mp4", **kwargs)


def test_writer_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match=r"cannot create video file"):
        VideoWriter(tmp_path / "no" / "such" / "out.mp4", 30, (128, 96))


def test_writer_without_libx264(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(av, "codecs_available", frozenset(av.codecs_available) - {"libx264"})
    with pytest.raises(VideoError, match=r"^cannot write H\.264: this PyAV build has no libx264 encoder$"):
        VideoWriter(tmp_path / "out.mp4", 30, (128, 96))


def test_writer_finishes_file_when_block_raises(tmp_path: Path) -> None:
    path = tmp_path / "partial.mp4"
    with pytest.raises(RuntimeError, match="boom"):
        with VideoWriter(path, 30, (128, 96)) as writer:
            writer.write(mc.pattern(0))
            writer.write(mc.pattern(1))
            raise RuntimeError("boom")
    assert _codes(video.read_all(path)) == [0, 1]


# --------------------------------------------------------------------------- data types


def _info(**changes: Any) -> VideoInfo:
    base: dict[str, Any] = dict(
        path=Path("x.mp4"), width=128, height=96, rotation_deg=0, fps_nominal=30.0, duration_ms=400.0,
        n_frames_est=12, codec="h264", container="mp4", has_audio=False,
    )
    base.update(changes)
    return VideoInfo(**base)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"width": 0}, r"width: expected a positive int, got 0"),
        ({"height": 9.5}, r"height: expected a positive int, got 9\.5"),
        ({"rotation_deg": 45}, r"rotation_deg: expected 0, 90, 180 or 270, got 45"),
        ({"fps_nominal": 1000.0}, r"fps_nominal: expected None or 1-240, got 1000\.0"),
        ({"duration_ms": -1.0}, r"duration_ms: expected None or a finite value >= 0"),
        ({"n_frames_est": -3}, r"n_frames_est: expected None or an int >= 0"),
    ],
    ids=["width_zero", "height_float", "rotation_45", "fps_garbage", "duration_negative", "frames_negative"],
)
def test_video_info_validation(changes: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        _info(**changes)


@pytest.mark.parametrize(
    ("index", "t_ms", "rgb", "match"),
    [
        (-1, 0.0, np.zeros((4, 4, 3), np.uint8), r"index: expected an int >= 0, got -1"),
        (0, float("nan"), np.zeros((4, 4, 3), np.uint8), r"t_ms: expected a finite time"),
        (
            0,
            0.0,
            np.zeros((4, 4), np.uint8),
            r"rgb: expected an HxWx3 uint8 array, got uint8 array of shape \(4, 4\)",
        ),
        (0, 0.0, np.zeros((4, 4, 3), np.float64), r"rgb: expected an HxWx3 uint8 array, got float64"),
        (0, 0.0, [[0, 0, 0]], r"rgb: expected an HxWx3 uint8 array, got list"),
    ],
    ids=["negative_index", "nan_time", "grey", "float_pixels", "not_an_array"],
)
def test_frame_validation(index: int, t_ms: float, rgb: Any, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        Frame(index=index, t_ms=t_ms, rgb=rgb)


def test_frame_pixels_are_read_only() -> None:
    frame = Frame(index=0, t_ms=0.0, rgb=np.zeros((4, 4, 3), np.uint8))
    with pytest.raises(ValueError):
        frame.rgb[0, 0, 0] = 1


def test_video_error_is_one_line() -> None:
    assert str(VideoError("a\nb  c")) == "a b c"
    assert isinstance(VideoError("x"), ValueError)


def test_default_warn_goes_to_logging(clips: Clips, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="formcheck.video"):
        frames = video.read_all(clips.get("fps_huge_avi"))
    assert len(frames) == 12
    assert any("implausible frame rate" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: d / "nope.mp4", r"no such file"),
        (lambda d: d, r"is a folder"),
        (lambda d: (d / "e.mp4").write_bytes(b"") or d / "e.mp4", r"is empty \(0 bytes\)"),
    ],
    ids=["missing", "folder", "empty"],
)
def test_path_problems_raise_at_call_not_at_first_next(
    tmp_path: Path, make: Callable[[Path], Path], match: str
) -> None:
    with pytest.raises(VideoError, match=match):
        video.iter_frames(make(tmp_path))


def test_frame_does_not_freeze_the_callers_array() -> None:
    pixels = np.zeros((4, 4, 3), np.uint8)
    frame = Frame(index=0, t_ms=0.0, rgb=pixels)
    assert pixels.flags.writeable and not frame.rgb.flags.writeable


def test_downscale_averages_areas(tmp_path: Path) -> None:
    checker = ((np.indices((96, 128)).sum(axis=0) % 2) * 255).astype(np.uint8)
    rgb = np.repeat(checker[:, :, None], 3, axis=2)
    path = tmp_path / "checker.mp4"
    with av.open(str(path), mode="w") as container:
        stream = container.add_stream("libx264", rate=30, options={"qp": "0"})
        stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            container.mux(packet)
    full = video.read_all(path)[0].rgb
    assert np.array_equal(full[:2, :2, 0], [[0, 255], [255, 0]]), "lossless clip keeps the 1-px checkerboard"
    small = video.read_all(path, max_side=64)[0].rgb.astype(float)
    assert small.shape == (48, 64, 3)
    assert np.abs(small - 127.5).max() < 10, "each output pixel averages a 2x2 block"
