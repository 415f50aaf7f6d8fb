"""Rep segmentation on synthetic height signals with exactly known rep boundaries."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pytest

from formcheck.reps import (
    DEADLIFT_PHASES,
    SQUAT_PHASES,
    LiveRepCounter,
    Phase,
    Rep,
    RepEvent,
    RepParams,
    RepSegmentation,
    Span,
    bar_height,
    segment_reps,
    standing_level,
)

FPS = 30.0
TOL_MS = 110.0


def uniform_t(duration_ms: float, fps: float = FPS) -> np.ndarray:
    return np.arange(0.0, duration_ms, 1000.0 / fps)


def vfr_t(duration_ms: float, seed: int) -> np.ndarray:
    """Variable frame rate: frame intervals drawn between 15 and 60 ms."""
    rng = np.random.default_rng(seed)
    dt = rng.uniform(15.0, 60.0, size=int(duration_ms / 15.0) + 2)
    t = np.r_[0.0, np.cumsum(dt)]
    return t[t < duration_ms]


def from_knots(t: np.ndarray, knots: list[tuple[float, float]], shape: str = "linear") -> np.ndarray:
    """Height at times ``t`` through (t_ms, value) knots: linear or cosine-eased between knots."""
    kt = np.array([k[0] for k in knots], dtype=float)
    kv = np.array([k[1] for k in knots], dtype=float)
    if shape == "linear":
        return np.interp(t, kt, kv)
    j = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, len(kt) - 2)
    u = np.clip((t - kt[j]) / (kt[j + 1] - kt[j]), 0.0, 1.0)
    w = (1.0 - np.cos(np.pi * u)) / 2.0
    return kv[j] + (kv[j + 1] - kv[j]) * w


def rep_knots(reps: list[tuple[float, float, float]], depth: float = 0.5, top: float = 1.0,
              pause_ms: float = 0.0) -> list[tuple[float, float]]:
    """Knots of top -> bottom -> top reps; ``pause_ms`` holds the bottom after ``bottom_ms``."""
    k: list[tuple[float, float]] = [(-1000.0, top)]
    for s, b, e in reps:
        k += [(s, top), (b, top - depth)]
        if pause_ms:
            k.append((b + pause_ms, top - depth))
        k.append((e, top))
    k.append((1e9, top))
    return k


@dataclass(frozen=True)
class Case:
    lift: str
    t: np.ndarray
    x: np.ndarray
    reps: list[tuple[float, float, float]]
    partial: list[str] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    aux: np.ndarray | None = None
    signal: str = "primary"
    tol_ms: float = TOL_MS
    # False where the stream opens before any full rep so the live counter cannot yet tell the raised arms
    # (capped at hip height, 0.1 above lockout) from standing: its first rep starts at the first frame
    live_starts: bool = True


def _squat_clean() -> Case:
    reps = [(1000, 2000, 3000), (4000, 5000, 6000), (7000, 8000, 9500)]
    t = uniform_t(11000)
    return Case("squat", t, from_knots(t, rep_knots(reps)), reps)


def _squat_cosine() -> Case:
    reps = [(1000, 1800, 2700), (3500, 4400, 5200)]
    t = uniform_t(6500)
    return Case("squat", t, from_knots(t, rep_knots(reps, depth=0.45), "cosine"), reps, tol_ms=200.0)


def _squat_noisy() -> Case:
    reps = [(1000, 2000, 3000), (4000, 5000, 6000), (7000, 8000, 9000)]
    t = uniform_t(10500)
    rng = np.random.default_rng(7)
    x = from_knots(t, rep_knots(reps)) + rng.normal(0.0, 0.015, t.size)
    return Case("squat", t, x, reps, tol_ms=160.0)


def _squat_jitter_at_thresholds() -> Case:
    # each ascent stalls at the top-band boundary (1/3 of the depth below standing) and jitters
    # across it; the bottom jitters by less than the swing; neither may add a rep.
    t = uniform_t(10000)
    knots = [(0, 1.0), (1000, 1.0), (2000, 0.5), (2600, 0.5), (3000, 0.833), (3800, 0.833), (4200, 1.0),
             (5000, 1.0), (6000, 0.5), (6600, 0.5), (7000, 0.833), (7800, 0.833), (8200, 1.0), (10000, 1.0)]
    x = from_knots(t, knots)
    jit = 0.03 * np.where(np.arange(t.size) % 2 == 0, 1.0, -1.0)
    near = ((t > 2000) & (t < 2600)) | ((t > 3000) & (t < 3800)) | ((t > 6000) & (t < 6600)) | (
        (t > 7000) & (t < 7800))
    x = x + np.where(near, jit, 0.0)
    reps = [(1000, 2000, 4200), (5000, 6000, 8200)]
    return Case("squat", t, x, reps, tol_ms=700.0)


def _squat_setup_rerack() -> Case:
    # walk-out steps (0.05 dips) before, a shallow bob (0.1) between reps and re-rack steps after
    reps = [(3000, 4000, 5000), (8000, 9000, 10000)]
    t = uniform_t(13500)
    x = from_knots(t, rep_knots(reps))
    for c in (800, 1800):
        x -= 0.05 * np.exp(-0.5 * ((t - c) / 120.0) ** 2)
    x -= 0.10 * np.exp(-0.5 * ((t - 6500) / 200.0) ** 2)
    for c in (11500, 12500):
        x -= 0.05 * np.exp(-0.5 * ((t - c) / 120.0) ** 2)
    return Case("squat", t, x, reps, ignored=["walk-out", "walk-out", "too shallow", "re-rack", "re-rack"])


def _squat_partial_edges() -> Case:
    # opens 60% of the way down (rising), two full reps, ends on the way down
    t = uniform_t(9000)
    knots = [(0, 0.7), (700, 1.0), (1500, 1.0), (2500, 0.5), (3500, 1.0), (4500, 1.0), (5500, 0.5),
             (6500, 1.0), (7500, 1.0), (8800, 0.6), (9000, 0.55)]
    reps = [(1500, 2500, 3500), (4500, 5500, 6500)]
    return Case("squat", t, from_knots(t, knots), reps, partial=["clip start", "clip end"])


def _squat_opens_slightly_down() -> Case:
    # opens a fifth of the way down: the whole rep still counts, from the first frame; it ends
    # back within 5% of the range (0.02) of the top it started from (0.9), at 1760 ms
    t = uniform_t(3500)
    knots = [(0, 0.9), (1000, 0.5), (2000, 1.0), (3500, 1.0)]
    return Case("squat", t, from_knots(t, knots), [(0, 1000, 1760)])


def _squat_pauses() -> Case:
    # 800 ms pause at the bottom of each rep and 1.5 s standing between them
    reps = [(1000, 2000, 3800), (5300, 6300, 8100)]
    t = uniform_t(9500)
    return Case("squat", t, from_knots(t, rep_knots(reps, pause_ms=800.0)), reps)


def _squat_vfr() -> Case:
    reps = [(1000, 2000, 3000), (4000, 4700, 5600), (6000, 7000, 8000)]
    t = vfr_t(9000, seed=3)
    return Case("squat", t, from_knots(t, rep_knots(reps)), reps)


def _squat_short_gap() -> Case:
    reps = [(1000, 2000, 3000), (4000, 5000, 6000)]
    t = uniform_t(7000)
    x = from_knots(t, rep_knots(reps))
    x[(t > 1400) & (t < 1700)] = np.nan
    x[(t > 5200) & (t < 5500)] = np.nan
    return Case("squat", t, x, reps)


def _squat_long_gap() -> Case:
    # a 1.2 s gap hides the second rep's bottom: partial, not counted
    reps = [(1000, 2000, 3000), (4000, 5000, 6000), (7000, 8000, 9000)]
    t = uniform_t(10000)
    x = from_knots(t, rep_knots(reps))
    x[(t > 4400) & (t < 5600)] = np.nan
    return Case("squat", t, x, [reps[0], reps[2]], partial=["gap"])


def _squat_too_short() -> Case:
    # a 3-frame tracking glitch dives 0.4 between reps
    reps = [(1000, 2000, 3000), (5000, 6000, 7000)]
    t = uniform_t(8000)
    x = from_knots(t, rep_knots(reps))
    x[(t > 3950) & (t < 4050)] -= 0.4
    return Case("squat", t, x, reps, ignored=["too short"])


def _dl_touch_and_go() -> Case:
    # wrist height: lockout 0.8, floor 0.25; V-shaped touches; opens and ends standing
    reps = [(1000, 2000, 2800), (2800, 3600, 4400), (4400, 5200, 6000)]
    t = uniform_t(7500)
    knots = [(0, 0.8), (1000, 0.8), (2000, 0.25), (2800, 0.8), (3600, 0.25), (4400, 0.8), (5200, 0.25),
             (6000, 0.8), (7500, 0.8)]
    return Case("deadlift", t, from_knots(t, knots), reps, ignored=[])


def _dl_dead_stop() -> Case:
    # bar rests 1 s on the floor before each pull; bottom = the last moment on the floor
    t = uniform_t(10000)
    knots = [(0, 0.8), (1000, 0.8), (1800, 0.25), (2800, 0.25), (3600, 0.8), (4600, 0.8), (5400, 0.25),
             (6400, 0.25), (7200, 0.8), (8200, 0.8), (9000, 0.25), (10000, 0.25)]
    reps = [(1000, 2800, 3600), (4600, 6400, 7200)]
    return Case("deadlift", t, from_knots(t, knots), reps, ignored=["set-down"])


def _dl_set_at_bar() -> Case:
    # opens set at the bar for 2 s, one pull, holds, then the set-down (part of the cycle)
    t = uniform_t(5000)
    knots = [(0, 0.25), (2000, 0.25), (2800, 0.8), (3600, 0.8), (4400, 0.25), (5000, 0.25)]
    return Case("deadlift", t, from_knots(t, knots), [(0, 2000, 2800)], ignored=["set-down"])


def _dl_set_at_bar_with_regrip() -> Case:
    # opens on a 0.13 wobble at the bar (hands settling), a first-frame landmark glitch, 2 s at the bar,
    # then the pull: the wobble is not a top (the standing level stays at lockout), the glitch not the floor
    t = uniform_t(5000)
    knots = [(0, 0.38), (300, 0.25), (2300, 0.25), (3100, 0.8), (5000, 0.8)]
    x = from_knots(t, knots)
    x[0] = 0.10
    return Case("deadlift", t, x, [(0, 2300, 3100)])


def _dl_lockout_creep() -> Case:
    # after lockout the hands creep up a further 4% of the pull over 0.6 s (shoulders back): the rep
    # ends at lockout, not at the end of the creep
    t = uniform_t(6000)
    knots = [(0, 0.8), (1000, 0.8), (2000, 0.25), (2800, 0.8), (3400, 0.822), (4500, 0.822), (5300, 0.25),
             (6000, 0.25)]
    return Case("deadlift", t, from_knots(t, knots), [(1000, 2000, 2800)], ignored=["set-down"])


def _dl_set_down_regrip() -> Case:
    # after the last lockout the bar goes down and the hands come up 0.1 (re-grip, standing half up):
    # the set-down belongs to the last rep, it is no partial pull
    t = uniform_t(6500)
    knots = [(0, 0.8), (1000, 0.8), (2000, 0.25), (2800, 0.8), (3800, 0.8), (4800, 0.25), (5400, 0.25),
             (5900, 0.35), (6500, 0.35)]
    return Case("deadlift", t, from_knots(t, knots), [(1000, 2000, 2800)], ignored=["set-down"])


def _dl_set_down_then_stand_up() -> Case:
    # set-up hinge to the bar, two dead-stop pulls, the final set-down, then the lifter lets go and stands
    # up: the hands rise with the body to where they hung at lockout (as in the synthetic samples). A coach
    # counts 2 (the bar stayed on the floor); the hip and hand heights of the stand-up are those of a pull.
    t = uniform_t(10500)
    knots = [(0, 1.0), (1000, 1.0), (2000, 0.45), (2800, 0.45), (3600, 1.0), (4100, 1.0), (5100, 0.45), (5900, 0.45),
             (6700, 1.0), (7200, 1.0), (8200, 0.45), (8800, 0.45), (9600, 1.0), (10500, 1.0)]
    hips = from_knots(t, knots)
    wrist = from_knots(t, [(k, 0.25 + (v - 0.45) * (0.8 - 0.25) / 0.55) for k, v in knots])
    return Case("deadlift", t, hips, [(1000, 2800, 3600), (4100, 5900, 6700)], ignored=["set-down"], aux=wrist,
                signal="aux")


def _dl_kettlebell_touch() -> Case:
    # a kettlebell touch: a rounded 0.4 s turn at the floor (cosine easing), no rest: bottom = lowest point
    reps = [(1000, 1900, 2700), (3400, 4300, 5100)]
    t = uniform_t(6000)
    knots = [(0, 0.9), (1000, 0.9), (1700, 0.3), (1900, 0.25), (2100, 0.3), (2700, 0.9), (3400, 0.9), (4100, 0.3),
             (4300, 0.25), (4500, 0.3), (5100, 0.9), (6000, 0.9)]
    return Case("deadlift", t, from_knots(t, knots, "cosine"), reps)


def _dl_concentric_only() -> Case:
    # the clip opens part-way up a pull that reaches lockout: it counts
    t = uniform_t(3000)
    knots = [(0, 0.45), (600, 0.8), (3000, 0.8)]
    return Case("deadlift", t, from_knots(t, knots), [(0, 0, 600)])


def _dl_pull_cut() -> Case:
    # the last pull has not reached lockout when the clip ends: partial
    t = uniform_t(6000)
    knots = [(0, 0.8), (1000, 0.8), (2000, 0.25), (2800, 0.8), (3800, 0.8), (4800, 0.25), (5400, 0.25),
             (6000, 0.5)]
    return Case("deadlift", t, from_knots(t, knots), [(1000, 2000, 2800)], partial=["clip end"])


def _dl_wrist_aux() -> Case:
    # RDL: hips barely move (0.08), the hands travel 0.45; the aux (wrist) signal is segmented
    reps = [(500, 1500, 2500), (3000, 4000, 5000), (5500, 6500, 7500)]
    t = uniform_t(8500)
    hips = from_knots(t, rep_knots(reps, depth=0.08, top=1.0))
    wrist = from_knots(t, rep_knots(reps, depth=0.45, top=0.8))
    return Case("deadlift", t, hips, reps, aux=wrist, signal="aux")


def _dl_arms_raised_first() -> Case:
    # the lifter raises both arms overhead (wrist 1.7, above the hips) before the set: that is not a
    # lockout, so neither the count, the standing level nor the first rep's start may follow it
    reps = [(2500, 3500, 4300), (5000, 6000, 6800)]
    t = uniform_t(8000)
    hips = from_knots(t, rep_knots(reps, depth=0.35, top=1.0))
    wrist = from_knots(t, rep_knots(reps, depth=0.65, top=0.9))
    wrist = np.where((t > 300) & (t < 1500), 1.7, wrist)
    return Case("deadlift", t, hips, reps, aux=wrist, signal="aux", ignored=["set-up"],
                live_starts=False)


def _dl_aux_mostly_lost() -> Case:
    reps = [(1000, 2000, 3000), (4000, 5000, 6000)]
    t = uniform_t(7000)
    hips = from_knots(t, rep_knots(reps, depth=0.35))
    wrist = np.full(t.size, np.nan)
    wrist[:10] = 0.8
    return Case("deadlift", t, hips, reps, aux=wrist, signal="primary")


def _squat_ignores_aux() -> Case:
    reps = [(1000, 2000, 3000)]
    t = uniform_t(4000)
    return Case("squat", t, from_knots(t, rep_knots(reps)), reps, aux=np.full(t.size, 0.5), signal="primary")


CASES = {
    "squat-clean": _squat_clean,
    "squat-cosine": _squat_cosine,
    "squat-noisy": _squat_noisy,
    "squat-jitter-at-thresholds": _squat_jitter_at_thresholds,
    "squat-setup-rerack-ignored": _squat_setup_rerack,
    "squat-partial-both-edges": _squat_partial_edges,
    "squat-opens-slightly-down": _squat_opens_slightly_down,
    "squat-pauses": _squat_pauses,
    "squat-vfr": _squat_vfr,
    "squat-short-nan-gaps": _squat_short_gap,
    "squat-long-nan-gap": _squat_long_gap,
    "squat-glitch-too-short": _squat_too_short,
    "deadlift-touch-and-go": _dl_touch_and_go,
    "deadlift-dead-stop": _dl_dead_stop,
    "deadlift-set-at-bar": _dl_set_at_bar,
    "deadlift-set-at-bar-regrip-glitch": _dl_set_at_bar_with_regrip,
    "deadlift-lockout-creep": _dl_lockout_creep,
    "deadlift-kettlebell-touch": _dl_kettlebell_touch,
    "deadlift-set-down-regrip": _dl_set_down_regrip,
    "deadlift-set-down-then-stand-up": _dl_set_down_then_stand_up,
    "deadlift-concentric-only": _dl_concentric_only,
    "deadlift-pull-cut-by-clip-end": _dl_pull_cut,
    "deadlift-wrist-aux": _dl_wrist_aux,
    "deadlift-arms-raised-first": _dl_arms_raised_first,
    "deadlift-aux-mostly-lost": _dl_aux_mostly_lost,
    "squat-ignores-aux": _squat_ignores_aux,
}


def _case(name: str) -> Case:
    return CASES[name]()


# Known defect, kept visible (strict: the run fails as soon as it is fixed, so the mark gets removed).
KNOWN_COUNT_DEFECTS = {
    "deadlift-set-down-then-stand-up": "standing up after letting go of the bar moves hips and hands exactly like "
                                       "a pull; only the bar, which landmarks do not show, tells them apart",
}


def _offline_params() -> list:
    return [pytest.param(n, id=n, marks=pytest.mark.xfail(strict=True, reason=KNOWN_COUNT_DEFECTS[n]))
            if n in KNOWN_COUNT_DEFECTS else pytest.param(n, id=n) for n in CASES]


@pytest.mark.parametrize("name", _offline_params())
def test_offline_boundaries(name):
    c = _case(name)
    seg = segment_reps(c.t, c.x, c.lift, aux_signal=c.aux)
    got = [(r.start_ms, r.bottom_ms, r.end_ms) for r in seg.reps]
    assert seg.count == len(c.reps), got
    for g, w in zip(got, c.reps):
        assert np.allclose(g, w, atol=c.tol_ms), (g, w)
    assert [s.reason for s in seg.partial_reps] == c.partial
    assert [s.reason for s in seg.ignored] == c.ignored
    assert seg.signal == c.signal


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_live_matches_offline(name):
    c = _case(name)
    seg = segment_reps(c.t, c.x, c.lift, aux_signal=c.aux)
    x = bar_height(c.x, c.aux) if seg.signal == "aux" else c.x
    counter = LiveRepCounter(c.lift)
    events: list[RepEvent] = []
    for ti, xi in zip(c.t, x):
        e = counter.update(ti, xi)
        if e is not None:
            assert e.end_ms <= ti
            events.append(e)
    events.extend(counter.finish())
    assert [e.index for e in events] == list(range(seg.count))
    assert counter.count == seg.count
    for e, r in zip(events, seg.reps):
        assert np.allclose([e.bottom_ms, e.end_ms], [r.bottom_ms, r.end_ms], atol=100.0)
        if c.live_starts or e.index > 0:
            assert e.start_ms == pytest.approx(r.start_ms, abs=100.0)


@pytest.mark.parametrize(
    "name, lift, phase_names",
    [("squat-clean", "squat", SQUAT_PHASES), ("deadlift-dead-stop", "deadlift", DEADLIFT_PHASES)],
    ids=["squat", "deadlift"],
)
def test_phases_tile_the_rep(name, lift, phase_names):
    seg = segment_reps(_case(name).t, _case(name).x, lift)
    for r in seg.reps:
        assert tuple(p.name for p in r.phases) == phase_names
        assert r.phases[0].start_ms == r.start_ms
        inside = [p for p in r.phases if p.name != "lockout"]
        assert inside[-1].end_ms == r.end_ms
        assert sum(p.duration_ms for p in inside) == pytest.approx(r.duration_ms)
        assert set(r.tempo_ms) == set(phase_names)


P = RepParams.packaged()
SETTLE, BAND = P.settle_frac, P.bottom_band_frac


@pytest.mark.parametrize(
    "name, phase, want_ms",
    [
        ("squat-pauses", "bottom", 800.0 + 2 * BAND * 1000.0),
        ("squat-clean", "descent", 1000.0 * (1 - SETTLE - BAND)),
        ("squat-clean", "bottom", 2 * BAND * 1000.0),
        ("deadlift-dead-stop", "floor", 1000.0 + 2 * BAND * 800.0),
        ("deadlift-dead-stop", "pull", 800.0 * (1 - BAND - SETTLE)),
        ("deadlift-touch-and-go", "floor", BAND * 1000.0),
        ("deadlift-touch-and-go", "pull", 800.0 * (1 - SETTLE)),
        ("deadlift-set-at-bar", "floor", 2000.0 + BAND * 800.0),
        ("deadlift-set-at-bar", "lockout", 800.0 + 2 * SETTLE * 800.0),
    ],
    ids=["squat-pause-bottom", "squat-descent", "squat-touch-bottom", "dl-dead-stop-floor", "dl-pull",
         "dl-touch-and-go-floor", "dl-touch-and-go-pull", "dl-set-at-bar-floor", "dl-lockout-hold"],
)
def test_tempo(name, phase, want_ms):
    """Linear ramps: the bottom band and the settle band move phase boundaries by known fractions of a ramp.

    Dead stops end their floor phase at the pull (the last moment in the band), touch-and-go reps at the touch.
    """
    c = _case(name)
    seg = segment_reps(c.t, c.x, c.lift, aux_signal=c.aux)
    assert seg.reps
    assert seg.reps[0].tempo_ms[phase] == pytest.approx(want_ms, abs=70.0)


@pytest.mark.parametrize(
    "depth, want",
    [(0.10, 0), (0.14, 0), (0.20, 1), (0.50, 1)],
    ids=["0.10-shallow", "0.14-shallow", "0.20-counted", "0.50-counted"],
)
def test_min_rom(depth, want):
    t = uniform_t(4000)
    x = from_knots(t, rep_knots([(1000, 2000, 3000)], depth=depth))
    seg = segment_reps(t, x, "squat")
    assert seg.count == want
    if want == 0:
        assert [s.reason for s in seg.ignored] == ["too shallow"]


@pytest.mark.parametrize(
    "hip, wrist, want",
    [(1.0, 0.8, 0.8), (1.0, 1.7, 1.0), (0.6, 0.3, 0.3), (np.nan, 0.5, 0.5), (1.0, np.nan, np.nan)],
    ids=["lockout", "arms-overhead-capped", "floor", "hip-lost", "wrist-lost"],
)
def test_bar_height(hip, wrist, want):
    got = float(bar_height(hip, wrist))
    assert (np.isnan(got) and np.isnan(want)) or got == want


@pytest.mark.parametrize(
    "values, tops, want",
    [
        (np.r_[np.full(90, 1.0), np.full(10, 0.5)], [], 1.0),
        (np.r_[np.full(20, 1.7), np.full(80, 1.0)], [1.7, 1.0, 1.0, 1.0], 1.0),
        (np.r_[np.full(20, 1.7), np.full(80, 1.0)], [], 1.7),
        (np.r_[np.full(20, 1.7), np.full(80, 1.0)], [0.05, 1.0], 1.7),
        (np.r_[np.full(50, np.nan), np.full(50, 0.9)], [0.95, 0.95, 0.95], 0.9),
        (np.full(10, np.nan), [1.0], np.nan),
    ],
    ids=["percentile", "tops-median-lowers", "no-tops", "two-tops-not-enough", "nan-ignored", "all-nan"],
)
def test_standing_level(values, tops, want):
    got = standing_level(values, 95.0, tops)
    assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want)


def test_standing_ignores_clip_edges():
    """A looped clip cut mid-rep at both ends: its first and last frames (0.65) are not tops the lifter stood at.

    Counting them would put the standing level at the median of [0.65, 1.0, 1.0, 0.65] and every depth 0.175 short.
    """
    t = uniform_t(6000)
    knots = [(0, 0.65), (800, 0.4), (2000, 1.0), (3000, 1.0), (4000, 0.4), (5000, 1.0), (5200, 1.0), (5800, 0.4),
             (6000, 0.65)]
    seg = segment_reps(t, from_knots(t, knots), "squat")
    assert seg.standing_norm == pytest.approx(1.0, abs=0.01)
    assert [r.depth_norm for r in seg.reps] == pytest.approx([0.6], abs=0.03)
    assert [s.reason for s in seg.partial_reps] == ["clip start", "clip end"]


def test_live_phase_sequence():
    c = _case("squat-pauses")
    counter = LiveRepCounter("squat")
    seen: list[str] = []
    for ti, xi in zip(c.t, c.x):
        counter.update(ti, xi)
        if not seen or seen[-1] != counter.phase:
            seen.append(counter.phase)
    assert seen == ["idle", "descent", "bottom", "ascent", "idle", "descent", "bottom", "ascent", "idle"]


def test_live_long_gap_ends_stretch():
    c = _case("squat-long-nan-gap")
    counter = LiveRepCounter("squat")
    events = [e for e in (counter.update(ti, xi) for ti, xi in zip(c.t, c.x)) if e is not None]
    events += counter.finish()
    assert len(events) == 2


def test_nan_only_signal():
    t = uniform_t(2000)
    seg = segment_reps(t, np.full(t.size, np.nan), "squat")
    assert seg.count == 0 and seg.partial_reps == () and seg.ignored == ()
    assert np.isnan(seg.standing_norm)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(t_ms=[0, 1, 2], signal=[1, 1], lift="squat"), "expected shape"),
        (dict(t_ms=[0, 2, 1], signal=[1, 1, 1], lift="squat"), "strictly increasing"),
        (dict(t_ms=[0, np.nan, 2], signal=[1, 1, 1], lift="squat"), "finite timestamps"),
        (dict(t_ms=[0, 1, 2], signal=[1, 1, 1], lift="bench"), "expected one of squat, deadlift"),
        (dict(t_ms=[0, 1, 2], signal=[1, 1, 1], lift="deadlift", aux_signal=[1, 1]), "aux_signal"),
    ],
    ids=["length-mismatch", "non-increasing", "nan-time", "bad-lift", "aux-length"],
)
def test_segment_reps_rejects(kwargs, match):
    with pytest.raises(ValueError, match=match):
        segment_reps(**kwargs)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: replace(RepParams.packaged(), min_rom_norm=0), "min_rom_norm: expected a value > 0, got 0"),
        (lambda: replace(RepParams.packaged(), top_band_frac=1.5), "top_band_frac: expected a fraction in"),
        (lambda: replace(RepParams.packaged(), swing_norm=0.3), "swing_norm: expected <= min_rom_norm"),
        (lambda: replace(RepParams.packaged(), standing_pct=20), "standing_pct: expected a percentile"),
        (lambda: replace(RepParams.packaged(), smooth_ms=-1), "smooth_ms: expected a value >= 0"),
        (lambda: Phase("descent", 10, 5), "expected end_ms >= start_ms"),
        (lambda: Phase("", 0, 5), "expected a non-empty string"),
        (lambda: Rep(0, 10, 5, 20, (), 0.4, 0.4), "start_ms <= bottom_ms <= end_ms"),
        (lambda: Rep(-1, 0, 5, 20, (), 0.4, 0.4), "index: expected an integer >= 0"),
        (lambda: Rep(0, 0, 5, 20, (Phase("a", 0, 10), Phase("b", 5, 20)), 0.4, 0.4), "consecutive phases"),
        (lambda: Span(0, 10, "bored"), "Span.reason: expected one of"),
        (lambda: RepEvent(0, 0, float("nan"), 10, 0.4), "expected a finite number"),
        (lambda: RepSegmentation((), (), (), RepParams.packaged(), "squat", signal="hands"), "signal: expected one of"),
        (lambda: RepSegmentation((Rep(1, 0, 5, 20, (), 0.4, 0.4),), (), (), RepParams.packaged(), "squat"),
         "expected indices"),
        (lambda: LiveRepCounter("bench"), "lift: expected one of"),
    ],
    ids=["params-rom", "params-band", "params-swing", "params-pct", "params-smooth", "phase-order", "phase-name",
         "rep-order", "rep-index", "rep-phase-overlap", "span-reason", "event-nan", "seg-signal", "seg-indices",
         "live-lift"],
)
def test_validation(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_live_rejects_time_going_back():
    counter = LiveRepCounter("squat")
    counter.update(0.0, 1.0)
    with pytest.raises(ValueError, match="strictly increasing"):
        counter.update(0.0, 1.0)


def test_params_are_frozen():
    p = RepParams.packaged()
    with pytest.raises(AttributeError):
        p.min_rom_norm = 0.3  # type: ignore[misc]


@pytest.mark.parametrize("step_ms", [33.3, 250.0, 500.0], ids=["30fps", "4fps", "2fps"])
def test_live_counter_survives_dropped_frames(step_ms: float) -> None:
    """Frames dropped under load (sparse samples, no NaN) must not split or lose reps."""
    from formcheck.reps import LiveRepCounter, segment_reps

    def height(t: np.ndarray) -> np.ndarray:
        # 1 s standing, then 4 reps of 3 s (down to 0.55), then 1.5 s standing
        x = np.ones_like(t)
        m = (t >= 1000) & (t < 13000)
        ph = (t[m] - 1000) / 3000.0
        x[m] = 1.0 - 0.225 * (1 - np.cos(2 * np.pi * ph))
        return x

    dense = np.arange(0.0, 14500.0, 1000.0 / 30.0)
    offline = segment_reps(dense, height(dense), "squat")
    assert offline.count == 4
    counter = LiveRepCounter("squat")
    sparse = np.arange(0.0, 14500.0, step_ms)
    events = [e for t, v in zip(sparse, height(sparse)) if (e := counter.update(float(t), float(v))) is not None]
    events += list(counter.finish())
    assert len(events) == offline.count


# --------------------------------------------------------------------------- edits, mid-pull openings
# Offline-only rules (a live stream is never edited and opens standing), found by tests/test_rep_stress.py.


def _edit_cut() -> tuple[str, np.ndarray, np.ndarray, np.ndarray | None, int, list[str]]:
    # a full rep, then a rep held at the bottom until an edit cuts to the lifter standing (one frame), a full rep
    t = uniform_t(11000)
    knots = [(0, 1.0), (1000, 1.0), (2000, 0.5), (3000, 1.0), (4000, 1.0), (5000, 0.5), (6500, 0.5), (6533, 1.0),
             (7500, 1.0), (8500, 0.5), (9500, 1.0), (11000, 1.0)]
    return "squat", t, from_knots(t, knots), None, 2, ["gap"]


def _dl_opens_mid_pull() -> tuple[str, np.ndarray, np.ndarray, np.ndarray | None, int, list[str]]:
    # opens 55 % of the way up a pull (hands 0.55 of 0.25..0.8), then two full pulls: the fragment is partial.
    # (It opened at 65 % until min_pull_norm: a visible rise of 0.19 is no longer a pull even without this rule;
    # 0.25 still is, so the rule is what makes it partial.)
    t = uniform_t(9000)
    wk = [(0, 0.55), (300, 0.8), (1300, 0.8), (2300, 0.25), (3000, 0.25), (3800, 0.8), (4800, 0.8), (5800, 0.25),
          (6500, 0.25), (7300, 0.8), (8000, 0.8), (9000, 0.8)]
    wrist = from_knots(t, wk)
    hips = from_knots(t, [(k, 0.55 + (v - 0.25) * 0.45 / 0.55) for k, v in wk])
    return "deadlift", t, hips, wrist, 2, ["clip start"]


def _hidden_bottoms() -> tuple[str, np.ndarray, np.ndarray, np.ndarray | None, int, list[str]]:
    # three reps (1.0 -> 0.5); the lifter is lost 600 ms around the first two bottoms (low on both sides: counted)
    # and 600 ms around the third rep's end (standing on one side: the gap may hide the lockout, partial)
    reps = [(1000, 2000, 3000), (4000, 5000, 6000), (7000, 8000, 9000)]
    t = uniform_t(10000)
    x = from_knots(t, rep_knots(reps))
    for a in (1700, 4700, 8500):
        x[(t > a) & (t < a + 600)] = np.nan
    return "squat", t, x, None, 2, ["gap"]


def _edit_across_fade() -> tuple[str, np.ndarray, np.ndarray, np.ndarray | None, int, list[str]]:
    # a full rep; the next descent is cut at 0.55 by a fade (two frames without the lifter) to the lifter standing
    # in the next shot: 0.45 in 100 ms, and the signal falling fast before it; then a full rep. The cut one is partial
    t = uniform_t(9000)
    knots = [(0, 1.0), (1000, 1.0), (2000, 0.5), (3000, 1.0), (4000, 1.0), (4700, 0.55), (4701, 1.0), (5800, 1.0),
             (6800, 0.5), (7800, 1.0), (9000, 1.0)]
    x = from_knots(t, knots)
    x[(t > 4710) & (t < 4790)] = np.nan
    return "squat", t, x, None, 2, ["gap"]


OFFLINE_ONLY = {"squat-edit-cut": _edit_cut, "deadlift-opens-mid-pull": _dl_opens_mid_pull,
                "squat-hidden-bottoms": _hidden_bottoms, "squat-edit-across-fade": _edit_across_fade}


@pytest.mark.parametrize("name", list(OFFLINE_ONLY), ids=list(OFFLINE_ONLY))
def test_offline_only_rules(name):
    lift, t, x, aux, want, partial = OFFLINE_ONLY[name]()
    seg = segment_reps(t, x, lift, aux_signal=aux)
    assert seg.count == want, [(r.start_ms, r.end_ms) for r in seg.reps]
    assert [s.reason for s in seg.partial_reps] == partial


@pytest.mark.parametrize(
    "change, want",
    [(dict(cut_jump_norm=99.0), 3), (dict(pull_open_frac=0.99), 3), (dict(max_hidden_bottom_ms=400.0), 0),
     (dict(cut_speed_norm_s=5.0), 3)],
    ids=["no-edit-split-counts-the-cut-rep", "no-mid-pull-rule-counts-the-fragment",
         "no-hidden-bottom-bridge-loses-both-reps", "slower-edit-speed-counts-the-faded-rep"],
)
def test_offline_only_rules_each_matter(change, want):
    name = {"cut_jump_norm": "squat-edit-cut", "pull_open_frac": "deadlift-opens-mid-pull",
            "max_hidden_bottom_ms": "squat-hidden-bottoms",
            "cut_speed_norm_s": "squat-edit-across-fade"}[next(iter(change))]
    lift, t, x, aux, _, _ = OFFLINE_ONLY[name]()
    seg = segment_reps(t, x, lift, replace(RepParams.packaged(), **change), aux_signal=aux)
    assert seg.count == want


# --------------------------------------------------------------------------- the lifter's size (scale_signal)
# Walking toward or away from the camera scales the whole figure, so a height divided by one leg length for the
# whole clip dips like a rep; divided by the lifter's size in the picture it stays put (stress family none-walking).


def _walk_away_and_back() -> tuple[str, np.ndarray, np.ndarray, np.ndarray, int]:
    # standing all along; the lifter walks away (size 1 -> 0.7) and back: the height follows the size
    t = uniform_t(8000)
    size = from_knots(t, [(0, 1.0), (1500, 1.0), (3500, 0.7), (4500, 0.7), (6500, 1.0), (8000, 1.0)])
    return "squat", t, 1.0 * size, size, 0


def _quarter_squat_front() -> tuple[str, np.ndarray, np.ndarray, np.ndarray, int]:
    # two quarter squats (1.0 -> 0.78) seen from the front: the shanks tilt toward the camera at the bottom and
    # look 10 % shorter; most of the fall is left once divided by that size
    reps = [(1000, 2000, 3000), (4000, 5000, 6000)]
    t = uniform_t(7000)
    x = from_knots(t, rep_knots(reps, depth=0.78))
    size = 1.0 - 0.1 * (1.0 - x) / 0.22
    return "squat", t, x, size, 2


def _dl_walk_away_then_pulls() -> tuple[str, np.ndarray, np.ndarray, np.ndarray, int]:
    # walks away from the camera and back to the bar (hands shrink with the size to 0.7), then two pulls:
    # only the pulls count
    t = uniform_t(12000)
    size = from_knots(t, [(0, 1.0), (500, 1.0), (2000, 0.7), (2500, 0.7), (4000, 1.0), (12000, 1.0)])
    wk = [(0, 0.8), (5000, 0.8), (6000, 0.25), (6800, 0.25), (7600, 0.8), (8400, 0.8), (9200, 0.25), (9800, 0.25),
          (10600, 0.8), (12000, 0.8)]
    wrist = from_knots(t, wk) * size
    return "deadlift", t, wrist, size, 2


def _shallow_side_squat_dropped_frames() -> tuple[str, np.ndarray, np.ndarray, np.ndarray, int]:
    # two shallow squats (1.0 -> 0.8) seen from the side with the live (lite) model, frames dropped as under load
    # (a quarter of them, at random): the shank measures 12 % shorter at the bottom, as on the bundled sample's
    # shallow rep, so a bit under half the fall is left once divided by that size (1 - 0.8 / 0.88 = 0.09 of 0.2)
    reps = [(1000, 2200, 3400), (4400, 5600, 6800)]
    t = uniform_t(7800)
    t = t[np.random.default_rng(5).random(t.size) >= 0.25]
    x = from_knots(t, rep_knots(reps, depth=0.2))
    size = 1.0 - 0.12 * (1.0 - x) / 0.2
    return "squat", t, x, size, 2


SIZE_CASES = {"squat-walk-away-and-back": _walk_away_and_back, "squat-quarter-from-front": _quarter_squat_front,
              "squat-shallow-side-dropped-frames": _shallow_side_squat_dropped_frames,
              "deadlift-walk-in-pulls-walk-off": _dl_walk_away_then_pulls}


@pytest.mark.parametrize("name", list(SIZE_CASES), ids=list(SIZE_CASES))
def test_size_change_is_not_a_rep(name):
    lift, t, x, size, want = SIZE_CASES[name]()
    seg = segment_reps(t, x, lift, aux_signal=x if lift == "deadlift" else None, scale_signal=size)
    assert seg.count == want, [(r.start_ms, r.end_ms) for r in seg.reps]


@pytest.mark.parametrize("name, without", [("squat-walk-away-and-back", 1), ("deadlift-walk-in-pulls-walk-off", 3)],
                         ids=["walk-counted-without-size", "walk-off-counted-without-size"])
def test_size_signal_matters(name, without):
    lift, t, x, _, _ = SIZE_CASES[name]()
    assert segment_reps(t, x, lift, aux_signal=x if lift == "deadlift" else None).count == without


def test_scale_signal_shape_checked():
    t = uniform_t(1000)
    with pytest.raises(ValueError, match="scale_signal: expected shape"):
        segment_reps(t, np.ones_like(t), "squat", scale_signal=np.ones(3))


# --------------------------------------------------------------------------- a deadlift's shortest pull (min_pull_norm)


def _dl_bent_over_shifting() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    # never stands up: bent over the bar, the hands shift between 0.25 (floor) and 0.42 while re-gripping, and the
    # hips between 0.55 and 0.65 (stress family deadlift-bent-over-no-pull)
    t = uniform_t(8000)
    wk = [(0, 0.25), (1000, 0.25), (2000, 0.42), (3000, 0.42), (4000, 0.25), (5000, 0.25), (6000, 0.4), (8000, 0.4)]
    wrist = from_knots(t, wk)
    hips = from_knots(t, [(k, 0.55 + (v - 0.25) * 0.1 / 0.17) for k, v in wk])
    return t, hips, wrist


@pytest.mark.parametrize("min_pull_norm, want", [(None, 0), (0.15, 2)],
                         ids=["bent-over-shift-is-no-pull", "counted-with-the-squat-minimum"])
def test_deadlift_shortest_pull(min_pull_norm, want):
    t, hips, wrist = _dl_bent_over_shifting()
    params = RepParams.packaged() if min_pull_norm is None else replace(RepParams.packaged(), min_pull_norm=min_pull_norm)
    assert segment_reps(t, hips, "deadlift", params, aux_signal=wrist).count == want
