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

STEMS = sorted(p.stem for p in SAMPLES.glob("*.mp4"))

# Known defects, kept visible (strict: the run fails as soon as one is fixed, so the mark gets removed).
# (The deadlift samples' stand-up after the set-down, once counted as a 4th pull, is now told apart by
# the image bar check: formcheck/barcheck.py, test_deadlift_sample_stand_up_is_not_a_rep below.)
KNOWN_REP_DEFECTS: dict[str, str] = {}
KNOWN_FLAG_DEFECTS = {
    "deadlift_side_faults": "rounded back (thoracic+lumbar flexion) is missed by the landmark proxy, and the "
                            "silhouette is not read: MediaPipe puts this rendered side view's reps under the "
                            "75-deg side-on gate (spine.toml min_yaw_deg) (open defect, issue #6)",
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
    assert expected <= got, f"missed: {sorted(expected - got)}"
    extra = got - expected
    assert not extra, f"false flags: {sorted(extra)}"


@pytest.mark.parametrize("stem", STEMS)
def test_sample_report_files(stem: str, sample_analyses: dict) -> None:
    res = sample_analyses[stem]
    for key in ("json", "md", "html", "csv", "plot", "pose"):
        assert key in res.files and Path(res.files[key]).stat().st_size > 0, key
    for f in res.report.flags:
        assert f"worst_{f['rep']}_{f['code']}" in res.files
    data = json.loads(Path(res.files["json"]).read_text())
    assert data["schema_version"] == 1 and data["rep_count"] == res.report.rep_count
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
