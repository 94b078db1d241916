"""The benchmarks' own PostgreSQL databases: each run starts from an empty one."""

from urllib.parse import urlsplit


def recreate_database(url: str) -> None:
    """Drops (closing its connections: a killed run may leave some) and creates the database of `url`."""
    import psycopg2

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username, password=parts.password, dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{name}"')
    admin.close()


def copy_database(url: str, to_url: str) -> None:
    """Drops the database of `to_url` and creates it as a copy of `url`'s (nobody may be connected to that one)."""
    import psycopg2

    parts = urlsplit(url)
    name, copy = parts.path.lstrip("/"), urlsplit(to_url).path.lstrip("/")
    admin = psycopg2.connect(
        host=parts.hostname, port=parts.port or 5432, user=parts.username, password=parts.password, dbname="postgres"
    )
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        cursor.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    admin.close()
