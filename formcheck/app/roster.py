"""Athletes page: the roster. Create, rename, merge and delete athletes (coaches, and the single-user app)."""

from __future__ import annotations

from collections import Counter

import pandas as pd
import streamlit as st

from formcheck.app.ui import athlete_label, fmt_time, get_access, md
from formcheck.storage import StoreError

NOTICE = "fc_roster_notice"


def _done(text: str) -> None:
    st.session_state[NOTICE] = text


def render() -> None:
    acc = get_access()
    acc.require_reviewer()
    st.title("Athletes")
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.success(md(notice), icon=":material/done:")
    names = [n for n in acc.roster_names() if n]
    sessions = acc.list_sessions()
    count = Counter(s.athlete for s in sessions)
    last = {}
    for s in sessions:  # newest first
        last.setdefault(s.athlete, s.created_at)
    if names:
        st.dataframe(pd.DataFrame([{"Athlete": n, "Sessions": count.get(n, 0), "Last session": fmt_time(last.get(n))}
                                   for n in names]), hide_index=True, width="stretch")
    else:
        st.info("No athlete yet: create one below." if acc.single_user else
                "Your roster is empty: create an athlete account below (or ask for one with "
                "`formcheck users add NAME --role athlete --coach YOU`).", icon=":material/info:")

    st.subheader("Create an athlete")
    with st.form("ro-create", clear_on_submit=True):
        name = st.text_input("Athlete's name", max_chars=80, key="ro-new-name")
        password = None
        if not acc.single_user:
            password = st.text_input("Their password (8 characters or more)", type="password", key="ro-new-pass",
                                     help="They log in with the name and this password, and see their own sessions.")
        if st.form_submit_button("Create athlete", icon=":material/person_add:"):
            try:
                made = acc.create_athlete(name, password)
                _done(f"Created {made}.")
                st.rerun()
            except StoreError as exc:
                st.error(f"That did not work: {md(exc)}")
    if not names:
        return

    st.subheader("Rename an athlete")
    with st.form("ro-rename"):
        c1, c2 = st.columns(2)
        old = c1.selectbox("Athlete", names, format_func=athlete_label, key="ro-rename-old")
        new = c2.text_input("New name", max_chars=80, key="ro-rename-new")
        if st.form_submit_button("Rename", icon=":material/edit:"):
            try:
                _done(f"Renamed {old} to {acc.rename_athlete(old, new)}.")
                st.rerun()
            except StoreError as exc:
                st.error(f"That did not work: {md(exc)}")

    if len(names) > 1:
        st.subheader("Merge two athletes")
        st.caption("The same person under two names: every session of the first moves to the second, and the first "
                   "name (and its account, if any) goes.")
        with st.form("ro-merge"):
            c1, c2 = st.columns(2)
            source = c1.selectbox("Merge", names, format_func=athlete_label, key="ro-merge-src")
            target = c2.selectbox("into", names, index=1, format_func=athlete_label, key="ro-merge-dst")
            if st.form_submit_button("Merge", icon=":material/merge:"):
                try:
                    _done(f"Merged {source} into {acc.merge_athletes(source, target)}.")
                    st.rerun()
                except StoreError as exc:
                    st.error(f"That did not work: {md(exc)}")

    st.subheader("Delete an athlete")
    with st.form("ro-delete"):
        victim = st.selectbox("Athlete", names, format_func=athlete_label, key="ro-delete-name")
        sure = st.checkbox("Delete every session of this athlete (clips, reports, reviews) and their account, "
                           "for good", key="ro-delete-sure")
        if st.form_submit_button("Delete athlete", icon=":material/delete_forever:"):
            if not sure:
                st.warning("Tick the box to confirm first.")
            else:
                try:
                    n = acc.delete_athlete(victim)
                    _done(f"Deleted {victim} and {n} session(s).")
                    st.rerun()
                except StoreError as exc:
                    st.error(f"That did not work: {md(exc)}")
