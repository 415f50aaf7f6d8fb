"""Analyse page script (registered in app.py)."""

from formcheck.app import analyse
from formcheck.app.ui import run_page

run_page(analyse.render)
