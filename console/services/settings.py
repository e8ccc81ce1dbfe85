"""Admin settings: voice rules, SLA policies, templates, users, sources and brand keywords.

Edits made in the console are stored in the ``settings`` table (or their own tables) and take
precedence over ``mentiondesk.toml``.  Every change is admin-only and audited with before/after.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.config import MAX_INTERVAL_S, MIN_INTERVAL_S, TOPIC_VOCABULARY, AppConfig, VoiceRules, format_errors
from console.domain.sla import SlaPolicy, SlaTargets
from console.services import audit
from console.services.auth import revoke_all
from console.services.errors import ServiceError
from console.services.permissions import Actor, Permission, require
from console.services.replies.composer import VARIABLES, TemplateError, template_variables
from console.services.sources import SourceHealthRow, source_health
from console.services.users import create_user
from storage.enums import Role
from storage.models import Brand, Setting, Source, Template, User

VOICE_KEY = "voice.rules"
SLA_KEY = "sla.policies"


class SettingsError(ServiceError, ValueError):
    """A setting that does not validate; the message names the field."""


def _role(value: Role | str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise SettingsError(f"role: {value!r} is not one of {', '.join(r.value for r in Role)}") from None


def _get(session: Session, key: str) -> Any:
    row = session.get(Setting, key)
    return None if row is None else row.value


def _put(session: Session, actor: Actor, key: str, value: Any) -> Any:
    row = session.get(Setting, key)
    before = None if row is None else row.value
    if row is None:
        session.add(Setting(key=key, value=value, updated_by_id=actor.id))
    else:
        row.value, row.updated_by_id = value, actor.id
    audit.record(session, actor, "settings.change", "setting", key, before={"value": before}, after={"value": value})
    return before


def effective_voice_rules(session: Session, cfg: AppConfig) -> list[VoiceRules]:
    """Voice rules edited in the console, else the config file's."""
    stored = _get(session, VOICE_KEY)
    return [VoiceRules.model_validate(r) for r in stored] if stored is not None else list(cfg.voice)


def save_voice_rules(session: Session, actor: Actor, cfg: AppConfig, rules: dict[str, Any]) -> VoiceRules:
    """Validate and store one brand's voice rules (replacing that brand's previous rules)."""
    require(actor, Permission.ADMIN)
    try:
        new = VoiceRules.model_validate(rules)
    except ValidationError as exc:
        raise SettingsError("; ".join(format_errors(exc))) from None
    others = [r for r in effective_voice_rules(session, cfg) if r.brand != new.brand]
    _put(session, actor, VOICE_KEY, [r.model_dump(mode="json") for r in [*others, new]])
    return new


def effective_sla_policy(session: Session, cfg: AppConfig) -> SlaPolicy:
    """The team's SLA policy: targets edited in the console, else the config file's."""
    stored = _get(session, SLA_KEY)
    if stored is None:
        return cfg.sla
    return cfg.sla.model_copy(update={"policies": SlaPolicy(policies=stored).policies})


def _targets_json(t: SlaTargets) -> dict[str, Any]:
    durations = {"first_response": t.first_response, "next_response": t.next_response, "resolution": t.resolution}
    seconds = {name: value.total_seconds() for name, value in durations.items() if value is not None}
    return {"urgency": t.urgency, "business_hours": t.business_hours, **seconds}


def save_sla_policies(session: Session, actor: Actor, policies: Sequence[dict[str, Any]]) -> list[SlaTargets]:
    """Validate and store the targets of every urgency level (durations as ``15m``, ``1h`` or seconds).

    The worker applies them to clocks it starts from then on and to rounds whose urgency changes.
    """
    require(actor, Permission.ADMIN)
    try:
        parsed = SlaPolicy(policies=[SlaTargets.model_validate(p) for p in policies]).policies
    except ValidationError as exc:
        raise SettingsError("; ".join(format_errors(exc))) from None
    _put(session, actor, SLA_KEY, [_targets_json(p) for p in parsed])
    return parsed


def _template_state(t: Template) -> dict[str, Any]:
    return {
        "name": t.name,
        "body": t.body,
        "brand_id": t.brand_id,
        "topics": list(t.topics or []),
        "sentiments": list(t.sentiments or []),
        "active": t.is_active,
    }


def save_template(
    session: Session,
    actor: Actor,
    *,
    template_id: int | None,
    name: str,
    body: str,
    brand_id: int | None = None,
    topics: Sequence[str] = (),
    sentiments: Sequence[str] = (),
    active: bool = True,
) -> Template:
    """Create or edit a saved reply; unknown ``{variables}``, topics or sentiments are refused with the known list.

    Topics are the classifier's (the composer offers a template for the mentions tagged with them).
    """
    require(actor, Permission.ADMIN)
    if not name.strip() or not body.strip():
        raise SettingsError("a template needs a name and a body")
    try:
        unknown = sorted(set(template_variables(body)) - set(VARIABLES))
    except TemplateError as exc:
        raise SettingsError(str(exc)) from None
    if unknown:
        raise SettingsError(f"unknown variable(s): {', '.join(unknown)}; known: {', '.join(VARIABLES)}")
    clean_topics = [t.strip() for t in topics if t.strip()]
    if bad := [t for t in clean_topics if t not in TOPIC_VOCABULARY]:
        raise SettingsError(f"unknown topic(s) {', '.join(bad)}; the classifier tags {', '.join(TOPIC_VOCABULARY)}")
    clean_sentiments = [s.strip() for s in sentiments if s.strip()]
    if bad := [s for s in clean_sentiments if s not in ("negative", "neutral", "positive")]:
        raise SettingsError(f"unknown sentiment(s) {', '.join(bad)}; use negative, neutral or positive")
    template = session.get(Template, template_id) if template_id else Template(created_by_id=actor.id)
    if template is None:
        raise SettingsError(f"template {template_id} does not exist")
    before = _template_state(template) if template_id else None
    template.name, template.body, template.brand_id = name.strip(), body.strip(), brand_id
    template.topics, template.sentiments, template.is_active = clean_topics, clean_sentiments, active
    session.add(template)
    session.flush()
    audit.record(
        session, actor, "template.save", "template", template.id, before=before, after=_template_state(template)
    )
    return template


def add_user(
    session: Session, actor: Actor, username: str, password: str, role: Role | str, display_name: str = ""
) -> User:
    """Create a console user (admins only)."""
    require(actor, Permission.ADMIN)
    user = create_user(session, username.strip(), password, _role(role), display_name.strip())
    audit.record(
        session, actor, "user.create", "user", user.id, after={"username": user.username, "role": user.role.value}
    )
    return user


def update_user(
    session: Session, actor: Actor, user_id: int, *, role: Role | str | None = None, active: bool | None = None
) -> User:
    """Change a user's role or deactivate them; their sessions end so the change applies at once."""
    require(actor, Permission.ADMIN)
    user = session.get(User, user_id)
    if user is None:
        raise SettingsError(f"user {user_id} does not exist")
    new_role = None if role is None else _role(role)
    if user.id == actor.id and (active is False or new_role not in (None, Role.ADMIN)):
        raise SettingsError("you cannot demote or deactivate yourself; ask another admin")
    before = {"role": user.role.value, "active": user.is_active}
    if new_role is not None:
        user.role = new_role
    if active is not None:
        user.is_active = active
    after = {"role": user.role.value, "active": user.is_active}
    if after != before:
        revoke_all(session, user.id)
        audit.record(session, actor, "user.update", "user", user.id, before=before, after=after)
    return user


def update_source(
    session: Session, actor: Actor, source_id: int, *, enabled: bool | None = None, interval_s: int | None = None
) -> Source:
    """Pause, resume or re-time a source."""
    require(actor, Permission.ADMIN)
    source = session.get(Source, source_id)
    if source is None:
        raise SettingsError(f"source {source_id} does not exist")
    if interval_s is not None and not MIN_INTERVAL_S <= interval_s <= MAX_INTERVAL_S:
        raise SettingsError(f"interval: must be from {MIN_INTERVAL_S} s to {MAX_INTERVAL_S:,} s (once a day)")
    before = {"enabled": source.enabled, "interval_s": source.interval_s}
    source.enabled = source.enabled if enabled is None else enabled
    source.interval_s = source.interval_s if interval_s is None else interval_s
    after = {"enabled": source.enabled, "interval_s": source.interval_s}
    if after != before:
        audit.record(session, actor, "source.update", "source", source.id, before=before, after=after)
    return source


def update_brand_keywords(session: Session, actor: Actor, brand_id: int, keywords: Sequence[str]) -> Brand:
    """Replace a brand's listening keywords."""
    require(actor, Permission.ADMIN)
    brand = session.get(Brand, brand_id)
    if brand is None:
        raise SettingsError(f"brand {brand_id} does not exist")
    clean = list(dict.fromkeys(k.strip() for k in keywords if k.strip()))
    before = {"keywords": list(brand.keywords or [])}
    brand.keywords = clean
    audit.record(session, actor, "brand.keywords", "brand", brand.id, before=before, after={"keywords": clean})
    return brand


def list_users(session: Session, actor: Actor) -> list[User]:
    """Every user (admins only)."""
    require(actor, Permission.ADMIN)
    return list(session.scalars(select(User).order_by(User.username)))


@dataclass(frozen=True)
class SourceSetting:
    """A source as the admin edits it: on or off, and how often it is fetched."""

    id: int
    name: str
    enabled: bool
    interval_s: int


@dataclass(frozen=True)
class BrandSetting:
    """A brand and the keywords it listens for."""

    id: int
    name: str
    keywords: tuple[str, ...]


@dataclass(frozen=True)
class TemplateSetting:
    """A saved reply with everything its editor shows."""

    id: int
    name: str
    body: str
    brand_id: int | None
    topics: tuple[str, ...]
    sentiments: tuple[str, ...]
    active: bool


@dataclass(frozen=True)
class SettingsOverview:
    """What the Settings page shows, read in one go so the page itself runs no query."""

    sources: list[SourceSetting]
    health: list[SourceHealthRow]
    brands: list[BrandSetting]
    templates: list[TemplateSetting]
    users: list[User]
    voice: list[VoiceRules]
    sla: list[SlaTargets]


def settings_overview(session: Session, actor: Actor, cfg: AppConfig) -> SettingsOverview:
    """Every setting an admin can change, with the sources' health (admins only)."""
    require(actor, Permission.ADMIN)
    return SettingsOverview(
        sources=[
            SourceSetting(s.id, s.name, s.enabled, s.interval_s)
            for s in session.scalars(select(Source).order_by(Source.name))
        ],
        health=source_health(session),
        brands=[
            BrandSetting(b.id, b.name, tuple(b.keywords or ()))
            for b in session.scalars(select(Brand).order_by(Brand.name))
        ],
        templates=[
            TemplateSetting(
                t.id, t.name, t.body, t.brand_id, tuple(t.topics or ()), tuple(t.sentiments or ()), t.is_active
            )
            for t in session.scalars(select(Template).order_by(Template.name))
        ],
        users=list_users(session, actor),
        voice=effective_voice_rules(session, cfg),
        sla=effective_sla_policy(session, cfg).policies,
    )
