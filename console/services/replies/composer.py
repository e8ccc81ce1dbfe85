"""The reply composer: saved replies (templates), their variables, and each platform's length limit."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from console.config import VoiceRules
from console.services.errors import ServiceError
from console.services.permissions import Actor
from storage.models import Author, Mention, Template

PLATFORM_LIMITS: dict[str, int] = {"x": 280, "mastodon": 500, "bluesky": 300, "reddit": 10_000, "demo": 280}
"""Characters a reply may have on each platform (the demo network behaves like X)."""

VARIABLES: dict[str, str] = {
    "author_name": "the customer's display name (or handle)",
    "handle": "the customer's @handle",
    "agent_name": "your full name",
    "agent_first_name": "your first name",
    "agent_initials": "your initials, e.g. JK",
    "sign_off": "your sign-off in the brand's style, e.g. ^JK or -Becky",
    "brand": "the brand's name",
    "case_id": "this mention's case number, e.g. MD-1042",
    "platform": "the network's name",
}


class TemplateError(ServiceError, ValueError):
    """A template uses a variable the composer does not know, or is malformed."""


def platform_limit(platform: str) -> int | None:
    """The reply length limit on ``platform``, if it has one."""
    return PLATFORM_LIMITS.get(platform)


def case_id(mention_id: int) -> str:
    """The case number agents and customers quote."""
    return f"MD-{mention_id}"


def initials(name: str) -> str:
    """``Jamie Kerr`` -> ``JK``; a single name gives its first two letters."""
    parts = [p for p in name.replace("-", " ").split() if p[:1].isalpha()]
    if len(parts) >= 2:
        return (parts[0][0] + parts[-1][0]).upper()
    return (parts[0][:2] if parts else "??").upper()


def sign_off(example: str | None, agent_name: str) -> str:
    """The agent's sign-off shaped like the brand's example: ``^JK`` and ``/PB`` take initials, ``-Becky`` a first name.

    Shared templates end with ``{sign_off}`` so one text fits every brand's voice rules.
    """
    if not example:
        return initials(agent_name)
    rest = example.lstrip(string.punctuation + " ")
    prefix = example[: len(example) - len(rest)]
    word = rest[:1].isupper() and rest[1:].islower()
    return prefix + (agent_name.split()[0] if word else initials(agent_name))


def agent_sign_off(agent: Actor, rules: VoiceRules | None) -> str | None:
    """The sign-off this agent must end a reply with under the brand's rules (``None``: the brand has none).

    Without an example of the brand's shape it is the agent's initials, which their sign-off must contain.
    """
    if rules is None or not rules.sign_off:
        return None
    return sign_off(rules.sign_off_example, agent.display_name or agent.username)


def personalise(text: str, *, old_names: Sequence[str], values: Mapping[str, str], sign_off_pattern: str | None) -> str:
    """Fit a past reply to this conversation: this customer's name and this agent's sign-off.

    A suggested reply was written to someone else by someone else; sending "-Becky" under Jamie's name
    would break the brand voice.
    """
    out = text
    for name in sorted({n for n in old_names if n and len(n) > 1}, key=len, reverse=True):
        out = re.sub(rf"(?<![\w@]){re.escape(name)}(?!\w)", values.get("author_name", "there"), out)
    if sign_off_pattern and (found := re.search(sign_off_pattern, out.rstrip())):
        out = out.rstrip()[: found.start()].rstrip() + " " + values.get("sign_off", "")
    return out.strip()


def fits(template: Template, topics: Sequence[str], sentiment: str | None) -> tuple[bool, bool]:
    """Whether a template is for one of the mention's topics, and for its mood (no moods listed: any)."""
    on_topic = bool(set(topics) & set(template.topics or []))
    moods = list(template.sentiments or [])
    return on_topic, not moods or sentiment in moods


def preselect(templates: Sequence[Template], topics: Sequence[str], sentiment: str | None) -> Template | None:
    """The saved reply to offer first: on one of the mention's topics and right for its mood, else none."""
    return next((t for t in templates if all(fits(t, topics, sentiment))), None)


def variables_for(
    mention: Mention, author: Author | None, brand: str | None, agent: Actor, sign_off_example: str | None = None
) -> dict[str, str]:
    """Values for every variable, for this mention and this agent."""
    agent_name = agent.display_name or agent.username
    handle = f"@{author.handle}" if author else ""
    return {
        "author_name": (author.display_name or author.handle) if author else "there",
        "handle": handle,
        "agent_name": agent_name,
        "agent_first_name": agent_name.split()[0],
        "agent_initials": initials(agent_name),
        "sign_off": sign_off(sign_off_example, agent_name),
        "brand": brand or "",
        "case_id": case_id(mention.id),
        "platform": mention.platform,
    }


def template_variables(body: str) -> list[str]:
    """The variable names a template uses, in order."""
    try:
        return [name for _, name, _, _ in string.Formatter().parse(body) if name is not None]
    except ValueError as exc:
        raise TemplateError(f"malformed template: {exc}") from None


def render(body: str, values: Mapping[str, str]) -> str:
    """Fill a template's variables; unknown ones are an error that names them, never silently blank."""
    unknown = sorted({v for v in template_variables(body) if v not in values})
    if unknown:
        raise TemplateError(
            f"unknown variable(s) {', '.join('{' + v + '}' for v in unknown)}; "
            f"known: {', '.join('{' + v + '}' for v in VARIABLES)}"
        )
    if any(not name.isidentifier() for name in template_variables(body)):
        raise TemplateError("variables must be plain names such as {author_name}")
    return body.format_map(dict(values))


@dataclass(frozen=True)
class CharCount:
    """Live count against the platform's limit."""

    used: int
    limit: int | None

    @property
    def left(self) -> int | None:
        """Characters still available (negative when over)."""
        return None if self.limit is None else self.limit - self.used

    @property
    def over(self) -> bool:
        """True when the draft is too long for the platform."""
        return self.limit is not None and self.used > self.limit

    def words(self) -> str:
        """``212 / 280 characters (68 left)``."""
        if self.limit is None:
            return f"{self.used} characters"
        tail = f"{-self.left} over" if self.over else f"{self.left} left"  # type: ignore[operator]
        return f"{self.used} / {self.limit} characters ({tail})"


def char_count(text: str, platform: str) -> CharCount:
    """Count a draft against its platform's limit."""
    return CharCount(len(text), platform_limit(platform))


def list_templates(
    session: Session,
    *,
    brand_id: int | None,
    topics: Sequence[str] = (),
    search: str = "",
    topic_only: bool = False,
    sentiment: str | None = None,
) -> list[Template]:
    """Active templates for the brand (or for every brand), matching ``search``; the best fits first.

    Templates on the mention's topics and right for its sentiment come first, then on-topic ones, then the rest.
    """
    query = select(Template).where(Template.is_active, or_(Template.brand_id.is_(None), Template.brand_id == brand_id))
    if search.strip():
        term = f"%{search.strip()}%"
        query = query.where(or_(Template.name.ilike(term), Template.body.ilike(term)))
    templates = list(session.scalars(query.order_by(Template.name)))
    if topic_only and topics:
        templates = [t for t in templates if fits(t, topics, sentiment)[0]]

    def rank(t: Template) -> tuple[bool, bool, str]:
        on_topic, mood = fits(t, topics, sentiment)
        return not (on_topic and mood), not on_topic, t.name

    return sorted(templates, key=rank)
