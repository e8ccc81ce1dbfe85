"""``mentiondesk.toml``: one validated file for brands, queries, sources, SLAs, voice and templates.

A bad value is reported with its path and the rule it broke (``sources[2].interval: must be ≥ 15 s``),
never as a traceback.  Secrets never live here: see ``console.secrets``.
"""

from __future__ import annotations

import math
import os
import re
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from sqlalchemy.engine import make_url

from classifiers.topics import DEFAULT_TOPICS
from console.domain.business_hours import CalendarConfig, known_zone
from console.domain.durations import Duration
from console.domain.sla import SlaPolicy
from console.domain.spikes import SpikeConfig

CONFIG_ENV = "MENTIONDESK_CONFIG"
DEFAULT_CONFIG_NAME = "mentiondesk.toml"
BUILTIN_CONFIG = Path(__file__).parent / "default_config.toml"
MIN_INTERVAL_S = 15
MAX_INTERVAL_S = 86_400
"""A source polled less than once a day is a typo (``1e23``), and the worker's clock arithmetic overflows."""
DATABASE_DRIVERS = ("sqlite", "sqlite+pysqlite", "postgresql", "postgresql+psycopg", "postgresql+psycopg2")
"""The URL schemes the store runs on (every ``postgresql`` URL is opened through psycopg 3)."""

Platform = Literal["x", "mastodon", "bluesky", "reddit", "rss", "demo"]
UrgencyLevel = Literal["critical", "high", "normal", "low"]
SourceKind = Literal["mentions", "search", "hashtag", "notifications", "inbox", "subreddit", "feed", "demo"]


class ConfigError(ValueError):
    """The config file is missing, unreadable or invalid; ``problems`` lists each bad value."""

    def __init__(self, source: str, problems: list[str], *, whole_file: bool = False) -> None:
        self.source = source
        self.problems = problems
        self.whole_file = whole_file
        """The file itself could not be read (missing, not UTF-8, not TOML): one line, no value paths."""
        super().__init__(f"{source}: " + "; ".join(problems))


TOPIC_VOCABULARY: tuple[str, ...] = tuple(DEFAULT_TOPICS)
"""The topics the classifier tags; templates are matched to mentions on these names."""


class Strict(BaseModel):
    """Unknown keys are errors: a typo must not silently disable a setting."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class TeamConfig(Strict):
    """The team's name and the time zone user-visible times are shown in."""

    name: str = "Social care"
    timezone: str = "UTC"

    _known_zone = field_validator("timezone")(known_zone)


class DatabaseConfig(Strict):
    """Where the store lives; ``$MENTIONDESK_DATABASE_URL`` overrides it."""

    url: str | None = None

    @field_validator("url")
    @classmethod
    def _supported(cls, value: str | None) -> str | None:
        """SQLite or PostgreSQL only; the message never repeats the URL (it may hold a password)."""
        if value is None:
            return value
        try:
            driver = make_url(value).drivername
        except Exception:  # sqlalchemy's ArgumentError, or a ValueError from a bad port
            raise ValueError("not a database URL: write sqlite:///PATH or postgresql://USER@HOST/DB") from None
        if driver not in DATABASE_DRIVERS:
            raise ValueError(f"unsupported database {driver!r}: use sqlite:///PATH or postgresql://USER@HOST/DB")
        return value


class BrandConfig(Strict):
    """A brand (or competitor) with its handles per platform and its keywords."""

    name: str = Field(min_length=1, max_length=120)
    competitor: bool = False
    competitor_of: str | None = None
    handles: dict[Platform, str] = Field(default_factory=dict)
    keywords: list[str] = Field(default_factory=list)
    calendar: CalendarConfig | None = None
    """Business hours for this brand's SLA clocks; without one the clocks run 24/7."""
    sla: SlaPolicy | None = None
    """This brand's own targets; without them the team's ``[sla]`` applies."""


class QueryConfig(Strict):
    """A keyword or competitor search; its results are listen-only on X."""

    name: str = Field(min_length=1)
    brand: str
    terms: list[str] = Field(min_length=1)
    exclude: list[str] = Field(default_factory=list)
    languages: list[str] = Field(default_factory=list)
    include_reposts: bool = False


class SourceConfig(Strict):
    """One connector run by the worker at its own interval."""

    name: str = Field(min_length=1, max_length=120)
    platform: Platform
    kind: SourceKind
    brand: str
    query: str | None = None
    interval: int = 60
    enabled: bool = True
    options: dict[str, str | int | float | bool | list[str]] = Field(default_factory=dict)

    @field_validator("interval", mode="before")
    @classmethod
    def _number_in_bounds(cls, value: Any) -> Any:
        """Bounds first: pydantic's own message for ``1e23`` or ``inf`` is about integer parsing."""
        if isinstance(value, int | float) and not isinstance(value, bool):
            _check_interval(value)
        return value

    @field_validator("interval")
    @classmethod
    def _interval_bounds(cls, value: int) -> int:
        return _check_interval(value)


def _check_interval(value: float) -> Any:
    if not math.isfinite(value):
        raise ValueError(f"must be a whole number of seconds (got {value})")
    if value < MIN_INTERVAL_S:
        raise ValueError(f"must be ≥ {MIN_INTERVAL_S} s (got {value})")
    if value > MAX_INTERVAL_S:
        shown = f"{value:.3g}" if value >= 10**9 else str(value)
        raise ValueError(f"must be ≤ {MAX_INTERVAL_S} s, once a day (got {shown})")
    return value


class VoiceRules(Strict):
    """Brand-voice checks run on every reply before it is sent."""

    brand: str | None = None
    banned_phrases: list[str] = Field(default_factory=list)
    sign_off: str | None = None
    sign_off_example: str | None = None
    emoji: Literal["allow", "limit", "none"] = "limit"
    max_emoji: int = Field(default=2, ge=0, le=280)
    max_length: int | None = Field(default=None, gt=0, le=100_000)
    no_shouting: bool = True
    apology_on_negative: bool = True
    block_personal_data: bool = True

    @field_validator("sign_off")
    @classmethod
    def _regex_compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"not a valid regular expression: {exc}") from None
        return value


class TemplateConfig(Strict):
    """A saved reply with ``{variables}``."""

    name: str = Field(min_length=1)
    body: str = Field(min_length=1)
    brand: str | None = None
    topics: list[str] = Field(default_factory=list)
    sentiments: list[Literal["negative", "neutral", "positive"]] = Field(default_factory=list)
    """The moods the reply fits; empty means any (an apology is offered for negative posts only)."""

    @field_validator("topics")
    @classmethod
    def _known_topics(cls, value: list[str]) -> list[str]:
        unknown = [t for t in value if t not in TOPIC_VOCABULARY]
        if unknown:
            known = ", ".join(TOPIC_VOCABULARY)
            raise ValueError(f"unknown topic {', '.join(map(repr, unknown))}: the classifier tags {known}")
        return value


class XBudgetConfig(Strict):
    """X bills per post read: a monthly cap and the price, for cost estimates."""

    monthly_read_cap: int = Field(default=10_000, ge=0, le=1_000_000_000)
    price_per_read: float = Field(default=0.005, ge=0, le=100, allow_inf_nan=False)


class KeywordRule(Strict):
    """A phrase that raises urgency, with the reason shown to agents."""

    pattern: str
    urgency: UrgencyLevel = "high"
    reason: str | None = None


class ClassifierConfig(Strict):
    """Which model scores mentions, and the priority signals' settings."""

    model: str = "default"
    batch_size: int = Field(default=64, ge=1, le=4096)
    vip_handles: list[str] = Field(default_factory=list)
    keyword_rules: list[KeywordRule] = Field(default_factory=list)


class AlertsConfig(Strict):
    """Spike alerts: detector settings and recipients; webhook URLs and SMTP passwords come from secrets."""

    enabled: bool = True
    check_every: Duration = timedelta(minutes=5)
    email_to: list[str] = Field(default_factory=list)
    console_url: str | None = None
    spikes: SpikeConfig = Field(default_factory=SpikeConfig)

    @field_validator("check_every")
    @classmethod
    def _check_every_bounds(cls, value: timedelta) -> timedelta:
        if not timedelta(minutes=1) <= value <= timedelta(days=1):
            raise ValueError("must be between 1 minute and 1 day, e.g. '5m'")
        return value


class EscalationQueue(Strict):
    """A named queue that escalated mentions go to, with its members and its own response target."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[a-z][a-z0-9_]*$")
    title: str = ""
    members: list[str] = Field(default_factory=list)
    """Usernames who work the queue (managers and admins see every queue)."""
    first_response: Duration = timedelta(minutes=30)

    @property
    def label(self) -> str:
        """The queue's name as people read it."""
        return self.title or self.name.replace("_", " ").capitalize()


def default_queues() -> list[EscalationQueue]:
    """Supervisor, PR crisis, legal and security, as most care teams have them."""
    spec = [
        ("supervisor", "Supervisor", ["maya"], 30),
        ("pr_crisis", "PR crisis", ["maya"], 15),
        ("legal", "Legal", [], 60),
        ("security", "Security", [], 30),
    ]
    return [EscalationQueue(name=n, title=t, members=m, first_response=timedelta(minutes=f)) for n, t, m, f in spec]


DEFAULT_RUBRIC_QUEUES = {
    "safety_health": "supervisor",
    "harassment_discrimination": "supervisor",
    "legal_threat": "legal",
    "security_fraud": "security",
    "press_viral": "pr_crisis",
}


class EscalationConfig(Strict):
    """Escalation queues, and which of them the automatic triggers use."""

    queues: list[EscalationQueue] = Field(default_factory=default_queues)
    at_risk_queue: str | None = "supervisor"
    """Where a mention goes when its clock is at risk and nobody answered (``""`` switches this off)."""
    at_risk_lookback: Duration = timedelta(hours=24)
    """Clocks that went at risk longer ago than this are left alone: switching escalation on (or a seeded
    backlog) must not flood the supervisor with weeks-old misses."""
    rubric: dict[str, str] = Field(default_factory=lambda: dict(DEFAULT_RUBRIC_QUEUES))
    """Critical rubric categories (docs/urgency.md) and the queue each goes to at once."""

    @model_validator(mode="after")
    def _queues_exist(self) -> EscalationConfig:
        names = {q.name for q in self.queues}
        problems = _unique(self.queues, "queues")
        wanted = [("at_risk_queue", self.at_risk_queue)] + [(f"rubric.{k}", v) for k, v in self.rubric.items()]
        problems += [
            f"{path}: unknown queue {name!r} (queues: {', '.join(sorted(names))})"
            for path, name in wanted
            if name and name not in names
        ]
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def queue(self, name: str) -> EscalationQueue | None:
        """The queue called ``name``."""
        return next((q for q in self.queues if q.name == name), None)


class IngestConfig(Strict):
    """Limits on what one mention may carry into the store (connectors and file import alike)."""

    max_text_length: int = Field(default=40_000, ge=280, le=1_000_000)
    """Longer texts are stored cut at this many characters (with "…"); the raw payload keeps the original."""


class SignInLimits(Strict):
    """Throttles on failed sign-ins, enforced in the database so they hold across console replicas."""

    free_failures: int = Field(default=3, ge=1, le=100)
    """Failures in a row for one username before each further attempt has to wait."""
    first_wait: Duration = timedelta(seconds=5)
    max_wait: Duration = timedelta(minutes=15)
    per_address: int = Field(default=20, ge=1, le=100_000)
    """Failed sign-ins one client address may make within ``window`` (any usernames)."""
    overall: int = Field(default=200, ge=1, le=10_000_000)
    """Failed sign-ins the whole console accepts within ``window`` before everyone waits."""
    window: Duration = timedelta(minutes=15)


class SecurityConfig(Strict):
    """Session lifetime and idle timeout, and the sign-in throttles."""

    session_lifetime: Duration = timedelta(days=7)
    session_idle_timeout: Duration = timedelta(hours=8)
    """A session unused for this long is signed out, however long its lifetime."""
    sign_in: SignInLimits = Field(default_factory=SignInLimits)
    trusted_proxies: int = Field(default=0, ge=0, le=10)
    """Reverse proxies in front of the console that append to X-Forwarded-For (0: the header is ignored)."""


class AppConfig(Strict):
    """The whole ``mentiondesk.toml``."""

    team: TeamConfig = Field(default_factory=TeamConfig)
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    brands: list[BrandConfig] = Field(default_factory=list)
    queries: list[QueryConfig] = Field(default_factory=list)
    sources: list[SourceConfig] = Field(default_factory=list)
    sla: SlaPolicy = Field(default_factory=SlaPolicy)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    voice: list[VoiceRules] = Field(default_factory=list)
    templates: list[TemplateConfig] = Field(default_factory=list)
    x: XBudgetConfig = Field(default_factory=XBudgetConfig)
    classifier: ClassifierConfig = Field(default_factory=ClassifierConfig)
    alerts: AlertsConfig = Field(default_factory=AlertsConfig)
    ingest: IngestConfig = Field(default_factory=IngestConfig)
    security: SecurityConfig = Field(default_factory=SecurityConfig)

    @model_validator(mode="after")
    def _references_resolve(self) -> AppConfig:
        problems = list(_reference_problems(self))
        if problems:
            raise ValueError("\n".join(problems))
        return self

    def brand(self, name: str) -> BrandConfig:
        """The brand called ``name``."""
        return next(b for b in self.brands if b.name == name)


def _unique(items: list[Any], section: str) -> list[str]:
    seen: set[str] = set()
    out = []
    for i, item in enumerate(items):
        if item.name in seen:
            out.append(f"{section}[{i}].name: {item.name!r} is used twice; names must be unique")
        seen.add(item.name)
    return out


def _reference_problems(cfg: AppConfig) -> list[str]:
    brands = {b.name for b in cfg.brands}
    queries = {q.name for q in cfg.queries}
    known = ", ".join(sorted(brands)) or "none configured"
    out = _unique(cfg.brands, "brands") + _unique(cfg.sources, "sources") + _unique(cfg.queries, "queries")
    refs: list[tuple[str, str | None]] = [
        (f"brands[{i}].competitor_of", b.competitor_of) for i, b in enumerate(cfg.brands)
    ]
    refs += [(f"queries[{i}].brand", q.brand) for i, q in enumerate(cfg.queries)]
    refs += [(f"sources[{i}].brand", s.brand) for i, s in enumerate(cfg.sources)]
    refs += [(f"voice[{i}].brand", v.brand) for i, v in enumerate(cfg.voice)]
    refs += [(f"templates[{i}].brand", t.brand) for i, t in enumerate(cfg.templates)]
    out += [f"{path}: unknown brand {name!r} (known: {known})" for path, name in refs if name and name not in brands]
    for i, s in enumerate(cfg.sources):
        if s.query and s.query not in queries:
            out.append(f"sources[{i}].query: unknown query {s.query!r}")
        if s.kind == "search" and not s.query:
            out.append(f"sources[{i}].query: a search source needs a query")
    return out


def format_errors(error: ValidationError) -> list[str]:
    """One line per bad value: ``path: rule``."""
    lines = []
    for err in error.errors():
        path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"]).lstrip(".")
        message = str(err["msg"]).removeprefix("Value error, ")
        for part in message.split("\n"):
            lines.append(f"{path}: {part}" if path and not _has_path(part) else part)
    return lines


def _has_path(message: str) -> bool:
    return bool(re.match(r"^[a-z_]+(\[\d+\])?(\.[a-z_]+)*: ", message))


def parse_config(data: dict[str, Any], source: str = "<config>") -> AppConfig:
    """Validate a mapping, raising :class:`ConfigError` with readable problems."""
    try:
        return AppConfig.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(source, format_errors(exc)) from None


def config_path(explicit: str | Path | None = None) -> Path:
    """Explicit path, then ``$MENTIONDESK_CONFIG``, then ``./mentiondesk.toml``, then the built-in demo."""
    for candidate in (explicit, os.environ.get(CONFIG_ENV)):
        if candidate:
            return Path(candidate)
    local = Path(DEFAULT_CONFIG_NAME)
    return local if local.exists() else BUILTIN_CONFIG


def load_config(path: str | Path | None = None) -> AppConfig:
    """Read and validate the config file."""
    file = config_path(path)
    try:
        data = tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(str(file), ["file not found"], whole_file=True) from None
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        where = f"line {line}: byte 0x{exc.object[exc.start]:02x}"
        raise ConfigError(str(file), [f"not UTF-8 text ({where}); save the file as UTF-8"], whole_file=True) from None
    except OSError as exc:
        raise ConfigError(
            str(file), [f"cannot read the file: {exc.strerror or type(exc).__name__}"], whole_file=True
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(str(file), [f"not valid TOML: {exc}"], whole_file=True) from None
    return parse_config(data, str(file))
