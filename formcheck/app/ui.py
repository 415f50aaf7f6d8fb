"""Pieces every page uses: settings, the store, the job manager, escaping, the error boundary.

Settings (environment variables)
--------------------------------
``FORMCHECK_DATA_DIR``      where the database and session files live (default: the user data dir)
``FORMCHECK_DATABASE_URL``  another database (SQLAlchemy URL), e.g. ``postgresql://...``
``FORMCHECK_MAX_UPLOAD_MB`` largest clip accepted (default 500)
``FORMCHECK_MAX_JOBS``      analyses run at the same time (default 1)
``FORMCHECK_SAMPLES_DIR``   the bundled sample clips (default ``sample_videos/`` of the checkout)
"""

from __future__ import annotations

import logging
import os
import re
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import streamlit as st

from formcheck.access import Access, AccessDenied, is_loopback
from formcheck.faults import FAULT_CODES
from formcheck.storage import Store, StoreError, UserRecord, database_url_from_env, default_data_dir
from formcheck.worker import JobManager

ENV_MAX_UPLOAD_MB = "FORMCHECK_MAX_UPLOAD_MB"
ENV_SAMPLES_DIR = "FORMCHECK_SAMPLES_DIR"
DEFAULT_MAX_UPLOAD_MB = 500
APP_TITLE = "formcheck"
#: The browser tab's icon: a file shipped in the package, served by the app. (A ":material/...:" page
#: icon makes Streamlit's frontend fetch the favicon from fonts.gstatic.com, which breaks offline use.)
APP_ICON = Path(__file__).resolve().with_name("icon.png")
UPLOAD_TYPES = ("mp4", "mov", "avi", "webm", "mkv")
REPO_SAMPLES = Path(__file__).resolve().parents[2] / "sample_videos"

_log = logging.getLogger("formcheck.app")

#: Fault codes in words, for menus and tables.
FAULT_TITLES = {
    "rounded_back": "Rounded back",
    "hips_rise_early": "Hips rise early",
    "excessive_forward_lean": "Excessive forward lean",
    "shallow_depth": "Shallow depth",
    "knee_cave": "Knee cave",
    "heels_lift": "Heels lift",
    "hyperextension_lockout": "Leaning back at lockout",
    "bar_drift": "Bar drifts away",
    "hips_too_low_start": "Hips too low at the start",
    "incomplete_lockout": "Incomplete lockout",
}
assert set(FAULT_TITLES) == set(FAULT_CODES)


class SettingsError(ValueError):
    """An environment variable with a value the app cannot use (one line, for the operator)."""


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    db_url: str | None = field(repr=False)  # may hold a password: never printed
    max_upload_mb: int
    samples_dir: Path

    def __post_init__(self) -> None:
        if not (isinstance(self.max_upload_mb, int) and 1 <= self.max_upload_mb <= 100_000):
            raise SettingsError(f"{ENV_MAX_UPLOAD_MB}: expected a whole number of MB in 1-100000, got {self.max_upload_mb!r}")


def settings() -> Settings:
    raw = os.environ.get(ENV_MAX_UPLOAD_MB, "").strip() or str(DEFAULT_MAX_UPLOAD_MB)
    try:
        mb = int(raw)
    except ValueError:
        raise SettingsError(f"{ENV_MAX_UPLOAD_MB}: expected a whole number of MB, got {raw!r}") from None
    samples = os.environ.get(ENV_SAMPLES_DIR, "").strip()
    return Settings(
        data_dir=default_data_dir(),
        db_url=database_url_from_env(),
        max_upload_mb=mb,
        samples_dir=Path(samples) if samples else REPO_SAMPLES,
    )


@st.cache_resource(show_spinner=False)
def _store(data_dir: str, db_url: str | None) -> Store:
    return Store(data_dir, db_url)


def get_store() -> Store:
    """The store named by the current settings (one per data dir and URL in this server)."""
    s = settings()
    return _store(str(s.data_dir), s.db_url)


#: Session-state key of the logged-in account's id (the browser tab's session; gone on reload).
USER_KEY = "fc_user_id"


def current_user() -> UserRecord | None:
    """The account logged in in this browser session (None: nobody, or the single-user app)."""
    uid = st.session_state.get(USER_KEY)
    return get_store().get_user(uid) if isinstance(uid, int) else None


def get_access() -> Access:
    """The store as the logged-in user may use it (every page reads and writes through this)."""
    return Access(get_store(), current_user())


def login_form() -> UserRecord | None:
    """The login form; the account once its password checks out (kept in the session state)."""
    st.title("Log in to formcheck")
    with st.form("fc_login", border=True):
        name = st.text_input("Username", max_chars=80, key="fc_login_name")
        password = st.text_input("Password", type="password", max_chars=1024, key="fc_login_password")
        sent = st.form_submit_button("Log in", type="primary")
    if sent:
        user = get_store().authenticate(name, password)
        if user is None:
            _log.info("failed login")
            st.error("Wrong username or password.")
            return None
        st.session_state.clear()  # nothing of an earlier session carries over
        st.session_state[USER_KEY] = user.id
        return user
    return None


def _served_beyond_this_machine() -> bool:
    """The server listens on an address other machines can reach (unset means every interface)."""
    from streamlit import runtime

    return runtime.exists() and not is_loopback(st.get_option("server.address"))


def app_gate() -> tuple[UserRecord | None, bool]:
    """Run first by app.py: (the logged-in account or None, whether the login form must be shown).

    (None, False) is the single-user app (no account exists). Stops the script when the store
    cannot be opened, and refuses a server reachable from other machines while no account exists.
    """
    try:
        accounts = get_store().has_users()
    except (StoreError, SettingsError) as exc:
        _log.warning("cannot open the store: %s", exc)
        st.error(f"Sorry, formcheck cannot start: {md(exc)}")
        st.stop()
    if not accounts:
        if _served_beyond_this_machine():
            st.error("This formcheck has no accounts, so it serves this machine only: start it with "
                     "`--server.address localhost`, or create accounts first (`formcheck users add NAME --role coach`).")
            st.stop()
        return None, False
    user = current_user()
    return user, user is None


def log_out() -> None:
    st.session_state.clear()


@st.cache_resource(show_spinner=False)
def get_jobs() -> JobManager:
    """The server's one job manager (analyses run in worker processes)."""
    return JobManager(warm=True)


_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=^])")


def md(text: object) -> str:
    """User text made safe inside Markdown: one line, every Markdown character escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def athlete_label(name: str) -> str:
    return name if name else "(no name)"


def fault_title(code: str) -> str:
    return FAULT_TITLES.get(code, code)


def fmt_time(dt: object) -> str:
    return dt.strftime("%Y-%m-%d %H:%M UTC") if hasattr(dt, "strftime") else ""


def run_page(render: Callable[[], None]) -> None:
    """Run a page; a known problem shows its one line, anything else a short notice (never a traceback)."""
    try:
        render()
    except AccessDenied as exc:
        _log.warning("refused: %s", exc)
        st.error(f"Not allowed: {md(exc)}", icon=":material/block:")
    except (StoreError, SettingsError) as exc:
        _log.warning("page error: %s", exc)
        st.error(f"Sorry, that did not work: {md(exc)}")
    except Exception:  # noqa: BLE001 - the page must never show a traceback; the log keeps it
        ref = uuid.uuid4().hex[:8]
        _log.exception("page failed (ref %s)", ref)
        st.error(f"Something went wrong on this page (reference {ref}). The details are in the server log; "
                 "reload the page to try again.")
