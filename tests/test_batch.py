"""Batches without Ray: clip lists, resume keys, summary rows and files, the local engine's --resume.

The Ray engine itself is tested in tests/test_ray_engine.py.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from formcheck import batch
from formcheck.cli import app
from formcheck.faults import FAULT_CODES

SAMPLES = Path(__file__).resolve().parents[1] / "sample_videos"
MODEL = SAMPLES.parent / "formcheck" / "models"


# --------------------------------------------------------------------------- clip lists
LIST_CASES = [
    ("relative_paths", "a.mp4\nsub/b.mp4\n", ["a.mp4", "sub/b.mp4"]),
    ("comments_and_blank_lines", "# set 1\n\n  a.mp4  \n#b.mp4\n", ["a.mp4"]),
    ("absolute_path_kept", "/data/x.mov\n", ["/data/x.mov"]),
    ("empty_list", "", []),
]


@pytest.mark.parametrize("text,want", [c[1:] for c in LIST_CASES], ids=[c[0] for c in LIST_CASES])
def test_clip_list_expands(tmp_path: Path, text: str, want: list[str]) -> None:
    listing = tmp_path / "clips.txt"
    listing.write_text(text, encoding="utf-8")
    got = batch.expand_lists([listing, tmp_path / "other.mp4"])
    expected = [Path(w) if Path(w).is_absolute() else tmp_path / w for w in want] + [tmp_path / "other.mp4"]
    assert got == expected


def test_unreadable_clip_list_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read the clip list"):
        batch.expand_lists([tmp_path / "missing.txt"])
    res = CliRunner().invoke(app, ["analyze", str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o")])
    assert res.exit_code == 2 and "error:" in res.output and "Traceback" not in res.output


# --------------------------------------------------------------------------- keys
def _model_file() -> Path:
    from formcheck.models import resolve_model

    return resolve_model("lite")


KEY_CHANGES = [
    ("lift", {"lift": "squat"}),
    ("athlete", {"athlete": "Ann"}),
    ("silhouette", {"keep_masks": False}),
    ("every_frame", {"every_frame": True}),
]


@pytest.mark.parametrize("change", [c[1] for c in KEY_CHANGES], ids=[c[0] for c in KEY_CHANGES])
def test_fingerprint_follows_what_the_report_depends_on(change: dict) -> None:
    base = batch.BatchSettings(model="lite")
    fp = batch.settings_fingerprint(base, _model_file())
    assert batch.settings_fingerprint(batch.BatchSettings(model="lite"), _model_file()) == fp  # stable
    assert batch.settings_fingerprint(batch.BatchSettings(**{**base.__dict__, **change}), _model_file()) != fp


def test_fingerprint_follows_the_model_and_rules_files(tmp_path: Path) -> None:
    from formcheck.models import resolve_model

    base = batch.BatchSettings(model="lite")
    fp = batch.settings_fingerprint(base, _model_file())
    assert batch.settings_fingerprint(base, resolve_model("full")) != fp
    rules = tmp_path / "squat.toml"
    rules.write_bytes((Path(batch.__file__).parent / "config" / "squat.toml").read_bytes())
    with_rules = batch.BatchSettings(model="lite", rules_files=(("squat", str(rules)),))
    fp_rules = batch.settings_fingerprint(with_rules, _model_file())
    assert fp_rules != fp
    rules.write_bytes(rules.read_bytes() + b"\n# tuned\n")
    assert batch.settings_fingerprint(with_rules, _model_file()) != fp_rules


# --------------------------------------------------------------------------- rows and summary files
def _report(verdicts: dict, flags: list[tuple[str, int]]) -> dict:
    return {"status": "ok", "lift": "squat", "view": "side", "rep_count": 3, "partial_reps": [{"rep": 0}],
            "verdicts": verdicts, "flags": [{"code": c, "rep": r} for c, r in flags]}


def test_row_counts_flagged_reps_and_never_guesses_zero() -> None:
    rep = _report({"shallow_depth": "flagged", "knee_cave": "not_assessable", "rounded_back": "clear"},
                  [("shallow_depth", 1), ("shallow_depth", 3)])
    row = batch.row_from_report(Path("/x/a.mp4"), rep, seconds=1.5)
    assert (row.clip, row.reps, row.partial_reps, row.flags) == ("a.mp4", 3, 1, 2)
    assert row.faults["shallow_depth"] == 2 and row.faults["rounded_back"] == 0
    assert row.faults["knee_cave"] is None  # not assessable: empty
    assert row.faults["bar_drift"] is None  # not judged for this lift: empty
    assert set(row.faults) == set(FAULT_CODES)


def test_summary_files_round_trip(tmp_path: Path) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    rows = [batch.row_from_report(Path("a.mp4"), _report({"shallow_depth": "flagged"}, [("shallow_depth", 2)]),
                                  seconds=2.0),
            batch.failed_row(Path("=cmd.mp4"), "not a readable\n video", attempts=2)]
    files = batch.write_summary(rows, tmp_path)
    assert [f.name for f in files] == [batch.SUMMARY_CSV, batch.SUMMARY_PARQUET]
    table = pq.read_table(tmp_path / batch.SUMMARY_PARQUET).to_pylist()
    assert list(table[0]) == list(batch.COLUMNS)
    assert table[0]["shallow_depth"] == 1 and table[0]["knee_cave"] is None
    assert table[1]["outcome"] == "failed" and table[1]["error"] == "not a readable video" and table[1]["attempts"] == 2
    lines = (tmp_path / batch.SUMMARY_CSV).read_text(encoding="utf-8").splitlines()
    assert lines[0].split(",") == list(batch.COLUMNS)
    assert lines[2].startswith("'=cmd.mp4,")  # a spreadsheet formula is written as text


def test_resume_record_needs_same_key_and_files(tmp_path: Path) -> None:
    clip = tmp_path / "c.mp4"
    clip.write_bytes(b"clip bytes")
    out = tmp_path / "out"
    out.mkdir()
    (out / "c.report.json").write_text("{}")
    row = batch.row_from_report(clip, _report({}, []), seconds=1.0, report_file="c.report.json")
    key = batch.clip_key(batch._sha256_file(clip), "fp")
    batch.write_record(out, clip, key, row, {"json": out / "c.report.json"})
    assert batch.resumed_row(clip, out, "fp").outcome == "resumed"
    assert batch.resumed_row(clip, out, "other rules") is None
    clip.write_bytes(b"edited clip")
    assert batch.resumed_row(clip, out, "fp") is None
    clip.write_bytes(b"clip bytes")
    (out / "c.report.json").unlink()
    assert batch.resumed_row(clip, out, "fp") is None


# --------------------------------------------------------------------------- the command
OPTION_ERRORS = [
    ("unknown_engine", ["--engine", "spark"], "--engine"),
    ("address_without_ray", ["--address", "10.0.0.1:6379"], "--address"),
]


@pytest.mark.parametrize("args,word", [c[1:] for c in OPTION_ERRORS], ids=[c[0] for c in OPTION_ERRORS])
def test_engine_option_errors(tmp_path: Path, args: list[str], word: str) -> None:
    res = CliRunner().invoke(app, ["analyze", str(SAMPLES / "squat_side_good.mp4"), "--out", str(tmp_path), *args])
    assert res.exit_code == 2 and word in res.output and "Traceback" not in res.output


def test_local_resume_skips_what_is_done(tmp_path: Path) -> None:
    """The local engine: a second run with --resume analyses nothing and still writes the summary."""
    out = tmp_path / "out"
    args = ["analyze", str(SAMPLES / "squat_side_good.mp4"), str(tmp_path / "nope.mp4"), "--out", str(out),
            "--model", "lite", "--format", "json", "--no-video", "--no-silhouette"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 2  # the missing clip
    rows = list(__import__("csv").DictReader(open(out / batch.SUMMARY_CSV, encoding="utf-8")))
    assert [r["outcome"] for r in rows] == ["analysed"]
    report = out / "squat_side_good.report.json"
    stamp = report.stat().st_mtime_ns
    again = CliRunner().invoke(app, [*args[:2], *args[3:], "--resume"])
    assert again.exit_code == 0, again.output
    assert "resumed" in again.output and report.stat().st_mtime_ns == stamp
    rows = list(__import__("csv").DictReader(open(out / batch.SUMMARY_CSV, encoding="utf-8")))
    assert [(r["clip"], r["outcome"]) for r in rows] == [("squat_side_good.mp4", "resumed")]
    assert json.loads((out / "squat_side_good.batch.json").read_text())["row"]["reps"] == int(rows[0]["reps"])


def test_local_engine_never_imports_ray(tmp_path: Path) -> None:
    code = ("import sys; from typer.testing import CliRunner; from formcheck.cli import app; "
            f"CliRunner().invoke(app, ['analyze', {str(tmp_path / 'none.mp4')!r}, '--out', {str(tmp_path)!r}]); "
            "import formcheck.worker; formcheck.worker.JobManager; "
            "print('ray' in sys.modules)")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.stdout.strip().splitlines()[-1] == "False", res.stderr


def test_kept_scanners_give_the_same_poses(monkeypatch) -> None:
    """A batch worker keeps the people scanner between clips (formcheck.pose.keep_scanners): same landmarks."""
    import numpy as np

    from formcheck import pose

    clip = Path(__file__).resolve().parent / "data" / "two_people.mp4"
    fresh = pose.extract_pose(clip, model="lite", workers=1).sequence
    monkeypatch.setattr(pose, "_SCANNER_POOL", None)
    pose.keep_scanners()
    first = pose.extract_pose(clip, model="lite", workers=1).sequence
    kept = pose._SCANNER_POOL and sum(len(v) for v in pose._SCANNER_POOL.values())
    assert kept == 1, "the scanner is kept after the clip"
    again = pose.extract_pose(clip, model="lite", workers=1).sequence  # reuses it
    assert sum(len(v) for v in pose._SCANNER_POOL.values()) == 1
    for seq in (first, again):
        np.testing.assert_array_equal(seq.t_ms, fresh.t_ms)
        np.testing.assert_array_equal(seq.xy_px, fresh.xy_px)
        np.testing.assert_array_equal(seq.world_m, fresh.world_m)


def test_ray_engine_without_ray_is_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # as if the scale extra were not installed
    res = CliRunner().invoke(app, ["analyze", str(SAMPLES / "squat_side_good.mp4"), "--engine", "ray",
                                   "--out", str(tmp_path)])
    assert res.exit_code == 2 and 'pip install "formcheck[scale]"' in res.output
    assert "Traceback" not in res.output
