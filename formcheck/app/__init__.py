"""The Streamlit app (``streamlit run app.py``): pages Analyse, Review, History, Live and Athletes.

With accounts (``formcheck users add``) ``app.py`` shows the login form first and each role its
pages; every page reads and writes through :class:`formcheck.access.Access` (``ui.get_access()``),
which decides what the logged-in user may see and change (the :mod:`~formcheck.app.roster` page
manages athletes).

``app.py`` at the repository root sets up the page and the navigation; the page scripts
in ``formcheck/app/pages/`` call ``render()`` of :mod:`~formcheck.app.analyse`,
:mod:`~formcheck.app.review`, :mod:`~formcheck.app.history` and the live page
(:mod:`formcheck.app.live_page`). Shared pieces: :mod:`~formcheck.app.ui` (the store,
the job manager, settings, escaping), :mod:`~formcheck.app.results` (one session's
results), :mod:`~formcheck.app.media` (rep clips and frames, no Streamlit).

User text (athlete names, file names, comments) is shown either by elements that print
plain text or through :func:`formcheck.app.ui.md` (Markdown-escaped); no element is ever
given ``unsafe_allow_html``.
"""
