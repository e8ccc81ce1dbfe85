"""The composer: template variables, platform limits and template search, on real databases."""

from __future__ import annotations

import pytest

from console.config import load_config
from console.services.permissions import PermissionDenied
from console.services.replies.composer import (
    VARIABLES,
    TemplateError,
    char_count,
    initials,
    list_templates,
    render,
    template_variables,
    variables_for,
)
from console.services.settings import SettingsError, save_template
from console.services.store import Store
from storage.models import Author, Mention, Template
from tests.triage_data import build_world


def test_every_variable_used_by_the_default_templates_is_known() -> None:
    for template in load_config().templates:
        assert set(template_variables(template.body)) <= set(VARIABLES), template.name


def test_variables_fill_from_the_mention_and_the_agent(store: Store) -> None:
    w = build_world(store, mentions=1)
    with store.read() as s:
        mention = s.get(Mention, w.mention_ids[0])
        assert mention is not None
        author = s.get(Author, mention.author_id)
        values = variables_for(mention, author, "Skyline Air", w.agent)
    text = render(
        "Hi {author_name} ({handle}), case {case_id} for {brand}. ^{agent_initials} -{agent_first_name}", values
    )
    assert text == f"Hi User 0 (@user0), case MD-{mention.id} for Skyline Air. ^JK -Jamie"


def test_unknown_variables_are_an_error_naming_them() -> None:
    with pytest.raises(TemplateError, match=r"\{order_total\}"):
        render("Your total is {order_total}", {"author_name": "x"})
    with pytest.raises(TemplateError, match="malformed"):
        template_variables("Hi {author_name")


@pytest.mark.parametrize(("platform", "limit"), [("x", 280), ("mastodon", 500), ("bluesky", 300)])
def test_character_count_against_each_platform(platform: str, limit: int) -> None:
    fits = char_count("a" * limit, platform)
    over = char_count("a" * (limit + 3), platform)
    assert not fits.over and fits.words() == f"{limit} / {limit} characters (0 left)"
    assert over.over and over.words().endswith("(3 over)")


def test_initials() -> None:
    assert [initials(n) for n in ("Jamie Kerr", "Ana-Maria Lopez Diaz", "Becky", "")] == ["JK", "AD", "BE", "??"]


def test_templates_are_searchable_and_topic_matches_come_first(store: Store) -> None:
    w = build_world(store, mentions=1)
    with store.transaction() as s:
        save_template(
            s,
            w.admin,
            template_id=None,
            name="Thanks",
            body="Thanks {author_name}! {agent_initials}",
            topics=["praise"],
        )
        save_template(
            s,
            w.admin,
            template_id=None,
            name="Delay",
            body="Sorry {author_name}. ^{agent_initials}",
            brand_id=w.brand_id,
            topics=["complaint"],
        )
        save_template(s, w.admin, template_id=None, name="Other brand", body="x", brand_id=None, active=False)
    with store.read() as s:
        ranked = [t.name for t in list_templates(s, brand_id=w.brand_id, topics=["complaint"])]
        only = [t.name for t in list_templates(s, brand_id=w.brand_id, topics=["complaint"], topic_only=True)]
        found = [t.name for t in list_templates(s, brand_id=w.brand_id, search="thanks")]
    assert ranked == ["Delay", "Thanks"] and only == ["Delay"] and found == ["Thanks"]


def test_only_admins_save_templates_and_unknown_variables_are_refused(store: Store) -> None:
    w = build_world(store, mentions=1)
    with pytest.raises(PermissionDenied), store.transaction() as s:
        save_template(s, w.agent, template_id=None, name="Mine", body="hello")
    with pytest.raises(SettingsError, match="unknown variable"), store.transaction() as s:
        save_template(s, w.admin, template_id=None, name="Bad", body="Hi {customer}")
    with store.transaction() as s:
        t = save_template(s, w.admin, template_id=None, name="Good", body="Hi {author_name}")
        save_template(s, w.admin, template_id=t.id, name="Good", body="Hello {author_name}")
    with store.read() as s:
        assert [x.body for x in s.query(Template).all()] == ["Hello {author_name}"]


@pytest.mark.parametrize(
    ("example", "agent", "expected"),
    [
        ("^JK", "Jamie Kowalski", "^JK"),
        ("-Becky", "Omar Haddad", "-Omar"),
        ("/PB", "Grace Okafor", "/GO"),
        (None, "Sam Lindqvist", "SL"),
    ],
)
def test_sign_off_follows_the_brand_example(example: str | None, agent: str, expected: str) -> None:
    from console.services.replies.composer import sign_off

    assert sign_off(example, agent) == expected


def test_a_suggested_reply_takes_this_customers_name_and_this_agents_sign_off() -> None:
    from console.services.replies.composer import personalise

    values = {"author_name": "Priya", "sign_off": "-Jamie"}
    past = "Hi Sarah Jones, so sorry about the outage in Leeds. We're on it. -Becky"
    out = personalise(past, old_names=("Sarah Jones", "sarahj"), values=values, sign_off_pattern=r"-[A-Z][a-z]+$")
    assert out == "Hi Priya, so sorry about the outage in Leeds. We're on it. -Jamie"


def test_the_voice_check_wants_the_sending_agents_own_sign_off() -> None:
    from console.config import VoiceRules
    from console.domain.voice import check_reply

    rules = VoiceRules(sign_off=r"-[A-Z][a-z]+$", sign_off_example="-Becky")
    other = check_reply("Sorry about that, fixing it now. -Becky", rules, sign_off="-Jamie")
    assert [f.rule for f in other if f.blocking] == ["sign_off"] and "-Jamie" in other[0].fix
    own = check_reply("Sorry about that, fixing it now. -Jamie", rules, sign_off="-Jamie")
    assert not [f for f in own if f.blocking]


def test_the_preselected_template_fits_the_topic_and_the_mood() -> None:
    from console.services.replies.composer import preselect
    from storage.models import Template

    apology = Template(name="Apology", body="Sorry", topics=["complaint"], sentiments=["negative"])
    security = Template(name="Account security", body="DM", topics=["account_security"], sentiments=["negative"])
    thanks = Template(name="Thanks", body="Thanks!", topics=["praise"], sentiments=["positive"])
    ranked = [apology, security, thanks]
    assert preselect(ranked, ["complaint"], "negative") is apology
    assert preselect(ranked, ["praise"], "positive") is thanks
    assert preselect(ranked, ["account_security"], "positive") is None  # never "Account security" for a thank-you
