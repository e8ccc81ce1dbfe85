"""What vulture cannot see being used: framework entry points, persisted columns and registry names.

vulture reads this file with the production packages, so every name mentioned here counts as used
everywhere (vulture matches names, not objects).  Keep each entry to something a framework, the database
or a string registry really calls, with the reason beside it; code that only tests call does not belong here.
The references are real, so ``mypy .ci/vulture_whitelist.py`` (run by ``make typecheck``) fails when one
goes stale.  Pydantic validators are left out: ``[tool.vulture] ignore_decorators`` covers them.
"""

from __future__ import annotations

from prawcore.sessions import Session as PrawcoreSession

from classifiers import gold_urgency, urgency_seed
from classifiers.network import MentionNet
from connectors.base import Platform
from connectors.reddit import _NoRetry
from connectors.text import _TextExtractor
from connectors.x.config import XConfig
from console.cli import LazyGroup
from console.commands import classify, data, demo, export, outbox
from console.config import Strict
from console.domain.business_hours import CalendarConfig
from console.domain.sla import SlaPolicy, SlaTargets
from console.domain.spikes import SpikeConfig
from console.services.alerts import AlertChannels
from storage import queue_index
from storage.enums import Urgency
from storage.models import (
    Alert,
    Author,
    AuthSession,
    BrandHandle,
    LabelFeedback,
    Mention,
    MentionRollupDaily,
    RollupState,
    Setting,
    Source,
    Template,
    User,
    WorkerStatus,
)
from storage.types import UTCDateTime

__all__ = [  # vulture counts names in __all__ as used, so the lists below are not reported themselves
    "CALLED_FROM_MIGRATIONS",
    "CLI_REGISTRY",
    "ENUM_MEMBERS",
    "FRAMEWORK_HOOKS",
    "MAINTENANCE_ENTRY_POINTS",
    "gold_csv_columns",
    "PERSISTED_COLUMNS",
    "PYDANTIC_SETTINGS",
    "prawcore_reads",
]

FRAMEWORK_HOOKS = (
    MentionNet.forward,  # torch: nn.Module.__call__ runs forward
    _TextExtractor.handle_starttag,  # html.parser: HTMLParser.feed calls these
    _TextExtractor.handle_data,
    _NoRetry.should_retry_on_failure,  # prawcore: its Session asks the retry strategy
    LazyGroup.get_command,  # click: Group overrides
    LazyGroup.format_commands,
    outbox.list_command,  # click: registered on the outbox group by its decorator
    outbox.settle_command,
    UTCDateTime.impl,  # SQLAlchemy: TypeDecorator protocol
    UTCDateTime.cache_ok,
    UTCDateTime.process_bind_param,
    UTCDateTime.process_result_value,
)

CLI_REGISTRY = (  # console.cli.COMMANDS names these as "module:attribute" strings and imports them lazily
    classify.train_command,
    classify.eval_command,
    classify.classify_file_command,
    data.import_command,
    demo.demo,
    demo.serve,
    demo.generate,
    export.export_command,
)

PYDANTIC_SETTINGS = (  # pydantic reads model_config when it builds the class
    XConfig.model_config,
    Strict.model_config,
    CalendarConfig.model_config,
    SlaTargets.model_config,
    SlaPolicy.model_config,
    SpikeConfig.model_config,
    AlertChannels.model_config,
)

CALLED_FROM_MIGRATIONS = (  # storage/migrations/versions is left out of the scan (Alembic loads it by path)
    queue_index.create_sql,
    queue_index.drop_sql,
)

MAINTENANCE_ENTRY_POINTS = (  # run by hand to rebuild classifiers' seed file (docs/urgency.md)
    urgency_seed.build_seed,
    urgency_seed.write_seed,
)


ENUM_MEMBERS = (  # reached by value or by iterating the enum, never by attribute
    Platform.DEMO,
    Urgency.HIGH,
    Urgency.NORMAL,
    Urgency.LOW,
)

PERSISTED_COLUMNS = (  # written through SQL or dicts vulture cannot follow, or kept for SQL readers; dropping one
    # is a schema migration, not a dead-code cleanup
    BrandHandle.external_user_id,
    Source.cursor_updated_at,
    Source.last_error_at,
    WorkerStatus.last_error_at,
    Author.first_seen_at,
    User.failed_logins,
    User.locked_until,
    User.last_login_at,
    Mention.escalated_at,
    Template.created_by_id,
    LabelFeedback.classification_id,
    LabelFeedback.old_value,
    LabelFeedback.new_value,
    AuthSession.last_seen_at,
    Setting.updated_by_id,
    Alert.acknowledged_by_id,
    MentionRollupDaily.first_response_s,
    MentionRollupDaily.resolution_s,
    MentionRollupDaily.ingestion_lag_s,
    RollupState.refreshed_at,
)


def prawcore_reads(session: PrawcoreSession) -> tuple[object, ...]:
    """What ``RedditConnector`` swaps into prawcore sessions, which prawcore reads: rate limiter, retry strategy."""
    return session._rate_limiter, session._retry_strategy_class


def gold_csv_columns(row: gold_urgency.GoldRow) -> tuple[str, ...]:
    """The gold readings, written to the CSV by name through ``GOLD_COLUMNS`` in ``gold_urgency.write_gold``."""
    return row.reader_a, row.reader_b, row.adjudicated
