"""Run a service call from a page: one transaction, and a refusal shown in words instead of a traceback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import streamlit as st

from console.services.errors import ServiceError
from console.services.store import Store


def run_action(label: str, store: Store, fn: Callable[..., Any], *args: Any, rerun: bool = True, **kwargs: Any) -> bool:
    """Call ``fn(session, *args, **kwargs)`` in its own transaction; refusals are shown, never raised.

    Returns True when it went through (and reruns the page unless ``rerun`` is false).
    """
    try:
        with store.transaction() as session:
            fn(session, *args, **kwargs)
    except ServiceError as exc:
        st.error(f"{label}: {exc}")
        return False
    if rerun:
        st.rerun()
    return True
