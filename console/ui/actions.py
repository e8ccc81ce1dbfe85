"""Run a service call from a page: one transaction, and a refusal shown in words instead of a traceback.

Every refusal derives from :class:`~console.services.errors.ServiceError`, so these two helpers are the only
place a page catches one: :func:`run_action` for a change, :func:`shown_refusals` where the page needs the
result.  Anything else (a bug, a lost database) still raises, so it is never mistaken for a refusal.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import streamlit as st

from console.services.errors import ServiceError
from console.services.store import Store


@contextmanager
def shown_refusals(label: str) -> Iterator[None]:
    """Show a refusal raised inside the block as ``label: message`` and carry on after the block."""
    try:
        yield
    except ServiceError as exc:
        st.error(f"{label}: {exc}")


def run_action(label: str, store: Store, fn: Callable[..., Any], *args: Any, rerun: bool = True, **kwargs: Any) -> bool:
    """Call ``fn(session, *args, **kwargs)`` in its own transaction; refusals are shown, never raised.

    Returns True when it went through (and reruns the page unless ``rerun`` is false).
    """
    done = False
    with shown_refusals(label), store.transaction() as session:
        fn(session, *args, **kwargs)
        done = True
    if done and rerun:
        st.rerun()
    return done
