"""rows_upsert: the sync's bulk writes. On PostgreSQL one INSERT … SELECT FROM unnest … ON CONFLICT per
batch; elsewhere bulk_create. What is stored must be what bulk_create(update_conflicts=True) stores:
every type the sync writes (decimal, aware and naive datetimes, JSON, NULL, booleans, text), updates
of the listed columns only, auto_now and auto_now_add columns, and the same on both paths."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from badging.models import AssessmentResult
from badging.services.sync.submissions_import import RESULT_FIELDS
from lti.models import Person
from skillsforward.bulk_upsert import _bulk_create_upsert, rows_upsert
from tests.factories import AssignmentFactory, PersonFactory, PlatformFactory

pytestmark = pytest.mark.django_db

PATHS = {"rows_upsert": rows_upsert, "bulk_create": _bulk_create_upsert}

FIELDS = RESULT_FIELDS  # the sync's own result rows
UPDATED = [name for name in FIELDS[3:]] + ["synced_at"]
PLUS_TWO = dt.timezone(dt.timedelta(hours=2))


def write(path: str, rows: list[tuple]) -> int:
    return PATHS[path](
        AssessmentResult,
        fields=FIELDS,
        rows=rows,
        unique_fields=["assignment", "learner"],
        update_fields=UPDATED,
        batch_size=2,  # several batches: one transaction
        using="default",
    )


def stored(assignment) -> dict[int, dict]:
    rows = AssessmentResult.objects.filter(assignment=assignment).values()
    return {row["learner_id"]: {k: v for k, v in row.items() if k not in ("id", "assignment_id")} for row in rows}


@pytest.fixture
def three():
    assignment = AssignmentFactory()
    people = [PersonFactory(platform=assignment.course.platform) for _ in range(3)]
    return assignment, people


def first_rows(assignment, people) -> list[tuple]:
    c, a = assignment.course_id, assignment.pk
    return [
        (c, a, people[0].pk, "11", "graded", Decimal("9.50"), Decimal("10.00"), Decimal("0.50"), "9.5", False,
         dt.datetime(2025, 3, 1, 10, 0, tzinfo=PLUS_TWO), dt.datetime(2025, 3, 2, 9, 30, tzinfo=dt.UTC),
         dt.datetime(2025, 3, 3, 9, 30, tzinfo=dt.UTC),
         {"_1": {"points": 2.5, "rating_id": "r1", "comments": "Très bien, l'\"essai\" {a,b} \\ NULL"}}),
        (c, a, people[1].pk, "12", "submitted", None, None, None, "", True, None, None, None, {}),
        # A float and a naive datetime: prepared by the field (made aware, with Django's warning).
        (c, a, people[2].pk, "13", "graded", 7.25, Decimal("8"), None, "A, \"B\"", False,
         dt.datetime(2025, 3, 1, 12, 0), None, None,  # noqa: DTZ001
         {"_2": {"points": None, "rating_id": "", "comments": ""}}),
    ]  # fmt: skip


@pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime")
@pytest.mark.parametrize("path", PATHS)
def test_inserted_rows_keep_every_value_and_type(three, path):
    assignment, people = three
    before = timezone.now()

    assert write(path, first_rows(assignment, people)) == 3

    rows = stored(assignment)
    first, second, third = rows[people[0].pk], rows[people[1].pk], rows[people[2].pk]
    assert first["score"] == Decimal("9.50") and first["entered_score"] == Decimal("10.00")
    assert first["points_deducted"] == Decimal("0.50") and first["excused"] is False
    assert first["submitted_at"] == dt.datetime(2025, 3, 1, 8, 0, tzinfo=dt.UTC)
    assert first["graded_at"] == dt.datetime(2025, 3, 2, 9, 30, tzinfo=dt.UTC)
    assert first["rubric_assessment"] == {
        "_1": {"points": 2.5, "rating_id": "r1", "comments": 'Très bien, l\'"essai" {a,b} \\ NULL'}
    }
    assert first["grade"] == "9.5" and first["workflow_state"] == "graded" and first["canvas_submission_id"] == "11"
    assert second["score"] is None and second["submitted_at"] is None and second["excused"] is True
    assert second["rubric_assessment"] == {} and second["grade"] == ""
    assert third["score"] == Decimal("7.25") and third["grade"] == 'A, "B"'
    assert third["submitted_at"] == dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)
    assert third["rubric_assessment"] == {"_2": {"points": None, "rating_id": "", "comments": ""}}
    assert all(row["course_id"] == assignment.course_id for row in rows.values())
    # auto_now: set on insert, as bulk_create's pre_save sets it.
    assert all(before <= row["synced_at"] <= timezone.now() for row in rows.values())


@pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime")
@pytest.mark.parametrize("path", PATHS)
def test_a_second_write_updates_every_listed_column_and_adds_new_rows(three, path):
    assignment, people = three
    write(path, first_rows(assignment, people)[:2])
    synced_first = stored(assignment)[people[0].pk]["synced_at"]
    c, a = assignment.course_id, assignment.pk
    regraded = [
        # Every value changes: to NULL, to a value from NULL, True to False, JSON to another.
        (c, a, people[0].pk, "21", "pending_review", None, Decimal("3.00"), None, "", True, None,
         dt.datetime(2025, 4, 1, tzinfo=dt.UTC), None, {"_9": {"points": 1.0, "rating_id": None, "comments": "x"}}),
        (c, a, people[1].pk, "22", "graded", Decimal("0.00"), Decimal("-1.25"), Decimal("1.25"), "0", False,
         dt.datetime(2025, 4, 2, tzinfo=dt.UTC), dt.datetime(2025, 4, 3, tzinfo=dt.UTC),
         dt.datetime(2025, 4, 4, tzinfo=dt.UTC), {}),
        first_rows(assignment, people)[2],
    ]  # fmt: skip

    write(path, regraded)

    rows = stored(assignment)
    assert len(rows) == 3 and AssessmentResult.objects.count() == 3
    one, two = rows[people[0].pk], rows[people[1].pk]
    assert (one["canvas_submission_id"], one["workflow_state"], one["score"], one["entered_score"]) == (
        "21",
        "pending_review",
        None,
        Decimal("3.00"),
    )
    assert one["excused"] is True and one["submitted_at"] is None and one["posted_at"] is None
    assert one["graded_at"] == dt.datetime(2025, 4, 1, tzinfo=dt.UTC)
    assert one["rubric_assessment"] == {"_9": {"points": 1.0, "rating_id": None, "comments": "x"}}
    assert one["synced_at"] >= synced_first
    assert (two["score"], two["entered_score"], two["points_deducted"], two["excused"]) == (
        Decimal("0.00"),
        Decimal("-1.25"),
        Decimal("1.25"),
        False,
    )
    assert two["posted_at"] == dt.datetime(2025, 4, 4, tzinfo=dt.UTC) and two["rubric_assessment"] == {}


@pytest.mark.filterwarnings("ignore:DateTimeField .* received a naive datetime")
def test_postgresql_and_the_bulk_create_fallback_store_the_same(three):
    """Same rows, written and rewritten once per path (two assignments): the same values stored."""
    assignment, people = three
    other = AssignmentFactory(course=assignment.course)
    for path, target in (("rows_upsert", assignment), ("bulk_create", other)):
        rows = [(c, target.pk, *rest) for c, _a, *rest in first_rows(assignment, people)]
        write(path, rows[:2])
        write(path, [rows[2], (*rows[0][:5], Decimal("1.00"), *rows[0][6:])])

    mine, fallback = stored(assignment), stored(other)
    for row in (*mine.values(), *fallback.values()):
        row.pop("synced_at")
    assert mine == fallback
    assert mine[people[0].pk]["score"] == Decimal("1.00")


@pytest.mark.parametrize("path", PATHS)
def test_people_keep_what_the_write_does_not_list(path):
    """created_at (auto_now_add) is set on insert only; columns not written keep their value on
    update (the LTI subject a launch stored) and get their default on insert; updated_at moves."""
    platform = PlatformFactory()
    known = PersonFactory(platform=platform, canvas_user_id="7", lti_sub="sub-7", locale="fr", email="a@x.edu")
    created = known.created_at
    fields = ("platform_id", "canvas_user_id", "name", "sortable_name", "email", "email_read_at")

    PATHS[path](
        Person,
        fields=fields,
        rows=[(platform.pk, "7", "Ana B", "B, Ana", "", None), (platform.pk, "8", "Cy D", "D, Cy", "", None)],
        unique_fields=["platform", "canvas_user_id"],
        update_fields=["name", "sortable_name", "updated_at"],
        batch_size=500,
        using="default",
    )

    known.refresh_from_db()
    new = Person.objects.get(platform=platform, canvas_user_id="8")
    assert (known.name, known.sortable_name, known.email, known.lti_sub, known.locale) == (
        "Ana B",
        "B, Ana",
        "a@x.edu",
        "sub-7",
        "fr",
    )
    assert known.created_at == created and known.updated_at > created
    assert (new.name, new.email, new.lti_sub, new.locale, new.email_read_at) == ("Cy D", "", "", "", None)
    assert new.created_at is not None and new.updated_at is not None


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite does not enforce a column's length")
@pytest.mark.parametrize("path", PATHS)
def test_a_value_longer_than_its_column_is_refused_not_cut(three, path):
    assignment, people = three
    row = (assignment.course_id, assignment.pk, people[0].pk, "x" * 65, "graded", None, None, None, "", False)
    with pytest.raises(DatabaseError), transaction.atomic():
        write(path, [(*row, None, None, None, {})])
    assert not AssessmentResult.objects.exists()


TRICKY_TEXT = [
    "NULL",
    "",
    "  spaced  ",
    'say "hi", {twice}',
    'back\\slash \\" and \\\\',
    "line\nbreak\ttab",
    "l'apostrophe; DROP TABLE x; --",
    "Zoë Łukasiewicz 山田 🎓",
    "{}",
    '"',
    "\\",
]


@pytest.mark.parametrize("path", PATHS)
def test_text_is_stored_exactly_as_given(path):
    platform = PlatformFactory()
    rows = [(platform.pk, str(n), text, text[::-1], "", None) for n, text in enumerate(TRICKY_TEXT)]

    PATHS[path](
        Person,
        fields=("platform_id", "canvas_user_id", "name", "sortable_name", "email", "email_read_at"),
        rows=rows,
        unique_fields=["platform", "canvas_user_id"],
        update_fields=["name", "sortable_name", "updated_at"],
        batch_size=500,
        using="default",
    )

    names = dict(Person.objects.filter(platform=platform).values_list("canvas_user_id", "name"))
    sortable = dict(Person.objects.filter(platform=platform).values_list("canvas_user_id", "sortable_name"))
    assert [names[str(n)] for n in range(len(TRICKY_TEXT))] == TRICKY_TEXT
    assert [sortable[str(n)] for n in range(len(TRICKY_TEXT))] == [t[::-1] for t in TRICKY_TEXT]
