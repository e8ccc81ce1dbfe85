"""Who posts: a deterministic population of authors with heavy-tailed follower counts.

An author is a pure function of ``(seed, platform, index)`` through a 64-bit hash, so the same
customer comes back with the same handle and followers across a million mentions without the
generator keeping a roster in memory.
"""

from __future__ import annotations

import math
import random

from connectors.base import Author
from connectors.demo.vocabulary import FIRST_NAMES, HANDLE_SUFFIXES, LAST_NAMES

_MASK = (1 << 64) - 1
_BASE32 = "234567abcdefghijklmnopqrstuvwxyz"
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"
_SALT = {"x": 0x51ED27, "mastodon": 0x3A57D0, "bluesky": 0xB1E5C7, "reddit": 0x4EDD17, "rss": 0x255F00}
MASTODON_INSTANCES = ("mastodon.social", "fosstodon.org", "mstdn.social", "hachyderm.io", "mastodon.online")

CACHE_SIZE = 100_000
LANGUAGE_MIX = (("en", 80), ("es", 6), ("fr", 4), ("pt", 4), ("de", 3), ("ja", 3))
"""Percent of authors by the language they post in."""

NEWS_OUTLETS = {
    "airline": (("The Travel Ledger", "travel-ledger.example"), ("Airways Daily", "airwaysdaily.example")),
    "telecom": (("Signal & Noise", "signalnoise.example"), ("Telecom Review", "telecomreview.example")),
    "food_delivery": (("Plate & Porch", "plateandporch.example"),),
}
GENERAL_OUTLET = ("Metro Business Wire", "metrobiz.example")
"""News sites by the sector they cover; the business wire covers everyone."""


def mix64(value: int) -> int:
    """SplitMix64 finaliser: a fast, well-spread 64-bit hash of an integer."""
    value = (value + 0x9E3779B97F4A7C15) & _MASK
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & _MASK
    return value ^ (value >> 31)


def hash_text(text: str) -> int:
    """A stable 64-bit hash of a string (``hash()`` is salted per process)."""
    value = 0
    for char in text:
        value = mix64(value ^ ord(char))
    return value


def base36(value: int) -> str:
    """Reddit-style base-36 id."""
    digits = []
    while True:
        value, rem = divmod(value, 36)
        digits.append(_BASE36[rem])
        if not value:
            return "".join(reversed(digits))


def base32_sortable(value: int, length: int) -> str:
    """AT Protocol's sortable base-32 (TIDs and DIDs)."""
    return "".join(_BASE32[(value >> (5 * i)) & 31] for i in range(length - 1, -1, -1))


def _follower_table(rng: random.Random, size: int = 8192) -> tuple[int, ...]:
    """Samples of a heavy-tailed mixture: most under 1k, some tens of thousands, a few millions."""
    table = []
    for _ in range(size):
        draw = rng.random()
        if draw < 0.006:
            table.append(int(math.exp(rng.uniform(math.log(100_000), math.log(2_000_000)))))
        elif draw < 0.03:
            table.append(int(math.exp(rng.uniform(math.log(8_000), math.log(100_000)))))
        else:
            table.append(min(int(rng.lognormvariate(math.log(180), 1.6)), 60_000))
    return tuple(table)


class AuthorBook:
    """Derives authors on demand; ``author(platform, index)`` is stable for a given seed."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"authors:{seed}")
        self._seed = mix64(seed & _MASK)
        self._followers = _follower_table(rng)
        self._languages = tuple(lang for lang, pct in LANGUAGE_MIX for _ in range(pct))
        self._cache: dict[tuple[str, int], tuple[Author, str]] = {}

    def _hash(self, platform: str, index: int) -> int:
        return mix64(self._seed ^ mix64(_SALT[platform] * 1_000_003 + index))

    def customer(self, platform: str, index: int) -> tuple[Author, str]:
        """The customer ``index`` of ``platform`` and the language they post in.

        Regulars come back often, so recent answers are kept in a bounded cache.
        """
        key = (platform, index)
        found = self._cache.get(key)
        if found is None:
            if len(self._cache) >= CACHE_SIZE:
                self._cache.clear()
            found = self._cache[key] = (
                self.author(platform, index),
                self._languages[self._hash(platform, index) % 100],
            )
        return found

    def author(self, platform: str, index: int) -> Author:
        """The customer ``index`` of ``platform``."""
        h = self._hash(platform, index)
        first = FIRST_NAMES[h % 50]
        last = LAST_NAMES[(h >> 8) % 30]
        style = (h >> 16) % 4
        if style == 0:
            handle = f"{first}_{last}"
        elif style == 1:
            handle = f"{first}{HANDLE_SUFFIXES[(h >> 20) % len(HANDLE_SUFFIXES)]}{(h >> 24) % 100}"
        elif style == 2:
            handle = f"{first[0]}{last}{(h >> 24) % 1000}"
        else:
            handle = f"{last}.{first}" if platform == "bluesky" else f"{first}{last}"
        followers = self._followers[(h >> 32) % len(self._followers)]
        verified = followers >= 100_000 or (followers >= 10_000 and (h >> 45) % 4 == 0)
        return self._build(platform, h, handle, f"{first.capitalize()} {last.capitalize()}", followers, verified)

    def spam_author(self, platform: str, index: int) -> Author:
        """A throwaway spam account: fresh handle, few followers."""
        h = self._hash(platform, -1 - index)
        word = ("crypto", "airdrop", "nft", "bonus", "giveaway", "promo")[h % 6]
        handle = f"{word}_{('king', 'deals', 'drop', 'alpha')[(h >> 8) % 4]}{(h >> 16) % 100000}"
        return self._build(platform, h, handle, handle.replace("_", " ").title(), (h >> 40) % 40, False)

    def influencer(self, platform: str) -> Author:
        """The verified food writer whose complaint goes viral in the Parcelo Eats spike."""
        h = self._hash(platform, -999_999)
        return self._build(platform, h, "jen_eats_city", "Jen Okoro", 486_200, True)

    def reporter(self, platform: str, index: int) -> Author:
        """A verified tech reporter who asks the brand for comment during an incident."""
        h = self._hash(platform, -888_888 - index)
        first = FIRST_NAMES[h % 50].capitalize()
        handle = f"{first.lower()}_reports{(h >> 8) % 100}"
        return self._build(platform, h, handle, f"{first} (tech reporter)", 38_000 + h % 90_000, True)

    def brand_account(self, platform: str, handle: str, name: str) -> Author:
        """The brand's own account on ``platform``."""
        h = mix64(self._seed ^ hash_text(handle))
        author = self._build(platform, h, handle, name, 250_000 + h % 500_000, True)
        return Author(platform, author.external_id, handle, name, author.followers, True)

    def outlet(self, sector: str, index: int) -> tuple[Author, str]:
        """A news site covering ``sector`` and its domain, as an RSS author."""
        outlets = (*NEWS_OUTLETS.get(sector, ()), GENERAL_OUTLET)
        name, domain = outlets[index % len(outlets)]
        return Author("rss", f"https://{domain}/feed", domain, name, 0, False), domain

    def _build(self, platform: str, h: int, handle: str, display: str, followers: int, verified: bool) -> Author:
        if platform == "x":
            external = str(10_000_000 + h % 1_500_000_000) if h & 1 else str(1_200_000_000_000_000_000 + h % 10**18)
        elif platform == "mastodon":
            external = str(109_000_000_000_000_000 + h % 10**16)
            handle = f"{handle}@{MASTODON_INSTANCES[(h >> 50) % len(MASTODON_INSTANCES)]}"
        elif platform == "bluesky":
            external = "did:plc:" + base32_sortable(mix64(h) << 56 | h, 24)
            handle = f"{handle.replace('_', '-')}.bsky.social"
        else:
            external = "t2_" + base36(h % 36**8)
        return Author(platform, external, handle, display, followers, verified)
