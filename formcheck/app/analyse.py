"""Analyse page: upload clips or pick a sample, follow the analysis, see the results."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path
from typing import Any

import streamlit as st

from formcheck.app.media import suffix_for
from formcheck.app.results import delete_control, deleted_notice, render_session
from formcheck.access import Access, AccessDenied
from formcheck.app.ui import (
    UPLOAD_TYPES,
    Settings,
    athlete_label,
    fault_title,
    fmt_time,
    get_access,
    get_jobs,
    get_store,
    md,
    settings,
)
from formcheck.models import ModelNotFoundError, list_models
from formcheck.storage import Store
from formcheck.video import VideoError, probe
from formcheck.worker import (
    AnalysisRejected,
    AnalysisRequest,
    JobManager,
    Provisional,
    copy_and_hash,
    retry_request,
    sample_request_fields,
)

MB = 1 << 20
#: How often the page looks at its running jobs (s): the job manager answers from memory, so this is cheap.
POLL_S = 0.1
#: How often the results look for the annotated video that is being made after them (s).
VIDEO_POLL_S = 0.25
LIFT_WORDS = {"auto": "Recognise automatically", "squat": "Squat", "deadlift": "Deadlift"}
MODEL_WORDS = {"lite": "Lite: fastest", "full": "Full: accurate (default)", "heavy": "Heavy: most accurate, slowest"}

# Session-state keys of this page.
JOBS, RESULTS, ERRORS = "fc_jobs", "fc_results", "fc_errors"
#: {session id: the last provisional results shown for its job}, to say so if the final ones differ.
SHOWN_EARLY = "fc_shown_early"
#: URL query parameter naming the jobs a tab follows: after a server restart (the session state is
#: gone, the URL is not) the page looks them up in the store and says what became of them.
JOB_PARAM = "jobs"


def sample_clips(samples_dir: Path) -> list[Path]:
    return sorted(p for p in samples_dir.glob("*.mp4") if p.is_file()) if samples_dir.is_dir() else []


def sample_label(path: Path) -> str:
    """``squat_side_faults.mp4`` -> "Squat · side view · faults"."""
    parts = path.stem.split("_")
    if len(parts) >= 3:
        return f"{parts[0].capitalize()} · {parts[1]} view · {' '.join(parts[2:])}"
    return path.stem.replace("_", " ")


def available_models() -> list[str]:
    try:
        names = [m.name for m in list_models() if m.available]
    except ModelNotFoundError:
        names = []
    return names or ["full"]


def accept_upload(uploaded: Any, store: Store, s: Settings, options: dict[str, str]) -> AnalysisRequest | str:
    """Copy an upload into the work folder (by a random name) and check by decoding that it is a video.

    Returns the request to run, or a message for the user (nothing is kept then).
    """
    name = str(uploaded.name)
    cap = s.max_upload_mb * MB
    if uploaded.size > cap:
        return (f"“{name}” is {uploaded.size / MB:.0f} MB, more than the {s.max_upload_mb} MB limit. "
                "Trim it to the set you want checked.")
    work = store.work_dir / f"upload-{uuid.uuid4().hex}"
    try:
        uploaded.seek(0)
        size, sha = copy_and_hash(uploaded, work, max_bytes=cap)
        if size == 0:
            work.unlink(missing_ok=True)
            return f"“{name}” is empty (0 bytes)."
        try:
            info = probe(work)
        except VideoError as exc:
            work.unlink(missing_ok=True)
            reason = str(exc).replace(f"{work}: ", "").replace(str(work), "the file")
            return (f"“{name}” is not a video formcheck can read ({reason}). "
                    "Upload an MP4, MOV, AVI, WebM or MKV clip.")
        final = work.with_suffix(suffix_for(info.container, info.codec))
        os.replace(work, final)
    except AnalysisRejected as exc:
        work.unlink(missing_ok=True)
        return f"“{name}”: {exc}."
    except OSError as exc:
        work.unlink(missing_ok=True)
        return f"“{name}” could not be saved on the server ({exc.strerror or 'disk error'})."
    return AnalysisRequest(video_path=final, source_name=name, source_kind="upload", video_sha256=sha,
                           data_dir=s.data_dir, database=store.safe_url, delete_input=True, **options)


def _options(acc: Access) -> dict[str, str]:
    c1, c2, c3 = st.columns(3)
    lift = c1.selectbox("Lift", list(LIFT_WORDS), format_func=LIFT_WORDS.__getitem__, key="fc_lift")
    models = available_models()
    model = c2.selectbox("Pose model", models, index=models.index("full") if "full" in models else 0,
                         format_func=lambda m: MODEL_WORDS.get(m, m), key="fc_model",
                         help="Heavy appears once built with `formcheck models --build heavy`.")
    if acc.single_user:
        athlete = c3.text_input("Athlete (optional)", max_chars=80, placeholder="e.g. Sam", key="fc_athlete",
                                help="Name the lifter to follow their progress on the History page.")
    elif acc.can_review:
        athlete = c3.selectbox("Athlete", acc.roster_names(), format_func=athlete_label, key="fc_athlete",
                               help="An athlete of your roster (Athletes page): the session is theirs.")
    else:
        athlete = acc.user.name
        c3.text_input("Athlete", value=athlete, disabled=True, key="fc_athlete_me",
                      help="Your clips are stored as your sessions.")
    return {"lift": lift, "model": model, "athlete": acc.upload_athlete(athlete or "")}


def _start(jobs: JobManager, store: Store, requests: list[AnalysisRequest], errors: list[str]) -> None:
    st.session_state[JOBS] = [jobs.submit(r, store) for r in requests]
    st.session_state[RESULTS] = []
    st.session_state[ERRORS] = errors
    if st.session_state[JOBS]:
        st.query_params[JOB_PARAM] = ",".join(st.session_state[JOBS])


def _retry(jobs: JobManager, store: Store, acc: Access, job_id: str) -> None:
    job = acc.job(job_id)
    if job is None or job.state != "interrupted":
        return
    try:
        request = retry_request(job)
    except AnalysisRejected as exc:
        store.update_job(job_id, state="dismissed")
        st.session_state[ERRORS] = [f"Cannot retry: {exc}."]
        return
    store.update_job(job_id, state="retried")
    _start(jobs, store, [request], [])


def _dismiss(store: Store, acc: Access, job_id: str) -> None:
    if acc.job(job_id) is None:
        return
    job = store.update_job(job_id, state="dismissed")
    clip = Path(str(job.request.get("video_path", "")))
    if job.request.get("delete_input") and clip.parent == store.work_dir:
        clip.unlink(missing_ok=True)  # the upload copy kept for a retry is not needed any more


def _recover(jobs: JobManager, store: Store, acc: Access) -> None:
    """What became of this tab's jobs across a server restart, and any interrupted job to retry.

    Job ids come from the URL: each goes through ``acc`` (someone else's job is ignored)."""
    followed = [j for j in str(st.query_params.get(JOB_PARAM, "")).split(",") if j]
    if not acc.single_user:
        followed = [j for j in followed if acc.job(j) is not None]
    if followed and not st.session_state.get(JOBS):
        unknown, known = [], []
        for j in followed:
            try:
                jobs.state(j)
                known.append(j)
            except KeyError:
                unknown.append(j)
        if known:  # the tab was reloaded while this server runs them: follow them again
            st.session_state[JOBS] = known
        if unknown:  # started by an earlier server: look them up
            records = [r for r in (acc.job(j) for j in unknown) if r is not None]
            done = [r.session_id for r in records if r.state == "done" and r.session_id]
            failed = [r.message for r in records if r.state == "failed" and r.message]
            if done:
                st.session_state[RESULTS] = done
            if failed:
                st.session_state[ERRORS] = failed
            del st.query_params[JOB_PARAM]
    for job in acc.interrupted_jobs():
        with st.container(border=True, key=f"fc_interrupted_{job.id}"):
            st.warning(f"The analysis of “{md(job.source_name)}” was interrupted: the server stopped (restarted or "
                       f"crashed) while it ran (started {fmt_time(job.created_at)}), so it did not finish. Run it again?",
                       icon=":material/restart_alt:")
            c1, c2, _ = st.columns([1, 1, 3])
            c1.button("Retry", key=f"fc_retry_{job.id}", type="primary", icon=":material/replay:",
                      on_click=_retry, args=(jobs, store, acc, job.id))
            c2.button("Dismiss", key=f"fc_dismiss_{job.id}", on_click=_dismiss, args=(store, acc, job.id))


def _s(ms: float | None) -> str:
    return "?" if ms is None else f"{ms / 1000.0:.1f} s"


def provisional_text(p: Provisional, source_name: str) -> str:
    """Markdown for the reps and flags found while the pose pass runs, marked provisional throughout."""
    n = len(p.reps)
    lines = [f"**First look, provisional:** {md(source_name)}, the first {_s(p.through_ms)} of "
             f"{_s(p.duration_ms)} analysed so far: {n} rep{'s' if n != 1 else ''} completed"
             f"{f' ({md(p.lift)})' if p.lift and p.lift != 'unknown' else ''}. These are not the results yet: "
             "the analysis of the whole clip replaces them and may count or flag otherwise.", "",
             "| Rep | Time | Flagged so far (provisional) |", "|---|---|---|"]
    for r in p.reps:
        flags = ", ".join(fault_title(c) for c in r.flags) or "none so far"
        if r.borderline:
            flags += " · borderline: " + ", ".join(fault_title(c) for c in r.borderline)
        lines.append(f"| {r.rep} | {_s(r.start_ms)} – {_s(r.end_ms)} | {md(flags)} |")
    return "\n".join(lines)


def early_differences(p: Provisional, report: dict[str, Any]) -> list[str]:
    """How the final report differs from the provisional results shown before it (empty: it confirms them).

    Compared on the part of the clip the provisional results covered: the number of reps completed in it
    and, rep by rep, the faults flagged."""
    final_reps = [r for r in report.get("reps", []) if float(r["end_ms"]) <= p.through_ms]
    out = []
    if len(final_reps) != len(p.reps):
        out.append(f"in the first {_s(p.through_ms)}, {len(final_reps)} rep(s) instead of {len(p.reps)}")
    final_flags = {int(r["rep"]): sorted({str(f["code"]) for f in report.get("flags", []) if int(f["rep"]) == int(r["rep"])})
                   for r in final_reps}
    for r in p.reps:
        now = final_flags.get(r.rep)
        if now is not None and now != sorted(r.flags):
            was = ", ".join(fault_title(c) for c in r.flags) or "no flag"
            out.append(f"rep {r.rep}: {', '.join(fault_title(c) for c in now) or 'no flag'} (first look: {was})")
    return out


def _follow(jobs: JobManager) -> dict[str, str]:
    """Show a progress bar per running job until each has its results stored, then keep their outcomes.

    Returns ``{session id: job id}`` of the jobs whose results are stored while their annotated video
    is still being made: the page shows those results now and the video once it is there
    (:func:`_video_pending`)."""
    ids = [j for j in st.session_state.get(JOBS, [])]
    if not ids:
        return {}
    slot = st.empty()
    box = slot.container()
    bars: dict[str, Any] = {}
    shown: dict[str, tuple[float, str]] = {}
    early: dict[str, Any] = {}  # job id -> placeholder of its provisional results
    early_shown: dict[str, Provisional] = {}
    drawn = 0
    while True:
        states = []
        for j in ids:
            try:
                states.append(jobs.state(j))
            except KeyError:
                continue
        for s in states:
            if s.state == "queued":
                text = f"{md(s.source_name)}: waiting for another analysis to finish"
            else:
                text = f"{md(s.source_name)}: {md(s.stage)} ({s.fraction:.0%})"
            if s.job_id not in bars:
                bars[s.job_id] = box.progress(s.fraction, text=text)
            elif shown.get(s.job_id) != (s.fraction, text):  # send the browser only what changed
                bars[s.job_id].progress(s.fraction, text=text)
            shown[s.job_id] = (s.fraction, text)
            if s.provisional is not None and not s.report_ready and early_shown.get(s.job_id) != s.provisional:
                if s.job_id not in early:
                    early[s.job_id] = box.empty()
                drawn += 1  # a new key each time: the placeholder's content is replaced, never two alike in a run
                with early[s.job_id].container(key=f"fc-provisional-{s.job_id[:8]}-{drawn}"):
                    st.warning(provisional_text(s.provisional, s.source_name), icon=":material/hourglass_top:")
                early_shown[s.job_id] = s.provisional
        if all(s.finished or s.report_ready for s in states):
            break
        time.sleep(POLL_S)
    slot.empty()
    found = [s.session_id for s in states if s.session_id]
    shown_early = st.session_state.setdefault(SHOWN_EARLY, {})
    for s in states:
        if s.session_id and s.job_id in early_shown:
            shown_early[s.session_id] = early_shown[s.job_id]
    st.session_state[RESULTS] = list(dict.fromkeys([*st.session_state.get(RESULTS, []), *found]))
    st.session_state[ERRORS] = st.session_state.get(ERRORS, []) + [s.message for s in states if s.state == "failed"]
    pending = {s.session_id: s.job_id for s in states if not s.finished and s.session_id}
    st.session_state[JOBS] = list(pending.values())
    if not pending and JOB_PARAM in st.query_params:
        del st.query_params[JOB_PARAM]
    return pending


@st.fragment(run_every=VIDEO_POLL_S)
def _video_pending(job_id: str) -> None:
    """Where the annotated video will be: its progress until it is stored, then the whole page again."""
    try:
        s = get_jobs().state(job_id)
    except KeyError:
        s = None
    if s is None or s.finished or s.video_ready:
        st.rerun()
    with st.container(key="fc-video-pending"):
        st.info("The annotated video is being prepared: the results are all here, the video follows in a moment.",
                icon=":material/hourglass_top:")
        st.progress(s.fraction, text=f"{md(s.stage)} ({s.fraction:.0%})")


def render() -> None:
    s, store, jobs, acc = settings(), get_store(), get_jobs(), get_access()
    st.title("Analyse a lift")
    st.write("Upload a squat or deadlift clip, or try a bundled sample. formcheck tracks the lifter, counts the reps, "
             "flags what loads the lower back and explains what to work on.")
    _recover(jobs, store, acc)
    try:
        options = _options(acc)
    except AccessDenied as exc:
        st.warning(md(exc), icon=":material/group_add:")
        return
    up_col, sample_col = st.columns([3, 2], gap="large")
    with up_col:
        uploads = st.file_uploader(
            "Upload clips", type=list(UPLOAD_TYPES), accept_multiple_files=True, max_upload_size=s.max_upload_mb,
            key="fc_uploads",
            help=f"MP4, MOV, AVI, WebM or MKV, up to {s.max_upload_mb} MB each. Film the whole body from the side "
                 "(or at 45°), one lifter, steady camera.")
        analyse_clicked = st.button("Analyse", type="primary", disabled=not uploads, icon=":material/play_arrow:",
                                    key="fc_analyse")
    clicked_sample = None
    with sample_col:
        st.markdown("**Or try a sample** (synthetic lifter, one click)")
        samples = sample_clips(s.samples_dir)
        if not samples:
            st.caption("No sample clips found in this installation.")
        for p in samples:
            if st.button(sample_label(p), key=f"fc_sample_{p.stem}", icon=":material/movie:", width="stretch"):
                clicked_sample = p

    if analyse_clicked and uploads:
        requests, errors = [], []
        for up in uploads:
            got = accept_upload(up, store, s, options)
            (requests if isinstance(got, AnalysisRequest) else errors).append(got)
        _start(jobs, store, requests, errors)
    elif clicked_sample is not None:
        fields = sample_request_fields(clicked_sample)
        _start(jobs, store, [AnalysisRequest(source_kind="sample", data_dir=s.data_dir, database=store.safe_url, **fields,
                                      **options)], [])

    pending = _follow(jobs)
    deleted_notice()
    for e in st.session_state.get(ERRORS, []):
        st.error(md(e), icon=":material/error:")
    sessions = [x for x in (acc.session_or_none(i) for i in st.session_state.get(RESULTS, [])) if x is not None]
    if not sessions:
        if not st.session_state.get(ERRORS):
            st.info("Upload a clip and press **Analyse**, or click a sample, to see every rep, the flags and what "
                    "to work on. Tip: film from the side, whole body in frame, camera at hip height.",
                    icon=":material/info:")
        return
    st.divider()
    chosen = sessions[0]
    if len(sessions) > 1:
        names = {x.id: f"{i}. {x.source_name}" for i, x in enumerate(sessions, 1)}
        pick = st.radio("Results for", list(names), format_func=lambda i: md(names[i]), horizontal=True,
                        key="fc_pick")
        chosen = next(x for x in sessions if x.id == pick)
    was = st.session_state.get(SHOWN_EARLY, {}).get(chosen.id)
    if was is not None:
        changed = early_differences(was, chosen.report)
        if changed:
            st.info("The full analysis differs from the provisional first look shown while it ran: "
                    + md("; ".join(changed)) + ". These results replace it.", icon=":material/update:")
    job_id = pending.get(chosen.id)
    render_session(acc, chosen, key=f"an-{chosen.id[:8]}",
                   video_pending=(lambda: _video_pending(job_id)) if job_id is not None else None)
    if acc.can_review:
        st.divider()
        delete_control(acc, chosen, key=f"an-{chosen.id[:8]}", forget=("fc_pick",))
