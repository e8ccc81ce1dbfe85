"""Claiming, takeovers, status, bulk actions, notes, label feedback and sending, on real databases."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from console.config import VoiceRules
from console.services import audit, triage
from console.services.inbox import ASSIGNEE_ME, ASSIGNEE_UNASSIGNED, InboxFilters, count_queue, list_queue
from console.services.permissions import PermissionDenied
from console.services.replies.outbox import OutboxError, ReplyInFlightError
from console.services.replies.send import ClaimedByOtherError, Draft, NeedsConfirmation, VoiceCheckFailed, send_reply
from console.services.replies.suggestions import EmbeddingEncoder, suggest_replies
from console.services.store import Store
from storage.enums import MentionStatus, ReplyState
from storage.models import AuditEntry, LabelFeedback, Mention, Reply
from tests.triage_data import World, build_world

T = datetime(2026, 11, 20, 9, tzinfo=UTC)
RULES = VoiceRules(brand="Skyline Air", banned_phrases=["calm down"], sign_off=r"\^[A-Z]{2,3}$")
GOOD = "Hi there, we're so sorry about the delay. Please DM us and we'll sort it. ^JK"


def _actions(store: Store) -> list[str]:
    with store.read() as s:
        return list(s.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))


def test_opening_claims_and_another_agent_sees_who_and_since_when(store: Store) -> None:
    w = build_world(store)
    m = w.mention_ids[0]
    with store.transaction() as s:
        first = triage.open_for_reply(s, w.agent, m, now=T)
    with store.transaction() as s:
        second = triage.open_for_reply(s, w.other_agent, m, now=T)
    assert first.mine
    assert not second.mine
    assert second.assignee == "jamie" and second.since == T
    with store.read() as s:
        mention = s.get(Mention, m)
        assert mention is not None and mention.status is MentionStatus.OPEN and mention.assignee_id == w.agent.id
    assert _actions(store).count("mention.claim") == 1


def test_other_agent_cannot_send_until_they_take_over_and_the_takeover_is_logged(store: Store) -> None:
    w = build_world(store)
    m = w.mention_ids[0]
    with store.transaction() as s:
        triage.open_for_reply(s, w.agent, m, now=T)
    with pytest.raises(ClaimedByOtherError, match="jamie is handling this mention"), store.transaction() as s:
        send_reply(s, w.other_agent, m, Draft(GOOD, "k-sam"), RULES)
    with store.transaction() as s:
        taken = triage.take_over(s, w.other_agent, m, now=T)
        assert taken.assignee == "sam"
    with pytest.raises(VoiceCheckFailed, match='signed "\\^JK", not by you'), store.transaction() as s:
        send_reply(s, w.other_agent, m, Draft(GOOD, "k-sam"), RULES)  # jamie's sign-off under sam's name
    with store.transaction() as s:
        reply = send_reply(s, w.other_agent, m, Draft(GOOD.replace("^JK", "^SL"), "k-sam-2"), RULES)
        assert reply.state is ReplyState.QUEUED and reply.user_id == w.other_agent.id
    with store.read() as s:
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "mention.takeover"))
        assert entry is not None and entry.before is not None
        assert entry.before["assignee"] == "jamie" and entry.after == {"assignee": "sam", "at": T.isoformat()}
    with pytest.raises(ClaimedByOtherError), store.transaction() as s:  # the first agent lost it
        send_reply(s, w.agent, m, Draft(GOOD, "k-jamie"), RULES)


def test_an_analyst_calling_the_reply_service_is_refused(store: Store) -> None:
    w = build_world(store)
    m = w.mention_ids[0]
    with pytest.raises(PermissionDenied, match="alex \\(analyst\\) may not reply"), store.transaction() as s:
        send_reply(s, w.analyst, m, Draft(GOOD, "k-alex"), RULES)
    with pytest.raises(PermissionDenied), store.transaction() as s:
        triage.open_for_reply(s, w.analyst, m)
    with pytest.raises(PermissionDenied), store.transaction() as s:
        triage.set_status(s, w.analyst, m, MentionStatus.RESOLVED)
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Reply)) == 0


def test_two_simultaneous_sends_make_exactly_one_reply(store: Store) -> None:
    w = build_world(store)
    m = w.mention_ids[0]
    with store.transaction() as s:
        triage.open_for_reply(s, w.agent, m, now=T)
    barrier, outcomes = threading.Barrier(2), []

    def click(key: str) -> None:
        barrier.wait()
        try:
            with store.transaction() as s:
                send_reply(s, w.agent, m, Draft(f"({key}) {GOOD}", key), RULES)
            outcomes.append("sent")
        except ReplyInFlightError as exc:
            outcomes.append(f"refused: {exc}")
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcomes.append(f"error: {exc!r}")

    threads = [threading.Thread(target=click, args=(f"tab-{i}",)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(o.split(":")[0] for o in outcomes) == ["refused", "sent"], outcomes
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Reply).where(Reply.mention_id == m)) == 1


def test_double_click_with_the_same_key_is_one_reply(store: Store) -> None:
    w = build_world(store)
    m = w.mention_ids[0]
    with store.transaction() as s:
        triage.open_for_reply(s, w.agent, m)
    for _ in range(2):
        with store.transaction() as s:
            send_reply(s, w.agent, m, Draft(GOOD, "same-key"), RULES)
    with store.read() as s:
        assert s.scalar(select(func.count()).select_from(Reply)) == 1


def test_voice_check_blocks_and_warnings_need_confirmation(store: Store) -> None:
    w = build_world(store)
    m = w.mention_ids[0]  # negative sentiment
    with store.transaction() as s:
        triage.open_for_reply(s, w.agent, m)
    with pytest.raises(VoiceCheckFailed, match="calm down") as blocked, store.transaction() as s:
        send_reply(s, w.agent, m, Draft("Please calm down, we'll DM you. ^JK", "k1"), RULES)
    assert {f.rule for f in blocked.value.findings if f.blocking} == {"banned_phrase"}
    no_apology = "Thanks for the note, please DM us and we will look. ^JK"
    with pytest.raises(NeedsConfirmation, match="does not apologise"), store.transaction() as s:
        send_reply(s, w.agent, m, Draft(no_apology, "k2"), RULES)
    with store.transaction() as s:
        send_reply(s, w.agent, m, Draft(no_apology, "k2", confirmed_warnings=True), RULES)
    assert "reply.voice_override" in _actions(store)


def test_not_replyable_mentions_are_refused(store: Store) -> None:
    w = build_world(store)
    m = w.mention_ids[1]
    with store.transaction() as s:
        mention = s.get(Mention, m)
        assert mention is not None
        mention.replyable, mention.replyable_reason = False, "keyword search result: listen-only on X"
        triage.open_for_reply(s, w.agent, m)
    with pytest.raises(OutboxError, match="listen-only"), store.transaction() as s:
        send_reply(s, w.agent, m, Draft(GOOD, "k"), RULES)


def test_status_changes_are_audited_with_before_and_after(store: Store) -> None:
    w = build_world(store)
    m = w.mention_ids[2]
    with store.transaction() as s:
        assert triage.set_status(s, w.agent, m, "resolved", now=T)
        assert not triage.set_status(s, w.agent, m, "resolved", now=T)
    with store.read() as s:
        mention = s.get(Mention, m)
        assert mention is not None and mention.status is MentionStatus.RESOLVED and mention.resolved_at == T
        entry = s.scalar(select(AuditEntry).where(AuditEntry.action == "mention.status"))
        assert entry is not None and entry.before == {"status": "new"} and entry.after == {"status": "resolved"}


def test_bulk_actions_respect_roles_and_claims(store: Store) -> None:
    w = build_world(store)
    ids = w.mention_ids[:4]
    with store.transaction() as s:
        triage.open_for_reply(s, w.other_agent, ids[0])
    with store.transaction() as s:
        mine = triage.bulk_assign(s, w.agent, ids, w.agent.id)
    assert set(mine.changed) == set(ids[1:]) and "claimed by sam" in mine.skipped[ids[0]]
    with pytest.raises(PermissionDenied), store.transaction() as s:
        triage.bulk_assign(s, w.agent, ids, w.other_agent.id)  # reassigning is for managers
    with store.transaction() as s:
        moved = triage.bulk_assign(s, w.manager, ids, w.other_agent.id)
    assert set(moved.changed) == set(ids[1:])
    with store.transaction() as s:
        spam = triage.bulk_set_status(s, w.agent, ids[:2], MentionStatus.SPAM)
        tagged = triage.bulk_tag(s, w.agent, ids[:3], "  Refund   Request ")
        again = triage.bulk_tag(s, w.agent, ids[:1], "refund request")
    assert len(spam.changed) == 2 and len(tagged.changed) == 3 and again.skipped == {ids[0]: "already tagged"}
    with store.read() as s:
        assert triage.mention_tags(s, w.agent, ids[0]) == ["refund request"]
        statuses = set(s.scalars(select(Mention.status).where(Mention.id.in_(ids[:2]))))
    assert statuses == {MentionStatus.SPAM}


def test_label_correction_is_stored_as_feedback(store: Store) -> None:
    w = build_world(store)
    m = w.mention_ids[0]
    with store.transaction() as s:
        feedback = triage.correct_label(s, w.agent, m, "sentiment", "neutral")
        assert feedback is not None and feedback.classification_id is not None
        assert triage.correct_label(s, w.agent, m, "sentiment", "neutral") is None  # no change, no row
        with pytest.raises(triage.TriageError, match="urgency must be one of"):
            triage.correct_label(s, w.agent, m, "urgency", "whenever")
    with store.read() as s:
        row = s.scalar(select(LabelFeedback))
        assert row is not None and (row.old_value, row.new_value, row.user_id) == ("negative", "neutral", w.agent.id)
        mention = s.get(Mention, m)
        assert mention is not None and mention.sentiment == "neutral"
    assert "mention.label" in _actions(store)


def test_notes_and_the_mention_timeline(store: Store) -> None:
    w = build_world(store)
    m = w.mention_ids[0]
    with store.transaction() as s:
        triage.open_for_reply(s, w.agent, m, now=T)
        triage.add_note(s, w.agent, m, "Customer is on flight SK12, checked with the gate.")
        send_reply(s, w.agent, m, Draft(GOOD, "k-note"), RULES)
        with pytest.raises(triage.TriageError):
            triage.add_note(s, w.agent, m, "   ")
    with store.read() as s:
        timeline = [e.action for e in audit.mention_timeline(s, w.agent, m)]
    assert timeline == ["mention.claim", "mention.note", "reply.queued"]


def _filters(world: World, **kw: object) -> InboxFilters:
    return InboxFilters(**{"me_id": world.agent.id, **kw})  # type: ignore[arg-type]


def test_inbox_filters_for_assignee_topic_replyable_and_search(store: Store) -> None:
    w = build_world(store)
    with store.transaction() as s:
        triage.open_for_reply(s, w.agent, w.mention_ids[0])
    with store.read() as s:
        assert [r.id for r in list_queue(s, w.agent, _filters(w, assignee=ASSIGNEE_ME))] == [w.mention_ids[0]]
        assert count_queue(s, w.agent, _filters(w, assignee=ASSIGNEE_UNASSIGNED)) == len(w.mention_ids) - 1
        praise = list_queue(s, w.agent, _filters(w, topics=["praise"]))
        assert {r.id for r in praise} == set(w.mention_ids[1::2])
        assert count_queue(s, w.agent, _filters(w, replyable=False)) == 0
        assert [r.text for r in list_queue(s, w.agent, _filters(w, search="flight 3 "))] == [
            "@skyline my flight 3 was delayed 😡"
        ]
        first = list_queue(s, w.agent, _filters(w))[0]
    assert first.reason == "mentions a delay" and first.assignee == "jamie" and first.topics == ("complaint",)


class _CountingEncoder:
    """A real (tiny) bag-of-letters embedding, to prove any ``embed`` model plugs in."""

    def embed(self, texts: list[str]) -> list[list[float]]:
        return [[float(t.lower().count(c)) for c in "abcdefghijklmnopqrstuvwxyz"] for t in texts]


def test_suggested_replies_rank_past_replies_by_similarity(store: Store) -> None:
    w = build_world(store, mentions=4)
    answers = {
        w.mention_ids[1]: "So sorry about the delay, DM us your booking. ^JK",
        w.mention_ids[2]: "Thanks for flying with us! ^JK",
    }
    with store.transaction() as s:
        s.get(Mention, w.mention_ids[2]).text = "Loved the crew, thank you for a lovely flight"  # type: ignore[union-attr]
        for i, (mention_id, text) in enumerate(answers.items()):
            s.add(
                Reply(mention_id=mention_id, text=text, state=ReplyState.SENT, idempotency_key=f"seed-{i}", sent_at=T)
            )
    with store.read() as s:
        target = s.get(Mention, w.mention_ids[0])
        assert target is not None
        tfidf = suggest_replies(s, w.agent, target, k=2)
        embedded = suggest_replies(s, w.agent, target, encoder=EmbeddingEncoder(_CountingEncoder()), k=2)  # type: ignore[arg-type]
    assert tfidf[0].reply_text == answers[w.mention_ids[1]] and tfidf[0].score > tfidf[-1].score
    assert embedded[0].reply_text == answers[w.mention_ids[1]]


def test_suggestions_with_the_real_sentence_encoder_and_its_memo(sqlite_store: Store) -> None:
    from classifiers import load_classifier
    from console.services.replies.suggestions import MemoizedEmbedder

    w = build_world(sqlite_store, mentions=4)
    answers = {
        w.mention_ids[1]: "So sorry about the delay, DM us your booking. ^JK",
        w.mention_ids[2]: "Thanks for flying with us! ^JK",
    }
    with sqlite_store.transaction() as s:
        s.get(Mention, w.mention_ids[0]).text = "my flight has been delayed for five hours, no updates"  # type: ignore[union-attr]
        s.get(Mention, w.mention_ids[1]).text = "two hour delay at the gate and nobody tells us anything"  # type: ignore[union-attr]
        s.get(Mention, w.mention_ids[2]).text = "Loved the crew, thank you for a lovely flight"  # type: ignore[union-attr]
        for i, (mention_id, text) in enumerate(answers.items()):
            s.add(Reply(mention_id=mention_id, text=text, state=ReplyState.SENT, idempotency_key=f"e-{i}", sent_at=T))
    calls: list[int] = []
    model = load_classifier("default")

    class Counting:
        def embed(self, texts):  # type: ignore[no-untyped-def]
            calls.append(len(texts))
            return model.embed(texts)

    encoder = EmbeddingEncoder(MemoizedEmbedder(Counting()))
    with sqlite_store.read() as s:
        target = s.get(Mention, w.mention_ids[0])
        assert target is not None
        first = suggest_replies(s, w.agent, target, encoder=encoder, k=2)  # type: ignore[arg-type]
        again = suggest_replies(s, w.agent, target, encoder=encoder, k=2)  # type: ignore[arg-type]
    assert first[0].reply_text == answers[w.mention_ids[1]]
    assert first == again and calls == [3]  # the second look embeds nothing new
