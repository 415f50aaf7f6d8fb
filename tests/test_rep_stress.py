"""Clip-structure stress suite for rep counting (landmark level, synthetic, exact truth).

Each case comes from :mod:`tests.support.stress_clips`: a lifter, a script (clips opening mid-descent,
ending mid-lowering, lockouts held for seconds, walk-ins, plates loaded, ...), a camera that may pan,
zoom and shake, 20-60 fps or a variable frame rate, and MediaPipe-like noise, swaps and dropouts. The
sequence goes through the product's own path from a pose sequence to reps
(:func:`formcheck.analysis.segment_signals` on :func:`formcheck.metrics.rep_height_signals`, as
:func:`formcheck.analysis.analyze_sequence` does), then, for a deadlift, the clip pipeline's image bar check:
each counted rep gets a simulated check drawn at the check's measured rates for what the bar really did in
that rise (:data:`BAR_CHECK_DROPS`), and the product's own code drops the vetoed reps (:func:`product_count`).
The lift is given; a subset also goes through the product's lift recognition first. Targets (issue 10):
>= 98 % exact counts over the suite, 0 reps on every rep-free sequence. The rate is checked with and without
the families only the image's bar check can settle (:data:`NEEDS_BAR_CHECK`); both figures are printed.

Run one family: ``pytest tests/test_rep_stress.py -k squat-starts-mid-descent``. The per-family table:
``python -m tests.test_rep_stress`` (``--analysis-fps 15``: on the frames a pose pass at that rate analyses; ``--stride 2``: with the
adaptive stride of :mod:`formcheck.stride`).
"""

from __future__ import annotations

import math
import sys
import zlib
from collections import defaultdict
from dataclasses import replace
from functools import lru_cache

import numpy as np
import pytest

from formcheck.analysis import _movement_cycles, drop_not_reps, segment_signals
from formcheck.barcheck import BarCheck, has_before_frame, vetoed_spans
from formcheck.cleaning import clean
from formcheck.metrics import compute_frame_metrics, rep_height_signals, rep_scale_signal
from formcheck.pose import PoseParams, thin_to_cap
from formcheck.sequence import PoseSequence
from formcheck.views import classify_view, recognize_lift_by_reps
from tests.support.stress_clips import FAMILIES, REP_FREE, SEEDS_PER_FAMILY, StressCase, all_cases, make_case

_NO_BAR = ("standing up after letting go of the bar (or bending to it without taking it) moves hips and hands like "
           "a pull: only the picture tells them apart, and the clip pipeline's bar check (simulated here at its "
           "measured rates, BAR_CHECK_DROPS) drops")
#: Cases that miss and could not be fixed yet: family -> (reason with the family's measured rate, seeds).
#: Strict xfail: a case that starts passing fails the run, so its mark gets removed.
KNOWN_FAILING: dict[str, tuple[str, tuple[int, ...]]] = {
    "deadlift-set-down-stand-up": (f"9/18 exact: {_NO_BAR} 16 of 29 rendered stand-ups",
                                   (1, 6, 9, 10, 11, 12, 13, 14, 17)),
    "deadlift-walk-in-walk-off": (f"11/18 exact (the stand-up before the walk-off): {_NO_BAR} 16 of 29 rendered "
                                  "stand-ups", (4, 5, 6, 10, 14, 15, 17)),
    "deadlift-load-plates-first": (f"9/18 exact: {_NO_BAR} 4 of 12 rendered bends (the spot alike before the "
                                   "bend, at the floor and after it; from a camera at 1.5 m or at 45 degrees the "
                                   "hands hide the bar at the floor moment), and 1 of 6 rendered pulls right "
                                   "after bends", (0, 1, 2, 3, 7, 12, 13, 14, 17)),
    "squat-camera-pan-zoom-shake": ("15/18 exact: a zoom changes the standing height against the clip's one leg "
                                    "length, so a rep's top or bottom is misjudged (dividing by the lifter's size "
                                    "fixed them on these landmarks but broke the MediaPipe renders: "
                                    "docs/accuracy.md)", (7, 11, 15)),
    "squat-walk-in-walk-off": ("17/18 exact: walking off toward the camera makes the lifter larger at the end, "
                               "which lifts the standing level (one leg length for the whole clip) so far above "
                               "the set's tops that the rep never reads as back up", (11,)),
}
#: Families whose misses only the image can settle (the clip pipeline's bar check): the suite's rate is
#: reported with and without them, never silently without.
NEEDS_BAR_CHECK = ("deadlift-set-down-stand-up", "deadlift-walk-in-walk-off", "deadlift-load-plates-first")
#: Every this-many-th seed of each family also goes through lift recognition (the slower path).
AUTO_LIFT_EVERY = 6
#: The same for lift recognition then counting (the lift is recognised right on all of them): the seeds
#: (0, 6, 12) of KNOWN_FAILING that go through it.
KNOWN_FAILING_AUTO: dict[str, tuple[str, tuple[int, ...]]] = {
    f: (reason, tuple(x for x in seeds if x % AUTO_LIFT_EVERY == 0))
    for f, (reason, seeds) in KNOWN_FAILING.items() if any(x % AUTO_LIFT_EVERY == 0 for x in seeds)
}

TARGET_EXACT = 0.98


@lru_cache(maxsize=None)
def _case(family: str, seed: int) -> StressCase:
    return make_case(family, seed)


def _at_rate(seq: PoseSequence, cap: float | None, stride: int = 1) -> PoseSequence:
    """The rows a pose pass capped at ``cap`` frames a second would analyse (None: all of them), with the
    adaptive stride's gate at ``max_stride = stride`` over them (1: off; the packaged ``stride_*`` values)."""
    pp = PoseParams.packaged()
    gate = replace(pp.stride, max_stride=stride) if stride > 1 else None
    return thin_to_cap(seq, None, seq.fps_est, cap, pp.max_frame_step, stride=gate)[0]


#: The clip pipeline's image bar check (formcheck/barcheck.py), MEASURED: (rises it dropped as "bar stayed",
#: rises checked) by what the rise really was (``Cycle.bar`` of tests.support.stress_clips: "carried" = a pull,
#: "left down" = the stand-up after the set-down, "never held" = bending to the bar and back up without it)
#: and by the frame from where the rep's lowering began, which the check compares with: the lifter held
#: the bar there if the rise before was a pull, else it lay on the floor; ", first rep" for the first counted
#: rep (formcheck.barcheck.has_before_frame: the stand-up rule is not applied to it). Command (renders of
#: tools/synth with a loaded bar: the 20 deadlifts of the view grid and 6 clips opening with two bends to the
#: bar, the 3 bundled deadlift samples, and every deadlift of the 73 real clips' `formcheck eval` output);
#: figures in docs/accuracy.md "What the bar check drops (measured)":
#:   nice python benchmarks/barcheck_rates.py --renders DIR --samples sample_videos \
#:       --render-bends DIR2 --real-eval <formcheck eval --out DIR>/eval.json
#: A kind not measured (a stand-up as the first counted rep) keeps the rise.
BAR_CHECK_DROPS: dict[tuple[str, str], tuple[int, int]] = {
    ("carried", "bar in hand"): (0, 100),  # real 0/94, rendered 0/6
    ("carried", "bar on the floor, first rep"): (0, 55),  # real 0/32, rendered 0/23
    ("carried", "bar on the floor"): (1, 6),  # the pull after bends, rendered: the stand-up rule dropped one
    ("left down", "bar in hand"): (16, 29),  # rendered only: no real clip has a stand-up after the set-down
    ("never held", "bar on the floor, first rep"): (2, 6),  # rendered: the spot alike before, at the floor, after
    ("never held", "bar on the floor"): (2, 6),  # rendered, the second bend of each clip
}
#: A candidate rep is the rise of the truth that lifts off after the rep's start and tops out between this
#: long before its floor moment and this long after its lockout (ms); none: it carried the bar.
_MATCH_MS = 600.0


def _before_frame(c: StressCase, rep) -> str:  # noqa: ANN001 - a formcheck.reps.Rep
    """The frame the pipeline compares rep ``rep`` with, where its lowering began: "bar in hand" (the rise
    before it carried the bar) or "bar on the floor" (nothing lifted before it, or a rise without the bar),
    with ", first rep" for the first counted rep (the check then does not apply its stand-up rule,
    formcheck.barcheck.has_before_frame)."""
    earlier = [(top, bar) for _, top, bar in c.rises_ms if top <= rep.start_ms + _MATCH_MS]
    state = "bar in hand" if earlier and max(earlier)[1] == "carried" else "bar on the floor"
    return state if has_before_frame(rep.index) else f"{state}, first rep"


def simulated_bar_check(c: StressCase, rep) -> BarCheck:  # noqa: ANN001 - a formcheck.reps.Rep
    """What the pipeline's bar check would say on ``rep`` of case ``c``: "bar stayed" drawn at the measured
    rate of :data:`BAR_CHECK_DROPS` for what the rise was and the frame it is compared with (seeded by the case
    and the rep: the same every run), else "unsure" (kept)."""
    kind = next((bar for lift_off, top, bar in c.rises_ms
                 if rep.start_ms <= lift_off and rep.bottom_ms - _MATCH_MS <= top <= rep.end_ms + _MATCH_MS
                 and bar != "carried"), "carried")
    before = _before_frame(c, rep)
    dropped, checked = BAR_CHECK_DROPS.get((kind, before), (0, 1))
    u = np.random.default_rng([zlib.crc32(c.case_id.encode()), rep.index]).random()
    nan = math.nan
    why = f"simulated: {kind}, before frame {before}, measured {dropped}/{checked} dropped"
    return BarCheck("bar stayed" if u < dropped / checked else "unsure", nan, nan, nan, nan, why)


def product_count(c: StressCase, lift: str, cap: float | None = None, stride: int = 1) -> int:
    """The count the clip pipeline gives: the reps of :func:`formcheck.analysis.segment_signals`, then, for a
    deadlift, the bar check's drops through the product's own code (:func:`formcheck.barcheck.vetoed_spans`,
    :func:`formcheck.analysis.drop_not_reps`), each check simulated by :func:`simulated_bar_check`; ``cap``: on
    the frames a pose pass at that rate analyses (None: every frame); ``stride``: with the adaptive stride."""
    seq = _at_rate(c.seq, cap, stride)
    hip_h, wrist_h = rep_height_signals(seq)
    seg = segment_signals(seq.t_ms, hip_h, wrist_h, lift, rep_scale_signal(seq))
    if lift == "deadlift":
        seg = drop_not_reps(seg, vetoed_spans([(rep, simulated_bar_check(c, rep)) for rep in seg.reps]))
    return seg.count


@lru_cache(maxsize=None)
def _count(family: str, seed: int, cap: float | None = None, stride: int = 1) -> int:
    c = _case(family, seed)
    return product_count(c, c.lift, cap, stride)


def _params():
    out = []
    for family, seed in all_cases():
        reason, seeds = KNOWN_FAILING.get(family, ("", ()))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if seed in seeds else []
        out.append(pytest.param(family, seed, id=f"{family}-seed{seed:02d}", marks=marks))
    return out


@pytest.mark.parametrize("family,seed", _params())
def test_exact_count(family: str, seed: int) -> None:
    c = _case(family, seed)
    got = _count(family, seed)
    assert got == c.reps, (f"{c.case_id} ({c.lift}, {c.seq.n_frames} frames): counted {got}, truth {c.reps} "
                           f"(reps at {c.rep_spans_ms} ms, "
                           f"partial at {c.partial_spans_ms} ms)")


def _auto_params():
    out = []
    for family, seed in all_cases():
        if seed % AUTO_LIFT_EVERY or family in REP_FREE:
            continue
        reason, seeds = KNOWN_FAILING_AUTO.get(family, ("", ()))
        marks = [pytest.mark.xfail(strict=True, reason=reason)] if seed in seeds else []
        out.append(pytest.param(family, seed, id=f"auto-{family}-seed{seed:02d}", marks=marks))
    return out


@pytest.mark.parametrize("family,seed", _auto_params())
def test_exact_count_with_lift_recognition(family: str, seed: int) -> None:
    """The lift recognised from the movement, then counted: the same count as with the lift given."""
    c = _case(family, seed)
    seq = clean(c.seq)
    hip_h, wrist_h = rep_height_signals(c.seq)
    metrics = compute_frame_metrics(seq, classify_view(seq))
    guess = recognize_lift_by_reps(seq, metrics, _movement_cycles(c.seq.t_ms, hip_h))
    assert guess.lift == c.lift, f"{c.case_id}: recognised a {guess.lift} ({guess.reason})"
    assert product_count(c, guess.lift) == c.reps


@pytest.mark.parametrize("rates,extra", [
    pytest.param({("left down", "bar in hand"): (1, 1)}, 0, id="check-drops-every-stand-up"),
    pytest.param({("left down", "bar in hand"): (0, 1)}, 1, id="check-drops-none"),
    pytest.param({("left down", "bar in hand"): (1, 1), ("carried", "bar in hand"): (1, 1)}, None,
                 id="check-drops-pulls-too"),
])
@pytest.mark.parametrize("seed", [0, 2, 5])
def test_bar_check_decision_reaches_the_count(monkeypatch, rates, extra, seed) -> None:  # noqa: ANN001
    """The simulated checks go through the product's drop path: a stand-up dropped is one rep fewer, a pull
    dropped too loses the reps after the first (the first's lowering began with the bar on the floor, a
    rate the override leaves out: kept)."""
    monkeypatch.setattr(sys.modules[__name__], "BAR_CHECK_DROPS", rates)
    c = _case("deadlift-set-down-stand-up", seed)
    want = 1 if extra is None else c.reps + extra
    assert product_count(c, "deadlift") == want


def family_table(cap: float | None = None, stride: int = 1) -> dict[str, tuple[int, int, int]]:
    """family -> (exact, cases, over-counted) over the whole suite (``cap``: at that analysis frame rate;
    ``stride``: with the adaptive stride at that ``max_stride``)."""
    tab: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for family, seed in all_cases():
        got, want = _count(family, seed, cap, stride), _case(family, seed).reps
        row = tab[family]
        row[0] += got == want
        row[1] += 1
        row[2] += got > want
    return {k: (v[0], v[1], v[2]) for k, v in tab.items()}


def test_suite_size_and_ids() -> None:
    cases = all_cases()
    assert len(cases) >= 500
    assert len({f"{f}-seed{s:02d}" for f, s in cases}) == len(cases)
    assert len(FAMILIES) * SEEDS_PER_FAMILY == len(cases)


def _rate(tab: dict[str, tuple[int, int, int]], families) -> tuple[int, int]:
    rows = [tab[f] for f in families]
    return sum(r[0] for r in rows), sum(r[1] for r in rows)


def test_aggregate_exact_rate_at_landmark_level() -> None:
    """>= 98 % exact over every family a landmark sequence can settle (all but :data:`NEEDS_BAR_CHECK`)."""
    tab = family_table()
    exact, total = _rate(tab, [f for f in tab if f not in NEEDS_BAR_CHECK])
    assert exact / total >= TARGET_EXACT, f"exact on {exact}/{total} = {exact / total:.1%}"


@pytest.mark.xfail(strict=True, reason="measured 583/612 = 95.3% exact over the whole suite with the bar check "
                                       "simulated at its measured rates (target 98%): the 3 families of "
                                       "NEEDS_BAR_CHECK are 29/54")
def test_aggregate_exact_rate() -> None:
    """>= 98 % exact over the whole suite, counted as the clip pipeline counts (the bar check simulated)."""
    tab = family_table()
    exact, total = _rate(tab, tab)
    assert exact / total >= TARGET_EXACT, f"exact on {exact}/{total} = {exact / total:.1%}"


def test_no_rep_on_rep_free_sequences() -> None:
    tab = family_table()
    for fam in REP_FREE:
        assert tab[fam][0] == tab[fam][1], f"{fam}: reps counted on {tab[fam][1] - tab[fam][0]} rep-free sequences"


@pytest.mark.parametrize("stride", sorted({PoseParams.packaged().max_stride, 2}),
                         ids=lambda k: f"max_stride-{k}")
def test_counts_at_the_analysis_frame_rate(stride: int) -> None:
    """The suite on the frames the pose pass analyses by default (``[pose]`` of ``calibration.toml``):
    no case counted right from every frame is lost, and the issue's targets are still met. (With
    ``analysis_fps = 15, max_frame_step = 2``, the 30 fps cases at 15: 519/522 against 518/522 from every
    frame; ``python -m tests.test_rep_stress --analysis-fps 15``.)"""
    rate = PoseParams.packaged().analysis_fps
    at = f"at {rate:g} fps, max_stride {stride}"
    lost = {(f, s) for f, s in all_cases()
            if _count(f, s) == _case(f, s).reps and _count(f, s, rate, stride) != _case(f, s).reps}
    assert not lost, f"{at}, lost against every frame: {sorted(lost)}"
    tab = family_table(rate, stride)
    exact, total = _rate(tab, [f for f in tab if f not in NEEDS_BAR_CHECK])
    assert exact / total >= TARGET_EXACT, f"{at}: exact on {exact}/{total} = {exact / total:.1%}"
    assert all(tab[f][0] == tab[f][1] for f in REP_FREE), f"{at}: reps on a rep-free sequence"


if __name__ == "__main__":
    import argparse

    ap = argparse.ArgumentParser(description="The stress suite's exact-count table per family.")
    ap.add_argument("--analysis-fps", type=float, default=None,
                    help="count on the frames a pose pass capped at this rate would analyse (default: every frame)")
    ap.add_argument("--stride", type=int, default=1,
                    help="with the adaptive stride's gate at this max_stride (calibration.toml [pose]; 1: off)")
    args = ap.parse_args()
    rows = family_table(args.analysis_fps, args.stride)
    ex = sum(v[0] for v in rows.values())
    n = sum(v[1] for v in rows.values())
    print("counted as the clip pipeline counts: deadlift rises dropped by the image bar check, simulated at its "
          "measured rates (BAR_CHECK_DROPS)")
    print(f"{'family':36s} exact  over  under")
    for fam, (e, t, o) in rows.items():
        print(f"{fam:36s} {e:2d}/{t:<2d} {o:5d} {t - e - o:6d}")
    print(f"{'all':36s} {ex}/{n} = {ex / n:.1%}")
    ex2, n2 = _rate(rows, [f for f in rows if f not in NEEDS_BAR_CHECK])
    print(f"{'all but ' + ', '.join(NEEDS_BAR_CHECK)}: {ex2}/{n2} = {ex2 / n2:.1%} (only the picture tells "
          "their extra rises from a pull)")
