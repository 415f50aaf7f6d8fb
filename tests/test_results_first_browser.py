"""The results come before the annotated video, in a real browser (issue #13).

Upload a sample, click Analyse, and stamp inside the page (a MutationObserver, ``performance.now()``)
when the provisional first look (reps and flags of the clip's start, during the pose pass), the result
cards, the "video is being prepared" notice and a playable video first appear. The provisional results
must come first, marked provisional, and be gone when the cards come; the cards come with no video
element on the page yet and the notice in its place; then the notice gives way to the video, which plays. Reuses the server and browser fixtures of
test_app_browser.py (same skip rules). A screenshot goes to test-artifacts/.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from formcheck.storage import Store
from test_app_browser import (  # noqa: F401 - fixtures
    ANALYSIS_TIMEOUT_MS,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    SAMPLE,
    UI_TIMEOUT_MS,
    _idle,
    _pick,
    server,
    sync_playwright,
)

pytestmark = pytest.mark.browser

#: Stamps (ms, performance.now()) of the click, the result cards, the pending-video notice and the
#: playable video; ``video_el_at_results``: how many video elements the page had when the cards came.
OBSERVER_JS = """() => {
  const m = window.__fc = {click: null, early: null, early_text: null, early_at_results: null, results: null,
                           pending: null, pending_gone: null, video: null, video_el_at_results: null, reps: null};
  document.addEventListener('click', e => {
    if (m.click === null && e.target.closest('.st-key-fc_analyse')) m.click = performance.now();
  }, true);
  const look = () => {
    if (m.click === null) return;
    const now = performance.now();
    const early = document.querySelector('[class*="st-key-fc-provisional"]');
    if (m.early === null && early) { m.early = now; m.early_text = early.innerText; }
    const metric = document.querySelector('[data-testid="stMetric"]');
    if (m.results === null && metric) {
      m.results = now;
      m.early_at_results = document.querySelectorAll('[class*="st-key-fc-provisional"]').length;
      m.video_el_at_results = document.querySelectorAll('[data-testid="stVideo"]').length;
      const reps = [...document.querySelectorAll('[data-testid="stMetric"]')]
        .find(e => (e.innerText || '').startsWith('Reps'));
      m.reps = reps ? reps.innerText : null;
    }
    const pending = document.querySelector('.st-key-fc-video-pending');
    if (m.pending === null && pending) m.pending = now;
    if (m.pending !== null && m.pending_gone === null && !pending) m.pending_gone = now;
    const v = document.querySelector('[data-testid="stVideo"]');
    if (m.video === null && v && v.readyState >= 2) m.video = now;
  };
  new MutationObserver(look).observe(document, {subtree: true, childList: true, attributes: true,
                                                characterData: true});
  setInterval(look, 20);
}"""


def test_results_appear_before_the_video(sync_playwright: Any, server: tuple[str, Path]) -> None:  # noqa: F811 (fixtures)
    assert SAMPLE.is_file(), f"sample clip missing: {SAMPLE}"
    url, data = server
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1600})
            try:
                m = _drive(page, url)
            except BaseException:
                page.screenshot(path=str(ARTIFACTS / "app_results_first_failure.png"))
                raise
        finally:
            browser.close()
    assert m["results"] is not None and m["video"] is not None, m
    # the first look: during the pose pass, marked provisional, with the first rep; gone with the final results
    assert m["early"] is not None and m["early"] < m["results"], f"no provisional results before the final ones: {m}"
    assert "provisional" in m["early_text"].lower() and "not the results yet" in m["early_text"], m
    assert "1 rep completed" in m["early_text"] or "reps completed" in m["early_text"], m
    assert m["early_at_results"] == 0, f"the provisional results stayed beside the final ones: {m}"
    assert m["video_el_at_results"] == 0, f"a video was on the page with the first results: {m}"
    assert m["reps"] is not None and int(m["reps"].split()[-1]) >= 3, m
    assert m["pending"] is not None and m["pending"] - m["results"] < 1000, f"no 'being prepared' notice: {m}"
    assert m["results"] < m["video"] and m["pending"] < m["video"], f"the video came first: {m}"
    assert m["pending_gone"] is not None and m["pending_gone"] <= m["video"] + 100, m
    # the job signals the video as soon as it is attached; the rep clips and the original clip follow it
    # (formcheck/worker.py): wait for the job's last file before reading the stored session
    deadline = time.monotonic() + 60
    while True:
        (s,) = Store(data).list_sessions()
        if s.file("original") is not None or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert s.file("video") is not None and s.file("original") is not None


def _drive(page: Any, url: str) -> dict[str, Any]:
    page.goto(url)
    page.get_by_role("heading", name="Analyse a lift").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(page)
    _pick(page, "fc_model", "Lite: fastest")
    _idle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(SAMPLE))
    page.locator(".st-key-fc_analyse button:not([disabled])").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(page)
    page.evaluate(OBSERVER_JS)
    page.locator(".st-key-fc_analyse button").click()
    page.wait_for_function("window.__fc.pending !== null || window.__fc.video !== null",
                           timeout=ANALYSIS_TIMEOUT_MS, polling=100)
    if page.evaluate("window.__fc.video === null"):
        page.screenshot(path=str(ARTIFACTS / "app_results_before_video.png"))
    page.wait_for_function("window.__fc.video !== null", timeout=ANALYSIS_TIMEOUT_MS, polling=100)
    video = page.locator('[data-testid="stVideo"]').first
    t0 = page.evaluate("""() => { const v = document.querySelector('[data-testid="stVideo"]');
                                  v.muted = true; v.play(); return v.currentTime; }""")
    page.wait_for_function(
        f"document.querySelector('[data-testid=\"stVideo\"]').currentTime > {t0} + 0.3", timeout=UI_TIMEOUT_MS)
    assert video.evaluate("v => v.error") is None
    return page.evaluate("window.__fc")
