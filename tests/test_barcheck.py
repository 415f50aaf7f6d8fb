"""The deadlift bar check (formcheck/barcheck.py) on synthetic image patches with known answers."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest

from formcheck.barcheck import BarCheckParams, check_rise, ncc
from formcheck.landmarks import Landmark as L
from formcheck.reps import Phase, Rep, RepSegmentation, RepParams, without_reps
from formcheck.rules import load_rules, parse_ruleset

H, W = 300, 400
THIGH = 100.0
FLOOR_WRIST = (200.0, 240.0)
TOP_WRIST = (200.0, 150.0)
#: The packaged thresholds (deadlift.toml [bar_check]): the only place their values live.
P = load_rules("deadlift").bar_check


def _texture(seed: int) -> np.ndarray:
    """Smooth random texture (a gym background), grey levels about 60-200."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 1, (H // 4 + 1, W // 4 + 1))
    img = np.kron(x, np.ones((4, 4)))[:H, :W]
    return 60.0 + 140.0 * img


def _disc(img: np.ndarray, c: tuple[float, float], r: float) -> np.ndarray:
    """A plate: dark disc with a bright ring and a bright hub."""
    out = img.copy()
    yy, xx = np.mgrid[:H, :W]
    d = np.hypot(xx - c[0], yy - c[1])
    out[d <= r] = 30.0
    out[(d > 0.7 * r) & (d <= 0.8 * r)] = 220.0
    out[d <= 0.15 * r] = 200.0
    return out


def _hands(img: np.ndarray, c: tuple[float, float]) -> np.ndarray:
    """Hands and forearms: a mid-grey bar over the grip."""
    out = img.copy()
    x, y = int(c[0]), int(c[1])
    out[y - 40 : y + 6, x - 6 : x + 6] = 140.0
    return out


def _pose(wrist: tuple[float, float], *, lost_wrists: bool = False) -> np.ndarray:
    xy = np.full((len(L), 2), np.nan)
    for w in (L.LEFT_WRIST, L.RIGHT_WRIST):
        xy[int(w)] = np.nan if lost_wrists else wrist
    xy[int(L.LEFT_HIP)] = xy[int(L.RIGHT_HIP)] = (240.0, 140.0)
    xy[int(L.LEFT_KNEE)] = xy[int(L.RIGHT_KNEE)] = (240.0, 140.0 + THIGH)
    return xy


@dataclass(frozen=True)
class Scene:
    before: np.ndarray | None
    floor: np.ndarray
    top: np.ndarray
    top_wrist: tuple[float, float] = TOP_WRIST
    lost_wrists: bool = False
    #: where the wrists were in the "before" frame (standing: as high as at lockout)
    before_wrist: tuple[float, float] = TOP_WRIST
    #: a counted rep came before (the "before" frame then taken to show the bar in hand)
    after_a_rep: bool = True


def _scene(kind: str) -> Scene:
    bg = _texture(1)
    plate_floor = _disc(bg, FLOOR_WRIST, 40.0)
    floor = _hands(plate_floor, FLOOR_WRIST)
    before = _hands(_disc(bg, TOP_WRIST, 40.0), TOP_WRIST)  # standing with the bar, floor still empty
    if kind == "plate-stays":
        return Scene(before, floor, _hands(plate_floor, TOP_WRIST))
    if kind == "plate-moves":
        return Scene(before, floor, before.copy())
    if kind == "camera-pans":
        return Scene(before, floor, np.roll(_hands(plate_floor, TOP_WRIST), (9, 14), axis=(0, 1)))
    if kind == "patch-occluded":  # something (a training partner, the lifter's leg) covers the spot at lockout
        top = _hands(plate_floor, TOP_WRIST)
        top[200:280, 150:250] = 90.0 + 40.0 * (np.arange(100)[None, :] % 7 > 3)
        return Scene(before, floor, top)
    if kind == "wrists-lost":
        return Scene(before, floor, _hands(plate_floor, TOP_WRIST), lost_wrists=True)
    if kind == "featureless":
        flat = np.full((H, W), 120.0)
        return Scene(flat.copy(), flat.copy(), flat.copy())
    if kind == "small-rise":
        return Scene(before, floor, _hands(plate_floor, (200.0, 220.0)), top_wrist=(200.0, 220.0))
    if kind == "no-before-frame":
        return Scene(None, floor, _hands(plate_floor, TOP_WRIST))
    if kind == "before-is-the-floor-moment":  # a clip opening at the bar: its first "before" frame is the floor
        return Scene(floor.copy(), floor, _hands(plate_floor, TOP_WRIST), before_wrist=FLOOR_WRIST, after_a_rep=False)
    lying = _hands(plate_floor, TOP_WRIST)  # standing, the bar lying on the floor
    if kind == "bend-first-rise":  # bending to the bar and back up without it: the plate lies there throughout
        return Scene(lying.copy(), floor, lying.copy(), after_a_rep=False)
    if kind == "bend-after-a-bend":
        return Scene(lying.copy(), floor, lying.copy(), after_a_rep=True)
    if kind == "bend-lifter-not-standing-before":  # the "before" frame has the hands down at the spot too
        return Scene(floor.copy(), floor, lying.copy(), before_wrist=FLOOR_WRIST, after_a_rep=False)
    if kind == "pull-after-a-bend":  # the bar lay there before; the pull takes it up
        return Scene(lying.copy(), floor, before.copy(), after_a_rep=True)
    if kind == "first-pull":
        return Scene(lying.copy(), floor, before.copy(), after_a_rep=False)
    if kind == "stand-up-as-first-rise":  # the bar in hand before, but no counted rep before it: not judged
        return Scene(before, floor, lying.copy(), after_a_rep=False)
    if kind == "bend-spot-occluded-before":  # something covered the spot before the descent: not all alike
        occluded = lying.copy()
        occluded[200:280, 150:250] = 90.0 + 40.0 * (np.arange(100)[None, :] % 7 > 3)
        return Scene(occluded, floor, lying.copy(), after_a_rep=False)
    raise AssertionError(kind)


CASES = [
    ("plate-stays", "bar stayed"),
    ("plate-moves", "bar moved"),
    ("camera-pans", "unsure"),
    ("patch-occluded", "bar moved"),
    ("wrists-lost", "unsure"),
    ("featureless", "unsure"),
    ("small-rise", "unsure"),
    ("no-before-frame", "unsure"),
    ("before-is-the-floor-moment", "unsure"),
    ("bend-first-rise", "bar stayed"),
    ("bend-after-a-bend", "bar stayed"),
    ("bend-lifter-not-standing-before", "unsure"),
    ("pull-after-a-bend", "bar moved"),
    ("first-pull", "bar moved"),
    ("stand-up-as-first-rise", "unsure"),
    ("bend-spot-occluded-before", "unsure"),
]


@pytest.mark.parametrize(("kind", "expected"), CASES, ids=[c[0] for c in CASES])
def test_check_rise_decision(kind: str, expected: str) -> None:
    s = _scene(kind)
    c = check_rise(s.floor, s.top, _pose(FLOOR_WRIST), _pose(s.top_wrist, lost_wrists=s.lost_wrists), P,
                   before_gray=s.before, before_xy=None if s.before is None else _pose(s.before_wrist),
                   after_a_rep=s.after_a_rep)
    assert c.decision == expected, c
    assert c.veto == (expected == "bar stayed")
    assert c.reason


def test_plate_stays_values() -> None:
    s = _scene("plate-stays")
    c = check_rise(s.floor, s.top, _pose(FLOOR_WRIST), _pose(TOP_WRIST), P, before_gray=s.before,
                   before_xy=_pose(TOP_WRIST))
    p = P
    assert c.patch_ncc >= p.still_ncc and c.patch_ncc - c.before_ncc >= p.min_ncc_gap
    assert c.background_ncc == pytest.approx(1.0)
    assert c.rise_frac == pytest.approx(0.9)


def test_bend_values() -> None:
    """The bend is dropped on its three similarities (standing before vs lockout past ``lying_ncc``, the
    floor moment vs both past ``still_ncc``), not on the gap rule."""
    s = _scene("bend-first-rise")
    c = check_rise(s.floor, s.top, _pose(FLOOR_WRIST), _pose(TOP_WRIST), P, before_gray=s.before,
                   before_xy=_pose(TOP_WRIST), after_a_rep=False)
    assert c.veto
    assert c.before_ncc >= P.lying_ncc and min(c.patch_ncc, c.before_floor_ncc) >= P.still_ncc
    assert c.patch_ncc - c.before_ncc < P.min_ncc_gap


NCC_CASES = [
    ("identical", np.arange(12.0).reshape(3, 4), np.arange(12.0).reshape(3, 4), 1.0),
    ("brighter-and-contrast", np.arange(12.0).reshape(3, 4), 2.0 * np.arange(12.0).reshape(3, 4) + 50, 1.0),
    ("inverted", np.arange(12.0).reshape(3, 4), -np.arange(12.0).reshape(3, 4), -1.0),
]


@pytest.mark.parametrize(("name", "a", "b", "expected"), NCC_CASES, ids=[c[0] for c in NCC_CASES])
def test_ncc(name: str, a: np.ndarray, b: np.ndarray, expected: float) -> None:
    assert ncc(a, b) == pytest.approx(expected)


def test_ncc_flat_is_nan_and_shapes_checked() -> None:
    assert np.isnan(ncc(np.ones((3, 3)), np.arange(9.0).reshape(3, 3)))
    with pytest.raises(ValueError, match="same shape"):
        ncc(np.ones((3, 3)), np.ones((3, 4)))


def _packaged_deadlift() -> dict:
    import tomllib
    from importlib import resources

    return tomllib.loads((resources.files("formcheck") / "config" / "deadlift.toml").read_text(encoding="utf-8"))


def test_params_from_packaged_toml() -> None:
    p = load_rules("deadlift").bar_check
    assert isinstance(p, BarCheckParams) and 0 < p.still_ncc <= 1 and p.min_ncc_gap > 0
    assert p == BarCheckParams.from_mapping(_packaged_deadlift()["bar_check"])
    assert load_rules("squat").bar_check is None


BAD_TABLES = [
    ("typo", lambda t: {**t, "still_nc": 0.9}, "tuned.toml: bar_check: unknown keys ['still_nc']"),
    ("missing-key", lambda t: {k: v for k, v in t.items() if k != "min_ncc_gap"},
     "tuned.toml: bar_check: missing keys ['min_ncc_gap']"),
    ("above-one", lambda t: {**t, "still_ncc": 1.5}, "tuned.toml: bar_check.still_ncc: expected at most 1, got 1.5"),
    ("negative", lambda t: {**t, "min_rise_frac": -0.1},
     "tuned.toml: bar_check.min_rise_frac: expected a finite number >= 0, got -0.1"),
    ("text", lambda t: {**t, "patch_thigh": "wide"},
     "tuned.toml: bar_check.patch_thigh: expected a finite number >= 0, got 'wide'"),
    ("bool", lambda t: {**t, "min_ncc_gap": True}, "tuned.toml: bar_check.min_ncc_gap: expected a finite number"),
    ("zero-patch", lambda t: {**t, "patch_thigh": 0.0}, "tuned.toml: bar_check.patch_thigh: expected > 0, got 0.0"),
    ("no-table", None, "tuned.toml: expected a [bar_check] table"),
    ("not-a-table", lambda t: 0.5, "tuned.toml: bar_check: expected a [bar_check] table, got 0.5"),
]


@pytest.mark.parametrize(("name", "edit", "message"), BAD_TABLES, ids=[c[0] for c in BAD_TABLES])
def test_bad_bar_check_table_names_file_and_key(name: str, edit, message: str) -> None:  # noqa: ANN001
    data = _packaged_deadlift()
    if edit is None:
        del data["bar_check"]
    else:
        data["bar_check"] = edit(data["bar_check"])
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_ruleset(data, where="tuned.toml")


def _rep(i: int, t0: float) -> Rep:
    return Rep(index=i, start_ms=t0, bottom_ms=t0 + 1000, end_ms=t0 + 1800,
               phases=(Phase("lowering", t0, t0 + 800), Phase("floor", t0 + 800, t0 + 1000),
                       Phase("pull", t0 + 1000, t0 + 1800), Phase("lockout", t0 + 1800, t0 + 2000)),
               depth_norm=0.5, rom_norm=0.5)


WITHOUT_CASES = [
    ("last-is-a-set-down", [2], 2, ["set-down"]),
    ("middle-rise-no-bar", [1], 2, ["no bar"]),
    ("nothing-dropped", [], 3, []),
]


@pytest.mark.parametrize(("name", "drop", "left", "reasons"), WITHOUT_CASES, ids=[c[0] for c in WITHOUT_CASES])
def test_without_reps(name: str, drop: list[int], left: int, reasons: list[str]) -> None:
    seg = RepSegmentation(reps=tuple(_rep(i, 2000.0 * i) for i in range(3)), partial_reps=(), ignored=(),
                          params=RepParams.packaged(), lift="deadlift")
    out = without_reps(seg, drop)
    assert out.count == left
    assert [r.index for r in out.reps] == list(range(left))
    assert [s.reason for s in out.ignored] == reasons


def test_without_reps_rejects_unknown_index() -> None:
    seg = RepSegmentation(reps=(_rep(0, 0.0),), partial_reps=(), ignored=(), params=RepParams.packaged(), lift="deadlift")
    with pytest.raises(ValueError, match="indices"):
        without_reps(seg, [3])


def test_core_imports_no_image_libraries() -> None:
    import subprocess
    import sys

    code = ("import sys, formcheck.barcheck, formcheck.analysis; "
            "bad = [m for m in ('cv2', 'mediapipe', 'av', 'streamlit') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", out

