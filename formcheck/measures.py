"""What each rep measure is, in words: the one source of every sentence that shows a measured value.

The definitions are data, in the packaged ``formcheck/config/measures.toml``
(one ``[measures.<name>]`` table per name of
:data:`formcheck.repmetrics.MEASURE_NAMES`): a label (noun phrase), the unit,
the neutral reading and what it means, what a larger reading means, and on
which side of its limit the fault lies. From one definition this module makes:

- :func:`flag_sentence`: the "what we saw" sentence of a flag (reports, terminal, app),
  e.g. ``Torso lean from vertical at the top: 33°, over our limit of 25° (0° = standing fully upright).``;
- :func:`evidence_line`: the short form for tables, chart tooltips and worst-frame images,
  e.g. ``torso lean from vertical at the top 33° (limit 25°)``;
- :func:`chart_label` and :func:`description`: an axis or legend label and a one-line definition.

Numbers are rounded for people (:func:`format_number`): degrees to whole
degrees, other units to two significant figures. The comparison word comes from
the unrounded reading and limit; when both round to the same number it says
"just over" / "just under". Pure: no IO beyond reading the packaged TOML once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any, Mapping

from formcheck.settings import params_from_toml, read_packaged

__all__ = ["MEASURES_FILE", "Measure", "MeasureBook", "Unit", "Words", "article", "borderline_sentence", "chart_label", "check_rule",
           "description", "evidence_line", "evidence_parts", "flag_evidence", "flag_sentence", "format_number", "format_value", "load_measures",
           "measure_book", "phases_text", "tempo_text", "unit_text"]

#: The packaged file (in ``formcheck/config``) of the measure definitions.
MEASURES_FILE = "measures.toml"
ROUNDINGS = ("whole", "sig2")
SIDES = ("above", "below")


@dataclass(frozen=True)
class Unit:
    """How a number in one unit is written: the text after it and how it is rounded."""

    text: str
    rounding: str

    def __post_init__(self) -> None:
        if self.rounding not in ROUNDINGS:
            raise ValueError(f"rounding: expected one of {', '.join(ROUNDINGS)}, got {self.rounding!r}")


@dataclass(frozen=True)
class Words:
    """The comparison words every sentence uses."""

    above: str
    below: str
    equal: str
    near: str
    limit_above: str
    limit_below: str
    within_band: str
    not_counted: str


@dataclass(frozen=True)
class Measure:
    """One measure's definition (the keys of a ``[measures.<name>]`` table; see measures.toml)."""

    label: str
    unit: str
    unit_text: str
    zero_value: float
    zero: str
    sign: str
    fault: str

    def __post_init__(self) -> None:
        if self.fault not in SIDES:
            raise ValueError(f"fault: expected 'above' or 'below', got {self.fault!r}")
        for key in ("label", "zero", "sign"):
            if not getattr(self, key).strip():
                raise ValueError(f"{key}: expected non-empty text, got {getattr(self, key)!r}")


@dataclass(frozen=True)
class MeasureBook:
    """All the definitions of one measures file."""

    units: Mapping[str, Unit]
    words: Words
    measures: Mapping[str, Measure]
    source: str = MEASURES_FILE

    def get(self, name: str) -> Measure:
        """The definition of measure ``name``; a clear error when there is none."""
        try:
            return self.measures[name]
        except KeyError:
            raise ValueError(f"{self.source}: expected a [measures.{name}] table defining measure {name!r} "
                             f"(defined: {', '.join(self.measures)})") from None

    def unit(self, name: str) -> Unit:
        try:
            return self.units[name]
        except KeyError:
            raise ValueError(f"{self.source}: expected a [units.{name}] table, got none "
                             f"(defined: {', '.join(self.units)})") from None


def load_measures(data: Mapping[str, Any], where: str = MEASURES_FILE) -> MeasureBook:
    """Validate a parsed measures TOML into a :class:`MeasureBook` (errors name the file, table and key)."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a parsed TOML document, got {type(data).__name__}")
    extra = sorted(set(data) - {"units", "words", "measures"})
    if extra:
        raise ValueError(f"{where}: unknown tables {extra}, expected units, words and measures")
    for table in ("units", "measures"):
        if not isinstance(data.get(table), Mapping) or not data[table]:
            raise ValueError(f"{where}: expected [{table}.<name>] tables, got {data.get(table)!r}")
    units = {str(n): params_from_toml(Unit, {f"units.{n}": t}, f"units.{n}", where) for n, t in data["units"].items()}
    words = params_from_toml(Words, data, "words", where)
    measures = {}
    for n, t in data["measures"].items():
        m = params_from_toml(Measure, {f"measures.{n}": t}, f"measures.{n}", where)
        if m.unit not in units:
            raise ValueError(f"{where}: measures.{n}.unit: expected one of {', '.join(units)}, got {m.unit!r}")
        measures[str(n)] = m
    return MeasureBook(units=MappingProxyType(units), words=words, measures=MappingProxyType(measures), source=where)


@lru_cache(maxsize=1)
def measure_book() -> MeasureBook:
    """The packaged definitions (read once)."""
    return load_measures(read_packaged(MEASURES_FILE), MEASURES_FILE)


def check_rule(measure: str, units: str, flag_when: str, where: str) -> None:
    """Check that a rule judging ``measure`` in ``units`` flagging ``flag_when`` matches its definition."""
    book = measure_book()
    try:
        m = book.get(measure)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    if units != m.unit:
        raise ValueError(f"{where}: measure {measure} is in {m.unit} ({book.source}), got limit_{units}")
    if flag_when != m.fault:
        raise ValueError(f"{where}: measure {measure} is a fault {m.fault} its limit ({book.source}), "
                         f"got flag_when = {flag_when!r}")


# --------------------------------------------------------------------------- numbers


def format_number(value: float, rounding: str) -> str:
    """``value`` rounded for people: ``whole`` numbers, or two significant figures (``sig2``)."""
    if not math.isfinite(value):
        return "–"
    if rounding == "whole":
        text = f"{value:.0f}"
    elif rounding == "sig2":
        if value == 0:
            return "0"
        v = float(f"{value:.2g}")
        decimals = max(0, 1 - math.floor(math.log10(abs(v))))
        text = f"{v:.{decimals}f}"
    else:
        raise ValueError(f"rounding: expected one of {', '.join(ROUNDINGS)}, got {rounding!r}")
    return "0" if text.lstrip("-").strip("0.") == "" else text


def unit_text(measure: str) -> str:
    """The text written after a number of ``measure`` (``°``, `` thigh lengths``, `` of the ankle gap``)."""
    book = measure_book()
    m = book.get(measure)
    return m.unit_text or book.unit(m.unit).text


def format_value(measure: str, value: float) -> str:
    """``value`` of ``measure`` rounded for people, with its unit: ``33°``, ``0.21 thigh lengths``."""
    book = measure_book()
    m = book.get(measure)
    num = format_number(float(value), book.unit(m.unit).rounding)
    return num if num == "–" else f"{num}{unit_text(measure)}"


def _zero_text(measure: str) -> str:
    book = measure_book()
    m = book.get(measure)
    num = f"{m.zero_value:g}"
    text = unit_text(measure)
    return f"{num}{text}" if not text.startswith(" ") else num


def _compare(measure: str, value: float, limit: float) -> str:
    words = measure_book().words
    if value == limit:
        return words.equal
    side = words.above if value > limit else words.below
    return f"{words.near} {side}" if format_value(measure, value) == format_value(measure, limit) else side


def _limit_noun(measure: str) -> str:
    book = measure_book()
    return book.words.limit_above if book.get(measure).fault == "above" else book.words.limit_below


def _finite(name: str, x: Any, what: str) -> float:
    if isinstance(x, bool) or not isinstance(x, (int, float)) or not math.isfinite(x):
        raise ValueError(f"{what}({name}): expected a finite number, got {x!r}")
    return float(x)


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


# --------------------------------------------------------------------------- sentences


def flag_sentence(measure: str, value: float, limit: float) -> str:
    """What we saw, as one sentence naming the measure, its value and limit with units, and the comparison."""
    value, limit = _finite(measure, value, "flag_sentence"), _finite(measure, limit, "flag_sentence")
    m = measure_book().get(measure)
    return (f"{_cap(m.label)}: {format_value(measure, value)}, {_compare(measure, value, limit)} our "
            f"{_limit_noun(measure)} of {format_value(measure, limit)} ({_zero_text(measure)} = {m.zero}).")


def borderline_sentence(measure: str, value: float, limit: float, band: float) -> str:
    """What we saw on a borderline rep: past the limit, but by no more than the measure's error band.

    ``Torso lean from vertical at the top: 28°, over our limit of 25° but within our measurement
    error of it (±6°), so not counted as a flag (0° = standing fully upright).``
    """
    value, limit = _finite(measure, value, "borderline_sentence"), _finite(measure, limit, "borderline_sentence")
    band = _finite(measure, band, "borderline_sentence")
    book = measure_book()
    m = book.get(measure)
    return (f"{_cap(m.label)}: {format_value(measure, value)}, {_compare(measure, value, limit)} our "
            f"{_limit_noun(measure)} of {format_value(measure, limit)} {book.words.within_band} "
            f"(±{format_value(measure, band)}), {book.words.not_counted} ({_zero_text(measure)} = {m.zero}).")


def evidence_parts(measure: str, value: float | None, limit: float | None, units: str = "") -> tuple[str, str]:
    """The label and the numbers of :func:`flag_evidence`: ``("torso lean ... at the top", "33° (limit 25°)")``.

    A measure without a definition (a flag added by a coach, an older session) gets an empty
    label and its numbers in ``units``, rounded the same way.
    """
    book = measure_book()
    if measure in book.measures:
        def num(x: float | None) -> str:
            return "–" if x is None else format_value(measure, x)
        label, noun = book.get(measure).label, _limit_noun(measure)
    else:
        unit = book.units.get(units)
        text = unit.text if unit else (f" {units}" if units else "")

        def num(x: float | None) -> str:
            return "–" if x is None else format_number(float(x), unit.rounding if unit else "sig2") + text
        label, noun = "", book.words.limit_above
    return label, num(value) + ("" if limit is None else f" ({noun} {num(limit)})")


def evidence_line(measure: str, value: float | None, limit: float | None) -> str:
    """The short form: ``torso lean from vertical at the top 33° (limit 25°)``."""
    measure_book().get(measure)
    return flag_evidence(measure, value, limit)


def flag_evidence(measure: str, value: float | None, limit: float | None, units: str = "") -> str:
    """:func:`evidence_line` of a stored flag (see :func:`evidence_parts` for one without a definition)."""
    label, numbers = evidence_parts(measure, value, limit, units)
    return f"{label} {numbers}" if label else numbers


def chart_label(measure: str) -> str:
    """An axis or legend label: ``Torso lean from vertical at the top (°)``."""
    book = measure_book()
    m = book.get(measure)
    return f"{_cap(m.label)} ({book.unit(m.unit).text.strip()})"


def description(measure: str) -> str:
    """One line defining the measure: what it is, its neutral reading, its sign and the fault side."""
    m = measure_book().get(measure)
    return (f"{chart_label(measure)}: {_zero_text(measure)} = {m.zero}; {m.sign}. "
            f"A reading {m.fault} the {_limit_noun(measure)} is the fault.")


# --------------------------------------------------------------------------- other words users read


def article(word: str) -> str:
    """``a`` or ``an`` before ``word`` (by its first letter): ``an oblique view``, ``a side view``."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def tempo_text(tempo_ms: Mapping[str, float], sep: str = " / ") -> str:
    """Phase durations with their phase names, in the rep's order: ``lowering 1.2 s / floor 0.4 s / ...``."""
    return sep.join(f"{name} {ms / 1000:.1f} s" for name, ms in tempo_ms.items()) if tempo_ms else "–"


def phases_text(phases: tuple[str, ...] | list[str], sep: str = " / ") -> str:
    """Phase names joined in order: ``descent / bottom / ascent``."""
    return sep.join(phases)
