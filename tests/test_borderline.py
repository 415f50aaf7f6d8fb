"""Verdicts that know their error: the band beside each limit, ``borderline`` readings, and where they show.

A reading flags only when it clears the limit by more than the rule's band (``band_<units>`` in
the rules TOML, measured by ``benchmarks/measure_bands.py``); past the limit but within the band
it is ``borderline``: in the report and the app, never counted as a flag (not in ``flags``, not a
positive in the evaluation).
"""

from __future__ import annotations

import re
from dataclasses import replace
from importlib import resources

import numpy as np
import pytest

from formcheck.analysis import analyze_sequence
from formcheck.evaluate import PRF, ClipOutcome, evaluate as evaluate_clips, format_markdown, reliability
from formcheck.measures import borderline_sentence
from formcheck.report import FormReport, render_html, render_markdown, validate_report
from formcheck.rules import FaultRule, evaluate, load_rules, parse_ruleset
from support.landmark_sim import MEDIAPIPE_LIKE, simulate_sequence
from test_evaluate import faults, label, report as eval_report
from test_rules import rep_profile, set_of_reps, squat_signals

EPS = 1e-3


def _packaged_rules() -> list[tuple[str, FaultRule]]:
    return [(lift, rule) for lift in ("squat", "deadlift") for alts in load_rules(lift).rules.values() for rule in alts]


PACKAGED = _packaged_rules()
PACKAGED_IDS = [f"{lift}-{r.code}-{r.measure}" for lift, r in PACKAGED]


# --------------------------------------------------------------------------- every packaged rule


@pytest.mark.parametrize("lift, rule", PACKAGED, ids=PACKAGED_IDS)
def test_every_packaged_rule_has_a_measured_band(lift: str, rule: FaultRule) -> None:
    assert rule.band > 0.0, f"{lift}.toml {rule.code} ({rule.measure}): no band_{rule.units}"
    assert np.isfinite(rule.flag_line(rule.limit))


#: (case id, offset from the limit in units of the band toward the fault side (+EPS sign), verdict)
OFFSETS = [
    ("safe-side-of-limit", lambda b: -EPS, "clear"),
    ("just-past-limit", lambda b: +EPS, "borderline"),
    ("inside-band", lambda b: b - EPS, "borderline"),
    ("just-outside-band", lambda b: b + EPS, "flagged"),
]


@pytest.mark.parametrize("case, offset, want", OFFSETS, ids=[c for c, _, _ in OFFSETS])
@pytest.mark.parametrize("lift, rule", PACKAGED, ids=PACKAGED_IDS)
def test_packaged_rule_readings_around_limit_and_band(lift: str, rule: FaultRule, case: str, offset, want: str) -> None:
    sign = 1.0 if rule.flag_when == "above" else -1.0
    reading = rule.limit + sign * offset(rule.band)
    assert rule.judge(reading, rule.limit) == want


def test_every_band_in_the_toml_names_the_command_that_measured_it() -> None:
    for lift in ("squat", "deadlift"):
        text = (resources.files("formcheck") / "config" / f"{lift}.toml").read_text(encoding="utf-8")
        lines = text.splitlines()
        bands = [i for i, line in enumerate(lines) if re.match(r"band_[a-z]+\s*=", line)]
        n_rules = sum(len(a) for a in load_rules(lift).rules.values())
        assert len(bands) == n_rules, f"{lift}.toml: {len(bands)} band keys for {n_rules} rules"
        for i in bands:
            comment = []
            j = i - 1
            while j >= 0 and lines[j].startswith("#"):
                comment.append(lines[j])
                j -= 1
            assert any("benchmarks/" in c for c in comment), f"{lift}.toml line {i + 1}: no command beside {lines[i]}"


# --------------------------------------------------------------------------- the rule engine

BANDED = parse_ruleset({
    "lift": "squat",
    "general": {"min_quality": 0.5},
    "faults": {
        "excessive_forward_lean": {
            "measure": "trunk_lean_max", "flag_when": "above", "limit_deg": 50.0, "major_deg": 60.0,
            "band_deg": 4.0, "sustain_ms": 0, "views": {"side": 1.0},
        },
    },
})


@pytest.mark.parametrize(
    "peaks, rep_verdicts, clip, flagged, borderline",
    [
        ([30.0, 52.0, 30.0], ["clear", "borderline", "clear"], "borderline", [], [1]),
        ([30.0, 52.0, 56.0], ["clear", "borderline", "flagged"], "flagged", [2], [1]),
        ([54.0 + EPS, 30.0, 30.0], ["flagged", "clear", "clear"], "flagged", [0], []),
        ([54.0 - EPS, 50.0 - EPS, 30.0], ["borderline", "clear", "clear"], "borderline", [], [0]),
        ([30.0, 30.0, 30.0], ["clear", "clear", "clear"], "clear", [], []),
    ],
    ids=["one-borderline", "borderline-and-flag", "just-outside-band", "just-inside-band-and-limit-minus-eps",
         "all-clear"],
)
def test_evaluate_borderline_verdicts(peaks, rep_verdicts, clip, flagged, borderline) -> None:
    t, reps = set_of_reps(3)
    t = np.arange(0.0, t[-1], 1.0)
    res = evaluate(BANDED, t, squat_signals(t, reps, peaks), reps, "side")
    code = "excessive_forward_lean"
    assert [res.rep_verdicts[r.index][code] for r in reps] == rep_verdicts
    assert res.verdicts[code] == clip
    assert [f.rep for f in res.flags] == flagged
    assert [b.rep for b in res.borderline] == borderline
    for f in res.flags + res.borderline:
        assert f.band == 4.0 and f.limit == 50.0


def test_band_moves_with_the_personal_baseline() -> None:
    rs = replace(BANDED, rules={"excessive_forward_lean": (replace(
        BANDED.rules["excessive_forward_lean"][0], personal_margin=8.0, personal_cap=60.0),)})
    t, reps = set_of_reps(3)
    t = np.arange(0.0, t[-1], 1.0)
    # best rep 50 -> personal limit 58; band 4 -> flagged above 62
    res = evaluate(rs, t, squat_signals(t, reps, [50.0, 60.0, 63.0]), reps, "side")
    assert [res.rep_verdicts[r.index]["excessive_forward_lean"] for r in reps] == ["clear", "borderline", "flagged"]


def test_below_rules_borderline_on_the_low_side() -> None:
    rule = FaultRule(code="knee_cave", measure="knee_ankle_ratio_min", flag_when="below", units="ratio",
                     limit=0.75, major=0.6, views={"front": 1.0}, band=0.05)
    assert [rule.judge(v, 0.75) for v in (0.76, 0.74, 0.71, 0.69)] == ["clear", "borderline", "borderline", "flagged"]


@pytest.mark.parametrize(
    "table, message",
    [({"band_deg": -1.0}, "band expected a number >= 0"),
     ({"band_ratio": 1.0}, "do not match the units"),
     ({"band_deg": "5"}, "expected a number")],
    ids=["negative", "wrong-units", "not-a-number"],
)
def test_bad_bands_are_rejected(table: dict, message: str) -> None:
    spec = {"measure": "trunk_lean_max", "limit_deg": 50.0, "major_deg": 60.0, "views": {"side": 1.0}, **table}
    with pytest.raises(ValueError, match=message):
        parse_ruleset({"lift": "squat", "general": {"min_quality": 0.5},
                       "faults": {"excessive_forward_lean": spec}}, where="tuned.toml")


@pytest.mark.parametrize("lift", ["squat", "deadlift"])
@pytest.mark.parametrize(
    "proxy_peak, silhouette_peak, want",
    [
        pytest.param(0.0, None, "clear", id="nothing"),
        pytest.param(0.0, "borderline", "borderline", id="silhouette-borderline-proxy-clear"),
        pytest.param("flagged", "borderline", "flagged", id="proxy-flags-over-silhouette-borderline"),
        pytest.param("borderline", 0.0, "borderline", id="proxy-borderline"),
    ],
)
def test_rounded_back_alongside_with_bands(lift: str, proxy_peak, silhouette_peak, want: str) -> None:
    """A flag from either table wins over a borderline reading of the other; borderline alone stays borderline."""
    rs = load_rules(lift)
    # one rep: the third table (against the set's median rep, 3 reps or more) adds nothing here
    by_measure = {r.measure: r for r in rs.rules["rounded_back"]}
    sil, px = by_measure["spine_flexion_loaded"], by_measure["head_drop_max"]

    def reading(rule: FaultRule, v):
        return {"borderline": rule.limit + 0.5 * rule.band, "flagged": rule.limit + rule.band + 2.0}.get(v, v)

    t, reps = set_of_reps(1)
    sig = {"quality": np.ones_like(t),
           "back_rounding_proxy": rep_profile(t, reps[0], reading(px, proxy_peak))}
    if silhouette_peak is not None:
        sig["spine_flexion_deg"] = rep_profile(t, reps[0], reading(sil, silhouette_peak))
    res = evaluate(rs, t, sig, reps, "side")
    assert res.rep_verdicts[0]["rounded_back"] == want
    assert res.verdicts["rounded_back"] == want
    assert bool(res.flags) == (want == "flagged")


# --------------------------------------------------------------------------- words


@pytest.mark.parametrize(
    "measure, value, limit, band, parts",
    [("top_trunk_lean", 28.2, 25.0, 6.0, ["28°", "over our limit of 25°", "measurement error", "±6°",
                                          "not counted as a flag"]),
     ("start_trunk_lean", 27.0, 30.0, 5.0, ["under our minimum of 30°", "±5°", "not counted as a flag"])],
    ids=["above", "below"],
)
def test_borderline_sentence(measure: str, value: float, limit: float, band: float, parts: list[str]) -> None:
    text = borderline_sentence(measure, value, limit, band)
    for p in parts:
        assert p in text, text


# --------------------------------------------------------------------------- the report


def _wide_band_rules(tmp_path, band: float) -> dict:
    """A tuned squat.toml: the packaged one with the forward-lean band widened to ``band``."""
    text = (resources.files("formcheck") / "config" / "squat.toml").read_text(encoding="utf-8")
    text = re.sub(r"(\[faults\.excessive_forward_lean\][^\[]*?)band_deg = [0-9.]+", rf"\g<1>band_deg = {band}",
                  text, count=1, flags=re.S)
    p = tmp_path / "squat.toml"
    p.write_text(text, encoding="utf-8")
    return {"squat": p}


def test_report_shows_borderline_and_never_counts_it(tmp_path) -> None:
    sim = simulate_sequence("squat", view_deg=0.0, reps=3, corruption=MEDIAPIPE_LIKE,
                            faults={1: "excessive_forward_lean"})
    packaged = analyze_sequence(sim.seq, lift="squat").report
    assert [f["rep"] for f in packaged.flags if f["code"] == "excessive_forward_lean"] == [2]
    r = analyze_sequence(sim.seq, lift="squat", rules_paths=_wide_band_rules(tmp_path, 25.0),
                         source={"file": "x.mp4"}).report
    assert r.verdicts["excessive_forward_lean"] == "borderline"
    assert not [f for f in r.flags if f["code"] == "excessive_forward_lean"]
    assert "excessive_forward_lean" not in r.flagged_codes()
    (b,) = [b for b in r.borderline if b["code"] == "excessive_forward_lean"]
    assert b["rep"] == 2 and b["band"] == 25.0 and "measurement error" in b["message"]
    assert r.reps[1]["verdicts"]["excessive_forward_lean"] == "borderline"
    d = r.to_dict()
    validate_report(d)
    assert FormReport.from_dict(d).borderline == r.borderline
    md, page = render_markdown(r), render_html(r)
    assert "## Borderline (not counted as flags)" in md and "excessive_forward_lean (borderline)" in md
    assert "Borderline (not counted as flags)" in page and "measurement error" in page
    # the guidance is about flags only
    assert all(g.get("code") != "excessive_forward_lean" for g in r.guidance.get("faults", []))


@pytest.mark.parametrize(
    "change, message",
    [(lambda d: d["verdicts"].update(excessive_forward_lean="clear"), "verdict 'flagged' or 'borderline'"),
     (lambda d: d.update(borderline=[]), "a borderline reading behind verdict borderline"),
     (lambda d: d["borderline"][0].pop("band"), "borderline key band")],
    ids=["entry-without-verdict", "verdict-without-entry", "entry-without-band"],
)
def test_validate_report_checks_borderline(tmp_path, change, message: str) -> None:
    sim = simulate_sequence("squat", view_deg=0.0, reps=3, corruption=MEDIAPIPE_LIKE,
                            faults={1: "excessive_forward_lean"})
    d = analyze_sequence(sim.seq, lift="squat", rules_paths=_wide_band_rules(tmp_path, 25.0)).report.to_dict()
    change(d)
    with pytest.raises(ValueError, match=message):
        validate_report(d)


def test_a_report_without_borderline_still_reads() -> None:
    sim = simulate_sequence("squat", view_deg=0.0, reps=2)
    d = analyze_sequence(sim.seq, lift="squat").report.to_dict()
    d.pop("borderline")
    assert FormReport.from_dict(d).borderline == ()


# --------------------------------------------------------------------------- the evaluation


def test_borderline_is_not_a_flag_in_the_evaluation() -> None:
    p = PRF().add("yes", "borderline").add("no", "borderline").add("no", "clear")
    assert (p.tp, p.fn, p.fp, p.tn, p.borderline) == (0, 1, 0, 2, 2)
    assert p.borderline_share == pytest.approx(2 / 3)
    lab = label([(0, 2, faults(rounded_back="yes")), (3, 5, faults())], coach=2)
    rep = eval_report([(0, 2), (3, 5)], [])
    rep["verdicts"]["rounded_back"] = "borderline"
    rep["reps"][0]["verdicts"] = {"rounded_back": "borderline"}
    s = evaluate_clips([ClipOutcome(lab, rep)])
    assert (s.clip_level["rounded_back"].tp, s.clip_level["rounded_back"].borderline) == (0, 1)
    assert (s.rep_level["rounded_back"].fn, s.rep_level["rounded_back"].borderline) == (1, 1)
    assert s.clean_reps_flagged == 0
    assert "| borderline (clip) |" in format_markdown(s)


def test_reliability_bins_flags_by_confidence() -> None:
    lab = label([(0, 2, faults(rounded_back="yes")), (3, 5, faults()), (6, 8, faults())], coach=3)
    rep = eval_report([(0, 2), (3, 5), (6, 8)], [(1, "rounded_back"), (2, "rounded_back"), (3, "heels_lift")])
    for f, c in zip(rep["flags"], (0.9, 0.85, 0.3)):
        f["confidence"] = c
    s = evaluate_clips([ClipOutcome(lab, rep)])
    rows = {(lo, hi): (n, ok) for lo, hi, n, ok in reliability(s)}
    assert rows[(0.8, 1.0)] == (2, 1) and rows[(0.0, 0.4)] == (1, 0)
    assert sum(n for n, _ in rows.values()) == 3
    assert "### Confidence reliability" in format_markdown(s)


# --------------------------------------------------------------------------- the app


def test_app_shows_borderline_reps_marked_and_apart_from_flags(tmp_path) -> None:
    from formcheck.app.results import rep_table
    from formcheck.app.review import borderline_of_rep

    sim = simulate_sequence("squat", view_deg=0.0, reps=3, corruption=MEDIAPIPE_LIKE,
                            faults={1: "excessive_forward_lean"})
    d = analyze_sequence(sim.seq, lift="squat", rules_paths=_wide_band_rules(tmp_path, 25.0)).report.to_dict()
    table = rep_table(d, None)
    col = table["Borderline (not flags)"].tolist()
    assert col[0] == "–" and col[2] == "–"
    assert "within ±25" in col[1] and table["Flags"][1] == "–"  # shown apart, not as a flag
    assert [b["code"] for b in borderline_of_rep(d, 2)] == ["excessive_forward_lean"]
    assert borderline_of_rep(d, 1) == [] and borderline_of_rep({"reps": []}, 1) == []
