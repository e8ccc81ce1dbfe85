"""Build a connector for a leased source: platform -> builder, settings from config, keys from secrets.

Each builder reads the source's options (``[[sources]] options = {...}`` in ``mentiondesk.toml``),
the named query and the brand's handles from the config, and credentials from
:mod:`console.secrets`.  Anything missing is a plain-words :class:`FatalError`, which the worker
records as the source's health, so a misconfigured source is visible and never stops the others.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from connectors.base import Connector, FatalError
from connectors.read_budget import ReadBudget, budget_month
from console.config import AppConfig, QueryConfig
from console.secrets import Secrets
from console.services.store import Store
from console.worker.leases import SourceLease

X_KEYS = ("bearer_token",)
X_USER_KEYS = ("consumer_key", "consumer_secret", "access_token", "access_token_secret")


@dataclass(frozen=True)
class BuildContext:
    """What every builder may read besides the lease."""

    secrets: Secrets
    config: AppConfig | None = None
    store: Store | None = None
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)

    def option(self, lease: SourceLease, key: str, *, secret: bool = False) -> str | None:
        """A source option from the config, falling back to the secrets when ``secret``."""
        value = lease.config.get(key)
        if value not in (None, ""):
            return str(value)
        return self.secrets.get(lease.name, key) if secret else None

    def required(self, lease: SourceLease, key: str, why: str) -> str:
        """An option the source cannot run without; its absence says where to set it."""
        value = self.option(lease, key)
        if value is None:
            raise FatalError(f"source {lease.name!r} needs options.{key} in mentiondesk.toml ({why})")
        return value

    def query(self, lease: SourceLease) -> QueryConfig | None:
        """The ``[[queries]]`` entry the source names, if any."""
        name = lease.config.get("query")
        if not name:
            return None
        found = next((q for q in self.config.queries if q.name == name), None) if self.config else None
        if found is None:
            raise FatalError(f"source {lease.name!r} names query {name!r}, which is not in the config")
        return found

    def handle(self, lease: SourceLease, platform: str) -> str | None:
        """The brand's handle on ``platform``: the source's ``handle`` option, else the brand's."""
        explicit = self.option(lease, "handle")
        if explicit or self.config is None:
            return explicit
        brand = next((b for b in self.config.brands if b.name == lease.config.get("brand")), None)
        return brand.handles.get(platform) if brand else None  # type: ignore[call-overload]

    def brand_keywords(self, lease: SourceLease) -> tuple[str, ...]:
        """The brand's name and keywords, for sources that filter text themselves (RSS)."""
        name = lease.config.get("brand")
        brand = next((b for b in self.config.brands if b.name == name), None) if self.config else None
        words = [str(name)] if name else []
        return tuple(dict.fromkeys([*words, *(brand.keywords if brand else [])]))


Builder = Callable[[SourceLease, BuildContext], Connector]


def _quote(term: str) -> str:
    term = term.strip()
    return f'"{term}"' if " " in term else term


def query_terms(query: QueryConfig) -> str:
    """``("a b" OR c) -d``: the query's terms OR-ed, multi-word terms quoted, exclusions negated."""
    terms = " OR ".join(_quote(t) for t in query.terms)
    text = f"({terms})" if len(query.terms) > 1 else terms
    return " ".join([text, *(f"-{_quote(t)}" for t in query.exclude)])


def x_reads_this_month(store: Store, clock: Callable[[], datetime]) -> Callable[[], int]:
    """A callback for XConnector: billed reads of every X source this month (X caps the app, not a source)."""
    from console.services.sources import reads_this_month

    def used() -> int:
        with store.read() as session:
            return reads_this_month(session, "x", budget_month(clock()))

    return used


def x_budget(config: AppConfig | None) -> ReadBudget | None:
    """The X read cap and price from ``[x]`` in the config."""
    if config is None:
        return None
    return ReadBudget(config.x.monthly_read_cap, Decimal(str(config.x.price_per_read)))


def _x(lease: SourceLease, ctx: BuildContext) -> Connector:
    from connectors.x import XConfig, XConnector

    keys: dict[str, Any] = ctx.secrets.require(lease.name, *X_KEYS)
    if lease.kind == "mentions":  # replies need the brand account's user-context keys
        keys |= ctx.secrets.require(lease.name, *X_USER_KEYS)
    user_id = ctx.option(lease, "user_id", secret=True)
    if user_id is None:
        raise FatalError(f"source {lease.name!r} needs options.user_id: the brand account's numeric X id")
    handle = ctx.handle(lease, "x")
    if handle is None:
        raise FatalError(f"source {lease.name!r} needs the brand's X handle (brands.handles.x or options.handle)")
    query = ctx.query(lease)
    settings = XConfig(
        brand_user_id=user_id,
        brand_handle=handle,
        source="search" if lease.kind == "search" else "mentions",
        query=query_terms(query) if query else ctx.option(lease, "q"),
        languages=tuple(query.languages) if query else (),
        exclude_retweets=not query.include_reposts if query else True,
        **keys,
    )
    reads = x_reads_this_month(ctx.store, ctx.clock) if ctx.store is not None else None
    return XConnector(settings, budget=x_budget(ctx.config), reads_used=reads)


def _mastodon(lease: SourceLease, ctx: BuildContext) -> Connector:
    from connectors.mastodon import MastodonConfig, MastodonConnector

    keys = ctx.secrets.require(lease.name, "access_token")
    query = ctx.query(lease)
    hashtag = ctx.option(lease, "hashtag") or (query.terms[0].lstrip("#") if query else None)
    settings = MastodonConfig(
        instance_url=ctx.required(lease, "instance", "the server's address, e.g. https://mastodon.social"),
        access_token=keys["access_token"],
        account_id=ctx.option(lease, "account_id", secret=True) or "",
        source="hashtag" if lease.kind == "hashtag" else "mentions",
        hashtag=hashtag,
    )
    if settings.source == "mentions" and not settings.account_id:
        raise FatalError(f"source {lease.name!r} needs options.account_id: the brand account's id on the server")
    return MastodonConnector(settings)


def _bluesky(lease: SourceLease, ctx: BuildContext) -> Connector:
    from connectors.bluesky import BlueskyConfig, BlueskyConnector

    keys = ctx.secrets.require(lease.name, "app_password")
    handle = ctx.option(lease, "handle", secret=True) or ctx.handle(lease, "bluesky")
    if handle is None:
        raise FatalError(f"source {lease.name!r} needs the brand's Bluesky handle (brands.handles.bluesky)")
    query = ctx.query(lease)
    settings = BlueskyConfig(
        handle=handle,
        app_password=keys["app_password"],
        account_did=ctx.required(lease, "did", "the brand account's DID, did:plc:..."),
        base_url=ctx.option(lease, "base_url") or "https://bsky.social",
        source="search" if lease.kind == "search" else "notifications",
        query=query_terms(query) if query else ctx.option(lease, "q"),
        lang=(query.languages[0] if query and query.languages else None),
    )
    return BlueskyConnector(settings)


def _rss(lease: SourceLease, ctx: BuildContext) -> Connector:
    from connectors.rss import RssConfig, RssConnector

    query = ctx.query(lease)
    listed = lease.config.get("keywords")
    keywords = tuple(query.terms) if query else tuple(listed) if isinstance(listed, list) else ()
    settings = RssConfig(
        feed_url=ctx.required(lease, "url", "the feed's address"),
        keywords=keywords or ctx.brand_keywords(lease),
        brand_feed=bool(lease.config.get("brand_feed", False)),
    )
    return RssConnector(settings)


def _reddit(lease: SourceLease, ctx: BuildContext) -> Connector:
    from connectors.reddit import RedditConfig, RedditConnector

    keys = ctx.secrets.require(lease.name, "client_id", "client_secret", "username", "password")
    query = ctx.query(lease)
    source = {"subreddit": "subreddit", "search": "search"}.get(lease.kind, "mentions")
    settings = RedditConfig(
        client_id=keys["client_id"],
        client_secret=keys["client_secret"],
        username=keys["username"],
        password=keys["password"],
        source=source,  # type: ignore[arg-type]
        subreddit=ctx.option(lease, "subreddit"),
        query=query_terms(query) if query else ctx.option(lease, "q"),
    )
    return RedditConnector(settings)


def _demo(lease: SourceLease, ctx: BuildContext) -> Connector:
    from connectors.demo import DEFAULT_WORLD, DemoConnector

    brand = lease.config.get("brand")
    brands = [b for b in DEFAULT_WORLD.brands if not brand or b.name == brand]
    if not brands:
        raise FatalError(f"source {lease.name!r}: the demo has no brand called {brand!r}")
    # A stable per-source seed keeps each demo source's ids apart from the others'.
    seed = int(lease.config.get("seed", zlib.crc32(lease.name.encode())))
    history = None
    if ctx.store is not None:
        from console.services.demo_seed import seeded_history

        with ctx.store.read() as session:
            history = seeded_history(session)
    if history is None:
        return DemoConnector(seed=seed, brands=brands)
    mentions, days = history  # the feed goes on at the seeded history's rate, so it raises no false spike
    return DemoConnector(seed=seed, brands=brands, history_mentions=mentions, history_days=days)


BUILDERS: dict[str, Builder] = {
    "x": _x,
    "mastodon": _mastodon,
    "bluesky": _bluesky,
    "rss": _rss,
    "reddit": _reddit,
    "demo": _demo,
}


class ConnectorFactory:
    """Callable ``lease -> Connector`` for the worker loop; one per worker process."""

    def __init__(
        self,
        *,
        secrets: Secrets | None = None,
        config: AppConfig | None = None,
        store: Store | None = None,
        builders: dict[str, Builder] | None = None,
    ) -> None:
        self.context = BuildContext(secrets=secrets or Secrets.load(), config=config, store=store)
        self.builders = builders if builders is not None else BUILDERS

    def __call__(self, lease: SourceLease) -> Connector:
        """The connector for ``lease``; a platform without a builder is a plain-words fatal error."""
        builder = self.builders.get(lease.platform)
        if builder is None:
            raise FatalError(f"no connector for platform {lease.platform!r}")
        return builder(lease, self.context)
