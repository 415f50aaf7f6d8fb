"""Athletes page script (registered in app.py): the roster (create, rename, merge, delete athletes)."""

from formcheck.app import roster
from formcheck.app.ui import run_page

run_page(roster.render)
