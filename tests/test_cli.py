"""The ``formcheck`` CLI: outputs of ``pose``, one-line errors with exit code 2, folders, models."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from formcheck import __version__, video
from formcheck.cli import app
from formcheck.sequence import PoseSequence

SOURCES = ("squat_side_good", "squat_side_faults", "deadlift_side_good", "squat_front_kneecave")


@pytest.fixture(scope="module")
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture(scope="module")
def model_ok() -> None:
    from formcheck.models import ModelNotFoundError, resolve_model

    try:
        resolve_model("full")
    except ModelNotFoundError as exc:
        pytest.skip(f"no pose model: {exc}")


@pytest.fixture(scope="module")
def clip(tmp_path_factory, samples_dir: Path) -> Path:
    """1.5 s cut from a sample video."""
    for stem in SOURCES:
        src = samples_dir / f"{stem}.mp4"
        if src.is_file():
            frames = video.read_all(src, end_ms=1500.0)
            out = tmp_path_factory.mktemp("cli") / "lift.mp4"
            h, w = frames[0].rgb.shape[:2]
            with video.VideoWriter(out, 30.0, (w, h)) as wr:
                for f in frames:
                    wr.write(f.rgb, t_ms=f.t_ms)
            return out
    pytest.skip("no sample video rendered yet")


def _one_line_errors(stderr: str) -> list[str]:
    lines = [ln for ln in stderr.splitlines() if ln.strip()]
    assert "Traceback" not in stderr
    assert all(ln.startswith(("error: ", "warning: ")) for ln in lines), stderr
    return [ln for ln in lines if ln.startswith("error: ")]


def test_version(runner):
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and __version__ in res.stdout


def test_help_lists_commands(runner):
    res = runner.invoke(app, ["--help"])
    assert res.exit_code == 0
    for cmd in ("pose", "models"):
        assert cmd in res.stdout


def test_pose_writes_outputs(runner, model_ok, clip, tmp_path):
    out = tmp_path / "out"
    res = runner.invoke(app, ["pose", str(clip), "--out", str(out), "--model", "full"])
    assert res.exit_code == 0, res.stderr
    assert _one_line_errors(res.stderr) == []
    npz, csv_path, mp4 = (out / f"lift.{s}" for s in ("pose.npz", "pose.csv", "overlay.mp4"))
    seq = PoseSequence.load(npz)
    decoded = seq.n_frames + seq.meta["frames_skipped"]  # the frame-rate cap may skip frames ([pose])
    assert decoded > 30 and seq.n_frames >= decoded // 2 and seq.detection_rate > 0.9 and seq.model == "full"
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == seq.n_frames * 33 and rows[0]["landmark"] == "nose"
    info = video.probe(mp4)
    assert info.codec == "h264" and (info.width, info.height) == (seq.frame_w, seq.frame_h)
    t_overlay = np.array([f.t_ms for f in video.iter_frames(mp4)])
    np.testing.assert_allclose(t_overlay, seq.t_ms - seq.t_ms[0], atol=0.5)
    summary = [ln for ln in res.stdout.splitlines() if ln.startswith("lift.mp4:")]
    assert len(summary) == 1
    for part in ("frames", "% detected", "fps", "x real time"):
        assert part in summary[0]


def test_pose_options_no_video_masks_max_side(runner, model_ok, clip, tmp_path):
    res = runner.invoke(app, ["pose", str(clip), "-o", str(tmp_path), "--no-video", "--masks", "--max-side", "320",
                              "--workers", "1"])
    assert res.exit_code == 0, res.stderr
    assert not (tmp_path / "lift.overlay.mp4").exists()
    assert (tmp_path / "lift.masks.npz").is_file()
    seq = PoseSequence.load(tmp_path / "lift.pose.npz")
    assert max(seq.frame_w, seq.frame_h) == 320


def test_folder_input(runner, model_ok, clip, tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "lift.mp4").write_bytes(clip.read_bytes())
    (folder / "notes.txt").write_text("not a video")
    out = tmp_path / "out"
    res = runner.invoke(app, ["pose", str(folder), "-o", str(out), "--no-video"])
    assert res.exit_code == 0, res.stderr
    assert sorted(p.name for p in out.iterdir()) == ["lift.pose.csv", "lift.pose.npz"]


def _bad_inputs(tmp: Path) -> dict[str, list[str]]:
    text = tmp / "text.mp4"
    text.write_text("this is not a video\n")
    empty = tmp / "empty.mp4"
    empty.write_bytes(b"")
    folder = tmp / "no_videos"
    folder.mkdir()
    (folder / "readme.txt").write_text("x")
    bogus_task = tmp / "bogus.task"
    bogus_task.write_text("nope")
    return {
        "missing": [str(tmp / "missing.mp4")],
        "text": [str(text)],
        "empty": [str(empty)],
        "folder-without-videos": [str(folder)],
        "bad-model-name": ["--model", "enormous", str(text)],
        "bad-model-path": ["--model-path", str(bogus_task), str(text)],
        "bad-max-side": ["--max-side", "4", str(text)],
    }


@pytest.mark.parametrize(
    "case",
    ["missing", "text", "empty", "folder-without-videos", "bad-model-name", "bad-model-path", "bad-max-side"],
)
def test_bad_input_one_line_exit_2(runner, model_ok, tmp_path, case):
    args = _bad_inputs(tmp_path)[case]
    res = runner.invoke(app, ["pose", *args, "-o", str(tmp_path / "out")])
    assert res.exit_code == 2, (res.stdout, res.stderr)
    errors = _one_line_errors(res.stderr)
    assert len(errors) == 1
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_bad_clip_does_not_stop_the_others(runner, model_ok, clip, tmp_path):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 1000)
    out = tmp_path / "out"
    res = runner.invoke(app, ["pose", str(bad), str(clip), str(tmp_path / "gone.mov"), "-o", str(out), "--no-video"])
    assert res.exit_code == 2
    errors = _one_line_errors(res.stderr)
    assert len(errors) == 2 and any("broken.mp4" in e for e in errors) and any("gone.mov" in e for e in errors)
    assert (out / "lift.pose.npz").is_file()


def test_no_person_is_exit_0(runner, model_ok, tmp_path):
    empty = tmp_path / "wall.mp4"
    with video.VideoWriter(empty, 25.0, (320, 240)) as wr:
        for i in range(15):
            wr.write(np.full((240, 320, 3), 90 + i, np.uint8), t_ms=i * 40.0)
    res = runner.invoke(app, ["pose", str(empty), "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.stderr
    assert "0% detected (no person found)" in res.stdout
    assert PoseSequence.load(tmp_path / "out" / "wall.pose.npz").detection_rate == 0.0


def test_model_default_from_env(runner, model_ok, clip, tmp_path, monkeypatch):
    monkeypatch.setenv("FORMCHECK_MODEL", "no-such-model")
    res = runner.invoke(app, ["pose", str(clip), "-o", str(tmp_path)])
    assert res.exit_code == 2 and "no-such-model" in res.stderr


def test_models_lists_every_name(runner):
    res = runner.invoke(app, ["models"])
    assert res.exit_code in (0, 2), res.stderr
    if res.exit_code == 0:
        names = [ln.split()[1] if ln.startswith("*") else ln.split()[0] for ln in res.stdout.splitlines()]
        assert names == ["lite", "full", "heavy"]
    else:
        assert len(_one_line_errors(res.stderr)) == 1


def test_models_build_unknown_name(runner):
    res = runner.invoke(app, ["models", "--build", "gigantic"])
    assert res.exit_code == 2
    assert len(_one_line_errors(res.stderr)) == 1


# --------------------------------------------------------------------------- eval --by-source
def _labels_for(samples_dir: Path, stems: list[str]) -> list[dict]:
    """Label entries (labels.json format) for bundled samples, from their ground-truth JSON."""
    import json

    from formcheck.faults import FAULT_CODES

    out = []
    for stem in stems:
        truth = json.loads((samples_dir / f"{stem}.json").read_text())
        reps = [{"start_s": r["start_ms"] / 1000, "bottom_s": r["bottom_ms"] / 1000, "end_s": r["end_ms"] / 1000,
                 "faults": {c: ("yes" if c in r.get("faults", []) else "no") for c in FAULT_CODES}}
                for r in truth["reps"]]
        out.append({"file": f"{stem}.mp4", "lift": truth["lift"], "view": "side", "usable": True,
                    "rep_count": len(reps), "coach_reps": len(reps), "reps": reps,
                    "faults": {c: ("yes" if any(r["faults"][c] == "yes" for r in reps) else "no") for c in FAULT_CODES}})
    return out


def test_eval_by_source_prints_a_row_per_origin(runner, model_ok, samples_dir: Path, tmp_path: Path) -> None:
    import json

    stems = ["squat_side_good", "deadlift_side_good"]
    (tmp_path / "labels.json").write_text(json.dumps(_labels_for(samples_dir, stems)))
    (tmp_path / "SOURCES.json").write_text(json.dumps(
        [{"file": "squat_side_good.mp4", "source": {"type": "github", "repo": "us/squats"}},
         {"file": "deadlift_side_good.mp4", "source": {"type": "self-made"}}]))
    res = runner.invoke(app, ["eval", str(tmp_path / "labels.json"), str(samples_dir), "--model", "lite",
                              "--cache", str(tmp_path / "cache"), "--by-source"])
    assert res.exit_code == 0, res.output
    assert "### By source: rep count and lift" in res.output
    rows = [line for line in res.output.splitlines() if line.startswith(("| us/squats |", "| self-made |"))]
    assert len(rows) == 4, res.output  # one row per origin in each of the two tables
    assert "recognised: 2/2" in res.output


def test_eval_by_source_with_a_bad_sources_file_is_a_one_line_error(runner, samples_dir: Path,
                                                                     tmp_path: Path) -> None:
    import json

    (tmp_path / "labels.json").write_text(json.dumps(_labels_for(samples_dir, ["squat_side_good"])))
    (tmp_path / "SOURCES.json").write_text('{"not": "a list"}')
    res = runner.invoke(app, ["eval", str(tmp_path / "labels.json"), str(samples_dir), "--by-source"])
    assert res.exit_code == 2
    assert "--by-source" in res.output and "expected a list" in res.output


@pytest.mark.parametrize("option, value, expected", [
    ("--analysis-fps", "0", "--analysis-fps: expected 1-240"),
    ("--analysis-fps", "-15", "--analysis-fps: expected 1-240"),
    ("--analysis-fps", "500", "--analysis-fps: expected 1-240"),
    ("--analysis-stride", "0", "--analysis-stride: expected 1-8"),
    ("--analysis-stride", "-2", "--analysis-stride: expected 1-8"),
    ("--analysis-stride", "9", "--analysis-stride: expected 1-8"),
], ids=["rate-zero", "rate-negative", "rate-above-240", "stride-zero", "stride-negative", "stride-above-8"])
def test_eval_with_an_implausible_screening_option_is_a_one_line_error(runner, samples_dir: Path, tmp_path: Path,
                                                                        option: str, value: str, expected: str) -> None:
    import json

    (tmp_path / "labels.json").write_text(json.dumps(_labels_for(samples_dir, ["squat_side_good"])))
    res = runner.invoke(app, ["eval", str(tmp_path / "labels.json"), str(samples_dir), option, value])
    assert res.exit_code == 2
    assert expected in res.output
    assert "Traceback" not in res.output
