"""The mentiondesk console: ``streamlit run console/streamlit_app.py``.

Nobody sees a page before signing in; each role sees the pages its permissions allow (the
services check the same permissions again, so hiding a page is convenience, not security).  A database that
is locked, down or refusing a value, on any page, is one sentence and a "Try again" button; the details go to
the log, whose every handler redacts configured secrets.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

# `streamlit run` puts this file's folder on sys.path, not the project root.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import streamlit as st  # noqa: E402

from console.services.permissions import Permission  # noqa: E402
from console.ui.actions import database_errors_in_words  # noqa: E402
from console.ui.auth_gate import current_actor, sign_in_form, sign_out_button, sync_cookie  # noqa: E402

st.set_page_config(page_title="mentiondesk", page_icon=":material/forum:", layout="wide")


@st.cache_resource(show_spinner=False)
def _redacted_logging() -> bool:
    """Once per server: a log handler for our records (Streamlit only configures its own), secrets redacted."""
    from console.log_redaction import install
    from console.secrets import configured_secret_values

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    install(configured_secret_values())
    return True


_redacted_logging()

# (page, the permission needed to see it in the menu)
PAGES = [
    (st.Page("app_pages/inbox.py", title="Inbox", icon=":material/inbox:", default=True), Permission.READ),
    (st.Page("app_pages/conversation.py", title="Conversation", icon=":material/forum:"), Permission.READ),
    (st.Page("app_pages/sources.py", title="Sources", icon=":material/cable:"), Permission.READ),
    (st.Page("app_pages/dashboard.py", title="Dashboard", icon=":material/monitoring:"), Permission.DASHBOARDS),
    (st.Page("app_pages/explore.py", title="Explore", icon=":material/manage_search:"), Permission.EXPORT),
    (st.Page("app_pages/settings.py", title="Settings", icon=":material/settings:"), Permission.ADMIN),
    (st.Page("app_pages/audit.py", title="Audit log", icon=":material/history:"), Permission.AUDIT),
]

with database_errors_in_words():
    sync_cookie()
    actor = current_actor()
    if actor is None:
        st.navigation([st.Page(sign_in_form, title="Sign in", icon=":material/login:", url_path="sign-in")]).run()
    else:
        sign_out_button(actor)
        st.navigation([page for page, needed in PAGES if actor.can(needed)]).run()
