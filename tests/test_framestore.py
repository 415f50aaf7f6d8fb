"""formcheck.framestore: the pose pass's frames, read back exactly instead of decoding the clip again."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from formcheck import overlay, pipeline, video
from formcheck.framestore import FrameStore
from formcheck.pose import PoseResult, analysis_slot, analysis_step_ms
from support import make_clips as mc
from support.seq_factory import make_seq

FPS = 60.0
N_FRAMES = 120  # 2 s at 60 fps
SIZE = (160, 120)
MAX_SIDE = 128  # the "analysed" size is smaller than the clip, as in the pose pass


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return mc.write_clip(tmp_path_factory.mktemp("framestore") / "clip.mp4", n_frames=N_FRAMES, fps=FPS,
                         size=SIZE, gop=12)


def _fill(store: FrameStore, clip: Path, cap_fps: float | None, finish: bool = True) -> list[float]:
    """What the pose pass does: decode every frame, keep the capped ones, note the others. Returns kept times."""
    step = analysis_step_ms(FPS, cap_fps)
    prev: list[int | None] = [None]
    kept: list[float] = []

    def want(t: float) -> bool:
        if step is None:
            return True
        slot = analysis_slot(t, step)
        keep = slot != prev[0]
        prev[0] = slot
        if not keep:
            store.note_decoded(t)
        return keep

    for fr in video.iter_frames(clip, max_side=MAX_SIDE, want=want):
        store.put(fr.index, fr.t_ms, np.ascontiguousarray(fr.rgb))
        kept.append(fr.t_ms)
    if finish:
        store.finish()
    return kept


LOOKUPS = [
    # (id, times, how far back each looks, frame-rate cap, lookups the store must call missing)
    ("on-frame-times-every-frame", [500.0, 1000.0, 1500.0], 300.0, None, 0),
    ("between-frames-every-frame", [507.0, 1003.0], 300.0, None, 0),
    ("on-kept-frames-capped", [1000.0, 1000.0 + 1000.0 / 30.0], 300.0, 30.0, 0),
    ("nearest-is-skipped-capped", [1000.0 + 1000.0 / 60.0], 300.0, 30.0, 1),
    ("tie-between-frames", [1000.0 / 120.0 * 61.0], 500.0, None, 0),
    ("near-the-start", [5.0, 100.0], 300.0, None, 0),
    ("window-past-the-end", [1990.0, 2500.0, 3000.0], 300.0, None, 0),
]


@pytest.mark.parametrize(("name", "times", "before", "cap", "n_missing"), LOOKUPS, ids=[c[0] for c in LOOKUPS])
def test_store_answers_exactly_what_a_fresh_decode_gives_or_says_missing(
        clip: Path, tmp_path: Path, name: str, times: list[float], before: float, cap: float | None,
        n_missing: int) -> None:
    with FrameStore(dir=tmp_path) as store:
        kept = _fill(store, clip, cap)
        fresh = pipeline._frames_near(clip, times, MAX_SIDE, [before] * len(times))
        missing = 0
        for t, want in zip(times, fresh):
            found, got = store.nearest(t, before)
            if not found:  # only when the nearest decoded frame was not analysed
                assert want is not None and want.t_ms not in kept, (t, want)
                missing += 1
                continue
            if want is None:
                assert got is None
            else:
                assert got is not None and (got.index, got.t_ms) == (want.index, want.t_ms)
                np.testing.assert_array_equal(got.rgb, want.rgb)  # the very pixels, not a re-encoded copy
        assert missing == n_missing


def test_unfinished_store_answers_nothing(clip: Path, tmp_path: Path) -> None:
    with FrameStore(dir=tmp_path) as store:
        _fill(store, clip, None, finish=False)
        assert store.nearest(500.0, 300.0) == (False, None)


BUDGETS = [
    ("no-budget", 0, 0),
    ("ten-frames", 10, 10),
    ("ten-and-a-half-frames", 10.5, 10),
    ("all-frames", N_FRAMES + 5, N_FRAMES),
]


@pytest.mark.parametrize(("name", "frames", "held"), BUDGETS, ids=[c[0] for c in BUDGETS])
def test_budget_bounds_the_disk_and_later_frames_are_decoded_again(
        clip: Path, tmp_path: Path, name: str, frames: float, held: int) -> None:
    frame_bytes = MAX_SIDE * (MAX_SIDE * SIZE[1] // SIZE[0]) * 3
    with FrameStore(max_bytes=int(frames * frame_bytes), dir=tmp_path) as store:
        _fill(store, clip, None)
        assert store.n_held == held and store.bytes_used == held * frame_bytes
        times = [100.0, 1500.0]
        bank = pipeline.FrameBank(clip, MAX_SIDE, store=store)
        bank.fetch([(t, 300.0) for t in times])
        expected_passes = 0 if held == N_FRAMES else 1  # 1500 ms is frame 90: held only with room for all
        assert bank.passes == expected_passes
        plain = pipeline.FrameBank(clip, MAX_SIDE)
        for t in times:
            a, b = bank.get(t), plain.get(t)
            assert (a.index, a.t_ms) == (b.index, b.t_ms)
            np.testing.assert_array_equal(a.rgb, b.rgb)


@pytest.mark.parametrize(("name", "frames", "held"), BUDGETS, ids=[c[0] for c in BUDGETS])
def test_the_bank_keeps_in_memory_only_what_it_decoded_and_forgets_it(
        clip: Path, tmp_path: Path, name: str, frames: float, held: int) -> None:
    """Memory flat in the number of reps: a frame the store holds is read from it at each get, not
    kept; a decoded one is kept until forgotten, and a get after that decodes it again, the same."""
    frame_bytes = MAX_SIDE * (MAX_SIDE * SIZE[1] // SIZE[0]) * 3
    with FrameStore(max_bytes=int(frames * frame_bytes), dir=tmp_path) as store:
        _fill(store, clip, None)
        reqs = [(100.0, 300.0), (1500.0, 300.0)]
        bank = pipeline.FrameBank(clip, MAX_SIDE, store=store)
        bank.fetch(reqs)
        in_store = [store.holds(store.nearest(*r)[1].t_ms) if store.nearest(*r)[0] else False for r in reqs]
        assert len(bank._held) == sum(not x for x in in_store)
        first = [bank.get(*r) for r in reqs]
        bank.forget(reqs)
        assert not bank._held
        again = [bank.get(*r) for r in reqs]
        for a, b in zip(first, again):
            assert (a.index, a.t_ms) == (b.index, b.t_ms)
            np.testing.assert_array_equal(a.rgb, b.rgb)


@pytest.mark.parametrize("cap", [None, 30.0], ids=["every-frame", "capped-60fps"])
def test_annotated_video_from_the_store_is_the_one_from_a_fresh_decode(
        clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cap: float | None) -> None:
    with FrameStore(dir=tmp_path) as store:
        kept = _fill(store, clip, cap)
        w, h = store.frame_size()
        seq = make_seq(np.asarray(kept), frame_w=w, frame_h=h, height_px=80.0)
        seq = seq.with_(meta={**seq.meta, "frames_skipped": N_FRAMES - len(kept)})
        plain = overlay.write_overlay_video(tmp_path / "plain.mp4", clip, seq)
        opened: list[int] = []
        real_iter = video.iter_frames
        monkeypatch.setattr(overlay.video, "iter_frames", lambda *a, **kw: opened.append(1) or real_iter(*a, **kw))
        stored = overlay.write_overlay_video(tmp_path / "stored.mp4", clip, seq, frames=store)
        assert opened == []  # not decoded again
        a, b = video.read_all(plain), video.read_all(stored)
        assert [f.t_ms for f in a] == [f.t_ms for f in b] and len(a) == len(kept)
        for fa, fb in zip(a, b):
            np.testing.assert_array_equal(fa.rgb, fb.rgb)


def test_analyze_decodes_the_clip_once_for_bar_check_flag_images_and_video(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With a pose pass that fills the store, nothing after it opens the clip, and every file is the
    same as when the later steps decode the clip themselves."""
    from support.landmark_sim import MEDIAPIPE_LIKE, simulate_sequence
    from tools.synth.kinematics import Fault

    seq = simulate_sequence("deadlift", 0.0, 3, corruption=MEDIAPIPE_LIKE.with_seed(1),
                            faults={1: Fault(lean_back_deg=30.0)}, seed=0).seq
    n = int(np.searchsorted(seq.t_ms, seq.t_ms[-1])) + 1
    clip = mc.write_clip(tmp_path / "clip.mp4", n_frames=n, fps=30.0, gop=15, size=(seq.frame_w, seq.frame_h))
    opened: list[str] = []
    real_iter = video.iter_frames

    def counting_iter(*a, **kw):  # noqa: ANN002, ANN003, ANN202
        opened.append("read")
        return real_iter(*a, **kw)

    def fake_pose(path, frames=None, **kw):  # noqa: ANN001, ANN003, ANN202
        if frames is not None:  # the pose pass: one decode, every frame kept
            for fr in real_iter(path, max_side=max(seq.frame_w, seq.frame_h)):
                frames.put(fr.index, fr.t_ms, np.ascontiguousarray(fr.rgb))
            frames.finish()
        return PoseResult(sequence=seq, masks=None, info=video.probe(path))

    monkeypatch.setattr(pipeline.video, "iter_frames", counting_iter)
    monkeypatch.setattr(overlay.video, "iter_frames", counting_iter)
    monkeypatch.setattr(pipeline, "extract_pose", fake_pose)
    res = pipeline.analyze_video(clip, lift="deadlift", out_dir=tmp_path / "one")
    assert opened == []
    assert res.report.flags and "video" in res.files
    assert res.report.extra.get("bar_check"), "the bar check must have run"
    # the same run with a pose pass that keeps nothing: the later steps decode the clip, same files
    monkeypatch.setattr(pipeline, "extract_pose",
                        lambda path, **kw: PoseResult(sequence=seq, masks=None, info=video.probe(path)))
    again = pipeline.analyze_video(clip, lift="deadlift", out_dir=tmp_path / "two")
    assert opened, "without the store the clip is decoded again"
    for key, p in res.files.items():
        if key != "pose":
            assert p.read_bytes() == again.files[key].read_bytes(), key


FAILURES = [
    ("disk-full-after-five-frames", "pwrite", 5),
    ("no-temporary-folder", "folder", 0),
]


@pytest.mark.parametrize(("name", "how", "held"), FAILURES, ids=[c[0] for c in FAILURES])
def test_a_store_that_cannot_write_holds_less_and_the_frames_come_from_the_clip(
        clip: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str, how: str, held: int) -> None:
    import errno

    from formcheck import framestore

    folder = tmp_path if how == "pwrite" else tmp_path / "missing"
    if how == "pwrite":
        real, calls = framestore.os.pwrite, []

        def failing(fd, data, offset):  # noqa: ANN001, ANN202
            calls.append(1)
            if len(calls) > held:
                raise OSError(errno.ENOSPC, "No space left on device")
            return real(fd, data, offset)

        monkeypatch.setattr(framestore.os, "pwrite", failing)
    with FrameStore(dir=folder) as store:
        _fill(store, clip, None)  # the pose pass goes on
        assert store.n_held == held
        bank = pipeline.FrameBank(clip, MAX_SIDE, store=store)
        plain = pipeline.FrameBank(clip, MAX_SIDE)
        for t in (50.0, 1500.0):
            a, b = bank.get(t), plain.get(t)
            assert (a.index, a.t_ms) == (b.index, b.t_ms)
            np.testing.assert_array_equal(a.rgb, b.rgb)
        assert bank.passes == 1 + (held == 0)  # 50 ms is frame 3: held unless nothing is
