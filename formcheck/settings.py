"""Settings tables of the TOML files turned into frozen dataclasses.

A threshold lives in its TOML file only, so the dataclass that holds a table
has no defaults and the table must name every field: a missing key is an
error, and so is an unknown one (a typo must not pass silently).

The calibration of the analysis core (cleaning, rep segmentation, view and
lift recognition, per-frame metrics, the live mode's timings) is in the
packaged ``formcheck/config/calibration.toml``, one table per class; each class
reads its table with its ``packaged()`` classmethod (:class:`Calibrated`, :func:`packaged_params`).
"""

from __future__ import annotations

import tomllib
from dataclasses import fields
from functools import lru_cache
from importlib import resources
from typing import Any, ClassVar, Iterable, Mapping, TypeVar

__all__ = ["CALIBRATION_FILE", "Calibrated", "check_table", "packaged_params", "params_from_toml", "read_packaged",
           "table_fields"]

#: The packaged file (in ``formcheck/config``) of the analysis core's calibration tables.
CALIBRATION_FILE = "calibration.toml"

T = TypeVar("T")


def check_table(table: Any, name: str, known: Iterable[str]) -> dict[str, Any]:
    """The TOML table ``[name]`` as a dict, checked to hold exactly the keys ``known``."""
    known = list(known)
    if not isinstance(table, Mapping):
        raise ValueError(f"{name}: expected a [{name}] table, got {table!r}")
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ValueError(f"{name}: unknown keys {unknown}, expected some of {sorted(known)}")
    missing = [k for k in known if k not in table]
    if missing:
        raise ValueError(f"{name}: missing keys {missing}, expected all of {known}")
    return dict(table)


def table_fields(cls: type, table: Any, name: str) -> dict[str, Any]:
    """The keyword arguments of dataclass ``cls`` from the TOML table ``[name]``, checked to match its fields."""
    return check_table(table, name, [f.name for f in fields(cls)])


def read_packaged(filename: str = CALIBRATION_FILE) -> dict[str, Any]:
    """The parsed packaged TOML file ``formcheck/config/<filename>`` (a fresh dict on every call)."""
    ref = resources.files("formcheck") / "config" / filename
    return tomllib.loads(ref.read_text(encoding="utf-8"))


#: TOML value checks by field annotation (``from __future__ import annotations`` makes them strings).
_SCALARS: dict[str, tuple[tuple[type, ...], str]] = {
    "float": ((int, float), "a number"),
    "int": ((int,), "a whole number"),
    "bool": ((bool,), "true or false"),
    "str": ((str,), "a string"),
}


def _check_value(annotation: Any, value: Any) -> str | None:
    """What ``value`` should have been for a field annotated ``annotation``; None when it fits."""
    kind = str(annotation).split("[", 1)[0].strip()
    if kind == "tuple":
        if isinstance(value, (list, tuple)) and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return None
        return "an array of numbers"
    if kind not in _SCALARS:
        return None
    types, what = _SCALARS[kind]
    if isinstance(value, types) and (kind == "bool" or not isinstance(value, bool)):
        return None
    return what


def params_from_toml(cls: type[T], data: Mapping[str, Any], table: str, where: str = CALIBRATION_FILE) -> T:
    """Dataclass ``cls`` from the table ``[table]`` of a parsed TOML file ``where``.

    Every key of the table is required and none other is allowed; each value
    must have its field's type (a number, a whole number, true/false, a string
    or an array of numbers), then the class's own checks run. Errors name the
    file, the table and the key: ``calibration.toml: reps.min_rom_norm: ...``.
    """
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a parsed TOML document, got {type(data).__name__}")
    try:
        kwargs = table_fields(cls, data.get(table), table)
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None
    for f in fields(cls):
        what = _check_value(f.type, kwargs[f.name])
        if what is not None:
            raise ValueError(f"{where}: {table}.{f.name}: expected {what}, got {kwargs[f.name]!r}")
    try:
        return cls(**kwargs)
    except ValueError as exc:
        raise ValueError(f"{where}: {table}.{exc}") from exc


@lru_cache(maxsize=None)
def packaged_params(cls: type[T], table: str, filename: str = CALIBRATION_FILE) -> T:
    """Dataclass ``cls`` from the table ``[table]`` of the packaged ``filename``, read once (the result is frozen)."""
    return params_from_toml(cls, read_packaged(filename), table, filename)


class Calibrated:
    """Base of the settings dataclasses whose values are one table of the packaged ``calibration.toml``.

    A subclass names its table in ``TABLE`` (a plain class attribute, not a
    dataclass field); :meth:`packaged` reads it once.
    """

    TABLE: ClassVar[str] = ""

    @classmethod
    def packaged(cls: type[T]) -> T:
        """The class's ``[TABLE]`` table of the packaged ``calibration.toml`` (read once)."""
        return packaged_params(cls, cls.TABLE)  # type: ignore[attr-defined]
