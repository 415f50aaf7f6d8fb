"""Offline in the browser: every page of the app loads without one request leaving this machine.

A real Chromium (Playwright) opens each page of `streamlit run app.py` with every request routed
through a handler that lets loopback through and records and aborts anything else (fonts, icons,
CDNs, telemetry). The test fails on any such attempt. Skipped like the other browser tests when
chromium or playwright is missing, unless FORMCHECK_REQUIRE_BROWSER=1 (CI).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from test_app_browser import CHROMIUM, CHROMIUM_ARGS, _idle, server, sync_playwright  # noqa: F401 (fixtures)

pytestmark = pytest.mark.browser

LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", "[::1]"}
PAGES = ("", "review", "history", "live")


def test_no_request_leaves_localhost(sync_playwright: Any, server: tuple[str, Any]) -> None:  # noqa: F811
    url, _ = server
    outside: list[str] = []

    def gate(route: Any) -> None:
        req_url = route.request.url
        host = urlsplit(req_url).hostname or ""
        if req_url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            outside.append(req_url)
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1280, "height": 900})
            context.route("**/*", gate)
            page = context.new_page()
            for name in PAGES:
                page.goto(f"{url}/{name}")
                page.wait_for_selector('[data-testid="stSidebar"]', timeout=60_000)
                _idle(page)
                page.wait_for_timeout(1500)  # late loads: favicon, fonts, images
            assert outside == [], f"requests to outside hosts: {sorted(set(outside))}"
        finally:
            browser.close()
