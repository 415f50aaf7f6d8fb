"""Fault rules: declarative limits from ``formcheck/config/<lift>.toml``, applied rep by rep.

A rule says: take this rep measure (:mod:`formcheck.repmetrics`), compare it
with this limit in these units, in these camera views. The TOML is the one
place thresholds live; this module only reads and applies them.

TOML keys of a rule (one ``[faults.<code>]`` table, or ``[[faults.<code>]]``
alternatives in order of preference: the first whose measure is available in
the clip is used):

- ``measure``: a name from :data:`formcheck.repmetrics.MEASURE_NAMES`, defined in words in
  ``config/measures.toml`` (:mod:`formcheck.measures`).
- ``flag_when``: ``"above"`` or ``"below"`` the limit; the side the measure's definition names as the fault.
- ``limit_<units>``: the limit; the suffix names the units (``deg``, ``thigh``,
  ``ratio``, ``foot``), the units of the measure's definition. ``major_<units>``: beyond it the flag is major.
- ``band_<units>`` (optional, default 0): the measure's own error band, measured with ground truth
  (``benchmarks/measure_bands.py``). A reading flags only when it clears the limit by more than the
  band, in the fault's direction; a reading past the limit but within the band is ``borderline``:
  shown, never counted as a flag.
- ``personal_margin_<units>`` / ``personal_cap_<units>`` (optional): the
  personal baseline. With two or more reps, the limit moves to the lifter's best
  rep plus the margin when that is more lenient, but never past the cap, so a
  build that needs more lean is not flagged for it while real outliers still are.
- ``views``: ``{view = confidence factor}``; views not listed are "not assessable".
- ``confidence_factor`` (optional, default 1): scales the confidence of this
  alternative (a proxy measure is trusted less).
- ``alongside`` (optional, default false): this alternative is not a fallback
  but a second opinion, judged *together with* the fallback chosen from the
  others: a rep is flagged when any of them flags it (the flag reported is
  that of the first flagging table in file order), clear when at least one
  measured it and none flagged it. Where it cannot be measured (no
  silhouette, a view it is not listed for) it simply adds nothing.
- ``min_set_reps`` (required for, and only for, a measure of
  :data:`formcheck.repmetrics.SET_RELATIVE_MEASURES`): such a measure is judged
  against the set's own typical rep (each reading minus the median reading of the
  clip's reps); with fewer reps read than this it adds nothing.
- any other key is a parameter of the measure (e.g. ``sustain_ms``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from formcheck.barcheck import BarCheckParams
from formcheck.faults import FAULT_CODES
from formcheck.measures import article, check_rule
from formcheck.repmetrics import (MEASURE_NAMES, SET_RELATIVE_MEASURES, RepLike, RepMeasure, Signals, measure,
                                  measure_signal, relative_to_set)

LIFTS = ("squat", "deadlift")
VIEWS = ("side", "front", "oblique")
UNITS = ("deg", "thigh", "ratio", "foot", "leg")
VERDICTS = ("flagged", "borderline", "clear", "not_assessable")
SEVERITIES = ("minor", "major")
_RESERVED = {"measure", "flag_when", "views", "confidence_factor", "note", "alongside", "min_set_reps"}


@dataclass(frozen=True)
class FaultRule:
    """One alternative way to judge one fault (see the module docstring)."""

    code: str
    measure: str
    flag_when: str
    units: str
    limit: float
    major: float
    views: Mapping[str, float]
    personal_margin: float | None = None
    personal_cap: float | None = None
    confidence_factor: float = 1.0
    params: Mapping[str, Any] = field(default_factory=dict)
    alongside: bool = False
    #: the measure's error band (units of the limit, >= 0): flagged only beyond limit + band
    band: float = 0.0
    #: for a set-relative measure (SET_RELATIVE_MEASURES): reps read needed for the set's median; else 0
    min_set_reps: int = 0

    def __post_init__(self) -> None:
        where = f"fault {self.code}"
        if not (np.isfinite(self.band) and self.band >= 0.0):
            raise ValueError(f"{where}: band expected a number >= 0, got {self.band}")
        if self.measure not in MEASURE_NAMES:
            raise ValueError(f"{where}: measure expected one of {', '.join(MEASURE_NAMES)}, got {self.measure!r}")
        if self.flag_when not in ("above", "below"):
            raise ValueError(f"{where}: flag_when expected 'above' or 'below', got {self.flag_when!r}")
        if self.units not in UNITS:
            raise ValueError(f"{where}: units expected one of {', '.join(UNITS)}, got {self.units!r}")
        bad = [v for v in self.views if v not in VIEWS]
        if bad or not self.views:
            raise ValueError(f"{where}: views expected a table over {', '.join(VIEWS)}, got {dict(self.views)}")
        if any(not 0.0 < f <= 1.0 for f in self.views.values()):
            raise ValueError(f"{where}: view confidence factors expected in (0, 1], got {dict(self.views)}")
        worse = self.major >= self.limit if self.flag_when == "above" else self.major <= self.limit
        if not worse:
            raise ValueError(f"{where}: major expected beyond limit ({self.flag_when}), got limit {self.limit}, major {self.major}")
        if (self.personal_margin is None) != (self.personal_cap is None):
            raise ValueError(f"{where}: personal_margin and personal_cap expected together")
        if not 0.0 < self.confidence_factor <= 1.0:
            raise ValueError(f"{where}: confidence_factor expected in (0, 1], got {self.confidence_factor}")
        if self.measure in SET_RELATIVE_MEASURES and self.min_set_reps < 2:
            raise ValueError(f"{where}: min_set_reps expected an integer >= 2 for the set-relative measure "
                             f"{self.measure}, got {self.min_set_reps}")
        if self.measure not in SET_RELATIVE_MEASURES and self.min_set_reps != 0:
            raise ValueError(f"{where}: min_set_reps expected only with a set-relative measure "
                             f"({', '.join(sorted(SET_RELATIVE_MEASURES))}), got it with {self.measure}")

    def exceeds(self, value: float, limit: float) -> bool:
        return value > limit if self.flag_when == "above" else value < limit

    def flag_line(self, limit: float) -> float:
        """Where a reading is flagged: ``limit`` moved by the band in the fault's direction."""
        return limit + self.band if self.flag_when == "above" else limit - self.band

    def judge(self, value: float, limit: float) -> str:
        """``flagged`` beyond the limit and its band, ``borderline`` past the limit within the band, else ``clear``."""
        if self.exceeds(value, self.flag_line(limit)):
            return "flagged"
        return "borderline" if self.exceeds(value, limit) else "clear"

    def effective_limit(self, rep_values: Sequence[float]) -> float:
        """The limit after the personal baseline (needs two or more measured reps)."""
        vals = [v for v in rep_values if np.isfinite(v)]
        if self.personal_margin is None or self.personal_cap is None or len(vals) < 2:
            return self.limit
        if self.flag_when == "above":
            return max(self.limit, min(min(vals) + self.personal_margin, self.personal_cap))
        return min(self.limit, max(max(vals) - self.personal_margin, self.personal_cap))


@dataclass(frozen=True)
class RuleSet:
    lift: str
    min_quality: float
    rules: Mapping[str, tuple[FaultRule, ...]]
    source: str = ""
    #: thresholds of the image check that a deadlift rise carried the bar (the ``[bar_check]`` table,
    #: required in a deadlift file); None for a lift without one
    bar_check: BarCheckParams | None = None

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self.rules)


def _parse_rule(code: str, table: Mapping[str, Any], where: str) -> FaultRule:
    if "measure" not in table:
        raise ValueError(f"{where}: fault {code}: expected a 'measure' key")
    limits = [k for k in table if k.startswith("limit_")]
    if len(limits) != 1:
        raise ValueError(f"{where}: fault {code}: expected exactly one limit_<units> key, got {limits}")
    units = limits[0].removeprefix("limit_")
    major_key = f"major_{units}"
    if major_key not in table:
        raise ValueError(f"{where}: fault {code}: expected {major_key} beside {limits[0]}")
    pm, pc = table.get(f"personal_margin_{units}"), table.get(f"personal_cap_{units}")
    band_key = f"band_{units}"
    used = {limits[0], major_key, band_key, f"personal_margin_{units}", f"personal_cap_{units}"} | _RESERVED
    stray = [k for k in table if (k.startswith(("limit_", "major_", "personal_", "band_")) and k not in used)]
    if stray:
        raise ValueError(f"{where}: fault {code}: keys {stray} do not match the units of {limits[0]}")
    params = {k: v for k, v in table.items() if k not in used}
    rule = FaultRule(
        code=code,
        measure=str(table["measure"]),
        flag_when=str(table.get("flag_when", "above")),
        units=units,
        limit=float(table[limits[0]]),
        major=float(table[major_key]),
        views={str(k): float(v) for k, v in dict(table.get("views", {})).items()},
        personal_margin=None if pm is None else float(pm),
        personal_cap=None if pc is None else float(pc),
        confidence_factor=float(table.get("confidence_factor", 1.0)),
        params=params,
        alongside=_bool(table.get("alongside", False), f"{where}: fault {code}: alongside"),
        band=_number(table.get(band_key, 0.0), f"{where}: fault {code}: {band_key}"),
        min_set_reps=_count(table.get("min_set_reps", 0), f"{where}: fault {code}: min_set_reps"),
    )
    # every sentence about this rule's flags comes from its measure's definition: it must exist and agree
    check_rule(rule.measure, rule.units, rule.flag_when, f"{where}: fault {code}")
    return rule


def _number(v: Any, where: str) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ValueError(f"{where}: expected a number, got {v!r}")
    return float(v)


def _count(v: Any, where: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 0:
        raise ValueError(f"{where}: expected a whole number >= 0, got {v!r}")
    return v


def _bool(v: Any, where: str) -> bool:
    if not isinstance(v, bool):
        raise ValueError(f"{where}: expected true or false, got {v!r}")
    return v


def parse_ruleset(data: Mapping[str, Any], where: str = "rules") -> RuleSet:
    lift = data.get("lift")
    if lift not in LIFTS:
        raise ValueError(f"{where}: lift expected one of {', '.join(LIFTS)}, got {lift!r}")
    faults = data.get("faults")
    if not isinstance(faults, Mapping) or not faults:
        raise ValueError(f"{where}: expected a [faults.<code>] table per fault")
    rules: dict[str, tuple[FaultRule, ...]] = {}
    for code, spec in faults.items():
        if code not in FAULT_CODES:
            raise ValueError(f"{where}: fault code expected one of {', '.join(FAULT_CODES)}, got {code!r}")
        alts = spec if isinstance(spec, list) else [spec]
        rules[code] = tuple(_parse_rule(code, a, where) for a in alts)
    general = data.get("general")
    if not isinstance(general, Mapping) or "min_quality" not in general:
        raise ValueError(f"{where}: expected a [general] table with min_quality (the tracking quality below "
                         "which a measurement is not judged)")
    try:
        min_q = float(general["min_quality"])
    except (TypeError, ValueError):
        raise ValueError(f"{where}: general.min_quality expected a number in [0, 1), "
                         f"got {general['min_quality']!r}") from None
    if not 0.0 <= min_q < 1.0:
        raise ValueError(f"{where}: general.min_quality expected in [0, 1), got {min_q}")
    bar_check = None
    if "bar_check" in data or lift == "deadlift":
        if "bar_check" not in data:
            raise ValueError(f"{where}: expected a [bar_check] table (the deadlift bar check's thresholds)")
        try:
            bar_check = BarCheckParams.from_mapping(data["bar_check"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{where}: {exc}") from exc
    return RuleSet(lift=lift, min_quality=min_q, rules=rules, source=where, bar_check=bar_check)


@lru_cache(maxsize=8)
def _load_packaged(lift: str) -> RuleSet:
    ref = resources.files("formcheck") / "config" / f"{lift}.toml"
    return parse_ruleset(tomllib.loads(ref.read_text(encoding="utf-8")), where=f"{lift}.toml")


def load_rules(lift: str, path: "str | Path | RuleSet | None" = None) -> RuleSet:
    """The rule set of ``lift`` from the packaged TOML, or from ``path`` (a tuned copy).

    ``path`` may also be a :class:`RuleSet` already read at the edge (the CLI
    and :func:`formcheck.pipeline.analyze_video` read each tuned file once per
    run and hand the result inward); it is returned as is once its lift is
    checked. The packaged files are parsed once per process.
    """
    if lift not in LIFTS:
        raise ValueError(f"lift: expected one of {', '.join(LIFTS)}, got {lift!r}")
    if path is None:
        return _load_packaged(lift)
    if isinstance(path, RuleSet):
        if path.lift != lift:
            raise ValueError(f"{path.source}: expected rules for {lift}, got {path.lift}")
        return path
    rs = read_rules_file(path)
    if rs.lift != lift:
        raise ValueError(f"{path}: expected rules for {lift}, got {rs.lift}")
    return rs


def read_rules_file(path: str | Path) -> RuleSet:
    """A tuned rules file, parsed and checked once; its lift comes from its own ``lift`` key."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ValueError(f"{p}: expected a readable TOML rules file ({exc})") from exc
    if data.get("lift") not in LIFTS:
        raise ValueError(f"{p}: expected lift = \"squat\" or \"deadlift\", got {data.get('lift')!r}")
    return parse_ruleset(data, where=str(p))


def load_rulesets(paths: Mapping[str, "str | Path | RuleSet"] | None) -> dict[str, RuleSet]:
    """``{lift: RuleSet}`` for tuned files given by lift (each parsed once; RuleSets kept as they are)."""
    return {lift: load_rules(lift, p) for lift, p in (paths or {}).items()}


@dataclass(frozen=True)
class Flag:
    """One fault seen on one rep, with its evidence."""

    code: str
    rep: int
    phase: str
    t_ms: float
    frame: int
    measured: float
    limit: float
    units: str
    severity: str
    confidence: float
    measure: str
    #: the rule's error band: the reading cleared ``limit`` by more than this (a borderline reading did not)
    band: float = 0.0

    def __post_init__(self) -> None:
        if self.severity not in SEVERITIES:
            raise ValueError(f"flag {self.code}: severity expected one of {SEVERITIES}, got {self.severity!r}")
        if not 0.0 <= self.confidence <= 1.0:
            raise ValueError(f"flag {self.code}: confidence expected in [0, 1], got {self.confidence}")


@dataclass(frozen=True)
class RuleResult:
    """Everything the rules concluded for one clip.

    ``verdicts`` maps every fault code of the lift to flagged / borderline / clear /
    not_assessable (borderline: no rep flagged, at least one rep past the limit but within
    its error band); ``rep_verdicts[rep][code]`` the same per rep; ``borderline`` holds the
    readings behind every borderline rep (severity always minor: they are not flags); ``reasons``
    says why a code is not assessable; ``measures[rep][code]`` keeps the
    measured values behind every decision (flagged or not).
    """

    lift: str
    view: str
    flags: tuple[Flag, ...]
    verdicts: Mapping[str, str]
    rep_verdicts: Mapping[int, Mapping[str, str]]
    reasons: Mapping[str, str]
    measures: Mapping[int, Mapping[str, RepMeasure]]
    limits: Mapping[str, float]
    borderline: tuple[Flag, ...] = ()


def _confidence(rule: FaultRule, view_factor: float, quality: float, value: float, limit: float) -> float:
    span = abs(rule.major - rule.limit) or 1.0
    margin = min(1.0, abs(value - limit) / span)
    c = rule.confidence_factor * view_factor * quality * (0.6 + 0.4 * margin)
    return round(float(np.clip(c, 0.0, 1.0)), 2)


def evaluate(
    ruleset: RuleSet,
    t_ms: np.ndarray,
    signals: Signals,
    reps: Sequence[RepLike],
    view: str,
    notes: Mapping[str, str] | None = None,
) -> RuleResult:
    """Apply every rule of the lift to every rep.

    ``notes`` maps a signal name to why it is missing throughout the clip
    (:attr:`formcheck.metrics.FrameMetrics.notes`); a fault that cannot be
    judged for that reason says so instead of the generic reason.
    """
    notes = notes or {}
    if view not in VIEWS:
        raise ValueError(f"view: expected one of {', '.join(VIEWS)}, got {view!r}")
    t_ms = np.asarray(t_ms, dtype=float)
    flags: list[Flag] = []
    borderline: list[Flag] = []
    verdicts: dict[str, str] = {}
    reasons: dict[str, str] = {}
    limits: dict[str, float] = {}
    rep_verdicts: dict[int, dict[str, str]] = {r.index: {} for r in reps}
    measures: dict[int, dict[str, RepMeasure]] = {r.index: {} for r in reps}

    for code, alternatives in ruleset.rules.items():
        usable = [r for r in alternatives if view in r.views]
        if not usable:
            verdicts[code] = "not_assessable"
            reasons[code] = f"not assessable from {article(view)} {view} view"
            for rv in rep_verdicts.values():
                rv[code] = "not_assessable"
            continue
        if not reps:
            verdicts[code] = "not_assessable"
            reasons[code] = "no complete rep"
            continue
        judged: list[tuple[FaultRule, list[RepMeasure]]] = []
        for rule in usable:
            if rule.alongside or not any(not r.alongside for r, _ in judged):
                ms = [measure(rule.measure, t_ms, signals, rep, **dict(rule.params)) for rep in reps]
                if rule.measure in SET_RELATIVE_MEASURES:
                    ms = relative_to_set(ms, rule.min_set_reps, ruleset.min_quality)
                if any(np.isfinite(m.value) and m.quality >= ruleset.min_quality for m in ms):
                    judged.append((rule, ms))
        if not judged:
            verdicts[code] = "not_assessable"
            why = [notes[sig] for sig in (measure_signal(r.measure) for r in usable) if sig in notes]
            reasons[code] = why[0] if why else "the body parts this needs were not seen clearly enough"
            for rv in rep_verdicts.values():
                rv[code] = "not_assessable"
            continue
        judged.sort(key=lambda rm: alternatives.index(rm[0]))  # file order decides which flag is reported
        bounds = []
        for rule, ms in judged:
            good = [m.value if m.quality >= ruleset.min_quality else np.nan for m in ms]
            limit = rule.effective_limit(good)
            major = rule.major if limit == rule.limit else limit + (rule.major - rule.limit)
            bounds.append((limit, major))
        main = next((i for i, (r, _) in enumerate(judged) if not r.alongside), 0)
        limits[code] = bounds[main][0]
        any_flag = any_borderline = False
        for k, rep in enumerate(reps):
            seen = [(rule, ms[k], lim, maj) for (rule, ms), (lim, maj) in zip(judged, bounds)
                    if np.isfinite(ms[k].value) and ms[k].quality >= ruleset.min_quality]
            judgements = [(rule.judge(m.value, lim), (rule, m, lim, maj)) for rule, m, lim, maj in seen]
            hit = next((x for v, x in judgements if v == "flagged"), None)
            near = next((x for v, x in judgements if v == "borderline"), None)
            shown = hit or near or (seen[0] if seen else None)
            measures[rep.index][code] = shown[1] if shown else judged[main][1][k]
            if shown is None:
                rep_verdicts[rep.index][code] = "not_assessable"
                continue
            if hit is None and near is None:
                rep_verdicts[rep.index][code] = "clear"
                continue
            rule, m, limit, major = hit or near
            verdict = "flagged" if hit else "borderline"
            any_flag |= verdict == "flagged"
            any_borderline |= verdict == "borderline"
            rep_verdicts[rep.index][code] = verdict
            severity = "major" if verdict == "flagged" and not rule.exceeds(major, m.value) else "minor"
            frame = int(np.argmin(np.abs(t_ms - m.t_ms))) if np.isfinite(m.t_ms) and t_ms.size else -1
            (flags if verdict == "flagged" else borderline).append(Flag(
                code=code, rep=rep.index, phase=m.phase, t_ms=float(m.t_ms), frame=frame,
                measured=round(float(m.value), 3), limit=round(float(limit), 3), units=rule.units,
                severity=severity,
                confidence=_confidence(rule, rule.views[view], m.quality, m.value, limit),
                measure=rule.measure, band=round(float(rule.band), 3),
            ))
        verdicts[code] = "flagged" if any_flag else "borderline" if any_borderline else "clear"
    flags.sort(key=lambda f: (f.rep, f.t_ms))
    borderline.sort(key=lambda f: (f.rep, f.t_ms))
    return RuleResult(
        lift=ruleset.lift, view=view, flags=tuple(flags), verdicts=verdicts,
        rep_verdicts=rep_verdicts, reasons=reasons, measures=measures, limits=limits,
        borderline=tuple(borderline),
    )
