"""Source credentials: the environment first, then ``.streamlit/secrets.toml``; never logged.

A source called ``x-mentions-skyline`` reads its ``bearer_token`` from
``MENTIONDESK_X_MENTIONS_SKYLINE_BEARER_TOKEN``, else from ``[sources.x-mentions-skyline]
bearer_token`` in the secrets file.  A missing value is a plain-words
:class:`~connectors.base.FatalError` that names the variable to set, so the source shows unhealthy
with a reason a person can act on.  Values are never part of a message, a ``repr`` or a log line: each
value handed out is given to :mod:`console.log_redaction`, and :func:`configured_secret_values` lists every
value configured, for the redactor installed at start-up.
"""

from __future__ import annotations

import contextlib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from connectors.base import FatalError
from console.log_redaction import remember

ENV_PREFIX = "MENTIONDESK_"
SECRETS_ENV = "MENTIONDESK_SECRETS_FILE"
DEFAULT_SECRETS_FILE = Path(".streamlit") / "secrets.toml"
_NOT_WORD = re.compile(r"[^A-Za-z0-9]+")
NOT_SECRET_ENV = frozenset(
    ENV_PREFIX + name
    for name in (
        "CONFIG",
        "SECRETS_FILE",
        "DATA_DIR",
        "CONSOLE_URL",
        "MODEL",
        "CHROMIUM",
        "SMTP_HOST",
        "SMTP_PORT",
        "SMTP_USER",
        "SMTP_STARTTLS",
        "ALERT_EMAIL_TO",
        "ALERT_EMAIL_FROM",
        "DATABASE_URL",
        "TEST_PG_URL",
    )
)
"""``MENTIONDESK_*`` settings that are not credentials; every other ``MENTIONDESK_*`` value counts as one.
Database URLs are settings, but their passwords are credentials (:func:`configured_secret_values`)."""


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
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
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
        if not value:
            section = (self.file.get("sources") or {}).get(source) or {}
            stored = section.get(key) if isinstance(section, Mapping) else None
            value = str(stored) if stored not in (None, "") else None
        remember(value)
        return value

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


def configured_secret_values(env: Mapping[str, str] | None = None, path: Path | None = None) -> list[str]:
    """Every credential configured, for the log redactor.

    That is every ``MENTIONDESK_*`` value but :data:`NOT_SECRET_ENV`, database URL passwords, and every text in
    the secrets file (an unreadable file gives none here; reading it for a source says why).
    """
    env = os.environ if env is None else env
    values = [v for k, v in env.items() if k.startswith(ENV_PREFIX) and k not in NOT_SECRET_ENV and v]
    values += [p for k in ("MENTIONDESK_DATABASE_URL", "MENTIONDESK_TEST_PG_URL") if (p := _url_password(env.get(k)))]
    with contextlib.suppress(FatalError):
        values += _texts(_read_file(path or secrets_file()))
    return values


def _url_password(url: str | None) -> str | None:
    if not url:
        return None
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).password or None
    except Exception:  # not a URL: nothing to redact from it
        return None


def _texts(value: Any) -> list[str]:
    """Every string inside a TOML table, however deep."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return []


__all__ = ["MissingSecretError", "Secrets", "configured_secret_values", "env_name", "secrets_file"]
