"""Accuracy evaluation over every real labelled clip (slow; skipped without ../shared/data/lifts).

Runs the analysis on each clip (poses through the session cache), checks the
evaluation completes without error, and writes the summary to
``test-artifacts/eval_real.md``. The figures in docs/accuracy.md come from the
same code path (``formcheck eval``). Targets are checked here too, so a change
that breaks them fails the run.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from formcheck.evaluate import (ClipOutcome, evaluate, evaluate_by_source, format_by_source, format_markdown,
                                source_of_clips)
from formcheck.pipeline import analyze_for_eval

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_eval_runs_over_every_real_clip(shared_lifts: Path, real_pose_cache: Path) -> None:
    labels = json.loads((shared_lifts / "labels.json").read_text())
    outcomes = []
    for entry in labels:
        report = analyze_for_eval(shared_lifts / "videos" / entry["file"], model="full", cache_dir=real_pose_cache)
        outcomes.append(ClipOutcome(entry, report))
    summary = evaluate(outcomes)
    text = format_markdown(summary)
    sources = shared_lifts / "SOURCES.json"
    if sources.is_file():
        text += "\n" + format_by_source(evaluate_by_source(outcomes, source_of_clips(json.loads(sources.read_text()))))
    (REPO / "test-artifacts").mkdir(exist_ok=True)
    (REPO / "test-artifacts" / "eval_real.md").write_text(text)
    print("\n" + text)
    assert summary.clips == len(labels) and not summary.failed
    # every report names a lift and a view for clips with a lifter
    for row in summary.per_clip:
        if row["lift"] in ("squat", "deadlift") and row["usable"]:
            assert row["detected_lift"] == row["lift"], row
    # regression floors at what the landed code measures (docs/accuracy.md); targets are higher
    assert summary.lift_correct >= 70, summary.lift_correct
    assert summary.rep_exact >= 56, summary.rep_exact
    # reps missed or extra over the usable clips: 10 since hidden bottoms are bridged and fades split (16 before)
    assert sum(summary.rep_abs_errors) <= 10, summary.rep_abs_errors
    # honest flags (issue 11): no fault cries wolf on more than 5 % of the clean clips, and at most 2 % of the
    # clean reps carry any flag (both measured at 0 since the heel, depth, outline and head-proxy fixes)
    for code, prf in summary.clip_level.items():
        clean = prf.fp + prf.tn
        assert prf.fp <= 0.05 * clean, f"{code}: {prf.fp}/{clean} clean clips flagged"
    assert summary.clean_reps_flagged <= 0.02 * summary.clean_reps, (summary.clean_reps_flagged, summary.clean_reps)
