"""Baked images are stored with LZ4 instead of PostgreSQL's default pglz compression.

A baked PNG does not compress, but pglz tries the whole value on every insert (two images per
award): that was a large part of PostgreSQL's work per award. LZ4 gives up on it quickly and still
compresses baked SVG. Only new values are affected; PostgreSQL without LZ4 (or SQLite) keeps its
default."""

from django.db import migrations

TABLE, COLUMN = "badging_awardimage", "data"


def lz4_on(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")
        if cursor.fetchone():
            cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN {COLUMN} SET COMPRESSION lz4")


def lz4_off(apps, schema_editor):
    connection = schema_editor.connection
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ALTER TABLE {TABLE} ALTER COLUMN {COLUMN} SET COMPRESSION DEFAULT")


class Migration(migrations.Migration):
    dependencies = [("badging", "0016_learner_second_email")]

    operations = [migrations.RunPython(lz4_on, lz4_off, elidable=False)]
