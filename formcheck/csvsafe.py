"""CSV writing that a spreadsheet cannot turn into a formula (every CSV writer in formcheck uses it).

A cell whose text starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return may be run
as a formula by Excel, LibreOffice or Google Sheets ("CSV injection"). Following the OWASP rule,
such a cell is written with a leading ``'``, which spreadsheets show as text. A plain number
(``-12.5``, ``+3``, ``-1e-05``) is left as it is: it cannot hold a formula, and numeric columns
(angles, coordinates) must stay numbers.

Usage::

    from formcheck.csvsafe import csv_writer
    w = csv_writer(fh)        # like csv.writer(fh), every cell guarded
    w.writerow([...])
"""

from __future__ import annotations

import csv
import re
from typing import Any, Iterable

__all__ = ["FORMULA_STARTS", "SafeWriter", "csv_writer", "safe_cell"]

#: First characters that make a spreadsheet read a cell as a formula (OWASP CSV injection).
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def safe_cell(value: Any) -> Any:
    """``value`` unchanged unless its text starts like a formula; then the text with a leading ``'``."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    text = str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.match(text):
        return "'" + text
    return text


class SafeWriter:
    """``csv.writer`` whose rows pass through :func:`safe_cell`."""

    def __init__(self, fh: Any, **fmtparams: Any) -> None:
        self._w = csv.writer(fh, **fmtparams)

    def writerow(self, row: Iterable[Any]) -> Any:
        return self._w.writerow([safe_cell(v) for v in row])

    def writerows(self, rows: Iterable[Iterable[Any]]) -> None:
        for row in rows:
            self.writerow(row)


def csv_writer(fh: Any, **fmtparams: Any) -> SafeWriter:
    """A CSV writer over ``fh`` with every cell guarded against formula injection."""
    return SafeWriter(fh, **fmtparams)
