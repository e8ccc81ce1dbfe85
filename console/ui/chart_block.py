"""A chart with its table view and a CSV download of the same data, as every dashboard chart has.

The table shows the same rows as the chart with headers in words and values with their units
("Median first response" · "34 min", "Within SLA" · "87 %").  The CSV keeps numbers for a spreadsheet,
under snake_case headers that carry the unit (``median_first_response_min``, ``within_sla_pct``).
Both come from one list of :class:`Column`, so they never disagree.  Dates read one way on the whole
dashboard (:mod:`console.services.dashboard.filters`): "Fri 27 Nov" on axes, in tooltips and in tables
(with the time for hours), "27 Nov 2026" in captions.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

import altair as alt
import pandas as pd
import streamlit as st

from console.services.dashboard.filters import day_words
from console.services.dashboard.team import seconds_label
from console.services.export import neutralise
from console.ui.safe import plain, plain_frame

PLATFORM_NAMES = {"x": "X", "mastodon": "Mastodon", "bluesky": "Bluesky", "reddit": "Reddit", "rss": "News (RSS)"}
WORDS = {
    "delivery_luggage": "Delivery & luggage",
    "(unassigned)": "Unassigned",
    "(no brand)": "No brand",
    "(none)": "None",
}
"""Values whose words are not just their name with spaces."""
_MACHINE = re.compile(r"[a-z][a-z0-9_]*")

Kind = Literal["text", "words", "name", "count", "pct", "pts", "change", "score", "duration", "day", "hour"]
"""How a column's values read: ``words`` turns ``account_security`` into ``Account security``; ``name`` keeps
a brand's or agent's name as it is spelt (``jamie``) but puts placeholders in words (``Unassigned``);
``pct`` is a share (``87 %``), ``pts`` a change in points (``+1.2 pts``), ``change`` a change in %
(``+12 %``), ``score`` a signed score (``-16.7``), ``duration`` seconds (``34 min``, CSV in minutes)."""


def words(value: Any) -> str:
    """A stored value in words: ``account_security`` -> ``Account security``, ``x`` -> ``X``; names stay as they are."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    text = str(value)
    if text in WORDS or text in PLATFORM_NAMES:
        return WORDS.get(text) or PLATFORM_NAMES[text]
    return text.replace("_", " ").capitalize() if _MACHINE.fullmatch(text) else plain(text)  # names are data


def name_words(value: Any) -> str:
    """A brand's or agent's name as it is spelt; only the placeholders for none (``(unassigned)``) in words."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return "—"
    return WORDS.get(str(value)) or plain(str(value))


def _number(fmt: Callable[[float], str]) -> Callable[[Any], str]:
    def show(value: Any) -> str:
        return "—" if value is None or pd.isna(value) else fmt(float(value))

    return show


SHOW: dict[str, Callable[[Any], str]] = {
    "text": lambda v: "—" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v),
    "words": words,
    "name": name_words,
    "count": _number(lambda v: f"{v:,.0f}"),
    "pct": _number(lambda v: f"{v:.0f} %"),
    "pts": _number(lambda v: f"{v:+.1f} pts"),
    "change": _number(lambda v: f"{v:+.0f} %"),
    "score": _number(lambda v: f"{v:+.1f}"),
    "duration": seconds_label,
    "day": lambda v: "—" if pd.isna(v) else day_words(v),
    "hour": lambda v: "—" if pd.isna(v) else f"{day_words(v)} {v:%H:%M}",
}


@dataclass(frozen=True)
class Column:
    """One column of a chart's data: where it comes from, its header in words, how its values read.

    ``csv`` is the download's header (default: the field, with ``_s`` turned into ``_min`` for durations);
    ``labels`` maps raw values to words in the table (e.g. ``True`` -> ``Competitor``).
    """

    field: str
    title: str
    kind: Kind = "text"
    csv: str | None = None
    labels: Mapping[Any, str] = dataclasses.field(default_factory=dict)

    @property
    def csv_name(self) -> str:
        """The CSV header."""
        if self.csv:
            return self.csv
        if self.kind == "duration" and self.field.endswith("_s"):
            return self.field[:-2] + "_min"
        return self.field

    def shown(self, values: pd.Series) -> pd.Series:
        """The values as the table shows them."""
        if self.labels:
            return values.map(lambda v: self.labels.get(v, words(v)))
        return values.map(SHOW[self.kind])

    def written(self, values: pd.Series) -> pd.Series:
        """The values as the CSV holds them: numbers stay numbers, durations in minutes, times in ISO 8601."""
        if self.kind == "duration":
            return (pd.to_numeric(values, errors="coerce") / 60).round(1)
        if self.kind in ("day", "hour"):
            return values.map(lambda v: "" if pd.isna(v) else (v.date() if self.kind == "day" else v).isoformat())
        return values


def table_frame(frame: pd.DataFrame, columns: Sequence[Column]) -> pd.DataFrame:
    """The table view: headers in words, values with their units."""
    return pd.DataFrame({c.title: c.shown(frame[c.field]).to_numpy() for c in columns if c.field in frame})


def csv_frame(frame: pd.DataFrame, columns: Sequence[Column]) -> pd.DataFrame:
    """The download: the same rows and columns, as numbers under headers with units."""
    return pd.DataFrame({c.csv_name: c.written(frame[c.field]).to_numpy() for c in columns if c.field in frame})


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


def chart_block(
    title: str,
    frame: pd.DataFrame,
    chart: alt.Chart | alt.LayerChart,
    *,
    key: str,
    columns: Sequence[Column],
    caption: str | None = None,
) -> None:
    """Chart or table view of ``frame`` plus a CSV download of it; a note instead when it is empty."""
    st.subheader(title)
    if caption:
        st.caption(caption)
    if frame.empty:
        st.info("No data for these filters.")
        return
    chart_tab, table_tab = st.tabs(["Chart", "Table"])
    with chart_tab:
        st.altair_chart(chart, width="stretch")
    with table_tab:
        st.dataframe(plain_frame(table_frame(frame, columns)), hide_index=True, width="stretch")
    st.download_button(
        "Download CSV",
        csv_bytes(csv_frame(frame, columns)),
        file_name=f"{key}.csv",
        mime="text/csv",
        key=f"csv_{key}",
        icon=":material/download:",
    )
