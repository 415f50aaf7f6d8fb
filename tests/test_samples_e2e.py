"""The bundled sample videos end to end: reps and flags match each clip's ground truth.

The samples are rendered by the project's synthetic-athlete generator
(tools/synth); each ``sample_videos/<stem>.json`` says which rep carries which
injected fault. Ground truth and detection follow the same rep convention
(``../shared/data/lifts/LABELS.md``: a deadlift rep runs from the descent
toward the floor to lockout), so a rep is matched to its ground truth by time
overlap, and a deadlift's pull must start near the ground truth's.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import SAMPLES
from formcheck.report import SCHEMA_VERSION

STEMS = sorted(p.stem for p in SAMPLES.glob("*.mp4"))

# Known defects, kept visible (strict: the run fails as soon as one is fixed, so the mark gets removed).
# (The deadlift samples' stand-up after the set-down, once counted as a 4th pull, is now told apart by
# the image bar check: formcheck/barcheck.py, test_deadlift_sample_stand_up_is_not_a_rep below.)
KNOWN_REP_DEFECTS: dict[str, str] = {}
# The silhouette estimate against the rendered truth: the error stated in docs/accuracy.md
# ("Rendered clips through MediaPipe", deadlift_side_rounded row), with a margin.
CORR_MIN = 0.7  # stated: 0.79
RMS_MAX_DEG = 13.0  # stated: 10.4
KNOWN_FLAG_DEFECTS = {
    "deadlift_side_faults": "rounded back (thoracic+lumbar flexion) is missed: the landmark proxy does not see "
                            "it, and the silhouette is not read because the clip is filmed 20 deg off the side "
                            "(the landmarks put its reps at 69-77 deg, under spine.toml min_yaw_deg = 81.5); "
                            "the same fault filmed square from the side is caught (deadlift_side_rounded)",
}


# Injected faults whose reading on the rendered clip sits past the limit but within the measure's error band
# (band_<units> in the rules TOML, benchmarks/measure_bands.py): by design they are "borderline" (shown, not
# flagged). (stem, code) -> why; the test pins them as borderline on exactly the faulty rep.
# (deadlift_side_rounded's 47 deg rounding was borderline under the former 30 deg limit and 11.3 deg band on the
# outline against the standing reference; read against the set's median rep it stands 33.5 deg out, past the
# set rule's 16 deg limit and 7.9 deg band, and is flagged.)
BORDERLINE_BY_DESIGN = {
    ("squat_side_faults", "hips_rise_early"): "the rendered hips-rise reads 8.9 deg, inside the 5.2 deg band over "
                                              "the 8 deg limit (tests/test_faults_sim.py: the same on landmarks)",
}


def _params(known: dict[str, str]) -> list:
    return [pytest.param(s, marks=pytest.mark.xfail(strict=True, reason=known[s])) if s in known else s
            for s in STEMS]


def _truth(stem: str) -> dict:
    return json.loads((SAMPLES / f"{stem}.json").read_text())


def _match(truth: dict, reps: list[dict]) -> list[int | None]:
    out: list[int | None] = []
    for gt in truth["reps"]:
        s, e = gt["start_ms"], gt["end_ms"]
        found = None
        for k, r in enumerate(reps):
            inter = min(e, r["end_ms"]) - max(s, r["start_ms"])
            hit = inter >= 0.5 * min(e - s, r["end_ms"] - r["start_ms"])
            if truth["lift"] == "deadlift":
                hit = hit and abs(r["bottom_ms"] - gt["bottom_ms"]) <= 500
            if hit:
                found = k
                break
        out.append(found)
    return out


def test_samples_exist() -> None:
    assert len(STEMS) >= 5, STEMS
    for stem in STEMS:
        assert (SAMPLES / f"{stem}.json").is_file(), f"{stem}: ground truth missing"


@pytest.mark.parametrize("stem", _params(KNOWN_REP_DEFECTS))
def test_sample_lift_view_and_reps(stem: str, sample_analyses: dict) -> None:
    truth = _truth(stem)
    report = sample_analyses[stem].report
    assert report.status == "ok"
    assert report.lift == truth["lift"]
    assert report.view == truth["view"]
    assert report.rep_count == len(truth["reps"]), [(r["start_ms"], r["end_ms"]) for r in report.reps]
    assert all(m is not None for m in _match(truth, list(report.reps)))


@pytest.mark.parametrize("stem", _params(KNOWN_FLAG_DEFECTS))
def test_sample_flags_match_injected_faults(stem: str, sample_analyses: dict) -> None:
    truth = _truth(stem)
    report = sample_analyses[stem].report
    reps = list(report.reps)
    matches = _match(truth, reps)
    expected = set()
    for gt, m in zip(truth["reps"], matches):
        for code in gt["faults"]:
            expected.add((reps[m]["rep"], code))
    got = {(f["rep"], f["code"]) for f in report.flags}
    near = {(b["rep"], b["code"]): b["measured"] for b in report.borderline}
    by_design = {(rep, code) for rep, code in expected if (stem, code) in BORDERLINE_BY_DESIGN}
    assert by_design <= set(near), f"expected borderline: {sorted(by_design)}, got {near}, flags {sorted(got)}"
    expected -= by_design
    assert expected <= got, f"missed: {sorted(expected - got)}; borderline {near}"
    extra = got - expected
    assert not extra, f"false flags: {sorted(extra)}"


@pytest.mark.parametrize("stem", STEMS)
def test_sample_passes_the_clip_checks(stem: str, sample_analyses: dict) -> None:
    """No bundled sample is upside down, sideways, cut off at the knees or never upright (formcheck/sanity.py)."""
    sanity = sample_analyses[stem].report.extra["sanity"]
    assert sanity["ok"] and sanity["problems"] == [], sanity
    # with a margin: the deadlift samples' set-down (bent over the bar) reads sideways in 1-4 % of the frames
    assert sanity["measures"]["upside_down_frac"] == 0.0 and sanity["measures"]["sideways_frac"] <= 0.1, sanity


@pytest.mark.parametrize("stem", STEMS)
def test_sample_report_files(stem: str, sample_analyses: dict) -> None:
    res = sample_analyses[stem]
    for key in ("json", "md", "html", "csv", "plot", "pose"):
        assert key in res.files and Path(res.files[key]).stat().st_size > 0, key
    for f in res.report.flags:
        assert f"worst_{f['rep']}_{f['code']}" in res.files
    data = json.loads(Path(res.files["json"]).read_text())
    assert data["schema_version"] == SCHEMA_VERSION and data["rep_count"] == res.report.rep_count
    html = Path(res.files["html"]).read_text()
    assert "not medical advice" in html.lower() or "not a medical" in html.lower()
    for item in data["guidance"]["red_flags"]:
        assert item.split()[0].lower() in html.lower()


@pytest.mark.parametrize("stem", [s for s in STEMS if s.startswith("deadlift")])
def test_deadlift_sample_stand_up_is_not_a_rep(stem: str, sample_analyses: dict) -> None:
    """After the last rep the lifter sets the bar down, lets go and stands up: hip and hand heights
    make a 4th pull of it; the image check sees the plates stay on the floor and drops it."""
    truth = _truth(stem)
    report = sample_analyses[stem].report
    checks = report.extra["bar_check"]
    assert [c["decision"] == "bar stayed" for c in checks] == [False, False, False, True], checks
    stand_up = checks[-1]
    assert stand_up["bottom_ms"] > truth["reps"][-1]["end_ms"]
    assert report.rep_count == 3
    assert any("left the bar on the floor: not counted" in w for w in report.warnings), report.warnings
    last_phase = truth["reps"][-1]["phases"][-1]
    assert last_phase["name"] == "set-down"
    ignored = [i for i in report.extra["ignored"] if i["reason"] == "set-down"]
    assert any(abs(i["start_ms"] - last_phase["start_ms"]) <= 500 for i in ignored), ignored


def test_silhouette_tracks_the_true_flexion_on_a_rendered_side_view(sample_analyses: dict) -> None:
    """deadlift_side_rounded (rendered square from the side, 47 deg of flexion on rep 2): the per-frame
    silhouette estimate follows the true lumbar + thoracic flexion within the error stated in
    docs/accuracy.md ("Rendered clips through MediaPipe"), and only the rounded rep stands out from the set's median
    rep by more than the set rule's limit (the figure keeps its lower back arched: against a straight line
    every rep reads under the outline's own limit)."""
    import numpy as np

    truth = _truth("deadlift_side_rounded")
    a = sample_analyses["deadlift_side_rounded"].analysis
    assert a.spine is not None, a.report.extra.get("spine")
    fr = truth["frames"]
    true_deg = np.interp(a.t_ms, fr["t_ms"], np.add(fr["lumbar_deg"], fr["thoracic_deg"]))
    est = a.spine.flexion_deg
    ok = np.isfinite(est)
    assert ok.mean() >= 0.6, f"only {ok.mean():.0%} of frames read"
    corr = float(np.corrcoef(est[ok], true_deg[ok])[0, 1])
    slope, icpt = np.polyfit(true_deg[ok], est[ok], 1)
    rms_deg = float(np.sqrt(np.mean((est[ok] - (slope * true_deg[ok] + icpt)) ** 2)) / slope)
    assert corr >= CORR_MIN and 0.7 <= slope <= 1.5 and rms_deg <= RMS_MAX_DEG, (corr, slope, rms_deg)
    reps = list(a.report.reps)
    by_rep = {}
    gt_rep = np.asarray(fr["rep"])[np.clip(np.searchsorted(fr["t_ms"], a.t_ms), 0, len(fr["t_ms"]) - 1)]
    for gt, m in zip(truth["reps"], _match(truth, reps)):
        # the detected rep opens with the previous rep's lowering: only this rep's own frames
        own = (a.t_ms >= reps[m]["start_ms"]) & (a.t_ms <= reps[m]["end_ms"]) & (gt_rep == gt["index"])
        by_rep[gt["index"]] = float(np.nanmax(est[own]))
    limit = _silhouette_limit_deg("deadlift", "spine_flexion_vs_set")
    med = float(np.median(list(by_rep.values())))
    assert by_rep[1] - med >= limit > max(by_rep[0], by_rep[2]) - med, (by_rep, limit)
    assert max(by_rep.values()) < _silhouette_limit_deg("deadlift"), by_rep


def _silhouette_limit_deg(lift: str, measure: str = "spine_flexion_loaded") -> float:
    import tomllib
    from importlib import resources

    rules = tomllib.loads((resources.files("formcheck") / "config" / f"{lift}.toml").read_text(encoding="utf-8"))
    (table,) = [t for t in rules["faults"]["rounded_back"] if t["measure"] == measure]
    return float(table["limit_deg"])


@pytest.mark.parametrize("stem, warned", [
    ("deadlift_side_faults", True),  # 20 deg off the side: the outline is not read
    ("squat_side_faults", True),  # 10 deg off, read 76-78 deg by the landmarks: not read either
    ("deadlift_side_rounded", False),  # square from the side: read
], ids=["deadlift-20-deg-off", "squat-10-deg-off", "deadlift-square-on"])
def test_report_says_when_the_back_was_judged_from_the_head_only(stem: str, warned: bool,
                                                                 sample_analyses: dict) -> None:
    """A 'clear' rounded-back verdict resting on the head proxy alone says so, with the reason."""
    report = sample_analyses[stem].report
    said = [w for w in report.warnings if w.startswith("rounded back judged from the head's position only")]
    assert bool(said) is warned, (report.warnings, report.extra["spine"])
    if warned:
        assert report.extra["spine"]["reason"] in said[0]
