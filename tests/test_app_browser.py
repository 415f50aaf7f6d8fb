"""The app in a real browser: Debian chromium driven by Playwright against `streamlit run app.py`.

Upload a sample, wait for the analysis, check the annotated video plays, confirm a flag on
the Review page, reload, and find it still confirmed. User text with markup must stay text.
Screenshots go to test-artifacts/. Skipped when chromium or playwright is missing, unless
FORMCHECK_REQUIRE_BROWSER=1 (CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pytest

from formcheck.storage import Store

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = REPO / "test-artifacts"
SAMPLES = Path(os.environ.get("FORMCHECK_SAMPLES_DIR") or REPO / "sample_videos")
SAMPLE = SAMPLES / "squat_side_faults.mp4"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ATHLETE = '<img src=x onerror="window.__xss=1"> **Bo** :violet[pwn]'
ANALYSIS_TIMEOUT_MS = 600_000
UI_TIMEOUT_MS = 60_000


def _missing(reason: str) -> None:
    if os.environ.get("FORMCHECK_REQUIRE_BROWSER") == "1":
        pytest.fail(f"{reason} (FORMCHECK_REQUIRE_BROWSER=1)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sync_playwright() -> Any:
    try:
        from playwright.sync_api import sync_playwright as factory
    except ImportError:
        _missing("playwright is not installed")
    if not CHROMIUM.is_file():
        _missing(f"chromium not found at {CHROMIUM}")
    return factory


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture()
def server(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`streamlit run app.py` on a free 127.0.0.1 port with an empty data dir: (url, data dir)."""
    data = tmp_path / "data"
    port = _free_port()
    log = tmp_path / "server.log"
    env = {**os.environ, "FORMCHECK_DATA_DIR": str(data)}
    cmd = [sys.executable, "-m", "streamlit", "run", str(REPO / "app.py"), "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false"]
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                if proc.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"streamlit did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
        yield url, data
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    assert "Traceback" not in log.read_text(), log.read_text()[-3000:]


def _idle(page: Any, timeout_ms: int = UI_TIMEOUT_MS) -> None:
    """Wait until the script run finished (Streamlit's 'running' indicator is gone)."""
    page.wait_for_timeout(400)
    page.wait_for_selector('[data-testid="stStatusWidget"]', state="detached", timeout=timeout_ms)
    page.wait_for_timeout(300)


def _shot(page: Any, name: str, height: int = 3600) -> None:
    """Full-page screenshot (Streamlit scrolls inside the page, so the viewport is made tall)."""
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": height})
    page.wait_for_timeout(800)
    page.screenshot(path=str(ARTIFACTS / name))
    page.set_viewport_size(size)


def _pick(page: Any, widget_key: str, option: str) -> None:
    """Choose ``option`` in a selectbox (a click can land while the page is still settling: retry)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout

    box = page.locator(f'.st-key-{widget_key} [role="combobox"]')
    choice = page.get_by_role("option", name=option, exact=True)
    for _ in range(3):
        box.click()
        try:
            choice.wait_for(timeout=10_000)
        except PlaywrightTimeout:
            page.keyboard.press("Escape")
            continue
        choice.click()
        return
    pytest.fail(f"could not choose {option!r} in {widget_key}")


def test_upload_analyse_play_review_reload(sync_playwright: Any, server: tuple[str, Path]) -> None:
    assert SAMPLE.is_file(), f"sample clip missing: {SAMPLE}"
    url, data = server
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "app_failure.png").unlink(missing_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            try:
                flag_id = _drive(page, url)
            except BaseException:
                page.screenshot(path=str(ARTIFACTS / "app_failure.png"))
                raise
        finally:
            browser.close()
    assert Store(data).get_flag(flag_id).review_status == "confirmed"


def _drive(page: Any, url: str) -> int:
    """The whole user journey; returns the id of the flag that was confirmed."""
    page.goto(url)
    page.get_by_role("heading", name="Analyse a lift").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(page)
    _shot(page, "app_analyse_empty.png", height=1000)

    _pick(page, "fc_model", "Lite: fastest")
    _idle(page)
    page.locator(".st-key-fc_athlete input").fill(ATHLETE)
    page.locator(".st-key-fc_athlete input").press("Enter")
    _idle(page)
    page.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(SAMPLE))
    page.locator(".st-key-fc_analyse button:not([disabled])").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(page)
    page.locator(".st-key-fc_analyse button").click()
    page.locator('[data-testid="stProgress"]').first.wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_role("heading", name="Flagged reps").wait_for(timeout=ANALYSIS_TIMEOUT_MS)
    _idle(page)

    video = page.locator('[data-testid="stVideo"]').first
    video.scroll_into_view_if_needed()
    page.wait_for_function(
        "document.querySelector('[data-testid=\"stVideo\"]').readyState >= 2", timeout=UI_TIMEOUT_MS)
    t0 = page.evaluate("""() => { const v = document.querySelector('[data-testid="stVideo"]');
                                  v.muted = true; v.play(); return v.currentTime; }""")
    page.wait_for_function(
        f"document.querySelector('[data-testid=\"stVideo\"]').currentTime > {t0} + 0.5",
        timeout=UI_TIMEOUT_MS)
    facts = page.evaluate("""() => { const v = document.querySelector('[data-testid="stVideo"]');
        return {w: v.videoWidth, h: v.videoHeight, error: v.error, paused: v.paused}; }""")
    assert facts["error"] is None and not facts["paused"] and facts["w"] > 0 and facts["h"] > 0
    page.evaluate("document.querySelector('[data-testid=\"stVideo\"]').pause()")
    assert page.get_by_text("Bo", exact=False).count() > 0
    _shot(page, "app_results.png", height=4200)

    page.get_by_role("link", name="Review").click()
    page.get_by_role("heading", name="Review flags").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(page)
    first_flag = page.locator('[class*="st-key-flag-"]').first
    flag_class = first_flag.get_attribute("class")
    flag_id = int(re.search(r"st-key-flag-(\d+)", flag_class).group(1))
    _shot(page, "app_review.png", height=2400)
    page.locator(f".st-key-confirm-{flag_id} button").click()
    _idle(page)
    page.locator(f".st-key-flag-{flag_id}").wait_for(state="detached", timeout=UI_TIMEOUT_MS)

    page.reload()
    page.get_by_role("heading", name="Review flags").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(page)
    _pick(page, "rv-status", "Confirmed")
    _idle(page)
    block = page.locator(f".st-key-flag-{flag_id}")
    block.wait_for(timeout=UI_TIMEOUT_MS)
    assert block.get_by_text("Confirmed").count() >= 1
    assert page.locator(f".st-key-confirm-{flag_id} button").is_disabled()
    _shot(page, "app_review_confirmed.png", height=2000)

    page.get_by_role("link", name="History").click()
    page.get_by_role("heading", name="Athlete history").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(page)
    _shot(page, "app_history.png", height=3000)

    assert page.evaluate("window.__xss") is None, "user text ran as HTML"
    assert page.locator('img[src="x"]').count() == 0
    return flag_id
