"""The scoring of ``benchmarks/render_flags.py`` (the renders target of issue #11), without rendering.

"Twice its limit" is counted from the set's clean reps; a rep that opens on the previous pull's rounded
lowering is neither clean nor injected. Checked on hand-made rows and on a simulated set with exact truth.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.render_flags import RepRow, judge_clip, twice_ratio  # noqa: E402
from formcheck.rules import load_rules  # noqa: E402
from support.landmark_sim import CLEAN, to_pose_sequence  # noqa: E402
from tools.synth.kinematics import simulate  # noqa: E402


def _row(lift: str, code: str | None, value: float, clip: str = "c") -> RepRow:
    return RepRow(clip, lift, "side", 1, (code,) if code else (), True, {}, {c: value for c in [code] if c}, {})


def _limit(lift: str, code: str, measure: str | None = None) -> float:
    rules = load_rules(lift).rules[code]
    return next(r.limit for r in rules if measure is None or r.measure == measure)


# (lift, code, clean readings, fault reading as a function of the limit, expected ratio)
CASES = [
    ("heel-rise-from-zero", "squat", "heels_lift", [0.0, 0.0], lambda lim: 2 * lim, 2.0),
    ("trunk-lean-from-clean-40", "squat", "excessive_forward_lean", [40.0, 40.0], lambda lim: 40 + 2 * (lim - 40), 2.0),
    ("trunk-lean-just-past-limit", "squat", "excessive_forward_lean", [40.0, 40.0], lambda lim: lim + 1, None),
    ("knee-ratio-below", "squat", "knee_cave", [1.05, 1.05], lambda lim: 1.05 - 2 * (1.05 - lim), 2.0),
]


@pytest.mark.parametrize("lift,code,clean,fault,want", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_twice_ratio_counts_from_the_clean_reps(lift, code, clean, fault, want):
    lim = _limit(lift, code)
    rows = [RepRow("c", lift, "side", i + 1, (), True, {}, {code: v}, {}) for i, v in enumerate(clean)]
    bad = _row(lift, code, fault(lim))
    rows.append(bad)
    r = twice_ratio(rows, bad, code)
    if want is None:
        assert 1.0 < r < 2.0
    else:
        assert r == pytest.approx(want)


def test_twice_ratio_of_a_rounded_back_is_true_flexion_over_the_set_rule_limit():
    lim = _limit("deadlift", "rounded_back", "spine_flexion_vs_set")
    row = _row("deadlift", "rounded_back", 2 * lim)
    assert twice_ratio([row], row, "rounded_back") == pytest.approx(2.0)


def test_twice_ratio_without_clean_reps_is_nan():
    row = _row("squat", "heels_lift", 0.5)
    assert math.isnan(twice_ratio([row], row, "heels_lift"))


def test_the_rep_after_a_rounded_pull_opens_on_its_rounded_lowering():
    sim = simulate("deadlift", 0.0, reps=3, faults={1: "rounded_back"}, fps=15.0, seed=None)
    rows = judge_clip("sim", "deadlift", sim, to_pose_sequence(sim, CLEAN), None)
    assert [r.faults for r in rows] == [(), ("rounded_back",), ()]
    assert [r.carried for r in rows] == [False, False, True]
    assert rows[1].truth["rounded_back"] == pytest.approx(47.0, abs=1.0)
    assert rows[0].truth["rounded_back"] == pytest.approx(0.0, abs=0.5)
    assert all(r.matched for r in rows)
