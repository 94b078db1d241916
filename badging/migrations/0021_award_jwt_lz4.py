"""An award's VC-JWT (about 4.5 KB of base64url text, written with every award) is compressed with
LZ4 instead of pglz, as its signed credential already is (see index_ops): pglz was about a third of
PostgreSQL's work on the award row."""

from django.db import migrations

from skillsforward.index_ops import lz4_compression


class Migration(migrations.Migration):
    dependencies = [("badging", "0020_course_sync_retry_at")]

    operations = [lz4_compression(table="badging_award", column="ob3_jwt")]
