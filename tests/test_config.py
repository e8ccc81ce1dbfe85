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
