"""Side-by-side compare: one rep beside another (by default the athlete's latest clean rep of the lift),
both on their annotated frames (the skeleton drawn), aligned by phase (:mod:`formcheck.compare`): one
slider steps both, and a slow-motion clip plays both together."""

from __future__ import annotations

from typing import TYPE_CHECKING, Sequence

import streamlit as st

from formcheck.app.media import make_compare_clip
from formcheck.app.ui import athlete_label, fmt_time, md
from formcheck.compare import phase_time, rep_span
from formcheck.storage import RepItem, SessionRecord, Store
from formcheck.video import VideoError

if TYPE_CHECKING:
    from formcheck.access import Access


def is_clean(item: RepItem) -> bool:
    """No flag of the rep stands: it has none, or the coach dismissed every one."""
    return all(f.review_status == "dismissed" for f in item.flags)


def pick_reference(items: Sequence[RepItem], exclude: tuple[str, int]) -> RepItem | None:
    """The default rep to compare with: the most recent clean rep (``items`` newest first, as
    :meth:`Store.rep_queue` lists them) other than ``exclude`` (session id, rep), with a video."""
    for item in items:
        if (item.session.id, item.rep) != exclude and is_clean(item) and item.session.file("video") is not None:
            return item
    return None


def _label(item: RepItem, ref: RepItem | None) -> str:
    state = "clean" if is_clean(item) else ", ".join(sorted({f.code for f in item.flags
                                                               if f.review_status != "dismissed"}))
    star = " · latest clean rep" if ref is not None and (item.session.id, item.rep) == (ref.session.id, ref.rep) else ""
    return (f"{fmt_time(item.session.created_at)} · {item.session.source_name or 'recorded'} · rep {item.rep} · "
            f"{athlete_label(item.session.athlete)} · {state}{star}")


def _phase_words(p: float) -> str:
    if p <= 0.0:
        return "start"
    if p < 0.5:
        return "on the way down"
    if p == 0.5:
        return "bottom"
    return "on the way up" if p < 1.0 else "end"


def compare_toggle(store: "Store | Access", session: SessionRecord, rep_no: int, key: str) -> None:
    """A "Compare side by side" switch that opens :func:`compare_panel` (nothing is decoded until asked)."""
    if st.toggle("Compare side by side with another rep", key=f"{key}-compare",
                 help="This rep beside another (by default the athlete's latest clean rep), aligned by phase"):
        compare_panel(store, session, rep_no, key=f"{key}-cmp")


@st.fragment
def compare_panel(store: "Store | Access", session: SessionRecord, rep_no: int, key: str) -> None:
    """The compare view of one rep (a fragment: its slider and picker rerun only this)."""
    from formcheck.app.results import _frame_image  # the cached frame reader of the session view

    this = session.rep(rep_no)
    video = session.file("video")
    if this is None or video is None:
        st.caption("There is no video of this session to compare.")
        return
    items = [i for i in store.rep_queue(lift=session.lift) if i.session.file("video") is not None
             and (i.session.id, i.rep) != (session.id, rep_no)]
    if not items:
        st.caption(f"No other {session.lift} rep with a video to compare with yet.")
        return
    mine = [i for i in items if i.session.athlete == session.athlete]
    ref = pick_reference(mine, (session.id, rep_no))
    ids = [f"{i.session.id}:{i.rep}" for i in items]
    by_id = dict(zip(ids, items))
    default = ids.index(f"{ref.session.id}:{ref.rep}") if ref is not None else 0
    if st.session_state.get(f"{key}-with") not in (None, *ids):
        del st.session_state[f"{key}-with"]  # the rep picked before was deleted
    pick = st.selectbox("Compare with", ids, index=default, format_func=lambda i: _label(by_id[i], ref),
                        key=f"{key}-with", help="By default the athlete's most recent clean rep of this lift "
                        "(no flag, or every flag dismissed); pick any rep of any session")
    other = by_id.get(pick, items[default])
    if ref is None:
        st.caption("This athlete has no clean rep of this lift yet: pick any rep to compare with.")
    pct = st.slider("Phase of the rep (%): 0 start, 50 bottom, 100 end", 0, 100, 50, step=2, key=f"{key}-phase",
                    help="Both reps are shown at the same phase, whatever their tempo")
    p = pct / 100.0
    other_video = other.session.file("video")
    assert other_video is not None
    left, right = st.columns(2)
    for col, (s, n, vid, title) in zip((left, right), ((session, rep_no, video, "This rep"),
                                                       (other.session, other.rep, other_video, "Compared with"))):
        rep = s.rep(n)
        t = float(phase_time(p, rep))
        img = _frame_image(str(vid), vid.stat().st_mtime_ns, t)
        with col:
            st.markdown(f"**{title}**: rep {n} · {md(s.source_name or 'recorded')}")
            if img is not None:
                st.image(img, caption=f"at {t / 1000:.2f} s · {_phase_words(p)} ({pct}% of the rep)", width="stretch")
    if st.toggle("Play both in slow motion, aligned by phase", key=f"{key}-slow"):
        dst = session.dir / f"compare_{rep_no}_{other.session.id[:12]}_{other.rep}.mp4"
        try:
            if not dst.is_file():
                with st.spinner("Making the side-by-side clip…"):
                    make_compare_clip(video, rep_span(this), other_video, rep_span(other.session.rep(other.rep)), dst)
            st.video(str(dst), loop=True, autoplay=True, muted=True)
            st.caption("Left: this rep; right: the rep compared with. Both reach the bottom together; the longer "
                       "rep plays at ¼ speed.")
        except (VideoError, ValueError, OSError):
            st.info("The side-by-side clip could not be made from these videos.")
