"""Build a connector for a leased source: platform -> builder."""

from __future__ import annotations

from collections.abc import Callable

from connectors.base import Connector, FatalError
from console.worker.leases import SourceLease

Builder = Callable[[SourceLease], Connector]


def _demo(lease: SourceLease) -> Connector:
    from connectors.demo.live import DemoConnector

    brand = lease.config.get("brand")
    return DemoConnector(brand=str(brand) if brand else None, seed=int(lease.config.get("seed", 7)))


BUILDERS: dict[str, Builder] = {"demo": _demo}


def build_connector(lease: SourceLease) -> Connector:
    """The connector for ``lease``; a platform without a builder is a plain-words fatal error."""
    builder = BUILDERS.get(lease.platform)
    if builder is None:
        raise FatalError(f"no connector for platform {lease.platform!r}")
    return builder(lease)
