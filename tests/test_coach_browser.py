"""Accounts in a real browser: a coach and two athletes made with `formcheck users add`, driven in chromium.

Athlete A uploads a clip; athlete B, logged in, sees none of it (pages, hand-edited URLs with A's
session and job ids, the coach's Review page); the coach adds a fault formcheck missed on a clean
rep, pins a comment to a time in a flagged rep, confirms that flag and dismisses another; athlete A
then sees the review and the comment. The coach also opens a rep's side-by-side compare panel. Each user has a
browser context of their own. Reuses the server and browser fixtures of test_app_browser.py
(same skip rules). Screenshots go to test-artifacts/.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from formcheck.storage import Store
from test_app_browser import (  # noqa: F401 - fixtures
    ANALYSIS_TIMEOUT_MS,
    ARTIFACTS,
    CHROMIUM,
    CHROMIUM_ARGS,
    REPO,
    SAMPLE,
    UI_TIMEOUT_MS,
    _idle,
    _pick,
    server,
    sync_playwright,
)

pytestmark = pytest.mark.browser

PASSWORDS = {"Cora": "coach password 1", "Ann": "athlete A password", "Ben": "athlete B password"}


def users_add(data: Path, name: str, role: str, *extra: str) -> None:
    """`formcheck users add NAME --role ROLE`, the password on standard input."""
    code = "import sys; from formcheck.cli import app; sys.argv[0] = 'formcheck'; app()"
    env = {**os.environ, "FORMCHECK_DATA_DIR": str(data), "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", code, "users", "add", name, "--role", role, *extra],
                          input=PASSWORDS[name] + "\n", capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr


def login(page: Any, url: str, name: str) -> None:
    """Open ``url`` (a new browser session: log in there) as ``name``."""
    page.goto(url)
    page.get_by_role("heading", name="Log in to formcheck").wait_for(timeout=UI_TIMEOUT_MS)
    page.get_by_label("Username", exact=True).fill(name)
    page.get_by_label("Password", exact=True).fill(PASSWORDS[name])
    page.get_by_role("button", name="Log in").click()
    page.get_by_role("button", name="Log out").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(page)


def body(page: Any) -> str:
    return page.locator("body").inner_text()


def test_coach_and_two_athletes(sync_playwright: Any, server: tuple[str, Path]) -> None:  # noqa: F811
    assert SAMPLE.is_file(), f"sample clip missing: {SAMPLE}"
    url, data = server
    users_add(data, "Cora", "coach")
    users_add(data, "Ann", "athlete", "--coach", "Cora")
    users_add(data, "Ben", "athlete", "--coach", "Cora")
    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        pages: list[Any] = []
        try:
            def new_page() -> Any:
                page = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
                pages.append(page)
                return page

            _journey(new_page, url, data)
        except BaseException:
            for i, page in enumerate(pages):
                page.screenshot(path=str(ARTIFACTS / f"coach_failure_{i}.png"))
            raise
        finally:
            browser.close()


def _journey(new_page: Any, url: str, data: Path) -> None:
    # Nobody logged in: the login form and nothing else.
    anon = new_page()
    anon.goto(f"{url}/history")
    anon.get_by_role("heading", name="Log in to formcheck").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(anon)
    assert anon.get_by_role("heading", name="Athlete history").count() == 0
    anon.get_by_label("Username", exact=True).fill("Ann")
    anon.get_by_label("Password", exact=True).fill("wrong password")
    anon.get_by_role("button", name="Log in").click()
    anon.get_by_text("Wrong username or password.").wait_for(timeout=UI_TIMEOUT_MS)

    # Athlete A uploads a clip (recorded as hers: the athlete field is her name, fixed).
    ann = new_page()
    login(ann, url, "Ann")
    assert ann.get_by_role("link", name="Review").count() == 0, "an athlete has no Review page"
    _pick(ann, "fc_model", "Lite: fastest")
    _idle(ann)
    ann.locator('[data-testid="stFileUploader"] input[type="file"]').set_input_files(str(SAMPLE))
    ann.locator(".st-key-fc_analyse button:not([disabled])").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(ann)
    ann.locator(".st-key-fc_analyse button").click()
    ann.get_by_role("heading", name="Flagged reps").wait_for(timeout=ANALYSIS_TIMEOUT_MS)
    _idle(ann)
    assert ann.get_by_text("Delete this session").count() == 0, "an athlete deletes nothing"
    store = Store(data)
    (session,) = store.list_sessions()
    assert session.athlete == "Ann" and session.owner_id == store.user_named("Ann").id
    job_id = next(j for j in _job_ids(store) if store.get_job(j).session_id == session.id)
    flags = store.flags_for_session(session.id)
    flagged_reps = {f.rep for f in flags}
    clean = [r["rep"] for r in session.reps if r["rep"] not in flagged_reps]
    assert len(flags) >= 2 and clean, f"the sample needs two flags and a clean rep: {flagged_reps}, {session.rep_count}"

    # Athlete B sees none of it: History, Analyse, and hand-edited URLs with A's ids.
    ben = new_page()
    login(ben, f"{url}/history", "Ben")
    ben.get_by_role("heading", name="Athlete history").wait_for(timeout=UI_TIMEOUT_MS)
    assert "No sessions yet" in body(ben) and session.source_name not in body(ben)
    login(ben, f"{url}/history?session={session.id}", "Ben")
    ben.get_by_text("Not allowed").first.wait_for(timeout=UI_TIMEOUT_MS)
    assert session.source_name not in body(ben) and "Flagged reps" not in body(ben)
    ben.screenshot(path=str(ARTIFACTS / "coach_other_athlete_refused.png"))
    login(ben, f"{url}/?jobs={job_id}", "Ben")
    ben.get_by_role("heading", name="Analyse a lift").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(ben)
    assert session.source_name not in body(ben) and ben.get_by_role("heading", name="Flagged reps").count() == 0
    login(ben, f"{url}/review", "Ben")
    assert ben.get_by_role("heading", name="Review flags").count() == 0, "an athlete never gets the Review page"
    assert session.source_name not in body(ben)

    # The coach: a missed fault on a clean rep, one flag confirmed, one dismissed.
    cora = new_page()
    login(cora, f"{url}/review", "Cora")
    cora.get_by_role("heading", name="Review flags").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(cora)
    confirm, dismiss = flags[0].id, flags[1].id
    # A comment pinned to a time in the flag's rep (the rep's bottom, kept inside the rep as the input is).
    span = session.rep(flags[0].rep)
    at_s = min(max(round(flags[0].t_ms / 1000, 2), math.ceil(span["start_ms"] / 10) / 100),
               math.floor(span["end_ms"] / 10) / 100)
    note = "Brace before you unrack"
    cora.locator(f".st-key-comment-{confirm}-t input").fill(f"{at_s:.2f}")
    cora.locator(f".st-key-comment-{confirm}-t input").press("Tab")
    _idle(cora)
    cora.locator(f".st-key-comment-{confirm} input").fill(note)
    cora.locator(f".st-key-comment-{confirm} input").press("Enter")
    _idle(cora)
    _until(lambda: [(c.text, round(c.t_ms)) for c in store.get_flag(confirm).comments if c.t_ms is not None]
           == [(note, round(at_s * 1000))], f"the pinned comment: {store.get_flag(confirm).comments}")
    cora.get_by_text(f"at {at_s:.2f} s: {note}").first.wait_for(timeout=UI_TIMEOUT_MS)
    for flag_id, action, status in ((confirm, "confirm", "confirmed"), (dismiss, "dismiss", "dismissed")):
        cora.locator(f".st-key-{action}-{flag_id} button").first.click()
        _idle(cora)
        _until(lambda: store.get_flag(flag_id).review_status == status,
               f"flag {flag_id} {status}: {cora.locator('[data-testid=stToast]').all_inner_texts()} "
               f"{cora.locator(f'.st-key-{action}-{flag_id} button').count()} {cora.url}")
        cora.locator(f".st-key-flag-{flag_id}").wait_for(state="detached", timeout=UI_TIMEOUT_MS)  # left the queue
        _idle(cora)
    cora.get_by_text("All reps", exact=True).click()
    _idle(cora)
    rep = clean[0]
    assert rep <= 5, "the clean rep must be on the first page of reps"
    key = f"missed-{session.id[:12]}-{rep}"
    cora.get_by_text(f"Add a fault formcheck missed on rep {rep}").click()
    _pick(cora, f"{key}-code", "Shallow depth")
    _idle(cora)
    cora.locator(f".st-key-{key}-add button").click()
    _idle(cora)
    # The compare panel of that rep: this rep and another, each at the same phase (the bottom by default).
    card = cora.locator(f".st-key-rep-{session.id[:12]}-{rep}")
    card.get_by_text("Compare side by side with another rep").click()
    card.get_by_text("(50% of the rep)").nth(1).wait_for(timeout=UI_TIMEOUT_MS)
    _idle(cora)
    shown = card.inner_text()
    assert f"This rep: rep {rep} ·" in shown and "Compared with: rep" in shown, shown[:2000]
    assert card.get_by_text("(50% of the rep)").count() == 2
    cora.screenshot(path=str(ARTIFACTS / "coach_review.png"))
    after = {f.id: f for f in store.flags_for_session(session.id)}
    assert after[confirm].review_status == "confirmed" and after[dismiss].review_status == "dismissed"
    added = [f for f in after.values() if f.origin == "coach"]
    assert [(f.rep, f.code, f.review_status) for f in added] == [(rep, "shallow_depth", "confirmed")]

    # Athlete A sees the review on her History page.
    login(ann, f"{url}/history", "Ann")
    ann.get_by_role("heading", name="Athlete history").wait_for(timeout=UI_TIMEOUT_MS)
    _idle(ann)
    text = body(ann)
    assert f"Rep {rep} · Shallow depth · added by the coach" in text, text[:2000]
    assert "confirmed" in text and "dismissed" in text
    assert f"at {at_s:.2f} s: {note}" in text, "the athlete sees the coach's pinned comment"
    ann.screenshot(path=str(ARTIFACTS / "coach_athlete_sees_review.png"))
    assert ann.get_by_role("link", name="Review").count() == 0
    # ... and B still sees nothing of it.
    login(ben, f"{url}/history", "Ben")
    ben.get_by_role("heading", name="Athlete history").wait_for(timeout=UI_TIMEOUT_MS)
    assert "Shallow depth" not in body(ben) and session.source_name not in body(ben)


def _until(check: Any, what: str, timeout_s: float = 30.0) -> None:
    import time

    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def _job_ids(store: Store) -> list[str]:
    import sqlalchemy as sa

    from formcheck.storage import jobs

    with store._read() as conn:
        return list(conn.scalars(sa.select(jobs.c.id)))
