"""Brand-voice checks run on every reply before it is sent.

Each :class:`Finding` says what is wrong and how to fix it.  A ``blocking`` finding stops the
Send; a ``warning`` asks the agent to confirm.  Personal data is blocking: it belongs in a DM.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from console.config import VoiceRules

_EMOJI_BASE = (
    "[\U0001f1e6-\U0001f1ff\U0001f300-\U0001f3fa\U0001f400-\U0001faff\u2600-\u27bf\u2b00-\u2bff\U0001f000-\U0001f2ff]"
)
_EMOJI_TAIL = "[\U0001f3fb-\U0001f3ff]?\ufe0f?"
EMOJI = re.compile(f"{_EMOJI_BASE}{_EMOJI_TAIL}(?:\u200d{_EMOJI_BASE}{_EMOJI_TAIL})*")
"""One emoji, with its skin tone and zero-width-joined parts counted once."""
EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}", re.IGNORECASE)
PHONE = re.compile(r"(?<![\w-])\+?\d[\d ()./-]{6,}\d(?![\w-])")
REFERENCE = re.compile(
    r"\b(?:order|account|acct|booking|confirmation|membership|card|iban|policy|ticket)"
    r"(?:\s+(?:number|no\.?|num|ref(?:erence)?|id))?\s*[:#]?\s*([A-Z0-9][A-Z0-9-]{4,})\b",
    re.IGNORECASE,
)
ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")
APOLOGY = re.compile(r"\b(sorry|apolog\w*|regret)\b", re.IGNORECASE)
SHOUTED_WORD = re.compile(r"\b[A-Z]{4,}\b")


class Severity(StrEnum):
    """Whether a finding stops the Send or asks for confirmation."""

    BLOCKING = "blocking"
    WARNING = "warning"


@dataclass(frozen=True)
class Finding:
    """One problem with a draft: what is wrong, how to fix it, and whether it blocks."""

    rule: str
    severity: Severity
    problem: str
    fix: str

    @property
    def blocking(self) -> bool:
        """True when this finding stops the Send."""
        return self.severity is Severity.BLOCKING


def _banned(text: str, rules: VoiceRules) -> list[Finding]:
    lowered = text.casefold()
    return [
        Finding(
            "banned_phrase",
            Severity.BLOCKING,
            f'uses the banned phrase "{phrase}"',
            f'remove or reword "{phrase}"; it is on the brand\'s banned list',
        )
        for phrase in rules.banned_phrases
        if phrase.casefold() in lowered
    ]


def _sign_off(text: str, rules: VoiceRules, expected: str | None) -> list[Finding]:
    """The reply ends with the brand's sign-off, and with the sending agent's own (not a colleague's)."""
    if not rules.sign_off:
        return []
    found = re.search(rules.sign_off, text.rstrip())
    if found is None:
        example = expected or rules.sign_off_example
        shown = f' "{example}"' if example else ""
        return [
            Finding(
                "sign_off",
                Severity.BLOCKING,
                "the reply does not end with the brand's sign-off",
                f"end the reply with your sign-off{shown}",
            )
        ]
    if expected and expected.strip() not in found.group(0):
        return [
            Finding(
                "sign_off",
                Severity.BLOCKING,
                f'the reply is signed "{found.group(0).strip()}", not by you',
                f'sign it as yourself: end with "{expected}"',
            )
        ]
    return []


def _emoji(text: str, rules: VoiceRules) -> list[Finding]:
    count = len(EMOJI.findall(text))
    if rules.emoji == "none" and count:
        return [Finding("emoji", Severity.BLOCKING, f"uses {count} emoji; this brand uses none", "remove the emoji")]
    if rules.emoji == "limit" and count > rules.max_emoji:
        return [
            Finding(
                "emoji",
                Severity.WARNING,
                f"uses {count} emoji; the brand limit is {rules.max_emoji}",
                f"keep at most {rules.max_emoji}",
            )
        ]
    return []


def _length(text: str, rules: VoiceRules, platform_limit: int | None) -> list[Finding]:
    limits = [(n, why) for n, why in ((rules.max_length, "brand"), (platform_limit, "platform")) if n]
    for limit, why in sorted(limits, key=lambda item: item[0]):
        if len(text) > limit:
            return [
                Finding(
                    "max_length",
                    Severity.BLOCKING,
                    f"{len(text)} characters; the {why} limit is {limit}",
                    f"shorten it by {len(text) - limit} characters, or move the detail to a DM",
                )
            ]
    return []


def _shouting(text: str, rules: VoiceRules) -> list[Finding]:
    if not rules.no_shouting:
        return []
    letters = [c for c in text if c.isalpha()]
    loud = SHOUTED_WORD.findall(text)
    mostly_caps = len(letters) >= 12 and sum(c.isupper() for c in letters) / len(letters) > 0.6
    if not mostly_caps and len(loud) < 2:
        return []
    return [
        Finding(
            "shouting",
            Severity.WARNING,
            f"reads as shouting ({', '.join(loud[:3]) or 'mostly capitals'})",
            "write in sentence case; use words, not capitals, for emphasis",
        )
    ]


def _apology(text: str, rules: VoiceRules, sentiment: str | None) -> list[Finding]:
    if not rules.apology_on_negative or sentiment != "negative" or APOLOGY.search(text):
        return []
    return [
        Finding(
            "apology",
            Severity.WARNING,
            "the customer is unhappy and the reply does not apologise",
            'acknowledge the problem, e.g. "We\'re sorry about this"',
        )
    ]


def _phone_like(match: str) -> bool:
    digits = sum(c.isdigit() for c in match)
    return digits >= 7 and not ISO_DATE.fullmatch(match.strip())


def personal_data(text: str) -> list[str]:
    """What looks like personal data in ``text``: emails, phone numbers, order or account numbers."""
    found = [f"email {m}" for m in EMAIL.findall(text)]
    found += [f"phone number {m.strip()}" for m in PHONE.findall(text) if _phone_like(m)]
    found += [f"reference {m}" for m in REFERENCE.findall(text) if any(c.isdigit() for c in m)]
    return found


def _personal(text: str, rules: VoiceRules) -> list[Finding]:
    if not rules.block_personal_data:
        return []
    found = personal_data(text)
    if not found:
        return []
    return [
        Finding(
            "personal_data",
            Severity.BLOCKING,
            f"a public reply would expose {', '.join(found[:3])}",
            "remove it and ask the customer to continue in a DM",
        )
    ]


def check_reply(
    text: str,
    rules: VoiceRules | None,
    *,
    sentiment: str | None = None,
    platform_limit: int | None = None,
    sign_off: str | None = None,
) -> list[Finding]:
    """Every finding for a draft, blocking ones first; ``sign_off`` is the sending agent's own."""
    rules = rules or VoiceRules()
    findings = (
        _banned(text, rules)
        + _personal(text, rules)
        + _length(text, rules, platform_limit)
        + _sign_off(text, rules, sign_off)
        + _emoji(text, rules)
        + _shouting(text, rules)
        + _apology(text, rules, sentiment)
    )
    return sorted(findings, key=lambda f: not f.blocking)


def rules_for(all_rules: list[VoiceRules], brand: str | None) -> VoiceRules:
    """The brand's rules, else the brand-less default rules, else the built-in defaults."""
    by_brand = {r.brand: r for r in all_rules}
    return by_brand.get(brand) or by_brand.get(None) or VoiceRules()
