"""formcheck web app: ``streamlit run app.py`` (see docs/app.md for options and the data directory)."""

import streamlit as st

from formcheck.app.ui import APP_ICON, APP_TITLE

st.set_page_config(
    page_title=APP_TITLE,
    page_icon=APP_ICON,
    layout="wide",
    menu_items={"About": "formcheck checks squat and deadlift form from video. A training aid, not medical advice."},
)

pages = [
    st.Page("formcheck/app/pages/analyse.py", title="Analyse", icon=":material/play_circle:", default=True),
    st.Page("formcheck/app/pages/review.py", title="Review", icon=":material/fact_check:"),
    st.Page("formcheck/app/pages/history.py", title="History", icon=":material/monitoring:"),
    st.Page("formcheck/app/pages/live.py", title="Live", icon=":material/videocam:"),
]
page = st.navigation(pages)
with st.sidebar:
    st.markdown("### formcheck")
    st.caption("Squat and deadlift form from video: reps, faults that load the lower back, and what to work on. "
               "A training aid, not medical advice.")
page.run()
