"""Rows that are a copy of Canvas are committed without waiting for the disk; nothing else is."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from skillsforward.durability import rereadable_writes

pytestmark = pytest.mark.django_db(transaction=True)


def _synchronous_commit() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW synchronous_commit")
        return cursor.fetchone()[0]


@pytest.fixture
def postgresql():
    if connection.vendor != "postgresql":
        pytest.skip("synchronous_commit is PostgreSQL's")


def test_a_rereadable_transaction_alone_commits_without_waiting_and_the_session_keeps_its_setting(postgresql):
    assert _synchronous_commit() == "on"
    with rereadable_writes():
        assert _synchronous_commit() == "off"
    assert _synchronous_commit() == "on"  # SET LOCAL: the next transaction on this connection waits again
    with transaction.atomic():
        assert _synchronous_commit() == "on"


def test_inside_another_transaction_it_leaves_that_transactions_durability_alone(postgresql):
    with transaction.atomic():
        with rereadable_writes():
            assert _synchronous_commit() == "on"  # the outer transaction may hold an award
        assert _synchronous_commit() == "on"


def test_a_rolled_back_rereadable_transaction_writes_nothing(postgresql):
    from lti.models import Platform

    with pytest.raises(RuntimeError), rereadable_writes():
        Platform.objects.create(issuer="https://canvas.example.edu", client_id="x", name="x")
        raise RuntimeError
    assert not Platform.objects.exists()
    assert _synchronous_commit() == "on"


def test_the_sync_writes_its_results_so(postgresql):
    from badging.services.sync.submissions_import import _results_write

    with CaptureQueriesContext(connection) as queries:
        assert _results_write([]) == 0
    assert [q["sql"] for q in queries.captured_queries if "synchronous_commit" in q["sql"]] == [
        "SET LOCAL synchronous_commit TO OFF"
    ]
