"""Process-wide resources for the pages, cached once per server."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast
from zoneinfo import ZoneInfo

import streamlit as st

from console.config import AppConfig, load_config
from console.services.permissions import Actor, Permission, require
from console.services.sla_clocks import SlaClocks
from console.services.store import CONSOLE_BUSY_TIMEOUT_S, Store, open_store

if TYPE_CHECKING:
    from console.services.replies.suggestions import Encoder


@st.cache_resource(show_spinner=False)
def get_store() -> Store:
    """One engine per server process; the URL comes from env, then config, then the SQLite default."""
    cfg = get_config()
    url = os.environ.get("MENTIONDESK_DATABASE_URL") or cfg.database.url
    return open_store(url, busy_timeout_s=CONSOLE_BUSY_TIMEOUT_S)  # a locked database is said in 5 s, not 10


@st.cache_resource(show_spinner=False)
def get_config() -> AppConfig:
    """The validated ``mentiondesk.toml`` (or the built-in demo config)."""
    return load_config()


def team_zone() -> ZoneInfo:
    """User-visible times are shown in the team's time zone; storage stays UTC."""
    return ZoneInfo(get_config().team.timezone)


@dataclass(frozen=True)
class FilterChoices:
    """Values offered by the filter widgets."""

    brands: dict[str, int]
    platforms: list[str]
    languages: list[str]
    topics: list[str]


def filter_choices(url: str, actor: Actor) -> FilterChoices:
    """Distinct values scan large tables, so pages share them for five minutes (keyed by store URL).

    The actor is checked on every call, cached or not; the values are the same for everyone who may read.
    """
    require(actor, Permission.READ)
    return _shared_choices(url, actor)


@st.cache_data(ttl=300, show_spinner=False)
def _shared_choices(url: str, _actor: Actor) -> FilterChoices:
    """``_actor`` (unhashed: not part of the key) is whoever asked first; :func:`filter_choices` checked them."""
    from console.services.inbox import brand_choices, language_choices, platform_choices, topic_choices

    with get_store().read() as session:
        return FilterChoices(
            brand_choices(session, _actor),
            platform_choices(session, _actor),
            language_choices(session, _actor),
            topic_choices(session, _actor),
        )


@st.cache_resource(show_spinner="Loading the sentence encoder…")
def suggestion_encoder() -> Encoder | None:
    """The classifier's sentence embeddings for suggested replies, or ``None`` (TF-IDF is used then)."""
    import logging

    from console.services.replies.suggestions import EmbeddingEncoder, MemoizedEmbedder, SupportsEmbed

    try:
        from classifiers import load_classifier

        model = load_classifier(get_config().classifier.model)
    except Exception:  # a console without the model still suggests, by TF-IDF
        logging.getLogger(__name__).exception("sentence encoder unavailable; suggestions fall back to TF-IDF")
        return None
    if not hasattr(model, "embed"):  # a classifier without sentence embeddings
        return None
    return EmbeddingEncoder(MemoizedEmbedder(cast(SupportsEmbed, model)))


@st.cache_resource(ttl=60, show_spinner=False)
def sla_clocks(url: str) -> SlaClocks:
    """Every brand's calendar and SLA targets (Settings edits show within a minute), keyed by store URL."""
    with get_store().read() as session:
        return SlaClocks.load(session, get_config())
