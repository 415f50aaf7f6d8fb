"""Charts mark the stretches tracked below the rules' min_quality as "not seen", not as measurements."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from formcheck.report import UNSEEN_LABEL, min_quality_for, plot_angles, unseen_spans
from formcheck.rules import load_rules


@pytest.mark.parametrize(
    "quality, expected",
    [([1, 1, 1, 1, 1], []), ([1, 0.2, 0.3, 1, 1], [(100.0, 300.0)]), ([0.1, 1, 1, 1, 0.4], [(0.0, 100.0), (400.0, 400.0)]),
     ([1, np.nan, 1, 0.5, 0.49], [(100.0, 200.0), (400.0, 400.0)]), ([0, 0, 0, 0, 0], [(0.0, 400.0)])],
    ids=["all-seen", "one-stretch", "both-ends", "nan-is-unseen-threshold-inclusive", "none-seen"],
)
def test_unseen_spans(quality: list[float], expected: list[tuple[float, float]]) -> None:
    t = np.arange(5) * 100.0
    assert unseen_spans(t, quality, 0.5) == expected


def test_unseen_spans_rejects_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="one value per frame"):
        unseen_spans([0.0, 1.0], [1.0], 0.5)


@pytest.mark.parametrize("lift", ["squat", "deadlift"], ids=["squat", "deadlift"])
def test_threshold_is_the_rules_min_quality(lift: str) -> None:
    assert min_quality_for(lift) == load_rules(lift).min_quality
    assert min_quality_for("unknown") == min(load_rules(x).min_quality for x in ("squat", "deadlift"))


def _signals(n: int = 90) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    t = np.arange(n) * 33.3
    q = np.ones(n)
    q[30:45] = 0.1
    return t, {"trunk_deg": 30 + 10 * np.sin(t / 500), "hip_deg": 120 + 20 * np.cos(t / 600),
               "knee_deg": 150 - 30 * np.sin(t / 700), "quality": q}


def test_png_plot_marks_the_unseen_stretch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t, sig = _signals()
    closed = []
    real_close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig=None: (closed.append(fig), real_close(fig)))
    plot_angles(tmp_path / "a.png", t, sig, [], [], min_quality=0.5)
    ax = closed[0].axes[0]
    assert any(UNSEEN_LABEL in x.get_text() for x in ax.get_legend().get_texts())
    solid = [ln for ln in ax.get_lines() if ln.get_linestyle() == "-"]
    dashed = [ln for ln in ax.get_lines() if ln.get_linestyle() == "--"]
    assert len(solid) == 3 and len(dashed) == 3
    for ln in solid:  # no measurement drawn where the joints were not seen
        assert np.isnan(np.asarray(ln.get_ydata(), dtype=float)[30:45]).all()
        assert np.isfinite(np.asarray(ln.get_ydata(), dtype=float)[:30]).all()
    for ln in dashed:
        y = np.asarray(ln.get_ydata(), dtype=float)
        assert np.isfinite(y[29:46]).all() and np.isnan(y[:28]).all()
    assert (tmp_path / "a.png").stat().st_size > 1000


def test_png_plot_without_a_threshold_is_unchanged(tmp_path: Path) -> None:
    t, sig = _signals()
    plot_angles(tmp_path / "b.png", t, sig, [], [])  # no min_quality: plain lines, as before
    assert (tmp_path / "b.png").is_file()


def test_app_chart_marks_the_unseen_stretch() -> None:
    from formcheck.app.results import angle_chart

    t, sig = _signals()
    frames = pd.DataFrame({"frame": np.arange(len(t)), "t_ms": t, "t_s": t / 1000, "rep": 0, **sig})
    spec = angle_chart(frames, [], [], min_quality=0.5).to_dict()
    datasets = spec["datasets"]
    layers = spec["layer"]
    def rows(layer: dict) -> list[dict]:
        return datasets[layer["data"]["name"]]

    band = next(x for x in layers if x["mark"]["type"] == "rect")
    (row,) = rows(band)
    assert (row["start"], row["end"]) == pytest.approx((t[30] / 1000, t[45] / 1000))
    assert UNSEEN_LABEL in row["what"]
    solid = next(x for x in layers if x["mark"]["type"] == "line" and "strokeDash" not in x["mark"])
    seen_t = {r["t_s"] for r in rows(solid)}
    assert not seen_t & set(t[30:45] / 1000), "no measurement plotted where not seen"
    dashed = next(x for x in layers if x["mark"]["type"] == "line" and "strokeDash" in x["mark"])
    assert set(t[30:45] / 1000) <= {r["t_s"] for r in rows(dashed)}
    plain = angle_chart(frames.drop(columns=["quality"]), [], [], min_quality=0.5).to_dict()
    assert not any(x["mark"]["type"] == "rect" for x in plain["layer"]), "no quality column: nothing marked"
