"""formcheck.pipeline's IO edge: the clip is hashed once."""

from __future__ import annotations

from pathlib import Path

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

    def vetoing_bar_check(path, analysis, rerun, rules_paths=None):  # noqa: ANN001, ANN202
        reruns.append(1)
        return rerun(not_reps=[], extra_warnings=["a rise at 1.0 s left the bar on the floor: not counted"],
                     extra={"bar_check": []})

    monkeypatch.setattr(pipeline, "with_bar_check", vetoing_bar_check)
    res = pipeline.analyze_video(clip, out_dir=tmp_path, make_video=False, formats=("json",))
    assert reruns == [1]
    assert calls == [clip]
    assert res.report.source["sha256"] == real_sha(clip)
    assert "a rise at 1.0 s left the bar on the floor: not counted" in res.report.warnings
