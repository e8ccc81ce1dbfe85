"""The composer panel: templates, suggestions, live count, voice findings and Send."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

from console.config import VoiceRules
from console.domain.voice import Finding, check_reply
from console.services.errors import ServiceError
from console.services.inbox import MentionDetail
from console.services.permissions import Actor
from console.services.replies.composer import (
    TemplateError,
    agent_sign_off,
    char_count,
    list_templates,
    personalise,
    platform_limit,
    preselect,
    render,
)
from console.services.replies.drafts import discard_draft, draft_of, save_draft
from console.services.replies.outbox import UnresolvedReplyError
from console.services.replies.send import Draft, NeedsConfirmation, VoiceCheckFailed, new_send_key, send_reply
from console.services.replies.suggestions import EMBEDDING_POOL_SIZE, POOL_SIZE, suggest_replies
from console.services.store import Store
from console.ui.resources import suggestion_encoder
from console.ui.safe import escape_markdown, md, plain


def _keys(mention_id: int) -> tuple[str, str]:
    """The draft widget's key (a new one after each send, so the box empties) and the send key's."""
    version = st.session_state.get(f"draft_version_{mention_id}", 0)
    draft = f"draft_{mention_id}" if not version else f"draft_{mention_id}_{version}"
    return draft, f"send_key_{mention_id}"


def _use(mention_id: int, text: str, template_id: int | None = None) -> None:
    draft_key, _ = _keys(mention_id)
    st.session_state[draft_key] = text
    st.session_state[f"template_{mention_id}"] = template_id


def show_findings(findings: list[Finding]) -> None:
    """Each finding: what is wrong and how to fix it; blocking in red, warnings in amber."""
    for f in findings:
        # a finding quotes the draft (a signature, an e-mail address it would expose): text, never a link
        message = f"**{'Blocked' if f.blocking else 'Check'}:** {md(f.problem, 300)}. *Fix:* {md(f.fix, 300)}."
        (st.error if f.blocking else st.warning)(message, icon="⛔" if f.blocking else "⚠️")


def _templates(store: Store, detail: MentionDetail, values: dict[str, str], topics: list[str]) -> None:
    m = detail.mention
    with st.expander("Saved replies", expanded=True):
        search = st.text_input("Search saved replies", key=f"tpl_search_{m.id}")
        topic_words = md(", ".join(t.replace("_", " ") for t in topics), 120) or "none"
        only_topic = st.toggle(f"Only for this topic ({topic_words})", key=f"tpl_topic_{m.id}")
        with store.read() as session:
            templates = list_templates(
                session,
                brand_id=m.brand_id,
                topics=topics,
                search=search,
                topic_only=only_topic,
                sentiment=m.sentiment,
            )
        if not templates:
            st.caption("No saved reply matches.")
            return
        best = preselect(templates, topics, m.sentiment)
        chosen = st.selectbox(
            "Template",
            templates,
            index=templates.index(best) if best is not None else None,
            format_func=lambda t: plain(t.name, 120),
            key=f"tpl_pick_{m.id}",
            placeholder="Choose a saved reply (none fits this mention's topic and mood)",
        )
        if chosen is not None:
            try:
                preview = render(chosen.body, values)
            except TemplateError as exc:
                st.error(str(exc))
                return
            st.caption(escape_markdown(preview, 2_000))
            st.button("Use this reply", key=f"tpl_use_{m.id}", on_click=_use, args=(m.id, preview, chosen.id))


def _suggestions(store: Store, actor: Actor, detail: MentionDetail, values: dict[str, str], rules: VoiceRules) -> None:
    with st.expander("Suggested from past replies"):
        flag = f"suggest_{detail.mention.id}"
        if not st.session_state.get(flag):
            st.caption("Finds the team's past replies to the most similar mentions (sentence embeddings).")
            if st.button("Find similar past replies", key=f"find_{flag}"):
                st.session_state[flag] = True
                st.rerun()
            return
        encoder = suggestion_encoder()
        pool = EMBEDDING_POOL_SIZE if encoder is not None else POOL_SIZE
        with store.read() as session:
            found = suggest_replies(session, actor, detail.mention, k=3, encoder=encoder, pool_size=pool)
        if not found:
            st.caption("No similar past replies yet.")
        for i, s in enumerate(found):
            text = personalise(s.reply_text, old_names=s.customer_names, values=values, sign_off_pattern=rules.sign_off)
            st.markdown(f"{escape_markdown(text, 2_000)}  \n*similar to:* {md(s.answered, 120)}")
            st.button(
                f"Use suggestion {i + 1} ({s.score:.0%} similar)",
                key=f"sug_{detail.mention.id}_{i}",
                on_click=_use,
                args=(detail.mention.id, text),
            )


def _restore_draft(store: Store, actor: Actor, mention_id: int, draft_key: str) -> None:
    """A reload, another tab or a takeover and back: the kept draft comes back into the box."""
    if draft_key in st.session_state:
        return
    with store.read() as session:
        kept = draft_of(session, actor, mention_id)
    if kept is not None:
        st.session_state[draft_key] = kept.text


def _keep_draft(store: Store, actor: Actor, mention_id: int, text: str) -> None:
    if st.session_state.get(f"kept_{mention_id}") == text:
        return
    with store.transaction() as session:
        save_draft(session, actor, mention_id, text)
    st.session_state[f"kept_{mention_id}"] = text


def composer(
    store: Store,
    actor: Actor,
    detail: MentionDetail,
    values: dict[str, str],
    rules: VoiceRules,
    topics: list[str],
    *,
    then_next: Callable[[], None] | None = None,
) -> None:
    """Compose and send; the service re-checks role, claim and voice whatever this panel shows.

    The draft is kept in the store as the agent writes, so a takeover or a reload never loses it.
    ``then_next`` moves to the next mention of the Inbox view after "Send & next".
    """
    m = detail.mention
    draft_key, send_key = _keys(m.id)
    st.session_state.setdefault(send_key, new_send_key())
    _restore_draft(store, actor, m.id, draft_key)
    _templates(store, detail, values, topics)
    _suggestions(store, actor, detail, values, rules)
    limit = platform_limit(m.platform)
    text = st.text_area("Reply", key=draft_key, height=140, max_chars=limit, placeholder="Write a reply…")
    _keep_draft(store, actor, m.id, text)
    st.caption(f"{char_count(text, m.platform).words()} · {md(m.platform, 20)}")
    own = agent_sign_off(actor, rules)
    findings = (
        check_reply(text, rules, sentiment=m.sentiment, platform_limit=limit, sign_off=own) if text.strip() else []
    )
    show_findings(findings)
    blocking = any(f.blocking for f in findings)
    confirmed = False
    if findings and not blocking:
        confirmed = st.checkbox("I have read the warnings; send anyway", key=f"confirm_{m.id}")
    unresolved = False
    if st.session_state.get(f"parked_{m.id}"):
        unresolved = st.checkbox(
            "I checked the thread on the network: the earlier reply is not there",
            key=f"unresolved_{m.id}",
            help="A manager can also settle the parked reply above; confirming settles it as not posted",
        )
    send, send_next, _ = st.columns([1, 1, 1])
    disabled = not text.strip() or blocking
    clicked = send.button("Send reply", type="primary", icon=":material/send:", key=f"send_{m.id}", disabled=disabled)
    clicked_next = then_next is not None and send_next.button(
        "Send & next",
        icon=":material/skip_next:",
        key=f"send_next_{m.id}",
        disabled=disabled,
        help="Send, then open the next mention of your Inbox view",
    )
    if clicked or clicked_next:
        draft = Draft(text, st.session_state[send_key], st.session_state.get(f"template_{m.id}"), confirmed, unresolved)
        if _send(store, actor, m.id, draft, rules):
            if clicked_next and then_next is not None:
                then_next()  # switches page: never returns
            st.rerun()


def _send(store: Store, actor: Actor, mention_id: int, draft: Draft, rules: VoiceRules) -> bool:
    try:
        with store.transaction() as session:
            send_reply(session, actor, mention_id, draft, rules)
            discard_draft(session, actor, mention_id)
    except VoiceCheckFailed as exc:
        show_findings(exc.findings)
        return False
    except NeedsConfirmation:
        st.warning("Tick the confirmation to send despite the warnings.")
        return False
    except UnresolvedReplyError as exc:
        st.session_state[f"parked_{mention_id}"] = True
        st.warning(f"{exc} Tick the box above the Send button once you have checked.")
        return False
    except ServiceError as exc:
        st.error(str(exc))
        return False
    st.session_state[_keys(mention_id)[1]] = new_send_key()
    st.session_state[f"sent_{mention_id}"] = True
    st.session_state.pop(_keys(mention_id)[0], None)
    st.session_state.pop(f"kept_{mention_id}", None)
    st.session_state.pop(f"parked_{mention_id}", None)
    st.session_state[f"draft_version_{mention_id}"] = st.session_state.get(f"draft_version_{mention_id}", 0) + 1
    return True
