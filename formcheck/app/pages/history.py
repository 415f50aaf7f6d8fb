"""History page script (registered in app.py)."""

from formcheck.app import history
from formcheck.app.ui import run_page

run_page(history.render)
