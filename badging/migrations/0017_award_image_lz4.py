"""Baked images are stored with LZ4 instead of PostgreSQL's default pglz compression.

A baked PNG does not compress, but pglz tries the whole value on every insert (two images per
award): that was a large part of PostgreSQL's work per award. LZ4 gives up on it quickly and still
compresses baked SVG. Only new values are affected; PostgreSQL without LZ4 (or SQLite) keeps its
default."""

from django.db import migrations

from skillsforward.index_ops import lz4_compression


class Migration(migrations.Migration):
    dependencies = [("badging", "0016_learner_second_email")]

    operations = [lz4_compression(table="badging_awardimage", column="data")]
