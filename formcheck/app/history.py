"""History page: an athlete's sessions over time, how often each fault shows up, and each session's results."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from formcheck.app.results import delete_control, deleted_notice, render_session
from formcheck.access import AccessDenied
from formcheck.app.ui import athlete_label, fault_title, fmt_time, get_access, md
from formcheck.faults import FAULT_CODES
from formcheck.storage import HistoryPoint


def trend_frame(history: list[HistoryPoint]) -> pd.DataFrame:
    """One row per session and fault seen in any session: the share of the session's reps with it (%)."""
    seen = [c for c in FAULT_CODES if any(h.fault_reps.get(c) for h in history)]
    rows = []
    for i, h in enumerate(history, 1):
        for code in seen:
            rate = h.rate(code)
            rows.append({"session": i, "when": h.created_at, "clip": h.source_name, "fault": fault_title(code),
                         "code": code, "rate": None if pd.isna(rate) else round(100 * rate, 1),
                         "reps": h.fault_reps.get(code, 0), "of": h.rep_count})
    return pd.DataFrame(rows)


def trend_chart(df: pd.DataFrame) -> alt.Chart:
    pick = alt.selection_point(fields=["fault"], bind="legend")
    return (alt.Chart(df).mark_line(point=alt.OverlayMarkDef(size=70))
            .encode(x=alt.X("when:T", title="session date", axis=alt.Axis(format="%b %d %H:%M", labelAngle=0)),
                    y=alt.Y("rate:Q", title="reps with the fault (%)", scale=alt.Scale(domain=[0, 100])),
                    color=alt.Color("fault:N", title=None, legend=alt.Legend(orient="top")),
                    opacity=alt.condition(pick, alt.value(1.0), alt.value(0.15)),
                    tooltip=[alt.Tooltip("fault:N"), alt.Tooltip("when:T", title="date", format="%Y-%m-%d %H:%M"),
                             alt.Tooltip("reps:Q", title="reps with it"), alt.Tooltip("of:Q", title="reps"),
                             alt.Tooltip("rate:Q", title="%")])
            .add_params(pick).properties(height=300))


#: URL query parameter opening one session (a link to it): looked up through the access rules.
SESSION_PARAM = "session"


def _open_linked_session() -> None:
    """``?session=<id>`` picks that session (once), if this user may open it; else says no."""
    wanted = st.query_params.get(SESSION_PARAM)
    if wanted is None:
        return
    del st.query_params[SESSION_PARAM]
    try:
        linked = get_access().session(str(wanted))
    except AccessDenied as exc:
        st.error(f"Not allowed: {md(exc)}", icon=":material/block:")
        return
    st.session_state["hist-athlete"] = linked.athlete
    st.session_state["hist-session"] = linked.id


def render() -> None:
    acc = get_access()
    st.title("Athlete history")
    deleted_notice()
    _open_linked_session()
    athletes = [a for a in acc.athletes() if a == "" or acc.list_sessions(athlete=a, limit=1)]
    if not athletes:
        st.info("No sessions yet. Analyse a clip (give the athlete's name) and it shows up here, with how each "
                "fault trends from session to session.", icon=":material/info:")
        st.page_link("formcheck/app/pages/analyse.py", label="Go to Analyse", icon=":material/play_circle:")
        return
    if st.session_state.get("hist-athlete") not in (None, *athletes):
        del st.session_state["hist-athlete"]  # the athlete's last session was deleted
    athlete = st.selectbox("Athlete", athletes, format_func=athlete_label, key="hist-athlete")
    history = acc.athlete_history(athlete)
    c = st.columns(5)
    c[0].metric("Sessions", len(history))
    c[1].metric("Reps analysed", sum(h.rep_count for h in history))
    c[2].metric("Flags to review", sum(h.pending for h in history))
    c[3].metric("Confirmed", sum(h.confirmed for h in history), help="Confirmed flags and faults the coach added")
    c[4].metric("Dismissed", sum(h.dismissed for h in history), help="False flags")

    df = trend_frame(history)
    st.subheader("How often each fault shows up")
    if df.empty:
        st.success("No fault in any session so far (dismissed flags do not count).", icon=":material/done_all:")
    else:
        st.altair_chart(trend_chart(df), width="stretch")
        st.caption("Share of each session's reps with the fault, after the coach's review (dismissed flags left "
                   "out, missed faults added). Click a legend entry to pick one fault.")
        codes = list(dict.fromkeys(df["code"]))
        cols = st.columns(min(4, len(codes)))
        for i, code in enumerate(codes):
            series = df[df["code"] == code]["rate"].fillna(0).tolist()
            delta = round(series[-1] - series[-2], 1) if len(series) > 1 else None
            cols[i % len(cols)].metric(fault_title(code), f"{series[-1]:.0f}%", delta=None if delta is None else f"{delta:+.0f} pts",
                                       delta_color="inverse", chart_data=series if len(series) > 1 else None,
                                       help="Latest session, and the change since the one before", border=True)

    st.subheader("Sessions")
    table = pd.DataFrame([{"Date": fmt_time(h.created_at), "Clip": h.source_name, "Lift": h.lift, "Reps": h.rep_count,
                           "Faults (reps)": ", ".join(f"{fault_title(k)} ({v})" for k, v in h.fault_reps.items()) or "–",
                           "To review": h.pending, "Confirmed": h.confirmed, "Dismissed": h.dismissed}
                          for h in reversed(history)])
    st.dataframe(table, hide_index=True, width="stretch")

    sessions = acc.list_sessions(athlete=athlete)
    labels = {s.id: f"{fmt_time(s.created_at)} · {s.source_name} · {s.lift}, {s.rep_count} reps" for s in sessions}
    pick = st.selectbox("Open a session", list(labels), format_func=labels.__getitem__, key="hist-session")
    session = next((s for s in sessions if s.id == pick), sessions[0])
    st.divider()
    render_session(acc, session, key=f"hist-{session.id[:8]}")
    if acc.can_review:
        st.divider()
        delete_control(acc, session, key=f"hist-{session.id[:8]}", forget=("hist-session",))
