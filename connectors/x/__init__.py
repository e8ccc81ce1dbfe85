"""X (formerly Twitter) through tweepy's API v2 client."""

from connectors.x.config import XConfig
from connectors.x.connector import XConnector
from connectors.x.cursor import XCursor

__all__ = ["XConfig", "XConnector", "XCursor"]
