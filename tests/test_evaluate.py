"""Evaluation bookkeeping: rep matching, clip/rep precision-recall, false-flag rate."""

from __future__ import annotations

import math

import pytest

from formcheck.evaluate import (PRF, ClipOutcome, evaluate, evaluate_by_source, format_by_source, format_markdown,
                                lift_confusion, match_reps, source_of_clips)
from formcheck.faults import FAULT_CODES


def faults(**yes: str) -> dict[str, str]:
    d = {c: "no" for c in FAULT_CODES}
    d.update(yes)
    return d


def label(reps: list[tuple[float, float, dict]], usable: bool = True, lift: str = "squat", coach: int | None = None) -> dict:
    clip = {c: "no" for c in FAULT_CODES}
    for _, _, f in reps:
        for c, v in f.items():
            if v == "yes":
                clip[c] = "yes"
    entry = {"file": "x.mp4", "lift": lift, "usable": usable, "rep_count": len(reps), "faults": clip,
             "reps": [{"start_s": a, "bottom_s": (a + b) / 2, "end_s": b, "faults": f} for a, b, f in reps]}
    if coach is not None:
        entry["coach_reps"] = coach
    return entry


def report(reps: list[tuple[float, float]], flags: list[tuple[int, str]], na: tuple[str, ...] = ()) -> dict:
    verdicts = {c: "clear" for c in FAULT_CODES}
    for c in na:
        verdicts[c] = "not_assessable"
    for _, c in flags:
        verdicts[c] = "flagged"
    return {
        "rep_count": len(reps),
        "reps": [{"rep": i + 1, "start_ms": a * 1000, "bottom_ms": (a + b) * 500, "end_ms": b * 1000, "verdicts": {}}
                 for i, (a, b) in enumerate(reps)],
        "flags": [{"rep": r, "code": c} for r, c in flags],
        "verdicts": verdicts,
    }


@pytest.mark.parametrize(
    "detected, labelled, expected",
    [
        ([(0, 2), (3, 5)], [(0.1, 2.1), (3.2, 5.0)], [0, 1]),
        ([(0, 2)], [(0.1, 2.1), (3.2, 5.0)], [0, None]),
        ([(10, 12)], [(0, 2)], [None]),
        ([(0, 5)], [(0, 2), (3, 5)], [0, None]),  # one long detection covers two labels: used once
    ],
    ids=["one-to-one", "missed-rep", "no-overlap", "merged"],
)
def test_match_reps(detected, labelled, expected) -> None:
    d = [{"start_ms": a * 1000, "end_ms": b * 1000} for a, b in detected]
    lab = [{"start_s": a, "end_s": b} for a, b in labelled]
    assert match_reps(d, lab) == expected


def test_prf_counts_not_assessable_as_negative() -> None:
    p = PRF().add("yes", "flagged").add("yes", "not_assessable").add("no", "flagged").add("no", "clear")
    assert (p.tp, p.fn, p.fp, p.tn, p.not_assessable) == (1, 1, 1, 1, 1)
    assert p.precision == 0.5 and p.recall == 0.5 and p.f1 == 0.5
    assert p.not_assessable_share == 0.25
    assert math.isnan(PRF().precision)


def test_evaluate_end_to_end() -> None:
    lab = label([(0, 2, faults()), (3, 5, faults(shallow_depth="yes")), (6, 8, faults())], coach=3)
    good = ClipOutcome(lab, report([(0, 2), (3, 5), (6, 8)], [(2, "shallow_depth")]))
    s = evaluate([good])
    assert s.rep_exact == 1 and s.rep_mae == 0
    assert s.clip_level["shallow_depth"].tp == 1 and s.rep_level["shallow_depth"].tp == 1
    assert s.rep_level["shallow_depth"].tn == 2
    assert s.clean_reps == 2 and s.clean_reps_flagged == 0

    wrong = ClipOutcome(lab, report([(0, 2), (6, 8)], [(1, "shallow_depth")]))
    s = evaluate([wrong])
    assert s.rep_exact == 0 and s.rep_mae == 1
    assert s.rep_level["shallow_depth"].fn == 1 and s.rep_level["shallow_depth"].fp == 1
    assert s.clean_reps_flagged == 1 and s.false_flag_rate == 0.5
    assert "shallow_depth" in format_markdown(s)


def test_failed_analysis_counts_as_nothing_found() -> None:
    lab = label([(0, 2, faults(rounded_back="yes"))], coach=1)
    s = evaluate([ClipOutcome(lab, None, error="boom")])
    assert s.failed == (("x.mp4", "boom"),)
    assert s.rep_exact == 0 and s.clip_level["rounded_back"].fn == 1


def test_unusable_clips_do_not_count_for_reps() -> None:
    lab = label([(0, 2, faults())], usable=False)
    s = evaluate([ClipOutcome(lab, report([], []))])
    assert s.rep_clips == 0


def _named(entry: dict, file: str, **kw) -> dict:
    return {**entry, "file": file, **kw}


def test_clean_clip_false_flag_rate() -> None:
    p = PRF().add("no", "flagged").add("no", "clear").add("no", "not_assessable").add("yes", "flagged")
    assert p.false_flag_rate == pytest.approx(1 / 3)
    assert math.isnan(PRF().add("yes", "clear").false_flag_rate)


def test_lift_confusion_by_view() -> None:
    sq = _named(label([(0, 2, faults())]), "a.mp4", view="side")
    dl = _named(label([(0, 2, faults())], lift="deadlift"), "b.mp4", view="side")
    other = _named(label([], lift="other", usable=False), "c.mp4", view="45deg")
    rep_sq, rep_dl = report([(0, 2)], []), report([(0, 2)], [])
    outcomes = [ClipOutcome(sq, {**rep_sq, "lift": "deadlift"}), ClipOutcome(dl, {**rep_dl, "lift": "deadlift"}),
                ClipOutcome(other, {**report([], []), "lift": "squat"})]
    s = evaluate(outcomes)
    assert len(s.lift_rows) == 2 and s.lift_correct == 1  # the "other" clip is not judged
    assert lift_confusion(s) == {("deadlift", "side"): {"deadlift": 1}, ("squat", "side"): {"deadlift": 1}}
    text = format_markdown(s)
    assert "recognised: 1/2 = 0.50" in text and "| squat | side | 0 | 1 |" in text


def test_source_of_clips_reads_the_shared_shape() -> None:
    src = [{"file": "a.mp4", "source": {"type": "github", "repo": "x/y"}},
           {"file": "b.mp4", "source": {"type": "self-made"}}]
    assert source_of_clips(src) == {"a.mp4": "x/y", "b.mp4": "self-made"}


@pytest.mark.parametrize("bad", [{}, [{"file": "a.mp4"}], [{"file": "a.mp4", "source": {}}], ["a.mp4"]],
                         ids=["not-a-list", "no-source", "no-origin", "not-an-object"])
def test_source_of_clips_rejects_other_shapes(bad) -> None:
    with pytest.raises(ValueError, match="expected"):
        source_of_clips(bad)


def test_by_source_splits_the_summary() -> None:
    a1 = _named(label([(0, 2, faults(rounded_back="yes"))], coach=1), "a1.mp4", view="side")
    a2 = _named(label([(0, 2, faults())], coach=1), "a2.mp4", view="side")
    b1 = _named(label([(0, 2, faults()), (3, 5, faults())], coach=2), "b1.mp4", view="side")
    outcomes = [ClipOutcome(a1, report([(0, 2)], [(1, "rounded_back")])),
                ClipOutcome(a2, report([(0, 2)], [(1, "rounded_back")])),
                ClipOutcome(b1, report([(0, 2)], [])),
                ClipOutcome(_named(a2, "z.mp4"), report([(0, 2)], []))]
    by = evaluate_by_source(outcomes, {"a1.mp4": "src/a", "a2.mp4": "src/a", "b1.mp4": "src/b"})
    assert list(by) == ["src/a", "src/b", "unknown"]
    assert by["src/a"].rep_exact == 2 and by["src/b"].rep_exact == 0 and by["unknown"].clips == 1
    rb = by["src/a"].clip_level["rounded_back"]
    assert (rb.tp, rb.fp, rb.false_flag_rate) == (1, 1, 1.0)
    text = format_by_source(by)
    assert "| src/b | 1 | 1 | 0/1 = 0.00 |" in text
    assert "| rounded_back | src/a | 1/2 | 1 | 1 | 0 | 0.67 | 1/1 = 1.00 |" in text
