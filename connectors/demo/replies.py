"""What the brands' care agents answered: reply texts in each brand's voice.

Real care accounts apologise briefly, hand off to DMs for anything personal, and sign with the
agent's initials or first name (``^JK``, ``-Becky``, ``/PB``).  These templates follow that habit.
"""

from __future__ import annotations

from collections.abc import Mapping

from connectors.demo import texts_intl
from connectors.demo.vocabulary import Compiled, RandomFn, compile_template, render
from connectors.demo.world import DemoBrand

BY_TOPIC: Mapping[str, tuple[str, ...]] = {
    "delay": (
        "So sorry for the wait today. Delays are never fun; we'll keep the app updated as soon as we know more. {sig}",
        "We're sorry about the delay on your flight. If you DM your booking reference we can look at options. {sig}",
    ),
    "cancellation": (
        "That's a rough night and we're sorry. DM us your booking reference and we'll rebook you and sort a "
        "hotel. {sig}",
    ),
    "lost_luggage": (
        "We know how stressful this is. Please DM your file reference and we'll chase the bag with the station. {sig}",
        "Sorry your bag didn't make it with you. Send us a DM with your file ref and delivery address. {sig}",
    ),
    "refund": ("Sorry for the wait on your refund. Please DM us your reference and we'll check where it is. {sig}",),
    "outage": (
        "Sorry for the trouble. There's work going on in some areas; DM us your postcode and we'll check "
        "your mast. {sig}",
        "We hear you, and we're sorry. Could you restart your phone and let us know if it's back? If not, DM us. {sig}",
    ),
    "slow_data": (
        "That's not the speed you should see. Can you DM us your postcode and a speed test screenshot? {sig}",
    ),
    "billing": (
        "Let's get this bill sorted. Please DM us your account number and we'll go through the charges with you. {sig}",
    ),
    "late_delivery": (
        "Sorry your order is running late! DM us the order number and we'll check on your rider right now. {sig}",
    ),
    "cold_food": ("Cold food is not what we're about. DM us your order number and we'll make it right. {sig}",),
    "missing_item": ("Sorry about the missing item! Send us your order number by DM and we'll refund it. {sig}",),
}

CRITICAL: tuple[str, ...] = (
    "This is serious and we want to look into it right away. Please DM us your details now; we've flagged "
    "it to our specialist team. {sig}",
    "We take this very seriously. Please send us a DM with your email address so we can connect ASAP. {sig}",
)
NEGATIVE: tuple[str, ...] = (
    "We're sorry to hear this. Please send us a DM so we can look into it. {sig}",
    "That's not the experience we want for you. Could you DM us a few details? {sig}",
    "Sorry about this! Follow and DM us and we'll take a look. {sig}",
)
NEUTRAL: tuple[str, ...] = (
    "Hi there! Happy to help. Could you DM us a few more details? {sig}",
    "Good question! You'll find it in the app under Help, or DM us and we'll walk you through it. {sig}",
)
POSITIVE: tuple[str, ...] = (
    "Thank you so much! We'll pass this on to the team. {sig}",
    "That's great to hear! Thanks for the kind words. {sig}",
    "We love to hear it {emo_pos} {sig}",
)
THANKS_FOLLOWUP: tuple[str, ...] = (
    "Got it, thanks! We'll be in touch by DM shortly. {sig}",
    "Glad we could help! {sig}",
)


def _compile_all(texts: tuple[str, ...]) -> tuple[Compiled, ...]:
    return tuple(compile_template(t) for t in texts)


_BY_TOPIC = {topic: _compile_all(texts) for topic, texts in BY_TOPIC.items()}
_BY_MOOD = {
    "critical": _compile_all(CRITICAL),
    "negative": _compile_all(NEGATIVE),
    "neutral": _compile_all(NEUTRAL),
    "positive": _compile_all(POSITIVE),
    "thanks": _compile_all(THANKS_FOLLOWUP),
}
_INTL = {
    mood: {lang: _compile_all(texts) for lang, texts in table.items()}
    for mood, table in (
        ("negative", texts_intl.REPLY_NEGATIVE),
        ("neutral", texts_intl.REPLY_NEUTRAL),
        ("positive", texts_intl.REPLY_POSITIVE),
    )
}


_SIGNATURES: dict[tuple[str, str], dict[str, str]] = {}


def _choose(options: tuple[Compiled, ...], r: RandomFn) -> Compiled:
    return options[int(r() * len(options))]


def reply_text(
    brand: DemoBrand, agent: str, *, topic: str, sentiment: str, urgency: str, language: str, r: RandomFn
) -> str:
    """Compose the reply ``agent`` posted for ``brand`` to a mention of this kind."""
    key = (brand.name, agent)
    given = _SIGNATURES.get(key)
    if given is None:
        given = _SIGNATURES[key] = {"sig": brand.signoff(agent)}
    if language != "en":
        mood = sentiment if sentiment in ("positive", "neutral") else "negative"
        table = _INTL[mood]
        if language in table:
            return render(_choose(table[language], r), r, given)
    if topic == "followup_thanks":
        options = _BY_MOOD["thanks"]
    elif urgency == "critical":
        options = _BY_MOOD["critical"]
    elif topic in _BY_TOPIC and r() < 0.7:
        options = _BY_TOPIC[topic]
    else:
        options = _BY_MOOD.get(sentiment, _BY_MOOD["neutral"])
    return render(_choose(options, r), r, given)
