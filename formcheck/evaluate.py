"""Accuracy against hand labels in the format of ``../shared/data/lifts/labels.json``.

Pure bookkeeping over report dicts (schema in ``docs/report-schema.md``) and
label entries (schema in the labels' LABELS.md); running the analysis is the
CLI's job (``formcheck eval``).

Definitions
-----------
- **Rep count**: over clips with ``usable: true`` and a squat or deadlift,
  the report's ``rep_count`` against the label's ``coach_reps`` (falling back
  to ``rep_count``): exact-match rate and mean absolute error.
- **Clip level**, per fault: label ``yes`` / ``no`` (``unsure`` and ``n/a``
  left out) against the report's verdict. ``flagged`` is a positive; ``clear``
  and ``not_assessable`` are negatives, so a tool cannot raise its precision
  by declining to judge. The share of judgements returned as
  ``not_assessable`` is reported beside it. ``borderline`` (a reading past the limit
  but within the measure's error band) is not a flag: a negative too, its share
  reported beside it.
- **Rep level**: each labelled rep is matched to the detected rep that
  overlaps it most in time (at least ``MIN_OVERLAP`` of the shorter of the
  two); an unmatched labelled rep counts as not flagged.
- **False-flag rate on clean reps**: among labelled reps whose every fault is
  ``no`` or ``n/a`` and that were matched to a detected rep, the share with
  any flag.
- **False flags on clean clips**, per fault: among clips labelled ``no`` for
  that fault, the share whose report flags it (``fp / (fp + tn)`` at clip level).
- **Lift recognition**: over squat/deadlift clips, the report's ``lift``
  against the label's, as a confusion table by labelled view.
- **By source** (:func:`evaluate_by_source`): the same summary per origin of
  the clips (``source.repo`` in the labels' ``SOURCES.json``), so a change is
  judged on every source and not on the pooled figure alone.
- **Reliability of confidence** (:func:`reliability`): every flag on a detected rep
  matched to a labelled rep whose label for that fault is ``yes`` or ``no``, binned by
  the flag's confidence; precision per bin = share of those flags whose label is ``yes``.
- An analysis that failed (error) counts as zero reps and no flags.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from formcheck.faults import FAULT_CODES

MIN_OVERLAP = 0.3
LABEL_VALUES = ("yes", "no", "unsure", "n/a")


@dataclass(frozen=True)
class ClipOutcome:
    """One labelled clip with its report (``None`` and an ``error`` when the analysis failed)."""

    label: Mapping[str, Any]
    report: Mapping[str, Any] | None
    error: str | None = None

    @property
    def file(self) -> str:
        return str(self.label["file"])


@dataclass(frozen=True)
class PRF:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    not_assessable: int = 0
    borderline: int = 0

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else math.nan

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else math.nan

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        if math.isnan(p) or math.isnan(r) or p + r == 0:
            return math.nan if self.tp + self.fn == 0 else 0.0
        return 2 * p * r / (p + r)

    @property
    def false_flag_rate(self) -> float:
        """Share of ``no`` judgements that were flagged (NaN without any)."""
        return self.fp / (self.fp + self.tn) if self.fp + self.tn else math.nan

    @property
    def not_assessable_share(self) -> float:
        return self.not_assessable / self.n if self.n else math.nan

    @property
    def borderline_share(self) -> float:
        """Share of judgements returned ``borderline`` (counted as not flagged)."""
        return self.borderline / self.n if self.n else math.nan

    def add(self, label: str, predicted: str) -> "PRF":
        """Count one judgement: ``label`` yes/no, ``predicted`` a verdict."""
        pos = predicted == "flagged"
        na = int(predicted == "not_assessable")
        bl = self.borderline + int(predicted == "borderline")
        if label == "yes":
            return PRF(self.tp + pos, self.fp, self.fn + (not pos), self.tn, self.not_assessable + na, bl)
        return PRF(self.tp, self.fp + pos, self.fn, self.tn + (not pos), self.not_assessable + na, bl)


@dataclass(frozen=True)
class EvalSummary:
    clips: int
    failed: tuple[tuple[str, str], ...]
    rep_clips: int
    rep_exact: int
    rep_abs_errors: tuple[int, ...]
    rep_rows: tuple[tuple[str, int, int], ...]  # file, expected, got
    clip_level: Mapping[str, PRF]
    rep_level: Mapping[str, PRF]
    clean_reps: int
    clean_reps_flagged: int
    unmatched_flags: int
    per_clip: tuple[Mapping[str, Any], ...] = field(default_factory=tuple)
    #: (confidence, label is yes) of every flag on a matched rep labelled yes/no for its fault
    flag_judgements: tuple[tuple[float, bool], ...] = ()

    @property
    def lift_rows(self) -> tuple[Mapping[str, Any], ...]:
        """Per-clip rows of squat/deadlift clips (where lift recognition is judged)."""
        return tuple(r for r in self.per_clip if r["lift"] in ("squat", "deadlift"))

    @property
    def lift_correct(self) -> int:
        return sum(r["detected_lift"] == r["lift"] for r in self.lift_rows)

    @property
    def rep_exact_rate(self) -> float:
        return self.rep_exact / self.rep_clips if self.rep_clips else math.nan

    @property
    def rep_mae(self) -> float:
        return sum(self.rep_abs_errors) / len(self.rep_abs_errors) if self.rep_abs_errors else math.nan

    @property
    def false_flag_rate(self) -> float:
        return self.clean_reps_flagged / self.clean_reps if self.clean_reps else math.nan


def _overlap(a0: float, a1: float, b0: float, b1: float) -> float:
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    shorter = max(1e-9, min(a1 - a0, b1 - b0))
    return inter / shorter


def match_reps(detected: Sequence[Mapping[str, Any]], labelled: Sequence[Mapping[str, Any]]) -> list[int | None]:
    """For each labelled rep, the position in ``detected`` of its match (or None).

    Greedy by overlap, each detected rep used once. Detected reps carry
    ``start_ms``/``end_ms``; labelled reps ``start_s``/``end_s``.
    """
    pairs = []
    for i, lr in enumerate(labelled):
        l0, l1 = 1000.0 * lr["start_s"], 1000.0 * lr["end_s"]
        for j, dr in enumerate(detected):
            ov = _overlap(l0, l1, float(dr["start_ms"]), float(dr["end_ms"]))
            if ov >= MIN_OVERLAP:
                pairs.append((ov, i, j))
    out: list[int | None] = [None] * len(labelled)
    used: set[int] = set()
    for ov, i, j in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if out[i] is None and j not in used:
            out[i], used = j, used | {j}
    return out


def expected_reps(label: Mapping[str, Any]) -> int:
    return int(label.get("coach_reps", label.get("rep_count", 0)))


def evaluate(outcomes: Sequence[ClipOutcome]) -> EvalSummary:
    clip_level = {c: PRF() for c in FAULT_CODES}
    rep_level = {c: PRF() for c in FAULT_CODES}
    failed, rep_rows, errors, per_clip = [], [], [], []
    rep_clips = rep_exact = clean = clean_flagged = unmatched_flags = 0
    judgements: list[tuple[float, bool]] = []
    for oc in outcomes:
        lab, rep = oc.label, oc.report or {}
        if oc.error:
            failed.append((oc.file, oc.error))
        verdicts = rep.get("verdicts", {})
        d_reps = list(rep.get("reps", []))
        got = int(rep.get("rep_count", 0))
        if lab.get("usable") and lab.get("lift") in ("squat", "deadlift"):
            want = expected_reps(lab)
            rep_clips += 1
            rep_exact += int(got == want)
            errors.append(abs(got - want))
            rep_rows.append((oc.file, want, got))
        for code in FAULT_CODES:
            v = lab.get("faults", {}).get(code)
            if v in ("yes", "no"):
                clip_level[code] = clip_level[code].add(v, verdicts.get(code, "clear"))
        matches = match_reps(d_reps, lab.get("reps", []))
        matched = {m for m in matches if m is not None}
        flags_by_rep: dict[int, set[str]] = {}
        confidence: dict[tuple[int, str], float] = {}
        for f in rep.get("flags", []):
            flags_by_rep.setdefault(int(f["rep"]), set()).add(f["code"])
            key = (int(f["rep"]), f["code"])
            confidence[key] = max(confidence.get(key, 0.0), float(f.get("confidence", 0.0)))
        for j, dr in enumerate(d_reps):
            if j not in matched:
                unmatched_flags += len(flags_by_rep.get(int(dr["rep"]), ()))
        for lr, m in zip(lab.get("reps", []), matches):
            dr = d_reps[m] if m is not None else None
            rep_flags = flags_by_rep.get(int(dr["rep"]), set()) if dr is not None else set()
            rep_verdicts = dict(dr.get("verdicts", {})) if dr is not None else {}
            for code in FAULT_CODES:
                v = lr.get("faults", {}).get(code)
                if v not in ("yes", "no"):
                    continue
                if code in rep_flags:
                    pred = "flagged"
                    judgements.append((confidence[(int(dr["rep"]), code)], v == "yes"))
                else:
                    got_v = rep_verdicts.get(code)
                    pred = got_v if got_v in ("not_assessable", "borderline") else "clear"
                rep_level[code] = rep_level[code].add(v, pred)
            values = set(lr.get("faults", {}).values())
            if dr is not None and values <= {"no", "n/a"}:
                clean += 1
                clean_flagged += int(bool(rep_flags))
        per_clip.append({
            "file": oc.file, "lift": lab.get("lift"), "view": lab.get("view"), "usable": lab.get("usable"),
            "expected_reps": expected_reps(lab), "reps": got, "error": oc.error,
            "label_yes": sorted(c for c, v in lab.get("faults", {}).items() if v == "yes"),
            "flagged": sorted(c for c, v in verdicts.items() if v == "flagged"),
            "borderline": sorted(c for c, v in verdicts.items() if v == "borderline"),
            "detected_lift": rep.get("lift"), "detected_view": rep.get("view"),
        })
    return EvalSummary(
        clips=len(outcomes), failed=tuple(failed), rep_clips=rep_clips, rep_exact=rep_exact,
        rep_abs_errors=tuple(errors), rep_rows=tuple(rep_rows), clip_level=clip_level, rep_level=rep_level,
        clean_reps=clean, clean_reps_flagged=clean_flagged, unmatched_flags=unmatched_flags,
        per_clip=tuple(per_clip), flag_judgements=tuple(judgements),
    )


#: Confidence bins of :func:`reliability`: [lo, hi) each, the last one closed.
CONFIDENCE_BINS = ((0.0, 0.4), (0.4, 0.5), (0.5, 0.6), (0.6, 0.8), (0.8, 1.0))


def reliability(s: EvalSummary, bins: Sequence[tuple[float, float]] = CONFIDENCE_BINS
                ) -> list[tuple[float, float, int, int]]:
    """``(lo, hi, flags, correct)`` per confidence bin: how often a flag of that confidence was right.

    A flag is judged when it sits on a detected rep matched to a labelled rep labelled
    ``yes`` or ``no`` for its fault (``correct`` = labelled ``yes``).
    """
    out = []
    for i, (lo, hi) in enumerate(bins):
        last = i == len(bins) - 1
        inside = [ok for c, ok in s.flag_judgements if lo <= c < hi or (last and c == hi)]
        out.append((lo, hi, len(inside), sum(inside)))
    return out


def format_reliability(s: EvalSummary) -> str:
    """The reliability table (confidence bin -> precision) as Markdown."""
    out = ["### Confidence reliability (flags on labelled reps)", "",
           "| flag confidence | flags judged | labelled yes | precision |", "|---|---|---|---|"]
    for lo, hi, n, ok in reliability(s):
        out.append(f"| {lo:.1f}-{hi:.1f} | {n} | {ok} | {_f(ok / n) if n else '–'} |")
    return "\n".join(out + [""])


def _f(x: float) -> str:
    return "–" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.2f}"


def _pct(num: int, den: int) -> str:
    return f"{num}/{den} = {num / den:.2f}" if den else "–"


def lift_confusion(s: EvalSummary) -> dict[tuple[str, str], dict[str, int]]:
    """``(labelled lift, labelled view) -> {detected lift: clips}`` over squat/deadlift clips."""
    table: dict[tuple[str, str], dict[str, int]] = {}
    for r in s.lift_rows:
        cell = table.setdefault((str(r["lift"]), str(r["view"])), {})
        got = str(r["detected_lift"])
        cell[got] = cell.get(got, 0) + 1
    return dict(sorted(table.items()))


def format_markdown(s: EvalSummary) -> str:
    """The summary as Markdown tables (what ``docs/accuracy.md`` shows)."""
    out = [
        f"Clips: {s.clips} (analysis failed on {len(s.failed)})", "",
        "### Rep count (usable squat/deadlift clips, against `coach_reps`)", "",
        f"- exact: {s.rep_exact}/{s.rep_clips} = {_f(s.rep_exact_rate)}",
        f"- mean absolute error: {_f(s.rep_mae)} reps", "",
        "### Lift recognition (squat/deadlift clips)", "",
        f"- recognised: {_pct(s.lift_correct, len(s.lift_rows))}", "",
        "| labelled lift | view | read as squat | read as deadlift |",
        "|---|---|---|---|",
        *(f"| {lift} | {view} | {c.get('squat', 0)} | {c.get('deadlift', 0)} |"
          for (lift, view), c in lift_confusion(s).items()),
        "",
        "### Faults", "",
        "| fault | clip yes | clip P | clip R | clip F1 | rep yes | rep P | rep R | rep F1 | not assessable (clip) "
        "| borderline (clip) | clean clips flagged |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for code in FAULT_CODES:
        c, r = s.clip_level[code], s.rep_level[code]
        if c.n == 0 and r.n == 0:
            continue
        out.append(
            f"| {code} | {c.tp + c.fn}/{c.n} | {_f(c.precision)} | {_f(c.recall)} | {_f(c.f1)} | "
            f"{r.tp + r.fn}/{r.n} | {_f(r.precision)} | {_f(r.recall)} | {_f(r.f1)} | {_f(c.not_assessable_share)} "
            f"| {_f(c.borderline_share)} | {_pct(c.fp, c.fp + c.tn)} |"
        )
    out += [
        "",
        f"False flags on clean reps: {s.clean_reps_flagged}/{s.clean_reps} = {_f(s.false_flag_rate)} "
        f"(labelled reps with every fault `no`/`n/a`, matched to a detected rep)",
        f"Flags on detected reps that match no labelled rep: {s.unmatched_flags}",
        "",
        format_reliability(s),
    ]
    if s.failed:
        out += ["Failed clips:", ""] + [f"- {f}: {e}" for f, e in s.failed] + [""]
    return "\n".join(out)


# ---------------------------------------------------------------------------- by source


def source_of_clips(sources: Any) -> dict[str, str]:
    """``file -> origin`` from the labels' ``SOURCES.json`` (a list of ``{file, source: {repo}}``).

    The origin is ``source.repo`` (``source.type`` when a clip has no repo).
    Raises ``ValueError`` on any other shape.
    """
    if not isinstance(sources, list):
        raise ValueError(f"sources: expected a list of clip objects, got {type(sources).__name__}")
    out: dict[str, str] = {}
    for i, e in enumerate(sources):
        if not isinstance(e, Mapping) or "file" not in e or not isinstance(e.get("source"), Mapping):
            raise ValueError(f"sources[{i}]: expected an object with 'file' and 'source', got {e!r:.80}")
        src = e["source"]
        origin = src.get("repo") or src.get("type")
        if not origin:
            raise ValueError(f"sources[{i}] ({e['file']}): expected source.repo or source.type")
        out[str(e["file"])] = str(origin)
    return out


def evaluate_by_source(outcomes: Sequence[ClipOutcome], source_of: Mapping[str, str]) -> dict[str, EvalSummary]:
    """One :class:`EvalSummary` per origin (clips without a known origin under ``"unknown"``), sorted by origin."""
    groups: dict[str, list[ClipOutcome]] = {}
    for oc in outcomes:
        groups.setdefault(source_of.get(oc.file, "unknown"), []).append(oc)
    return {src: evaluate(groups[src]) for src in sorted(groups)}


def format_by_source(by_source: Mapping[str, EvalSummary]) -> str:
    """Per-origin tables: rep counts and lift recognition, then every fault judged on that origin."""
    out = [
        "### By source: rep count and lift", "",
        "| source | clips | usable (reps judged) | reps exact | rep MAE | lift recognised | clean reps flagged |",
        "|---|---|---|---|---|---|---|",
    ]
    for src, s in by_source.items():
        out.append(f"| {src} | {s.clips} | {s.rep_clips} | {_pct(s.rep_exact, s.rep_clips)} | {_f(s.rep_mae)} | "
                   f"{_pct(s.lift_correct, len(s.lift_rows))} | {_pct(s.clean_reps_flagged, s.clean_reps)} |")
    codes = [c for c in FAULT_CODES if any(s.clip_level[c].n for s in by_source.values())]
    out += [
        "",
        "### By source: faults (clip level)",
        "",
        "Each cell: `caught/yes` clips labelled `yes` that were flagged, then `flagged/no` clean clips that were "
        "flagged; `–` where the source has no `yes` or `no` label for the fault.",
        "",
        "| source | " + " | ".join(codes) + " |",
        "|---|" + "---|" * len(codes),
    ]
    for src, s in by_source.items():
        cells = []
        for code in codes:
            c = s.clip_level[code]
            cells.append("–" if c.n == 0 else f"{c.tp}/{c.tp + c.fn} · {c.fp}/{c.fp + c.tn}")
        out.append(f"| {src} | " + " | ".join(cells) + " |")
    out.append("")
    return "\n".join(out)
