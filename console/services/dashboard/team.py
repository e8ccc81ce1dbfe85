"""Team aggregates: SLA compliance, response-time distributions, backlog by age, per-agent workload.

Response times here are the mention-level ones stored on each row (created -> first reply
sent, created -> resolved, created -> fetched), in wall-clock seconds.  Compliance judges
the stored ``first_response_due_at``, which :mod:`console.services.sla_clocks` computed in the
brand's business hours.  A running first response already past its due time counts as a miss,
so an ignored backlog never looks compliant.

The inputs are the grouped frames of :mod:`console.services.dashboard.sources`; medians and
p90s are exact (linear interpolation, numpy's default and PostgreSQL's ``percentile_cont``),
computed with numpy over every duration of the range.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.services.dashboard.filters import DashboardFilters, with_periods
from console.services.dashboard.rollup import DURATIONS, unpack
from console.services.dashboard.sources import BACKLOG_AGES, OLDEST_AGE, UNCLASSIFIED
from storage.models import Brand, User

NO_AGENT = "(unassigned)"
SLA_DIMENSIONS = ("brand", "platform", "agent", "urgency")
RESPONSE_BUCKETS = ((15 * 60, "< 15 min"), (3600, "15-60 min"), (4 * 3600, "1-4 h"), (24 * 3600, "4-24 h"))
SLOWEST_BUCKET = "> 24 h"
QUANTILES = (50, 90)
_COLUMN = {"brand": "brand_id", "platform": "platform", "agent": "assignee_id", "urgency": "urgency"}
_MISSING = {"brand": "(no brand)", "platform": "(none)", "agent": NO_AGENT, "urgency": UNCLASSIFIED}
_SLA_COLUMNS = [
    "dimension",
    "group",
    "mentions",
    "answered",
    "median_first_response_s",
    "p90_first_response_s",
    "judged",
    "within_sla_pct",
]
__all__ = ["BACKLOG_AGES", "OLDEST_AGE", "Durations", "labels_of", "seconds_label"]


def labels_of(session: Session) -> dict[str, dict[Any, str]]:
    """Brand and agent names by id (small tables), so the big reads group on the ids alone."""
    return {
        "brand": dict(session.execute(select(Brand.id, Brand.name)).tuples().all()),
        "agent": dict(session.execute(select(User.id, User.username)).tuples().all()),
    }


def _label(labels: dict[str, dict[Any, str]], dimension: str, key: Any) -> str:
    if key is None or (isinstance(key, float) and np.isnan(key)):
        return _MISSING[dimension]
    return labels.get(dimension, {}).get(key, str(key))


class Durations:
    """Every duration of the detail frame as one array per metric, with each value's row index."""

    def __init__(self, detail: pd.DataFrame) -> None:
        self.values: dict[str, np.ndarray] = {}
        self.rows: dict[str, np.ndarray] = {}
        packed = detail["packed"].to_numpy() if "packed" in detail else np.zeros(len(detail), bool)
        for metric in DURATIONS:
            cells = [v if isinstance(v, str | bytes | memoryview) else None for v in detail[metric].tolist()]
            arrays = [unpack(_bytes(v) if p else v) for v, p in zip(cells, packed, strict=True)]
            lengths = np.fromiter((len(a) for a in arrays), dtype=np.int64, count=len(arrays))
            self.values[metric] = np.concatenate(arrays) if arrays else np.empty(0)
            self.rows[metric] = np.repeat(np.arange(len(arrays)), lengths)

    def by_group(self, metric: str, codes: np.ndarray | None) -> dict[int, tuple[int, list[float]]]:
        """``{group code: (count, [median, p90])}``; ``codes`` per detail row, ``None`` for one group (-1)."""
        values = self.values[metric]
        if codes is None:
            return {-1: (len(values), _quantiles(values))} if len(values) else {}
        per_value = codes[self.rows[metric]]
        order = np.argsort(per_value, kind="stable")
        grouped, sorted_codes = values[order], per_value[order]
        none = np.empty(0, dtype=np.intp)
        starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]]) if len(order) else none
        ends = np.r_[starts[1:], len(order)] if len(order) else none
        return {int(sorted_codes[a]): (int(b - a), _quantiles(grouped[a:b])) for a, b in zip(starts, ends, strict=True)}


def _bytes(value: Any) -> bytes | None:
    """Packed bytes as PostgreSQL returns them, or SQLite's hex text of them."""
    if value is None or isinstance(value, bytes | bytearray | memoryview):
        return None if value is None else bytes(value)
    return bytes.fromhex(value)


def _quantiles(values: np.ndarray) -> list[float]:
    return [float(v) for v in np.percentile(values, QUANTILES)]


def sla_breakdown(detail: pd.DataFrame, durations: Durations, labels: dict[str, dict[Any, str]]) -> pd.DataFrame:
    """First response median/p90 and share within SLA, overall and by brand, platform, agent, urgency."""
    rows = []
    judged = detail["sla_hit"] + detail["sla_late"] + detail["sla_overdue"]
    frame = detail.assign(judged=judged)
    for name in ("all", *SLA_DIMENSIONS):
        if name == "all":
            codes, keys = np.zeros(len(frame), dtype=np.int64), np.array(["all"], dtype=object)
        else:
            codes, keys = pd.factorize(frame[_COLUMN[name]], use_na_sentinel=False, sort=True)
        times = durations.by_group("first_response_s", codes)
        sums = frame[["mentions", "sla_hit", "judged"]].groupby(codes).sum()
        for code, (total, hits, n_judged) in sums.iterrows():
            answered, (median, p90) = times.get(int(code), (0, [None, None]))
            key = keys[int(code)]
            group = "all" if name == "all" else _label(labels, name, None if pd.isna(key) else key)
            rows.append(_sla_row(name, group, total, answered, median, p90, int(hits), int(n_judged)))
    return pd.DataFrame(rows, columns=_SLA_COLUMNS)


def _sla_row(
    dimension: str, key: Any, total: int, answered: int, median: Any, p90: Any, hits: int, judged: int
) -> dict[str, Any]:
    return {
        "dimension": dimension,
        "group": str(key),
        "mentions": int(total),
        "answered": int(answered),
        "median_first_response_s": median,
        "p90_first_response_s": p90,
        "judged": int(judged),
        "within_sla_pct": round(hits / judged * 100, 1) if judged else None,
    }


def time_summary(durations: Durations) -> pd.DataFrame:
    """Median and p90 of first response, resolution and ingestion lag over the range."""
    rows = []
    for metric, column in (
        ("first_response", "first_response_s"),
        ("resolution", "resolution_s"),
        ("ingestion_lag", "ingestion_lag_s"),
    ):
        count, (median, p90) = durations.by_group(column, None).get(-1, (0, [None, None]))
        rows.append({"metric": metric, "count": count, "median_s": median, "p90_s": p90})
    return pd.DataFrame(rows)


def response_histogram(detail: pd.DataFrame, durations: Durations) -> pd.DataFrame:
    """Answered mentions per first-response-time bucket and urgency (counted on integer codes)."""
    labels = [label for _, label in RESPONSE_BUCKETS] + [SLOWEST_BUCKET]
    limits = np.array([limit for limit, _ in RESPONSE_BUCKETS], dtype=float)
    buckets = np.searchsorted(limits, durations.values["first_response_s"], side="right")
    codes, urgencies = pd.factorize(detail["urgency"], sort=True)
    per_value = codes[durations.rows["first_response_s"]] if len(codes) else np.empty(0, dtype=np.int64)
    width = max(len(urgencies), 1)
    counts = np.bincount(buckets * width + per_value, minlength=len(labels) * width)
    rows = [
        {"bucket": label, "urgency": urgencies[u], "answered": int(counts[b * width + u])}
        for b, label in enumerate(labels)
        for u in range(len(urgencies))
        if counts[b * width + u]
    ]
    return pd.DataFrame(rows, columns=["bucket", "urgency", "answered"])


def sla_by_period(hourly: pd.DataFrame, filters: DashboardFilters) -> pd.DataFrame:
    """Share within SLA per local day (or hour), by the period the mention arrived in."""
    if hourly.empty:
        return pd.DataFrame(columns=["period", "hit", "judged", "within_sla_pct"])
    frame = with_periods(hourly, filters).groupby("period", as_index=False)[["hit", "judged"]].sum()
    frame["within_sla_pct"] = (frame["hit"] / frame["judged"].where(frame["judged"] > 0) * 100).round(1)
    return frame


def backlog(open_frame: pd.DataFrame) -> pd.DataFrame:
    """Open mentions now (whatever the date range), by age bucket and urgency."""
    frame = open_frame.groupby(["age", "urgency"], as_index=False)["open"].sum()
    frame = frame[frame["open"] > 0]
    order = {label: i for i, (_, label) in enumerate(BACKLOG_AGES)} | {OLDEST_AGE: len(BACKLOG_AGES)}
    return frame.sort_values(["age", "urgency"], key=lambda s: s.map(order) if s.name == "age" else s).reset_index(
        drop=True
    )


def agent_workload(
    detail: pd.DataFrame,
    open_frame: pd.DataFrame,
    replies: pd.DataFrame,
    sla: pd.DataFrame,
    labels: dict[str, dict[Any, str]],
) -> pd.DataFrame:
    """Per agent: mentions handled and resolved in the range, open now, replies sent, response times."""
    agents = labels["agent"]

    def named(frame: pd.DataFrame, key: str, columns: dict[str, str]) -> pd.DataFrame:
        known = frame[frame[key].isin(list(agents))]
        out = known.groupby(key)[list(columns)].sum().rename(columns=columns).reset_index()
        return out.assign(agent=out[key].map(agents)).drop(columns=key)

    handled = named(detail, "assignee_id", {"mentions": "handled", "resolved": "resolved"})
    open_now = named(open_frame, "assignee_id", {"open": "open_now"})
    sent = named(replies, "user_id", {"replies": "replies_sent"})
    frame = handled.merge(open_now, on="agent", how="outer").merge(sent, on="agent", how="outer")
    count_columns = ["handled", "resolved", "open_now", "replies_sent"]
    frame = frame[["agent", *count_columns]]
    frame[count_columns] = frame[count_columns].fillna(0).astype(int)
    if not sla.empty:
        times = sla[sla["dimension"] == "agent"].rename(columns={"group": "agent"})
        columns = ["agent", "median_first_response_s", "p90_first_response_s", "within_sla_pct"]
        frame = frame.merge(times[columns], on="agent", how="left")
    return frame.sort_values(["open_now", "handled"], ascending=False).reset_index(drop=True)


def seconds_label(seconds: float | None) -> str:
    """A response time for a table cell: ``4 min``, ``2.5 h``."""
    if seconds is None or pd.isna(seconds):
        return "—"
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h" if seconds < 172_800 else f"{seconds / 86400:.1f} d"
