"""The reviewed report (formcheck.reviewed) and the store's side of it (records, date, on-demand render)."""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import pytest

from formcheck.reviewed import md_escape, render_reviewed_html, render_reviewed_markdown, review_date
from formcheck.storage import Store
from tests.test_storage import make_report

EVIL = '<script>alert(1)</script> **bold** [x](javascript:y)'


def _rec(rep: int, code: str, status: str, *, origin: str = "auto", auto: str | None = "major", sev: str = "major",
         comments: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"rep": rep, "code": code, "origin": origin, "review_status": status, "auto_severity": auto,
            "severity": sev, "t_s": None, "reviewed_at": "2026-12-07T10:00:00", "comments": comments or []}


REPORT = make_report(flags=[(1, "rounded_back", "major"), (2, "excessive_forward_lean", "minor"),
                            (3, "shallow_depth", "major")], athlete="Ann <b>").to_dict()
REVIEWS = [
    _rec(1, "rounded_back", "confirmed", auto="major", sev="minor",
         comments=[{"text": "later one", "at": "2026-12-08T09:00:00", "t_s": 2.5},
                   {"text": EVIL, "at": "2026-12-07T11:00:00", "t_s": 2.1},
                   {"text": "general note", "at": "2026-12-07T11:30:00", "t_s": None}]),
    _rec(2, "excessive_forward_lean", "dismissed", auto="minor", sev="minor",
         comments=[{"text": "camera angle", "at": "2026-12-07T12:00:00", "t_s": None}]),
    _rec(3, "shallow_depth", "pending"),
    _rec(2, "heels_lift", "confirmed", origin="coach", auto=None, sev="minor"),
]


def test_html_shows_every_decision_and_escapes_user_text() -> None:
    page = render_reviewed_html(REPORT, REVIEWS, reviewed_on="2026-12-08")
    assert "Reviewed by the coach on 2026-12-08" in page
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "Ann &lt;b&gt;" in page
    assert "confirmed by the coach" in page and "not reviewed yet" in page
    assert "severity changed by the coach from major to minor" in page
    assert "heels_lift <span class=coach>(added by the coach)</span>" in page
    assert "<del class=dismissed>excessive_forward_lean</del>" in page
    assert "<h2>Dismissed by the coach</h2>" in page and "camera angle" in page
    # comments pinned to a time come first, in time order
    assert page.index("at 2.10 s") < page.index("at 2.50 s") < page.index("general note")
    # guidance follows the faults left after review: the dismissed one is gone, the added one is there
    g = REPORT["guidance"]
    for k in ("red_flag_notice", "disclaimer", "credit"):
        assert html.escape(g[k]) in page
    from formcheck.report import guidance_block
    kept = guidance_block(["rounded_back", "shallow_depth", "heels_lift"], "squat")
    gone = guidance_block(["excessive_forward_lean"], "squat")
    titles = {f["title"] for f in kept["faults"]}
    assert titles
    for t in titles:
        assert f"<h3>{html.escape(t)}</h3>" in page
    for f in gone["faults"]:
        if f["title"] not in titles:
            assert f"<h3>{html.escape(f['title'])}</h3>" not in page


def test_markdown_strikes_dismissed_and_escapes() -> None:
    text = render_reviewed_markdown(REPORT, REVIEWS, reviewed_on="2026-12-08")
    assert "**Reviewed by the coach on 2026-12-08**" in text
    assert "~~Rep 2 – excessive_forward_lean at 5.20 s~~" in text
    assert "heels_lift (added by the coach)" in text
    assert "- **Rep 2 – heels_lift** (added by the coach; minor)\n" in text
    assert "- **Rep 1 – rounded_back** (confirmed by the coach; minor, severity changed by the coach from major to " \
           "minor) at 2.20 s" in text
    assert "<script>" not in text and md_escape(EVIL) in text
    assert "## When to see a professional" in text and REPORT["guidance"]["disclaimer"] in text


@pytest.mark.parametrize(
    "reviews, session_at, expected",
    [([], None, None), ([], "2026-12-01T08:00:00", "2026-12-01"), (REVIEWS, None, "2026-12-08"),
     ([_rec(1, "rounded_back", "pending") | {"reviewed_at": None}], None, None)],
    ids=["nothing", "marked-reviewed", "latest-comment", "untouched-flag"],
)
def test_review_date(reviews: list[dict[str, Any]], session_at: str | None, expected: str | None) -> None:
    assert review_date(reviews, session_at) == expected


@pytest.fixture()
def store(tmp_path: Path) -> Store:
    s = Store(tmp_path / "data")
    yield s
    s.close()


def test_store_renders_the_reviewed_report_after_a_review(store: Store, tmp_path: Path) -> None:
    png = tmp_path / "plot.png"
    png.write_bytes(b"\x89PNG fake")
    s = store.save_analysis(make_report(flags=[(1, "rounded_back", "major"), (2, "knee_cave", "minor")],
                                        not_assessable=()), files={"plot": png})
    assert store.reviewed_report(s.id) is None and store.coach_reviewed_at(s) is None
    rb, kc = store.flags_for_session(s.id)
    store.set_review(rb.id, status="confirmed", severity="minor")
    store.set_review(kc.id, status="dismissed")
    store.add_comment(rb.id, "<img src=x onerror=alert(1)>")
    store.add_missed_fault(s.id, 3, "heels_lift", comment="heels up")
    when = store.coach_reviewed_at(store.get_session(s.id))
    assert when is not None
    page = store.reviewed_report(s.id, "html")
    assert f"Reviewed by the coach on {when.date().isoformat()}" in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page and "<img src=x" not in page
    assert "data:image/png;base64," in page  # the stored angle plot is embedded
    assert "<del class=dismissed>knee_cave</del>" in page and "(added by the coach)" in page
    md = store.reviewed_report(s.id, "md")
    assert "~~Rep 2 – knee_cave" in md and "heels up" in md
    recs = store.review_records(s.id)
    assert [(r["rep"], r["code"], r["review_status"]) for r in recs] == [
        (1, "rounded_back", "confirmed"), (2, "knee_cave", "dismissed"), (3, "heels_lift", "confirmed")]


def test_marking_reviewed_alone_makes_a_reviewed_report(store: Store) -> None:
    s = store.save_analysis(make_report())
    assert store.reviewed_report(s.id, "md") is None
    store.mark_session_reviewed(s.id)
    assert "Reviewed by the coach on" in store.reviewed_report(s.id, "md")
