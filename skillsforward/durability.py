"""Transactions of rows that are a copy of what Canvas holds, committed without waiting for the disk.

A course sync commits a few hundred times (results, enrollments, people, evaluations, in batches),
and on PostgreSQL every commit waits for its WAL to reach the disk: seconds of a sync spent
waiting, on its critical path. These rows can all be read from Canvas again, so their transactions
turn `synchronous_commit` off for themselves alone (SET LOCAL): PostgreSQL crashing within a
fraction of a second of such a commit can lose it, and the next sync reads it again. Nothing that
must not be lost (an award, a delivery, an audit event) is written this way. Since WAL is flushed
in order, any later ordinary commit (an award issued from these rows) makes these durable first.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections, transaction


@contextmanager
def rereadable_writes(using: str = DEFAULT_DB_ALIAS) -> Iterator[None]:
    """A transaction for rows that the next sync would read from Canvas again. Inside another
    transaction it is a savepoint of it, and that transaction keeps its durability."""
    connection = connections[using]
    outermost = not connection.in_atomic_block
    with transaction.atomic(using=using):
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL synchronous_commit TO OFF")
        yield
