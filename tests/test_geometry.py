"""Exact-value tables for formcheck.geometry."""

from __future__ import annotations

import math

import numpy as np
import pytest

from formcheck import geometry as g

NAN = float("nan")
S3 = math.sqrt(3.0)


def _close(got: np.ndarray, want: float, tol: float = 1e-9) -> bool:
    got = float(np.asarray(got))
    if math.isnan(want):
        return math.isnan(got)
    return abs(got - want) <= tol


@pytest.mark.parametrize(
    "a, b, c, want",
    [
        ((1, 0), (0, 0), (0, 1), 90.0),
        ((-1, 0), (0, 0), (1, 0), 180.0),
        ((2, 0), (0, 0), (5, 0), 0.0),
        ((1, 0), (0, 0), (1, S3), 60.0),
        ((1, 0), (0, 0), (-1, 1), 135.0),
        ((0, 0, 1), (0, 0, 0), (0, 1, 0), 90.0),
        ((1, 1, 1), (0, 0, 0), (-1, -1, -1), 180.0),
        ((0, 0), (0, 0), (1, 0), NAN),
        ((1, 0), (0, 0), (0, 0), NAN),
        ((NAN, 0), (0, 0), (1, 0), NAN),
    ],
    ids=["right-angle", "straight", "folded", "60deg", "135deg", "3d-right", "3d-straight",
         "a-on-vertex", "c-on-vertex", "nan-point"],
)
def test_angle_at(a, b, c, want):
    assert _close(g.angle_at(np.array(a, float), np.array(b, float), np.array(c, float)), want)


@pytest.mark.parametrize(
    "top, bottom, facing, want",
    [
        ((0, 0), (0, 10), +1, 0.0),
        ((10, 0), (0, 10), +1, 45.0),
        ((10, 0), (0, 10), -1, -45.0),
        ((-10, 0), (0, 10), -1, 45.0),
        ((-10, 0), (0, 10), +1, -45.0),
        ((10, 10), (0, 10), +1, 90.0),
        ((0, 20), (0, 10), +1, 180.0),
        ((0, 20), (0, 10), -1, 180.0),
        ((S3, 9), (0, 10), +1, 60.0),
        ((3, 3), (3, 3), +1, NAN),
        ((10, 0), (0, 10), 0, NAN),
        ((10, 0), (0, 10), NAN, NAN),
        ((NAN, 0), (0, 10), +1, NAN),
    ],
    ids=["vertical", "fwd45-right", "back45-right-point-left-facing", "fwd45-left",
         "back45-left", "horizontal", "upside-down", "upside-down-left", "60deg",
         "degenerate", "facing-zero", "facing-nan", "nan-point"],
)
def test_inclination_from_vertical(top, bottom, facing, want):
    got = g.inclination_from_vertical(np.array(top, float), np.array(bottom, float), facing)
    assert _close(got, want)


def test_inclination_rejects_3d():
    with pytest.raises(ValueError, match="expected 2-D"):
        g.inclination_from_vertical(np.zeros(3), np.ones(3), 1)


@pytest.mark.parametrize(
    "p, q, want_v",
    [
        ((0, 0), (0, 5), 0.0),
        ((0, 5), (0, 0), 0.0),
        ((0, 0), (5, 0), 90.0),
        ((0, 0), (4, 4), 45.0),
        ((0, 0), (-4, 4), 45.0),
        ((0, 0), (1, S3), 30.0),
        ((1, 1), (1, 1), NAN),
        ((NAN, 1), (1, 1), NAN),
    ],
    ids=["vertical", "vertical-reversed", "horizontal", "diag", "anti-diag", "30deg", "degenerate", "nan"],
)
def test_line_angles(p, q, want_v):
    p, q = np.array(p, float), np.array(q, float)
    assert _close(g.line_vs_vertical_deg(p, q), want_v)
    assert _close(g.line_vs_horizontal_deg(p, q), NAN if math.isnan(want_v) else 90.0 - want_v)


@pytest.mark.parametrize(
    "point, ref, facing, want",
    [
        ((12, 0), (10, 50), +1, 2.0),
        ((12, 0), (10, 50), -1, -2.0),
        ((7, 0), (10, 50), -1, 3.0),
        ((10, 0), (10, 50), +1, 0.0),
        ((10, 0), (10, 50), 0, NAN),
        ((NAN, 0), (10, 50), 1, NAN),
    ],
    ids=["ahead-right", "behind-left", "ahead-left", "level", "facing-zero", "nan"],
)
def test_signed_horizontal_offset(point, ref, facing, want):
    assert _close(g.signed_horizontal_offset(np.array(point, float), np.array(ref, float), facing), want)


@pytest.mark.parametrize(
    "p, a, b, signed, want",
    [
        ((0, 3), (-1, 0), (1, 0), False, 3.0),
        ((0, 3), (-1, 0), (1, 0), True, 3.0),
        ((0, -3), (-1, 0), (1, 0), True, -3.0),
        ((0, 3), (1, 0), (-1, 0), True, -3.0),
        ((5, 5), (0, 0), (1, 1), False, 0.0),
        ((1, 0), (0, 0), (1, 1), False, math.sqrt(0.5)),
        ((0, 0, 2), (0, 0, 0), (1, 0, 0), False, 2.0),
        ((0, 3), (1, 1), (1, 1), False, NAN),
        ((0, NAN), (-1, 0), (1, 0), False, NAN),
    ],
    ids=["below-unsigned", "below-right-of-ab", "above-left-of-ab", "reversed-line", "on-line",
         "diag", "3d", "degenerate-line", "nan"],
)
def test_point_line_distance(p, a, b, signed, want):
    got = g.point_line_distance(np.array(p, float), np.array(a, float), np.array(b, float), signed=signed)
    assert _close(got, want)


def test_point_line_distance_signed_needs_2d():
    with pytest.raises(ValueError, match="expected 2-D"):
        g.point_line_distance(np.zeros(3), np.zeros(3), np.ones(3), signed=True)


@pytest.mark.parametrize(
    "a, b, want",
    [
        ((0, 0), (2, 4), (1, 2)),
        ((-1, 3, 5), (1, 3, -5), (0, 3, 0)),
        ((NAN, 0), (2, 4), (NAN, 2)),
    ],
    ids=["2d", "3d", "nan-propagates"],
)
def test_midpoint(a, b, want):
    np.testing.assert_allclose(g.midpoint(np.array(a, float), np.array(b, float)), want)


@pytest.mark.parametrize(
    "a, b, wa, wb, want",
    [
        ((0, 0), (4, 8), 1, 1, (2, 4)),
        ((0, 0), (4, 8), 3, 1, (1, 2)),
        ((0, 0), (4, 8), 0, 1, (4, 8)),
        ((NAN, NAN), (4, 8), 1, 1, (4, 8)),
        ((0, 0), (4, 8), NAN, 1, (4, 8)),
        ((NAN, NAN), (NAN, NAN), 1, 1, (NAN, NAN)),
        ((0, 0), (4, 8), 0, 0, (NAN, NAN)),
    ],
    ids=["equal", "3-to-1", "zero-weight", "nan-a", "nan-weight", "both-nan", "both-zero"],
)
def test_weighted_midpoint(a, b, wa, wb, want):
    got = g.weighted_midpoint(np.array(a, float), np.array(b, float), wa, wb)
    np.testing.assert_allclose(got, want)


def test_weighted_midpoint_rejects_negative_weight():
    with pytest.raises(ValueError, match="non-negative"):
        g.weighted_midpoint(np.zeros(2), np.ones(2), -1.0, 1.0)


@pytest.mark.parametrize(
    "a, b, want",
    [((0, 0), (3, 4), 5.0), ((1, 1, 1), (1, 1, 1), 0.0), ((NAN, 0), (3, 4), NAN)],
    ids=["3-4-5", "zero", "nan"],
)
def test_distance(a, b, want):
    assert _close(g.distance(np.array(a, float), np.array(b, float)), want)


def test_functions_broadcast_over_frames():
    n = 7
    theta = np.linspace(0.0, 170.0, n)
    b = np.zeros((n, 2))
    a = np.tile([1.0, 0.0], (n, 1))
    c = np.stack([np.cos(np.radians(theta)), np.sin(np.radians(theta))], axis=1)
    np.testing.assert_allclose(g.angle_at(a, b, c), theta, atol=1e-9)
    top = np.stack([np.sin(np.radians(theta)), -np.cos(np.radians(theta))], axis=1)
    np.testing.assert_allclose(g.inclination_from_vertical(top, b, np.ones(n)), theta, atol=1e-9)
    np.testing.assert_allclose(g.inclination_from_vertical(top, b, -np.ones(n)), -theta, atol=1e-9)


@pytest.mark.parametrize(
    "x, q, want",
    [([1, 2, 3, NAN], 50, 2.0), ([NAN, NAN], 50, NAN), ([], 90, NAN)],
    ids=["ignores-nan", "all-nan", "empty"],
)
def test_nan_percentile(x, q, want):
    assert _close(g.nan_percentile(np.array(x, float), q), want)
