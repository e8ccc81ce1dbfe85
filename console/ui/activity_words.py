"""The activity feed in words: each audit entry about a mention as a sentence a colleague would say."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from storage.models import AuditEntry

REPLY_SENTENCES = {
    "reply.queued": "{who} queued a reply",
    "reply.sent": "the reply was posted",
    "reply.recovered": "the reply was found on the network after the worker restarted",
    "reply.retry": "posting the reply failed for now; it will be retried ({error})",
    "reply.failed": "the reply could not be posted: {error}",
    "reply.needs_attention": "the reply needs a human check: {error}",
    "reply.voice_override": "{who} sent despite the voice warnings ({warnings})",
}


def _who(entry: AuditEntry, names: Mapping[str, str]) -> str:
    """``Jamie``, ``the worker`` or ``the system``, from the entry's actor label."""
    label = entry.actor or "system"
    if label.startswith("user:"):
        username = label.removeprefix("user:")
        return names.get(username, username)
    return {"worker": "the worker", "system": "the system"}.get(label, label)


def _get(data: dict[str, Any] | None, key: str) -> Any:
    return (data or {}).get(key)


def _mention_sentence(entry: AuditEntry, who: str) -> str | None:
    before, after = entry.before, entry.after
    table: dict[str, Callable[[], str]] = {
        "mention.claim": lambda: f"{who} claimed it",
        "mention.takeover": lambda: f"{who} took over from {_get(before, 'assignee') or 'nobody'}",
        "mention.release": lambda: f"{who} gave it back to the queue",
        "mention.assign": lambda: (
            f"{who} assigned it to {_get(after, 'assignee')}" if _get(after, "assignee") else f"{who} unassigned it"
        ),
        "mention.status": lambda: _status(who, before, after),
        "mention.tag": lambda: f"{who} tagged it “{_get(after, 'tag')}”",
        "mention.note": lambda: f"{who} added a note",
        "mention.label": lambda: _label(who, before, after),
        "mention.escalate": lambda: _escalation(who, before, after),
        "mention.de_escalate": lambda: f"{who} de-escalated it from {_get(before, 'queue')}" + _note(after),
        "mention.hand_back": lambda: f"{who} handed it back from {_get(before, 'queue')}" + _note(after),
    }
    make = table.get(entry.action)
    return make() if make else None


def _status(who: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    new, old = _get(after, "status"), _get(before, "status")
    verbs = {
        "resolved": "resolved it",
        "ignored": "ignored it",
        "spam": "marked it as spam",
        "pending": "set it pending",
    }
    if old in ("resolved", "ignored", "spam") and new in ("new", "open", "pending"):
        return f"{who} reopened it" + (" (a new SLA clock started)" if _get(after, "sla_due_at") else "")
    return f"{who} {verbs.get(new, f'set the status to {new}')}"


def _label(who: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    field = next(iter(after or {}), "label")
    return f"{who} corrected {field} from {_get(before, field) or 'none'} to {_get(after, field)}"


def _escalation(who: str, before: dict[str, Any] | None, after: dict[str, Any] | None) -> str:
    queue = str(_get(after, "queue") or "?").replace("_", " ")
    moved = f" (from {str(_get(before, 'queue')).replace('_', ' ')})" if _get(before, "queue") else ""
    return f"{who} escalated it to {queue}{moved}: {_get(after, 'reason')}"


def _note(after: dict[str, Any] | None) -> str:
    note = _get(after, "note")
    return f": {note}" if note else ""


def _reply_sentence(entry: AuditEntry, who: str) -> str | None:
    template = REPLY_SENTENCES.get(entry.action)
    if entry.action == "reply.retry" and (entry.actor or "").startswith("user:"):
        return f"{who} queued the failed reply again"
    if entry.action == "reply.settled":
        state = _get(entry.after, "state")
        return f"{who} checked the parked reply: " + ("it was posted" if state == "sent" else "it was not posted")
    if template is None:
        return None
    warnings = ", ".join(str(w).replace("_", " ") for w in _get(entry.after, "warnings") or [])
    return template.format(who=who, error=_get(entry.after, "last_error") or "no reason given", warnings=warnings)


def describe(entry: AuditEntry, names: Mapping[str, str]) -> str:
    """One sentence for an audit entry, starting with a capital; unknown actions still read in words."""
    who = _who(entry, names)
    sentence = _mention_sentence(entry, who) if entry.entity_type == "mention" else _reply_sentence(entry, who)
    if sentence is None:
        sentence = f"{who}: {entry.action.replace('.', ' ').replace('_', ' ')}"
    return sentence[:1].upper() + sentence[1:]
