"""Clip checks before judging (formcheck/sanity.py) and their effect on the analysis.

Synthetic clips with exact truth (tests/support/landmark_sim.py): upright
squats and deadlifts (a deadlift with its trunk near horizontal included) pass;
the same clips turned in the picture (as a phone clip with missing rotation
metadata is), cut off at the knees or never standing upright do not, and then
the report has a warning, every verdict not assessable with that reason and
no flags.
"""

from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np
import pytest

from formcheck.analysis import analyze_sequence
from formcheck.cleaning import clean
from formcheck.landmarks import Landmark as L
from formcheck.metrics import compute_frame_metrics
from formcheck.report import FormReport, clip_problems, render_html, render_markdown
from formcheck.sanity import PROBLEM_CODES, SanityParams, SanityResult, body_axis_deg, check_clip, not_judged
from formcheck.sequence import PoseSequence
from formcheck.settings import params_from_toml, read_packaged
from formcheck.views import classify_view
from support.landmark_sim import MEDIAPIPE_LIKE, simulate_sequence, truth_height_norm

LOWER_LEG = (L.LEFT_KNEE, L.RIGHT_KNEE, L.LEFT_ANKLE, L.RIGHT_ANKLE, L.LEFT_HEEL, L.RIGHT_HEEL,
             L.LEFT_FOOT_INDEX, L.RIGHT_FOOT_INDEX)


# ----------------------------------------------------------------------------- clip builders
def sim(lift: str, view_deg: float = 0.0, faults: dict | None = None) -> PoseSequence:
    """A two-rep clip with MediaPipe-like noise, swaps and dropouts."""
    return simulate_sequence(lift, view_deg=view_deg, reps=2, corruption=MEDIAPIPE_LIKE, faults=faults).seq


def rotate(seq: PoseSequence, deg: int) -> PoseSequence:
    """``seq`` as a video turned by ``deg`` (180, 90 clockwise, -90) would show it, frame size swapped on 90s.

    The world landmarks turn with the picture: MediaPipe's world axes follow the camera's.
    """
    w, h = seq.frame_w, seq.frame_h
    x, y = seq.xy_px[..., 0], seq.xy_px[..., 1]
    wx, wy = seq.world_m[..., 0], seq.world_m[..., 1]
    if deg == 180:
        nx, ny, nw, nh, vx, vy = w - x, h - y, w, h, -wx, -wy
    elif deg == 90:
        nx, ny, nw, nh, vx, vy = h - y, x, h, w, -wy, wx
    elif deg == -90:
        nx, ny, nw, nh, vx, vy = y, w - x, h, w, wy, -wx
    else:
        raise ValueError(f"deg: expected 180, 90 or -90, got {deg}")
    world = np.array(seq.world_m)
    world[..., 0], world[..., 1] = vx, vy
    return seq.with_(xy_px=np.stack([nx, ny], axis=-1), world_m=world, frame_w=nw, frame_h=nh)


def lose(seq: PoseSequence, landmarks: tuple[L, ...], frames: np.ndarray) -> PoseSequence:
    """``seq`` with ``landmarks`` lost (NaN, scores 0) on ``frames``, as MediaPipe's unseen points end up."""
    xy, z, world = np.array(seq.xy_px), np.array(seq.z_px), np.array(seq.world_m)
    vis, pres = np.array(seq.visibility), np.array(seq.presence)
    idx = [int(lm) for lm in landmarks]
    for a in (xy, z, world):
        a[np.ix_(frames, idx)] = np.nan
    vis[np.ix_(frames, idx)] = 0.0
    pres[np.ix_(frames, idx)] = 0.0
    return seq.with_(xy_px=xy, z_px=z, world_m=world, visibility=vis, presence=pres)


def knees_lost(share: float) -> Callable[[], PoseSequence]:
    """A side squat whose knees and everything below are lost in the first ``share`` of its frames."""
    def build() -> PoseSequence:
        seq = sim("squat")
        return lose(seq, LOWER_LEG, np.arange(int(round(share * seq.n_frames))))
    return build


def feet_lost(share: float) -> Callable[[], PoseSequence]:
    """A side deadlift whose ankles, heels and toes are lost in the first ``share`` of its frames (plates)."""
    def build() -> PoseSequence:
        seq = sim("deadlift")
        return lose(seq, LOWER_LEG[2:], np.arange(int(round(share * seq.n_frames))))
    return build


def cropped_at_shins() -> PoseSequence:
    """A side squat whose picture ends just above the ankles, below the knees."""
    seq = sim("squat")
    y = seq.xy_px[..., 1]
    knee_low = float(np.nanmax(y[:, [int(L.LEFT_KNEE), int(L.RIGHT_KNEE)]]))
    ankle_top = float(np.nanmin(y[:, [int(L.LEFT_ANKLE), int(L.RIGHT_ANKLE)]]))
    frame_h = int(ankle_top) - 2
    assert knee_low < frame_h
    return seq.with_(frame_h=frame_h)


def cropped_at_knees() -> PoseSequence:
    """A side squat whose picture ends above the knees: MediaPipe still places them, confidently, below it."""
    seq = sim("squat")
    knee_top = float(np.nanmin(seq.xy_px[:, [int(L.LEFT_KNEE), int(L.RIGHT_KNEE)], 1]))
    return seq.with_(frame_h=int(knee_top) - 5)


def never_upright(below_leg: float = 0.6) -> PoseSequence:
    """A side squat cut down to the frames where the hips are below ``below_leg`` leg lengths (true height)."""
    res = simulate_sequence("squat", view_deg=0.0, reps=2, corruption=MEDIAPIPE_LIKE)
    low = np.flatnonzero(truth_height_norm(res.truth, L.LEFT_HIP, L.RIGHT_HIP) < below_leg)
    s = res.seq
    return s.with_(t_ms=s.t_ms[low], xy_px=s.xy_px[low], z_px=s.z_px[low], world_m=s.world_m[low],
                   visibility=s.visibility[low], presence=s.presence[low])


def check(seq: PoseSequence) -> SanityResult:
    cleaned = clean(seq)
    m = compute_frame_metrics(cleaned, classify_view(cleaned))
    return check_clip(cleaned, m.hip_height_norm, m.trunk_deg)


CASES = [
    pytest.param(lambda: sim("squat"), (), id="squat-side"),
    pytest.param(lambda: sim("squat", 45.0), (), id="squat-45deg"),
    pytest.param(lambda: sim("squat", 90.0), (), id="squat-front"),
    pytest.param(lambda: sim("squat", 0.0, {0: "excessive_forward_lean"}), (), id="squat-forward-lean"),
    pytest.param(lambda: sim("deadlift"), (), id="deadlift-side"),
    pytest.param(lambda: sim("deadlift", 45.0), (), id="deadlift-45deg"),
    pytest.param(lambda: sim("deadlift", 90.0), (), id="deadlift-front"),
    # trunk at 80 deg from vertical at the bottom (checked below): the legs keep the body axis upright
    pytest.param(lambda: sim("deadlift", 0.0, {0: "hips_rise_early", 1: "rounded_back"}), (),
                 id="deadlift-trunk-near-horizontal"),
    pytest.param(lambda: rotate(sim("squat"), 180), ("upside_down",), id="squat-upside-down"),
    pytest.param(lambda: rotate(sim("deadlift"), 180), ("upside_down",), id="deadlift-upside-down"),
    pytest.param(lambda: rotate(sim("deadlift", 45.0), 180), ("upside_down",), id="deadlift-45deg-upside-down"),
    pytest.param(lambda: rotate(sim("squat"), 90), ("lying_sideways",), id="squat-turned-clockwise"),
    pytest.param(lambda: rotate(sim("squat"), -90), ("lying_sideways",), id="squat-turned-anticlockwise"),
    pytest.param(lambda: rotate(sim("deadlift"), 90), ("lying_sideways",), id="deadlift-turned-clockwise"),
    pytest.param(lambda: rotate(sim("deadlift", 90.0), -90), ("lying_sideways",), id="deadlift-front-turned"),
    pytest.param(knees_lost(0.8), ("cut_off_knees",), id="knees-lost-80pct"),
    pytest.param(knees_lost(0.3), (), id="knees-lost-30pct-passes"),
    pytest.param(cropped_at_knees, ("cut_off_knees",), id="picture-ends-above-knees"),
    pytest.param(cropped_at_shins, ("feet_not_seen",), id="picture-ends-at-shins"),
    pytest.param(feet_lost(0.8), ("feet_not_seen",), id="feet-hidden-80pct"),
    pytest.param(feet_lost(0.5), (), id="feet-hidden-50pct-passes"),
    pytest.param(never_upright, ("never_upright",), id="never-stands-upright"),
    # the same cut higher up: the hips reach 0.8 leg lengths with the trunk still near vertical
    pytest.param(lambda: never_upright(0.8), (), id="cut-at-0.8-leg-passes"),
]


@pytest.mark.parametrize("build, expected", CASES)
def test_check_clip(build: Callable[[], PoseSequence], expected: tuple[str, ...]) -> None:
    res = check(build())
    assert res.codes == expected, res.measures
    assert res.ok == (not expected)
    for p in res.problems:
        assert "again" in p.reason  # says what to do


def test_trunk_near_horizontal_case_is_one() -> None:
    """The deadlift that must pass really leans its trunk near horizontal (else its case proves nothing)."""
    res = simulate_sequence("deadlift", view_deg=0.0, reps=2, corruption=MEDIAPIPE_LIKE,
                            faults={0: "hips_rise_early", 1: "rounded_back"})
    assert np.nanmax(res.truth.trunk3d_deg) >= 75.0


@pytest.mark.parametrize("deg, lo, hi", [(0, 0.0, 30.0), (180, 150.0, 180.0), (90, 60.0, 120.0), (-90, 60.0, 120.0)],
                         ids=["upright", "upside-down", "clockwise", "anticlockwise"])
def test_body_axis_angle(deg: int, lo: float, hi: float) -> None:
    seq = sim("deadlift")
    seq = rotate(seq, deg) if deg else seq
    ax = body_axis_deg(clean(seq))
    assert lo <= np.nanmedian(ax) <= hi


def test_body_axis_falls_back_to_the_knees() -> None:
    seq = lose(sim("squat"), (L.LEFT_ANKLE, L.RIGHT_ANKLE), np.arange(60))
    ax = body_axis_deg(seq)[:60][seq.detected[:60]]
    assert ax.size > 40 and np.isfinite(ax).all() and np.max(ax) < 45.0


def test_never_upright_needs_the_metrics() -> None:
    """Without the hip-height and trunk series "never upright" is not judged (it is not guessed)."""
    seq = clean(never_upright())
    assert check_clip(seq).ok
    assert np.isnan(check_clip(seq).measures["upright_ms"])


def test_bad_series_shape_is_an_error() -> None:
    seq = clean(sim("squat"))
    with pytest.raises(ValueError, match="hip_height_norm: expected shape"):
        check_clip(seq, np.zeros(3), np.zeros(seq.n_frames))


# ----------------------------------------------------------------------------- settings
def test_packaged_params_load() -> None:
    p = SanityParams.packaged()
    assert p.upright_axis_max_deg < p.upside_down_min_deg


@pytest.mark.parametrize("key, value, match", [
    ("upside_down_min_deg", 30.0, "upright_axis_max_deg"),
    ("min_wrong_frac", 0.0, "min_wrong_frac"),
    ("min_knees_in_view_frac", 1.5, "min_knees_in_view_frac"),
    ("min_feet_in_view_frac", -0.1, "min_feet_in_view_frac"),
    ("edge_margin_ratio", 0.6, "edge_margin_ratio"),
    ("min_axis_frames", 0, "min_axis_frames"),
    ("upright_max_trunk_deg", 120.0, "upright_max_trunk_deg"),
    ("min_upright_ms", -1.0, "min_upright_ms"),
    ("min_axis_frames", 2.5, "expected a whole number"),
], ids=["order", "wrong-frac", "knees-frac", "feet-frac", "margin", "axis-frames", "trunk", "upright-ms", "int-type"])
def test_bad_params_are_rejected(key: str, value: float, match: str) -> None:
    data = read_packaged()
    data["sanity"][key] = value
    with pytest.raises(ValueError, match=match):
        params_from_toml(SanityParams, data, "sanity")


# ----------------------------------------------------------------------------- through the analysis
def _assert_not_judged(report: FormReport, code: str) -> None:
    sanity = report.extra["sanity"]
    assert not sanity["ok"] and [p["code"] for p in sanity["problems"]] == [code]
    reason = sanity["problems"][0]["reason"]
    assert reason in report.warnings
    assert report.flags == [] and report.guidance["faults"] == []
    assert report.verdicts and set(report.verdicts.values()) == {"not_assessable"}
    assert all(report.not_assessable[c] == reason for c in report.verdicts)
    for rep in report.reps:
        assert set(rep["verdicts"].values()) <= {"not_assessable"}
    assert clip_problems(report) == [reason]
    assert reason in render_markdown(report)
    assert FormReport.from_dict(report.to_dict()) == report  # still a valid report


@pytest.mark.parametrize("lift", ["auto", "deadlift"], ids=["auto", "user-deadlift"])
def test_upside_down_deadlift_is_not_judged(lift: str) -> None:
    """The measured failure: an upside-down clip read as a clean deadlift with a 172-degree trunk lean."""
    seq = rotate(sim("deadlift", 0.0, {0: "hips_rise_early"}), 180)
    report = analyze_sequence(seq, lift=lift).report
    _assert_not_judged(report, "upside_down")
    assert report.rep_count == 0 and list(report.partial_reps) == []  # heights upside down: no rep count either


def test_cut_off_clip_keeps_its_reps_but_no_verdicts() -> None:
    report = analyze_sequence(cropped_at_knees(), lift="squat").report
    _assert_not_judged(report, "cut_off_knees")
    assert report.rep_count == 2  # the reps come from the raw landmarks, which still follow the hips


def test_never_upright_clip_is_not_judged() -> None:
    _assert_not_judged(analyze_sequence(never_upright(), lift="squat").report, "never_upright")


def test_upright_clip_is_judged_as_before() -> None:
    """A clip that passes: the checks add their measures and change no verdict or flag."""
    report = analyze_sequence(sim("deadlift", 0.0, {0: "hips_rise_early"})).report
    assert report.extra["sanity"]["ok"] and report.extra["sanity"]["problems"] == []
    assert clip_problems(report) == []
    # the simulated fault is judged as the rules judge it: since the error bands landed its reading sits
    # past the limit but within the band (borderline); never "not assessable" for a clip that passes
    assert report.verdicts["hips_rise_early"] in ("flagged", "borderline")
    assert "not_assessable" not in {report.verdicts[c] for c in ("hips_rise_early", "hips_too_low_start")}
    assert "was not judged" not in render_markdown(report)


def test_html_and_terminal_show_the_problem_first(capsys: pytest.CaptureFixture[str]) -> None:
    from rich.console import Console

    from formcheck.cli import print_report_summary

    report = analyze_sequence(rotate(sim("squat"), 90)).report
    reason = clip_problems(report)[0]
    page = render_html(report)
    assert page.index("This clip was not judged") < page.index("<h2>Verdicts</h2>")
    assert "No complete rep was found" not in page
    print_report_summary(report, Console(width=400, highlight=False))
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert "NOT JUDGED" in lines[1] and reason in lines[1]
    assert out.count(reason) == 1  # not repeated as a note
    assert "No complete rep found" not in out


def test_problem_codes_are_documented() -> None:
    from conftest import REPO

    doc = (REPO / "docs" / "report-schema.md").read_text(encoding="utf-8")
    for code in PROBLEM_CODES:
        assert f"`{code}`" in doc


def test_params_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        SanityParams.packaged().min_wrong_frac = 0.1  # type: ignore[misc]


# ----------------------------------------------------------------------------- real footage
@pytest.mark.slow
def test_no_usable_real_clip_trips_the_checks(shared_lifts, real_pose_cache) -> None:
    """Every usable labelled clip passes (the six stored with -90 degree rotation metadata included);
    the figures and margins are in docs/accuracy.md ("Clip checks before judging")."""
    import json

    from formcheck.pipeline import pose_cached

    tripped = {}
    for entry in json.loads((shared_lifts / "labels.json").read_text()):
        if not entry["usable"]:
            continue
        raw, _, _ = pose_cached(shared_lifts / "videos" / entry["file"], model="full", cache_dir=real_pose_cache)
        res = check(raw)
        if not res.ok:
            tripped[entry["file"]] = res.codes
    assert tripped == {}


def test_not_judged_drops_borderline_readings_too() -> None:
    """A clip that is not judged keeps no borderline reading (the report would contradict its verdicts).

    Found on a real clip cut at the shins with a borderline depth reading: the analysis raised instead of
    reporting "not judged"."""
    from formcheck.rules import Flag, RuleResult

    b = Flag(code="shallow_depth", rep=0, phase="bottom", t_ms=100.0, frame=3, measured=0.5, limit=0.45,
             units="thigh", severity="minor", confidence=0.5, measure="depth_thigh")
    result = RuleResult(lift="squat", view="side", flags=(), verdicts={"shallow_depth": "borderline"}, rep_verdicts={0: {"shallow_depth": "borderline"}},
                        reasons={}, measures={}, limits={"shallow_depth": 0.45}, borderline=(b,))
    out = not_judged(result, "the feet are not in the picture")
    assert out.borderline == () and out.flags == ()
    assert out.verdicts == {"shallow_depth": "not_assessable"}
