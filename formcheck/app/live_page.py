"""The Live page: the camera stream analysed as you lift, then saved for review.

The browser sends the camera over WebRTC (streamlit-webrtc); the server's
:class:`formcheck.live.LiveProcessor` sends it back with the skeleton, the
trunk angle, the rep count and cues drawn on it. This script only reads the
processor's thread-safe :meth:`~formcheck.live.LiveProcessor.snapshot`; the
frame callback never touches Streamlit. When the stream stops the session is
analysed offline and saved to the store (History and the review queue).

No STUN or TURN server is used unless ``FORMCHECK_ICE_SERVERS`` names some
(see docs/live.md).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import streamlit as st

from formcheck.live import (
    DEFAULT_LIVE_MODEL,
    LIVE_MODELS,
    LiveConfig,
    LiveProcessor,
    LiveSnapshot,
    rtc_configuration,
    save_live_session,
)

if TYPE_CHECKING:
    from formcheck.storage import Store

STREAM_KEY = "formcheck-live"
_PROCESSOR_KEY = "live_processor"
_PLAYING_KEY = "live_playing"

LIFT_LABELS = {"squat": "Squat", "deadlift": "Deadlift", "auto": "Detect after the first rep"}
MODEL_LABELS = {"lite": "Lite (fast, default)", "full": "Full (more accurate, slower)"}

#: Camera request: 640x480 at 30 fps is what the lite model keeps up with on two cores.
MEDIA_STREAM_CONSTRAINTS = {
    "video": {"width": {"ideal": 640}, "height": {"ideal": 480}, "frameRate": {"ideal": 30}},
    "audio": False,
}

#: Shown under the video while it is not playing. The component reports a camera failure by the
#: browser's error name (e.g. "NotAllowedError: Permission denied") inside its own frame, where
#: the page cannot read it, so the page says what each name means.
CAMERA_HELP = (
    "Camera trouble? **NotAllowedError** (permission denied): the browser blocked the camera. Allow it for "
    "this site from the camera icon in the address bar, then press Start again. **NotFoundError** (requested "
    "device not found): no camera was found. Connect one, or close the app that is using it, then press "
    "Start again. **NotReadableError**: another app is using the camera. No camera at all on a remote "
    "server: open formcheck over https or on localhost (browsers only give the camera to secure pages).")

#: The component's own messages (shown in its camera picker), reworded to say what to do.
TRANSLATIONS = {
    "start": "Start",
    "stop": "Stop",
    "select_device": "Camera",
    "media_api_not_available": (
        "This browser cannot use a camera on this page. Open formcheck on localhost or over https "
        "in a current browser."),
    "device_ask_permission": "Allow formcheck to use your camera when the browser asks.",
    "device_not_available": (
        "No camera was found. Connect one (or close the app that is using it) and press Start again."),
    "device_access_denied": (
        "Camera access was denied. Allow the camera for this site in the browser's address bar "
        "or settings, then press Start again."),
}


def _default_store() -> "Store":
    from formcheck.app.ui import get_store

    return get_store()


def _webrtc_streamer(**kwargs: Any) -> Any:
    # looked up at call time, so tests can patch streamlit_webrtc.webrtc_streamer
    import streamlit_webrtc

    return streamlit_webrtc.webrtc_streamer(**kwargs)


def _fmt_deg(x: float) -> str:
    return f"{abs(x):.0f}°" if math.isfinite(x) else "–"


def _athlete_input(col: Any, playing: bool) -> str:
    """The athlete the session is recorded for: typed (single-user app), one of a coach's roster,
    or the logged-in athlete (see formcheck.access)."""
    from formcheck.app.ui import athlete_label, get_access

    acc = get_access()
    if acc.single_user:
        return col.text_input("Athlete", key="live_athlete", disabled=playing, max_chars=80)
    if acc.can_review:
        name = col.selectbox("Athlete", acc.roster_names(), format_func=athlete_label, key="live_athlete",
                             disabled=playing)
    else:
        name = acc.user.name
        col.text_input("Athlete", value=name, disabled=True, key="live_athlete_me")
    return acc.upload_athlete(name or "")


def render_live_page(store: "Store | None" = None) -> None:
    """Draw the Live page; ``store`` is a :class:`formcheck.storage.Store` (default: the app's)."""
    from streamlit_webrtc import WebRtcMode

    st.title("Live")
    st.caption(
        "Set the camera down side-on to you, 2–4 m away, with your whole body and the bar in view. "
        "Press Start and lift: reps are counted and a short cue appears when a rep shows a fault. "
        "Press Stop when the set is done: the session is saved to History for review.")
    try:
        rtc = rtc_configuration()
    except ValueError as exc:
        st.error(str(exc))
        return
    if store is None:
        store = _default_store()

    playing = bool(st.session_state.get(_PLAYING_KEY, False))
    c1, c2, c3 = st.columns([1, 1, 1])
    lift = c1.selectbox("Lift", list(LIFT_LABELS), format_func=LIFT_LABELS.__getitem__, disabled=playing,
                        key="live_lift")
    model = c2.selectbox("Pose model", list(LIVE_MODELS), index=LIVE_MODELS.index(DEFAULT_LIVE_MODEL),
                         format_func=MODEL_LABELS.__getitem__, disabled=playing, key="live_model")
    athlete = _athlete_input(c3, playing)
    keep_video = st.checkbox("Keep the video of the session", value=False, disabled=playing, key="live_keep_video",
                             help="Stored with the session so the coach can watch the reps.")

    config = LiveConfig(lift=lift, model=model, athlete=athlete.strip(), record_video=keep_video,
                        video_dir=store.work_dir / "live")

    def factory() -> LiveProcessor:
        # called by streamlit-webrtc once per stream, off the script thread
        return LiveProcessor(config, on_finished=lambda session: save_live_session(session, store))

    ctx = _webrtc_streamer(
        key=STREAM_KEY,
        mode=WebRtcMode.SENDRECV,
        rtc_configuration=rtc,
        media_stream_constraints=MEDIA_STREAM_CONSTRAINTS,
        video_processor_factory=factory,
        async_processing=True,
        translations=TRANSLATIONS,
        video_html_attrs={"autoPlay": True, "controls": False, "muted": True, "style": {"width": "100%"}},
    )
    now_playing = bool(ctx.state.playing)
    if ctx.video_processor is not None:
        st.session_state[_PROCESSOR_KEY] = ctx.video_processor
    if now_playing != playing:
        st.session_state[_PLAYING_KEY] = now_playing
        st.rerun()
    if not now_playing:
        st.caption(CAMERA_HELP)
    processor: LiveProcessor | None = st.session_state.get(_PROCESSOR_KEY)
    if processor is None:
        st.info("Press Start and allow the camera. Nothing is recorded until you do.")
        return
    snap = processor.snapshot()
    if now_playing or snap.status in ("waiting", "running", "finishing", "saving"):
        _live_status(processor, now_playing)
    else:
        _show_snapshot(snap)


@st.fragment(run_every=1.0)
def _live_status(processor: LiveProcessor, playing: bool) -> None:
    """The processor's state, redrawn every second while a session runs or is being saved."""
    snap = processor.snapshot()
    _show_snapshot(snap)
    if not playing and snap.status in ("saved", "empty", "error"):
        st.rerun(scope="app")  # the session is done: redraw once, without the timer


def _show_snapshot(snap: LiveSnapshot) -> None:
    s = snap.stats
    m = st.columns(5)
    m[0].metric("Reps", snap.rep_count)
    m[1].metric("Trunk angle", _fmt_deg(snap.trunk_deg))
    m[2].metric("Lift", (snap.lift or "detecting…").capitalize())
    m[3].metric("Processed", f"{s.fps_processed:.0f} fps", help="camera frames analysed per second")
    m[4].metric("Dropped", f"{s.frames_dropped}",
                help="frames skipped so the video stays in real time when the computer cannot keep up")
    st.caption(f"Reps: {snap.rep_count} · Frames processed: {s.frames_processed} · dropped: {s.frames_dropped} · "
               f"callback {s.callback_ms_mean:.0f} ms mean · model {snap.model} · view {snap.view}")
    if snap.cue:
        st.warning(f"Last cue: **{snap.cue}**")
    if snap.reps:
        rows = [{
            "Rep": r.index + 1,
            "Time (s)": f"{r.start_ms / 1000:.1f}–{r.end_ms / 1000:.1f}",
            "Depth (leg lengths)": f"{r.depth_norm:.2f}",
            "Max lean": _fmt_deg(r.trunk_lean_max_deg),
            "Faults": ", ".join(c.replace("_", " ") for c in r.codes) if r.judged else "not judged",
            "Cues": " · ".join(r.cues),
        } for r in snap.reps]
        st.table(rows)
    if snap.message and snap.status != "saved":
        (st.error if snap.status == "error" else st.info)(snap.message)
    if snap.status in ("finishing", "saving"):
        st.info("Saving the session…")
    elif snap.status == "saved" and snap.record is not None:
        rec = snap.record
        st.success(f"Saved to History: {rec.rep_count} reps, {rec.flag_count} flags to review "
                   f"(session {rec.id[:8]}).")
    elif snap.status == "empty":
        st.info("Nothing was recorded: no camera frames arrived.")


render = render_live_page

__all__ = ["CAMERA_HELP", "MEDIA_STREAM_CONSTRAINTS", "STREAM_KEY", "TRANSLATIONS", "render", "render_live_page"]
