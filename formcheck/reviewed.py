"""The reviewed report: a stored report re-rendered with the coach's decisions and comments.

Pure functions (no IO besides embedding the images it is given): the report dict as stored and the
review records of its flags go in, an HTML page or a Markdown text comes out.

A review record is a mapping (what :meth:`formcheck.storage.Store.review_records` returns)::

    {"rep": 2, "code": "rounded_back", "origin": "auto" | "coach",
     "review_status": "pending" | "confirmed" | "dismissed",
     "auto_severity": "major" | None, "severity": "minor", "t_s": 3.21 | None,
     "reviewed_at": "2026-12-07T19:00:00" | None,
     "comments": [{"text": "...", "at": "2026-12-07T19:01:00", "t_s": 3.4 | None}, ...]}

What the coach decided shows as: a confirmed flag "confirmed by the coach", a flag not yet judged
"not reviewed yet", a dismissed flag struck through in the "Dismissed by the coach" list (its fault no
longer counts), a fault the coach added "added by the coach", a changed severity "severity changed
by the coach from X to Y". Comments are listed under their flag in time order (a comment pinned to a
time in the rep shows that time). Guidance follows the faults left after the review; the red flags,
the disclaimer and the credit always stay. Every text a user typed (names, comments) is escaped.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Any, Mapping, Sequence

from formcheck.measures import tempo_text
from formcheck.report import _CSS, VERDICT_WORDS, _img_tag, _s, guidance_block, guidance_html, upgrade_report

#: How a review state reads in the reviewed report.
STATUS_WORDS = {"confirmed": "confirmed by the coach", "pending": "not reviewed yet",
                "dismissed": "dismissed by the coach"}

_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~:$&=^])")


def md_escape(text: object) -> str:
    """User text made inert in Markdown: one line, every Markdown (and HTML) character escaped."""
    return _MD_SPECIAL.sub(r"\\\1", " ".join(str(text).split()))


def _ts(t_s: float | None) -> str:
    return "" if t_s is None else f"{float(t_s):.2f} s"


def _sorted_comments(rec: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """A flag's comments: those pinned to a time first, in time order, then the others as written."""
    cs = list(rec.get("comments", []))
    timed = sorted((c for c in cs if c.get("t_s") is not None), key=lambda c: float(c["t_s"]))
    return timed + [c for c in cs if c.get("t_s") is None]


def review_date(reviews: Sequence[Mapping[str, Any]], session_reviewed_at: str | None = None) -> str | None:
    """The day (``YYYY-MM-DD``) of the coach's latest action on the session, None if there was none."""
    stamps = [session_reviewed_at] if session_reviewed_at else []
    for r in reviews:
        if r.get("reviewed_at"):
            stamps.append(str(r["reviewed_at"]))
        stamps += [str(c["at"]) for c in r.get("comments", []) if c.get("at")]
    return max(stamps)[:10] if stamps else None


def _split(report: Mapping[str, Any], reviews: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The flags after review: those that stand (confirmed, pending, added) and those dismissed."""
    auto = {(int(f["rep"]), f["code"]): f for f in report.get("flags", [])}
    standing, dismissed = [], []
    for r in sorted(reviews, key=lambda r: (int(r["rep"]), str(r["code"]))):
        item = {"rec": r, "flag": auto.get((int(r["rep"]), r["code"]), {})}
        (dismissed if r.get("review_status") == "dismissed" else standing).append(item)
    codes = list(dict.fromkeys(i["rec"]["code"] for i in standing))
    verdicts = {}
    for code, v in report.get("verdicts", {}).items():
        states = [i["rec"].get("review_status") for i in standing if i["rec"]["code"] == code]
        if "confirmed" in states:
            verdicts[code] = "confirmed by the coach"
        elif states:
            verdicts[code] = "flagged, not reviewed yet"
        elif any(i["rec"]["code"] == code for i in dismissed):
            verdicts[code] = "clear (the flag was dismissed by the coach)"
        else:
            verdicts[code] = VERDICT_WORDS.get(v, str(v))
    for code in codes:  # a fault the coach added that was not judged for the lift
        verdicts.setdefault(code, "confirmed by the coach")
    return {"standing": standing, "dismissed": dismissed, "codes": codes, "verdicts": verdicts}


def _standing_status(item: Mapping[str, Any]) -> tuple[bool, str, str]:
    """(added by the coach?, the decision in words, when it was seen: "" for an added fault) of a standing flag."""
    r, f = item["rec"], item["flag"]
    if r.get("origin") == "coach":
        return True, "added by the coach", ""
    when = _s(f.get("t_ms")) if f else (_ts(r.get("t_s")) or "–")
    return False, STATUS_WORDS.get(str(r.get("review_status")), ""), when


def _severity_note(rec: Mapping[str, Any]) -> str:
    auto, sev = rec.get("auto_severity"), rec.get("severity")
    if rec.get("origin") == "coach":
        return str(sev or "")
    if auto and sev and auto != sev:
        return f"{sev}, severity changed by the coach from {auto} to {sev}"
    return str(sev or "")


def _guidance(report: Mapping[str, Any], codes: Sequence[str]) -> dict[str, Any]:
    """Guidance for the faults left after review; the stored red flags, disclaimer and credit kept."""
    g = dict(guidance_block(list(codes), str(report.get("lift", ""))))
    stored = report.get("guidance", {}) or {}
    for k in ("red_flag_notice", "disclaimer", "credit"):
        if stored.get(k):
            g[k] = stored[k]
    return g


def render_reviewed_html(report: Mapping[str, Any], reviews: Sequence[Mapping[str, Any]], *,
                         reviewed_on: str | None = None, images: Mapping[str, Path] | None = None) -> str:
    """A self-contained HTML page of the report after the coach's review (see the module docstring).

    ``images``: ``angles`` (the angle plot) and ``worst_<rep>_<code>`` PNG paths, embedded when present.
    """
    rep = upgrade_report(report)
    images, e = images or {}, html.escape
    split = _split(rep, reviews)
    name = Path(str((rep.get("source") or {}).get("file", ""))).name
    when = reviewed_on or review_date(reviews)
    out = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>formcheck – {e(name)} (reviewed)</title>",
           f"<style>{_CSS}.dismissed{{color:#6b7280}} .coach{{color:#175cd3;font-weight:600}}</style></head><body>",
           f"<h1>formcheck report, reviewed: {e(name)}</h1>",
           f"<p class=coach>{e(f'Reviewed by the coach on {when}' if when else 'Not reviewed by the coach yet')}</p>"]
    if rep.get("athlete"):
        out.append(f"<p>Athlete: {e(str(rep['athlete']))}</p>")
    st = [i["rec"].get("review_status") for i in split["standing"]]
    cards = [("Lift", str(rep.get("lift", ""))), ("Reps", str(rep.get("rep_count", 0))),
             ("View", f"{rep.get('view', '')}, facing {rep.get('facing', '')}"),
             ("Flags after review", f"{len(st)} ({st.count('confirmed')} confirmed, {st.count('pending')} not "
                                    f"reviewed yet; {len(split['dismissed'])} dismissed)")]
    out.append("<div>" + "".join(f"<span class=card><b>{e(k)}</b><br>{e(v)}</span>" for k, v in cards) + "</div>")
    for w in rep.get("warnings", []):
        out.append(f"<p class=small>Note: {e(str(w))}</p>")
    out.append("<h2>Faults after the coach's review</h2><table><tr><th>fault</th><th>verdict</th><th>note</th></tr>")
    for code, v in split["verdicts"].items():
        out.append(f"<tr><td>{e(code)}</td><td>{e(v)}</td><td>{e(str(rep.get('not_assessable', {}).get(code, '')))}"
                   "</td></tr>")
    out.append("</table>")
    if rep.get("reps"):
        out.append("<h2>Reps</h2><table><tr><th>rep</th><th>start</th><th>bottom</th><th>end</th><th>phases</th>"
                   "<th>faults after review</th></tr>")
        for r in rep["reps"]:
            here = [i["rec"] for i in split["standing"] if int(i["rec"]["rep"]) == r["rep"]]
            gone = [i["rec"] for i in split["dismissed"] if int(i["rec"]["rep"]) == r["rep"]]
            cell = ", ".join(e(x["code"]) + (" <span class=coach>(added by the coach)</span>"
                                             if x.get("origin") == "coach" else "") for x in here)
            cell += "".join(f" <del class=dismissed>{e(x['code'])}</del>" for x in gone)
            out.append(f"<tr><td>{r['rep']}</td><td>{_s(r['start_ms'])}</td><td>{_s(r['bottom_ms'])}</td>"
                       f"<td>{_s(r['end_ms'])}</td><td>{e(tempo_text(r.get('tempo_ms', {}), sep=', '))}</td>"
                       f"<td>{cell.strip() or '–'}</td></tr>")
        out.append("</table>")
    out.append(_img_tag(images.get("angles"), "Angles over time"))
    if split["standing"]:
        out.append("<h2>Flags and the coach's decisions</h2>")
    for i in split["standing"]:
        r, f = i["rec"], i["flag"]
        added, status, when = _standing_status(i)
        at = f", at {when}" if when else ""
        out.append(f"<h3>Rep {int(r['rep'])}: {e(r['code'])} <span class=coach>({e(status)})</span> <span class=small>"
                   f"({e(_severity_note(r) + at)})</span></h3>")
        if f.get("message") and not added:
            out.append(f"<p>{e(str(f['message']))}</p>")
        out.append(_comments_html(r))
        if not added:
            out.append(_img_tag(images.get(f"worst_{int(r['rep'])}_{r['code']}"), f"Rep {int(r['rep'])} worst frame"))
    if split["dismissed"]:
        out.append("<h2>Dismissed by the coach</h2><p class=small>Flags formcheck raised that the coach judged "
                   "false: they no longer count.</p><ul>")
        for i in split["dismissed"]:
            r, f = i["rec"], i["flag"]
            out.append(f"<li class=dismissed><del>Rep {int(r['rep'])}: {e(r['code'])}"
                       f"{' at ' + e(_s(f.get('t_ms'))) if f else ''}</del>{_comments_html(r)}</li>")
        out.append("</ul>")
    out += guidance_html(_guidance(rep, split["codes"]))
    return "\n".join(x for x in out if x)


def _comments_html(rec: Mapping[str, Any]) -> str:
    cs = _sorted_comments(rec)
    if not cs:
        return ""
    items = "".join(f"<li>{'<b>at ' + html.escape(_ts(c.get('t_s'))) + ':</b> ' if c.get('t_s') is not None else ''}"
                    f"{html.escape(str(c['text']))} <span class=small>({html.escape(str(c.get('at', ''))[:10])})"
                    "</span></li>" for c in cs)
    return f"<ul class=comments>{items}</ul>"


def render_reviewed_markdown(report: Mapping[str, Any], reviews: Sequence[Mapping[str, Any]], *,
                             reviewed_on: str | None = None) -> str:
    """The reviewed report as Markdown (no images); user text escaped (see :func:`md_escape`)."""
    rep = upgrade_report(report)
    split = _split(rep, reviews)
    name = Path(str((rep.get("source") or {}).get("file", ""))).name
    when = reviewed_on or review_date(reviews)
    lines = [f"# formcheck report, reviewed: {md_escape(name)}", "",
             f"**{'Reviewed by the coach on ' + when if when else 'Not reviewed by the coach yet'}**", ""]
    if rep.get("athlete"):
        lines += [f"Athlete: {md_escape(rep['athlete'])}", ""]
    st = [i["rec"].get("review_status") for i in split["standing"]]
    lines += [f"Lift: **{rep.get('lift', '')}** · View: **{rep.get('view', '')}** · Reps: **{rep.get('rep_count', 0)}** · "
              f"Flags after review: **{len(st)}** ({st.count('confirmed')} confirmed, {st.count('pending')} not "
              f"reviewed yet; {len(split['dismissed'])} dismissed)", ""]
    for w in rep.get("warnings", []):
        lines.append(f"> Note: {md_escape(w)}")
    lines += ["## Faults after the coach's review", "", "| fault | verdict | note |", "|---|---|---|"]
    for code, v in split["verdicts"].items():
        lines.append(f"| {code} | {v} | {md_escape(rep.get('not_assessable', {}).get(code, ''))} |")
    lines.append("")
    if rep.get("reps"):
        lines += ["## Reps", "", "| rep | start | bottom | end | faults after review |", "|---|---|---|---|---|"]
        for r in rep["reps"]:
            here = [i["rec"] for i in split["standing"] if int(i["rec"]["rep"]) == r["rep"]]
            gone = [i["rec"] for i in split["dismissed"] if int(i["rec"]["rep"]) == r["rep"]]
            cell = ", ".join(x["code"] + (" (added by the coach)" if x.get("origin") == "coach" else "") for x in here)
            cell += "".join(f" ~~{x['code']}~~" for x in gone)
            lines.append(f"| {r['rep']} | {_s(r['start_ms'])} | {_s(r['bottom_ms'])} | {_s(r['end_ms'])} | "
                         f"{cell.strip() or '–'} |")
        lines.append("")
    if split["standing"]:
        lines += ["## Flags and the coach's decisions", ""]
    for i in split["standing"]:
        r, f = i["rec"], i["flag"]
        added, status, when = _standing_status(i)
        at = f" at {when}" if when else ""
        lines.append(f"- **Rep {int(r['rep'])} – {r['code']}** ({status}; {_severity_note(r)}){at}"
                     + (f": {md_escape(f['message'])}" if f.get("message") and not added else ""))
        lines += _comments_md(r)
    if split["standing"]:
        lines.append("")
    if split["dismissed"]:
        lines += ["## Dismissed by the coach", "", "Flags formcheck raised that the coach judged false: they no "
                  "longer count.", ""]
        for i in split["dismissed"]:
            r, f = i["rec"], i["flag"]
            lines.append(f"- ~~Rep {int(r['rep'])} – {r['code']}{' at ' + _s(f.get('t_ms')) if f else ''}~~")
            lines += _comments_md(r)
        lines.append("")
    g = _guidance(rep, split["codes"])
    if g.get("faults"):
        lines += ["## What to work on", ""]
        for fg in g["faults"]:
            lines += [f"### {fg['title']}", "", fg["why"], "", f"Cue: *{fg['cue']}*", ""]
            for c in fg["causes"]:
                lines.append(f"- **{c['name']}**" + (f": {c['note']}" if c.get("note") else ""))
                lines += [f"  - {fx}" for fx in c["fixes"]]
            lines.append("")
    lines += ["## When to see a professional", "", g["red_flag_notice"], "", f"_{g['disclaimer']}_", "", g["credit"], ""]
    return "\n".join(lines)


def _comments_md(rec: Mapping[str, Any]) -> list[str]:
    return [f"  - 💬 {'at ' + _ts(c.get('t_s')) + ': ' if c.get('t_s') is not None else ''}{md_escape(c['text'])} "
            f"({str(c.get('at', ''))[:10]})" for c in _sorted_comments(rec)]
