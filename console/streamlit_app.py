"""The mentiondesk console: ``streamlit run console/streamlit_app.py``."""

from __future__ import annotations

import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the project root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

st.set_page_config(page_title="mentiondesk", page_icon=":material/forum:", layout="wide")

PAGES = [
    st.Page("app_pages/inbox.py", title="Inbox", icon=":material/inbox:", default=True),
    st.Page("app_pages/sources.py", title="Sources", icon=":material/cable:"),
    st.Page("app_pages/dashboard.py", title="Dashboard", icon=":material/monitoring:"),
    st.Page("app_pages/explore.py", title="Explore", icon=":material/manage_search:"),
]

st.navigation(PAGES).run()
