"""The embedded demo: fictional brands, a seeded data set, and a live source.

``generate_mentions`` streams the seeded history the demo store is filled with;
``DemoConnector`` keeps new mentions arriving while the demo runs.
"""

from connectors.demo.generator import generate_mentions
from connectors.demo.live import DemoConnector, LiveCursor
from connectors.demo.records import SENTIMENTS, URGENCIES, GeneratedMention, Outcome
from connectors.demo.world import (
    DEFAULT_WORLD,
    HORIZON_AIRWAYS,
    NIMBUS_MOBILE,
    PARCELO_EATS,
    SKYLINE_AIR,
    DemoBrand,
    DemoWorld,
)

__all__ = [
    "DEFAULT_WORLD",
    "HORIZON_AIRWAYS",
    "NIMBUS_MOBILE",
    "PARCELO_EATS",
    "SENTIMENTS",
    "SKYLINE_AIR",
    "URGENCIES",
    "DemoBrand",
    "DemoConnector",
    "DemoWorld",
    "GeneratedMention",
    "LiveCursor",
    "Outcome",
    "generate_mentions",
]
