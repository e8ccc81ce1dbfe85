"""The urgency rubric of ``docs/urgency.md`` as phrase cues.

The cues label the seed set (together with the airline metadata) and explain scores in plain words.
They are deliberately explicit phrases, not the model: the model learns from the labelled seed and
generalises beyond these words.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LEVELS: tuple[str, ...] = ("critical", "high", "normal", "low")


@dataclass(frozen=True)
class Cue:
    """A named rubric cue: the level it implies, a pattern and the reason shown to agents."""

    name: str
    level: str
    pattern: re.Pattern[str]
    reason: str


def _cue(name: str, level: str, words: str, reason: str) -> Cue:
    return Cue(name, level, re.compile(rf"(?<![\w]){words}(?![\w])", re.IGNORECASE), reason)


CUES: tuple[Cue, ...] = (
    _cue(
        "safety_health",
        "critical",
        r"(food poison\w*|poisoned|injur\w+|hospital(s|i[sz]ed)?|ambulance|paramedic|emergency landing|"
        r"unsafe|not safe|dangerous|allerg\w+|bleeding|passed out|fainted|heart attack|smoke in|"
        r"fire on|fumes|seizure|broken (arm|leg|wrist)|safety (issue|concern|hazard))",
        "reports a safety or health risk",
    ),
    _cue(
        "security_fraud",
        "critical",
        r"(hacked|hacker|fraud\w*|scam(med|mer)?|phishing|identity theft|stolen (card|identity|account)|"
        r"unauthori[sz]ed (charge|access|transaction)|account (was )?compromised|someone (logged|got) into)",
        "reports a security breach or fraud",
    ),
    _cue(
        "legal_threat",
        "critical",
        r"(lawyers?|attorneys?|lawsuit|sue you|suing|legal action|small claims|class action|"
        r"file a complaint with (the )?(dot|faa|fcc|bbb|ftc)|report(ing)? you to (the )?(dot|faa|fcc|bbb|ftc))",
        "threatens legal or regulatory action",
    ),
    _cue(
        "harassment_discrimination",
        "critical",
        r"(harass\w*|assault\w*|racis[tm]\w*|discriminat\w+|sexual\w*|groped|threatened me|"
        r"kill (you|me|myself)|death threat)",
        "reports harassment, discrimination or a threat",
    ),
    _cue(
        "press_viral",
        "critical",
        r"(going viral|gone viral|contacted the (press|media|news)|calling the news|news station|"
        r"reporter|journalist|media outlet)",
        "press attention or a viral crisis",
    ),
    _cue(
        "blocked_now",
        "high",
        r"(stranded|stuck (at|in|on)|can'?t (log ?in|check ?in|access|get in|board|make calls)|"
        r"cannot (log ?in|check ?in|access)|locked out|missed (my|our) (connection|flight)|"
        r"won'?t let me|no (service|internet|power) (at all|since|for)|not working|isn'?t working|"
        r"down again|outage|sleeping (at|in) the airport|no hotel)",
        "the customer is blocked right now",
    ),
    _cue(
        "deadline",
        "high",
        r"(asap|urgent\w*|right now|immediately|tonight|in \d+ (min|mins|minutes|hours?|hrs?)|"
        r"flight (leaves|departs) (in|at)|boards? in|about to (board|miss|leave)|before my flight|"
        r"need (help|an answer|a response) (now|today|asap))",
        "a deadline is imminent",
    ),
    _cue(
        "repeat_contact",
        "high",
        r"((second|third|fourth|fifth|\d+(st|nd|rd|th)) time|called (\d+|several|multiple|many) times|"
        r"on hold for (\d+|over an?|hours)|still no (response|reply|answer|one)|no (one|body) (is )?"
        r"(answering|responding|helping)|hung up on|keep(s)? getting disconnected|been waiting (for )?"
        r"(\d+|hours|days)|(dm|dmd|dm'?d|emailed|messaged) (you|u)( guys)? .{0,30}(no|without) (reply|response))",
        "repeated contact attempts have failed",
    ),
    _cue(
        "churn_now",
        "high",
        r"(cancel(l?ing)? my (account|subscription|service|membership|contract|card)|switching to|"
        r"never (flying|fly|using|buying|ordering) (with )?(you|again)|taking my business|"
        r"last time i (fly|use|order)|done with you|close my account)",
        "the customer is about to leave",
    ),
)


def matching_cues(text: str) -> list[tuple[Cue, str]]:
    """Every cue found in ``text`` with the phrase that matched it, most severe first."""
    found = []
    for cue in CUES:
        match = cue.pattern.search(text)
        if match:
            found.append((cue, match.group(0)))
    return sorted(found, key=lambda item: LEVELS.index(item[0].level))
