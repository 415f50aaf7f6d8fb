"""Spawned child processes that never re-run the parent's ``__main__``.

Notes
-----
A ``spawn`` child re-imports the parent's main module before it runs its
target: by name when ``__main__`` has a ``__spec__``, else from its
``__file__``. formcheck's children (analysis jobs, test helpers) only run
functions of the ``formcheck`` package and never need it, and the main module
is not always a script that is safe to re-run: inside ``streamlit run``, and
after Streamlit's ``AppTest``, ``sys.modules["__main__"]`` is the page script
(a temporary file for ``AppTest.from_function``), which fails or redraws the
page when executed in a bare interpreter. :func:`hidden_main` swaps in an empty
module for the moment the children are started.
"""

from __future__ import annotations

import sys
import threading
import types
from contextlib import contextmanager
from typing import Any, Iterator

_LOCK = threading.Lock()


@contextmanager
def hidden_main() -> Iterator[None]:
    """Within the block, processes started with ``spawn`` or ``forkserver`` import no main module."""
    with _LOCK:
        saved = sys.modules.get("__main__")
        sys.modules["__main__"] = types.ModuleType("__main__")  # no __spec__, no __file__
        try:
            yield
        finally:
            if saved is None:
                sys.modules.pop("__main__", None)
            else:
                sys.modules["__main__"] = saved


def start(process: Any) -> None:
    """``process.start()`` without the parent's main module (see :func:`hidden_main`)."""
    with hidden_main():
        process.start()
