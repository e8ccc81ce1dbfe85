"""Sources: each connector's health, so a dead connection is visible, never silent."""

from __future__ import annotations

from datetime import UTC, datetime

import pandas as pd
import streamlit as st

from console.services.sources import read_budget, source_health, x_summary
from console.services.worker_health import workers_overview
from console.ui.actions import database_errors_in_words
from console.ui.format import local_time
from console.ui.resources import get_config, get_store, team_zone
from console.ui.safe import md

store = get_store()
zone = team_zone()
cfg = get_config()
budget = read_budget(cfg)
st.title("Sources")


@st.fragment(run_every=15)
@database_errors_in_words("sources_workers")
def workers_table() -> None:
    """Each worker's heartbeat and its last database outage, refreshed on its own."""
    with store.read() as session:
        workers = workers_overview(session, datetime.now(UTC), zone)
    if not workers:
        st.warning("No worker has been seen in the last 24 h: nothing is fetched or sent. Start `mentiondesk worker`.")
        return
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Worker": w.owner,
                    "Last heartbeat": w.last_heartbeat,
                    "State": w.state,
                    "Outages": w.outages,
                    "Last outage": w.last_outage,
                }
                for w in workers
            ]
        ),
        hide_index=True,
        width="stretch",
    )


@st.fragment(run_every=15)
@database_errors_in_words("sources_health")
def health_table() -> None:
    """Health refreshes on its own."""
    with store.read() as session:
        rows = source_health(session)
    if not rows:
        st.info("No sources are configured yet.")
        return
    summary = x_summary(rows, budget)
    if summary:
        near_cap = budget.warning(sum(r.reads_used for r in rows if r.platform == "x"))
        (st.warning if near_cap else st.caption)(summary)
    unhealthy = [r for r in rows if r.enabled and r.health in ("unhealthy", "budget_exhausted")]
    for r in unhealthy:
        error = md(r.last_error or "no reason recorded", 500)
        st.error(f"**{r.name}** is {r.health.replace('_', ' ')}: {error}")
    st.dataframe(
        pd.DataFrame(
            [
                {
                    "Source": r.name,
                    "Platform": r.platform,
                    "Kind": r.kind,
                    "Enabled": r.enabled,
                    "Health": r.health,
                    "Last success": local_time(r.last_success_at, zone),
                    "Last error": r.last_error or "",
                    "Failures in a row": r.consecutive_failures,
                    "Next run": local_time(r.next_run_at, zone),
                    "Reads this month": r.reads_used,
                    "Est. cost": budget.format_cost(r.reads_used) if r.platform == "x" else "",
                    "Worker": r.lease_owner or "",
                    "Mentions": r.mentions_ingested,
                }
                for r in rows
            ]
        ),
        hide_index=True,
        width="stretch",
    )


workers_table()
health_table()
