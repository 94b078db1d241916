"""A learner's evaluation detail (about 3.5 KB of JSON, written for every learner on every sync) and
an award's signed OB 3.0 credential are compressed with LZ4 instead of pglz (see index_ops)."""

from django.db import migrations

from skillsforward.index_ops import lz4_compression


class Migration(migrations.Migration):
    dependencies = [("badging", "0018_redundant_fk_indexes")]

    operations = [
        lz4_compression(table="badging_learnerprogress", column="detail"),
        lz4_compression(table="badging_award", column="ob3_credential"),
    ]
