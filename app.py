"""formcheck web app: ``streamlit run app.py`` (see docs/app.md for options and the data directory)."""

import streamlit as st

from formcheck.app.ui import APP_ICON, APP_TITLE, app_gate, log_out, login_form

st.set_page_config(
    page_title=APP_TITLE,
    page_icon=APP_ICON,
    layout="wide",
    menu_items={"About": "formcheck checks squat and deadlift form from video. A training aid, not medical advice."},
)

# Accounts: with none, the single-user app (on this machine only); with some, everyone logs in and
# sees the pages of their role (formcheck.access decides what each page shows).
user, must_log_in = app_gate()
reviewer = must_log_in or user is None or user.is_coach
pages = [
    st.Page("formcheck/app/pages/analyse.py", title="Analyse", icon=":material/play_circle:", default=True),
    *([st.Page("formcheck/app/pages/review.py", title="Review", icon=":material/fact_check:")] if reviewer else []),
    st.Page("formcheck/app/pages/history.py", title="History", icon=":material/monitoring:"),
    st.Page("formcheck/app/pages/live.py", title="Live", icon=":material/videocam:"),
    *([st.Page("formcheck/app/pages/athletes.py", title="Athletes", icon=":material/groups:")] if reviewer else []),
]
# Logged out, the page asked for (URL path and query) is kept but not run: the login form shows instead.
page = st.navigation(pages, position="hidden" if must_log_in else "sidebar")
if must_log_in:
    if login_form() is not None:
        st.rerun()
    st.stop()
with st.sidebar:
    st.markdown("### formcheck")
    st.caption("Squat and deadlift form from video: reps, faults that load the lower back, and what to work on. "
               "A training aid, not medical advice.")
    if user is not None:
        st.caption(f"Logged in as {user.role}:")
        st.text(user.name)
        st.button("Log out", key="fc_logout", on_click=log_out, icon=":material/logout:")
page.run()
