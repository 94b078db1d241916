"""Indexes: every foreign key is covered by an index that starts with it (cascading deletes and
the per-course reads stay index scans), and no single-column index repeats the first column of
another index on the same table (each one costs every insert and update of a sync)."""

import pytest
from django.apps import apps
from django.db import connection, models

pytestmark = pytest.mark.django_db

APPS = ("badging", "lti")


def _leading_columns() -> dict[str, list[tuple[str, list[str]]]]:
    """table -> [(index name, its columns in order)] of every index over plain columns and all rows."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT t.relname, i.relname,
                   array_agg(a.attname ORDER BY k.ordinality)
              FROM pg_index x
              JOIN pg_class t ON t.oid = x.indrelid
              JOIN pg_class i ON i.oid = x.indexrelid
              JOIN LATERAL unnest(x.indkey) WITH ORDINALITY AS k(attnum, ordinality) ON true
              JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum
             WHERE t.relnamespace = 'public'::regnamespace
               AND x.indpred IS NULL AND x.indexprs IS NULL  -- a partial index covers only some rows
             GROUP BY t.relname, i.relname
            """
        )
        found: dict[str, list[tuple[str, list[str]]]] = {}
        for table, index, columns in cursor.fetchall():
            found.setdefault(table, []).append((index, list(columns)))
    return found


def test_every_foreign_key_has_an_index_that_starts_with_it_and_none_is_repeated():
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's catalog")
    indexes = _leading_columns()
    uncovered, repeated = [], []
    for app in APPS:
        for model in apps.get_app_config(app).get_models():
            table = model._meta.db_table
            for field in model._meta.concrete_fields:
                if isinstance(field, models.ForeignKey) and not any(
                    cols[0] == field.column for _, cols in indexes.get(table, [])
                ):
                    uncovered.append(f"{table}.{field.column}")
            for name, cols in indexes.get(table, []):
                if len(cols) == 1 and any(
                    other != name and len(other_cols) > 1 and other_cols[0] == cols[0]
                    for other, other_cols in indexes[table]
                ):
                    repeated.append(f"{table}.{name}")
    assert uncovered == []
    assert repeated == [], "\n".join(repeated)


def test_large_values_written_in_bulk_are_compressed_with_lz4():
    """Baked images, evaluation details and signed credentials (and their JWTs) take LZ4 (pglz spent a quarter of
    PostgreSQL's CPU on a course's details, and tried every incompressible PNG whole); the rest keeps
    the default."""
    if connection.vendor != "postgresql":
        pytest.skip("reads PostgreSQL's catalog")
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_settings WHERE name = 'default_toast_compression' AND 'lz4' = ANY(enumvals)")
        if not cursor.fetchone():
            pytest.skip("this PostgreSQL was built without LZ4")
        cursor.execute(
            """
            SELECT c.relname || '.' || a.attname
              FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid
             WHERE c.relnamespace = 'public'::regnamespace AND a.attcompression = 'l'
            """
        )
        lz4 = {name for (name,) in cursor.fetchall()}
    assert lz4 == {
        "badging_awardimage.data",
        "badging_learnerprogress.detail",
        "badging_award.ob3_credential",
        "badging_award.ob3_jwt",
    }
