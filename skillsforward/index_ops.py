"""A migration operation that drops an index without blocking writes (PostgreSQL: CONCURRENTLY).

Django's AlterField(db_index=False) drops the index but also drops and re-adds the foreign key
constraint, whose re-validation scans the whole table under a lock that stops writes: on a large
results table that is minutes of failed syncs. Migrations using this are non-atomic (CONCURRENTLY
cannot run in a transaction) and pair it with the AlterField as state only.
"""

from django.db import migrations


def index_drop(*, table: str, name: str, columns: tuple[str, ...]) -> migrations.RunPython:
    """Drops `name` on `table`; the reverse creates it again on `columns`."""

    def drop(apps, schema_editor):
        concurrently = " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
        schema_editor.execute(f"DROP INDEX{concurrently} IF EXISTS {schema_editor.quote_name(name)}")

    def create(apps, schema_editor):
        concurrently = " CONCURRENTLY" if schema_editor.connection.vendor == "postgresql" else ""
        quoted = ", ".join(schema_editor.quote_name(c) for c in columns)
        schema_editor.execute(
            f"CREATE INDEX{concurrently} IF NOT EXISTS {schema_editor.quote_name(name)} "
            f"ON {schema_editor.quote_name(table)} ({quoted})"
        )

    return migrations.RunPython(drop, create)
