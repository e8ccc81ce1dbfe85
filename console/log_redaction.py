"""Keep credentials out of every log line, whichever library wrote it and at whatever verbosity.

Libraries log what they send: at ``-vv`` ``requests_oauthlib`` and ``oauthlib`` print the OAuth 1 consumer key,
the access token and the signature, ``tweepy`` prints the bearer token, ``urllib3`` prints query strings.  We
cannot fix each library, so one :class:`SecretRedactor` sits on the root logger's handlers (every record
that reaches a handler passes through it) and rewrites the formatted message, its traceback and stack, with:

* every configured secret value (the environment and ``.streamlit/secrets.toml``, see
  :func:`console.secrets.configured_secret_values`), also percent-encoded once and twice as it appears in
  OAuth base strings; values shorter than :data:`MIN_SECRET_LENGTH` are left alone, they would mangle words;
* credential shapes, configured or not: ``Authorization``/``Cookie`` headers, ``Bearer``/``Basic`` tokens,
  ``oauth_token=…``-style parameters, ``password=…``/``"access_token": …`` pairs, JWTs, URL passwords.

Installing is idempotent (:func:`install`); values read later through :class:`console.secrets.Secrets` are
added as they are read (:func:`remember`).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
MIN_SECRET_LENGTH = 6
"""Shorter values are not redacted by value: ``"abc"`` would be cut out of every word that holds it."""

_HEADER_NAMES = r"(?:proxy-)?authorization|x-api-key|api-key|cookie|set-cookie"
_CREDENTIAL_FIELDS = (
    r"access_token|refresh_token|id_token|bearer_token|token_secret|access_token_secret|client_secret|"
    r"consumer_secret|consumer_key|client_key|resource_owner_key|resource_owner_secret|app_password|password|"
    r"passwd|api_key|apikey|secret|accessjwt|refreshjwt"
)
_SHAPES: tuple[re.Pattern[str], ...] = (
    # "Authorization: Bearer x", "'Authorization': 'OAuth oauth_nonce=\"1\", …'", "b'OAuth …'"
    re.compile(
        rf"""(?P<keep>\b(?:{_HEADER_NAMES})['"]?\s*[:=]\s*(?-i:b)?)(?P<value>'[^'\r\n]*'|"[^"\r\n]*"|[^\r\n,}}]+)""",
        re.I,
    ),
    re.compile(r"(?P<keep>\bBearer\s+)(?P<value>[A-Za-z0-9\-._~+/=%]{8,})", re.I),
    # OAuth 1 parameters, plain (oauth_token="x", oauth_token=x&) or percent-encoded in a base string
    re.compile(
        r"(?P<keep>oauth_(?:consumer_key|token|token_secret|signature|verifier)\s*(?:=|%3D|%253D)\s*)"
        r"""(?P<value>"[^"]*"|%22(?:(?!%22).)*%22|(?:(?!%26|%2526)[^&\s,"'\[\])}>])+)""",
        re.I,
    ),
    # password=x, client_key=x (oauthlib's Client repr), token="x"; then "access_token": "x", 'password': 'x'
    re.compile(rf"""(?P<keep>\b(?:{_CREDENTIAL_FIELDS})\s*=\s*)(?P<value>"[^"]*"|'[^']*'|[^"'&\s,;)}}\[\]>]+)""", re.I),
    re.compile(rf"""(?P<keep>\b(?:{_CREDENTIAL_FIELDS})["']\s*:\s*(?-i:b)?)(?P<value>"[^"\r\n]*"|'[^'\r\n]*')""", re.I),
    re.compile(r"(?P<keep>)(?P<value>\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*)"),  # a JWT
    re.compile(r"(?P<keep>\b[a-z][a-z0-9+.-]*://[^:/\s@'\"]+:)(?P<value>[^@\s/'\"]+)(?=@)", re.I),  # URL password
)


def _blank(match: re.Match[str]) -> str:
    """The match with its value replaced, quotes (and an already redacted value) kept."""
    value = match["value"]
    if value == REDACTED:
        return match[0]
    for quote_mark in ("'", '"', "%22"):
        if len(value) >= 2 * len(quote_mark) and value.startswith(quote_mark) and value.endswith(quote_mark):
            return f"{match['keep']}{quote_mark}{REDACTED}{quote_mark}"
    return match["keep"] + REDACTED


def encodings(value: str) -> set[str]:
    """``value`` as it may appear in a log line: raw, percent-encoded once and twice, form-encoded."""
    once = quote(value, safe="")
    return {value, once, quote(once, safe=""), quote_plus(value), quote(value, safe="/:")}


class SecretRedactor(logging.Filter):
    """A handler filter that redacts secret values and credential shapes from each record; never drops one."""

    def __init__(self, values: Iterable[str] = ()) -> None:
        super().__init__()
        self._lock = threading.Lock()
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        self.add(values)

    def add(self, values: Iterable[str | None]) -> None:
        """Redact these values from now on (short or empty ones are ignored)."""
        fresh = {v for v in values if isinstance(v, str) and len(v.strip()) >= MIN_SECRET_LENGTH}
        with self._lock:
            forms = {form for v in fresh for form in encodings(v)} - self._values
            if not forms:
                return
            self._values |= forms
            ordered = sorted(self._values, key=len, reverse=True)  # longest first: an encoded form before its raw
            self._pattern = re.compile("|".join(map(re.escape, ordered)))

    def redact(self, text: str) -> str:
        """``text`` with every known value and credential shape replaced by ``[redacted]``."""
        pattern = self._pattern
        if pattern is not None:
            text = pattern.sub(REDACTED, text)
        for shape in _SHAPES:
            text = shape.sub(_blank, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        """Format the message now (args included), redact it, and redact its traceback and stack."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep everything, redacted, rather than the raw args
            message = f"{record.msg!s} {record.args!r}"
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


REDACTOR = SecretRedactor()
"""The process's one redactor: every handler :func:`install` reaches shares it."""


def remember(value: str | None) -> None:
    """Redact ``value`` from now on (``Secrets`` calls this for each credential it hands out)."""
    REDACTOR.add([value] if value else [])


def install(values: Iterable[str] = ()) -> SecretRedactor:
    """Put :data:`REDACTOR` on every handler of the root logger (and of any other logger) and ``lastResort``.

    Call it after the handlers exist (after ``logging.basicConfig``); calling again adds values and reaches
    handlers added since.
    """
    REDACTOR.add(values)
    loggers = [logging.getLogger(), *(lg for lg in logging.Logger.manager.loggerDict.values())]
    handlers = [h for lg in loggers if isinstance(lg, logging.Logger) for h in lg.handlers]
    if logging.lastResort is not None:
        handlers.append(logging.lastResort)
    for handler in handlers:
        if REDACTOR not in handler.filters:
            handler.addFilter(REDACTOR)
    return REDACTOR


__all__ = ["MIN_SECRET_LENGTH", "REDACTED", "REDACTOR", "SecretRedactor", "encodings", "install", "remember"]
