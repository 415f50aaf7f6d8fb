"""Test launcher: ``streamlit run ...`` with aiortc's ICE agent offering 127.0.0.1.

aioice never offers the loopback address as a host candidate. In the test's
loopback-only network namespace that leaves it with no candidate at all and
ICE never connects. The patch lives here, in the test launcher, and never in
the app: streamlit runs the app in this same process, so it takes effect.

Usage: ``python -m e2e_support.streamlit_loopback run app.py --server.port=...``
(or run this file directly).
"""

from __future__ import annotations

import sys


def loopback_host_addresses(use_ipv4: bool = True, use_ipv6: bool = True) -> list[str]:
    """Replacement for ``aioice.ice.get_host_addresses``: the loopback address only."""
    return ["127.0.0.1"] if use_ipv4 else []


def main() -> int:
    import aioice.ice

    aioice.ice.get_host_addresses = loopback_host_addresses
    from streamlit.web.cli import main as streamlit_main

    sys.argv = ["streamlit", *sys.argv[1:]]
    return streamlit_main()


if __name__ == "__main__":
    sys.exit(main())
