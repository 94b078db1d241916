"""The learner page and the dashboard under load: bounded queries, and a cache that never shows
one learner's page to another nor a page older than its data.

No timing here (bench/web.py measures): query counts and what each page shows.
"""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from freezegun import freeze_time

from badging.models import AssessmentResult, Award, BadgeClass, CourseSync, Enrollment, LearnerProgress
from badging.selectors.learner import cached as learner_page_cache
from badging.views.learner import share_form_token, wallet_form_token
from lti.models import Person
from tests import factories as f
from tests.badging import test_learner_page
from tests.badging.test_dashboard import build_course, dashboard_url
from tests.badging.test_learner_page import grade, page, text_of

pytestmark = pytest.mark.django_db

course_setup = test_learner_page.course_setup  # the learner page tests' course, badge and learner


def postgresql_only():
    # The page's digest (what keys the cache) is computed by PostgreSQL; elsewhere nothing is cached.
    if connection.vendor != "postgresql":
        pytest.skip("the learner page cache needs PostgreSQL")


def crowd(course, course_badge, assignments, n: int) -> None:
    """n more learners in the course, each graded on every assessment, with progress and some awards."""
    start = Person.objects.count()
    people = Person.objects.bulk_create(
        [
            Person(platform=course.platform, canvas_user_id=f"c{start + i}", name=f"Learner {i}", email=f"l{i}@x.edu")
            for i in range(n)
        ]
    )
    Enrollment.objects.bulk_create(
        [Enrollment(course=course, learner=p, canvas_enrollment_id=f"ce{start + i}") for i, p in enumerate(people)]
    )
    now = timezone.now()
    AssessmentResult.objects.bulk_create(
        [
            AssessmentResult(course=course, assignment=a, learner=p, score=12, graded_at=now, posted_at=now)
            for p in people
            for a in assignments
        ]
    )
    LearnerProgress.objects.bulk_create(
        [LearnerProgress(course_badge=course_badge, learner=p, state="issued") for p in people]
    )
    Award.objects.bulk_create(
        [
            Award(
                badge_class=course_badge.badge_class,
                course_badge=course_badge,
                learner=p,
                recipient_email=p.email,
                issued_on=now,
            )
            for p in people[::2]
        ]
    )


def queries_of(client, url: str) -> int:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return len(ctx.captured_queries)


# --- Query counts at two sizes -------------------------------------------------------------------


def test_learner_page_queries_do_not_grow_with_the_course(client, course_setup, django_assert_max_num_queries):
    s = course_setup
    grade(s["a1"], s["learner"], "12")
    url = reverse("badging:launch_home", args=[s["launch"].public_id])
    small_first, small_again = queries_of(client, url), queries_of(client, url)

    crowd(s["course"], s["course_badge"], [s["a1"], s["a2"]], 400)
    grade(s["a2"], s["learner"], "11")  # the learner's own data changed: the page is built again
    with django_assert_max_num_queries(small_first):
        text = text_of(client.get(url))
    assert "Mastered, awaiting final grade" in text
    with django_assert_max_num_queries(small_again):
        client.get(url)
    # Launch, sync check, the page's own reads; shown again unchanged, only what proves it unchanged.
    assert small_first <= 20
    if connection.vendor == "postgresql":
        assert small_again <= 5 < small_first


def test_dashboard_queries_do_not_grow_with_the_course(client, django_assert_max_num_queries):
    s = build_course()
    url = dashboard_url(s["launch"])
    small = queries_of(client, url)
    crowd(s["course"], s["badge"], [s["a1"], s["a2"]], 400)
    with django_assert_max_num_queries(small):
        response = client.get(url)
    assert response.status_code == 200 and "Learner 1" in response.content.decode()
    with django_assert_max_num_queries(small):
        assert client.get(dashboard_url(s["launch"], page=5, sort="state")).status_code == 200
    assert small <= 25


# --- The learner page cache ------------------------------------------------------------------------


def test_a_page_shown_again_unchanged_is_not_built_again(client, course_setup, monkeypatch):
    postgresql_only()
    s = course_setup
    f.AwardFactory(course_badge=s["course_badge"], learner=s["learner"])  # the page then has a share form
    built = []
    real = learner_page_cache.learner_page
    # Where learner_page_built() looks it up.
    monkeypatch.setattr(learner_page_cache, "learner_page", lambda **kw: built.append(1) or real(**kw))
    first = page(client, s["launch"]).content
    assert page(client, s["launch"]).content == first
    assert len(built) == 1
    # A second launch of the same learner reuses the page's data but carries its own form tokens.
    again = f.LaunchContextFactory(course=s["course"], person=s["learner"], deployment=s["launch"].deployment)
    response = page(client, again)
    html = response.content.decode()
    assert len(built) == 1
    # Not rendered again either: the page kept for the first launch, with this launch's own parts.
    assert response.templates == []
    assert share_form_token(again) in html and share_form_token(s["launch"]) not in html
    assert wallet_form_token(again) in html and wallet_form_token(s["launch"]) not in html
    assert again.public_id in html and s["launch"].public_id not in html
    assert html.replace(again.public_id, "L").replace(share_form_token(again), "S").replace(
        wallet_form_token(again), "W"
    ) == first.decode().replace(s["launch"].public_id, "L").replace(share_form_token(s["launch"]), "S").replace(
        wallet_form_token(s["launch"]), "W"
    )
    # A concluded launch is another page (read-only: no share or wallet forms), never this one.
    concluded = f.LaunchContextFactory(
        course=s["course"], person=s["learner"], deployment=s["launch"].deployment, concluded=True
    )
    html = page(client, concluded).content.decode()
    assert "read-only" in html and share_form_token(concluded) not in html


def test_a_second_learner_never_sees_the_first_learners_page(client, course_setup):
    postgresql_only()
    s = course_setup
    grade(s["a1"], s["learner"], "12", rubric={"_1": {"points": 6, "comments": "Ada's private feedback"}})
    f.AwardFactory(course_badge=s["course_badge"], learner=s["learner"], revoked=True, revocation_reason="Ada's")
    page(client, s["launch"])  # cached now
    assert "Ada's private feedback" in text_of(page(client, s["launch"]))

    other = f.PersonFactory(platform=s["course"].platform, name="Zed Other", email="zed@uni.example.edu")
    f.EnrollmentFactory(course=s["course"], learner=other)
    launch = f.LaunchContextFactory(course=s["course"], person=other, deployment=s["launch"].deployment)
    text = text_of(page(client, launch))
    for secret in ("Ada", "ada@", "12 of 12", "private feedback", "revoked"):
        assert secret not in text
    assert "zed@uni.example.edu" in text and "Not started" in text


def test_the_same_learner_in_another_course_sees_that_course(client, course_setup):
    postgresql_only()
    s = course_setup
    grade(s["a1"], s["learner"], "12")
    assert "Data Analysis Fundamentals" in text_of(page(client, s["launch"]))

    course = f.CourseFactory(platform=s["course"].platform, name="Statistics 201")
    f.CourseBadgeFactory(course=course, badge_class__name="Statistics Practitioner")
    f.AssignmentFactory(course=course, name="Fit a model", position=1)
    f.EnrollmentFactory(course=course, learner=s["learner"])
    launch = f.LaunchContextFactory(course=course, person=s["learner"], deployment=s["launch"].deployment)
    text = text_of(page(client, launch))
    assert "Statistics Practitioner" in text and "Fit a model" in text
    assert "Data Analysis Fundamentals" not in text and "Clean a data set" not in text
    assert "Data Analysis Fundamentals" in text_of(page(client, s["launch"]))


def test_a_grade_shows_at_once(client, course_setup):
    postgresql_only()
    s = course_setup
    result = grade(s["a1"], s["learner"], "8")
    assert "8 of 12" in text_of(page(client, s["launch"]))
    # Written as a sync writes, in bulk: no model signal tells anyone.
    AssessmentResult.objects.filter(pk=result.pk).update(score=Decimal("11"))
    text = text_of(page(client, s["launch"]))
    assert "11 of 12" in text and "8 of 12" not in text


def test_a_new_award_and_its_revocation_show_at_once(client, course_setup):
    postgresql_only()
    s = course_setup
    grade(s["a1"], s["learner"], "12")
    grade(s["a2"], s["learner"], "12")
    assert "Badge earned" not in text_of(page(client, s["launch"]))

    Award.objects.bulk_create(
        [
            Award(
                badge_class=s["course_badge"].badge_class,
                course_badge=s["course_badge"],
                learner=s["learner"],
                recipient_email="ada@uni.example.edu",
                issued_on=timezone.now(),
            )
        ]
    )
    text = text_of(page(client, s["launch"]))
    assert "Badge earned" in text and "Public badge page" in text

    Award.objects.filter(learner=s["learner"]).update(
        revoked=True, revoked_at=timezone.now(), revocation_reason="Issued in error"
    )
    text = text_of(page(client, s["launch"]))
    assert "Reason: Issued in error" in text and "Public badge page" not in text


def test_last_updated_stays_true_on_a_cached_page(client, course_setup):
    postgresql_only()
    s = course_setup
    now = timezone.now()
    CourseSync.objects.create(course=s["course"], last_synced_at=now - timezone.timedelta(minutes=1, seconds=5))
    with freeze_time(now):
        assert "1 minute ago" in text_of(page(client, s["launch"]))
    with freeze_time(now + timezone.timedelta(minutes=2)):  # nothing changed but the time
        response = page(client, s["launch"])
        assert "3 minutes ago" in text_of(response)
        assert response.templates == []  # the kept page, its "… ago" words filled in as it is served
        assert "1 minute ago" not in text_of(response)


@pytest.mark.django_db(transaction=True)
def test_a_page_still_opens_on_a_new_database_connection(client, course_setup):
    # The launch lookup and the digest are statements prepared on each connection (see
    # skillsforward.prepared): a new connection (CONN_MAX_AGE, a database restart) prepares them again.
    s = course_setup
    grade(s["a1"], s["learner"], "8")
    assert "8 of 12" in text_of(page(client, s["launch"]))
    connection.close()
    AssessmentResult.objects.filter(learner=s["learner"]).update(score=Decimal("11"))
    assert "11 of 12" in text_of(page(client, s["launch"]))
    expired = f.LaunchContextFactory(
        course=s["course"], person=s["learner"], deployment=s["launch"].deployment, expires_at=timezone.now()
    )
    assert client.get(reverse("badging:launch_home", args=[expired.public_id])).status_code == 404


@pytest.mark.django_db(transaction=True)
def test_a_page_still_opens_when_the_session_forgot_its_prepared_statements(client, course_setup):
    postgresql_only()
    s = course_setup
    assert "Data Analysis Fundamentals" in text_of(page(client, s["launch"]))
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as a session reset (DISCARD ALL) would
    assert "Data Analysis Fundamentals" in text_of(page(client, s["launch"]))


def test_a_learners_first_view_reads_only_their_own_rows_when_the_course_is_unchanged(
    client, course_setup, monkeypatch
):
    postgresql_only()
    s = course_setup
    read = []
    real = learner_page_cache.course_rules_read
    # Where learner_page_built() looks it up.
    monkeypatch.setattr(learner_page_cache, "course_rules_read", lambda **kw: read.append(1) or real(**kw))
    page(client, s["launch"])  # the course's part (badges, assignments, sync, rules) is kept now
    other = f.PersonFactory(platform=s["course"].platform, name="Bo Second", email="bo@uni.example.edu")
    f.EnrollmentFactory(course=s["course"], learner=other)
    grade(s["a1"], other, "12")
    launch = f.LaunchContextFactory(course=s["course"], person=other, deployment=s["launch"].deployment)
    text = text_of(page(client, launch))
    assert "12 of 12" in text and "bo@uni.example.edu" in text
    assert len(read) == 1


def test_a_change_to_the_course_shows_at_once_on_every_learners_page(client, course_setup):
    postgresql_only()
    s = course_setup
    assert "Clean a data set" in text_of(page(client, s["launch"]))
    other = f.PersonFactory(platform=s["course"].platform, name="Bo Second", email="bo@uni.example.edu")
    f.EnrollmentFactory(course=s["course"], learner=other)
    launch = f.LaunchContextFactory(course=s["course"], person=other, deployment=s["launch"].deployment)
    page(client, launch)
    # Renamed in Canvas and synced; the badge's name changed by an admin (bulk writes: no signal).
    type(s["a1"]).objects.filter(pk=s["a1"].pk).update(name="Tidy a data set")
    BadgeClass.objects.filter(pk=s["course_badge"].badge_class_id).update(name="Data Analysis Essentials")
    for shown in (text_of(page(client, s["launch"])), text_of(page(client, launch))):
        assert "Tidy a data set" in shown and "Clean a data set" not in shown
        assert "Data Analysis Essentials" in shown and "Data Analysis Fundamentals" not in shown
