"""Golden reports: the whole JSON report of a few simulated clips, byte for byte.

The clips come from the kinematic model (:mod:`tools.synth.kinematics`) with
exact landmarks, so the analysis is deterministic; a change that moves any
number, verdict, sentence or field of the report shows up here as a diff.
After a change that *should* move them, regenerate and review the diff:

    FORMCHECK_UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_golden_reports.py

Each case also pins the report's meaning in plain asserts (rep count, partial
reps and their reasons), so a regenerated file cannot hide a wrong result.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from formcheck.analysis import analyze_sequence
from formcheck.sequence import PoseSequence
from support.landmark_sim import simulate_sequence

GOLDEN = Path(__file__).resolve().parent / "data" / "golden"


def _crop(seq: PoseSequence, start_ms: float, end_ms: float) -> PoseSequence:
    """The frames of ``seq`` in [start_ms, end_ms], timestamps shifted to start at 0 (a clip cut there)."""
    keep = (seq.t_ms >= start_ms) & (seq.t_ms <= end_ms)
    fields = {k: getattr(seq, k)[keep] for k in ("xy_px", "z_px", "world_m", "visibility", "presence")}
    return PoseSequence(t_ms=seq.t_ms[keep] - seq.t_ms[keep][0], frame_w=seq.frame_w, frame_h=seq.frame_h,
                        source=seq.source, model=seq.model, **fields)


def _squat_cut_both_ends() -> tuple[PoseSequence, dict]:
    sim = simulate_sequence("squat", view_deg=0.0, reps=4)
    r0, r3 = sim.truth.reps[0], sim.truth.reps[3]
    # open half-way down the first descent, end half-way up the last ascent
    start = 0.5 * (r0.start_ms + r0.bottom_ms)
    end = 0.5 * (r3.bottom_ms + r3.end_ms)
    return _crop(sim.seq, start, end), {"lift": "squat", "reps": 2,
                                        "partial": [("clip_start", "descent"), ("clip_end", "stands up")]}


def _set_down_ms(sim) -> float:
    """When the bar is back on the floor after the last pull (the simulated lifter then stands up without
    it: only the image check of the clip pipeline can tell that rise from a pull, so the landmark-level
    cases end here)."""
    finish = np.flatnonzero(sim.truth.phase == "finish")
    return float(sim.truth.t_ms[finish[0]])


def _deadlift_full() -> tuple[PoseSequence, dict]:
    sim = simulate_sequence("deadlift", view_deg=0.0, reps=2)
    return _crop(sim.seq, 0.0, _set_down_ms(sim) + 300.0), {"lift": "deadlift", "reps": 2, "partial": []}


def _deadlift_cut_mid_pull() -> tuple[PoseSequence, dict]:
    sim = simulate_sequence("deadlift", view_deg=0.0, reps=3)
    r0 = sim.truth.reps[0]
    # open part-way up the first pull: that pull is partial, the other two count
    start = r0.bottom_ms + 0.6 * (r0.end_ms - r0.bottom_ms)
    return _crop(sim.seq, start, _set_down_ms(sim) + 300.0), {"lift": "deadlift", "reps": 2,
                                                              "partial": [("clip_start", "pull")]}


CASES = {
    "squat_side_cut_both_ends": _squat_cut_both_ends,
    "deadlift_side_two_pulls": _deadlift_full,
    "deadlift_side_opens_mid_pull": _deadlift_cut_mid_pull,
}


@pytest.mark.parametrize("name", sorted(CASES), ids=sorted(CASES))
def test_report_matches_golden(name: str) -> None:
    seq, want = CASES[name]()
    report = analyze_sequence(seq, source={"file": f"{name}.mp4"}).report
    assert report.lift == want["lift"]
    assert report.rep_count == want["reps"], [(r["start_ms"], r["end_ms"]) for r in report.reps]
    got_partial = [(p["reason"], p["description"]) for p in report.partial_reps]
    assert [r for r, _ in got_partial] == [r for r, _ in want["partial"]], got_partial
    for (_, text), (_, word) in zip(got_partial, want["partial"]):
        assert word in text, text
    for f in report.flags:  # a flag never starts before its rep
        rep = next(r for r in report.reps if r["rep"] == f["rep"])
        assert f["t_ms"] >= rep["start_ms"]
    text = report.to_json(indent=1) + "\n"
    path = GOLDEN / f"{name}.json"
    if os.environ.get("FORMCHECK_UPDATE_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    assert path.is_file(), f"{path} missing: run with FORMCHECK_UPDATE_GOLDEN=1 to create it"
    assert json.loads(text) == json.loads(path.read_text(encoding="utf-8"))
    assert text == path.read_text(encoding="utf-8")


def test_partial_reps_never_carry_flags_or_count() -> None:
    """A clip cut mid-rep: the fragment is in partial_reps with its span, never in reps or in rep_count."""
    seq, _ = _squat_cut_both_ends()
    report = analyze_sequence(seq).report
    assert report.rep_count == len(report.reps)
    for p in report.partial_reps:
        assert p["start_ms"] is not None and p["start_ms"] <= p["end_ms"]
        for r in report.reps:
            assert p["end_ms"] <= r["start_ms"] or p["start_ms"] >= r["end_ms"], (p, r)
    assert np.all(np.isfinite([p["start_ms"] for p in report.partial_reps]))
