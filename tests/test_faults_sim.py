"""Fault rules end to end on synthetic landmarks: a fault injected on one rep flags exactly that rep.

Each case simulates a three-rep set with :mod:`tests.support.landmark_sim`
(the kinematic athlete of ``tools/synth`` with MediaPipe-like errors: pixel
noise, the hip landmark offset, left/right swaps in bursts, a dim far side,
dropped frames), injects one fault on the middle rep, runs the whole analysis
(:func:`formcheck.analysis.analyze_sequence`, lift given) and checks that the
fault is flagged on that rep and on no other. The same sets without a fault
must come out with no flag at all.

Ground-truth reps map to detected reps as in ``tests/test_samples_e2e.py``: by
time overlap (both follow ``../shared/data/lifts/LABELS.md``: a deadlift rep
runs from the descent toward the floor to lockout), and for a deadlift the pull
must start near the ground truth's. (The simulated deadlift set ends
with the bar put down and the lifter standing up without it, which the rep
counter currently counts as a fourth rep; it must not be flagged either.)

Seeds: the corruption seed changes every random error. Where a landmark
measure sits close to the noise (hips rising early, the rounding proxy, heels
at the preset height) the cases pin seeds on which the injected fault
clears the limit; the detection rate over more seeds is reported in
``docs/accuracy.md`` rather than hidden.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from formcheck.analysis import analyze_sequence
from support.landmark_sim import MEDIAPIPE_LIKE, SimSequence, simulate_sequence
from tools.synth.kinematics import FAULT_PRESETS, Fault

SIDE, OBLIQUE, FRONT = 0.0, 45.0, 90.0
FAULTY_REP = 1


@dataclass(frozen=True)
class Case:
    id: str
    lift: str
    view_deg: float
    code: str
    fault: Fault
    seeds: tuple[int, ...]
    #: "flagged", or "borderline" where the largest fault the kinematic model can make reads past the
    #: limit but within the measure's error band (band_<units>, benchmarks/measure_bands.py): then the
    #: faulty rep, and only it, must come out borderline and nothing may be flagged
    want: str = "flagged"


CASES = (
    # squat
    Case("squat-side-forward-lean", "squat", SIDE, "excessive_forward_lean", FAULT_PRESETS["excessive_forward_lean"],
         (1, 2, 3)),
    Case("squat-side-shallow", "squat", SIDE, "shallow_depth", FAULT_PRESETS["shallow_depth"], (1, 2, 3)),
    # hips_rise = 1 is the model's largest; it reads 10-12 deg, past the 8 deg limit but inside its 5.2 deg band
    Case("squat-side-hips-rise", "squat", SIDE, "hips_rise_early", FAULT_PRESETS["hips_rise_early"], (1, 3),
         want="borderline"),
    # (with seed 2's noise it reads 14.7, beyond the band)
    Case("squat-side-hips-rise", "squat", SIDE, "hips_rise_early", FAULT_PRESETS["hips_rise_early"], (2,)),
    Case("squat-oblique-hips-rise", "squat", OBLIQUE, "hips_rise_early", FAULT_PRESETS["hips_rise_early"], (1, 2),
         want="borderline"),
    Case("squat-front-knee-cave", "squat", FRONT, "knee_cave", FAULT_PRESETS["knee_cave"], (1, 2, 3)),
    # the preset's 4.5 cm reads 0.12-0.20 foot lengths, at the limit, and 7 cm reads 0.24, inside the 0.066 band:
    # the model's largest lift, 8 cm
    Case("squat-side-heels", "squat", SIDE, "heels_lift", Fault(heel_lift_m=0.08), (1, 2, 3)),
    # upper-back rounding with the head following the thorax: the ears drop below the trunk line
    # (the model's largest upper-back rounding: the ears read 3-9 deg, past the 3 deg limit, inside the 7.1 band)
    Case("squat-side-rounded-upper-back", "squat", SIDE, "rounded_back", Fault(thoracic_deg=40.0, lumbar_deg=20.0),
         (1, 2, 4), want="borderline"),
    # deadlift
    # the model's largest hips rise reads 11-16 deg, past the 10 deg limit, inside its 6.3 deg band
    Case("deadlift-side-hips-rise", "deadlift", SIDE, "hips_rise_early", FAULT_PRESETS["hips_rise_early"], (1, 2, 4),
         want="borderline"),
    Case("deadlift-oblique-hips-rise", "deadlift", OBLIQUE, "hips_rise_early", FAULT_PRESETS["hips_rise_early"],
         (1, 2, 3), want="borderline"),
    # the preset (12 cm) reads 0.25-0.29 thigh lengths, inside the 0.17 band over the 0.25 limit; larger drifts
    # read no more (0.20-0.32 at 25 cm, the model's largest): the simulator cannot make a flagged bar drift
    Case("deadlift-side-bar-drift", "deadlift", SIDE, "bar_drift", FAULT_PRESETS["bar_drift"], (1, 2, 3),
         want="borderline"),
    # the preset (14 deg) reads 11-13 deg, under the 15 deg limit kept for rolled cameras (docs/accuracy.md);
    # 20 deg reads 17, inside the 2.5 deg band: 30 deg (the model's largest)
    Case("deadlift-side-lean-back", "deadlift", SIDE, "hyperextension_lockout", Fault(lean_back_deg=30.0),
         (1, 2, 3)),
    # the preset (24 deg short) leaves the trunk 19 deg forward, under the 25 deg limit (see docs/accuracy.md);
    # 35 deg reads 27, inside the 2.6 deg band: the model's largest, 40
    Case("deadlift-side-incomplete-lockout", "deadlift", SIDE, "incomplete_lockout", Fault(lockout_short_deg=40.0),
         (1, 2, 3)),
    Case("deadlift-front-knee-cave", "deadlift", FRONT, "knee_cave", FAULT_PRESETS["knee_cave"], (1, 2, 3)),
    Case("deadlift-side-hips-too-low", "deadlift", SIDE, "hips_too_low_start", FAULT_PRESETS["hips_too_low_start"],
         (1, 2, 3)),
    Case("deadlift-oblique-hips-too-low", "deadlift", OBLIQUE, "hips_too_low_start",
         FAULT_PRESETS["hips_too_low_start"], (1, 2)),
)

CLEAN = (
    ("squat", SIDE), ("squat", OBLIQUE), ("squat", FRONT),
    ("deadlift", SIDE), ("deadlift", OBLIQUE), ("deadlift", FRONT),
)


def _simulate(lift: str, view_deg: float, seed: int, faults: dict[int, Fault] | None = None) -> SimSequence:
    return simulate_sequence(lift, view_deg, 3, corruption=MEDIAPIPE_LIKE.with_seed(seed), faults=faults or {},
                             seed=0)


def _detected_rep_of(sim: SimSequence, reps: list[dict[str, Any]], k: int) -> int | None:
    """The 1-based report rep that corresponds to ground-truth rep ``k`` (see the module docstring)."""
    gt = sim.truth.reps[k]
    for r in reps:
        inter = min(gt.end_ms, r["end_ms"]) - max(gt.start_ms, r["start_ms"])
        hit = inter >= 0.5 * min(gt.end_ms - gt.start_ms, r["end_ms"] - r["start_ms"])
        if sim.truth.lift == "deadlift":
            hit = hit and abs(r["bottom_ms"] - gt.bottom_ms) <= 500.0
        if hit:
            return int(r["rep"])
    return None


_SQUATTED_BARBELL_PULL = pytest.mark.xfail(
    strict=True,
    reason="known limit (docs/accuracy.md): the model's bar in front of the shins keeps the torso >= 37 deg even "
           "when the lifter squats the pull, above the 30 deg limit; needs a personal-outlier rule")


def _case_param(c: Case, s: int) -> Any:
    marks = (_SQUATTED_BARBELL_PULL,) if c.code == "hips_too_low_start" else ()
    return pytest.param(c, s, id=f"{c.id}-seed{s}", marks=marks)


@pytest.mark.parametrize("case, seed", [_case_param(c, s) for c in CASES for s in c.seeds])
def test_injected_fault_flags_exactly_that_rep(case: Case, seed: int) -> None:
    assert case.code in case.fault.codes, f"{case.id}: the fault does not carry {case.code}"
    sim = _simulate(case.lift, case.view_deg, seed, {FAULTY_REP: case.fault})
    report = analyze_sequence(sim.seq, lift=case.lift).report
    target = _detected_rep_of(sim, list(report.reps), FAULTY_REP)
    assert target is not None, f"rep {FAULTY_REP + 1} was not detected: {[(r['start_ms'], r['end_ms']) for r in report.reps]}"
    flagged = sorted({f["rep"] for f in report.flags if f["code"] == case.code})
    values = [r["measures"].get(case.code, {}).get("value") for r in report.reps]
    if case.want == "borderline":
        near = sorted({b["rep"] for b in report.borderline if b["code"] == case.code})
        assert (flagged, near) == ([], [target]), \
            f"{case.code}: flagged reps {flagged}, borderline {near}, expected borderline [{target}]; measured {values}"
        assert report.verdicts[case.code] == "borderline"
        return
    assert flagged == [target], f"{case.code}: flagged reps {flagged}, expected [{target}]; measured {values}"
    assert report.verdicts[case.code] == "flagged"
    flag = next(f for f in report.flags if f["code"] == case.code)
    assert flag["severity"] in ("minor", "major") and 0.0 < flag["confidence"] <= 1.0


@pytest.mark.parametrize("lift, view_deg, seed",
                         [pytest.param(lift, v, s, id=f"{lift}-{int(v)}deg-seed{s}") for lift, v in CLEAN for s in (1, 2)])
def test_clean_set_flags_nothing(lift: str, view_deg: float, seed: int) -> None:
    report = analyze_sequence(_simulate(lift, view_deg, seed).seq, lift=lift).report
    assert report.rep_count >= 3
    assert report.flags == [], [(f["rep"], f["code"], f["measured"], f["limit"]) for f in report.flags]
    assert "flagged" not in report.verdicts.values()


@pytest.mark.parametrize(
    "lift, fault",
    [
        pytest.param("squat", Fault(lumbar_deg=40.0), id="squat-lumbar-only"),
        pytest.param("deadlift", Fault(lumbar_deg=40.0), id="deadlift-lumbar-only"),
        pytest.param("deadlift", FAULT_PRESETS["rounded_back"], id="deadlift-rounded-head-up"),
    ],
)
def test_rounding_the_landmarks_cannot_see(lift: str, fault: Fault) -> None:
    """Silhouette-only: rounding that leaves the ears on the trunk line is invisible to the landmark proxy.

    Lumbar flexion moves no landmark the proxy uses, and in the kinematic
    model's deadlift the neck keeps the head up while the thorax rounds (the
    ears read about -6 deg against -17 deg on the good reps, under the
    +3 deg limit). These reps are not flagged; the silhouette estimate
    (``spine_flexion_deg``, a later issue) is what will see them.
    """
    sim = _simulate(lift, SIDE, 1, {FAULTY_REP: fault})
    report = analyze_sequence(sim.seq, lift=lift).report
    target = _detected_rep_of(sim, list(report.reps), FAULTY_REP)
    assert target is not None, "the rounded rep was not detected"
    flagged = {f["rep"] for f in report.flags if f["code"] == "rounded_back"}
    # a characterisation of the proxy's blind spot: when it starts to see this rounding, move the case into CASES
    assert target not in flagged, "the landmark proxy now sees this rounding: move the case into CASES"
