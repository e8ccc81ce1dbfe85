"""Run a service call from a page: one transaction, and a refusal or a database failure shown in words.

Every refusal derives from :class:`~console.services.errors.ServiceError`, so these helpers are the only place a
page catches one: :func:`run_action` for a change, :func:`shown_refusals` where the page needs the result.  A
database that is locked, down or refusing a value is not a refusal but it is not a bug either: staff get one
plain sentence (:func:`database_trouble`) and the details (SQL, parameters, traceback) go to the log, never to
the page.  :func:`database_errors_in_words` does the same for a whole page (``streamlit_app.py`` wraps every
page in it) or a fragment, with a "Try again" button.  Anything else (a bug) still raises, so it is never
mistaken for a refusal; Streamlit's own rerun and stop signals are ``BaseException`` and pass through untouched.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from console.services.errors import ServiceError
from console.services.store import Store

log = logging.getLogger(__name__)

DATABASE_ERRORS: tuple[type[Exception], ...] = (DBAPIError, PoolTimeoutError)
"""What the database (or the pool in front of it) raises when it cannot serve a page."""
BUSY = "The database is busy (another process is writing). Nothing was lost. Try again in a moment."
DOWN = "The database is not reachable right now. Nothing was lost. Try again in a moment."
REFUSED = (
    "The database refused a value (too long, out of range or with a character it cannot store), "
    "so nothing was saved. Check what you entered and try again."
)
FAILED = "The database could not finish this request. Nothing was lost. Try again in a moment."
_BUSY_STATES = {"55P03", "40P01", "40001", "57014"}
"""PostgreSQL: lock not available, deadlock, serialization failure, statement timeout."""
_BUSY_WORDS = ("database is locked", "database table is locked", "database is busy")
_DOWN_WORDS = ("connection", "could not connect", "server closed", "unable to open database", "terminating")


def database_trouble(exc: BaseException) -> str:
    """The one sentence staff read for a database failure: busy, not reachable, refused a value, or failed."""
    if isinstance(exc, PoolTimeoutError):
        return BUSY
    if isinstance(exc, DataError | IntegrityError):
        return REFUSED
    orig = getattr(exc, "orig", None)
    state = str(getattr(orig, "sqlstate", "") or "")
    message = str(orig or exc).lower()
    if state in _BUSY_STATES or any(word in message for word in _BUSY_WORDS):
        return BUSY
    down = isinstance(exc, DBAPIError) and exc.connection_invalidated
    if down or state[:2] in ("08", "57") or (isinstance(exc, OperationalError) and _says_down(message)):
        return DOWN
    return FAILED


def _says_down(message: str) -> bool:
    return any(word in message for word in _DOWN_WORDS)


def _logged(exc: BaseException, where: str) -> str:
    """Log the full failure (with SQL and parameters) and return the sentence for the page."""
    sentence = database_trouble(exc)
    log.error("database failure on %s (%s)", where, sentence, exc_info=exc)
    return sentence


@contextmanager
def database_errors_in_words(where: str = "page") -> Iterator[None]:
    """Show a database failure inside the block as one sentence and a "Try again" button; log the details.

    Also a decorator, for fragments that rerun on their own (``@st.fragment`` above it).
    """
    try:
        yield
    except DATABASE_ERRORS as exc:
        st.error(_logged(exc, where), icon=":material/database:")
        st.button("Try again", key=f"database_retry_{where}", icon=":material/refresh:")  # a click reruns


@contextmanager
def shown_refusals(label: str) -> Iterator[None]:
    """Show a refusal or a database failure raised inside the block as ``label: message``; carry on after it."""
    try:
        yield
    except ServiceError as exc:
        st.error(f"{label}: {exc}")
    except DATABASE_ERRORS as exc:
        st.error(f"{label}: {_logged(exc, label)}", icon=":material/database:")


def run_action(label: str, store: Store, fn: Callable[..., Any], *args: Any, rerun: bool = True, **kwargs: Any) -> bool:
    """Call ``fn(session, *args, **kwargs)`` in its own transaction; refusals are shown, never raised.

    Returns True when it went through (and reruns the page unless ``rerun`` is false).
    """
    done = False
    with shown_refusals(label):
        with store.transaction() as session:
            fn(session, *args, **kwargs)
        done = True  # after the commit: a commit the database refused is not done
    if done and rerun:
        st.rerun()
    return done
