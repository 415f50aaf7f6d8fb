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

Children die with the server: :func:`spawn` makes a child that, on Linux, asks the
kernel for a signal when its parent dies (``prctl(PR_SET_PDEATHSIG)``) and leads
its own process group; on that signal, or on ``terminate()``, it kills the whole
group (itself and anything it started) at once. So a ``kill -9`` of the server
leaves no analysis running under PID 1 to finish and store a session later.
Elsewhere the child runs as before (the server stops it at a normal exit).

:func:`owner_token` / :func:`owner_alive` name a process in a way that survives
PID reuse (host, PID, kernel start time), to tell a dead server's records apart.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import multiprocessing
import os
import signal
import socket
import sys
import threading
import types
from contextlib import contextmanager
from typing import Any, Callable, Iterator

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


PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>


def _kill_own_group(*_: Any) -> None:
    """Kill this process's group (this process and everything it started) with SIGKILL."""
    try:
        os.killpg(os.getpgrp(), signal.SIGKILL)
    finally:
        os._exit(128 + signal.SIGKILL)


def die_with_parent(parent_pid: int) -> bool:
    """In a child: die, with everything it starts, when ``parent_pid`` dies. True if the kernel will tell us.

    Linux only (``prctl``); elsewhere a no-op returning False.
    """
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    os.setpgid(0, 0)  # our own group, inherited by whatever we start
    signal.signal(signal.SIGTERM, _kill_own_group)
    if libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0) != 0:
        return False
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        _kill_own_group()
    return True


def _bound_main(parent_pid: int, target: Callable[..., Any], args: tuple[Any, ...]) -> None:
    die_with_parent(parent_pid)
    target(*args)


def spawn(target: Callable[..., Any], args: tuple[Any, ...] = (), *, name: str | None = None) -> Any:
    """A not yet started ``spawn`` process running ``target(*args)`` that dies with this process.

    Start it with :func:`start`. Note (Linux): the kernel signals the child when the *thread*
    that started it ends, so start it from a thread that outlives it (or the main thread).
    """
    ctx = multiprocessing.get_context("spawn")
    return ctx.Process(target=_bound_main, args=(os.getpid(), target, tuple(args)), name=name)


def _start_time(pid: int) -> str:
    """The kernel's start time of ``pid`` (clock ticks since boot) or "" where /proc has none."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            stat = fh.read().decode(errors="replace")
    except OSError:
        return ""
    return stat.rsplit(")", 1)[-1].split()[19]  # field 22; the command name may hold spaces


def owner_token(pid: int | None = None) -> str:
    """``host:pid:start time`` of this (or another) process."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{pid}:{_start_time(pid)}"


def owner_alive(token: str) -> bool:
    """Whether the process named by :func:`owner_token` still runs (another host's: assumed alive)."""
    try:
        host, pid_text, started = token.rsplit(":", 2)
        pid = int(pid_text)
    except ValueError:
        return False
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by someone else
    return not started or _start_time(pid) in ("", started)
