"""A mention's conversation: thread, author history, classification, claim, composer and timeline."""

from __future__ import annotations

from datetime import UTC, datetime

import streamlit as st

from console.services import audit, triage
from console.services.composer import variables_for
from console.services.conversation import author_history
from console.services.inbox import MentionDetail, mention_detail
from console.services.outbox import OutboxError
from console.services.permissions import Actor, Permission, PermissionDenied
from console.services.replying import retry_reply
from console.services.settings import effective_voice_rules
from console.services.voice import rules_for
from console.ui.auth_gate import require_actor
from console.ui.composer_panel import composer
from console.ui.format import PLATFORM_ICONS, SENTIMENT_CHIPS, URGENCY_CHIPS, local_time, sla_words
from console.ui.resources import get_config, get_store, sla_clocks, team_zone
from console.ui.safe import escape_markdown
from storage.enums import OPEN_STATUSES, MentionStatus, ReplyState, Sentiment, Urgency

store, zone, cfg = get_store(), team_zone(), get_config()
actor: Actor = require_actor()
REPLY_STATES = {"queued": "⏳ queued", "sending": "📤 sending", "sent": "✅ sent", "failed": "❌ failed",
                "needs_attention": "⚠️ needs a human check"}  # fmt: skip

raw_id = st.session_state.get("open_mention_id") or st.query_params.get("mention")
if not raw_id or not str(raw_id).isdigit():
    st.title("Conversation")
    st.info("Open a mention from the Inbox.")
    st.stop()
mention_id = int(str(raw_id))
st.query_params["mention"] = str(mention_id)  # a reload comes back here


def act(label: str, fn, *args: object) -> None:  # type: ignore[no-untyped-def]
    """Run one service call in its own transaction; refusals are shown, never raised."""
    try:
        with store.transaction() as session:
            fn(session, actor, *args)
    except (PermissionDenied, triage.TriageError, OutboxError) as exc:
        st.error(f"{label}: {exc}")
    else:
        st.rerun()


with store.transaction() as session:  # opening it to reply claims it (only if nobody has)
    claim = None
    exists = mention_detail(session, mention_id) is not None
    if exists and actor.can(Permission.REPLY):
        claim = triage.open_for_reply(session, actor, mention_id)
with store.read() as session:
    detail = mention_detail(session, mention_id)
    claim = triage.claim_state(session, actor, mention_id) if detail else None
    tags = triage.mention_tags(session, mention_id)
    history = author_history(session, detail.mention.author_id, exclude_id=mention_id) if detail else []
    voice = effective_voice_rules(session, cfg)
if detail is None or claim is None:
    st.warning("That mention does not exist (any more).")
    st.stop()
m = detail.mention
now = datetime.now(UTC)
handle = f"@{detail.author.handle}" if detail.author else "unknown author"
st.title(f"{PLATFORM_ICONS.get(m.platform, m.platform)} {handle}")
st.caption(
    f"{detail.brand or 'no brand'} · case MD-{m.id} · status **{m.status.value}** · "
    f"{sla_words(sla_clocks(store.url).read(m, now))}"
)


def claim_banner(d: MentionDetail) -> bool:
    """Who handles it; True when the actor may reply now."""
    if claim.mine:
        st.success(f"You are handling this mention (since {local_time(claim.since, zone)}).", icon="🙋")
        return True
    if claim.assignee:
        st.warning(f"**{claim.assignee}** is handling this mention since {local_time(claim.since, zone)}. "
                   "You can read it, but only they can send unless you take it over.", icon="🔒")  # fmt: skip
        if actor.can(Permission.REPLY) and st.button("Take over", key="take_over", icon=":material/swap_horiz:"):
            act("Take over", triage.take_over, d.mention.id)
    return False


def thread(d: MentionDetail) -> None:
    st.subheader("Conversation")
    for post in d.thread:
        who = "🏢 brand" if post.is_brand_post else "👤 customer"
        with st.container(border=True):
            marker = " · **this mention**" if post.id == d.mention.id else ""
            st.caption(f"{who} · {local_time(post.created_at, zone)}{marker}")
            st.markdown(escape_markdown(post.text))
    replies_live(d.mention.id)


@st.fragment(run_every=5)
def replies_live(mid: int) -> None:
    """Our replies, refreshing on their own: queued → sent, or failed with the reason and a retry."""
    with store.read() as session:
        d = mention_detail(session, mid)
    for reply in d.replies if d else []:
        state = ReplyState(reply.state).value
        with st.container(border=True):
            st.caption(f"↪️ our reply · {REPLY_STATES.get(state, state)} · {local_time(reply.created_at, zone)}")
            st.markdown(escape_markdown(reply.text))
            if state == "sent" and reply.external_url:
                st.caption(f"posted: {reply.external_url}")
            if state == "failed":
                st.error(f"Not sent: {reply.last_error or 'no reason recorded'}")
                if st.button("Retry", key=f"retry_{reply.id}"):
                    act("Retry", retry_reply, reply.id)


def classification(d: MentionDetail) -> None:
    st.subheader("Classification")
    c = d.classification
    if c is not None:
        conf = max(c.p_negative, c.p_neutral, c.p_positive)
        st.write(f"{SENTIMENT_CHIPS.get(d.mention.sentiment or '', '—')} ({conf:.0%} confident) · "
                 f"{URGENCY_CHIPS.get(d.mention.urgency or '', '—')}")  # fmt: skip
        reasons = [s.get("reason") for s in c.explanation or [] if isinstance(s, dict) and s.get("reason")]
        st.caption(f"why: {escape_markdown('; '.join(map(str, reasons)) or ', '.join(c.topics or []) or '—')} · "
                   f"{escape_markdown(c.model_name)} {escape_markdown(c.model_version)}")  # fmt: skip
    else:
        st.caption("Not classified yet.")
    if not actor.can(Permission.TRIAGE):
        return
    a, b = st.columns(2)
    sentiments, urgencies = [s.value for s in Sentiment], [u.value for u in Urgency]
    new_s = a.selectbox("Sentiment", sentiments, index=_index(sentiments, d.mention.sentiment), key="fix_sentiment")
    new_u = b.selectbox("Urgency", urgencies, index=_index(urgencies, d.mention.urgency), key="fix_urgency")
    if st.button("Save label correction", key="save_labels"):
        try:
            with store.transaction() as session:
                triage.correct_label(session, actor, d.mention.id, "sentiment", new_s)
                triage.correct_label(session, actor, d.mention.id, "urgency", new_u)
        except (PermissionDenied, triage.TriageError) as exc:
            st.error(str(exc))
        else:
            st.toast("Correction saved as label feedback")
            st.rerun()


def _index(options: list[str], value: str | None) -> int:
    return options.index(value) if value in options else 0


def status_and_notes(d: MentionDetail) -> None:
    st.subheader("Status and notes")
    statuses = [s.value for s in MentionStatus]
    new_status = st.selectbox("Status", statuses, index=statuses.index(d.mention.status.value), key="status_pick")
    if st.button("Update status", key="status_save", disabled=not actor.can(Permission.TRIAGE)):
        act("Status", triage.set_status, d.mention.id, new_status)
    st.caption("Tags: " + (", ".join(escape_markdown(t) for t in tags) or "none"))
    for note in d.notes:
        st.caption(f"📝 {local_time(note.created_at, zone)}: {escape_markdown(note.body)}")
    body = st.text_area("Internal note (never posted)", key="note_body", height=80)
    if st.button("Add note", key="note_add", disabled=not body.strip() or not actor.can(Permission.TRIAGE)):
        act("Note", triage.add_note, d.mention.id, body)


def author_panel(d: MentionDetail) -> None:
    st.subheader("Author")
    if d.author is None:
        st.caption("Unknown author.")
        return
    a = d.author
    badges = " ".join(b for b, on in (("✔ verified", a.verified), ("⭐ VIP", a.is_vip)) if on)
    st.write(f"{escape_markdown(a.display_name or a.handle)} · {a.followers:,} followers {badges}")
    if not history:
        st.caption("No earlier mentions.")
    for past in history:
        chip = SENTIMENT_CHIPS.get(past.mention.sentiment or "", "—")
        st.caption(f"{local_time(past.mention.created_at, zone)} · {chip} · {escape_markdown(past.mention.text[:140])}")
        for r in past.replies:
            st.caption(f"  ↪️ {ReplyState(r.state).value}: {escape_markdown(r.text[:140])}")


def timeline(mid: int) -> None:
    st.subheader("Activity")
    with store.read() as session:
        events = audit.mention_timeline(session, mid)
    if not events:
        st.caption("No activity yet.")
    for e in events:
        change = f"{e.before or ''} → {e.after or ''}" if e.before else f"{e.after or ''}"
        st.caption(f"{local_time(e.at, zone)} · {escape_markdown(e.actor)} · **{e.action}** {escape_markdown(change)}")


def not_replyable(d: MentionDetail) -> None:
    st.info(f"This mention cannot be answered from here: {d.mention.replyable_reason or 'listen-only source'}.")
    if d.mention.url:
        st.code(d.mention.url, language=None)  # has a copy button
        st.link_button("Open on the network", d.mention.url)
    if d.mention.status in OPEN_STATUSES and st.button("Mark handled", key="mark_handled"):
        act("Mark handled", triage.set_status, d.mention.id, MentionStatus.RESOLVED)


left, right = st.columns([3, 2], gap="large")
with left:
    may_reply = claim_banner(detail)
    thread(detail)
    if st.session_state.pop(f"sent_{m.id}", False):
        st.success("Reply queued: it shows as sent here once the network confirms it.")
    st.subheader("Reply")
    if not m.replyable:
        not_replyable(detail)
    elif not actor.can(Permission.REPLY):
        st.info(f"Your role ({actor.role.value}) can read and export, not reply.")
    elif may_reply:
        rules = rules_for(voice, detail.brand)
        values = variables_for(m, detail.author, detail.brand, actor, rules.sign_off_example)
        topics = list(detail.classification.topics or []) if detail.classification else []
        composer(store, actor, detail, values, rules, topics)
with right:
    author_panel(detail)
    classification(detail)
    status_and_notes(detail)
    timeline(m.id)
