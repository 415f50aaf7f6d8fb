"""One definition per measure (config/measures.toml, formcheck.measures): every sentence users read about a
measured value names the rule's own measure, carries its unit, says the right direction and rounds for people.

The main table runs over every rule (every alternative) of every packaged rules file, with readings on both
sides of the rule's limit and one that rounds to the limit.
"""

from __future__ import annotations

import io
import re

import numpy as np
import pytest

from formcheck import measures as M
from formcheck.faults import FAULT_CODES
from formcheck.repmetrics import MEASURE_NAMES
from formcheck.reps import DEADLIFT_PHASES, SQUAT_PHASES
from formcheck.rules import LIFTS, evaluate, load_rules, parse_ruleset
from formcheck.settings import read_packaged

#: The unit text each rules-file unit must print as, written out here independently of measures.toml.
UNIT_TEXT = {"deg": "°", "thigh": " thigh lengths", "foot": " foot lengths", "leg": " leg lengths"}
#: Ratios print as "×" or as a share of the named reference.
RATIO_TEXTS = ("×", " of the ankle gap")


def _packaged_rules() -> list[tuple[str, object]]:
    out = []
    for lift in LIFTS:
        for code, alts in load_rules(lift).rules.items():
            for rule in alts:
                out.append((f"{lift}-{code}-{rule.measure}", rule))
    return out


RULES = _packaged_rules()
RULE_IDS = [i for i, _ in RULES]


def _readings(rule) -> list[tuple[str, float]]:
    """Readings clearly above and below the limit, and just past it (rounds to the limit's number)."""
    lim = rule.limit
    if rule.units == "deg":
        far, near = 7.3, 0.3
    else:
        far, near = 0.4 * abs(lim), 0.004 * abs(lim)
    beyond = 1.0 if rule.flag_when == "above" else -1.0
    return [("above", lim + far), ("below", lim - far), ("just-past", lim + beyond * near)]


CASES = [(rid, rule, side, v) for rid, rule in RULES for side, v in _readings(rule)]
CASE_IDS = [f"{rid}-{side}" for rid, _, side, _ in CASES]


def _unit_texts(rule) -> tuple[str, ...]:
    return RATIO_TEXTS if rule.units == "ratio" else (UNIT_TEXT[rule.units],)


def _parse(sentence: str, label: str, unit: str) -> re.Match | None:
    pattern = (rf"^{re.escape(label[0].upper() + label[1:])}: (?P<v>-?[\d.]+){re.escape(unit)}, "
               rf"(?P<cmp>(?:just )?(?:over|under)|at) our (?P<noun>limit|minimum) of (?P<l>-?[\d.]+){re.escape(unit)} "
               rf"\((?P<zero>[^)]+ = [^)]+)\)\.$")
    return re.match(pattern, sentence)


def _rounded_for_people(num: str, units: str) -> bool:
    if units == "deg":
        return re.fullmatch(r"-?\d+", num) is not None  # whole degrees
    digits = num.lstrip("-").replace(".", "").lstrip("0")
    return num == "0" or len(digits) == 2  # two significant figures


def test_every_rule_of_every_packaged_file_is_in_the_table():
    assert {rid.split("-")[0] for rid in RULE_IDS} == set(LIFTS)
    assert len(RULES) >= 15


@pytest.mark.parametrize(("rid", "rule", "side", "value"), CASES, ids=CASE_IDS)
def test_flag_sentence_names_measure_unit_direction_and_rounds(rid, rule, side, value):
    book = M.measure_book()
    label = book.get(rule.measure).label
    text = M.flag_sentence(rule.measure, value, rule.limit)
    match = next((m for u in _unit_texts(rule) if (m := _parse(text, label, u))), None)
    assert match, f"{rid}: {text!r} does not read '<its measure>: <value><unit>, over/under our limit of <limit><unit>'"
    # the quantity named is the rule's own measure, and no other measure
    others = [m.label for n, m in book.measures.items() if n != rule.measure and m.label != label]
    assert not [o for o in others if o in text], text
    # the direction word matches the comparison, and the fault side matches the rule
    word = match["cmp"].split()[-1]
    assert word == ("over" if value > rule.limit else "under"), text
    fault_word = "over" if rule.flag_when == "above" else "under"
    assert (word == fault_word) == rule.exceeds(value, rule.limit), text
    assert match["noun"] == ("limit" if rule.flag_when == "above" else "minimum"), text
    assert match["cmp"].startswith("just ") == (match["v"] == match["l"]), text
    # numbers rounded for people, and they are the reading and the limit
    for key, x in (("v", value), ("l", rule.limit)):
        assert _rounded_for_people(match[key], rule.units), f"{match[key]!r} in {text!r}"
        assert float(match[key]) == pytest.approx(x, rel=0.05, abs=0.5 if rule.units == "deg" else 0.005)


@pytest.mark.parametrize(("rid", "rule", "side", "value"), CASES, ids=CASE_IDS)
def test_evidence_chart_and_caption_name_the_same_measure(rid, rule, side, value):
    from formcheck.annotate import _ascii

    label = M.measure_book().get(rule.measure).label
    ev = M.evidence_line(rule.measure, value, rule.limit)
    noun = "limit" if rule.flag_when == "above" else "minimum"
    want = f"{label} {M.format_value(rule.measure, value)} ({noun} {M.format_value(rule.measure, rule.limit)})"
    assert ev == want
    assert any(ev.endswith(f"{u})") for u in _unit_texts(rule)), ev
    numbers = re.findall(r"-?\d+(?:\.\d+)?", M.evidence_parts(rule.measure, value, rule.limit)[1])
    assert len(numbers) == 2 and all(_rounded_for_people(n, rule.units) for n in numbers), ev
    assert M.flag_evidence(rule.measure, value, rule.limit, rule.units) == ev
    assert M.chart_label(rule.measure).lower().startswith(label)
    caption = [_ascii(x) for x in M.evidence_parts(rule.measure, value, rule.limit, rule.units)]
    assert caption[0] == _ascii(label) and all(c.isascii() for c in caption), caption
    if rule.units == "deg":
        assert caption[1].endswith(" deg)"), caption


@pytest.mark.parametrize("name", MEASURE_NAMES)
def test_every_measure_has_a_definition_in_its_units(name):
    from formcheck.repmetrics import FUNCTION_MEASURES, SIGNAL_MEASURES

    m = M.measure_book().get(name)
    assert m.label and m.zero and m.sign and m.fault in ("above", "below")
    if name in SIGNAL_MEASURES:
        assert m.unit == SIGNAL_MEASURES[name].units
    assert name in SIGNAL_MEASURES or name in FUNCTION_MEASURES
    assert M.description(name).startswith(M.chart_label(name))


def test_measures_module_imports_no_heavy_libraries():
    import subprocess
    import sys
    from pathlib import Path

    code = ("import sys, formcheck.measures as m; m.flag_sentence('trunk_lean_max', 55, 52); "
            "print(','.join(x for x in ('cv2', 'mediapipe', 'streamlit', 'numpy') if x in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=Path(__file__).resolve().parents[1])
    assert out.stdout.strip() == ""


def test_definitions_are_only_for_known_measures():
    assert set(M.measure_book().measures) == set(MEASURE_NAMES)


@pytest.mark.parametrize(
    ("value", "rounding", "shown"),
    [(55.219, "whole", "55"), (-0.4, "whole", "0"), (8.5001, "whole", "9"), (0.2134, "sig2", "0.21"),
     (0.2, "sig2", "0.20"), (1.234, "sig2", "1.2"), (12.3, "sig2", "12"), (0.0456, "sig2", "0.046"),
     (0.996, "sig2", "1.0"), (0.0, "sig2", "0"), (-0.0001, "sig2", "-0.00010"), (float("nan"), "sig2", "–")],
    ids=["deg", "deg-negative-zero", "deg-half", "two-sig", "two-sig-trailing-zero", "above-one", "above-ten",
         "small", "rounds-up", "zero", "negative-small", "nan"],
)
def test_numbers_rounded_for_people(value, rounding, shown):
    assert M.format_number(value, rounding) == shown


# --------------------------------------------------------------------------- the loader


def _rules_table(measure: str, units: str = "deg", flag_when: str = "above") -> dict:
    limit, major = (10.0, 20.0) if flag_when == "above" else (20.0, 10.0)
    return {"lift": "squat", "general": {"min_quality": 0.5},
            "faults": {"excessive_forward_lean": {"measure": measure, "flag_when": flag_when,
                                                  f"limit_{units}": limit, f"major_{units}": major,
                                                  "views": {"side": 1.0}}}}


def test_rules_loader_rejects_a_measure_without_a_definition(monkeypatch):
    data = read_packaged(M.MEASURES_FILE)
    del data["measures"]["trunk_lean_max"]
    book = M.load_measures(data)
    monkeypatch.setattr(M, "measure_book", lambda: book)
    with pytest.raises(ValueError, match=r"^t\.toml: fault excessive_forward_lean: measures\.toml: expected a "
                                         r"\[measures\.trunk_lean_max\] table"):
        parse_ruleset(_rules_table("trunk_lean_max"), where="t.toml")


@pytest.mark.parametrize(
    ("measure", "units", "flag_when", "message"),
    [("trunk_lean_max", "thigh", "above", r"measure trunk_lean_max is in deg .*got limit_thigh"),
     ("start_trunk_lean", "deg", "above", r"measure start_trunk_lean is a fault below its limit .*got flag_when = 'above'"),
     ("knee_ankle_ratio_min", "ratio", "above", r"measure knee_ankle_ratio_min is a fault below"),
     ("top_trunk_lean", "deg", "below", r"measure top_trunk_lean is a fault above")],
    ids=["wrong-units", "lean-at-set-up-flags-below", "knee-ratio-flags-below", "top-lean-flags-above"],
)
def test_rules_loader_rejects_a_rule_that_disagrees_with_its_measure(measure, units, flag_when, message):
    with pytest.raises(ValueError, match=r"^t\.toml: fault excessive_forward_lean: " + message):
        parse_ruleset(_rules_table(measure, units, flag_when), where="t.toml")


def _edit(path: str, value):
    def mutate(data: dict) -> None:
        *parents, last = path.split(".")
        node = data
        for p in parents:
            node = node[p]
        if value is None:
            del node[last]
        else:
            node[last] = value
    return mutate


@pytest.mark.parametrize(
    ("mutate", "message"),
    [(_edit("measures.depth_min.label", None), r"^m\.toml: measures\.depth_min: missing keys \['label'\]"),
     (_edit("measures.depth_min.colour", "red"), r"^m\.toml: measures\.depth_min: unknown keys \['colour'\]"),
     (_edit("measures.depth_min.fault", "sideways"), r"^m\.toml: measures\.depth_min\.fault: expected 'above' or 'below'"),
     (_edit("measures.depth_min.unit", "cm"), r"^m\.toml: measures\.depth_min\.unit: expected one of deg, .*got 'cm'"),
     (_edit("measures.depth_min.label", " "), r"^m\.toml: measures\.depth_min\.label: expected non-empty text"),
     (_edit("measures.depth_min.zero_value", "0"), r"^m\.toml: measures\.depth_min\.zero_value: expected a number"),
     (_edit("units.deg.rounding", "1dp"), r"^m\.toml: units\.deg\.rounding: expected one of whole, sig2"),
     (_edit("words.near", None), r"^m\.toml: words: missing keys \['near'\]"),
     (_edit("extra", {}), r"^m\.toml: unknown tables \['extra'\]")],
    ids=["missing-label", "unknown-key", "bad-fault", "unknown-unit", "empty-label", "zero-not-number",
         "bad-rounding", "missing-word", "unknown-table"],
)
def test_measures_file_errors_name_file_table_and_key(mutate, message):
    data = read_packaged(M.MEASURES_FILE)
    mutate(data)
    with pytest.raises(ValueError, match=message) as err:
        M.load_measures(data, where="m.toml")
    assert "\n" not in str(err.value)


# --------------------------------------------------------------------------- the words around the numbers


@pytest.mark.parametrize(("lift", "phases"), [("squat", SQUAT_PHASES), ("deadlift", DEADLIFT_PHASES)],
                         ids=["squat", "deadlift"])
def test_tempo_is_labelled_by_the_lift_s_own_phases(lift, phases):
    tempo = {p: 1000.0 + 100 * k for k, p in enumerate(phases)}
    text = M.tempo_text(tempo)
    assert text == " / ".join(f"{p} {(1000 + 100 * k) / 1000:.1f} s" for k, p in enumerate(phases))
    from formcheck.app.results import TEMPO_HELP

    assert M.phases_text(phases) in TEMPO_HELP


@pytest.mark.parametrize(("view", "reason"), [("oblique", "not assessable from an oblique view"),
                                              ("side", "not assessable from a side view")], ids=["oblique", "side"])
def test_not_assessable_view_reason_uses_the_right_article(view, reason):
    res = evaluate(load_rules("squat"), np.zeros(0), {}, [], view)
    assert res.reasons["knee_cave"] == reason


# --------------------------------------------------------------------------- the renderings of a report

#: The issue's misstated flags, as the deadlift rules measure them.
ISSUE_FLAGS = [("hips_rise_early", "hip_rise_trunk_tip", 8.9, 8.0, "deg"),
               ("incomplete_lockout", "top_trunk_lean", 33.0, 25.0, "deg"),
               ("hips_too_low_start", "start_trunk_lean", 21.45, 30.0, "deg"),
               ("rounded_back", "head_drop_max", 16.2, 3.0, "deg"),
               ("bar_drift", "bar_drift_from_start", 0.3127, 0.25, "thigh")]


def _deadlift_report():
    from formcheck.report import FormReport, flag_message, guidance_block

    codes = [c for c in FAULT_CODES if c in load_rules("deadlift").rules]
    phases = list(DEADLIFT_PHASES)
    reps, flags = [], []
    for i, (code, measure, value, limit, units) in enumerate(ISSUE_FLAGS):
        start = 1000.0 + 4000.0 * i
        spans = [{"name": p, "start_ms": start + 800.0 * k, "end_ms": start + 800.0 * (k + 1)} for k, p in enumerate(phases)]
        reps.append({"rep": i + 1, "start_ms": start, "bottom_ms": start + 1600.0, "end_ms": start + 3200.0,
                     "phases": spans, "tempo_ms": {p: 800.0 for p in phases}, "view": "side", "measures": {},
                     "verdicts": {c: "flagged" if c == code else "clear" for c in codes}})
        flags.append({"code": code, "rep": i + 1, "phase": "pull", "t_ms": start + 1700.0, "frame": 50,
                      "measured": value, "limit": limit, "units": units, "severity": "minor", "confidence": 0.7,
                      "measure": measure, "message": flag_message(code, value, limit, measure)})
    flagged = [c for c, *_ in ISSUE_FLAGS]
    verdicts = {c: "flagged" if c in flagged else "not_assessable" for c in codes}
    return FormReport(
        source={"file": "pull.mp4"}, status="ok", lift="deadlift", lift_source="auto", lift_confidence=0.9,
        view="oblique", facing="left", view_confidence=0.9, detection_rate=1.0, rep_count=len(reps), partial_reps=[],
        reps=reps, flags=flags, verdicts=verdicts,
        not_assessable={c: "not assessable from an oblique view" for c, v in verdicts.items() if v == "not_assessable"},
        guidance=guidance_block(flagged, "deadlift"))


def _terminal(report) -> str:
    from rich.console import Console

    from formcheck.cli import print_report_summary

    buf = io.StringIO()
    print_report_summary(report, Console(file=buf, width=400, color_system=None))
    return buf.getvalue()


@pytest.mark.parametrize("rendering", ["markdown", "html", "terminal"])
def test_renderings_show_each_flag_in_its_measure_s_words(rendering):
    import html

    from formcheck.report import render_html, render_markdown

    report = _deadlift_report()
    text = {"markdown": render_markdown, "html": lambda r: html.unescape(render_html(r)), "terminal": _terminal}[rendering](report)
    for code, measure, value, limit, units in ISSUE_FLAGS:
        assert M.flag_sentence(measure, value, limit) in text, (code, rendering)
        if rendering == "terminal":
            assert M.evidence_line(measure, value, limit) in text
    if rendering != "terminal":  # the report defines each flagged measure once, from the same table
        for measure in dict.fromkeys(m for _, m, *_ in ISSUE_FLAGS):
            assert M.description(measure) in text, (measure, rendering)
    assert " vs " not in text and "a oblique" not in text
    assert not re.search(r"\d\.\d{3}", text), "a number printed with three decimals"
    assert "as fast as your shoulders" not in text and "straightened only to" not in text
    sep = ", " if rendering == "html" else " / "
    if rendering != "terminal":
        assert M.tempo_text({p: 800.0 for p in DEADLIFT_PHASES}, sep=sep) in text
