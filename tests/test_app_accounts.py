"""The app with accounts under AppTest: login, the pages of each role, refusals, the Athletes page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from formcheck.storage import Store
from test_app import APP, PAGES, RUN_TIMEOUT_S, texts
from test_storage import make_report

PAGES = {**PAGES, "athletes": "formcheck/app/pages/athletes.py"}
PASSWORD = "a long password"


@pytest.fixture()
def club(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from argon2 import PasswordHasher

    import formcheck.storage as storage

    monkeypatch.setattr(storage, "_HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    d = tmp_path / "data"
    monkeypatch.setenv("FORMCHECK_DATA_DIR", str(d))
    store = Store(d)
    users = {n: store.add_user(n, r, PASSWORD) for n, r in (("Cora", "coach"), ("Ann", "athlete"), ("Ben", "athlete"))}
    store.add_to_roster("Cora", "Ann")
    store.add_to_roster("Cora", "Ben")
    ann = store.save_analysis(make_report(athlete="Ann", flags=[(1, "rounded_back", "major")], file="ann.mp4"),
                              source_name="ann.mp4")
    return {"store": store, "users": users, "ann": ann}


def as_user(user: Any, page: str | None = None, query: dict[str, str] | None = None) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    if user is not None:
        at.session_state["fc_user_id"] = user.id
    for k, v in (query or {}).items():
        at.query_params[k] = v
    at.run()
    if page is not None:
        at.switch_page(PAGES[page]).run()
    return at


def test_login_form_and_login(club: dict[str, Any]) -> None:
    at = as_user(None)
    assert [t.value for t in at.title] == ["Log in to formcheck"]
    assert [t.label for t in at.text_input] == ["Username", "Password"]
    at.text_input(key="fc_login_name").set_value("Ann")
    at.text_input(key="fc_login_password").set_value("wrong one")
    at.button[0].click().run()
    assert any("Wrong username or password" in e.value for e in at.error)
    assert "fc_user_id" not in at.session_state
    at.text_input(key="fc_login_name").set_value("Ann")
    at.text_input(key="fc_login_password").set_value(PASSWORD)
    at.button[0].click().run()
    assert at.session_state["fc_user_id"] == club["users"]["Ann"].id
    assert at.title[0].value == "Analyse a lift"


@pytest.mark.parametrize("page", ["analyse", "review", "history", "athletes"])
def test_nothing_without_login(club: dict[str, Any], page: str) -> None:
    at = as_user(None, page)
    assert [t.value for t in at.title] == ["Log in to formcheck"]
    assert not any("ann.mp4" in t for t in texts(at))


@pytest.mark.parametrize("page, title", [("review", "Review flags"), ("athletes", "Athletes")], ids=["review", "athletes"])
def test_athlete_never_gets_coach_pages(club: dict[str, Any], page: str, title: str) -> None:
    at = as_user(club["users"]["Ann"])
    try:
        at.switch_page(PAGES[page]).run()
    except Exception:  # noqa: BLE001 - AppTest may refuse a page missing from the navigation: also fine
        pass
    assert not any(t.value == title for t in at.title)
    assert not [b.key for b in at.button if b.key and b.key.startswith(("confirm-", "dismiss-"))]


def test_coach_pages_refuse_an_athlete_even_when_run(club: dict[str, Any]) -> None:
    """The page code itself refuses (not only the navigation)."""
    from formcheck.access import Access, AccessDenied

    acc = Access(club["store"], club["users"]["Ann"])
    with pytest.raises(AccessDenied):
        acc.require_reviewer()
    with pytest.raises(AccessDenied):
        acc.set_review(club["store"].flags_for_session(club["ann"].id)[0].id, status="dismissed")


def test_other_athletes_session_link_is_refused(club: dict[str, Any]) -> None:
    at = as_user(club["users"]["Ben"], "history", {})
    assert any("No sessions yet" in t for t in texts(at))
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    at.session_state["fc_user_id"] = club["users"]["Ben"].id
    at.query_params["session"] = club["ann"].id
    at.run()
    at.switch_page(PAGES["history"]).run()
    shown = texts(at)
    assert not any("ann.mp4" in t or "ann\\.mp4" in t for t in shown), shown
    assert any("Not allowed" in e.value for e in at.error), [e.value for e in at.error]


def test_own_session_link_opens_it(club: dict[str, Any]) -> None:
    at = AppTest.from_file(APP, default_timeout=RUN_TIMEOUT_S)
    at.session_state["fc_user_id"] = club["users"]["Ann"].id
    at.run()
    at.query_params["session"] = club["ann"].id
    at.switch_page(PAGES["history"]).run()
    assert not at.error, [e.value for e in at.error]
    assert at.selectbox(key="hist-session").value == club["ann"].id
    assert not any(b.key and b.key.endswith("-delete") for b in at.button), "an athlete deletes nothing"


def test_coach_roster_page(club: dict[str, Any]) -> None:
    at = as_user(club["users"]["Cora"], "athletes")
    assert at.title[0].value == "Athletes" and not at.error
    at.text_input(key="ro-new-name").set_value("Fay")
    at.text_input(key="ro-new-pass").set_value("fay password")
    at.button[0].click().run()
    store = club["store"]
    assert store.authenticate("Fay", "fay password") is not None
    assert [a.name for a in store.roster(club["users"]["Cora"].id)] == ["Ann", "Ben", "Fay"]
    at.selectbox(key="ro-rename-old").set_value("Fay")
    at.text_input(key="ro-rename-new").set_value("Faye")
    at.button[1].click().run()
    assert store.user_named("Faye") is not None and not at.error, [e.value for e in at.error]
