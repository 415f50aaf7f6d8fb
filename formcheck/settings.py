"""Settings tables of the TOML files turned into frozen dataclasses.

A threshold lives in its TOML file only, so the dataclass that holds a table
has no defaults and the table must name every field: a missing key is an
error, and so is an unknown one (a typo must not pass silently).
"""

from __future__ import annotations

from dataclasses import fields
from typing import Any, Mapping

__all__ = ["table_fields"]


def table_fields(cls: type, table: Any, name: str) -> dict[str, Any]:
    """The keyword arguments of dataclass ``cls`` from the TOML table ``[name]``, checked to match its fields."""
    if not isinstance(table, Mapping):
        raise ValueError(f"{name}: expected a [{name}] table, got {table!r}")
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ValueError(f"{name}: unknown keys {unknown}, expected some of {sorted(known)}")
    missing = [k for k in known if k not in table]
    if missing:
        raise ValueError(f"{name}: missing keys {missing}, expected all of {known}")
    return dict(table)
