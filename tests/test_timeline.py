"""formcheck.timeline: which timed comments show at a moment, and the WebVTT captions made of them."""

from __future__ import annotations

import pytest

from formcheck.timeline import COMMENT_WINDOW_MS, comments_near, webvtt

COMMENTS = [(2000.0, "knees in"), (None, "general"), (1000.0, "start"), (2400.0, "late")]


@pytest.mark.parametrize(
    "t_ms, expected",
    [(2000.0, [(2000.0, "knees in"), (2400.0, "late")]), (1500.0, [(1000.0, "start"), (2000.0, "knees in")]),
     (1499.0, [(1000.0, "start")]), (2901.0, []), (0.0, [])],
    ids=["on-the-comment", "both-edges-inclusive", "just-past-one-edge", "after-all", "before-all"],
)
def test_comments_near(t_ms: float, expected: list[tuple[float, str]]) -> None:
    assert COMMENT_WINDOW_MS == 500.0
    assert comments_near(COMMENTS, t_ms) == expected


def test_webvtt_real_time() -> None:
    vtt = webvtt([(2000.0, "knees <b>in</b> & out\n\nhere"), (None, "general")])
    assert vtt == "WEBVTT\n\n00:00:01.500 --> 00:00:02.500\n💬 knees &lt;b&gt;in&lt;/b&gt; &amp; out here\n"


def test_webvtt_on_a_slow_clip() -> None:
    # a clip cut from 800 ms at 1/4 speed, up to 3700 ms: a comment at 1000 ms shows from the clip's start
    vtt = webvtt([(1000.0, "a"), (3000.0, "b"), (5000.0, "after the clip"), (500.0, "before")],
                 clip_start_ms=800.0, slowdown=4.0, clip_end_ms=3700.0)
    assert vtt == ("WEBVTT\n\n00:00:00.000 --> 00:00:02.800\n💬 a\n\n"
                   "00:00:06.800 --> 00:00:10.800\n💬 b\n")


@pytest.mark.parametrize("comments", [[], [(None, "x")], [(float("nan"), "x")], [(10.0, "   ")]],
                         ids=["none", "untimed", "nan", "blank"])
def test_webvtt_without_comments_is_none(comments: list) -> None:
    assert webvtt(comments) is None


def test_webvtt_rejects_speed_up() -> None:
    with pytest.raises(ValueError, match="slowdown: expected >= 1"):
        webvtt([(1.0, "x")], slowdown=0.5)
