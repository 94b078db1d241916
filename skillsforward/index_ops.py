"""Migration operations for PostgreSQL storage that Django's own operations do not express.

index_drop: drops an index without blocking writes (PostgreSQL: CONCURRENTLY).

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


def lz4_compression(*, table: str, column: str) -> migrations.RunPython:
    """Compresses new values of `column` with LZ4 instead of pglz (PostgreSQL 14+ built with LZ4;
    elsewhere nothing changes). For large JSON written in bulk, such as a course's 5,000 evaluation
    details, pglz was about a quarter of PostgreSQL's CPU for the insert (0.78-0.92 s against
    0.61-0.64 s with LZ4). Values already stored keep theirs; the reverse goes back to the default."""

    def lz4_on(apps, schema_editor):
        connection = schema_editor.connection
        if connection.vendor != "postgresql":
            return
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)"
            )
            if cursor.fetchone():
                cursor.execute(
                    f"ALTER TABLE {schema_editor.quote_name(table)} "
                    f"ALTER COLUMN {schema_editor.quote_name(column)} SET COMPRESSION lz4"
                )

    def lz4_off(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            schema_editor.execute(
                f"ALTER TABLE {schema_editor.quote_name(table)} "
                f"ALTER COLUMN {schema_editor.quote_name(column)} SET COMPRESSION DEFAULT"
            )

    return migrations.RunPython(lz4_on, lz4_off, elidable=False)
