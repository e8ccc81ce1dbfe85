"""Source credentials: the environment first, then ``.streamlit/secrets.toml``; never logged.

A source called ``x-mentions-skyline`` reads its ``bearer_token`` from
``MENTIONDESK_X_MENTIONS_SKYLINE_BEARER_TOKEN``, else from ``[sources.x-mentions-skyline]
bearer_token`` in the secrets file.  A missing value is a plain-words
:class:`~connectors.base.FatalError` that names the variable to set, so the source shows unhealthy
with a reason a person can act on.  Values are never part of a message, a ``repr`` or a log line.
"""

from __future__ import annotations

import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import FatalError

ENV_PREFIX = "MENTIONDESK_"
SECRETS_ENV = "MENTIONDESK_SECRETS_FILE"
DEFAULT_SECRETS_FILE = Path(".streamlit") / "secrets.toml"
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")


class MissingSecretError(FatalError):
    """A source's credential is in neither the environment nor the secrets file."""


def env_name(source: str, key: str) -> str:
    """The environment variable for ``key`` of ``source``: ``MENTIONDESK_<SOURCE>_<KEY>``."""
    parts = (_NOT_WORD.sub("_", part).strip("_").upper() for part in (source, key))
    return ENV_PREFIX + "_".join(parts)


def secrets_file() -> Path:
    """``$MENTIONDESK_SECRETS_FILE`` if set, else ``.streamlit/secrets.toml`` in the working directory."""
    return Path(os.environ.get(SECRETS_ENV) or DEFAULT_SECRETS_FILE)


def _read_file(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, tomllib.TOMLDecodeError) as exc:
        # The message names the file and the problem, never its content.
        raise FatalError(f"cannot read the secrets file {path}: {type(exc).__name__}") from None


@dataclass(frozen=True)
class Secrets:
    """Read-only view of credentials; ``repr`` never shows a value."""

    env: Mapping[str, str] = field(default_factory=lambda: os.environ, repr=False)
    file: Mapping[str, Any] = field(default_factory=dict, repr=False)
    file_path: Path | None = None

    @classmethod
    def load(cls, path: Path | None = None, env: Mapping[str, str] | None = None) -> Secrets:
        """Secrets from ``env`` (default: the process environment) and the TOML file at ``path``."""
        file_path = path or secrets_file()
        return cls(env=os.environ if env is None else env, file=_read_file(file_path), file_path=file_path)

    def get(self, source: str, key: str) -> str | None:
        """The value of ``key`` for ``source``, or ``None``; empty strings count as missing."""
        value = self.env.get(env_name(source, key))
        if value:
            return value
        section = (self.file.get("sources") or {}).get(source) or {}
        stored = section.get(key) if isinstance(section, Mapping) else None
        return str(stored) if stored not in (None, "") else None

    def require(self, source: str, *keys: str) -> dict[str, str]:
        """Every one of ``keys`` for ``source``.

        Raises:
            MissingSecretError: Naming every missing environment variable and the file section.
        """
        found = {key: self.get(source, key) for key in keys}
        missing = [key for key, value in found.items() if value is None]
        if missing:
            names = ", ".join(env_name(source, key) for key in missing)
            where = self.file_path or DEFAULT_SECRETS_FILE
            raise MissingSecretError(
                f"missing credentials for source {source!r}: set {names} "
                f"(or {', '.join(missing)} under [sources.{source}] in {where})"
            )
        return {key: value for key, value in found.items() if value is not None}


__all__ = ["MissingSecretError", "Secrets", "env_name", "secrets_file"]
