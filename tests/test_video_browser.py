"""VideoWriter output plays in a real browser (Debian chromium through Playwright).

Skipped when chromium or playwright is missing, unless FORMCHECK_REQUIRE_BROWSER=1
(CI), which turns the skip into a failure. A screenshot goes to test-artifacts/.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from pathlib import Path
from typing import Any, Iterator

import pytest

from formcheck.video import VideoWriter
from support import make_clips as mc

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]
CLIP_SIZE = (320, 240)
CLIP_FPS = 30.0
CLIP_FRAMES = 90
TIMEOUT_MS = 20000

PAGE = """<!doctype html>
<html><body style="margin:0;background:#222">
<video id="v" src="clip.mp4" muted playsinline loop preload="auto" width="320" height="240"></video>
<canvas id="c" width="320" height="240"></canvas>
</body></html>
"""


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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        return


@pytest.fixture()
def served_clip(tmp_path: Path) -> Iterator[str]:
    """Write a clip with VideoWriter and serve it on 127.0.0.1; yields the page URL."""
    with VideoWriter(tmp_path / "clip.mp4", CLIP_FPS, CLIP_SIZE) as writer:
        for i in range(CLIP_FRAMES):
            writer.write(mc.pattern(i, *CLIP_SIZE), t_ms=i * 1000 / CLIP_FPS)
    (tmp_path / "index.html").write_text(PAGE)
    handler = functools.partial(_QuietHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, name="clip-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_written_mp4_plays_in_chromium(sync_playwright: Any, served_clip: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 660, "height": 260})
            page.goto(served_clip)
            page.wait_for_function("document.getElementById('v').readyState >= 2", timeout=TIMEOUT_MS)
            assert page.evaluate("document.getElementById('v').error") is None
            page.evaluate("document.getElementById('v').play()")
            t0 = page.evaluate("document.getElementById('v').currentTime")
            page.wait_for_function(
                f"document.getElementById('v').currentTime > {t0} + 0.3", timeout=TIMEOUT_MS
            )
            facts = page.evaluate(
                """() => {
                    const v = document.getElementById('v');
                    const ctx = document.getElementById('c').getContext('2d');
                    ctx.drawImage(v, 0, 0, 320, 240);
                    const px = (x, y) => Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3));
                    return {w: v.videoWidth, h: v.videoHeight, duration: v.duration,
                            paused: v.paused, error: v.error,
                            topLeft: px(40, 30), topRight: px(310, 30)};
                }"""
            )
            page.screenshot(path=str(ARTIFACTS / "video_browser.png"))
        finally:
            browser.close()
    assert (facts["w"], facts["h"]) == CLIP_SIZE
    assert facts["error"] is None and not facts["paused"]
    assert facts["duration"] == pytest.approx(CLIP_FRAMES / CLIP_FPS, abs=0.1)
    red, blue = facts["topLeft"], facts["topRight"]
    assert red[0] > 150 and red[2] < 100, f"top-left should be red, got {red}"
    assert blue[2] > 150 and blue[0] < 100, f"top-right should be blue, got {blue}"
