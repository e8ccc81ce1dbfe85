"""What the subcommands share: a store that must already hold this version's tables says so before it is read.

Commands that only read (``sources``, ``export``, ``outbox``, ``db check``…) must not create tables
behind the user's back, and a query on a missing table fails with a bare ``no such table``.  So they
open the store through :func:`open_existing_store`, which compares the store's Alembic revision with
this code's head and turns a mismatch into one line that names the store and the command that fixes it.

Commands call the same permission-checked services as the pages, as :func:`cli_actor`: whoever runs
``mentiondesk`` holds the store's URL and credentials, so no role could keep them out, and the audit log
names them ``system:cli``.  Work done as a person (settling a parked reply) takes ``--as USERNAME`` instead
and is checked against that user's role.
"""

from __future__ import annotations

from console.cli import UserFacingError
from console.services.permissions import Actor
from console.services.store import Store, open_store

UPGRADE_COMMAND = "mentiondesk db upgrade"


def cli_actor() -> Actor:
    """The operator at the shell: :meth:`Actor.system` (an admin), audit-labelled ``system:cli``."""
    return Actor.system("cli")


class StoreNotReadyError(UserFacingError):
    """The store has no tables yet, or tables of another version of mentiondesk."""


def schema_problem(store: Store) -> str | None:
    """Why this code cannot use the store's schema, in one line; ``None`` when the store is at the latest revision."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from storage import migrate

    script = ScriptDirectory.from_config(migrate.alembic_config(store.url))
    head = script.get_current_head()
    with store.engine.connect() as conn:
        current = MigrationContext.configure(conn).get_current_revision()
    if current == head:
        return None
    where = f"the store at {store.describe()}"
    if current is None:
        return f"{where} has no tables yet: run `{UPGRADE_COMMAND}` (or `make run`)"
    if current in {rev.revision for rev in script.walk_revisions()}:
        return f"{where} is at schema {current}, older than this version's {head}: run `{UPGRADE_COMMAND}`"
    return f"{where} is at schema {current}, newer than this version knows ({head}): upgrade mentiondesk"


def open_existing_store(url: str | None) -> Store:
    """Open the store at ``url`` (env and config resolved) without migrating it.

    Raises:
        StoreNotReadyError: It is not at this version's schema; the message says how to fix that.
    """
    store = open_store(url)
    try:
        problem = schema_problem(store)
    except BaseException:
        store.dispose()
        raise
    if problem is not None:
        store.dispose()
        raise StoreNotReadyError(problem)
    return store
