"""Live page script (registered in app.py): the live page itself is formcheck/app/live_page.py."""

from formcheck.app.ui import get_store, run_page


def _live() -> None:
    from formcheck.app.live_page import render_live_page

    render_live_page(get_store())


run_page(_live)
