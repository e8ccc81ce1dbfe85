"""The Inbox's view in the URL: filters, sort, page and selection as one compact, readable query string.

``?urgency=critical&urgency=high&assignee=me&sel=541`` is the whole state of an Inbox: a reload, the
browser's back button and a shared link all restore it.  Defaults are left out (no ``status`` means the open
statuses, no ``sort`` means priority).  The Conversation page gets the same parameters plus ``mention=<id>``
(the Inbox's own selection is ``sel``), so "back to Inbox" returns to the same view and "Send & next" can ask
:func:`console.services.inbox.next_in_view` for the next mention of it.

Keys, in the order they are written:

========== ======================================= ==========================================
key        value                                   filter
========== ======================================= ==========================================
brand      brand id, repeated                      ``brand_ids``
platform   ``x``, ``bluesky``…, repeated           ``platforms``
status     a status, repeated; ``any`` for all     ``statuses`` (absent: new, open, pending)
sentiment  ``negative``/``neutral``/``positive``   ``sentiments``
urgency    ``critical``/``high``/``normal``/``low`` ``urgencies``
topic      a topic, repeated                       ``topics``
lang       a language code, repeated               ``languages``
assignee   ``me`` or ``unassigned``                ``assignee`` (absent: anyone)
reply      ``yes`` or ``no``                       ``replyable``
from, to   ``2026-11-20`` (team's zone, inclusive) ``since``/``until``
q          words in the post                       ``search``
queue      escalation queue name, repeated         ``escalation_queues``
breaching  minutes                                 ``breaching_within``
sort       ``due``, ``newest``, ``oldest``         ``sort`` (absent: priority)
page       page number from 1                      ``page`` (absent: the first)
sel        selected mention id, repeated           the Inbox's selection
========== ======================================= ==========================================

Values that do not parse are dropped, so a mangled link still opens an Inbox.  The Inbox page reads its URL
with :func:`inbox_view`, which also takes a stray ``mention`` (no ``sel``) as the selection.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any
from urllib.parse import parse_qs, urlencode

from console.services.inbox import (
    ASSIGNEE_ANYONE,
    ASSIGNEE_ME,
    ASSIGNEE_UNASSIGNED,
    SORT_PRIORITY,
    SORTS,
    InboxFilters,
)
from storage.enums import OPEN_STATUSES, MentionStatus, Sentiment, Urgency

INBOX_PATH, CONVERSATION_PATH = "/", "/conversation"
MENTION_KEY = "mention"
"""The Conversation page's own parameter: the mention it shows."""
DEFAULT_STATUSES = tuple(s.value for s in OPEN_STATUSES)
ANY_STATUS = "any"
MAX_BREACHING_MINUTES = 7 * 24 * 60
MAX_TEXT = 200
"""Every key of the Inbox's state, in the order :func:`view_params` writes them."""
Params = dict[str, str | list[str]]


@dataclass(frozen=True)
class InboxView:
    """One Inbox screen: the filters (with sort and page), the posted-between days, the selected mentions."""

    filters: InboxFilters = field(default_factory=InboxFilters)
    days: tuple[date, date] | None = None
    """The "posted between" days in the team's zone (the source of ``filters.since``/``until``)."""
    selected: tuple[int, ...] = ()


def day_bounds(days: tuple[date, date] | None, zone: tzinfo) -> tuple[datetime | None, datetime | None]:
    """Days picked in the team's zone as UTC bounds, the last day included."""
    if days is None:
        return None, None
    start = datetime.combine(days[0], time.min, zone).astimezone(UTC)
    end = datetime.combine(days[1] + timedelta(days=1), time.min, zone).astimezone(UTC)
    return start, end


def _all(params: Any, key: str) -> list[str]:
    """Every value of ``key``: from ``st.query_params`` (``get_all``), ``parse_qs`` output or a plain dict."""
    getter = getattr(params, "get_all", None)
    if callable(getter):
        values: Iterable[Any] = getter(key)
    else:
        value = params.get(key)
        values = [] if value is None else [value] if isinstance(value, str) else value
    return [str(v).strip() for v in values if str(v).strip()]


def _unique(values: Iterable[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(values))


def _choice(params: Any, key: str, allowed: Iterable[str]) -> tuple[str, ...]:
    known = set(allowed)
    return _unique(v for v in _all(params, key) if v in known)


def _text(params: Any, key: str) -> tuple[str, ...]:
    return _unique(v[:MAX_TEXT] for v in _all(params, key))


def _ints(params: Any, key: str) -> tuple[int, ...]:
    return tuple(int(v) for v in _unique(_all(params, key)) if v.isdigit() and 0 < int(v) < 2**63)


def _one(params: Any, key: str) -> str | None:
    values = _all(params, key)
    return values[-1] if values else None


def _day(params: Any, key: str) -> date | None:
    try:
        return date.fromisoformat(_one(params, key) or "")
    except ValueError:
        return None


def _days(params: Any) -> tuple[date, date] | None:
    picked = [d for d in (_day(params, "from"), _day(params, "to")) if d is not None]
    return (min(picked), max(picked)) if picked else None


def _statuses(params: Any) -> tuple[str, ...]:
    raw = _all(params, "status")
    if not raw:
        return DEFAULT_STATUSES
    if ANY_STATUS in raw:
        return ()
    return _choice(params, "status", (s.value for s in MentionStatus)) or DEFAULT_STATUSES


def _breaching(params: Any) -> timedelta | None:
    raw = _one(params, "breaching") or ""
    return timedelta(minutes=int(raw)) if raw.isdigit() and 0 < int(raw) <= MAX_BREACHING_MINUTES else None


def _page(params: Any) -> int:
    raw = _one(params, "page") or ""
    return int(raw) - 1 if raw.isdigit() and 0 < int(raw) < 100_000 else 0


def read_view(params: Any, me_id: int | None, *, zone: tzinfo = UTC) -> InboxView:
    """The Inbox view a query string describes (``st.query_params``, ``parse_qs`` output, or a dict).

    ``me_id`` is whom ``assignee=me`` means; ``zone`` is the team's zone the ``from``/``to`` days are in.
    Unknown keys (``mention``, ``embed``…) are ignored.
    """
    days = _days(params)
    since, until = day_bounds(days, zone)
    reply = _one(params, "reply")
    filters = InboxFilters(
        brand_ids=_ints(params, "brand"),
        platforms=_text(params, "platform"),
        statuses=_statuses(params),
        sentiments=_choice(params, "sentiment", (s.value for s in Sentiment)),
        urgencies=_choice(params, "urgency", (u.value for u in Urgency)),
        topics=_text(params, "topic"),
        languages=_text(params, "lang"),
        assignee=(_choice(params, "assignee", (ASSIGNEE_ME, ASSIGNEE_UNASSIGNED)) or (ASSIGNEE_ANYONE,))[-1],
        me_id=me_id,
        replyable={"yes": True, "no": False}.get(reply or ""),
        since=since,
        until=until,
        search=(_one(params, "q") or "")[:MAX_TEXT],
        escalation_queues=_text(params, "queue"),
        breaching_within=_breaching(params),
        sort=(_choice(params, "sort", SORTS) or (SORT_PRIORITY,))[-1],
        page=_page(params),
    )
    return InboxView(filters, days, _ints(params, "sel"))


def inbox_view(params: Any, me_id: int | None, *, zone: tzinfo = UTC) -> InboxView:
    """:func:`read_view` for the Inbox page itself: a ``mention`` with no ``sel`` is taken as the selection.

    A Conversation URL can land on the Inbox's path (a hand-trimmed link, or a history entry the browser wrote
    while it was still switching pages); the mention it names is the one the agent was on, so the Inbox selects
    it instead of losing it.
    """
    view = read_view(params, me_id, zone=zone)
    if view.selected:
        return view
    return replace(view, selected=_ints(params, MENTION_KEY)[:1])


def parse_query(query: str, me_id: int | None, *, zone: tzinfo = UTC) -> InboxView:
    """:func:`read_view` of a query string as stored in a saved view (``a=1&b=2``, no leading ``?``)."""
    return read_view(parse_qs(query.lstrip("?")), me_id, zone=zone)


def _put(out: Params, key: str, values: Sequence[object]) -> None:
    texts = [str(v) for v in values]
    if texts:
        out[key] = texts[0] if len(texts) == 1 else texts


def view_params(view: InboxView) -> Params:
    """The query parameters of ``view``, defaults left out; lists mean a repeated key."""
    f, out = view.filters, Params()
    statuses = tuple(f.statuses)
    _put(out, "brand", list(f.brand_ids))
    _put(out, "platform", list(f.platforms))
    if statuses != DEFAULT_STATUSES:
        _put(out, "status", list(statuses) or [ANY_STATUS])
    for key, values in (
        ("sentiment", f.sentiments),
        ("urgency", f.urgencies),
        ("topic", f.topics),
        ("lang", f.languages),
    ):
        _put(out, key, list(values))
    if f.assignee in (ASSIGNEE_ME, ASSIGNEE_UNASSIGNED):
        out["assignee"] = f.assignee
    if f.replyable is not None:
        out["reply"] = "yes" if f.replyable else "no"
    if view.days is not None:
        out["from"], out["to"] = view.days[0].isoformat(), view.days[1].isoformat()
    if f.search.strip():
        out["q"] = f.search.strip()
    _put(out, "queue", list(f.escalation_queues))
    if f.breaching_within is not None:
        out["breaching"] = str(int(f.breaching_within.total_seconds() // 60))
    if f.sort != SORT_PRIORITY:
        out["sort"] = f.sort
    if f.page > 0:
        out["page"] = str(f.page + 1)
    _put(out, "sel", list(view.selected))
    return out


def query_string(view: InboxView) -> str:
    """``view`` as a query string without the ``?`` (what a saved view stores, with no page or selection)."""
    return urlencode(view_params(view), doseq=True)


def saved_query(view: InboxView) -> str:
    """The part of ``view`` a saved view keeps: the filters and sort, not the page or the selection."""
    return query_string(replace(view, filters=replace(view.filters, page=0), selected=()))


def conversation_params(view: InboxView, mention_id: int) -> Params:
    """The Conversation page's parameters: ``mention`` and the view it was opened from (without ``sel``)."""
    return {MENTION_KEY: str(mention_id), **view_params(replace(view, selected=()))}


def inbox_params_after(view: InboxView, mention_id: int) -> Params:
    """The Inbox's parameters when coming back from a conversation: the same view, that mention selected."""
    return view_params(replace(view, selected=(mention_id,)))


def conversation_link(view: InboxView, mention_id: int) -> str:
    """A relative link to a mention's conversation within ``view``: ``/conversation?mention=541&urgency=…``."""
    return f"{CONVERSATION_PATH}?{urlencode(conversation_params(view, mention_id), doseq=True)}"


def inbox_link(view: InboxView) -> str:
    """A relative link to the Inbox showing ``view``: ``/?urgency=critical&assignee=me&sel=541``."""
    query = query_string(view)
    return f"{INBOX_PATH}?{query}" if query else INBOX_PATH


def matching_view(view: InboxView, queries: Mapping[str, str], me_id: int | None, zone: tzinfo = UTC) -> str | None:
    """The name of the first saved view whose filters are exactly ``view``'s, if any."""
    mine = saved_query(view)
    return next((name for name, q in queries.items() if saved_query(parse_query(q, me_id, zone=zone)) == mine), None)


# --- the Inbox's widgets ---------------------------------------------------------------------------------------

REPLYABLE_CHOICES = {"any": None, "replyable": True, "listen-only": False}
ASSIGNEE_CHOICES = (ASSIGNEE_ANYONE, ASSIGNEE_UNASSIGNED)
"""The "Assignee" radio; "assigned to me" is its own toggle (``f_mine``), the filter agents reach for most."""
BREACHING_CHOICES = (0, 15, 30, 60, 120, 240)
"""Minutes offered by the "SLA due within" filter; 0 means no such filter."""


def widget_state(view: InboxView, brands: Mapping[str, int] | None = None) -> dict[str, object]:
    """The filter widgets' values (by key) that show ``view``.

    ``brands`` (name -> id) lets the brand widget show names while the URL keeps ids, which survive a rename;
    an id it does not know stays an id.
    """
    f = view.filters
    names = {i: n for n, i in (brands or {}).items()}
    replyable = next(k for k, v in REPLYABLE_CHOICES.items() if v is f.replyable)
    breaching = int(f.breaching_within.total_seconds() // 60) if f.breaching_within is not None else 0
    assignee = ASSIGNEE_UNASSIGNED if f.assignee == ASSIGNEE_UNASSIGNED else ASSIGNEE_ANYONE
    return {
        "f_brand": [names.get(i, i) for i in f.brand_ids],
        "f_platform": list(f.platforms),
        "f_status": list(f.statuses),
        "f_sentiment": list(f.sentiments),
        "f_urgency": list(f.urgencies),
        "f_topic": list(f.topics),
        "f_language": list(f.languages),
        "f_mine": f.assignee == ASSIGNEE_ME,
        "f_assignee": assignee,
        "f_replyable": replyable,
        "f_dates": view.days or (),
        "f_search": f.search,
        "f_queue": list(f.escalation_queues),
        "f_breaching": breaching,
        "f_sort": f.sort if f.sort in SORTS else SORT_PRIORITY,
    }


def _picked_days(value: object) -> tuple[date, date] | None:
    days = [d for d in (value if isinstance(value, tuple | list) else [value]) if isinstance(d, date)]
    return (days[0], days[-1]) if days else None


def _brand_ids(picked: Iterable[object], brands: Mapping[str, int]) -> tuple[int, ...]:
    """Brand names (or ids kept from the URL) as ids; a name no longer known is dropped."""
    ids = (brands.get(b) if isinstance(b, str) else b for b in picked)
    return tuple(dict.fromkeys(i for i in ids if isinstance(i, int)))


def view_from_widgets(
    state: Any,
    me_id: int | None,
    *,
    zone: tzinfo = UTC,
    page: int = 0,
    selected: Sequence[int] = (),
    brands: Mapping[str, int] | None = None,
) -> InboxView:
    """The view the filter widgets show (``state`` is ``st.session_state`` or any mapping of their keys).

    ``brands`` is the same name -> id map given to :func:`widget_state`.
    """
    days = _picked_days(state.get("f_dates"))
    since, until = day_bounds(days, zone)
    minutes = int(state.get("f_breaching") or 0)
    statuses = tuple(state.get("f_status") or ())
    filters = InboxFilters(
        brand_ids=_brand_ids(state.get("f_brand") or (), brands or {}),
        platforms=tuple(state.get("f_platform") or ()),
        statuses=DEFAULT_STATUSES if set(statuses) == set(DEFAULT_STATUSES) else statuses,
        sentiments=tuple(state.get("f_sentiment") or ()),
        urgencies=tuple(state.get("f_urgency") or ()),
        topics=tuple(state.get("f_topic") or ()),
        languages=tuple(state.get("f_language") or ()),
        assignee=ASSIGNEE_ME if state.get("f_mine") else str(state.get("f_assignee") or ASSIGNEE_ANYONE),
        me_id=me_id,
        replyable=REPLYABLE_CHOICES.get(str(state.get("f_replyable") or "any")),
        since=since,
        until=until,
        search=str(state.get("f_search") or "").strip()[:MAX_TEXT],
        escalation_queues=tuple(state.get("f_queue") or ()),
        breaching_within=timedelta(minutes=minutes) if minutes > 0 else None,
        sort=str(state.get("f_sort") or SORT_PRIORITY),
        page=page,
    )
    return InboxView(filters, days, tuple(selected))
