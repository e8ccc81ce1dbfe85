"""Mirror the config's brands, sources and templates into the store, idempotently."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from console.config import AppConfig, Platform
from storage.models import Brand, BrandHandle, Source, Template


@dataclass
class CatalogIds:
    """Ids of what the config names, for callers that ingest or seed."""

    brands: dict[str, int] = field(default_factory=dict)
    sources: dict[str, int] = field(default_factory=dict)


def _sync_brands(session: Session, cfg: AppConfig) -> dict[str, int]:
    existing = {b.name: b for b in session.scalars(select(Brand))}
    for bc in cfg.brands:
        brand = existing.get(bc.name) or Brand(name=bc.name)
        brand.is_competitor = bc.competitor
        brand.keywords = list(bc.keywords)
        session.add(brand)
        existing[bc.name] = brand
    session.flush()
    for bc in cfg.brands:
        brand = existing[bc.name]
        brand.competitor_of_id = existing[bc.competitor_of].id if bc.competitor_of else None
        _sync_handles(session, brand.id, bc.handles)
    return {name: b.id for name, b in existing.items()}


def _sync_handles(session: Session, brand_id: int, handles: Mapping[Platform, str]) -> None:
    stored = {(h.platform, h.handle): h for h in session.scalars(select(BrandHandle))}
    for platform, handle in handles.items():
        row = stored.get((platform, handle))
        if row is None:
            session.add(BrandHandle(brand_id=brand_id, platform=platform, handle=handle))
        else:
            row.brand_id = brand_id


def _sync_sources(session: Session, cfg: AppConfig, brands: dict[str, int]) -> dict[str, int]:
    existing = {s.name: s for s in session.scalars(select(Source))}
    for sc in cfg.sources:
        source = existing.get(sc.name) or Source(name=sc.name, platform=sc.platform, kind=sc.kind)
        source.platform, source.kind = sc.platform, sc.kind
        source.brand_id = brands[sc.brand]
        source.enabled = sc.enabled
        source.interval_s = sc.interval
        source.config = {"query": sc.query, "brand": sc.brand, **sc.options}
        session.add(source)
        existing[sc.name] = source
    session.flush()
    return {name: s.id for name, s in existing.items()}


def _sync_templates(session: Session, cfg: AppConfig, brands: dict[str, int]) -> None:
    existing = {(t.brand_id, t.name): t for t in session.scalars(select(Template))}
    for tc in cfg.templates:
        brand_id = brands[tc.brand] if tc.brand else None
        template = existing.get((brand_id, tc.name)) or Template(brand_id=brand_id, name=tc.name)
        template.body = tc.body
        template.topics = list(tc.topics)
        template.sentiments = list(tc.sentiments)
        session.add(template)


def sync_config(session: Session, cfg: AppConfig) -> CatalogIds:
    """Create or update brands, handles, sources and templates named in the config."""
    brands = _sync_brands(session, cfg)
    sources = _sync_sources(session, cfg, brands)
    _sync_templates(session, cfg, brands)
    session.flush()
    return CatalogIds(brands=brands, sources=sources)


def ensure_brand(session: Session, name: str) -> int:
    """The id of the brand called ``name``, creating it when an import names a new one."""
    brand_id = session.scalar(select(Brand.id).where(Brand.name == name))
    if brand_id is None:
        brand = Brand(name=name)
        session.add(brand)
        session.flush()
        brand_id = brand.id
    return brand_id
