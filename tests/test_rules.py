"""Rule engine: limits at ±epsilon, sustained values, views, personal baseline, TOML validation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest

from formcheck.repmetrics import hips_rise_ratio, measure, sustained_extreme
from formcheck.rules import FaultRule, evaluate, load_rules, parse_ruleset

EPS = 1e-3


@dataclass(frozen=True)
class Ph:
    name: str
    start_ms: float
    end_ms: float


@dataclass(frozen=True)
class R:
    index: int
    start_ms: float
    bottom_ms: float
    end_ms: float
    phases: tuple[Ph, ...]


def squat_rep(i: int, t0: float, dur: float = 3000.0) -> R:
    b = t0 + 0.45 * dur
    return R(i, t0, b, t0 + dur, (Ph("descent", t0, b - 100), Ph("bottom", b - 100, b + 100), Ph("ascent", b + 100, t0 + dur)))


def set_of_reps(n: int, dur: float = 3000.0, gap: float = 500.0) -> tuple[np.ndarray, list[R]]:
    t = np.arange(0.0, n * (dur + gap) + 500.0, 1000.0 / 30.0)
    return t, [squat_rep(i, 250.0 + i * (dur + gap), dur) for i in range(n)]


def rep_profile(t: np.ndarray, rep: R, peak: float, base: float = 0.0) -> np.ndarray:
    """A smooth bump from ``base`` to ``peak`` at the rep's bottom, ``base`` outside the rep."""
    x = np.full_like(t, base)
    m = (t >= rep.start_ms) & (t <= rep.end_ms)
    u = (t[m] - rep.start_ms) / (rep.end_ms - rep.start_ms)
    x[m] = base + (peak - base) * np.sin(np.pi * u) ** 2
    return x


def squat_signals(t: np.ndarray, reps: list[R], trunk_peaks: list[float]) -> dict[str, np.ndarray]:
    trunk = np.zeros_like(t)
    for rep, p in zip(reps, trunk_peaks):
        trunk = np.maximum(trunk, rep_profile(t, rep, p))
    return {"trunk_deg": trunk, "quality": np.ones_like(t)}


RULESET = parse_ruleset({
    "lift": "squat",
    "faults": {
        "excessive_forward_lean": {
            "measure": "trunk_lean_max", "flag_when": "above", "limit_deg": 50.0, "major_deg": 60.0,
            "sustain_ms": 0, "views": {"side": 1.0, "oblique": 0.7},
        },
    },
})


@pytest.mark.parametrize(
    "peak, expected",
    [(50.0 - EPS, "clear"), (50.0 + EPS, "flagged"), (59.9, "flagged"), (30.0, "clear")],
    ids=["limit-minus-eps", "limit-plus-eps", "below-major", "far-below"],
)
def test_limit_boundaries(peak: float, expected: str) -> None:
    t, reps = set_of_reps(3)
    # a dense clock so the peak sample is hit exactly
    t = np.arange(0.0, t[-1], 1.0)
    sig = squat_signals(t, reps, [30.0, peak, 30.0])
    res = evaluate(RULESET, t, sig, reps, "side")
    assert res.rep_verdicts[1]["excessive_forward_lean"] == expected
    assert res.rep_verdicts[0]["excessive_forward_lean"] == "clear"
    assert res.verdicts["excessive_forward_lean"] == expected
    if expected == "flagged":
        (flag,) = res.flags
        assert flag.rep == 1 and flag.units == "deg" and flag.limit == 50.0
        assert flag.measured == pytest.approx(peak, abs=1e-3)
        peak_ms = 0.5 * (reps[1].start_ms + reps[1].end_ms)  # where rep_profile peaks
        assert abs(flag.t_ms - peak_ms) < 5.0


@pytest.mark.parametrize("peak, severity", [(55.0, "minor"), (60.0, "major"), (70.0, "major")], ids=["minor", "at-major", "beyond-major"])
def test_severity(peak: float, severity: str) -> None:
    t, reps = set_of_reps(2)
    t = np.arange(0.0, t[-1], 1.0)
    res = evaluate(RULESET, t, squat_signals(t, reps, [30.0, peak]), reps, "side")
    assert [f.severity for f in res.flags] == [severity]


def test_single_jittery_frame_never_flags() -> None:
    rules = parse_ruleset({
        "lift": "squat",
        "faults": {"excessive_forward_lean": {
            "measure": "trunk_lean_max", "limit_deg": 50.0, "major_deg": 60.0, "sustain_ms": 150,
            "views": {"side": 1.0}}},
    })
    t, reps = set_of_reps(2)
    sig = squat_signals(t, reps, [30.0, 30.0])
    spike = int(np.argmin(np.abs(t - reps[1].bottom_ms)))
    sig["trunk_deg"][spike] = 85.0
    res = evaluate(rules, t, sig, reps, "side")
    assert res.flags == ()
    sig["trunk_deg"][spike - 3 : spike + 4] = 85.0  # held ~200 ms: a real lean
    res = evaluate(rules, t, sig, reps, "side")
    assert [f.rep for f in res.flags] == [1]


@pytest.mark.parametrize("view, verdict", [("side", "clear"), ("oblique", "clear"), ("front", "not_assessable")],
                         ids=["side", "oblique", "front"])
def test_views_gate_verdicts(view: str, verdict: str) -> None:
    t, reps = set_of_reps(2)
    res = evaluate(RULESET, t, squat_signals(t, reps, [30.0, 30.0]), reps, view)
    assert res.verdicts["excessive_forward_lean"] == verdict
    if verdict == "not_assessable":
        assert "front" in res.reasons["excessive_forward_lean"]
        assert res.flags == ()


def test_front_view_never_gets_side_only_flag() -> None:
    t, reps = set_of_reps(2)
    res = evaluate(RULESET, t, squat_signals(t, reps, [80.0, 80.0]), reps, "front")
    assert res.flags == () and res.verdicts["excessive_forward_lean"] == "not_assessable"


def test_low_quality_is_not_assessable() -> None:
    t, reps = set_of_reps(2)
    sig = squat_signals(t, reps, [80.0, 80.0])
    sig["quality"] = np.full_like(t, 0.2)
    res = evaluate(RULESET, t, sig, reps, "side")
    assert res.verdicts["excessive_forward_lean"] == "not_assessable" and res.flags == ()


def test_no_reps_is_not_assessable() -> None:
    t, _ = set_of_reps(1)
    res = evaluate(RULESET, t, squat_signals(t, [], []), [], "side")
    assert res.verdicts["excessive_forward_lean"] == "not_assessable"
    assert res.reasons["excessive_forward_lean"] == "no complete rep"


@pytest.mark.parametrize(
    "peaks, flagged_reps",
    [
        ([55.0, 56.0, 55.5], []),          # a build that leans 55°: judged against its own best rep
        ([55.0, 56.0, 66.0], [2]),         # an outlier beyond best + margin is still flagged
        ([61.0, 61.5, 62.0], [0, 1, 2]),   # beyond the cap the baseline stops helping
    ],
    ids=["consistent-lean", "outlier", "beyond-cap"],
)
def test_personal_baseline(peaks: list[float], flagged_reps: list[int]) -> None:
    rules = parse_ruleset({
        "lift": "squat",
        "faults": {"excessive_forward_lean": {
            "measure": "trunk_lean_max", "limit_deg": 50.0, "major_deg": 60.0,
            "personal_margin_deg": 8.0, "personal_cap_deg": 60.0, "views": {"side": 1.0}}},
    })
    t, reps = set_of_reps(3)
    res = evaluate(rules, t, squat_signals(t, reps, peaks), reps, "side")
    assert [f.rep for f in res.flags] == flagged_reps


@pytest.mark.parametrize(
    "table, message",
    [
        ({"measure": "nope", "limit_deg": 1.0, "major_deg": 2.0, "views": {"side": 1.0}}, "measure expected"),
        ({"measure": "trunk_lean_max", "limit_deg": 1.0, "views": {"side": 1.0}}, "major_deg"),
        ({"measure": "trunk_lean_max", "limit_deg": 5.0, "major_deg": 2.0, "views": {"side": 1.0}}, "beyond limit"),
        ({"measure": "trunk_lean_max", "limit_deg": 1.0, "major_deg": 2.0, "views": {"top": 1.0}}, "views expected"),
        ({"measure": "trunk_lean_max", "limit_deg": 1.0, "major_deg": 2.0, "major_thigh": 3.0, "views": {"side": 1.0}}, "do not match"),
        ({"measure": "trunk_lean_max", "limit_deg": 1.0, "major_deg": 2.0, "personal_margin_deg": 1.0, "views": {"side": 1.0}}, "together"),
    ],
    ids=["unknown-measure", "missing-major", "major-not-beyond", "bad-view", "mixed-units", "half-baseline"],
)
def test_invalid_rules_are_rejected(table: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ruleset({"lift": "squat", "faults": {"excessive_forward_lean": table}})


@pytest.mark.parametrize("lift", ["squat", "deadlift"])
def test_packaged_rules_load_and_use_label_codes(lift: str) -> None:
    from formcheck.faults import FAULT_CODES

    rs = load_rules(lift)
    assert set(rs.codes) <= set(FAULT_CODES)
    assert {"rounded_back", "hips_rise_early", "incomplete_lockout"} <= set(rs.codes)
    for alts in rs.rules.values():
        for rule in alts:
            assert isinstance(rule, FaultRule)


def test_rounded_back_falls_back_to_the_proxy_with_lower_confidence() -> None:
    rs = load_rules("squat")
    t, reps = set_of_reps(2)
    sig = {"back_rounding_proxy": np.zeros_like(t), "quality": np.ones_like(t)}
    sig["back_rounding_proxy"] = rep_profile(t, reps[1], 40.0)
    res = evaluate(rs, t, sig, reps, "side")
    flags = [f for f in res.flags if f.code == "rounded_back"]
    assert [f.rep for f in flags] == [1]
    assert flags[0].measure == "back_rounding_proxy_max" and flags[0].confidence <= 0.6
    sig["spine_flexion_deg"] = rep_profile(t, reps[0], 40.0)
    res = evaluate(rs, t, sig, reps, "side")
    flags = [f for f in res.flags if f.code == "rounded_back"]
    assert [(f.rep, f.measure) for f in flags] == [(0, "spine_flexion_max")]


@pytest.mark.parametrize(
    "x, sustain_ms, mode, expected",
    [
        ([0, 0, 9, 0, 0], 0, "max", 9.0),
        ([0, 0, 9, 0, 0], 50, "max", 0.0),
        ([0, 5, 9, 9, 5, 0], 50, "max", 9.0),
        ([0, 5, 9, 9, 5, 0], 100, "max", 5.0),
        ([3, 3, -7, 3], 50, "min", 3.0),
        ([np.nan, np.nan], 50, "max", np.nan),
    ],
    ids=["plain-max", "spike-not-held", "held-two-frames", "held-three-frames", "min-spike", "all-nan"],
)
def test_sustained_extreme(x: list[float], sustain_ms: float, mode: str, expected: float) -> None:
    t = np.arange(len(x)) * 40.0
    v, _ = sustained_extreme(t, np.asarray(x, dtype=float), sustain_ms, mode)
    if np.isnan(expected):
        assert np.isnan(v)
    else:
        assert v == pytest.approx(expected)


@pytest.mark.parametrize(
    "hip_rise, shoulder_rise, expected",
    [(0.10, 0.10, 1.0), (0.20, 0.10, 2.0), (0.05, 0.10, 0.5), (0.10, 0.0, 5.0)],
    ids=["together", "hips-lead", "chest-leads", "stalled-chest-capped"],
)
def test_hips_rise_ratio(hip_rise: float, shoulder_rise: float, expected: float) -> None:
    rep = squat_rep(0, 0.0, 3000.0)
    t = np.arange(0.0, 3001.0, 10.0)
    asc = rep.phases[2]
    u = np.clip((t - asc.start_ms) / (0.3 * (asc.end_ms - asc.start_ms)), 0.0, None)
    hip = 0.5 + hip_rise * np.minimum(u, 1.0)
    sh = 0.9 + shoulder_rise * np.minimum(u, 1.0)
    m = hips_rise_ratio(t, {"hip_height_norm": hip, "shoulder_height_norm": sh}, rep, early_fraction=0.3)
    assert m.value == pytest.approx(expected, rel=1e-2)


def test_measure_rejects_unknown_name_and_params() -> None:
    rep = squat_rep(0, 0.0)
    t = np.arange(0.0, 3000.0, 33.3)
    with pytest.raises(ValueError, match="expected one of"):
        measure("nope", t, {}, rep)
    with pytest.raises(ValueError, match="unexpected parameters"):
        measure("trunk_lean_max", t, {"trunk_deg": np.zeros_like(t)}, rep, bogus=1.0)
