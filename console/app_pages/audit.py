"""Audit log (admins): browse and filter; there is deliberately no edit or delete anywhere."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pandas as pd
import streamlit as st

from console.services import audit
from console.services.permissions import Actor, Permission
from console.ui.auth_gate import require_actor
from console.ui.format import local_time
from console.ui.resources import get_store, team_zone
from console.ui.safe import plain_frame

store, zone = get_store(), team_zone()
actor: Actor = require_actor()
st.title("Audit log")
if not actor.can(Permission.AUDIT):
    st.info("Only admins can browse the audit log.")
    st.stop()

with store.read() as session:
    actions = audit.known_actions(session, actor)
a, b, c, d = st.columns(4)
chosen = a.multiselect("Action", actions, key="a_actions")
who = b.text_input("Actor contains", key="a_actor")
entity = c.selectbox("Entity", ["", "mention", "reply", "user", "setting", "template", "source", "brand"], key="a_ent")
entity_id = d.text_input("Entity id", key="a_ent_id")
days = st.date_input("Between", value=[], key="a_dates")
picked = [x for x in (days if isinstance(days, tuple | list) else [days]) if x]
since = datetime.combine(picked[0], time.min, zone).astimezone(UTC) if picked else None
until = datetime.combine(picked[-1] + timedelta(days=1), time.min, zone).astimezone(UTC) if picked else None
page = st.session_state.get("audit_page", 0)
filters = audit.AuditFilters(chosen, who, entity, entity_id, since, until, page)
with store.read() as session:
    rows, total = audit.browse(session, actor, filters)
st.caption(f"{total:,} entries · newest first · append-only (the database refuses edits and deletes)")
st.dataframe(
    plain_frame(  # before/after hold mention data (tags, notes, reasons): controls shown, cells cut
        pd.DataFrame(
            [
                {
                    "When": local_time(e.at, zone),
                    "Actor": e.actor,
                    "Action": e.action,
                    "Entity": e.entity_type,
                    "Id": e.entity_id or "",
                    "Before": str(e.before or ""),
                    "After": str(e.after or ""),
                }
                for e in rows
            ]
        )
    ),
    hide_index=True,
    width="stretch",
)
prev, nxt = st.columns(2)
if prev.button("← Newer", disabled=page == 0, key="audit_prev"):
    st.session_state["audit_page"] = page - 1
    st.rerun()
if nxt.button("Older →", disabled=(page + 1) * filters.page_size >= total, key="audit_next"):
    st.session_state["audit_page"] = page + 1
    st.rerun()
