"""One session's results: cards, video, reps, angle chart, flagged reps, guidance, downloads."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

import altair as alt
import pandas as pd
import streamlit as st

from formcheck.app.compare import compare_toggle
from formcheck.app.media import CLIP_PAD_MS, SLOWDOWN, caption_frame, frame_at, make_rep_clip
from formcheck.app.ui import athlete_label, fault_title, fmt_time, md
from formcheck.measures import chart_label, flag_evidence, flag_sentence, measure_book, phases_text, tempo_text
from formcheck.report import UNSEEN_LABEL, min_quality_for, unseen_spans, upgrade_report
from formcheck.reps import DEADLIFT_PHASES, SQUAT_PHASES
from formcheck.storage import CommentRecord, FlagRecord, SessionRecord, Store, StoreError
from formcheck.timeline import comments_near, webvtt

if TYPE_CHECKING:
    from formcheck.access import Access
from formcheck.video import VideoError

REVIEW_WORDS = {"pending": "to review", "confirmed": ":green[confirmed]", "dismissed": ":gray[~~dismissed~~]"}
ANGLES = {"trunk_deg": "Trunk lean", "hip_deg": "Hip angle", "knee_deg": "Knee angle"}
FLAG_RED = "#b42318"
UNSEEN_GREY = "#9ca3af"
REP_BLUE = "#2e90fa"


# --------------------------------------------------------------------------- formatting


def evidence(measured: float | None, limit: float | None, units: str, measure: str = "") -> str:
    """"most forward torso lean 55° (limit 52°)" for a flag (:func:`formcheck.measures.flag_evidence`);
    "added by the coach" without a measurement."""
    if measured is None:
        return "added by the coach"
    return flag_evidence(measure, measured, limit, units)


def flag_text(message: str, measured: float | None, limit: float | None, measure: str) -> str:
    """The flag's "what we saw" sentence from its measure's definition (so a session stored with
    older wording reads the same as a new one); the stored ``message`` when it cannot be made."""
    if measured is None or limit is None or measure not in measure_book().measures:
        return message
    return flag_sentence(measure, measured, limit)


#: What the tempo column lists, per lift (the phase names of formcheck.reps, in order).
TEMPO_HELP = (f"Time spent in each phase of the rep: {phases_text(SQUAT_PHASES)} for a squat, "
              f"{phases_text(DEADLIFT_PHASES)} for a deadlift")


def _s(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.2f} s"


def download_stem(name: str) -> str:
    """A download file name stem from the clip's display name (letters, digits, - and _ only)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(name).stem).strip("_")[:60]
    return stem or "formcheck"


@st.cache_data(show_spinner=False, max_entries=32)
def load_frames(csv_path: str, mtime_ns: int) -> pd.DataFrame:
    """The per-frame CSV (frame, t_ms, rep, angles, ...) with a t_s column."""
    df = pd.read_csv(csv_path)
    df["t_s"] = df["t_ms"] / 1000.0
    df["rep"] = df["rep"].fillna(0).astype(int)
    return df


def session_frames(session: SessionRecord) -> pd.DataFrame | None:
    p = session.file("csv")
    return load_frames(str(p), p.stat().st_mtime_ns) if p is not None else None


@st.cache_data(show_spinner=False, max_entries=64)
def _frame_image(video: str, mtime_ns: int, t_ms: float) -> Any:
    return frame_at(video, t_ms)


def comment_caption(c: CommentRecord) -> str:
    """"💬 at 2.10 s: text · date" (user text escaped; the time only for a comment pinned to one)."""
    at = f"at {c.t_ms / 1000:.2f} s: " if c.t_ms is not None else ""
    return f"💬 {at}{md(c.text)} · {fmt_time(c.created_at)}"


def timed_comments(flag_records: Sequence[FlagRecord], rep_no: int | None = None) -> list[tuple[float, str]]:
    """The comments pinned to a time, of one rep's flags (every rep when ``rep_no`` is None), in time order."""
    out = [(c.t_ms, c.text) for f in flag_records if rep_no is None or f.rep == rep_no
           for c in f.comments if c.t_ms is not None]
    return sorted(out, key=lambda x: x[0])


def _captions(vtt: str | None) -> dict[str, bytes] | None:
    return {"Coach's comments": vtt.encode("utf-8")} if vtt else None


def video_captions(flag_records: Sequence[FlagRecord]) -> dict[str, bytes] | None:
    """Captions for the whole annotated video: each timed comment around its time (None without any)."""
    return _captions(webvtt(timed_comments(flag_records)))


def rep_clip_captions(session: SessionRecord, rep_no: int, flag_records: Sequence[FlagRecord]) -> dict[str, bytes] | None:
    """Captions for a rep's slow-motion clip (its time starts at the rep's start less the pad, runs slower)."""
    rep = session.rep(rep_no)
    if rep is None:
        return None
    start = max(0.0, float(rep["start_ms"]) - CLIP_PAD_MS)
    return _captions(webvtt(timed_comments(flag_records, rep_no), clip_start_ms=start, slowdown=SLOWDOWN,
                            clip_end_ms=float(rep["end_ms"]) + CLIP_PAD_MS))


# --------------------------------------------------------------------------- tables and charts


def rep_table(report: Mapping[str, Any], frames: pd.DataFrame | None) -> pd.DataFrame:
    rows = []
    for r in report.get("reps", []):
        n = r["rep"]
        tempo = tempo_text(r.get("tempo_ms", {}))
        fl = [f for f in report.get("flags", []) if f["rep"] == n]
        row: dict[str, Any] = {"Rep": n, "Start (s)": r["start_ms"] / 1000, "Bottom (s)": r["bottom_ms"] / 1000,
                               "End (s)": r["end_ms"] / 1000, "Tempo": tempo}
        if frames is not None:
            in_rep = frames[frames["rep"] == n]
            for col, label, fn in (("trunk_deg", "Max trunk lean (°)", "max"), ("hip_deg", "Min hip angle (°)", "min"),
                                   ("knee_deg", "Min knee angle (°)", "min")):
                v = getattr(in_rep[col], fn)() if col in in_rep and len(in_rep) else math.nan
                row[label] = round(float(v), 1) if pd.notna(v) else None
        row["Flags"] = "; ".join(f"{fault_title(f['code'])}: {evidence(f['measured'], f['limit'], f['units'], f.get('measure', ''))} "
                                 f"[{f['severity']}]" for f in fl) or "–"
        near = [b for b in report.get("borderline", []) if b["rep"] == n]
        row["Borderline (not flags)"] = "; ".join(
            f"{fault_title(b['code'])}: {evidence(b['measured'], b['limit'], b['units'], b.get('measure', ''))} "
            f"(within ±{b['band']:g})" for b in near) or "–"
        rows.append(row)
    return pd.DataFrame(rows)


def angle_chart(frames: pd.DataFrame, reps: Sequence[Mapping[str, Any]], flags: Sequence[Mapping[str, Any]],
                height: int = 320, min_quality: float | None = None) -> alt.LayerChart:
    """Trunk, hip and knee angles over time; reps shaded and labelled, flags marked (hover for details).

    With ``min_quality`` and a ``quality`` column, the stretches tracked below it are shaded grey
    ("not seen clearly") and their angles drawn as grey dashes, not as measurements."""
    cols = [c for c in ANGLES if c in frames]
    df = frames.copy()
    low = (~(df["quality"] >= min_quality)) if min_quality is not None and "quality" in df else pd.Series(False, df.index)
    near = low | low.shift(-1, fill_value=False) | low.shift(1, fill_value=False)  # joins the dashes to the lines
    df["_seen_run"] = (low != low.shift(fill_value=False)).cumsum()
    df["_low"], df["_near"] = low, near
    df["_unseen_run"] = (near != near.shift(fill_value=False)).cumsum()
    long = df.melt(id_vars=["t_s", "rep", "_low", "_near", "_seen_run", "_unseen_run"], value_vars=cols,
                   var_name="signal", value_name="degrees")
    long["angle"] = long["signal"].map(ANGLES)
    long = long.dropna(subset=["degrees"])
    pick = alt.selection_point(fields=["angle"], bind="legend")
    x = alt.X("t_s:Q", title="time (s)")
    lines = (alt.Chart(long[~long["_low"]].drop(columns=["_low", "_near", "_unseen_run"])).mark_line(strokeWidth=2)
             .encode(x=x, y=alt.Y("degrees:Q", title="degrees"),
                     color=alt.Color("angle:N", title=None, legend=alt.Legend(orient="top")),
                     detail="_seen_run:N",
                     opacity=alt.condition(pick, alt.value(1.0), alt.value(0.12)),
                     tooltip=[alt.Tooltip("angle:N"), alt.Tooltip("t_s:Q", title="time (s)", format=".2f"),
                              alt.Tooltip("degrees:Q", format=".1f")])
             .add_params(pick))
    layers: list[alt.Chart] = []
    if bool(low.any()):
        spans = unseen_spans(df["t_ms"] if "t_ms" in df else df["t_s"] * 1000, df["quality"], min_quality)
        band = pd.DataFrame([{"start": a / 1000, "end": b / 1000, "what": f"{UNSEEN_LABEL}: the joints behind these "
                              f"angles were tracked below {min_quality:g} (0 = not seen, 1 = clearly); not a "
                              "measurement"} for a, b in spans])
        layers.append(alt.Chart(band).mark_rect(opacity=0.22, color=UNSEEN_GREY).encode(
            x="start:Q", x2="end:Q", tooltip=[alt.Tooltip("what:N", title=""),
                                              alt.Tooltip("start:Q", format=".2f"), alt.Tooltip("end:Q", format=".2f")]))
        dashed = long[long["_near"]].drop(columns=["_low", "_near", "_seen_run"])
        layers.append(alt.Chart(dashed).mark_line(strokeWidth=1.5, strokeDash=[4, 3], color=UNSEEN_GREY).encode(
            x="t_s:Q", y="degrees:Q", detail=["angle:N", "_unseen_run:N"],
            tooltip=[alt.Tooltip("angle:N"), alt.Tooltip("t_s:Q", title="time (s)", format=".2f"),
                     alt.Tooltip("degrees:Q", title=f"degrees ({UNSEEN_LABEL})", format=".1f")]))
    if reps:
        rep_df = pd.DataFrame([{"rep": f"rep {r['rep']}", "start": r["start_ms"] / 1000, "end": r["end_ms"] / 1000,
                                "bottom": r["bottom_ms"] / 1000} for r in reps])
        layers.append(alt.Chart(rep_df).mark_rect(opacity=0.10, color=REP_BLUE).encode(
            x="start:Q", x2="end:Q",
            tooltip=[alt.Tooltip("rep:N"), alt.Tooltip("start:Q", format=".2f"), alt.Tooltip("end:Q", format=".2f")]))
        layers.append(alt.Chart(rep_df).mark_rule(color=REP_BLUE, strokeDash=[2, 3], opacity=0.6).encode(x="bottom:Q"))
        layers.append(alt.Chart(rep_df).mark_text(align="left", baseline="bottom", dx=3, dy=-3, color=REP_BLUE).encode(
            x="start:Q", y=alt.value(height), text="rep:N"))
    layers.append(lines)
    if flags:
        flag_df = pd.DataFrame([{"fault": fault_title(f["code"]), "rep": f["rep"], "t": f["t_ms"] / 1000,
                                 "severity": f["severity"],
                                 "measure": (chart_label(f["measure"]) if f.get("measure") in measure_book().measures
                                             else ""),
                                 "evidence": evidence(f["measured"], f["limit"], f["units"], f.get("measure", ""))}
                                for f in flags])
        tips = [alt.Tooltip("fault:N"), alt.Tooltip("rep:Q"), alt.Tooltip("t:Q", title="time (s)", format=".2f"),
                alt.Tooltip("measure:N"), alt.Tooltip("evidence:N"), alt.Tooltip("severity:N")]
        layers.append(alt.Chart(flag_df).mark_rule(color=FLAG_RED, strokeDash=[5, 3]).encode(x="t:Q", tooltip=tips))
        layers.append(alt.Chart(flag_df).mark_point(shape="triangle-down", filled=True, size=110, color=FLAG_RED)
                      .encode(x="t:Q", y=alt.value(6), tooltip=tips))
    return alt.layer(*layers).properties(height=height).interactive(bind_y=False)


# --------------------------------------------------------------------------- sections


def review_summary(counts: Mapping[str, int]) -> str:
    """"2 to review · 1 confirmed · 1 dismissed" (states with none left out; "no flags" when empty)."""
    parts = [f"{counts.get(k, 0)} {w}" for k, w in (("pending", "to review"), ("confirmed", "confirmed"),
                                                     ("dismissed", "dismissed")) if counts.get(k, 0)]
    return " · ".join(parts) or "no flags"


def _cards(report: Mapping[str, Any], counts: Mapping[str, int]) -> None:
    c = st.columns(5)
    lift_help = ("recognised from the movement" if report.get("lift_source") == "auto" else "as chosen")
    if report.get("lift_confidence") is not None:
        lift_help += f", {report['lift_confidence']:.0%} sure"
    c[0].metric("Lift", str(report.get("lift", "")).capitalize(), help=lift_help.capitalize())
    partial = upgrade_report(report).get("partial_reps", [])
    c[1].metric("Reps", report.get("rep_count", 0),
                help=f"{len(partial)} partial rep(s) cut by the clip's edges: not counted, not judged"
                + "".join(f"; {p['description']}" for p in partial))
    # After the coach's review: dismissed flags no longer count, added faults do.
    open_flags = counts.get("pending", 0) + counts.get("confirmed", 0)
    c[2].metric("Flags", open_flags, help=review_summary(counts).capitalize())
    c[3].metric("View", str(report.get("view", "")).capitalize(), help=f"Facing {report.get('facing', '')}")
    conf = report.get("view_confidence")
    c[4].metric("Confidence", f"{conf:.0%}" if conf is not None else "–",
                help=f"camera view {conf:.0%} sure; lifter tracked in {report.get('detection_rate', 0):.0%} of frames"
                if conf is not None else None)
    st.caption(f"Lifter tracked in {report.get('detection_rate', 0):.0%} of frames"
               + (f" · lift recognised with {report['lift_confidence']:.0%} confidence"
                  if report.get("lift_confidence") is not None else ""))


def rep_clip(store: "Store | Access", session: SessionRecord, rep_no: int) -> Path | None:
    """The slow-motion clip of one rep, cut now if it is not there yet (None without a video)."""
    path = store.rep_clip_path(session, rep_no)
    if path.is_file():
        return path
    video, rep = session.file("video"), session.rep(rep_no)
    if video is None or rep is None:
        return None
    try:
        with st.spinner(f"Cutting a slow-motion clip of rep {rep_no}…"):
            made = make_rep_clip(video, rep["start_ms"], rep["end_ms"], path)
        made.chmod(0o600)  # like every file of the session: its owner only
        return made
    except (VideoError, ValueError, OSError):
        return None


def frame_stepper(session: SessionRecord, frames: pd.DataFrame | None, rep_no: int, start_t_ms: float | None,
                  key: str, comments: Sequence[tuple[float, str]] = ()) -> float | None:
    """A slider over the rep's frames showing the annotated frame and its angles, with the timed comments
    near the frame written on it; returns the time (ms) of the frame shown (None without a stepper)."""
    video = session.file("video")
    if video is None or frames is None:
        return None
    in_rep = frames[frames["rep"] == rep_no].reset_index(drop=True)
    if len(in_rep) < 2:
        return None
    default = 0
    if start_t_ms is not None:
        default = int((in_rep["t_ms"] - start_t_ms).abs().idxmin())
    i = st.slider("Step through the rep, frame by frame", 0, len(in_rep) - 1, default, key=key,
                  help="Drag, or click the handle and use the arrow keys")
    row = in_rep.iloc[i]
    t_ms = float(row["t_ms"])
    img = _frame_image(str(video), video.stat().st_mtime_ns, t_ms)
    angles = " · ".join(f"{label} {row[c]:.0f}°" for c, label in ANGLES.items() if c in row and pd.notna(row[c]))
    near = comments_near(comments, t_ms)
    if img is not None:
        img = caption_frame(img, [f"at {t / 1000:.2f} s: {text}" for t, text in near])
        st.image(img, caption=f"frame {int(row['frame'])} at {row['t_s']:.2f} s · {angles}", width="stretch")
    for t, text in near:
        st.caption(f"💬 at {t / 1000:.2f} s: {md(text)}")
    return t_ms


def _comment_here(store: "Store | Access", key: str, t_ms: float) -> None:
    text = str(st.session_state.get(f"{key}-text") or "").strip()
    flag_id = st.session_state.get(f"{key}-flag")
    if not text or flag_id is None:
        return
    try:
        store.add_comment(int(flag_id), text, t_ms=t_ms)
        st.session_state[f"{key}-text"] = ""
        st.session_state[f"{key}-said"] = f"Comment saved at {t_ms / 1000:.2f} s."
    except StoreError as exc:
        st.session_state[f"{key}-said"] = f"That did not work: {exc}."


@st.fragment
def rep_tools(store: "Store | Access", session: SessionRecord, rep_no: int, start_t_ms: float | None, key: str) -> None:
    """The slow-motion loop and the frame stepper of one rep, the rep's timeline comments shown on both, and a
    comment pinned to the frame shown (a fragment: using them reruns only this)."""
    here = [f for f in store.flags_for_session(session.id) if f.rep == rep_no]
    if st.toggle(f"Loop rep {rep_no} in slow motion (¼ speed)", key=f"{key}-loop"):
        clip = rep_clip(store, session, rep_no)
        if clip is not None:
            st.video(str(clip), loop=True, autoplay=True, muted=True,
                     subtitles=rep_clip_captions(session, rep_no, here))
        else:
            st.info("There is no video of this session to cut the rep from.")
    timed = timed_comments(here, rep_no)
    t_ms = frame_stepper(session, session_frames(session), rep_no, start_t_ms, key=f"{key}-step", comments=timed)
    if t_ms is None or not here or not getattr(store, "can_review", True):  # athletes comment on nothing
        return
    ckey = f"{key}-tc"
    with st.expander(f"Comment at this frame ({t_ms / 1000:.2f} s)"
                     + (f" · {len(timed)} on this rep's timeline" if timed else "")):
        for f in here:
            for c in f.comments:
                if c.t_ms is not None:
                    st.caption(f"{fault_title(f.code)}: {comment_caption(c)}")
        names = {f.id: f"{fault_title(f.code)} ({f.review_status})" for f in here}
        if len(here) > 1:
            st.selectbox("On the flag", list(names), format_func=names.__getitem__, key=f"{ckey}-flag")
        else:
            st.session_state[f"{ckey}-flag"] = here[0].id
        st.text_input("Comment", key=f"{ckey}-text", max_chars=500,
                      placeholder="What happens at this frame? Shown on the video around this time.")
        st.button(f"Pin the comment at {t_ms / 1000:.2f} s", key=f"{ckey}-save", icon=":material/push_pin:",
                  on_click=_comment_here, args=(store, ckey, t_ms))
        said = st.session_state.pop(f"{ckey}-said", None)
        if said:
            st.caption(md(said))


def _flagged_reps(store: "Store | Access", session: SessionRecord, key: str) -> None:
    report = session.report
    by_rep: dict[int, list[Mapping[str, Any]]] = {}
    for f in report.get("flags", []):
        by_rep.setdefault(int(f["rep"]), []).append(f)
    near = report.get("borderline", [])
    if near:
        with st.expander(f"Borderline: {len(near)} reading(s) within our measurement error of a limit (not flags)"):
            for b in near:
                st.markdown(f"Rep {b['rep']} · **{fault_title(b['code'])}** :orange-badge[Borderline: not a flag]")
                st.caption(md(str(b.get("message", ""))))
    if not by_rep:
        st.success("No fault was flagged on any rep. Keep filming from the side to track your form over time.")
        return
    for n, (rep_no, fl) in enumerate(sorted(by_rep.items())):
        titles = ", ".join(fault_title(f["code"]) for f in fl)
        with st.expander(f"Rep {rep_no}: {titles}", expanded=n == 0):
            left, right = st.columns(2)
            with left:
                for f in fl:
                    sev = ":red[major]" if f["severity"] == "major" else ":orange[minor]"
                    st.markdown(f"**{fault_title(f['code'])}** ({sev}, confidence {f['confidence']:.0%}) at "
                                f"{_s(f['t_ms'])}: {evidence(f['measured'], f['limit'], f['units'], f.get('measure', ''))}")
                    text = flag_text(str(f.get("message", "")), f.get("measured"), f.get("limit"), f.get("measure", ""))
                    if text:
                        st.caption(text)
                for f in fl:
                    img = session.file(f"worst_{rep_no}_{f['code']}")
                    if img is not None:
                        st.image(str(img), caption=f"{fault_title(f['code'])}: the worst moment", width="stretch")
            with right:
                rep_tools(store, session, rep_no, fl[0].get("t_ms"), key=f"{key}-{rep_no}")
            compare_toggle(store, session, rep_no, key=f"{key}-{rep_no}")


def guidance_panel(report: Mapping[str, Any]) -> None:
    g = report.get("guidance", {})
    st.subheader("What to work on")
    faults = g.get("faults", [])
    if not faults:
        st.write("No fault was flagged, so there is nothing specific to fix. Keep the same set-up and film again "
                 "as the weight goes up.")
    top = g.get("top_causes", [])
    if top:
        st.markdown("**Most likely causes, in order:** " + " → ".join(f"{i}. {c['name']}" for i, c in enumerate(top, 1)))
    for i, fg in enumerate(faults):
        with st.expander(fg["title"], expanded=i == 0, icon=":material/healing:"):
            st.write(fg["why"])
            st.markdown(f"Cue: *{fg['cue']}*")
            for c in fg.get("causes", []):
                note = f": {c['note']}" if c.get("note") else ""
                fixes = "\n".join(f"    - {fx}" for fx in c.get("fixes", []))
                st.markdown(f"- **{c['name']}**{note}\n{fixes}")
    if g.get("red_flag_notice"):
        st.warning(g["red_flag_notice"], icon="⚠️")
    if g.get("disclaimer"):
        st.caption(g["disclaimer"])
    if g.get("credit"):
        st.caption(g["credit"])


def _downloads(session: SessionRecord, key: str) -> None:
    st.subheader("Downloads")
    stem = download_stem(session.source_name)
    items = [("json", "JSON report", f"{stem}.report.json", "application/json"),
             ("csv", "Per-frame CSV", f"{stem}.frames.csv", "text/csv"),
             ("html", "HTML report", f"{stem}.report.html", "text/html"),
             ("video", "Annotated video", f"{stem}.annotated.mp4", "video/mp4")]
    cols = st.columns(len(items))
    for col, (name, label, file_name, mime) in zip(cols, items):
        path = session.file(name)
        with col:
            if path is None:
                st.button(label, disabled=True, key=f"{key}-dl-{name}", help="Not available for this session")
            else:
                st.download_button(label, data=lambda p=path: p.read_bytes(), file_name=file_name, mime=mime,
                                   key=f"{key}-dl-{name}", icon=":material/download:", on_click="ignore")


def _reviewed_downloads(store: "Store | Access", session: SessionRecord, key: str) -> None:
    """The report re-rendered with the coach's decisions and comments (made when asked for)."""
    stem = download_stem(session.source_name)
    st.caption("After the coach's review: confirmed, dismissed and added faults, changed severities and comments.")
    c1, c2, _ = st.columns([1, 1, 2])
    with c1:
        st.download_button("Reviewed report (HTML)", data=lambda: store.reviewed_report(session.id, "html") or "",
                           file_name=f"{stem}.reviewed.html", mime="text/html", key=f"{key}-dl-reviewed-html",
                           icon=":material/download:", on_click="ignore")
    with c2:
        st.download_button("Reviewed report (Markdown)", data=lambda: store.reviewed_report(session.id, "md") or "",
                           file_name=f"{stem}.reviewed.md", mime="text/markdown", key=f"{key}-dl-reviewed-md",
                           icon=":material/download:", on_click="ignore")


DELETED_NOTICE = "fc_deleted_notice"


def _ask_delete(key: str, ask: bool) -> None:
    st.session_state[f"{key}-ask-delete"] = ask


def _delete(store: "Store | Access", session_id: str, name: str, key: str, forget: tuple[str, ...]) -> None:
    try:
        store.delete_session(session_id)
        st.session_state[DELETED_NOTICE] = f"Deleted “{name}” with its video, reports and reviews."
    except StoreError as exc:
        st.session_state[DELETED_NOTICE] = f"That did not work: {exc}."
    st.session_state.pop(f"{key}-ask-delete", None)
    for k in forget:  # widgets that picked the deleted session start afresh
        st.session_state.pop(k, None)


def deleted_notice() -> None:
    """Show (once) what the last delete did."""
    text = st.session_state.pop(DELETED_NOTICE, None)
    if text:
        st.success(md(text), icon=":material/delete:")


def delete_control(store: "Store | Access", session: SessionRecord, key: str, forget: tuple[str, ...] = ()) -> None:
    """A "Delete this session" button that asks for confirmation before removing it for good."""
    name = session.source_name or "Recorded session"
    if not st.session_state.get(f"{key}-ask-delete"):
        st.button("Delete this session…", key=f"{key}-delete", icon=":material/delete:", type="tertiary",
                  on_click=_ask_delete, args=(key, True),
                  help="Remove the clip, its reports, flags and reviews from this computer")
        return
    with st.container(border=True, key=f"{key}-confirm-box"):
        st.warning(f"Delete “{md(name)}” ({fmt_time(session.created_at)})? Its video, reports, flags, comments and "
                   "reviews are removed for good; they also leave the exports.", icon=":material/warning:")
        c1, c2 = st.columns(2)
        c1.button("Yes, delete it", key=f"{key}-delete-yes", type="primary", icon=":material/delete_forever:",
                  on_click=_delete, args=(store, session.id, name, key, forget), width="stretch")
        c2.button("Cancel", key=f"{key}-delete-no", on_click=_ask_delete, args=(key, False), width="stretch")


#: How often (s) a page showing a session whose annotated video is still being made looks for it in the store.
VIDEO_WAIT_POLL_S = 1.0
#: Said where a session's annotated video will be while its analysis job is still making it.
VIDEO_BEING_MADE = ("The annotated video is being made: the results are all here, the video appears here when it "
                    "is ready.")


@st.fragment(run_every=VIDEO_WAIT_POLL_S)
def video_being_made(store: "Store | Access", session_id: str, text: str = VIDEO_BEING_MADE) -> None:
    """Where the video will be while an analysis job still makes it (the session was stored at its report).

    Polls the store; once no job is making the video any more (it is stored, or the job ended without it,
    e.g. the server stopped) the whole page runs again and shows what there is."""
    if store.video_job(session_id) is None:
        st.rerun()
    st.info(text, icon=":material/hourglass_top:")


def render_session(store: "Store | Access", session: SessionRecord, *, key: str,
                   video_pending: Callable[[], None] | None = None) -> None:
    """Everything about one analysed clip. ``key`` makes the widget keys unique on the page.

    ``video_pending``: the annotated video is still being made; called where the video will be. Without it, a
    job of the store still making the video is waited for all the same (:func:`video_being_made`)."""
    report = session.report
    st.subheader(md(session.source_name or "Recorded session"))
    st.caption(f"Athlete: {md(athlete_label(session.athlete))} · {fmt_time(session.created_at)} · "
               f"model {md(session.model)} · {session.source_kind}")
    for w in report.get("warnings", []):
        st.warning(md(w), icon="ℹ️")
    reviewed = store.flags_for_session(session.id)
    counts = store.review_counts([session.id])[session.id]
    _cards(report, counts)
    st.caption(f"Review: {review_summary(counts)}"
               + (f" · session reviewed {fmt_time(session.reviewed_at)}" if session.reviewed_at else ""))
    coach_at = store.coach_reviewed_at(session)
    if coach_at is not None:
        st.info(f"Reviewed by the coach on {coach_at:%Y-%m-%d}: the flags below show the coach's decisions and "
                "comments; the reviewed report is under Downloads.", icon=":material/verified:")

    frames = session_frames(session)
    video = session.file("video")
    left, right = st.columns([3, 2])
    with left:
        if video is not None:
            st.video(str(video), subtitles=video_captions(reviewed))
            st.caption("Annotated video: the tracked skeleton, the measured angles and the flags as they happen.")
        elif video_pending is not None:
            video_pending()
        elif store.video_job(session.id) is not None:  # e.g. on History while the Analyse tab waits for it
            video_being_made(store, session.id)
        else:
            st.info("No annotated video was kept for this session.")
    with right:
        st.markdown("**Flags**")
        if not reviewed:
            st.success("No fault flagged.")
        for f in reviewed:
            sev = ":red[major]" if f.severity == "major" else ":orange[minor]"
            st.markdown(f"- Rep {f.rep} · **{fault_title(f.code)}** · "
                        f"{evidence(f.measured, f.limit, f.units, f.measure)} · {sev} · {REVIEW_WORDS[f.review_status]}")
            for c in f.comments:
                st.caption(comment_caption(c))
        na = report.get("not_assessable", {})
        if na:
            st.caption("Not assessable here: " + "; ".join(f"{fault_title(c)} ({why})" for c, why in na.items()))

    if frames is not None and any(c in frames for c in ANGLES):
        st.subheader("Angles over time")
        min_q = min_quality_for(str(report.get("lift", "")))
        st.altair_chart(angle_chart(frames, report.get("reps", []), report.get("flags", []), min_quality=min_q),
                        width="stretch")
        unseen = "quality" in frames and bool((~(frames["quality"] >= min_q)).any())
        st.caption("Shaded: reps (dotted line: the bottom). Red: flags, hover for the numbers. "
                   + (f"Grey band, dashed: {UNSEEN_LABEL} (the pose model could not see those joints well; tracking "
                      f"below {min_q:g}), so those angles are not measurements. " if unseen else "")
                   + "Click a legend entry to pick one angle; drag to pan, scroll to zoom.")
    st.subheader("Reps")
    table = rep_table(report, frames)
    if len(table):
        seconds = st.column_config.NumberColumn(format="%.2f")
        degrees = st.column_config.NumberColumn(format="%.0f")
        st.dataframe(table, hide_index=True, width="stretch", column_config={
            "Start (s)": seconds, "Bottom (s)": seconds, "End (s)": seconds, "Max trunk lean (°)": degrees,
            "Min hip angle (°)": degrees, "Min knee angle (°)": degrees,
            "Tempo": st.column_config.TextColumn(help=TEMPO_HELP),
            "Flags": st.column_config.TextColumn(width="large")})
    st.subheader("Flagged reps")
    _flagged_reps(store, session, key)
    guidance_panel(report)
    _downloads(session, key)
    if coach_at is not None:
        _reviewed_downloads(store, session, key)
