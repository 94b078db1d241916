"""A batch's awards and baked images written in bulk, cheaper than bulk_create: the awards in one
INSERT … ON CONFLICT DO NOTHING RETURNING, the images in one binary COPY (PostgreSQL; plain
multi-row statements elsewhere). badging.services.issuance.issue decides what is written and in
which transaction; this module only writes rows."""

from __future__ import annotations

import io
import struct

from django.db import connection as db_connection

from badging.models import Award, AwardImage


def awards_insert(awards_and_json: list[tuple[Award, str | None]]) -> dict[str, int]:
    """Insert these awards (each with its credential already encoded as JSON, or None), skipping
    those a unique constraint refuses (a race lost, a status slot taken); returns {public id: pk}
    of the ones inserted.

    On PostgreSQL one INSERT … ON CONFLICT DO NOTHING RETURNING, the values prepared by each field
    as bulk_create prepares them (the credential as the JSON already encoded for signing), without
    bulk_create's generic machinery or a second query for the new keys."""
    awards = [award for award, _json in awards_and_json]
    if db_connection.vendor != "postgresql":
        Award.objects.bulk_create(awards, ignore_conflicts=True)
        return dict(Award.objects.filter(public_id__in=[a.public_id for a in awards]).values_list("public_id", "pk"))
    quote = db_connection.ops.quote_name
    fields = [field for field in Award._meta.concrete_fields if not field.primary_key]
    columns = ", ".join(quote(str(field.column)) for field in fields)
    params: list = []
    for award, credential_json in awards_and_json:
        for field in fields:
            if field.attname == "ob3_credential" and credential_json is not None:
                params.append(credential_json)
            else:
                params.append(field.get_db_prep_save(field.pre_save(award, True), db_connection))
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    # Table and column names from the model (quoted), values as parameters.
    sql = (
        f"INSERT INTO {quote(Award._meta.db_table)} ({columns}) VALUES {', '.join([row] * len(awards))} "  # noqa: S608
        f"ON CONFLICT DO NOTHING RETURNING {quote('public_id')}, {quote(str(Award._meta.pk.column))}"
    )
    with db_connection.cursor() as cursor:
        cursor.execute(sql, params)
        return dict(cursor.fetchall())


_COPY_HEADER = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0)


def images_insert(rows: list[tuple[int, str, bytes]]) -> None:
    """Insert AwardImage rows (award id, content type, data) without the two model instances per
    award that bulk_create would build and prepare: on PostgreSQL one binary COPY (the image bytes
    sent as they are, not as hex in the SQL text for the server to parse back), else a few
    multi-row statements."""
    if not rows:
        return
    quote = db_connection.ops.quote_name
    fields = {field.name: field.column for field in AwardImage._meta.concrete_fields}
    columns = ", ".join(quote(str(fields[name])) for name in ("award", "content_type", "data"))
    table = quote(AwardImage._meta.db_table)
    with db_connection.cursor() as cursor:
        if db_connection.vendor == "postgresql":
            # COPY's binary format: per row the field count, then each field's length and bytes
            # (award_id a bigint in network byte order); -1 ends the data.
            data = [_COPY_HEADER]
            for award_id, content_type, image in rows:
                kind = content_type.encode()
                data += [struct.pack("!hiqi", 3, 8, award_id, len(kind)), kind, struct.pack("!i", len(image)), image]
            data.append(struct.pack("!h", -1))
            cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT binary)", io.BytesIO(b"".join(data)))
            return
        for start in range(0, len(rows), 300):  # 900 parameters: within SQLite's limit too
            chunk = rows[start : start + 300]
            values = ", ".join(["(%s, %s, %s)"] * len(chunk))
            # Table and column names from the model (quoted), values as parameters.
            sql = f"INSERT INTO {table} ({columns}) VALUES {values}"  # noqa: S608
            cursor.execute(sql, [value for row in chunk for value in row])
