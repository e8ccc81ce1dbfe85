"""The fictional brands of the demo: who they are, where they post, how their agents sign."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

SECTOR_AIRLINE = "airline"
SECTOR_TELECOM = "telecom"
SECTOR_FOOD = "food_delivery"

SIGNOFF_CARET_INITIALS = "caret_initials"
"""``^JK``: the Spectrum / Delta habit."""
SIGNOFF_DASH_NAME = "dash_name"
"""``-Becky``: the Chipotle habit."""
SIGNOFF_SLASH_INITIALS = "slash_initials"
"""``/PB``: the Spotify habit."""


def _frozen(mapping: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(mapping)


@dataclass(frozen=True, slots=True)
class DemoBrand:
    """One fictional brand (or competitor) with its accounts and care team.

    ``handles`` maps a platform to the account name as that platform spells it;
    ``competitor_of`` is set on a competitor, which the demo only listens to.
    """

    name: str
    sector: str
    handles: Mapping[str, str]
    keywords: tuple[str, ...]
    signoff_style: str
    agents: tuple[str, ...]
    volume_share: float
    competitor_of: str | None = None

    @property
    def is_competitor(self) -> bool:
        """True for a brand the team watches but does not answer for."""
        return self.competitor_of is not None

    def mention_tag(self, platform: str) -> str:
        """How a customer tags the brand account on ``platform`` (``@SkylineAir``, ``u/...``)."""
        handle = self.handles[platform]
        return f"u/{handle}" if platform == "reddit" else f"@{handle}"

    def signoff(self, agent: str) -> str:
        """The sign-off ``agent`` puts at the end of a reply, in this brand's style."""
        parts = agent.split()
        initials = "".join(part[0] for part in parts).upper()
        if self.signoff_style == SIGNOFF_CARET_INITIALS:
            return f"^{initials}"
        if self.signoff_style == SIGNOFF_SLASH_INITIALS:
            return f"/{initials}"
        return f"-{parts[0]}"


@dataclass(frozen=True, slots=True)
class DemoWorld:
    """The brands the demo generates traffic about."""

    brands: tuple[DemoBrand, ...]

    def brand(self, name: str) -> DemoBrand:
        """Return the brand called ``name``; raise ``KeyError`` with the known names otherwise."""
        for brand in self.brands:
            if brand.name == name:
                return brand
        known = ", ".join(b.name for b in self.brands)
        raise KeyError(f"unknown demo brand {name!r}; known: {known}")

    @property
    def own_brands(self) -> tuple[DemoBrand, ...]:
        """Brands the care team answers for."""
        return tuple(b for b in self.brands if not b.is_competitor)

    @property
    def competitors(self) -> tuple[DemoBrand, ...]:
        """Brands the team only listens to."""
        return tuple(b for b in self.brands if b.is_competitor)


SKYLINE_AIR = DemoBrand(
    name="Skyline Air",
    sector=SECTOR_AIRLINE,
    handles=_frozen(
        {
            "x": "SkylineAir",
            "mastodon": "skylineair@social.skyline-air.example",
            "bluesky": "skylineair.bsky.social",
            "reddit": "SkylineAirCare",
        }
    ),
    keywords=("Skyline Air", "SkylineAir", "#SkylineAir", "skyline-air.example"),
    signoff_style=SIGNOFF_CARET_INITIALS,
    agents=("Jamie Kowalski", "Priya Raman", "Marcus Bell", "Lena Fischer", "Tomás Ortega"),
    volume_share=0.38,
)

NIMBUS_MOBILE = DemoBrand(
    name="Nimbus Mobile",
    sector=SECTOR_TELECOM,
    handles=_frozen(
        {
            "x": "NimbusMobile",
            "mastodon": "nimbus@mastodon.social",
            "bluesky": "nimbusmobile.bsky.social",
            "reddit": "NimbusMobileHelp",
        }
    ),
    keywords=("Nimbus Mobile", "NimbusMobile", "#NimbusDown", "nimbus-mobile.example"),
    signoff_style=SIGNOFF_DASH_NAME,
    agents=("Becky Hart", "Omar Haddad", "Chris Nolan", "Aisha Bello", "Dana Whitfield", "Kenji Sato"),
    volume_share=0.34,
)

PARCELO_EATS = DemoBrand(
    name="Parcelo Eats",
    sector=SECTOR_FOOD,
    handles=_frozen(
        {
            "x": "ParceloEats",
            "mastodon": "parcelo@mastodon.online",
            "bluesky": "parceloeats.bsky.social",
            "reddit": "ParceloEats_Support",
        }
    ),
    keywords=("Parcelo Eats", "ParceloEats", "Parcelo", "#ParceloEats"),
    signoff_style=SIGNOFF_SLASH_INITIALS,
    agents=("Paula Brandt", "Rafael Costa", "Grace Okafor", "Sam Lindqvist"),
    volume_share=0.28,
)

HORIZON_AIRWAYS = DemoBrand(
    name="Horizon Airways",
    sector=SECTOR_AIRLINE,
    handles=_frozen(
        {
            "x": "HorizonAirways",
            "mastodon": "horizon@mastodon.social",
            "bluesky": "horizonairways.bsky.social",
            "reddit": "HorizonAirwaysTeam",
        }
    ),
    keywords=("Horizon Airways", "HorizonAirways", "#FlyHorizon"),
    signoff_style=SIGNOFF_DASH_NAME,
    agents=("Nora Quinn", "Felix Adeyemi"),
    volume_share=0.0,
    competitor_of="Skyline Air",
)

DEFAULT_WORLD = DemoWorld(brands=(SKYLINE_AIR, NIMBUS_MOBILE, PARCELO_EATS, HORIZON_AIRWAYS))
"""Three brands the team answers for and one competitor of Skyline Air."""
