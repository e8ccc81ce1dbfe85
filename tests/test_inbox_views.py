"""The Inbox's view: its URL encoding, "next in view", the new filters and saved views, on real databases."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from console.config import EscalationConfig
from console.services import triage
from console.services.escalations import escalate
from console.services.inbox import (
    ASSIGNEE_ANYONE,
    ASSIGNEE_ME,
    ASSIGNEE_UNASSIGNED,
    SORT_DUE,
    SORT_NEWEST,
    SORT_OLDEST,
    InboxFilters,
    count_queue,
    list_queue,
    next_in_view,
)
from console.services.permissions import Actor
from console.services.saved_views import (
    ALL_OPEN,
    BREACHING,
    ESCALATED_TO_ME,
    MY_OPEN,
    UNASSIGNED_CRITICAL,
    SavedViewError,
    builtin_views,
    delete_view,
    list_views,
    own_views,
    rename_view,
    save_view,
    view_counts,
)
from console.services.store import Store
from console.ui.query_state import (
    InboxView,
    conversation_link,
    conversation_params,
    inbox_link,
    inbox_params_after,
    inbox_view,
    matching_view,
    parse_query,
    query_string,
    read_view,
    saved_query,
    view_from_widgets,
    view_params,
    widget_state,
)
from storage.enums import MentionStatus
from storage.models import AuditEntry, Mention, SavedView
from tests.triage_data import World, build_world

LONDON = ZoneInfo("Europe/London")
T = datetime(2026, 11, 20, 9, tzinfo=UTC)
EVERY_FILTER = (
    "brand=3&brand=1&platform=x&platform=bluesky&status=new&status=resolved&sentiment=negative"
    "&urgency=critical&urgency=high&topic=billing&topic=outage&lang=en&assignee=me&reply=no"
    "&from=2026-11-01&to=2026-11-20&q=refund+now&queue=supervisor&queue=legal&breaching=30&sort=due"
    "&page=3&sel=541&sel=542"
)


# --- the URL ----------------------------------------------------------------------------------------------------


def test_every_filter_round_trips_through_the_query_string() -> None:
    view = read_view(parse_qs(EVERY_FILTER), 7, zone=LONDON)
    f = view.filters
    assert f.brand_ids == (3, 1) and f.platforms == ("x", "bluesky") and f.statuses == ("new", "resolved")
    assert f.sentiments == ("negative",) and f.urgencies == ("critical", "high")
    assert f.topics == ("billing", "outage") and f.languages == ("en",)
    assert (f.assignee, f.me_id, f.replyable, f.search) == (ASSIGNEE_ME, 7, False, "refund now")
    assert view.days == (date(2026, 11, 1), date(2026, 11, 20))
    assert f.since == datetime(2026, 11, 1, tzinfo=UTC)  # London is on UTC in November
    assert f.until == datetime(2026, 11, 21, tzinfo=UTC)
    assert f.escalation_queues == ("supervisor", "legal") and f.breaching_within == timedelta(minutes=30)
    assert (f.sort, f.page, view.selected) == (SORT_DUE, 2, (541, 542))
    assert query_string(view) == EVERY_FILTER
    assert read_view(parse_qs(query_string(view)), 7, zone=LONDON) == view


@pytest.mark.parametrize(
    "query",
    [
        "",
        "urgency=critical&urgency=high&assignee=me&sel=541",
        "status=any",
        "assignee=unassigned&reply=yes",
        "sort=newest&page=2",
        "sort=oldest",
        "breaching=15",
        "q=%23hash+%26+amp",
        "from=2026-11-05&to=2026-11-05",
    ],
)
def test_each_query_is_its_own_canonical_form(query: str) -> None:
    view = read_view(parse_qs(query), 1)
    assert query_string(view) == query
    assert view_from_widgets(widget_state(view), 1, page=view.filters.page, selected=view.selected) == view


def test_widgets_show_brand_names_and_the_mine_toggle_while_the_url_keeps_ids() -> None:
    brands = {"Nimbus Mobile": 3, "Skyline Air": 1}
    view = read_view(parse_qs("brand=3&brand=1&brand=9&assignee=me"), 7)
    state = widget_state(view, brands)
    assert state["f_brand"] == ["Nimbus Mobile", "Skyline Air", 9]  # an id nobody knows stays an id
    assert (state["f_mine"], state["f_assignee"]) == (True, ASSIGNEE_ANYONE)
    assert view_from_widgets(state, 7, brands=brands) == view
    renamed = view_from_widgets({**state, "f_brand": ["Nimbus Mobile", "Gone Brand"]}, 7, brands=brands)
    assert renamed.filters.brand_ids == (3,)  # a name no longer known is dropped, not sent as a string
    unassigned = view_from_widgets({**state, "f_mine": False, "f_assignee": ASSIGNEE_UNASSIGNED}, 7, brands=brands)
    assert query_string(unassigned) == "brand=3&brand=1&brand=9&assignee=unassigned"
    assert view_from_widgets({"f_mine": True, "f_assignee": ASSIGNEE_UNASSIGNED}, 7).filters.assignee == ASSIGNEE_ME


def test_the_inbox_takes_a_stray_mention_as_its_selection_and_read_view_does_not() -> None:
    stray = parse_qs("mention=541&urgency=high")
    assert inbox_view(stray, 1).selected == (541,) and read_view(stray, 1).selected == ()
    assert inbox_view(parse_qs("mention=541&sel=7&sel=8"), 1).selected == (7, 8)  # ``sel`` wins
    assert inbox_view(parse_qs("mention=abc"), 1).selected == ()
    assert query_string(inbox_view(stray, 1)) == "urgency=high&sel=541"


def test_defaults_are_left_out_and_junk_is_dropped() -> None:
    assert view_params(InboxView()) == {}
    assert view_params(read_view({"status": ["new", "open", "pending"], "sort": "priority", "page": "1"}, 1)) == {}
    junk = {
        "urgency": ["critical", "urgent"],
        "sentiment": "angry",
        "brand": ["x", "2"],
        "sel": ["-4", "9"],
        "breaching": "forever",
        "page": "0",
        "status": "bogus",
        "from": "yesterday",
        "assignee": "bob",
        "sort": "random",
        "mention": "5",
        "embed": "true",
    }
    assert view_params(read_view(junk, 1)) == {"brand": "2", "urgency": "critical", "sel": "9"}


def test_st_query_params_style_objects_with_get_all_are_read() -> None:
    class FakeQueryParams(dict[str, str]):
        def get_all(self, key: str) -> list[str]:
            return {"urgency": ["critical", "high"], "sel": ["541"]}.get(key, [])

    view = read_view(FakeQueryParams(), 1)
    assert view.filters.urgencies == ("critical", "high") and view.selected == (541,)


def test_links_between_the_inbox_and_the_conversation_keep_the_view() -> None:
    view = read_view(parse_qs("urgency=critical&urgency=high&assignee=me&sel=541"), 1)
    assert inbox_link(view) == "/?urgency=critical&urgency=high&assignee=me&sel=541"
    assert inbox_link(InboxView()) == "/"
    link = conversation_link(view, 600)
    assert link == "/conversation?mention=600&urgency=critical&urgency=high&assignee=me"
    back = read_view(parse_qs(urlsplit(link).query), 1)  # the conversation page reads the same view...
    assert same_filters(back, view) and back.selected == ()
    assert conversation_params(view, 600)["mention"] == "600"
    assert inbox_params_after(back, 600)["sel"] == "600"  # ...and comes back with its mention selected


def same_filters(a: InboxView, b: InboxView) -> bool:
    return saved_query(a) == saved_query(b)


def test_saved_query_drops_page_and_selection_and_matches_views() -> None:
    view = read_view(parse_qs("assignee=me&page=4&sel=3"), 1)
    assert saved_query(view) == "assignee=me"
    queries = {ALL_OPEN: "", MY_OPEN: "assignee=me"}
    assert matching_view(view, queries, 1) == MY_OPEN
    assert matching_view(InboxView(), queries, 1) == ALL_OPEN
    assert matching_view(read_view({"urgency": "low"}, 1), queries, 1) is None


# --- next in view -------------------------------------------------------------------------------------------------


def _set(store: Store, mention_id: int, **values: object) -> None:
    with store.transaction() as s:
        s.execute(update(Mention).where(Mention.id == mention_id).values(**values))


def test_next_in_view_follows_the_order_skips_others_claims_and_wraps(store: Store) -> None:
    w = build_world(store)  # priorities 70, 69, ... 65 in id order
    ids, me = w.mention_ids, w.agent.id
    view = InboxFilters(me_id=me)
    with store.transaction() as s:
        triage.open_for_reply(s, w.other_agent, ids[2])  # sam has it: skipped
        triage.open_for_reply(s, w.agent, ids[3])  # mine: not skipped
    with store.read() as s:
        assert [r.id for r in list_queue(s, w.agent, view)] == ids
        assert next_in_view(s, w.agent, view, ids[0]) == ids[1]
        assert next_in_view(s, w.agent, view, ids[1]) == ids[3]
        assert next_in_view(s, w.agent, view, ids[5]) == ids[0]  # wraps to the top
        assert next_in_view(s, w.agent, InboxFilters(sentiments=["negative"]), ids[4]) == ids[0]
        assert next_in_view(s, w.agent, view, 999_999) == ids[0]  # unknown anchor: the top
        assert next_in_view(s, w.agent, InboxFilters(topics=["nothing-like-this"]), ids[0]) is None
        only = InboxFilters(search="flight 1 ")
        assert next_in_view(s, w.agent, only, ids[1]) is None  # never the current one


def test_next_in_view_after_resolving_and_with_ties_nulls_and_other_sorts(store: Store) -> None:
    w = build_world(store)
    ids, me = w.mention_ids, w.agent.id
    _set(store, ids[1], priority=70, sla_due_at=T + timedelta(minutes=5))  # ties ids[0] on priority, due sooner
    _set(store, ids[0], sla_due_at=T + timedelta(minutes=50))
    _set(store, ids[4], priority=None)  # NULL priority sorts last
    with store.transaction() as s:
        triage.set_status(s, w.agent, ids[1], MentionStatus.RESOLVED)  # "Resolve & next": it left the view
    view = InboxFilters(me_id=me)
    with store.read() as s:
        assert [r.id for r in list_queue(s, w.agent, view)] == [ids[0], ids[2], ids[3], ids[5], ids[4]]
        assert next_in_view(s, w.agent, view, ids[1]) == ids[0]  # placed by its own keys: before ids[0]
        assert next_in_view(s, w.agent, view, ids[5]) == ids[4]
        assert next_in_view(s, w.agent, view, ids[4]) == ids[0]
        newest = InboxFilters(sort=SORT_NEWEST)  # created one minute apart in id order
        assert [r.id for r in list_queue(s, w.agent, newest)] == [ids[5], ids[4], ids[3], ids[2], ids[0]]
        assert next_in_view(s, w.agent, newest, ids[3]) == ids[2]
        assert next_in_view(s, w.agent, InboxFilters(sort=SORT_OLDEST), ids[3]) == ids[4]
        due = InboxFilters(sort=SORT_DUE)  # due soonest first, no due time last (then by priority)
        assert [r.id for r in list_queue(s, w.agent, due)][:2] == [ids[0], ids[2]]
        assert next_in_view(s, w.agent, due, ids[0]) == ids[2]


# --- the new filters ----------------------------------------------------------------------------------------------


def test_breaching_within_keeps_open_unanswered_clocks_due_before_the_horizon(store: Store) -> None:
    w = build_world(store)
    ids = w.mention_ids
    clock = {"sla_started_at": T - timedelta(hours=1)}
    _set(store, ids[0], **clock, sla_at_risk_at=T - timedelta(minutes=20), sla_due_at=T - timedelta(minutes=5))  # late
    _set(store, ids[1], **clock, sla_at_risk_at=T + timedelta(minutes=5), sla_due_at=T + timedelta(minutes=20))
    _set(store, ids[2], **clock, sla_at_risk_at=T + timedelta(minutes=30), sla_due_at=T + timedelta(minutes=45))
    _set(store, ids[3], **clock, sla_at_risk_at=T, sla_due_at=T + timedelta(minutes=10), sla_responded_at=T)
    _set(store, ids[4], **clock, sla_at_risk_at=T, sla_due_at=T + timedelta(minutes=10), status=MentionStatus.RESOLVED)
    within = InboxFilters(breaching_within=timedelta(minutes=30), as_of=T)
    with store.read() as s:
        assert [r.id for r in list_queue(s, w.agent, within)] == [ids[0], ids[1]]
        assert count_queue(s, w.agent, within) == 2
        assert count_queue(s, w.agent, InboxFilters(breaching_within=timedelta(hours=1), as_of=T, statuses=())) == 3
        assert (
            count_queue(s, w.agent, InboxFilters(breaching_within=timedelta(hours=1), as_of=T, statuses=["resolved"]))
            == 0
        )


def test_escalation_queue_filter(store: Store) -> None:
    w = build_world(store)
    ids, cfg = w.mention_ids, EscalationConfig()
    with store.transaction() as s:
        escalate(s, w.manager, ids[1], "supervisor", "angry VIP", config=cfg)
        escalate(s, w.manager, ids[3], "legal", "threatens to sue", config=cfg)
    with store.read() as s:
        assert [r.id for r in list_queue(s, w.agent, InboxFilters(escalation_queues=["supervisor"]))] == [ids[1]]
        both = list_queue(s, w.agent, InboxFilters(escalation_queues=["legal", "supervisor"]))
        assert [(r.id, r.escalation_queue) for r in both] == [(ids[1], "supervisor"), (ids[3], "legal")]
        assert count_queue(s, w.agent, InboxFilters(escalation_queues=["security"])) == 0


# --- saved views --------------------------------------------------------------------------------------------------


def _world_with_work(store: Store) -> World:
    """jamie has one, two are unassigned critical, one is due in 10 min, two are in the supervisor's queue."""
    w = build_world(store)
    ids = w.mention_ids
    now = datetime.now(UTC)
    with store.transaction() as s:
        triage.open_for_reply(s, w.agent, ids[0])
        triage.open_for_reply(s, w.other_agent, ids[1])
        escalate(s, w.manager, ids[2], "supervisor", "needs a lead", config=EscalationConfig())
        escalate(s, w.manager, ids[4], "supervisor", "press is asking", config=EscalationConfig())
    for i in (1, 3, 5):
        _set(store, ids[i], urgency="critical")
    _set(
        store,
        ids[5],
        sla_started_at=now - timedelta(hours=1),
        sla_at_risk_at=now - timedelta(minutes=5),
        sla_due_at=now + timedelta(minutes=10),
    )
    return w


def _counts(store: Store, w: World, actor: Actor) -> dict[str, int]:
    with store.read() as s:
        views = list_views(s, actor, EscalationConfig())
        return view_counts(s, actor, {v.name: parse_query(v.query, actor.id).filters for v in views})


def test_builtin_views_with_counts(store: Store) -> None:
    w = _world_with_work(store)
    assert _counts(store, w, w.agent) == {ALL_OPEN: 6, MY_OPEN: 1, UNASSIGNED_CRITICAL: 2, BREACHING: 1}
    maya = _counts(store, w, w.manager)  # a manager works every escalation queue
    assert maya[ESCALATED_TO_ME] == 2 and maya[MY_OPEN] == 0
    names = [v.name for v in builtin_views(w.agent, EscalationConfig())]
    assert ESCALATED_TO_ME not in names  # jamie works no queue
    with store.read() as s:
        capped = view_counts(s, w.agent, {"all": InboxFilters()}, cap=3)
    assert capped == {"all": 4}  # cap + 1: shown as "3+"


def test_own_views_are_saved_renamed_deleted_and_audited(store: Store) -> None:
    w = _world_with_work(store)
    with store.transaction() as s:
        saved = save_view(s, w.agent, "  Critical   mine ", "urgency=critical&assignee=me")
        save_view(s, w.other_agent, "Critical mine", "urgency=critical")  # same name, another person: fine
        view_id = saved.id
    with store.read() as s:
        assert [(v.name, v.query, v.builtin) for v in own_views(s, w.agent)] == [
            ("Critical mine", "urgency=critical&assignee=me", False)
        ]
    counts = _counts(store, w, w.agent)
    assert counts["Critical mine"] == 0  # jamie's one is high
    with store.transaction() as s:
        rename_view(s, w.agent, view_id, "My criticals")
    with pytest.raises(SavedViewError, match="someone else"), store.transaction() as s:
        delete_view(s, w.other_agent, view_id)
    with pytest.raises(SavedViewError, match="someone else"), store.transaction() as s:
        rename_view(s, w.other_agent, view_id, "stolen")
    with store.transaction() as s:
        delete_view(s, w.agent, view_id)
    with store.read() as s:
        assert own_views(s, w.agent) == []
        assert [v.name for v in own_views(s, w.other_agent)] == ["Critical mine"]
        actions = list(
            s.scalars(select(AuditEntry.action).where(AuditEntry.entity_type == "saved_view").order_by(AuditEntry.id))
        )
        assert s.scalar(select(SavedView.id).where(SavedView.id == view_id)) is None
    assert actions == ["saved_view.create", "saved_view.create", "saved_view.rename", "saved_view.delete"]


@pytest.mark.parametrize(
    ("name", "message"),
    [("", "1 to 80"), ("x" * 81, "1 to 80"), ("my open", "built-in"), ("Mine", "already have")],
)
def test_saving_refuses_bad_or_taken_names(sqlite_store: Store, name: str, message: str) -> None:
    w = build_world(sqlite_store)
    with sqlite_store.transaction() as s:
        save_view(s, w.agent, "Mine", "assignee=me")
    with pytest.raises(SavedViewError, match=message), sqlite_store.transaction() as s:
        save_view(s, w.agent, name, "assignee=me")
