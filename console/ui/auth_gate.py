"""Who is signed in: the session token lives in ``st.session_state`` and in a cookie.

``st.context.cookies`` reads the cookie the browser sent when it opened the page, so a reload
keeps people signed in.  Streamlit cannot set cookies itself; the ``cookie_manager`` component of
``extra-streamlit-components`` does it from the browser, as strictly as a script can: Path=/,
SameSite=Strict, and Secure when the page was served over https.  A script cannot set HttpOnly;
docs/sign-in.md gives the reverse-proxy setting that adds it.  Only a random token is in the cookie;
the store keeps its hash, and sign-out revokes it there, so an old cookie is worthless.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

import streamlit as st

from console.services.auth import SESSION_COOKIE, SignInError, SignInThrottled, authenticate, resolve_session, sign_out
from console.services.permissions import Actor
from console.ui.resources import get_config, get_store

TOKEN_KEY = "auth_token"  # noqa: S105 - a session_state key, not a secret
COOKIE_ACTION_KEY = "auth_cookie_action"

log = logging.getLogger(__name__)


def pick_client_address(peer: str | None, forwarded_for: str | None, trusted_proxies: int) -> str | None:
    """The client's address: the TCP peer, or with N trusted proxies the Nth X-Forwarded-For entry from the right.

    Entries further left were written by the client itself and could say anything, so they are
    never used while the chain is as long as the configured proxies.
    """
    if trusted_proxies <= 0 or not forwarded_for:
        return peer
    chain = [part.strip() for part in forwarded_for.split(",") if part.strip()]
    if not chain:
        return peer
    return chain[-trusted_proxies] if len(chain) >= trusted_proxies else chain[0]


def client_address() -> str | None:
    """The address this browser connects from, as the sign-in throttle counts it (None when local)."""
    try:
        peer = st.context.ip_address
        forwarded = ", ".join(st.context.headers.get_all("X-Forwarded-For"))
    except Exception:  # noqa: BLE001 - no browser context (bare mode, tests)
        return None
    return pick_client_address(peer, forwarded or None, get_config().security.trusted_proxies)


def _served_over_https() -> bool:
    """Whether the browser's address bar says https (also behind a TLS-terminating proxy)."""
    try:
        return str(st.context.url or "").lower().startswith("https://")
    except Exception:  # noqa: BLE001 - no browser context (bare mode, tests)
        return False


def _cookie_component(**kwargs: object) -> object:
    from extra_streamlit_components.CookieManager import _component_func  # the maintained component's frontend

    return _component_func(**kwargs)


def session_token() -> str | None:
    """This browser tab's token: from session state, else from the cookie sent with the page."""
    token = st.session_state.get(TOKEN_KEY)
    if token:
        return str(token)
    if st.session_state.get(COOKIE_ACTION_KEY, {}).get("method") == "delete":
        return None  # signed out in this tab; the browser may still send the old (revoked) cookie
    try:
        cookie = st.context.cookies.get(SESSION_COOKIE)
    except Exception:  # noqa: BLE001 - no browser context (bare mode, tests)
        cookie = None
    return str(cookie) if cookie else None


def current_actor() -> Actor | None:
    """The signed-in person, re-checked against the store on every run (revocation applies at once)."""
    token = session_token()
    if not token:
        return None
    with get_store().transaction() as session:  # notes the visit, at most once a minute, for the idle timeout
        actor = resolve_session(session, token, idle_timeout=get_config().security.session_idle_timeout)
    if actor is not None:
        st.session_state[TOKEN_KEY] = token
    return actor


def sync_cookie() -> None:
    """Render the cookie component while a set/delete is pending (zero height, in the sidebar)."""
    action = st.session_state.get(COOKIE_ACTION_KEY)
    if not action:
        return
    with st.sidebar:
        if action["method"] == "set":
            _cookie_component(
                method="set",
                cookie=SESSION_COOKIE,
                value=action["value"],
                key="md_cookie_set",
                options=cookie_options(action["expires"], secure=bool(action.get("secure"))),
                default=False,
            )
        else:
            _cookie_component(method="delete", cookie=SESSION_COOKIE, key="md_cookie_delete", default=False)


def cookie_options(expires: str, *, secure: bool) -> dict[str, object]:
    """The strictest attributes a script may set; HttpOnly is refused from JavaScript, so a proxy adds it."""
    options: dict[str, object] = {"path": "/", "expires": expires, "sameSite": "strict"}
    if secure:
        options["secure"] = True
    return options


def sign_in_form() -> None:
    """The sign-in page: username and password, with a clear message when slowed down."""
    st.title("Sign in to mentiondesk")
    with st.form("sign_in", clear_on_submit=False):
        username = st.text_input("Username", key="signin_user")
        password = st.text_input("Password", type="password", key="signin_password")
        submitted = st.form_submit_button("Sign in", type="primary")
    if submitted:
        try:
            signed = authenticate(
                get_store(), username, password, client_address=client_address(), security=get_config().security
            )
        except SignInThrottled as exc:
            st.error(f"Too many failed sign-ins. Try again in {int(exc.retry_in.total_seconds()) + 1} s.")
        except SignInError:
            st.error("Wrong username or password.")
        else:
            st.session_state[TOKEN_KEY] = signed.token
            st.session_state[COOKIE_ACTION_KEY] = {
                "method": "set",
                "value": signed.token,
                "expires": signed.expires_at.isoformat(),
                "secure": _served_over_https(),
            }
            st.rerun()
    st.caption("Single sign-on can be enabled instead: see docs/sign-in.md.")


def sign_out_button(actor: Actor) -> None:
    """The signed-in person, their role, and a sign-out button (in the sidebar)."""
    with st.sidebar:
        st.caption(f"Signed in as **{actor.display_name or actor.username}** · {actor.role.value}")
        if st.button("Sign out", key="sign_out", icon=":material/logout:"):
            with get_store().transaction() as session:
                sign_out(session, st.session_state.get(TOKEN_KEY), now=datetime.now(UTC))
            st.session_state.pop(TOKEN_KEY, None)
            st.session_state[COOKIE_ACTION_KEY] = {"method": "delete"}
            st.rerun()


def require_actor() -> Actor:
    """For pages: the signed-in actor, or stop with a sign-in hint (pages run alone in tests too)."""
    actor = current_actor()
    if actor is None:
        st.warning("Please sign in.")
        st.stop()
    return actor
