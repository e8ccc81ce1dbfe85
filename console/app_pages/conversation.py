"""A mention's conversation: the whole thread, claim, composer, escalation, classification, notes, activity."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import streamlit as st
from sqlalchemy.orm import Session
from streamlit.errors import StreamlitPageNotFoundError

from console.domain.voice import rules_for
from console.services import audit, triage
from console.services.conversation import author_history
from console.services.inbox import MentionDetail, mention_detail, next_in_view
from console.services.permissions import Actor, Permission
from console.services.presence import also_viewing, check_in
from console.services.replies.composer import variables_for
from console.services.replies.drafts import discard_draft, draft_of
from console.services.replies.send import retry_reply
from console.services.settings import effective_voice_rules
from console.services.users import display_names, first_names
from console.ui.actions import database_errors_in_words, run_action
from console.ui.activity_words import describe
from console.ui.auth_gate import require_actor
from console.ui.composer_panel import composer
from console.ui.escalation_panel import escalation_panel
from console.ui.format import SENTIMENT_CHIPS, URGENCY_CHIPS, local_time, platform_words, sla_words
from console.ui.notes_panel import status_and_notes
from console.ui.parked_replies import parked_reply_panel
from console.ui.query_state import InboxView, conversation_params, inbox_link, inbox_params_after, read_view
from console.ui.resources import get_config, get_store, sla_clocks, team_zone
from console.ui.safe import link_button, md, visible
from console.ui.thread_view import REPLY_STATES, render_thread
from storage.enums import OPEN_STATUSES, MentionStatus, ReplyState, Sentiment, Urgency

store, zone, cfg = get_store(), team_zone(), get_config()
actor: Actor = require_actor()
clocks = sla_clocks(store.url)

raw_id = st.query_params.get("mention") or st.session_state.get("open_mention_id")
if not raw_id or not str(raw_id).isdigit():
    st.title("Conversation")
    st.info("Open a mention from the Inbox.")
    st.stop()
mention_id = int(str(raw_id))
if st.query_params.get("mention") != str(mention_id):
    st.query_params["mention"] = str(mention_id)  # a reload comes back here (set once: no extra history entry)
view: InboxView = read_view(st.query_params, actor.id, zone=zone)  # the Inbox view it was opened from
INBOX, CONVERSATION = "app_pages/inbox.py", "app_pages/conversation.py"

with store.transaction() as session:  # opening it to reply claims it (only if nobody has)
    if mention_detail(session, actor, mention_id) is not None and actor.can(Permission.REPLY):
        triage.open_for_reply(session, actor, mention_id)
with store.read() as session:
    detail = mention_detail(session, actor, mention_id)
    found_claim = triage.claim_state(session, actor, mention_id) if detail else None
    tags = triage.mention_tags(session, actor, mention_id)
    history = author_history(session, actor, detail.mention.author_id, exclude_id=mention_id) if detail else []
    voice = effective_voice_rules(session, cfg)
    kept = draft_of(session, actor, mention_id)
    people = display_names(session)
    names = first_names(session)
if detail is None or found_claim is None:
    st.warning("That mention does not exist (any more).")
    st.stop()
claim: triage.Claim = found_claim
m = detail.mention
now = datetime.now(UTC)
handle = f"@{md(detail.author.handle, 80)}" if detail.author else "unknown author"
st.title(f"{platform_words(m.platform)} {handle}", anchor=False)  # no anchor link made from mention data
escalated = f" · 🚨 escalated to {md(m.escalation_queue.replace('_', ' '), 80)}" if m.escalation_queue else ""
st.caption(
    f"{md(detail.brand or 'no brand', 80)} · case MD-{m.id} · status **{m.status.value}** · "
    f"SLA: {sla_words(clocks.read(m, now))}{escalated}"
)
HANDLING = f"handling_{mention_id}"


def go_next() -> None:
    """Open the next mention of the same Inbox view, or the Inbox itself when the view has no other."""
    with store.read() as session:
        nxt = next_in_view(session, actor, view.filters, mention_id)
    if nxt is None:
        st.session_state["inbox_notice"] = "That was the last mention of this view."
        st.switch_page(INBOX, query_params=inbox_params_after(view, mention_id))
    st.switch_page(CONVERSATION, query_params=conversation_params(view, nxt))


def back_and_next(d: MentionDetail) -> None:
    """Back to the same Inbox view (this mention selected), and "Resolve & next" for what needs no reply."""
    back, resolve_next, _ = st.columns([1, 1, 2])
    with back:
        try:
            st.page_link(
                INBOX,
                label="Back to the Inbox",
                icon=":material/arrow_back:",
                query_params=inbox_params_after(view, mention_id),
            )
        except StreamlitPageNotFoundError:  # the page runs alone (AppTest)
            st.markdown(f"[Back to the Inbox]({inbox_link(replace(view, selected=(mention_id,)))})")
    if not actor.can(Permission.TRIAGE) or d.mention.status not in OPEN_STATUSES:
        return
    clicked = resolve_next.button(
        "Resolve & next",
        icon=":material/done_all:",
        key="resolve_next",
        help="Mark it resolved, then open the next mention of your Inbox view",
    )
    if clicked and run_action(
        "Resolve", store, triage.set_status, actor, mention_id, MentionStatus.RESOLVED, clocks=clocks, rerun=False
    ):
        go_next()


@st.fragment(run_every=15)
@database_errors_in_words("conversation_watch")
def watch() -> None:
    """Who else has it open, and a takeover noticed while the agent is still on the page."""
    with store.transaction() as session:
        check_in(session, actor, mention_id)
        others = also_viewing(session, actor, mention_id)
        state = triage.claim_state(session, actor, mention_id)
    if others:
        st.caption("👀 Also viewing: " + ", ".join(md(o, 80) for o in others))
    if claim.mine and not state.mine and state.assignee:  # the page still says "yours"
        st.warning(
            f"**{md(state.assignee, 80)}** took over at {local_time(state.since, zone)}. "
            "Your draft is kept: it shows here when you next click anything.",
            icon="🔁",
        )


def claim_banner(d: MentionDetail) -> bool:
    """Who handles it; True when the actor may reply now.  A takeover tells the first agent, draft kept."""
    if claim.mine:
        st.session_state[HANDLING] = True
        st.success(f"You are handling this mention (since {local_time(claim.since, zone)}).", icon="🙋")
        return True
    lost = st.session_state.pop(HANDLING, False)
    if claim.assignee and (lost or kept is not None):
        took = f"took over at {local_time(claim.since, zone)}"
        st.warning(
            f"**{md(claim.assignee, 80)}** {took}. You can no longer send here"
            + ("; your draft is kept below." if kept else "."),
            icon="🔁",
        )
    elif claim.assignee:
        st.warning(
            f"**{md(claim.assignee, 80)}** is handling this mention since "
            f"{local_time(claim.since, zone)}. You can read it, but only they can send unless you take it "
            "over.",
            icon="🔒",
        )
    if kept is not None:
        st.caption(f"Your draft (last edited {local_time(kept.updated_at, zone)}):")
        st.code(visible(kept.text), language=None, wrap_lines=True)
        if st.button("Discard my draft", key="discard_draft"):
            run_action("Discard draft", store, discard_draft, actor, d.mention.id)
    if (
        claim.assignee
        and actor.can(Permission.REPLY)
        and st.button("Take over", key="take_over", icon=":material/swap_horiz:")
    ):
        run_action("Take over", store, triage.take_over, actor, d.mention.id)
    return False


def classification(d: MentionDetail) -> None:
    st.subheader("Classification")
    c = d.classification
    if c is not None:
        conf = max(c.p_negative, c.p_neutral, c.p_positive)
        st.write(
            f"{SENTIMENT_CHIPS.get(d.mention.sentiment or '', '—')} ({conf:.0%} confident) · "
            f"{URGENCY_CHIPS.get(d.mention.urgency or '', '—')}"
        )
        reasons = [s.get("reason") for s in c.explanation or [] if isinstance(s, dict) and s.get("reason")]
        topics = ", ".join(t.replace("_", " ") for t in c.topics or [])
        st.caption(
            f"why: {md('; '.join(map(str, reasons)) or topics or '—', 300)} · "
            f"{md(c.model_name, 80)} {md(c.model_version, 40)}"
        )
    else:
        st.caption("Not classified yet.")
    if not actor.can(Permission.TRIAGE):
        return
    a, b = st.columns(2)
    sentiments, urgencies = [s.value for s in Sentiment], [u.value for u in Urgency]
    new_s = a.selectbox("Sentiment", sentiments, index=_index(sentiments, d.mention.sentiment), key="fix_sentiment")
    new_u = b.selectbox("Urgency", urgencies, index=_index(urgencies, d.mention.urgency), key="fix_urgency")
    if st.button("Save label correction", key="save_labels"):
        run_action("Label correction", store, _correct, d.mention.id, new_s, new_u)


def _correct(session: Session, mid: int, sentiment: str, urgency: str) -> None:
    triage.correct_label(session, actor, mid, "sentiment", sentiment, clocks=clocks)
    triage.correct_label(session, actor, mid, "urgency", urgency, clocks=clocks)


def _index(options: list[str], value: str | None) -> int:
    return options.index(value) if value in options else 0


def author_panel(d: MentionDetail) -> None:
    st.subheader("Author")
    if d.author is None:
        st.caption("Unknown author.")
        return
    a = d.author
    badges = " ".join(b for b, on in (("✔ verified", a.verified), ("⭐ VIP", a.is_vip)) if on)
    st.write(f"{md(a.display_name or a.handle, 80)} · {a.followers:,} followers {badges}")
    if not history:
        st.caption("No earlier mentions.")
    for past in history:
        chip = SENTIMENT_CHIPS.get(past.mention.sentiment or "", "—")
        st.caption(f"{local_time(past.mention.created_at, zone)} · {chip} · {md(past.mention.text, 140)}")
        for r in past.replies:
            state = REPLY_STATES.get(ReplyState(r.state).value, r.state)
            st.caption(f"  ↪️ {state}: {md(r.text, 140)}")


def timeline(mid: int) -> None:
    st.subheader("Activity")
    with store.read() as session:
        events = audit.mention_timeline(session, actor, mid)
    if not events:
        st.caption("No activity yet.")
    for e in events:
        st.caption(f"{local_time(e.at, zone)} · {md(describe(e, names), 300)}")


def _retry(reply_id: int) -> None:
    run_action("Retry", store, retry_reply, actor, reply_id)


def not_replyable(d: MentionDetail) -> None:
    reason = md(d.mention.replyable_reason or "listen-only source", 200)
    st.info(f"This mention cannot be answered from here: {reason}.")
    if d.mention.url:
        st.code(visible(d.mention.url[:2_048]), language=None)  # has a copy button
        link_button(d.mention.url)  # http(s) only, labelled with its host
    if d.mention.status in OPEN_STATUSES and st.button("Mark handled", key="mark_handled"):
        run_action("Mark handled", store, triage.set_status, actor, d.mention.id, MentionStatus.RESOLVED, clocks=clocks)


watch()
back_and_next(detail)
left, right = st.columns([3, 2], gap="large")
with left:
    may_reply = claim_banner(detail)
    st.subheader("Conversation")
    render_thread(
        store, actor, m, zone, on_retry=_retry, parked=lambda post: parked_reply_panel(store, actor, m.id, post)
    )
    if st.session_state.pop(f"sent_{m.id}", False):
        st.success("Reply queued: it shows as sent here once the network confirms it.")
    st.subheader("Reply")
    if not m.replyable:
        not_replyable(detail)
    elif not actor.can(Permission.REPLY):
        st.info(f"Your role ({actor.role.value}) can read and export, not reply.")
    elif not may_reply:
        st.caption("Only the agent handling this mention can send; take it over to reply.")
    else:
        rules = rules_for(voice, detail.brand)
        values = variables_for(m, detail.author, detail.brand, actor, rules.sign_off_example)
        topics = list(detail.classification.topics or []) if detail.classification else []
        composer(store, actor, detail, values, rules, topics, then_next=go_next)
with right:
    escalation_panel(store, actor, m.id, cfg.escalation, zone)
    author_panel(detail)
    classification(detail)
    status_and_notes(store, actor, detail, tags, people, zone, clocks)
    timeline(m.id)
