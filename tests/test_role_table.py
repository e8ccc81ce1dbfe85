"""One table of what each role may do, checked against every public service function that takes an actor.

``TABLE`` is the specification: for each service function (``module.function`` under ``console.services``, with
``#case`` where the permission depends on the arguments) the roles allowed to call it.  The test calls each one
as an agent, a manager, an analyst, an admin and no one, on a real store (SQLite and PostgreSQL), each call in a
session that is rolled back: an allowed role must get through without any error, a refused one must get
:class:`PermissionDenied`, and no one :class:`SignInRequired`.  A new public function with an ``actor``
parameter fails :func:`test_every_service_function_that_takes_an_actor_has_a_row` until it has a row, and a
page or panel that calls a store-reading service without an actor fails
:func:`test_pages_call_no_store_reading_service_without_the_actor`.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.orm import Session

import console.services
from console.config import AppConfig, EscalationConfig, load_config
from console.services import alerts, audit, conversation, escalations, explore, inbox, presence, saved_views, triage
from console.services import export as export_service
from console.services import settings as settings_service
from console.services.catalog import sync_config
from console.services.dashboard import reads as dashboard_reads
from console.services.export import read as export_read
from console.services.inbox import InboxFilters
from console.services.mention_query import MentionFilters, columns_for
from console.services.permissions import Actor, PermissionDenied, SignInRequired
from console.services.replies import drafts, outbox, send, suggestions
from console.services.store import Store, open_store
from storage.enums import ReplyState, Role
from storage.models import Base, Mention, Reply, Source
from tests.triage_data import World, build_world

ROOT = Path(__file__).resolve().parents[1]
AGENT, MANAGER, ANALYST, ADMIN = Role.AGENT, Role.MANAGER, Role.ANALYST, Role.ADMIN
ROLES: tuple[Role | None, ...] = (AGENT, MANAGER, ANALYST, ADMIN, None)

EVERYONE = frozenset({AGENT, MANAGER, ANALYST, ADMIN})  # READ: every signed-in role
DESK = frozenset({AGENT, MANAGER, ADMIN})  # TRIAGE and REPLY: the people who answer customers
LEADS = frozenset({MANAGER, ADMIN})  # REASSIGN: hand work to someone else, settle parked replies
ANALYSIS = frozenset({MANAGER, ANALYST, ADMIN})  # EXPORT and DASHBOARDS
ADMINS = frozenset({ADMIN})  # ADMIN and AUDIT

TABLE: dict[str, frozenset[Role]] = {
    # the audit log: the whole log is the admins'; a mention's own activity feed is for whoever may read it
    "audit.browse": ADMINS,
    "audit.known_actions": ADMINS,
    "audit.mention_timeline": EVERYONE,
    # the Inbox
    "inbox.list_queue": EVERYONE,
    "inbox.count_queue": EVERYONE,
    "inbox.count_by_status": EVERYONE,
    "inbox.count_assigned_to": EVERYONE,
    "inbox.next_in_view": EVERYONE,
    "inbox.mention_detail": EVERYONE,
    "inbox.brand_choices": EVERYONE,
    "inbox.platform_choices": EVERYONE,
    "inbox.topic_choices": EVERYONE,
    "inbox.language_choices": EVERYONE,
    "saved_views.builtin_views": EVERYONE,
    "saved_views.own_views": EVERYONE,
    "saved_views.list_views": EVERYONE,
    "saved_views.save_view": EVERYONE,
    "saved_views.rename_view": EVERYONE,
    "saved_views.delete_view": EVERYONE,
    "saved_views.view_counts": EVERYONE,
    # the Conversation
    "conversation.author_history": EVERYONE,
    "conversation.thread_posts": EVERYONE,
    "presence.check_in": EVERYONE,
    "presence.also_viewing": EVERYONE,
    "triage.claim_state": EVERYONE,
    "triage.mention_tags": EVERYONE,
    "escalations.history": EVERYONE,
    "escalations.queues_of": EVERYONE,
    "escalations.recent_escalation_alerts": EVERYONE,
    "replies.drafts.draft_of": EVERYONE,  # one's own draft: kept for someone whose role lost REPLY
    "replies.drafts.discard_draft": EVERYONE,
    "replies.outbox.outbox_replies": EVERYONE,
    # triage and replies
    "triage.open_for_reply": DESK,
    "triage.take_over": DESK,  # a colleague's stale claim: any agent, audited, the first agent is told
    "triage.release#own": DESK,
    "triage.release#someone_elses": LEADS,
    "triage.set_status": DESK,
    "triage.bulk_set_status": DESK,
    "triage.bulk_assign#to_self": DESK,
    "triage.bulk_assign#to_someone_else": LEADS,
    "triage.bulk_tag": DESK,
    "triage.add_note": DESK,
    "triage.correct_label": DESK,
    "escalations.escalate": DESK,  # no one (None) with a trigger is the worker's rule, not a person
    "escalations.end_escalation": DESK,
    "replies.drafts.save_draft": DESK,
    "replies.send.send_reply": DESK,
    "replies.send.retry_reply": DESK,
    "replies.suggestions.suggest_replies": DESK,
    "replies.outbox.settle_reply": LEADS,
    # Explore, exports and dashboards
    "explore.explore_page": EVERYONE,
    "explore.export_bytes": ANALYSIS,
    "export.export_mentions": ANALYSIS,
    "export.matching_rows": ANALYSIS,
    "export.read.mention_batches": ANALYSIS,
    "dashboard.reads.dashboard_bundle": ANALYSIS,
    "alerts.recent_alerts": ANALYSIS,
    # Settings
    "settings.settings_overview": ADMINS,
    "settings.list_users": ADMINS,
    "settings.add_user": ADMINS,
    "settings.update_user": ADMINS,
    "settings.update_source": ADMINS,
    "settings.update_brand_keywords": ADMINS,
    "settings.save_template": ADMINS,
    "settings.save_voice_rules": ADMINS,
    "settings.save_sla_policies": ADMINS,
}

PARTS_TAKING_AN_ACTOR = {
    "audit.record": "appends the audit row of an action its caller already checked (None: the worker)",
    "escalations.close_on_resolve": "ends the escalation inside triage's status change, which checked TRIAGE",
    "replies.outbox.audit_reply": "the audit row of a reply's step; ``actor`` is the label (the worker's too)",
    "permissions.require": "the check itself",
}
"""Functions with an ``actor`` parameter that are steps of a checked service, not services of their own."""

CATALOGUE = {
    "replies.composer.list_templates": "saved replies, no mention data",
    "settings.effective_voice_rules": "the voice rules in force, from config or Settings",
    "sources.source_health": "connector health and read budgets, no mention data",
    "worker_health.workers_overview": "worker heartbeats and outages, no mention data",
    "triage.assignable_users": "staff names for the assign-to picker",
    "users.display_names": "staff names",
    "users.first_names": "staff names",
}
"""Store reads pages may make without an actor: no mention data in them (and ``auth``, which makes the actor)."""


# --- the store every call runs against ------------------------------------------------------------------------


@dataclass(frozen=True)
class Desk:
    """A world with work in every state a service needs: ids by purpose."""

    store: Store
    world: World
    cfg: AppConfig
    free: int  # unclaimed, unescalated: claims, status, notes, tags and replies happen here
    claimed: int  # sam (an agent) has it: takeovers and releasing someone else's claim
    escalated: int  # open escalation to the supervisor
    failed: int  # mention whose reply failed (for a retry)
    failed_reply: int
    parked_reply: int  # needs attention: a lead settles it
    source_id: int
    views: dict[int, int]  # user id -> one saved view of theirs
    folder: Path

    def actor(self, role: Role | None) -> Actor | None:
        """jamie (agent), maya (manager), alex (analyst), admin, or no one."""
        w = self.world
        return {AGENT: w.agent, MANAGER: w.manager, ANALYST: w.analyst, ADMIN: w.admin, None: None}[role]


def _build(store: Store, folder: Path) -> Desk:
    cfg = load_config()
    with store.transaction() as s:
        sync_config(s, cfg)
    w = build_world(store, mentions=6)
    free, claimed, escalated, failed, parked, answered = w.mention_ids
    with store.transaction() as s:
        triage.open_for_reply(s, w.other_agent, claimed)
        escalations.escalate(s, w.manager, escalated, "supervisor", "needs a lead", config=EscalationConfig())
        s.execute(update(Mention).where(Mention.id == failed).values(assignee_id=w.other_agent.id))
        replies = {
            ReplyState.FAILED: Reply(
                mention_id=failed, text="Sorry! ^SL", state=ReplyState.FAILED, idempotency_key="f"
            ),
            ReplyState.NEEDS_ATTENTION: Reply(
                mention_id=parked, text="On it ^SL", state=ReplyState.NEEDS_ATTENTION, idempotency_key="p"
            ),
            ReplyState.SENT: Reply(
                mention_id=answered, text="So sorry about the delay ^JK", state=ReplyState.SENT, idempotency_key="s"
            ),
        }
        s.add_all(replies.values())
        s.flush()
        views = {
            a.id: saved_views.save_view(s, a, f"Mine {a.username}", "urgency=high").id
            for a in (w.agent, w.manager, w.analyst, w.admin)
        }
        source_id = s.scalars(select(Source.id).order_by(Source.id)).first()
        assert source_id is not None
    return Desk(
        store,
        w,
        cfg,
        free,
        claimed,
        escalated,
        failed,
        replies[ReplyState.FAILED].id,
        replies[ReplyState.NEEDS_ATTENTION].id,
        source_id,
        views,
        folder,
    )


@pytest.fixture(scope="module", params=["sqlite", pytest.param("pg", marks=pytest.mark.pg)])
def desk(
    request: pytest.FixtureRequest, sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    """One world per database for the whole table: every call is rolled back, so none sees another's work."""
    folder = tmp_path_factory.mktemp("role_table")
    if request.param == "sqlite":
        shutil.copy(sqlite_template, folder / "store.db")
        store = open_store(f"sqlite:///{folder / 'store.db'}")
    else:
        store = open_store(request.getfixturevalue("pg_url"))
    try:
        yield _build(store, folder)
    finally:
        if request.param == "pg":  # leave the shared schema empty for the next module, as pg_store does
            with store.engine.begin() as conn:
                conn.execute(text("SET session_replication_role = replica"))
                conn.execute(text(f"TRUNCATE {', '.join(t.name for t in Base.metadata.sorted_tables)} CASCADE"))
                conn.execute(text("SET session_replication_role = DEFAULT"))
        store.dispose()


# --- how each row is called -------------------------------------------------------------------------------------

Call = Callable[[Session, Any, Desk], object]
NOW = datetime.now(UTC)
WEEK_AGO = NOW - timedelta(days=7)


def _holding(s: Session, a: Actor | None, mention_id: int) -> int:
    """The mention, claimed by ``a`` (straight in the store, so no service's own check is involved)."""
    if a is not None:
        s.execute(update(Mention).where(Mention.id == mention_id).values(assignee_id=a.id, assigned_at=NOW))
    return mention_id


def _mention(s: Session, mention_id: int) -> Mention:
    found = s.get(Mention, mention_id)
    assert found is not None
    return found


def _policies(cfg: AppConfig) -> list[dict[str, Any]]:
    return [{"urgency": p.urgency, "first_response": "1h"} for p in cfg.sla.policies]


CALLS: dict[str, Call] = {
    "audit.browse": lambda s, a, d: audit.browse(s, a, audit.AuditFilters()),
    "audit.known_actions": lambda s, a, d: audit.known_actions(s, a),
    "audit.mention_timeline": lambda s, a, d: audit.mention_timeline(s, a, d.escalated),
    "inbox.list_queue": lambda s, a, d: inbox.list_queue(s, a, InboxFilters()),
    "inbox.count_queue": lambda s, a, d: inbox.count_queue(s, a, InboxFilters()),
    "inbox.count_by_status": lambda s, a, d: inbox.count_by_status(s, a, InboxFilters()),
    "inbox.count_assigned_to": lambda s, a, d: inbox.count_assigned_to(s, a),
    "inbox.next_in_view": lambda s, a, d: inbox.next_in_view(s, a, InboxFilters(), d.free),
    "inbox.mention_detail": lambda s, a, d: inbox.mention_detail(s, a, d.free),
    "inbox.brand_choices": lambda s, a, d: inbox.brand_choices(s, a),
    "inbox.platform_choices": lambda s, a, d: inbox.platform_choices(s, a),
    "inbox.topic_choices": lambda s, a, d: inbox.topic_choices(s, a),
    "inbox.language_choices": lambda s, a, d: inbox.language_choices(s, a),
    "saved_views.builtin_views": lambda s, a, d: saved_views.builtin_views(a, d.cfg.escalation),
    "saved_views.own_views": lambda s, a, d: saved_views.own_views(s, a),
    "saved_views.list_views": lambda s, a, d: saved_views.list_views(s, a, d.cfg.escalation),
    "saved_views.save_view": lambda s, a, d: saved_views.save_view(s, a, "Role table", "urgency=critical"),
    "saved_views.rename_view": lambda s, a, d: saved_views.rename_view(s, a, d.views.get(a and a.id, 0), "Renamed"),
    "saved_views.delete_view": lambda s, a, d: saved_views.delete_view(s, a, d.views.get(a and a.id, 0)),
    "saved_views.view_counts": lambda s, a, d: saved_views.view_counts(s, a, {"all": InboxFilters()}),
    "conversation.author_history": lambda s, a, d: conversation.author_history(
        s, a, _mention(s, d.free).author_id, exclude_id=d.free
    ),
    "conversation.thread_posts": lambda s, a, d: conversation.thread_posts(s, a, _mention(s, d.free)),
    "presence.check_in": lambda s, a, d: presence.check_in(s, a, d.free),
    "presence.also_viewing": lambda s, a, d: presence.also_viewing(s, a, d.free),
    "triage.claim_state": lambda s, a, d: triage.claim_state(s, a, d.claimed),
    "triage.mention_tags": lambda s, a, d: triage.mention_tags(s, a, d.free),
    "escalations.history": lambda s, a, d: escalations.history(s, a, d.escalated, EscalationConfig()),
    "escalations.queues_of": lambda s, a, d: escalations.queues_of(a, EscalationConfig()),
    "escalations.recent_escalation_alerts": lambda s, a, d: escalations.recent_escalation_alerts(
        s, a, WEEK_AGO, ["supervisor"]
    ),
    "replies.drafts.draft_of": lambda s, a, d: drafts.draft_of(s, a, d.free),
    "replies.drafts.discard_draft": lambda s, a, d: drafts.discard_draft(s, a, d.free),
    "replies.outbox.outbox_replies": lambda s, a, d: outbox.outbox_replies(s, a),
    "triage.open_for_reply": lambda s, a, d: triage.open_for_reply(s, a, d.free),
    "triage.take_over": lambda s, a, d: triage.take_over(s, a, d.claimed),
    "triage.release#own": lambda s, a, d: triage.release(s, a, _holding(s, a, d.free)),
    "triage.release#someone_elses": lambda s, a, d: triage.release(s, a, d.claimed),
    "triage.set_status": lambda s, a, d: triage.set_status(s, a, d.free, "pending"),
    "triage.bulk_set_status": lambda s, a, d: triage.bulk_set_status(s, a, [d.free, d.claimed], "spam"),
    "triage.bulk_assign#to_self": lambda s, a, d: triage.bulk_assign(s, a, [d.free], a and a.id),
    "triage.bulk_assign#to_someone_else": lambda s, a, d: triage.bulk_assign(s, a, [d.free], d.world.other_agent.id),
    "triage.bulk_tag": lambda s, a, d: triage.bulk_tag(s, a, [d.free], "role table"),
    "triage.add_note": lambda s, a, d: triage.add_note(s, a, d.free, "Checked with the gate."),
    "triage.correct_label": lambda s, a, d: triage.correct_label(s, a, d.free, "sentiment", "neutral"),
    "escalations.escalate": lambda s, a, d: escalations.escalate(
        s, a, d.free, "legal", "threatens to sue", config=EscalationConfig()
    ),
    "escalations.end_escalation": lambda s, a, d: escalations.end_escalation(s, a, d.escalated, hand_back=False),
    "replies.drafts.save_draft": lambda s, a, d: drafts.save_draft(s, a, d.free, "Sorry about that"),
    "replies.send.send_reply": lambda s, a, d: send.send_reply(
        s, a, _holding(s, a, d.free), send.Draft("Sorry for the wait, we are on it.", f"rt-{uuid.uuid4()}"), None
    ),
    "replies.send.retry_reply": lambda s, a, d: (_holding(s, a, d.failed), send.retry_reply(s, a, d.failed_reply)),
    "replies.suggestions.suggest_replies": lambda s, a, d: suggestions.suggest_replies(s, a, _mention(s, d.free)),
    "replies.outbox.settle_reply": lambda s, a, d: outbox.settle_reply(s, a, d.parked_reply, posted=False),
    "explore.explore_page": lambda s, a, d: explore.explore_page(s, a, MentionFilters()),
    "explore.export_bytes": lambda s, a, d: explore.export_bytes(s, a, MentionFilters(), "csv"),
    "export.export_mentions": lambda s, a, d: export_service.export_mentions(
        s, a, MentionFilters(), "csv", d.folder / f"{uuid.uuid4()}.csv"
    ),
    "export.matching_rows": lambda s, a, d: export_service.matching_rows(s, a, MentionFilters()),
    "export.read.mention_batches": lambda s, a, d: list(
        export_read.mention_batches(s, a, MentionFilters(), columns_for())
    ),
    "dashboard.reads.dashboard_bundle": lambda s, a, d: dashboard_reads.dashboard_bundle(
        s, a, dashboard_reads.DashboardFilters(WEEK_AGO, NOW + timedelta(hours=1), now=NOW)
    ),
    "alerts.recent_alerts": lambda s, a, d: alerts.recent_alerts(s, a, WEEK_AGO),
    "settings.settings_overview": lambda s, a, d: settings_service.settings_overview(s, a, d.cfg),
    "settings.list_users": lambda s, a, d: settings_service.list_users(s, a),
    "settings.add_user": lambda s, a, d: settings_service.add_user(s, a, "newcomer", "long enough pw", Role.AGENT),
    "settings.update_user": lambda s, a, d: settings_service.update_user(s, a, d.world.other_agent.id, active=True),
    "settings.update_source": lambda s, a, d: settings_service.update_source(s, a, d.source_id, interval_s=600),
    "settings.update_brand_keywords": lambda s, a, d: settings_service.update_brand_keywords(
        s, a, d.world.brand_id, ["skyline"]
    ),
    "settings.save_template": lambda s, a, d: settings_service.save_template(
        s, a, template_id=None, name="Role table", body="Hi {author_name}"
    ),
    "settings.save_voice_rules": lambda s, a, d: settings_service.save_voice_rules(
        s, a, d.cfg, d.cfg.voice[0].model_dump(mode="json")
    ),
    "settings.save_sla_policies": lambda s, a, d: settings_service.save_sla_policies(s, a, _policies(d.cfg)),
}


def _outcome(desk: Desk, key: str, role: Role | None) -> str:
    """``allowed``, ``denied`` or ``sign in``, or what else went wrong; the session is always rolled back."""
    with desk.store.read() as session:
        if session.get_bind().dialect.name == "sqlite":
            # pysqlite opens a transaction only at the first write, so a service's SAVEPOINT would start (and its
            # RELEASE commit) one of its own: begin here, and the rollback below takes back everything.
            session.connection().exec_driver_sql("BEGIN")
        try:
            CALLS[key](session, desk.actor(role), desk)
        except SignInRequired:
            return "sign in"
        except PermissionDenied:
            return "denied"
        except Exception as exc:  # noqa: BLE001 - an allowed call must succeed outright; say how it did not
            return f"{type(exc).__name__}: {exc}"
        finally:
            session.rollback()
    return "allowed"


@pytest.mark.parametrize("key", sorted(TABLE))
def test_each_role_gets_what_the_table_says(desk: Desk, key: str) -> None:
    expected = {r: "allowed" if r in TABLE[key] else "sign in" if r is None else "denied" for r in ROLES}
    got = {r: _outcome(desk, key, r) for r in ROLES}
    assert got == expected, key


# --- the table covers every service function, and the pages pass the actor --------------------------------------


def _service_functions() -> dict[str, Callable[..., Any]]:
    """Every public function defined in a ``console.services`` module, by ``module.function`` under it."""
    prefix = "console.services."
    found: dict[str, Callable[..., Any]] = {}
    for info in pkgutil.walk_packages(console.services.__path__, prefix):
        module = importlib.import_module(info.name)
        for name, fn in inspect.getmembers(module, inspect.isfunction):
            if not name.startswith("_") and fn.__module__ == info.name:
                found[f"{info.name.removeprefix(prefix)}.{name}"] = fn
    return found


def test_every_service_function_that_takes_an_actor_has_a_row() -> None:
    with_actor = {k for k, fn in _service_functions().items() if "actor" in inspect.signature(fn).parameters}
    rows = {k.split("#")[0] for k in TABLE}
    assert with_actor - set(PARTS_TAKING_AN_ACTOR) - rows == set(), "add these to TABLE and CALLS"
    assert rows - with_actor == set(), "rows for functions that no longer take an actor"
    assert set(PARTS_TAKING_AN_ACTOR) <= with_actor
    assert set(CALLS) == set(TABLE)


def _referenced(path: Path) -> set[str]:
    """``module.function`` keys of the service functions a page or panel file names."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    modules: dict[str, str] = {}
    names: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("console.services"):
            for alias in node.names:
                target = getattr(importlib.import_module(node.module or ""), alias.name)
                if inspect.ismodule(target):
                    modules[alias.asname or alias.name] = target.__name__
                else:
                    names.add((node.module or "", alias.name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in modules:
            names.add((modules[node.value.id], node.attr))
    keys = set()
    for module, name in names:
        fn = getattr(importlib.import_module(module), name, None)
        if inspect.isfunction(fn) and fn.__module__.startswith("console.services."):
            keys.add(f"{fn.__module__.removeprefix('console.services.')}.{fn.__name__}")
    return keys


def test_pages_call_no_store_reading_service_without_the_actor() -> None:
    functions = _service_functions()
    files = sorted([*(ROOT / "console" / "app_pages").glob("*.py"), *(ROOT / "console" / "ui").glob("*.py")])
    used: set[str] = set()
    missing: dict[str, list[str]] = {}
    for path in files:
        for key in _referenced(path):
            used.add(key)
            params = inspect.signature(functions[key]).parameters
            reads_the_store = "session" in params or "store" in params
            if reads_the_store and "actor" not in params and key not in CATALOGUE and not key.startswith("auth."):
                missing.setdefault(key, []).append(path.name)
    assert missing == {}, "pages call these without the actor: give them one, or list them in CATALOGUE"
    assert set(CATALOGUE) <= used, "CATALOGUE lists functions no page calls any more"
    assert {"inbox.list_queue", "explore.export_bytes", "dashboard.reads.dashboard_bundle"} <= used  # it sees calls


def test_the_command_line_acts_as_an_audited_system_admin(sqlite_store: Store) -> None:
    from console.commands import cli_actor

    actor = cli_actor()
    assert actor.is_system and actor.role is Role.ADMIN and actor.label == "system:cli"
    with sqlite_store.transaction() as s:
        entry = audit.record(s, actor, "export.run", "mention")
        s.flush()
        assert entry.user_id is None and entry.actor == "system:cli"  # no user row stands behind it
