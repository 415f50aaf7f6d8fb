"""A loopback-only network namespace for the browser test (needs root and iproute2).

The streamlit server and Chromium both run inside it, so nothing they do can
reach the machine's real network (no STUN, no update checks): WebRTC has to
connect over 127.0.0.1. Playwright drives Chromium over a pipe, so a wrapper
script that enters the namespace is a valid ``executable_path`` while pytest
itself stays outside.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import uuid
from pathlib import Path


def only_loopback() -> bool:
    """True when this process already has no network interface but ``lo``."""
    return [name for _, name in socket.if_nameindex()] == ["lo"]


def missing_prerequisite() -> str | None:
    """Why a namespace cannot be made here, or None when it can (or is not needed)."""
    if only_loopback():
        return None
    if os.geteuid() != 0:
        return "needs root to create a network namespace"
    if shutil.which("ip") is None:
        return "needs iproute2 (`ip`) to create a network namespace"
    return None


class LoopbackNamespace:
    """``with LoopbackNamespace() as ns:`` then run ``ns.prefix + [cmd, ...]`` inside it.

    When the process is already isolated (e.g. run under ``unshare -n``) no
    namespace is made and the prefix is empty.
    """

    def __init__(self) -> None:
        self.name: str | None = None
        self.prefix: list[str] = []

    def __enter__(self) -> "LoopbackNamespace":
        if only_loopback():
            return self
        self.name = f"formcheck-live-{uuid.uuid4().hex[:8]}"
        subprocess.run(["ip", "netns", "add", self.name], check=True, capture_output=True)
        try:
            subprocess.run(["ip", "-n", self.name, "link", "set", "lo", "up"], check=True, capture_output=True)
        except subprocess.CalledProcessError:
            self._delete()
            raise
        self.prefix = ["ip", "netns", "exec", self.name]
        return self

    def __exit__(self, *exc: object) -> None:
        self._delete()

    def _delete(self) -> None:
        if self.name is not None:
            subprocess.run(["ip", "netns", "del", self.name], check=False, capture_output=True)
            self.name = None

    def wrapper(self, exe: str, path: Path) -> str:
        """A shell script at ``path`` that runs ``exe`` inside the namespace; returns its path."""
        if not self.prefix:
            return exe
        path.write_text("#!/bin/sh\nexec " + " ".join(self.prefix) + f' {exe} "$@"\n')
        path.chmod(0o755)
        return str(path)
