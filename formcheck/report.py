"""FormReport: the versioned result of analysing one clip, and its renderings.

The JSON schema is documented in ``docs/report-schema.md``; :func:`validate_report`
checks a dict against it. Renderings: JSON, Markdown, a self-contained HTML
page, a per-frame CSV and a PNG plot of the key angles over time. Drawing on
video frames (worst-frame images, annotated video) is the overlay's job
(:mod:`formcheck.overlay`), not this module's.

Conventions
-----------
- Rep numbers in the report are 1-based (``"rep": 2`` is the second rep).
- Times are ``t_ms`` from the clip's first frame.
- ``verdicts`` maps every fault code judged for the lift to ``flagged``,
  ``borderline``, ``clear`` or ``not_assessable``; ``not_assessable`` says why.
  ``borderline``: no rep flagged, but a reading past the limit by no more than the
  measure's error band (``borderline`` lists them); never counted as a flag.
- ``status`` is ``ok``, ``no_person`` (nobody was tracked) or ``no_complete_rep``:
  these are results, not errors.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from formcheck import __version__
from formcheck.csvsafe import csv_writer
from formcheck.faults import FAULT_CODES
from formcheck.guidance import load_guidance
from formcheck.measures import description, measure_book, tempo_text

if TYPE_CHECKING:
    from formcheck.rules import RuleSet

SCHEMA_VERSION = 2
#: Older report versions that :func:`upgrade_report` turns into the current one.
UPGRADABLE_VERSIONS = (1,)
STATUSES = ("ok", "no_person", "no_complete_rep")
VERDICTS = ("flagged", "borderline", "clear", "not_assessable")

#: What a verdict means, in words for the report.
VERDICT_WORDS = {"flagged": "flagged", "borderline": "borderline (within our measurement error; not a flag)",
                 "clear": "clear", "not_assessable": "not assessable"}


def _num(x: Any, nd: int = 3) -> float | None:
    """JSON-safe float: NaN/inf become null, others are rounded."""
    if x is None:
        return None
    x = float(x)
    return round(x, nd) if math.isfinite(x) else None


@dataclass(frozen=True)
class FormReport:
    """One clip's analysis (see the module docstring for conventions)."""

    source: Mapping[str, Any]
    status: str
    lift: str
    lift_source: str
    lift_confidence: float | None
    view: str
    facing: str
    view_confidence: float | None
    detection_rate: float
    rep_count: int
    partial_reps: Sequence[Mapping[str, Any]]
    reps: Sequence[Mapping[str, Any]]
    flags: Sequence[Mapping[str, Any]]
    verdicts: Mapping[str, str]
    not_assessable: Mapping[str, str]
    guidance: Mapping[str, Any]
    #: readings past the limit but within the measure's error band: shown, never counted as flags
    borderline: Sequence[Mapping[str, Any]] = ()
    model: str = ""
    warnings: Sequence[str] = ()
    athlete: str = ""
    schema_version: int = SCHEMA_VERSION
    formcheck_version: str = __version__
    extra: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_report(self.to_dict())

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["reps"] = [dict(r) for r in self.reps]
        d["flags"] = [dict(f) for f in self.flags]
        d["borderline"] = [dict(b) for b in self.borderline]
        d["partial_reps"] = [dict(p) for p in self.partial_reps]
        d["warnings"] = list(self.warnings)
        return d

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "FormReport":
        """A report from its JSON dict; an older schema version is upgraded first (:func:`upgrade_report`)."""
        d = upgrade_report(d)
        validate_report(d)
        return cls(**{k: d[k] for k in cls.__dataclass_fields__ if k in d})

    def flagged_codes(self) -> list[str]:
        return [c for c, v in self.verdicts.items() if v == "flagged"]


#: Why a rep is partial (``partial_reps[].reason``): cut by the clip's start or end, or by a gap in tracking.
PARTIAL_REASONS = ("clip_start", "clip_end", "gap")


def upgrade_report(d: Mapping[str, Any]) -> dict[str, Any]:
    """The report dict in the current schema version (a copy; the current version is returned as is).

    Version 1 kept only the number of partial reps; each becomes an entry
    without a time span (``start_ms``/``end_ms`` null, reason ``unknown``).
    """
    out = dict(d)
    if out.get("schema_version") == 1:
        n = out.get("partial_reps", 0)
        out["partial_reps"] = [{"start_ms": None, "end_ms": None, "reason": "unknown",
                                "description": "a partial rep recorded by an earlier version (no time span kept)"}
                               for _ in range(int(n) if isinstance(n, int) else 0)]
        out["schema_version"] = SCHEMA_VERSION
    return out


def validate_report(d: Mapping[str, Any]) -> None:
    """Check a report dict against the current schema version ("expected X, got Y" on failure)."""

    def need(cond: bool, what: str, got: Any) -> None:
        if not cond:
            raise ValueError(f"report: expected {what}, got {got!r}")

    need(d.get("schema_version") == SCHEMA_VERSION, f"schema_version {SCHEMA_VERSION}", d.get("schema_version"))
    need(d.get("status") in STATUSES, f"status in {STATUSES}", d.get("status"))
    need(d.get("lift") in ("squat", "deadlift", "unknown"), "lift squat|deadlift|unknown", d.get("lift"))
    need(d.get("view") in ("side", "front", "oblique", "unknown"), "view side|front|oblique|unknown", d.get("view"))
    need(isinstance(d.get("rep_count"), int) and d["rep_count"] >= 0, "rep_count >= 0", d.get("rep_count"))
    reps = d.get("reps")
    need(isinstance(reps, Sequence) and len(reps) == d["rep_count"], "one entry in reps per counted rep", reps)
    for r in reps:
        for k in ("rep", "start_ms", "bottom_ms", "end_ms", "phases", "tempo_ms"):
            need(k in r, f"rep key {k}", sorted(r))
        need(r["start_ms"] <= r["bottom_ms"] <= r["end_ms"], "start_ms <= bottom_ms <= end_ms", r)
    partial = d.get("partial_reps")
    need(isinstance(partial, Sequence) and not isinstance(partial, str), "a list of partial reps", partial)
    for p in partial:
        need(isinstance(p, Mapping) and {"start_ms", "end_ms", "reason", "description"} <= set(p),
             "partial rep keys start_ms, end_ms, reason, description", p)
        need(p["reason"] in PARTIAL_REASONS + ("unknown",), f"partial rep reason in {PARTIAL_REASONS}", p["reason"])
        if p["start_ms"] is not None or p["end_ms"] is not None:
            need(p["start_ms"] is not None and p["end_ms"] is not None and p["start_ms"] <= p["end_ms"],
                 "partial rep start_ms <= end_ms", p)
    verdicts = d.get("verdicts")
    need(isinstance(verdicts, Mapping), "verdicts mapping", verdicts)
    for code, v in verdicts.items():
        need(code in FAULT_CODES, "fault codes from labels.json", code)
        need(v in VERDICTS, f"verdict in {VERDICTS}", v)
    for code in d.get("not_assessable", {}):
        need(verdicts.get(code) == "not_assessable", f"a reason only for not_assessable codes ({code})", verdicts.get(code))
    rep_numbers = {r["rep"] for r in reps}
    for f in d.get("flags", ()):
        for k in ("code", "rep", "t_ms", "measured", "limit", "units", "severity", "confidence"):
            need(k in f, f"flag key {k}", sorted(f))
        need(verdicts.get(f["code"]) == "flagged", f"verdict 'flagged' for flag {f['code']}", verdicts.get(f["code"]))
        need(f["rep"] in rep_numbers, "a flag on a counted rep", f["rep"])
        rep = next(r for r in reps if r["rep"] == f["rep"])
        need(f["t_ms"] >= rep["start_ms"], f"a flag no earlier than its rep's start ({rep['start_ms']} ms)", f["t_ms"])
        need(f["severity"] in ("minor", "major"), "severity minor|major", f["severity"])
        need(0.0 <= f["confidence"] <= 1.0, "confidence in [0, 1]", f["confidence"])
    borderline = d.get("borderline", [])
    need(isinstance(borderline, Sequence) and not isinstance(borderline, str), "a list of borderline readings",
         borderline)
    for b in borderline:
        for k in ("code", "rep", "t_ms", "measured", "limit", "band", "units"):
            need(isinstance(b, Mapping) and k in b, f"borderline key {k}", b)
        need(verdicts.get(b["code"]) in ("flagged", "borderline"),
             f"verdict 'flagged' or 'borderline' for borderline reading {b['code']}", verdicts.get(b["code"]))
        need(b["rep"] in rep_numbers, "a borderline reading on a counted rep", b["rep"])
    for code, v in verdicts.items():
        if v == "borderline":
            need(any(b["code"] == code for b in borderline), f"a borderline reading behind verdict borderline "
                 f"({code})", [b["code"] for b in borderline])
    g = d.get("guidance", {})
    need(bool(g.get("red_flags")) and bool(g.get("disclaimer")) and bool(g.get("credit")),
         "guidance with red_flags, disclaimer and credit", sorted(g))


# --------------------------------------------------------------------------- guidance block
def guidance_block(flag_codes: Sequence[str], lift: str) -> dict[str, Any]:
    """The guidance part of a report: per-fault causes and fixes, ranked causes, red flags."""
    g = load_guidance()
    faults = []
    for fg in g.for_faults(flag_codes):
        faults.append({
            "code": fg.code,
            "title": fg.title,
            "cue": fg.cue,
            "why": fg.why,
            "causes": [
                {
                    "id": fc.cause.id,
                    "name": fc.cause.name,
                    "note": fc.note,
                    "fixes": [fx.text() for fx in fc.fixes],
                }
                for fc in fg.causes
            ],
        })
    return {
        "faults": faults,
        "top_causes": [{"id": c.id, "name": c.name, "score": round(s, 3)} for c, s in g.causes_ranked(flag_codes)][:3],
        "red_flags": g.red_flags(),
        "red_flag_notice": g.red_flag_notice(),
        "disclaimer": g.disclaimer(),
        "credit": g.credit(),
    }


def clip_problems(report: FormReport) -> list[str]:
    """Why no fault of the clip was judged (``extra.sanity``, :mod:`formcheck.sanity`): one reason per problem."""
    sanity = report.extra.get("sanity") if isinstance(report.extra, Mapping) else None
    if not isinstance(sanity, Mapping):
        return []
    return [str(p.get("reason", "")) for p in sanity.get("problems", ()) if isinstance(p, Mapping)]


def flag_message(code: str, measured: float, limit: float, measure: str) -> str:
    """The "what we saw" sentence of a flag, from its measure's definition (:mod:`formcheck.measures`)."""
    return load_guidance().describe(code, measured, limit, measure)


# --------------------------------------------------------------------------- Markdown
def _s(ms: float | None) -> str:
    return "–" if ms is None else f"{ms / 1000:.2f} s"


def _partial_note(r: FormReport) -> str:
    n = len(r.partial_reps)
    return f" (+{n} partial, not counted)" if n else ""


def _rep_codes(r: FormReport, rep: int) -> str:
    """A rep's flags, then its borderline readings marked as such: ``heels_lift, rounded_back (borderline)``."""
    codes = [f["code"] for f in r.flags if f["rep"] == rep]
    codes += [f"{b['code']} (borderline)" for b in r.borderline if b["rep"] == rep]
    return ", ".join(codes) or "–"


def render_markdown(report: FormReport, images: Mapping[str, str] | None = None) -> str:
    """A readable Markdown summary. ``images``: name -> relative path (plot, worst frames)."""
    r, images = report, images or {}
    lines = [f"# formcheck report: {Path(str(r.source.get('file', ''))).name}", ""]
    if r.athlete:
        lines.append(f"Athlete: {r.athlete}  ")
    lines += [
        f"Lift: **{r.lift}** ({r.lift_source}) · View: **{r.view}**, facing {r.facing} · "
        f"Reps: **{r.rep_count}**{_partial_note(r)} · Lifter tracked in {r.detection_rate:.0%} of frames",
        "",
    ]
    problems = clip_problems(r)
    for pr in problems:
        lines += [f"**This clip was not judged:** {pr}", ""]
    if r.status == "no_person":
        lines += ["**No person was found in this clip.** Film the whole body, head to feet, from the side or at 45°.", ""]
    elif r.status == "no_complete_rep" and not problems:
        lines += ["**No complete rep was found.** Make sure the clip shows each rep from standing to the bottom and back.", ""]
    notes = [w for w in r.warnings if w not in problems]
    for w in notes:
        lines.append(f"> Note: {w}")
    if notes:
        lines.append("")
    lines += ["## Verdicts", "", "| fault | verdict | note |", "|---|---|---|"]
    for code, v in r.verdicts.items():
        lines.append(f"| {code} | {VERDICT_WORDS[v]} | {r.not_assessable.get(code, '')} |")
    lines.append("")
    if r.reps:
        lines += ["## Reps", "", "| rep | start | bottom | end | tempo (time per phase) | flags |",
                  "|---|---|---|---|---|---|"]
        for rep in r.reps:
            fl = _rep_codes(r, rep["rep"])
            t_txt = tempo_text(rep.get("tempo_ms", {}))
            lines.append(f"| {rep['rep']} | {_s(rep['start_ms'])} | {_s(rep['bottom_ms'])} | {_s(rep['end_ms'])} | {t_txt} | {fl} |")
        lines.append("")
    if r.partial_reps:
        lines += ["## Partial reps (not counted, not judged)", "", "| from | to | why |", "|---|---|---|"]
        for p in r.partial_reps:
            lines.append(f"| {_s(p['start_ms'])} | {_s(p['end_ms'])} | {p['description']} |")
        lines.append("")
    if "angles" in images:
        lines += [f"![Angles over time]({images['angles']})", ""]
    if r.flags:
        lines += ["## Flags", ""]
        for f in r.flags:
            lines.append(
                f"- **Rep {f['rep']} – {f['code']}** ({f['severity']}, confidence {f['confidence']:.2f}) at "
                f"{_s(f['t_ms'])}: {f.get('message', '')}"
            )
            key = f"worst_{f['rep']}_{f['code']}"
            if key in images:
                lines.append(f"  ![worst frame]({images[key]})")
        for m in dict.fromkeys(f.get("measure", "") for f in r.flags):
            if m in measure_book().measures:
                lines += ["", f"> Reading the number: {description(m)}"]
            note = load_guidance().explain_measure(m)
            if note:
                lines += ["", f"> {note}"]
        lines.append("")
    if r.borderline:
        lines += ["## Borderline (not counted as flags)", "",
                  "Past the limit, but by less than our measurement error: a coach may want to look; "
                  "we do not count these as faults.", ""]
        for b in r.borderline:
            lines.append(f"- Rep {b['rep']} – {b['code']} at {_s(b['t_ms'])}: {b.get('message', '')}")
        lines.append("")
    g = r.guidance
    if g.get("faults"):
        lines += ["## What to work on", ""]
        for fg in g["faults"]:
            lines += [f"### {fg['title']}", "", fg["why"], "", f"Cue: *{fg['cue']}*", ""]
            for c in fg["causes"]:
                lines.append(f"- **{c['name']}**" + (f": {c['note']}" if c.get("note") else ""))
                for fx in c["fixes"]:
                    lines.append(f"  - {fx}")
            lines.append("")
    lines += ["## When to see a professional", "", g["red_flag_notice"], "", f"_{g['disclaimer']}_", "", g["credit"], ""]
    return "\n".join(lines)


# --------------------------------------------------------------------------- HTML
_CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#1b1f23}
h1{font-size:1.5em} table{border-collapse:collapse;margin:1em 0} td,th{border:1px solid #d0d7de;padding:4px 8px;text-align:left}
.flagged{color:#b42318;font-weight:600} .borderline{color:#b54708} .clear{color:#067647} .not_assessable{color:#6b7280}
.card{display:inline-block;border:1px solid #d0d7de;border-radius:8px;padding:8px 14px;margin:4px}
.red{border-left:4px solid #b42318;padding:8px 12px;background:#fef3f2} img{max-width:100%}
.small{color:#6b7280;font-size:.9em}
"""


def _img_tag(path: Path | None, alt: str) -> str:
    if path is None or not Path(path).is_file():
        return ""
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def render_html(report: FormReport, images: Mapping[str, Path] | None = None) -> str:
    """A self-contained HTML page (images embedded). Every user-supplied text is escaped."""
    r, images = report, images or {}
    e = html.escape
    name = Path(str(r.source.get("file", ""))).name
    out = [f"<!doctype html><html lang=en><head><meta charset=utf-8><title>formcheck – {e(name)}</title>",
           f"<style>{_CSS}</style></head><body>", f"<h1>formcheck report: {e(name)}</h1>"]
    if r.athlete:
        out.append(f"<p>Athlete: {e(r.athlete)}</p>")
    cards = [("Lift", f"{r.lift} ({r.lift_source})"), ("Reps", f"{r.rep_count}{_partial_note(r)}"),
             ("View", f"{r.view}, facing {r.facing}"), ("Flags", str(len(r.flags))),
             ("Tracked", f"{r.detection_rate:.0%} of frames")]
    out.append("<div>" + "".join(f'<span class=card><b>{e(k)}</b><br>{e(v)}</span>' for k, v in cards) + "</div>")
    problems = clip_problems(r)
    for pr in problems:
        out.append(f"<p class=flagged>This clip was not judged: {e(pr)}</p>")
    if r.status != "ok" and not problems:
        msg = {"no_person": "No person was found in this clip. Film the whole body, head to feet, from the side or at 45°.",
               "no_complete_rep": "No complete rep was found. Make sure the clip shows each rep from standing to the bottom and back."}[r.status]
        out.append(f"<p class=flagged>{e(msg)}</p>")
    for w in r.warnings:
        if w not in problems:
            out.append(f"<p class=small>Note: {e(w)}</p>")
    out.append("<h2>Verdicts</h2><table><tr><th>fault</th><th>verdict</th><th>note</th></tr>")
    for code, v in r.verdicts.items():
        out.append(f"<tr><td>{e(code)}</td><td class={v}>{e(VERDICT_WORDS[v])}</td><td>{e(r.not_assessable.get(code, ''))}</td></tr>")
    out.append("</table>")
    if r.reps:
        out.append("<h2>Reps</h2><table><tr><th>rep</th><th>start</th><th>bottom</th><th>end</th><th>phases</th><th>flags</th></tr>")
        for rep in r.reps:
            fl = _rep_codes(r, rep["rep"])
            ph = tempo_text(rep.get("tempo_ms", {}), sep=", ")
            out.append(f"<tr><td>{rep['rep']}</td><td>{_s(rep['start_ms'])}</td><td>{_s(rep['bottom_ms'])}</td>"
                       f"<td>{_s(rep['end_ms'])}</td><td>{e(ph)}</td><td>{e(fl)}</td></tr>")
        out.append("</table>")
    if r.partial_reps:
        out.append("<h2>Partial reps</h2><p class=small>Cut by the clip's edges or a gap in tracking: not counted "
                   "and not judged.</p><table><tr><th>from</th><th>to</th><th>why</th></tr>")
        for p in r.partial_reps:
            out.append(f"<tr><td>{_s(p['start_ms'])}</td><td>{_s(p['end_ms'])}</td><td>{e(p['description'])}</td></tr>")
        out.append("</table>")
    out.append(_img_tag(images.get("angles"), "Angles over time"))
    if r.flags:
        out.append("<h2>Flags</h2>")
        for f in r.flags:
            out.append(f"<h3>Rep {f['rep']}: {e(f['code'])} <span class=small>({e(f['severity'])}, confidence "
                       f"{f['confidence']:.2f}, at {_s(f['t_ms'])})</span></h3><p>{e(str(f.get('message', '')))}</p>")
            out.append(_img_tag(images.get(f"worst_{f['rep']}_{f['code']}"), f"Rep {f['rep']} worst frame"))
        for m in dict.fromkeys(f.get("measure", "") for f in r.flags):
            if m in measure_book().measures:
                out.append(f"<p class=small>Reading the number: {e(description(m))}</p>")
            note = load_guidance().explain_measure(m)
            if note:
                out.append(f"<p class=small>{e(note)}</p>")
    if r.borderline:
        out.append("<h2>Borderline (not counted as flags)</h2><p class=small>Past the limit, but by less than our "
                   "measurement error: a coach may want to look; we do not count these as faults.</p><ul>")
        for b in r.borderline:
            out.append(f"<li class=borderline>Rep {b['rep']} – {e(b['code'])} at {_s(b['t_ms'])}: "
                       f"{e(str(b.get('message', '')))}</li>")
        out.append("</ul>")
    out += guidance_html(r.guidance)
    return "\n".join(x for x in out if x)


def guidance_html(g: Mapping[str, Any]) -> list[str]:
    """The HTML tail of a report: what to work on (when anything was flagged), then the red flags,
    disclaimer and credit, closing the page. Every text is escaped."""
    e = html.escape
    out = []
    if g.get("faults"):
        out.append("<h2>What to work on</h2>")
        for fg in g["faults"]:
            out.append(f"<h3>{e(fg['title'])}</h3><p>{e(fg['why'])}</p><p>Cue: <i>{e(fg['cue'])}</i></p><ul>")
            for c in fg["causes"]:
                note = f": {e(c['note'])}" if c.get("note") else ""
                fixes = "".join(f"<li>{e(fx)}</li>" for fx in c["fixes"])
                out.append(f"<li><b>{e(c['name'])}</b>{note}<ul>{fixes}</ul></li>")
            out.append("</ul>")
    out.append(f"<h2>When to see a professional</h2><p class=red>{e(g['red_flag_notice'])}</p>")
    out.append(f"<p class=small>{e(g['disclaimer'])}</p><p class=small>{e(g['credit'])}</p></body></html>")
    return out


# --------------------------------------------------------------------------- CSV and plots
def write_frame_csv(path: str | Path, t_ms: np.ndarray, signals: Mapping[str, np.ndarray],
                    rep_of_frame: np.ndarray | None = None, partial_of_frame: np.ndarray | None = None) -> Path:
    """Per-frame CSV: t_ms, rep (1-based, empty outside reps), partial_rep (1-based partial rep, empty
    outside them) and every signal."""
    path = Path(path)
    names = [k for k, v in signals.items() if v is not None and np.shape(v) == np.shape(t_ms)]
    with open(path, "w", newline="") as fh:
        w = csv_writer(fh)
        w.writerow(["frame", "t_ms", "rep", "partial_rep", *names])
        for i in range(len(t_ms)):
            rep = "" if rep_of_frame is None or rep_of_frame[i] <= 0 else int(rep_of_frame[i])
            part = "" if partial_of_frame is None or partial_of_frame[i] <= 0 else int(partial_of_frame[i])
            vals = []
            for n in names:
                v = float(signals[n][i])
                vals.append("" if not math.isfinite(v) else f"{v:.4f}")
            w.writerow([i, f"{t_ms[i]:.3f}", rep, part, *vals])
    return path


PLOT_SIGNALS = (("trunk_deg", "trunk lean (°)"), ("hip_deg", "hip angle (°)"), ("knee_deg", "knee angle (°)"))
#: How the charts name a stretch whose angles rest on joints the pose model could not see well.
UNSEEN_LABEL = "not seen clearly"


def min_quality_for(lift: str, rules_path: str | Path | RuleSet | None = None) -> float:
    """The tracking quality below which the rules judge nothing (``min_quality`` of the lift's rules; for an
    unknown lift the lower of the two): below it the charts mark an angle as not seen rather than measured."""
    from formcheck.rules import load_rules

    if lift in ("squat", "deadlift"):
        return load_rules(lift, rules_path).min_quality
    return min(load_rules(x).min_quality for x in ("squat", "deadlift"))


def unseen_spans(t_ms: Any, quality: Any, min_quality: float) -> list[tuple[float, float]]:
    """The stretches ``(from_ms, to_ms)`` of consecutive frames whose tracking quality is below
    ``min_quality`` (a missing quality counts as not seen); each runs from its first frame's time to the
    next frame's (the last frame's own time at the clip's end)."""
    t = np.asarray(t_ms, dtype=float)
    q = np.asarray(quality, dtype=float)
    if t.shape != q.shape or t.ndim != 1:
        raise ValueError(f"quality: expected one value per frame ({t.shape}), got {q.shape}")
    low = ~(q >= min_quality)
    spans = []
    i, n = 0, len(t)
    while i < n:
        if not low[i]:
            i += 1
            continue
        j = i
        while j + 1 < n and low[j + 1]:
            j += 1
        spans.append((float(t[i]), float(t[j + 1] if j + 1 < n else t[j])))
        i = j + 1
    return spans


def plot_angles(path: str | Path, t_ms: np.ndarray, signals: Mapping[str, np.ndarray],
                reps: Sequence[Mapping[str, Any]], flags: Sequence[Mapping[str, Any]], title: str = "",
                partial_reps: Sequence[Mapping[str, Any]] = (), min_quality: float | None = None) -> Path:
    """PNG of trunk, hip and knee angles over time, rep spans shaded, partial reps hatched, flags marked.

    With ``min_quality`` and a ``quality`` signal, the stretches tracked below it (:func:`unseen_spans`)
    are shaded grey and labelled "not seen clearly", and the angles there are drawn dashed and grey
    instead of as measurements."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    t_s = np.asarray(t_ms) / 1000.0
    fig, ax = plt.subplots(figsize=(10, 4), dpi=100)
    quality = signals.get("quality")
    low = None
    if min_quality is not None and quality is not None and np.shape(quality) == np.shape(t_s):
        low = ~(np.asarray(quality, dtype=float) >= min_quality)
    try:
        for name, label in PLOT_SIGNALS:
            if name in signals and signals[name] is not None:
                y = np.asarray(signals[name], dtype=float)
                if low is None or not low.any():
                    ax.plot(t_s, y, label=label, lw=1.6)
                    continue
                # Seen: solid. Not seen: grey dashes (a frame either side keeps the pieces joined).
                near_low = low | np.r_[low[1:], False] | np.r_[False, low[:-1]]
                ax.plot(t_s, np.where(low, np.nan, y), label=label, lw=1.6)
                ax.plot(t_s, np.where(near_low, y, np.nan), color="#9ca3af", ls="--", lw=1.2)
        if low is not None and low.any():
            for n, (a, b) in enumerate(unseen_spans(t_ms, quality, min_quality)):
                ax.axvspan(a / 1000, b / 1000, color="#9ca3af", alpha=0.22, lw=0,
                           label=f"{UNSEEN_LABEL} (tracking < {min_quality:g})" if n == 0 else None)
        for rep in reps:
            ax.axvspan(rep["start_ms"] / 1000, rep["end_ms"] / 1000, color="#8ecae6", alpha=0.18)
            ax.text(rep["start_ms"] / 1000, 1.0, f" rep {rep['rep']}", transform=ax.get_xaxis_transform(),
                    va="top", fontsize=8)
        for p in partial_reps:
            if p.get("start_ms") is None:
                continue
            ax.axvspan(p["start_ms"] / 1000, p["end_ms"] / 1000, facecolor="none", edgecolor="#9ca3af", hatch="//",
                       lw=0)
            ax.text(p["start_ms"] / 1000, 1.0, " partial", transform=ax.get_xaxis_transform(), va="top", fontsize=8,
                    color="#6b7280")
        for f in flags:
            ax.axvline(f["t_ms"] / 1000, color="#b42318", ls="--", lw=1)
            ax.text(f["t_ms"] / 1000, 0.02, f" {f['code']}", transform=ax.get_xaxis_transform(), rotation=90,
                    color="#b42318", fontsize=7, va="bottom")
        ax.set_xlabel("time (s)")
        ax.set_ylabel("degrees")
        if title:
            ax.set_title(title)
        ax.grid(alpha=0.3)
        ax.legend(loc="lower right", fontsize=8)
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
