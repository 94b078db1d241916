"""Two courses offering the same badge class: each course sees its own learners and awards only.

The database allows one live award per badge class and learner (badging_award_one_live). Before,
the evaluation read live awards by badge class, so a learner issued in course A appeared as
"Issued" (name, email, award link) on course B's dashboard, CSV and learner page. Now awards are
read per course badge; a learner of B who already holds the class through A is shown in B as
"holds it from another course", without A's award, and is not issued twice.
"""

import pytest
from django.test import Client
from django.urls import reverse

from badging.models import Award, CourseBadge, LearnerProgress
from badging.services.issuance.issue import awards_issue_batch
from badging.services.sync.progress import progress_evaluate_course
from badging.views.instructor.access import action_token
from lti.models import LaunchContext
from tests.factories import (
    AssessmentResultFactory,
    AssignmentFactory,
    AwardFactory,
    BadgeClassFactory,
    CourseBadgeFactory,
    CourseFactory,
    EnrollmentFactory,
    LaunchContextFactory,
    PersonFactory,
    PlatformFactory,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]


@pytest.fixture(autouse=True)
def production_like(settings):
    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False


def master(course, learner):
    """The learner's enrollment in `course`, with every credentialing assessment mastered and the
    final grade entered."""
    EnrollmentFactory(course=course, learner=learner, override_score=91)
    for assignment in course.assignments.all():
        AssessmentResultFactory(assignment=assignment, learner=learner, score=12)


@pytest.fixture
def two_courses():
    platform = PlatformFactory()
    badge_class = BadgeClassFactory(name="Data Analysis Fundamentals")
    course_a = CourseFactory(platform=platform, name="Course A", canvas_course_id="501")
    course_b = CourseFactory(platform=platform, name="Course B", canvas_course_id="502")
    for course in (course_a, course_b):
        AssignmentFactory(course=course, canvas_assignment_id=f"{course.canvas_course_id}1")
    badge_a = CourseBadgeFactory(course=course_a, badge_class=badge_class)
    badge_b = CourseBadgeFactory(course=course_b, badge_class=badge_class)
    # Only in A, issued there.
    alice = PersonFactory(platform=platform, name="Alice Onlya", email="alice@uni.example.edu")
    master(course_a, alice)
    alice_award = AwardFactory(course_badge=badge_a, learner=alice, recipient_email="alice.primary@uni.example.edu")
    # In both courses, issued in A, masters B too.
    sam = PersonFactory(platform=platform, name="Sam Both", email="sam@uni.example.edu")
    master(course_a, sam)
    sam_award = AwardFactory(course_badge=badge_a, learner=sam, recipient_email="sam.primary@uni.example.edu")
    master(course_b, sam)
    # Only in B, issued there.
    bea = PersonFactory(platform=platform, name="Bea Onlyb", email="bea@uni.example.edu")
    master(course_b, bea)
    bea_award = AwardFactory(course_badge=badge_b, learner=bea, recipient_email="bea.primary@uni.example.edu")
    for course in (course_a, course_b):
        progress_evaluate_course(course_id=course.pk)
    teacher_a = PersonFactory(platform=platform, name="Tess A")
    teacher_b = PersonFactory(platform=platform, name="Tom B")
    return {
        "a": {
            "course": course_a,
            "badge": badge_a,
            "launch": LaunchContextFactory(course=course_a, person=teacher_a, role=LaunchContext.ROLE_INSTRUCTOR),
            "only": (alice, alice_award),
        },
        "b": {
            "course": course_b,
            "badge": badge_b,
            "launch": LaunchContextFactory(course=course_b, person=teacher_b, role=LaunchContext.ROLE_INSTRUCTOR),
            "only": (bea, bea_award),
        },
        "sam": (sam, sam_award),
    }


def local(email: str) -> str:
    """The part of an address before the "@" (the dashboard offers a line break before it)."""
    return email.partition("@")[0]


def pages(launch, badge: CourseBadge) -> list[str]:
    client = Client()
    dashboard = client.get(reverse("badging:instructor_dashboard", args=[launch.public_id]) + f"?badge={badge.pk}")
    assert dashboard.status_code == 200
    export = client.post(
        reverse("badging:instructor_export", args=[launch.public_id, badge.pk]),
        {"token": action_token(launch=launch, action="export")},
    )
    assert export.status_code == 200
    csv_text = b"".join(export.streaming_content).decode()
    return [dashboard.content.decode(), csv_text]


@pytest.mark.parametrize("here,there", [("a", "b"), ("b", "a")])
def test_a_course_shows_none_of_the_learners_and_awards_of_another_course(two_courses, here, there):
    mine, theirs = two_courses[here], two_courses[there]
    stranger, stranger_award = theirs["only"]
    own, own_award = mine["only"]
    for text in pages(mine["launch"], mine["badge"]):
        assert stranger.name not in text
        assert local(stranger.email) not in text and local(stranger_award.recipient_email) not in text
        assert stranger_award.public_id not in text
        assert own.name in text and local(own_award.recipient_email) in text
    assert not LearnerProgress.objects.filter(course_badge=mine["badge"], learner=stranger).exists()
    # The stranger's "why not issued?" page in this course does not exist.
    url = reverse("badging:instructor_learner", args=[mine["launch"].public_id, mine["badge"].pk, stranger.pk])
    response = Client().get(url)
    assert response.status_code == 404
    assert stranger.name not in response.content.decode()


def test_a_learner_holding_the_badge_from_another_course_is_shown_as_such_without_its_details(two_courses):
    sam, sam_award = two_courses["sam"]
    b = two_courses["b"]
    progress = LearnerProgress.objects.get(course_badge=b["badge"], learner=sam)
    assert progress.state == LearnerProgress.HELD_ELSEWHERE
    dashboard, csv_text = pages(b["launch"], b["badge"])
    assert "Sam Both" in dashboard and "Holds it from another course" in dashboard
    assert "Holds it from another course" in csv_text
    for text in (dashboard, csv_text):
        assert local(sam_award.recipient_email) not in text and sam_award.public_id not in text
    detail = Client().get(reverse("badging:instructor_learner", args=[b["launch"].public_id, b["badge"].pk, sam.pk]))
    html = detail.content.decode()
    assert detail.status_code == 200
    assert "another course" in html
    assert local(sam_award.recipient_email) not in html and sam_award.public_id not in html
    # The award of course A cannot be acted on from course B.
    revoke = reverse("badging:instructor_revoke", args=[b["launch"].public_id, sam_award.public_id])
    assert Client().get(revoke).status_code == 404
    # In A, Sam is issued, with A's award.
    a = two_courses["a"]
    assert LearnerProgress.objects.get(course_badge=a["badge"], learner=sam).state == LearnerProgress.ISSUED
    dashboard_a, _ = pages(a["launch"], a["badge"])
    assert local(sam_award.recipient_email) in dashboard_a


def test_a_learner_holding_the_badge_from_another_course_is_not_issued_twice(two_courses):
    sam, sam_award = two_courses["sam"]
    b = two_courses["b"]
    progress = LearnerProgress.objects.get(course_badge=b["badge"], learner=sam)
    # Even a row queued as eligible (e.g. before A's award existed) issues nothing and is not "issued" in B.
    LearnerProgress.objects.filter(pk=progress.pk).update(state=LearnerProgress.ELIGIBLE)
    assert awards_issue_batch(progress_ids=[progress.pk]) == []
    assert list(Award.objects.filter(learner=sam)) == [sam_award]
    assert LearnerProgress.objects.get(pk=progress.pk).state == LearnerProgress.HELD_ELSEWHERE


def test_the_learner_page_in_the_other_course_shows_no_award_of_the_first(two_courses):
    sam, sam_award = two_courses["sam"]
    b = two_courses["b"]
    launch = LaunchContextFactory(course=b["course"], person=sam, role=LaunchContext.ROLE_LEARNER)
    response = Client().get(reverse("badging:launch_home", args=[launch.public_id]), follow=True)
    html = response.content.decode()
    assert response.status_code == 200
    assert "You already hold this badge from another course" in html
    assert sam_award.public_id not in html


def test_losing_the_issuing_race_to_another_courses_award_is_not_shown_as_issued_here(monkeypatch, settings):
    """Another worker issues the badge class to the learner through course A between this batch's
    read of live awards and its insert: the database keeps A's award, and B's row says "held"."""
    import responses

    from badging.services.issuance import issue
    from tests.badging.test_issuance import CANVAS, another_worker_inserts_first, canvas_email
    from tests.badging.test_issuance_support import course_badge_with_assessments, eligible_progress

    settings.PUBLIC_BASE_URL = "https://badges.example.edu"
    badge_b = course_badge_with_assessments(api_base_url=CANVAS)
    progress = eligible_progress(badge_b)
    other_course = CourseFactory(platform=badge_b.course.platform)
    badge_a = CourseBadgeFactory(course=other_course, badge_class=badge_b.badge_class)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        canvas_email(rsps, progress.learner, progress.learner.email)
        # The batch read no award; then course A's worker wins before this one inserts.
        with another_worker_inserts_first(lambda: AwardFactory(course_badge=badge_a, learner=progress.learner)):
            assert issue.award_issue(progress_id=progress.pk) is None
    assert list(Award.objects.filter(learner=progress.learner).values_list("course_badge_id", flat=True)) == [
        badge_a.pk
    ]
    progress.refresh_from_db()
    assert progress.state == LearnerProgress.HELD_ELSEWHERE
