"""Server-side prepared statements for the few queries every page view runs (PostgreSQL only).

PostgreSQL plans each statement it is sent; for the learner page's digest (eight small
subqueries) and the launch lookup (four joins), planning took longer than running them. A
statement prepared once per database connection is planned a handful of times at most, until
PostgreSQL keeps a generic plan for it.
"""

from __future__ import annotations

import re
import weakref

from django.db import DatabaseError, connection

# The database connections (driver objects) on which each statement has been prepared. A new
# connection (after CONN_MAX_AGE, a database restart) is a new object and prepares it again.
_PREPARED: dict[str, weakref.WeakSet] = {}


def numbered(sql: str) -> str:
    """Django's SQL (%s placeholders, %% for a percent sign) with PostgreSQL's $1, $2, … instead."""
    count = iter(range(1, sql.count("%s") + 1))
    return re.sub(r"%[s%]", lambda m: f"${next(count)}" if m.group() == "%s" else "%", sql)


def execute_prepared(cursor, *, name: str, sql: str, types: list[str], params: list | tuple) -> None:
    """Runs `sql` (placeholders $1, $2, … of the given PostgreSQL `types`) with `params` on `cursor`,
    as the statement `name` prepared on this connection the first time."""
    raw = connection.connection
    prepared_on = _PREPARED.setdefault(name, weakref.WeakSet())
    prepare = f"PREPARE {name} ({', '.join(types)}) AS {sql}"
    execute = f"EXECUTE {name} ({', '.join(['%s'] * len(params))})"
    if raw not in prepared_on:
        # Outside a transaction's reach: a rollback does not undo a PREPARE.
        cursor.execute(prepare)
        prepared_on.add(raw)
    try:
        cursor.execute(execute, params)
    except DatabaseError as error:
        # The session lost it (DISCARD ALL, a pooler handing over another server connection):
        # prepared again, outside a transaction only (inside one, the error has aborted it).
        if getattr(error.__cause__, "pgcode", None) != "26000" or connection.in_atomic_block:
            raise
        cursor.execute(prepare)
        cursor.execute(execute, params)
