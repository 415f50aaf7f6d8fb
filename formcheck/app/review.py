"""Review page: the coach's queue of reps across sessions (flagged, all, not yet reviewed), the actions, the export."""

from __future__ import annotations

import functools
import json
import math
from typing import Any, Callable, Mapping

import streamlit as st

from formcheck.access import Access
from formcheck.app.compare import compare_toggle
from formcheck.app.results import comment_caption, evidence, flag_text, rep_clip, rep_clip_captions, video_being_made
from formcheck.app.ui import athlete_label, fault_title, fmt_time, get_access, md
from formcheck.faults import FAULT_CODES
from formcheck.storage import SEVERITIES, FlagRecord, SessionRecord, StoreError

PAGE_SIZE = 5
ALL = "(all)"
STATUS_WORDS = {"pending": "To review", "confirmed": "Confirmed", "dismissed": "Dismissed (false flag)", ALL: "All"}
STATUS_BADGE = {"pending": ":orange-badge[To review]", "confirmed": ":green-badge[Confirmed]",
                "dismissed": ":gray-badge[Dismissed]"}
SEVERITY_BADGE = {"major": ":red-badge[major]", "minor": ":orange-badge[minor]"}
ORDER_WORDS = {"newest": "Newest first", "severity": "Most severe first"}
SCOPE_WORDS = {"flagged": "Flagged reps", "all": "All reps", "unreviewed": "Not yet reviewed"}
NOTICE = "fc_review_notice"


# --------------------------------------------------------------------------- actions (widget callbacks)


def _notice(text: str) -> None:
    st.session_state[NOTICE] = text


def _safe(action: Callable[..., None]) -> Callable[..., None]:
    """A widget callback that reports a storage problem as a notice instead of failing the page."""

    @functools.wraps(action)
    def run(*args: Any) -> None:
        try:
            action(*args)
        except StoreError as exc:
            _notice(f"That did not work: {exc}.")

    return run


@_safe
def _set_status(store: Access, flag_id: int, status: str) -> None:
    f = store.set_review(flag_id, status=status)
    _notice(f"Rep {f.rep}, {fault_title(f.code)}: {STATUS_WORDS[status].lower()}.")


@_safe
def _set_severity(store: Access, flag_id: int, key: str) -> None:
    value = st.session_state.get(key)
    if value in SEVERITIES:
        f = store.set_review(flag_id, severity=value)
        _notice(f"Rep {f.rep}, {fault_title(f.code)}: severity set to {value}.")


@_safe
def _comment(store: Access, flag_id: int, key: str) -> None:
    text = str(st.session_state.get(key) or "").strip()
    at_s = st.session_state.get(f"{key}-t")
    if text:
        store.add_comment(flag_id, text, t_ms=None if at_s is None else float(at_s) * 1000.0)
        st.session_state[key] = ""
        st.session_state[f"{key}-t"] = None
        _notice("Comment saved." if at_s is None else f"Comment saved at {float(at_s):.2f} s.")


@_safe
def _add_missed(store: Access, session_id: str, rep: int, key: str) -> None:
    code = st.session_state.get(f"{key}-code")
    severity = st.session_state.get(f"{key}-sev") or "minor"
    f = store.add_missed_fault(session_id, rep, code, severity=severity,
                               comment=str(st.session_state.get(f"{key}-note") or ""))
    st.session_state[f"{key}-note"] = ""
    _notice(f"Added {fault_title(f.code)} on rep {f.rep} as a confirmed fault.")


@_safe
def _mark_reviewed(store: Access, session_id: str) -> None:
    store.mark_session_reviewed(session_id)
    _notice("Session marked as reviewed: its other faults export as 'no'.")


# --------------------------------------------------------------------------- one rep's card


def _flag_block(store: Access, f: FlagRecord, rep: Any = None) -> None:
    """One flag of a rep: evidence, status and the actions on it (``rep``: the rep's entry of the report,
    for the time a comment can be pinned to)."""
    with st.container(border=True, key=f"flag-{f.id}"):
        st.markdown(f"**{fault_title(f.code)}** {SEVERITY_BADGE[f.severity]} {STATUS_BADGE[f.review_status]}")
        if f.origin == "coach":
            st.caption("Added by the coach: formcheck did not flag it.")
        else:
            conf = f"{f.confidence:.0%}" if f.confidence is not None else "–"
            t = f"{f.t_ms / 1000:.2f} s" if f.t_ms is not None else "–"
            st.markdown(f"{evidence(f.measured, f.limit, f.units, f.measure)} at {t} ({f.phase or 'rep'}), "
                        f"confidence {conf}")
            text = flag_text(f.message, f.measured, f.limit, f.measure)
            if text:
                st.caption(text)
            if f.auto_severity and f.auto_severity != f.severity:
                st.caption(f"formcheck said {f.auto_severity}; the coach changed it to {f.severity}.")
        b1, b2, b3 = st.columns([1, 1, 1.2], vertical_alignment="bottom")
        b1.button("Confirm", key=f"confirm-{f.id}", icon=":material/check:", width="stretch",
                  type="primary" if f.review_status == "pending" else "secondary",
                  disabled=f.review_status == "confirmed", on_click=_set_status, args=(store, f.id, "confirmed"))
        b2.button("Dismiss", key=f"dismiss-{f.id}", icon=":material/close:", width="stretch",
                  help="A false flag: the fault is not there",
                  disabled=f.review_status == "dismissed", on_click=_set_status, args=(store, f.id, "dismissed"))
        sev_key = f"sev-{f.id}-{f.severity}"
        b3.segmented_control("Severity", list(SEVERITIES), default=f.severity, key=sev_key,
                             on_change=_set_severity, args=(store, f.id, sev_key), label_visibility="collapsed")
        for c in f.comments:  # pinned to a time first, in time order (the store's order)
            st.caption(comment_caption(c))
        ckey = f"comment-{f.id}"
        # The time comes first: typing the comment and leaving the box saves it (with the time set).
        c1, c2, c3 = st.columns([1.1, 3, 1], vertical_alignment="bottom")
        if rep is not None:
            lo, hi = math.ceil(rep["start_ms"] / 10) / 100, math.floor(rep["end_ms"] / 10) / 100  # inside the rep
            c1.number_input("At (s)", min_value=lo, max_value=hi, value=None, step=0.05, format="%.2f",
                            key=f"{ckey}-t", placeholder="at (s)", label_visibility="collapsed",
                            help=f"Optional: pin the comment to a time in the rep ({lo:.2f}-{hi:.2f} s of the clip); "
                                 "it then shows on the video around that time")
        c2.text_input("Comment", key=ckey, max_chars=500, placeholder="Add a comment: what did you see?",
                      label_visibility="collapsed", on_change=_comment, args=(store, f.id, ckey))
        c3.button("Save", key=f"save-{ckey}", on_click=_comment, args=(store, f.id, ckey), width="stretch")
        if f.review_status != "pending":
            st.button("Back to 'to review'", key=f"reset-{f.id}", type="tertiary",
                      on_click=_set_status, args=(store, f.id, "pending"))


def borderline_of_rep(report: Mapping[str, Any], rep_no: int) -> list[Mapping[str, Any]]:
    """The report's borderline readings on rep ``rep_no`` (past the limit within the error band: not flags)."""
    return [b for b in report.get("borderline", []) if int(b.get("rep", -1)) == rep_no]


def _borderline_block(b: Mapping[str, Any]) -> None:
    """A borderline reading: shown to the coach, clearly marked, with no review actions (it is not a flag)."""
    with st.container(border=True):
        st.markdown(f"**{fault_title(b['code'])}** :orange-badge[Borderline: not a flag]")
        st.caption(md(str(b.get("message", ""))))


def rep_card(store: Access, session: SessionRecord, rep_no: int, queued: list[FlagRecord]) -> None:
    """One rep: its slow-motion clip and worst moments, each shown flag with its actions (none for a clean
    rep), and the form to add a fault formcheck missed."""
    key = f"rep-{session.id[:12]}-{rep_no}"
    with st.container(border=True, key=key):
        st.markdown(f"#### Rep {rep_no} · {md(session.source_name)}")
        st.caption(f"{md(athlete_label(session.athlete))} · {session.lift} · {session.view} view · "
                   f"{fmt_time(session.created_at)}")
        left, right = st.columns([1, 1], gap="medium")
        with left:
            # A flagged rep's clip is shown at once (cut at analysis time, or now); a clean rep's only when
            # asked for, so a page of clean reps does not cut five clips before it shows.
            have = store.rep_clip_path(session, rep_no).is_file()
            if have or queued or st.toggle(f"Watch rep {rep_no} in slow motion", key=f"{key}-watch"):
                clip = rep_clip(store, session, rep_no)
                if clip is not None:
                    st.video(str(clip), loop=True, muted=True,
                             subtitles=rep_clip_captions(session, rep_no, store.flags_for_session(session.id)))
                    st.caption(f"Rep {rep_no} at ¼ speed, looping: press play.")
                elif store.video_job(session.id) is not None:
                    video_being_made(store, session.id, "The video of this session is being made: the rep's "
                                     "slow-motion clip appears here when it is ready.")
                else:
                    st.caption("There is no video of this session to cut the rep from.")
            worst = [(f, session.file(f"worst_{rep_no}_{f.code}")) for f in queued]
            worst = [(f, p) for f, p in worst if p is not None]
            if worst:
                with st.expander("Worst moments (still frames)"):
                    for f, p in worst:
                        st.image(str(p), caption=fault_title(f.code), width="stretch")
        with right:
            near = borderline_of_rep(session.report, rep_no)
            if not queued:
                st.markdown(":green-badge[No flag] formcheck flagged nothing on this rep.")
                st.caption("Saw a fault anyway? Add it below.")
            for f in queued:
                _flag_block(store, f, session.rep(rep_no))
            for b in near:
                _borderline_block(b)
        _missed_fault_form(store, session, rep_no)
        compare_toggle(store, session, rep_no, key=key)


def _missed_fault_form(store: Access, session: SessionRecord, rep_no: int) -> None:
    key = f"missed-{session.id[:12]}-{rep_no}"
    with st.expander(f"Add a fault formcheck missed on rep {rep_no}"):
        flagged = {x.code for x in store.flags_for_session(session.id) if x.rep == rep_no}
        options = [c for c in store.judged_codes(session) if c not in flagged]
        if not options:
            st.caption("Every fault judged for this lift is already flagged on this rep.")
        else:
            c1, c2 = st.columns([2, 1])
            c1.selectbox("Fault", options, format_func=fault_title, key=f"{key}-code")
            c2.segmented_control("Severity", list(SEVERITIES), default="minor", key=f"{key}-sev")
            st.text_input("Note (optional)", key=f"{key}-note", max_chars=500)
            st.button("Add missed fault", key=f"{key}-add", icon=":material/add:",
                      on_click=_add_missed, args=(store, session.id, rep_no, key))
        if session.reviewed_at is None:
            st.caption("Looked at the whole clip and found nothing else? Then the faults formcheck judged clear "
                       "count as 'no' in the export.")
            st.button("Mark this session reviewed", key=f"{key}-done", on_click=_mark_reviewed,
                      args=(store, session.id))


def group_by_rep(queue: list[FlagRecord]) -> list[tuple[str, int, list[FlagRecord]]]:
    """The queue's flags grouped by (session, rep), in the queue's order of first appearance."""
    groups: dict[tuple[str, int], list[FlagRecord]] = {}
    for f in queue:
        groups.setdefault((f.session_id, f.rep), []).append(f)
    return [(sid, rep, fl) for (sid, rep), fl in groups.items()]


# --------------------------------------------------------------------------- page


def _export(store: Access, athlete: str | None, lift: str | None) -> None:
    st.subheader("Export reviewed flags")
    labels = store.export_labels(athlete=athlete, lift=lift)
    st.write(f"{len(labels)} reviewed session(s) with the current athlete and lift filters (a session counts once "
             "you confirmed, dismissed, re-graded or commented a flag, added a fault or marked it reviewed). The "
             "labels file follows the `labels.json` format of the hand labels: confirmed → yes, dismissed → no, not "
             "reviewed → unsure, a missed fault you added → yes, faults not judged for the lift → n/a; each entry's "
             "`review` lists every flag with its decision, severities and comments.")
    c1, c2 = st.columns(2)
    c1.download_button("labels.json", data=json.dumps(labels, indent=2, ensure_ascii=False), file_name="labels.json",
                       mime="application/json", icon=":material/download:", disabled=not labels, on_click="ignore",
                       key="export-json")
    c2.download_button("flags.csv", data=store.export_flags_csv(athlete=athlete, lift=lift), file_name="flags.csv",
                       mime="text/csv", icon=":material/download:", disabled=not labels, on_click="ignore",
                       key="export-csv")


def render() -> None:
    store = get_access()  # every read and action below goes through the access rules
    store.require_reviewer()
    st.title("Review flags")
    st.write("Watch each flagged rep, then confirm it or dismiss it as a false flag, adjust the severity, leave a "
             "comment or add a fault formcheck missed, on any rep, clean ones too (Show: All reps). Every decision "
             "is saved and becomes labelled data.")
    if not store.list_sessions(limit=1):
        st.info("Nothing to review yet. Analyse a clip first: its flagged reps appear here.", icon=":material/info:")
        st.page_link("formcheck/app/pages/analyse.py", label="Go to Analyse", icon=":material/play_circle:")
        return
    scope = st.segmented_control("Show", list(SCOPE_WORDS), format_func=SCOPE_WORDS.__getitem__, default="flagged",
                                 key="rv-scope", help="Flagged reps: the flags to judge. All reps: every rep of "
                                 "every session, clean ones too, to add a fault formcheck missed. Not yet reviewed: "
                                 "reps with a flag waiting, and every rep of a session nobody has reviewed.") or "flagged"
    c = st.columns(5)
    athletes = store.athletes()
    athlete = c[0].selectbox("Athlete", [ALL, *athletes], format_func=lambda a: a if a == ALL else athlete_label(a),
                             key="rv-athlete")
    lift = c[1].selectbox("Lift", [ALL, "squat", "deadlift"], key="rv-lift")
    code = c[2].selectbox("Fault", [ALL, *FAULT_CODES], format_func=lambda x: x if x == ALL else fault_title(x),
                          key="rv-code")
    since = c[3].date_input("From", value=None, key="rv-since", help="Sessions analysed on this day or later")
    until = c[4].date_input("To", value=None, key="rv-until", help="Sessions analysed on this day or earlier")
    f_athlete = None if athlete == ALL else athlete
    f_lift = None if lift == ALL else lift
    f_code = None if code == ALL else code
    notice = st.session_state.pop(NOTICE, None)
    if notice:
        st.toast(md(notice), icon="✅")
    if scope == "flagged":
        c2 = st.columns(5)
        status = c2[0].selectbox("Status", list(STATUS_WORDS), format_func=STATUS_WORDS.__getitem__, key="rv-status")
        order = c2[1].selectbox("Order", list(ORDER_WORDS), format_func=ORDER_WORDS.__getitem__, key="rv-order")
        queue = store.review_queue(athlete=f_athlete, lift=f_lift, code=f_code, since=since, until=until,
                                   status=None if status == ALL else status, order=order)
        groups = group_by_rep(queue)
        if not queue:
            if status == "pending":
                st.success("All caught up: no flag is waiting for review with these filters.",
                           icon=":material/done_all:")
            else:
                st.info("No flag matches these filters.", icon=":material/filter_alt_off:")
        summary = f"{len(queue)} flag(s) on {len(groups)} rep(s)"
    else:
        items = store.rep_queue(scope=scope, athlete=f_athlete, lift=f_lift, code=f_code, since=since, until=until)
        groups = [(i.session.id, i.rep, list(i.flags)) for i in items]
        if not items:
            if scope == "unreviewed":
                st.success("All caught up: every rep with these filters has been reviewed.",
                           icon=":material/done_all:")
            else:
                st.info("No rep matches these filters.", icon=":material/filter_alt_off:")
        clean = sum(not i.flags for i in items)
        summary = f"{len(items)} rep(s), {clean} without a flag"
    if groups:
        pages = (len(groups) + PAGE_SIZE - 1) // PAGE_SIZE
        page = 1
        if pages > 1:
            page = st.number_input(f"Page (of {pages})", 1, pages, 1, key=f"rv-page-{scope}")
        st.caption(f"{summary}; showing reps {(page - 1) * PAGE_SIZE + 1}-{min(len(groups), page * PAGE_SIZE)}.")
        sessions: dict[str, SessionRecord | None] = {}
        for sid, rep_no, fl in groups[(page - 1) * PAGE_SIZE: page * PAGE_SIZE]:
            if sid not in sessions:
                sessions[sid] = store.session_or_none(sid)
            session = sessions[sid]
            if session is not None:
                rep_card(store, session, rep_no, fl)
    st.divider()
    _export(store, f_athlete, f_lift)
