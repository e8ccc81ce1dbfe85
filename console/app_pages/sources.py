"""Sources: each connector's health, so a dead connection is visible, never silent."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from console.services.sources import source_health
from console.ui.format import local_time
from console.ui.resources import get_store, team_zone

store = get_store()
zone = team_zone()
st.title("Sources")


@st.fragment(run_every=15)
def health_table() -> None:
    """Health refreshes on its own."""
    with store.read() as session:
        rows = source_health(session)
    if not rows:
        st.info("No sources are configured yet.")
        return
    unhealthy = [r for r in rows if r.health in ("unhealthy", "budget_exhausted")]
    for r in unhealthy:
        st.error(f"**{r.name}** is {r.health.replace('_', ' ')}: {r.last_error or 'no reason recorded'}")
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
                    "Mentions": r.mentions_ingested,
                }
                for r in rows
            ]
        ),
        hide_index=True,
        use_container_width=True,
    )


health_table()
