"""The colours that carry meaning, the same in every chart: urgency from darkest red down to grey, one per sentiment.

Urgency is ordinal, so its colours run one way, each lighter than the one more urgent (so the order reads
in greyscale too): critical is the darkest red, high a red-orange, normal a light orange and low grey;
mentions not classified yet are the lightest grey.  Sentiment is nominal, with
one fixed colour each: negative red, neutral grey, positive green.  Pages that colour urgency or sentiment
outside a chart (chips, badges) take the hex values from the maps here.
"""

from __future__ import annotations

import altair as alt

UNCLASSIFIED = "unclassified"
UNCLASSIFIED_COLOUR = "#e5e5e5"
"""Not classified yet, whether by urgency or sentiment: the lightest grey."""
URGENCY_ORDER = ("critical", "high", "normal", "low", UNCLASSIFIED)
URGENCY_COLOURS = {
    "critical": "#8b0000",
    "high": "#e0452b",
    "normal": "#fc8d59",
    "low": "#bdbdbd",
    UNCLASSIFIED: UNCLASSIFIED_COLOUR,
}
"""Urgency, most urgent first: darkest red to grey, lightness rising step by step."""
SENTIMENT_ORDER = ("negative", "neutral", "positive", UNCLASSIFIED)
SENTIMENT_COLOURS = {
    "negative": "#d62728",
    "neutral": "#9e9e9e",
    "positive": "#2ca02c",
    UNCLASSIFIED: UNCLASSIFIED_COLOUR,
}
BRAND_KIND_ORDER = ("Our brand", "Competitor")
BRAND_KIND_COLOURS = {"Our brand": "#1f5fa8", "Competitor": "#a3a3a3"}
"""Share of voice: the team's own brands in blue, competitors in grey."""
SINGLE = "#1f5fa8"
"""Bars that carry no category."""


def label(value: str) -> str:
    """How a chart names an urgency or sentiment value: ``critical`` -> ``Critical``."""
    return value.capitalize()


def _scale(order: tuple[str, ...], colours: dict[str, str], *, labelled: bool = True) -> alt.Scale:
    """Fixed colours over the values' labels, in their order (so legends list them most urgent first)."""
    return alt.Scale(domain=[label(n) if labelled else n for n in order], range=[colours[n] for n in order])


URGENCY_SCALE = _scale(URGENCY_ORDER, URGENCY_COLOURS)
SENTIMENT_SCALE = _scale(SENTIMENT_ORDER, SENTIMENT_COLOURS)
BRAND_KIND_SCALE = _scale(BRAND_KIND_ORDER, BRAND_KIND_COLOURS, labelled=False)
"""Scales over the labels: chart data carries ``label(value)`` in the coloured column."""
