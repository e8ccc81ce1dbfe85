"""Brand-voice checks: each finding says what is wrong, how to fix it, and whether it blocks."""

from __future__ import annotations

import pytest

from console.config import VoiceRules, load_config
from console.domain.voice import Severity, check_reply, personal_data, rules_for

SKYLINE = VoiceRules(
    brand="Skyline Air",
    banned_phrases=["calm down", "as I said"],
    sign_off=r"\^[A-Z]{2,3}$",
    sign_off_example="^JK",
    emoji="limit",
    max_emoji=1,
    max_length=280,
)
OK = "Hi Sam, we're sorry about the delay. Please DM us and we'll check your rebooking. ^JK"


def _rules(findings: list) -> dict[str, Severity]:  # type: ignore[type-arg]
    return {f.rule: f.severity for f in findings}


def test_a_good_reply_passes() -> None:
    assert check_reply(OK, SKYLINE, sentiment="negative", platform_limit=280) == []


def test_banned_phrase_blocks_and_says_how_to_fix() -> None:
    findings = check_reply("Please CALM DOWN, we are on it. ^JK", SKYLINE)
    banned = next(f for f in findings if f.rule == "banned_phrase")
    assert banned.blocking and "calm down" in banned.problem and "remove or reword" in banned.fix


def test_missing_sign_off_blocks_with_the_example() -> None:
    [finding] = check_reply("Hi Sam, sorry about that, DM us please.", SKYLINE)
    assert finding.rule == "sign_off" and finding.blocking and "^JK" in finding.fix


@pytest.mark.parametrize(
    ("policy", "text", "expected"),
    [
        ("limit", "Sorry! 😀😀 ^JK", Severity.WARNING),
        ("none", "Sorry! 😀 ^JK", Severity.BLOCKING),
        ("allow", "Sorry! 😀😀😀 ^JK", None),
        ("limit", "Sorry! 👍🏽 ^JK", None),
    ],
)
def test_emoji_policy(policy: str, text: str, expected: Severity | None) -> None:
    rules = SKYLINE.model_copy(update={"emoji": policy})
    assert _rules(check_reply(text, rules)).get("emoji") == expected


def test_max_length_uses_the_tighter_of_brand_and_platform_limits() -> None:
    long = "Sorry " + "a" * 290 + " ^JK"
    [finding] = [f for f in check_reply(long, SKYLINE, platform_limit=500) if f.rule == "max_length"]
    assert finding.blocking and "brand limit is 280" in finding.problem and "shorten it by" in finding.fix
    loose = SKYLINE.model_copy(update={"max_length": None})
    [platform] = [f for f in check_reply(long, loose, platform_limit=280) if f.rule == "max_length"]
    assert "platform limit is 280" in platform.problem


def test_shouting_is_a_warning() -> None:
    assert _rules(check_reply("WE ARE SO SORRY ABOUT THIS DELAY ^JK", SKYLINE))["shouting"] is Severity.WARNING
    assert "shouting" not in _rules(check_reply("Sorry, the app (iOS) had an outage. ^JK", SKYLINE))


def test_apology_expected_only_when_sentiment_is_negative() -> None:
    plain = "Thanks for the message, DM us and we'll look. ^JK"
    assert _rules(check_reply(plain, SKYLINE, sentiment="negative")) == {"apology": Severity.WARNING}
    assert check_reply(plain, SKYLINE, sentiment="positive") == []
    assert check_reply(plain.replace("Thanks", "We apologise, thanks"), SKYLINE, sentiment="negative") == []


@pytest.mark.parametrize(
    "leak",
    [
        "write to sam.jones+care@example.co.uk",
        "call +44 20 7946 0958",
        "call 555-867-5309",
        "your order #AB12345 is late",
        "account number 12345678 is fixed",
        "booking ref: XK9Q2Z",
    ],
)
def test_personal_data_blocks_and_suggests_a_dm(leak: str) -> None:
    [finding] = [f for f in check_reply(f"Sorry, {leak}. ^JK", SKYLINE) if f.rule == "personal_data"]
    assert finding.blocking and "DM" in finding.fix


@pytest.mark.parametrize(
    "safe", ["Flight SK12 leaves at 14:30 today", "our case MD-1042 is open", "on 2026-11-20 at gate 12", "call us"]
)
def test_ordinary_numbers_are_not_personal_data(safe: str) -> None:
    assert personal_data(safe) == []


def test_rules_follow_the_brand_in_config() -> None:
    cfg = load_config()
    assert rules_for(cfg.voice, "Nimbus Mobile").sign_off_example == "-Becky"
    assert rules_for(cfg.voice, "Unknown Brand") == VoiceRules()
    assert rules_for(cfg.voice, None) == VoiceRules()
