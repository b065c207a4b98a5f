"""The database triggers that keep a tally from another table's writes (issue #9 §2): workflows.models.tally,
.metric_tally and .queue_tally each describe theirs as a `TallyTriggers`, which gives the statements creating and
dropping them per dialect and creates them with the table a schema is built from (migrations create them themselves).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table, event


@dataclass(frozen=True)
class TallyTriggers:
    tally: str  # the tally's table, for messages
    table: str  # the table whose writes fire the triggers
    names: tuple[str, ...]  # the triggers SQLite has
    sqlite: Callable[[], list[str]]
    postgresql: Callable[[], list[str]]
    functions: tuple[str, ...] = ()  # PostgreSQL's trigger functions (signatures), dropped after the triggers
    postgresql_names: tuple[str, ...] | None = None  # PostgreSQL's, where one trigger does what two do on SQLite

    def ddl(self, dialect: str) -> list[str]:
        """The statements creating the triggers (and PostgreSQL's functions)."""
        if dialect == "sqlite":
            return self.sqlite()
        if dialect == "postgresql":
            return self.postgresql()
        raise NotImplementedError(f"{self.tally} triggers for {dialect}")

    def trigger_names(self, dialect: str) -> tuple[str, ...]:
        """The triggers the dialect has once `ddl` ran (what the integrity check looks for)."""
        if dialect == "postgresql" and self.postgresql_names is not None:
            return self.postgresql_names
        return self.names

    def drop_ddl(self, dialect: str) -> list[str]:
        if dialect == "sqlite":
            return [f"DROP TRIGGER IF EXISTS {name}" for name in self.names]
        return [f"DROP TRIGGER IF EXISTS {name} ON {self.table}" for name in self.names] + [
            f"DROP FUNCTION IF EXISTS {function}" for function in reversed(self.functions)
        ]

    def create_with(self, table: Any) -> None:
        """Schemas built from the models (tests, benches: Base.metadata.create_all) get the triggers with `table`."""
        event.listen(table, "after_create", self._create)
        event.listen(table, "after_drop", self._drop_functions)

    def _create(self, target: Table, connection: Connection, **_kw: Any) -> None:
        for statement in self.ddl(connection.dialect.name):
            connection.exec_driver_sql(statement)

    def _drop_functions(self, target: Table, connection: Connection, **_kw: Any) -> None:
        if connection.dialect.name == "postgresql":
            for function in reversed(self.functions):
                connection.exec_driver_sql(f"DROP FUNCTION IF EXISTS {function}")


def sqlite_row_triggers(
    prefix: str, table: str, kept: Callable[[str], str], append: Callable[[str, int], str], moving: Sequence[str]
) -> list[str]:
    """SQLite's four triggers for a tally of `table`'s rows that are `kept` (a condition on NEW or OLD): +1 for a row
    inserted kept, -1 for one deleted, and for an update of a `moving` column -1 for the old row (`leave`) and +1 for
    the new (`enter`) when either is kept. `append(row, delta)` is the statement recording the change."""
    changed = " OR ".join(f"OLD.{column} IS NOT NEW.{column}" for column in moving)
    columns = ", ".join(moving)
    return [
        f"CREATE TRIGGER {prefix}_insert AFTER INSERT ON {table} WHEN {kept('NEW')} BEGIN {append('NEW', 1)} END",
        f"CREATE TRIGGER {prefix}_delete AFTER DELETE ON {table} WHEN {kept('OLD')} BEGIN {append('OLD', -1)} END",
        f"CREATE TRIGGER {prefix}_leave AFTER UPDATE OF {columns} ON {table} "
        f"WHEN {kept('OLD')} AND ({changed}) BEGIN {append('OLD', -1)} END",
        f"CREATE TRIGGER {prefix}_enter AFTER UPDATE OF {columns} ON {table} "
        f"WHEN {kept('NEW')} AND ({changed}) BEGIN {append('NEW', 1)} END",
    ]
