"""mentiondesk.toml: bad values are reported with their path and the rule they broke."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from console.cli import main
from console.config import BUILTIN_CONFIG, ConfigError, load_config, parse_config

BRAND = {"name": "Skyline Air", "handles": {"x": "SkylineAir"}}


def _problems(data: dict) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(data)
    return info.value.problems


def test_builtin_demo_config_is_valid() -> None:
    cfg = load_config(BUILTIN_CONFIG)
    assert {b.name for b in cfg.brands} >= {"Skyline Air", "Horizon Airways"}
    assert cfg.sla.targets("critical").first_response == timedelta(minutes=15)


def test_interval_below_floor_names_its_path() -> None:
    sources = [
        {"name": f"s{i}", "platform": "demo", "kind": "demo", "brand": "Skyline Air", "interval": 60} for i in range(3)
    ]
    sources[2]["interval"] = 5
    assert _problems({"brands": [BRAND], "sources": sources}) == ["sources[2].interval: must be ≥ 15 s (got 5)"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"team": {"timezone": "Mars/Olympus"}}, "team.timezone: unknown time zone 'Mars/Olympus'"),
        ({"brands": [{"name": "A", "handles": {"myspace": "a"}}]}, "brands[0].handles.myspace.[key]"),
        (
            {"brands": [BRAND], "sources": [{"name": "s", "platform": "x", "kind": "mentions", "brand": "Nope"}]},
            "sources[0].brand: unknown brand 'Nope' (known: Skyline Air)",
        ),
        (
            {"brands": [BRAND], "sources": [{"name": "s", "platform": "x", "kind": "search", "brand": "Skyline Air"}]},
            "sources[0].query: a search source needs a query",
        ),
        (
            {"sla": {"policies": [{"urgency": "high", "first_response": "soon"}]}},
            "sla.policies[0].first_response: 'soon' is not a duration",
        ),
        ({"voice": [{"sign_off": "^[A-Z"}]}, "voice[0].sign_off: not a valid regular expression"),
        ({"x": {"monthly_read_cap": -1}}, "x.monthly_read_cap: Input should be greater than or equal to 0"),
        ({"brands": [BRAND, BRAND]}, "brands[1].name: 'Skyline Air' is used twice"),
        ({"team": {"timezon": "UTC"}}, "team.timezon: Extra inputs are not permitted"),
    ],
)
def test_bad_values_are_reported_with_path_and_rule(data: dict, expected: str) -> None:
    problems = _problems(data)
    assert any(p.startswith(expected) for p in problems), problems


def test_several_problems_are_all_reported() -> None:
    data = {"team": {"timezone": "Nowhere"}, "x": {"price_per_read": -2}}
    assert len(_problems(data)) == 2


def test_cli_prints_problems_without_a_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "mentiondesk.toml"
    bad.write_text('[team]\ntimezone = "Nowhere"\n[[sources]]\nname = "s"\n', encoding="utf-8")
    code = main(["config", "check", "--config", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert "team.timezone: unknown time zone 'Nowhere'" in err
    assert "sources[0].platform: Field required" in err


def test_cli_reports_a_bad_database_url_in_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["db", "upgrade", "--database-url", "mysql://nowhere"])
    err = capsys.readouterr().err
    assert code != 0 and err.count("\n") == 1
    assert "unsupported database 'mysql'" in err


def test_invalid_toml_is_one_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "mentiondesk.toml"
    bad.write_text("[team\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(bad)


def _source(**overrides: object) -> dict:
    return {"name": "s", "platform": "demo", "kind": "demo", "brand": "Skyline Air", **overrides}


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"brands": [BRAND], "sources": [_source(interval=1e23)]}, "sources[0].interval: must be ≤ 86400 s"),
        ({"brands": [BRAND], "sources": [_source(interval=86_401)]}, "sources[0].interval: must be ≤ 86400 s"),
        (
            {"brands": [BRAND], "sources": [_source(interval=float("inf"))]},
            "sources[0].interval: must be a whole number of seconds",
        ),
        (
            {"brands": [BRAND], "sources": [_source(interval=float("nan"))]},
            "sources[0].interval: must be a whole number of seconds",
        ),
        (
            {"brands": [BRAND], "sources": [_source(interval=60.5)]},
            "sources[0].interval: Input should be a valid integer",
        ),
        (
            {"sla": {"policies": [{"urgency": "high", "first_response": 1e23}]}},
            "sla.policies[0].first_response: must be",
        ),
        (
            {"sla": {"policies": [{"urgency": "high", "first_response": "99999999999d"}]}},
            "sla.policies[0].first_response",
        ),
        (
            {"sla": {"policies": [{"urgency": "high", "first_response": float("inf")}]}},
            "sla.policies[0].first_response",
        ),
        (
            {"sla": {"policies": [{"urgency": "high", "first_response": float("nan")}]}},
            "sla.policies[0].first_response",
        ),
        ({"sla": {"policies": [{"urgency": "high", "first_response": "400d"}]}}, "sla.policies[0].first_response"),
        ({"alerts": {"check_every": "2d"}}, "alerts.check_every: must be between 1 minute and 1 day"),
        ({"alerts": {"check_every": 1}}, "alerts.check_every: must be between 1 minute and 1 day"),
        ({"escalation": {"at_risk_lookback": -5}}, "escalation.at_risk_lookback: must be between 0 s and 366 days"),
        (
            {"escalation": {"queues": [{"name": "q", "first_response": 1e300}], "at_risk_queue": "q", "rubric": {}}},
            "escalation.queues[0].first_response: must be between",
        ),
        ({"security": {"session_lifetime": "1e23s"}}, "security.session_lifetime: '1e23s' is not a duration"),
        ({"security": {"session_idle_timeout": 10**30}}, "security.session_idle_timeout: must be between"),
        ({"security": {"sign_in": {"max_wait": "9999d"}}}, "security.sign_in.max_wait: must be between"),
        ({"x": {"monthly_read_cap": 10**30}}, "x.monthly_read_cap: Input should be less than or equal to"),
        ({"x": {"price_per_read": float("inf")}}, "x.price_per_read: Input should be a finite number"),
        ({"x": {"price_per_read": 1e23}}, "x.price_per_read: Input should be less than or equal to 100"),
        ({"classifier": {"batch_size": 10**9}}, "classifier.batch_size: Input should be less than or equal to 4096"),
        ({"voice": [{"max_emoji": 10**9}]}, "voice[0].max_emoji: Input should be less than or equal to 280"),
        ({"voice": [{"max_length": 10**9}]}, "voice[0].max_length: Input should be less than or equal to"),
        ({"ingest": {"max_text_length": 10**12}}, "ingest.max_text_length: Input should be less than or equal to"),
        ({"alerts": {"spikes": {"z_threshold": float("inf")}}}, "alerts.spikes.z_threshold: Input should be less"),
        ({"alerts": {"spikes": {"min_volume": 10**20}}}, "alerts.spikes.min_volume: Input should be less"),
    ],
)
def test_unreasonable_numbers_are_bounded_with_their_path(data: dict, expected: str) -> None:
    problems = _problems(data)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_a_huge_interval_from_toml_is_one_line_not_a_worker_crash(tmp_path: Path) -> None:
    bad = tmp_path / "mentiondesk.toml"
    bad.write_text(
        '[[brands]]\nname = "Skyline Air"\n[[sources]]\nname = "s"\nplatform = "demo"\nkind = "demo"\n'
        'brand = "Skyline Air"\ninterval = 1e23\n[[sla.policies]]\nurgency = "high"\nfirst_response = inf\n',
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as info:
        load_config(bad)
    assert info.value.problems == [
        "sources[0].interval: must be ≤ 86400 s, once a day (got 1e+23)",
        "sla.policies[0].first_response: must be between 0 s and 366 days (got inf)",
    ]


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root:hunter22@db/app", "database.url: unsupported database 'mysql'"),
        ("postgresql+asyncpg://u@h/db", "database.url: unsupported database 'postgresql+asyncpg'"),
        ("postgres://u:hunter22@h/db", "database.url: unsupported database 'postgres'"),
        ("not a url", "database.url: not a database URL"),
        ("postgresql://u@h:notaport/db", "database.url: not a database URL"),
    ],
)
def test_unsupported_database_urls_are_refused_without_their_password(url: str, expected: str) -> None:
    problems = _problems({"database": {"url": url}})
    assert len(problems) == 1 and problems[0].startswith(expected), problems
    assert "hunter22" not in problems[0]


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///desk.db",
        "sqlite://",
        "postgresql://u:p@h/db",
        "postgresql+psycopg://u@h/db",
        "postgresql+psycopg2://h/d",
    ],
)
def test_supported_database_urls_pass(url: str) -> None:
    assert parse_config({"database": {"url": url}}).database.url == url


def test_a_non_utf8_file_is_one_line_with_its_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "mentiondesk.toml"
    bad.write_bytes('[team]\nname = "Caf\u00e9"\n'.encode("latin-1"))
    code = main(["config", "check", "--config", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    assert err == f"mentiondesk: {bad}: not UTF-8 text (line 2: byte 0xe9); save the file as UTF-8\n"


def test_cli_names_the_database_url_path_in_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "mentiondesk.toml"
    bad.write_text('[database]\nurl = "mysql://root:hunter22@db/app"\n', encoding="utf-8")
    code = main(["config", "check", "--config", str(bad)])
    err = capsys.readouterr().err
    assert code == 2 and "hunter22" not in err
    assert err.splitlines() == [
        f"mentiondesk: {bad}: invalid config",
        "  database.url: unsupported database 'mysql': use sqlite:///PATH or postgresql://USER@HOST/DB",
    ]


def test_a_missing_file_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config", "check", "--config", str(tmp_path / "nope.toml")]) == 2
    assert capsys.readouterr().err == f"mentiondesk: {tmp_path / 'nope.toml'}: file not found\n"
