"""Spawned children must not re-run whatever module is ``__main__`` in the parent."""

from __future__ import annotations

import multiprocessing
import sys
import types

import pytest

from formcheck import procs


@pytest.fixture()
def page_script_as_main(tmp_path, monkeypatch):
    """What Streamlit leaves behind: ``__main__`` is a script that fails outside its runner."""
    script = tmp_path / "page_script.py"
    script.write_text("raise RuntimeError('a page script must not run in a child process')\n")
    main = types.ModuleType("__main__")
    main.__file__ = str(script)
    monkeypatch.setitem(sys.modules, "__main__", main)
    return main


def _run(start) -> int:
    ctx = multiprocessing.get_context("spawn")
    p = ctx.Process(target=abs, args=(-1,))
    start(p)
    p.join(60)
    return p.exitcode


def test_plain_start_reruns_the_page_script(page_script_as_main):
    # the failure mode itself, so the next test cannot pass for the wrong reason
    assert _run(lambda p: p.start()) == 1


def test_start_hides_the_page_script(page_script_as_main):
    assert _run(procs.start) == 0
    assert sys.modules["__main__"] is page_script_as_main


def test_main_is_restored_after_an_error(page_script_as_main):
    with pytest.raises(ValueError):
        with procs.hidden_main():
            assert getattr(sys.modules["__main__"], "__file__", None) is None
            raise ValueError("boom")
    assert sys.modules["__main__"] is page_script_as_main
