"""Cause-and-fix guidance for form faults, loaded from ``config/guidance.toml``.

The guidance is data: each fault code has a title, the lifts it applies to, a
"what we saw" template, a live cue, why it loads the lower back, and the likely
causes (from the trainer's article credited in the file) in relevance order.
Everything is validated at load into frozen dataclasses; an invalid file fails
with one line such as ``guidance.toml: fault knee_cave: expected cue of 2-4
words, got 'out'``.

The "what we saw" sentence is not written per fault here: a fault can be judged
from more than one measure (the rounded back from the silhouette or from the
head), so :meth:`Guidance.describe` takes the measure of the flag and the
sentence comes from that measure's definition (:mod:`formcheck.measures`,
``config/measures.toml``), the same one every other rendering uses.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import MappingProxyType
from typing import Any, Iterable, Mapping

from formcheck import measures as _measures
from formcheck.faults import FAULT_CODES

__all__ = [
    "FAULT_CODES", "Cause", "Credit", "FaultCause", "FaultGuidance", "Fix", "Guidance", "GuidanceError",
    "credit", "cue", "describe", "disclaimer", "guidance_from_dict", "load_guidance", "red_flag_notice",
    "red_flags", "units_display",
]

LIFTS: tuple[str, ...] = ("squat", "deadlift")
SCHEMA_VERSION = 1
DEFAULT_PATH = Path(__file__).resolve().parent / "config" / "guidance.toml"
CUE_WORDS = (2, 4)
#: Other spellings of the measures file's unit names.
_UNIT_ALIASES = {"degree": "deg", "degrees": "deg", "°": "deg"}


class GuidanceError(ValueError):
    """An invalid guidance file or an unknown fault/cause code."""


def units_display(units: str) -> str:
    """Text appended directly after a number, for the rules' unit names and any other.

    ``deg`` -> ``°``, ``ratio`` -> ``×``, ``thigh``/``foot``/``leg`` -> ``" thigh lengths"``
    etc. (the ``[units]`` tables of ``config/measures.toml``); any other unit gets a
    leading space (``cm`` -> ``" cm"``).
    """
    units = units.strip()
    name = _UNIT_ALIASES.get(units.lower(), units.lower())
    book = _measures.measure_book()
    if name in book.units:
        return book.units[name].text
    return f" {units}" if units else ""


@dataclass(frozen=True)
class Fix:
    """One concrete fix for a cause: what to do, named exercises, how much, how to progress."""

    id: str
    action: str
    exercises: tuple[str, ...] = ()
    dose: str = ""
    progression: str = ""

    def text(self) -> str:
        """The fix as one line of prose."""
        parts = [self.action]
        if self.exercises:
            parts.append("Exercises: " + ", ".join(self.exercises) + ".")
        if self.dose:
            parts.append(f"How much: {self.dose}.")
        if self.progression:
            parts.append(f"Progress: {self.progression}")
        return " ".join(parts)


@dataclass(frozen=True)
class Cause:
    """One of the article's causes of back pain after training."""

    id: str
    name: str
    summary: str
    fixes: tuple[Fix, ...]

    def fix(self, fix_id: str) -> Fix:
        for f in self.fixes:
            if f.id == fix_id:
                return f
        raise GuidanceError(f"cause {self.id}: unknown fix {fix_id!r}; expected one of {[f.id for f in self.fixes]}")


@dataclass(frozen=True)
class FaultCause:
    """A cause as it applies to one fault: the fault-specific note and the fixes that fit it."""

    cause: Cause
    note: str
    fixes: tuple[Fix, ...]


@dataclass(frozen=True)
class FaultGuidance:
    """Everything we tell the lifter about one fault code."""

    code: str
    title: str
    lifts: tuple[str, ...]
    cue: str
    why: str
    causes: tuple[FaultCause, ...]

    def applies_to(self, lift: str) -> bool:
        return lift in self.lifts

    def describe(self, measured: float, limit: float, measure: str) -> str:
        """The "what we saw" sentence of a flag judged from ``measure`` (:func:`formcheck.measures.flag_sentence`)."""
        for name, value in (("measured", measured), ("limit", limit)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise GuidanceError(f"describe({self.code}): expected finite {name}, got {value!r}")
        try:
            return _measures.flag_sentence(measure, measured, limit)
        except ValueError as exc:
            raise GuidanceError(f"describe({self.code}): {exc}") from None


@dataclass(frozen=True)
class Credit:
    """Where the guidance comes from, as the source file gives it."""

    title: str
    title_note: str
    author: str
    date: str
    source: str
    line: str


@dataclass(frozen=True)
class Guidance:
    """The whole guidance file: causes, per-fault guidance, red flags, disclaimer, credit."""

    causes: tuple[Cause, ...]
    faults: tuple[FaultGuidance, ...]
    red_flag_items: tuple[str, ...]
    red_flag_advice: str
    disclaimer_text: str
    source: Credit
    measure_notes: Mapping[str, str] = field(default_factory=dict)

    def explain_measure(self, measure: str) -> str:
        """Plain-words note on how a rule measure is taken and its limits ("" when there is none)."""
        return self.measure_notes.get(measure, "")

    def fault(self, code: str) -> FaultGuidance:
        for fg in self.faults:
            if fg.code == code:
                return fg
        raise GuidanceError(f"unknown fault code {code!r}; expected one of {list(FAULT_CODES)}")

    def cause(self, cause_id: str) -> Cause:
        for c in self.causes:
            if c.id == cause_id:
                return c
        raise GuidanceError(f"unknown cause {cause_id!r}; expected one of {[c.id for c in self.causes]}")

    def for_faults(self, codes: Iterable[str]) -> list[FaultGuidance]:
        """Guidance for each distinct code, in the order first given."""
        return [self.fault(code) for code in dict.fromkeys(codes)]

    def causes_ranked(self, codes: Iterable[str]) -> list[tuple[Cause, float]]:
        """Causes that best explain a set of faults, best first, with a score in (0, 1].

        A cause at position ``i`` (0-based) in a fault's relevance list scores
        ``1 / (i + 1)`` for that fault; the score is the mean over the distinct
        faults (a cause not listed for a fault scores 0 there). 1.0 means it is
        the top cause of every fault. Ties keep the article's order of causes.
        """
        faults = self.for_faults(codes)
        if not faults:
            return []
        total = {c.id: 0.0 for c in self.causes}
        for fg in faults:
            for rank, fc in enumerate(fg.causes):
                total[fc.cause.id] += 1.0 / (rank + 1)
        order = {c.id: i for i, c in enumerate(self.causes)}
        ranked = sorted(
            ((self.cause(cid), score / len(faults)) for cid, score in total.items() if score > 0),
            key=lambda cs: (-cs[1], order[cs[0].id]),
        )
        return ranked

    def red_flags(self) -> list[str]:
        return list(self.red_flag_items)

    def red_flag_notice(self) -> str:
        """The red flags and what to do about them, as one paragraph."""
        items = "; ".join(item[0].lower() + item[1:] for item in self.red_flag_items)
        return f"Red flags: {items}. {self.red_flag_advice}"

    def disclaimer(self) -> str:
        return self.disclaimer_text

    def credit(self) -> str:
        return self.source.line

    def cue(self, code: str) -> str:
        return self.fault(code).cue

    def describe(self, code: str, measured: float, limit: float, measure: str) -> str:
        return self.fault(code).describe(measured, limit, measure)


class _Reader:
    """Typed access to one table of the TOML, with errors prefixed by where they are."""

    def __init__(self, data: Any, where: str) -> None:
        if not isinstance(data, Mapping):
            raise GuidanceError(f"{where}: expected a table, got {type(data).__name__}")
        self.data = data
        self.where = where

    def fail(self, what: str, got: Any) -> GuidanceError:
        return GuidanceError(f"{self.where}: expected {what}, got {got!r}")

    def text(self, key: str, *, optional: bool = False) -> str:
        if optional and key not in self.data:
            return ""
        value = self.data.get(key)
        if not isinstance(value, str) or (not optional and not value.strip()):
            raise self.fail(f"'{key}' to be non-empty text", value)
        return value.strip()

    def texts(self, key: str, *, optional: bool = False) -> tuple[str, ...]:
        value = self.data.get(key, [] if optional else None)
        if not isinstance(value, list) or not (optional or value):
            raise self.fail(f"'{key}' to be a non-empty list of text", value)
        if not all(isinstance(v, str) and v.strip() for v in value):
            raise self.fail(f"'{key}' to hold only non-empty text", value)
        if len(set(value)) != len(value):
            raise self.fail(f"'{key}' without duplicates", value)
        return tuple(v.strip() for v in value)

    def tables(self, key: str) -> list[Any]:
        value = self.data.get(key)
        if not isinstance(value, list) or not value:
            raise self.fail(f"'{key}' to be a non-empty array of tables", value)
        return value

    def only(self, allowed: set[str]) -> None:
        extra = sorted(set(self.data) - allowed)
        if extra:
            raise self.fail(f"only keys {sorted(allowed)}", extra)


def _parse_fix(data: Any, where: str) -> Fix:
    r = _Reader(data, f"{where} fix")
    r.only({"id", "action", "exercises", "dose", "progression"})
    fix_id = r.text("id")
    r.where = f"{where} fix {fix_id}"
    return Fix(
        id=fix_id,
        action=r.text("action"),
        exercises=r.texts("exercises", optional=True),
        dose=r.text("dose", optional=True),
        progression=r.text("progression", optional=True),
    )


def _parse_cause(cause_id: str, data: Any, src: str) -> Cause:
    where = f"{src}: cause {cause_id}"
    r = _Reader(data, where)
    r.only({"name", "summary", "fixes"})
    fixes = tuple(_parse_fix(f, where) for f in r.tables("fixes"))
    ids = [f.id for f in fixes]
    if len(set(ids)) != len(ids):
        raise r.fail("unique fix ids", ids)
    return Cause(id=cause_id, name=r.text("name"), summary=r.text("summary"), fixes=fixes)


def _parse_fault(code: str, data: Any, causes: Mapping[str, Cause], src: str) -> FaultGuidance:
    where = f"{src}: fault {code}"
    r = _Reader(data, where)
    r.only({"title", "lifts", "cue", "why", "causes"})
    lifts = r.texts("lifts")
    if not set(lifts) <= set(LIFTS):
        raise r.fail(f"lifts among {list(LIFTS)}", list(lifts))
    cue = r.text("cue")
    lo, hi = CUE_WORDS
    if not lo <= len(cue.split()) <= hi:
        raise r.fail(f"cue of {lo}-{hi} words", cue)
    links: list[FaultCause] = []
    for raw in r.tables("causes"):
        link = _Reader(raw, where)
        link.only({"cause", "note", "fixes"})
        cause_id = link.text("cause")
        if cause_id not in causes:
            raise link.fail(f"a cause among {list(causes)}", cause_id)
        cause = causes[cause_id]
        link.where = f"{where}: cause {cause_id}"
        chosen = link.texts("fixes", optional=True)
        known = [f.id for f in cause.fixes]
        unknown = [f for f in chosen if f not in known]
        if unknown:
            raise link.fail(f"fixes among {known}", unknown)
        fixes = tuple(cause.fix(f) for f in chosen) if chosen else cause.fixes
        links.append(FaultCause(cause=cause, note=link.text("note", optional=True), fixes=fixes))
    ids = [fc.cause.id for fc in links]
    if len(set(ids)) != len(ids):
        raise r.fail("each cause listed once", ids)
    return FaultGuidance(
        code=code,
        title=r.text("title"),
        lifts=lifts,
        cue=cue,
        why=r.text("why"),
        causes=tuple(links),
    )


def guidance_from_dict(data: Mapping[str, Any], source: str = "guidance.toml") -> Guidance:
    """Validate parsed TOML into a :class:`Guidance`; errors start with ``source``."""
    top = _Reader(data, source)
    top.only({"schema", "disclaimer", "credit", "red_flags", "causes", "faults", "measures"})
    if data.get("schema") != SCHEMA_VERSION:
        raise top.fail(f"schema = {SCHEMA_VERSION}", data.get("schema"))

    credit = _Reader(data.get("credit"), f"{source}: credit")
    credit.only({"title", "title_note", "author", "date", "source", "line"})
    flags = _Reader(data.get("red_flags"), f"{source}: red_flags")
    flags.only({"items", "advice"})

    cause_tables = _Reader(data.get("causes"), f"{source}: causes")
    if not cause_tables.data:
        raise cause_tables.fail("at least one cause", "none")
    causes = {cid: _parse_cause(cid, raw, source) for cid, raw in cause_tables.data.items()}

    fault_tables = _Reader(data.get("faults"), f"{source}: faults")
    missing = [c for c in FAULT_CODES if c not in fault_tables.data]
    extra = [c for c in fault_tables.data if c not in FAULT_CODES]
    if missing or extra:
        raise fault_tables.fail(f"exactly the codes {list(FAULT_CODES)}", {"missing": missing, "unknown": extra})
    faults = tuple(_parse_fault(code, fault_tables.data[code], causes, source) for code in FAULT_CODES)

    measures = _Reader(data.get("measures", {}), f"{source}: measures")
    notes = {}
    for name in measures.data:
        m = _Reader(measures.data[name], f"{source}: measures.{name}")
        m.only({"explain"})
        notes[str(name)] = m.text("explain")

    return Guidance(
        measure_notes=MappingProxyType(notes),
        causes=tuple(causes.values()),
        faults=faults,
        red_flag_items=flags.texts("items"),
        red_flag_advice=flags.text("advice"),
        disclaimer_text=top.text("disclaimer"),
        source=Credit(
            title=credit.text("title"),
            title_note=credit.text("title_note", optional=True),
            author=credit.text("author"),
            date=credit.text("date"),
            source=credit.text("source"),
            line=credit.text("line"),
        ),
    )


@lru_cache(maxsize=1)
def _default_guidance() -> Guidance:
    return _load(DEFAULT_PATH)


def _load(path: Path) -> Guidance:
    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise GuidanceError(f"{path.name}: expected valid TOML, got {exc}") from exc
    return guidance_from_dict(data, source=path.name)


def load_guidance(path: str | Path | None = None) -> Guidance:
    """Load and validate guidance; ``None`` gives the packaged file (loaded once, cached)."""
    if path is None:
        return _default_guidance()
    return _load(Path(path))


def red_flags() -> list[str]:
    """Symptoms that mean: stop training and see a professional."""
    return load_guidance().red_flags()


def red_flag_notice() -> str:
    return load_guidance().red_flag_notice()


def disclaimer() -> str:
    return load_guidance().disclaimer()


def credit() -> str:
    return load_guidance().credit()


def cue(code: str) -> str:
    """The 2-4 word live cue for a fault code."""
    return load_guidance().cue(code)


def describe(code: str, measured: float, limit: float, measure: str) -> str:
    """The "what we saw" sentence of a flag, e.g. ``describe("excessive_forward_lean", 55, 52, "trunk_lean_max")``."""
    return load_guidance().describe(code, measured, limit, measure)
