"""A chart with its table view and a CSV download of the same data, as every dashboard chart has."""

from __future__ import annotations

from typing import Any
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from console.services.export import neutralise


def chart_frame(frame: pd.DataFrame, zone: ZoneInfo) -> pd.DataFrame:
    """Tz-aware period columns as naive local times: Vega-Lite would otherwise shift them to the viewer's zone."""
    out = frame.copy()
    for column in out.columns:
        if isinstance(out[column].dtype, pd.DatetimeTZDtype):
            out[column] = out[column].dt.tz_convert(zone).dt.tz_localize(None)
    return out


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """CSV of an aggregate table; text cells neutralised like every export (brand and topic names are data)."""
    safe = frame.copy()
    for column in safe.columns:
        if not pd.api.types.is_numeric_dtype(safe[column]) and not isinstance(safe[column].dtype, pd.DatetimeTZDtype):
            safe[column] = safe[column].map(lambda v: neutralise(v) if isinstance(v, str) else v)
    return safe.to_csv(index=False).encode("utf-8")


def chart_block(title: str, frame: pd.DataFrame, chart: Any, *, key: str, caption: str | None = None) -> None:
    """Chart or table view of ``frame`` plus a CSV download of it; a note instead when it is empty."""
    st.subheader(title)
    if caption:
        st.caption(caption)
    if frame.empty:
        st.info("No data for these filters.")
        return
    chart_tab, table_tab = st.tabs(["Chart", "Table"])
    with chart_tab:
        st.altair_chart(chart if isinstance(chart, alt.TopLevelMixin) else chart(), width="stretch")
    with table_tab:
        st.dataframe(frame, hide_index=True, width="stretch")
    st.download_button(
        "Download CSV",
        csv_bytes(frame),
        file_name=f"{key}.csv",
        mime="text/csv",
        key=f"csv_{key}",
        icon=":material/download:",
    )
