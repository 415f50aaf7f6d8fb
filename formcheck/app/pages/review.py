"""Review page script (registered in app.py)."""

from formcheck.app import review
from formcheck.app.ui import run_page

run_page(review.render)
