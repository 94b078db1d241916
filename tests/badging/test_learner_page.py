"""The learner page at /l/<launch_id>/: what each learner sees, and nothing of anyone else."""

import datetime
import html as htmllib
import re
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from badging.models import AuditEvent, Award, LearnerProgress
from badging.views.learner import share_form_token
from tests import factories as f

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    """The page as a person reads it: tags dropped, whitespace collapsed."""
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", html))).strip()


@pytest.fixture
def course_setup():
    """A course with one badge over two credentialing assessments (12 points, 80% = 9.6) and a learner."""
    course = f.CourseFactory(name="Data Skills 101")
    course_badge = f.CourseBadgeFactory(course=course, badge_class__name="Data Analysis Fundamentals")
    a1 = f.AssignmentFactory(course=course, name="Clean a data set", position=1)
    a2 = f.AssignmentFactory(course=course, name="Present findings", position=2)
    f.AssignmentFactory(course=course, name="Weekly quiz", assignment_group_name="Quizzes", position=3)
    learner = f.PersonFactory(platform=course.platform, name="Ada Learner", email="ada@uni.example.edu")
    f.EnrollmentFactory(course=course, learner=learner, state="active")
    launch = f.LaunchContextFactory(course=course, person=learner)
    return {"course": course, "course_badge": course_badge, "a1": a1, "a2": a2, "learner": learner, "launch": launch}


def page(client, launch):
    response = client.get(reverse("badging:launch_home", args=[launch.public_id]))
    assert response.status_code == 200
    return response


def test_not_started_shows_the_rule_from_canvas(client, course_setup):
    text = text_of(page(client, course_setup["launch"]))
    assert "Data Analysis Fundamentals" in text
    assert "Not started" in text
    assert "Master each of the 2 credentialing assessments" in text
    assert "at least 80% (9.6 of 12 points)" in text
    assert "Clean a data set" in text and "Present findings" in text
    assert "Weekly quiz" not in text  # not in the credentialing group
    assert text.count("Not submitted") == 2
    # The rubric criteria and ratings of each assessment
    assert "Skill A" in text and "Meets 6 pts" in text and "Not yet 0 pts" in text
    assert "Final grade not entered yet" in text
    assert "the badge is issued only once your instructor has entered your final grade" in text
    assert "ada@uni.example.edu" in text
    assert "Ways to Contact" in text and "Badgr / Canvas Credentials" in text
    assert "Issued by Skills Forward University" in text
    assert "Data analysis" in text  # the skill (alignment)


def grade(assignment, learner, score, *, posted=True, rubric=None, **kw):
    now = timezone.now()
    return f.AssessmentResultFactory(
        assignment=assignment,
        learner=learner,
        score=Decimal(score) if score is not None else None,
        workflow_state=kw.pop("workflow_state", "graded"),
        submitted_at=now,
        graded_at=now if score is not None else None,
        posted_at=now if posted and score is not None else None,
        rubric_assessment=rubric or {},
        **kw,
    )


def set_final_grade(s, score="91.5"):
    s["learner"].enrollments.update(override_score=Decimal(score))


def test_in_progress_shows_score_and_chosen_rating(client, course_setup):
    s = course_setup
    grade(
        s["a1"],
        s["learner"],
        "11",
        rubric={"_1": {"points": 6, "rating_id": "r1", "comments": "Tidy work"}, "_2": {"points": 5}},
    )
    response = page(client, s["launch"])
    text = text_of(response)
    assert "In progress: 1 of 2 credentialing assessments mastered" in text
    assert "Mastered" in text and "11 of 12" in text
    assert "“Tidy work”" in text
    assert "Not submitted" in text  # the second assessment
    html = response.content.decode()
    assert '<li class="rating rating--chosen">Meets' in html
    assert "(your rating)" in html


def test_submitted_and_unposted_grades_both_read_awaiting_grading(client, course_setup):
    s = course_setup
    grade(s["a1"], s["learner"], None, workflow_state="submitted")
    # Graded but not posted: the learner must not see the score or the rubric rating.
    grade(s["a2"], s["learner"], "3", posted=False, rubric={"_1": {"points": 3, "rating_id": "r2"}})
    response = page(client, s["launch"])
    text = text_of(response)
    assert text.count("Submitted, awaiting grading") == 2
    assert "3 of 12" not in text
    assert "rating--chosen" not in response.content.decode()
    assert "In progress" in text


def test_not_yet_mastered(client, course_setup):
    s = course_setup
    grade(s["a1"], s["learner"], "8")
    text = text_of(page(client, s["launch"]))
    assert "Not yet mastered" in text and "8 of 12" in text
    assert "0 of 2 mastered" in text


def test_mastered_all_awaiting_final_grade(client, course_setup):
    s = course_setup
    grade(s["a1"], s["learner"], "12")
    grade(s["a2"], s["learner"], "10")
    text = text_of(page(client, s["launch"]))
    assert "Mastered, awaiting final grade" in text
    assert "All 2 credentialing assessments mastered: waiting for your final grade." in text
    assert "The badge is issued only once your instructor has entered your final grade" in text
    assert "Final grade not entered yet" in text
    assert "2 of 2 mastered" in text


def test_eligible_and_issuing_failure_is_explained(client, course_setup):
    s = course_setup
    grade(s["a1"], s["learner"], "12")
    grade(s["a2"], s["learner"], "10")
    set_final_grade(s)
    text = text_of(page(client, s["launch"]))
    assert "You have earned this badge. It is being issued." in text
    assert "It will be emailed to ada@uni.example.edu shortly." in text
    assert "Final grade entered" in text
    f.LearnerProgressFactory(
        course_badge=s["course_badge"],
        learner=s["learner"],
        state=LearnerProgress.ELIGIBLE,
        final_grade_entered=True,
        issue_status=LearnerProgress.ISSUE_FAILED,
        issue_error="SMTP timeout",
    )
    text = text_of(page(client, s["launch"]))
    assert "it will be retried automatically" in text


def test_final_grade_without_mastery_is_not_earned(client, course_setup):
    s = course_setup
    grade(s["a1"], s["learner"], "12")
    grade(s["a2"], s["learner"], "4")
    set_final_grade(s, "70")
    text = text_of(page(client, s["launch"]))
    assert "Not earned in this course." in text
    assert "not every credentialing assessment was mastered (1 of 2)" in text
    assert "Where the badge will be sent" not in text


def test_issued_shows_award_details_and_share_choice(client, course_setup):
    s = course_setup
    issued = datetime.datetime(2026, 5, 14, 10, 0, tzinfo=datetime.UTC)
    award = f.AwardFactory(
        course_badge=s["course_badge"], learner=s["learner"], recipient_email="ada@uni.example.edu", issued_on=issued
    )
    response = page(client, s["launch"])
    text = text_of(response)
    assert "Badge earned" in text
    assert "You have earned this badge." in text
    assert "14 May 2026" in text
    assert "Sent to ada@uni.example.edu" in text
    assert "Your name on the public badge page" in text
    html = response.content.decode()
    assert reverse("badging:learner_award_share", args=[s["launch"].public_id, award.public_id]) in html
    assert 'value="no" checked' in html  # hidden by default
    assert "How do I add it to LinkedIn or my backpack?" in text


def test_issued_links_come_from_the_issuance_area(client, course_setup):
    from badging.selectors.awards import award_links

    s = course_setup
    award = f.AwardFactory(course_badge=s["course_badge"], learner=s["learner"])
    response = page(client, s["launch"])
    html = response.content.decode()
    text = text_of(response)
    links = award_links(award, request=response.wsgi_request)
    assert {"page", "linkedin", "image", "ob3_json"} <= set(links)
    for link in links.values():
        assert link["url"].replace("&", "&amp;") in html
        assert link["label"] in text
    urls = {key: link["url"] for key, link in links.items()}
    assert urls["page"].startswith("http://testserver/public/assertions/")


def test_revoked_says_so_with_the_reason(client, course_setup):
    s = course_setup
    f.AwardFactory(
        course_badge=s["course_badge"],
        learner=s["learner"],
        revoked=True,
        revoked_at=timezone.now(),
        revocation_reason="Issued in error: grade corrected",
    )
    response = page(client, s["launch"])
    text = text_of(response)
    assert "This badge was revoked" in text
    assert "Reason: Issued in error: grade corrected" in text
    assert "Your name on the public badge page" not in text


@pytest.mark.parametrize("state", ["inactive", "deleted", "rejected"])
def test_inactive_enrollment_is_not_eligible(client, course_setup, state):
    s = course_setup
    s["learner"].enrollments.update(state=state)
    grade(s["a1"], s["learner"], "12")
    grade(s["a2"], s["learner"], "12")
    set_final_grade(s)
    text = text_of(page(client, s["launch"]))
    assert "This badge cannot be issued to you." in text
    assert "Canvas does not list you as an active student" in text


def test_student_view_never_earns_a_badge(client, course_setup):
    s = course_setup
    s["launch"].is_test_user = True
    s["launch"].save()
    s["learner"].enrollments.update(is_test_user=True, enrollment_type="StudentViewEnrollment")
    grade(s["a1"], s["learner"], "12")
    grade(s["a2"], s["learner"], "12")
    set_final_grade(s)
    text = text_of(page(client, s["launch"]))
    assert "You are using Canvas Student View." in text
    assert "Student View never earns a badge" in text
    assert "being issued" not in text


def test_stored_evaluation_decides_the_state(client, course_setup):
    """Once the evaluation has run, the learner is told its verdict and its per-assessment outcomes."""
    s = course_setup
    grade(s["a1"], s["learner"], "12")
    f.LearnerProgressFactory(
        course_badge=s["course_badge"],
        learner=s["learner"],
        state=LearnerProgress.IN_PROGRESS,
        mastered_count=0,
        assessment_count=2,
        detail={
            "version": 1,
            "state": "in_progress",
            "assessments": [
                {"assignment_id": s["a1"].canvas_assignment_id, "status": "not_mastered", "score": 12.0},
                {"assignment_id": s["a2"].canvas_assignment_id, "status": "awaiting_grading", "score": None},
            ],
        },
    )
    text = text_of(page(client, s["launch"]))
    assert "Not yet mastered" in text
    assert "Submitted, awaiting grading" in text
    assert "In progress" in text


def test_another_learners_data_never_appears(client, course_setup):
    s = course_setup
    other = f.PersonFactory(platform=s["course"].platform, name="Zed Other", email="zed@uni.example.edu")
    f.EnrollmentFactory(course=s["course"], learner=other)
    grade(s["a1"], other, "7", rubric={"_1": {"points": 1, "comments": "Zed's private feedback"}})
    grade(s["a2"], other, "12")
    f.AwardFactory(course_badge=s["course_badge"], learner=other, revoked=True, revocation_reason="Zed's reason")
    f.LearnerProgressFactory(course_badge=s["course_badge"], learner=other, state=LearnerProgress.NOT_EARNED)
    text = text_of(page(client, s["launch"]))
    for secret in ("Zed", "zed@", "7 of 12", "private feedback", "Not earned", "revoked"):
        assert secret not in text
    assert "Not started" in text


def test_canvas_text_is_escaped(client, course_setup):
    s = course_setup
    nasty = "Zoë O'Brien <b>bold</b><script>alert(1)</script>"
    s["course"].name = nasty
    s["course"].save()
    s["learner"].name = nasty
    s["learner"].save()
    s["a1"].name = nasty
    s["a1"].rubric[0]["description"] = nasty
    s["a1"].save()
    s["course_badge"].badge_class.name = nasty
    s["course_badge"].badge_class.save()
    f.AwardFactory(course_badge=s["course_badge"], learner=s["learner"])
    html = page(client, s["launch"]).content.decode()
    assert "<b>bold</b>" not in html and "<script>alert" not in html
    assert "Zoë O&#x27;Brien &lt;b&gt;bold&lt;/b&gt;" in html
    assert " style=" not in html and "<script" not in html  # CSP: no inline styles or scripts


def test_query_count_does_not_grow_with_the_course(client, course_setup, django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from badging.models import AssessmentResult, Enrollment
    from lti.models import Person

    s = course_setup
    grade(s["a1"], s["learner"], "12")
    with CaptureQueriesContext(connection) as small:
        page(client, s["launch"])

    people = Person.objects.bulk_create(
        [Person(platform=s["course"].platform, canvas_user_id=f"u{i}", name=f"Learner {i}") for i in range(500)]
    )
    Enrollment.objects.bulk_create(
        [
            Enrollment(course=s["course"], learner=p, canvas_enrollment_id=f"e{i}", state="active")
            for i, p in enumerate(people)
        ]
    )
    now = timezone.now()
    AssessmentResult.objects.bulk_create(
        [
            AssessmentResult(course=s["course"], assignment=a, learner=p, score=12, graded_at=now, posted_at=now)
            for p in people
            for a in (s["a1"], s["a2"])
        ]
    )
    LearnerProgress.objects.bulk_create(
        [LearnerProgress(course_badge=s["course_badge"], learner=p, state="eligible") for p in people]
    )
    f.AwardFactory(course_badge=s["course_badge"], learner=people[0])
    with django_assert_max_num_queries(len(small.captured_queries)):
        text = text_of(page(client, s["launch"]))
    assert "In progress: 1 of 2" in text
    # The learner page's own reads (launch, course badges, sync state, assignments, results,
    # enrollments, progress, awards) plus the background-sync check: a small constant.
    assert len(small.captured_queries) <= 20


def test_no_badge_in_course_for_each_role(client):
    course = f.CourseFactory(name="History 200", canvas_course_id="4242")
    learner = f.LaunchContextFactory(course=course)
    text = text_of(page(client, learner))
    assert "No badge is offered in this course yet" in text

    teacher = f.LaunchContextFactory(course=course, role="instructor")
    text = text_of(page(client, teacher))
    assert "No badge is set up for this course" in text
    assert "ask your Canvas administrator" in text and "4242" in text

    admin = f.LaunchContextFactory(course=course, role="admin")
    text = text_of(page(client, admin))
    assert "Badge set-up for this course" in text
    assert "None yet" in text
    assert "How to set up a badge" in text and "badging_import" in text


def test_admin_sees_configuration_state_and_filtered_admin_link(client, course_setup):
    s = course_setup
    platform = s["course"].platform
    platform.api_token = ""
    platform.save()
    admin = f.LaunchContextFactory(course=s["course"], role="admin")
    response = page(client, admin)
    text = text_of(response)
    assert "1 configured" in text and "Data Analysis Fundamentals" in text
    assert "Missing" in text  # Canvas API token
    assert "Never" in text  # no sync yet
    html = response.content.decode()
    assert f"/admin/badging/coursebadge/?course__id__exact={s['course'].pk}" in html


def test_instructor_goes_to_the_dashboard_when_it_exists(client, course_setup, settings):
    s = course_setup
    teacher = f.LaunchContextFactory(course=s["course"], role="instructor")
    from django.urls import NoReverseMatch

    try:
        expected = reverse("badging:instructor_dashboard", args=[teacher.public_id])
    except NoReverseMatch:
        expected = None
    response = client.get(reverse("badging:launch_home", args=[teacher.public_id]))
    if expected:
        assert response.status_code == 302 and response["Location"] == expected
    else:
        assert response.status_code == 200 and "Badge set-up for this course" in text_of(response)
    # Without the dashboard, an instructor still sees the course's set-up, read-only.
    settings.ROOT_URLCONF = "tests.badging.urls_without_dashboard"
    text = text_of(page(client, teacher))
    assert "Badge set-up for this course" in text
    assert "Only your institution's badges administrator can change this set-up." in text


def test_page_view_requests_a_sync_when_stale(client, course_setup, django_capture_on_commit_callbacks):
    from badging.models import CourseSync

    CourseSync.objects.create(
        course=course_setup["course"], last_synced_at=timezone.now() - datetime.timedelta(hours=1)
    )
    with django_capture_on_commit_callbacks() as enqueued:
        page(client, course_setup["launch"])
    assert len(enqueued) == 1  # the sync task, handed to Celery after commit
    assert CourseSync.objects.get(course=course_setup["course"]).requested_at is not None

    CourseSync.objects.filter(course=course_setup["course"]).update(last_synced_at=timezone.now())
    with django_capture_on_commit_callbacks() as enqueued:
        page(client, course_setup["launch"])
    assert enqueued == []  # fresh data: no sync


def test_page_survives_a_failing_sync_request(client, course_setup, monkeypatch):
    def broken(*, course_id):
        raise ConnectionError("broker down")

    monkeypatch.setattr("badging.views.learner.course_sync_request_if_stale", broken)
    assert "Data Analysis Fundamentals" in text_of(page(client, course_setup["launch"]))


def test_last_updated_is_shown(client, course_setup):
    from badging.models import CourseSync

    CourseSync.objects.create(
        course=course_setup["course"], last_synced_at=timezone.now() - datetime.timedelta(hours=2)
    )
    text = text_of(page(client, course_setup["launch"]))
    assert "last updated 2 hours ago" in text


def test_expired_launch_is_refused(client, course_setup):
    launch = course_setup["launch"]
    launch.expires_at = timezone.now() - datetime.timedelta(minutes=1)
    launch.save()
    response = client.get(reverse("badging:launch_home", args=[launch.public_id]))
    assert response.status_code == 404
    assert "Click Badges in your Canvas course menu again." in text_of(response)


# --- share choice ---------------------------------------------------------------------------------


def share(client, launch, award, **data):
    url = reverse("badging:learner_award_share", args=[launch.public_id, award.public_id])
    return client.post(url, data, **data.pop("_headers", {}))


def test_share_choice_shows_and_hides_the_name(client, course_setup):
    s = course_setup
    award = f.AwardFactory(course_badge=s["course_badge"], learner=s["learner"])
    token = share_form_token(s["launch"])
    response = share(client, s["launch"], award, token=token, show_name="yes")
    assert response.status_code == 302
    award.refresh_from_db()
    assert award.learner_name_public is True
    assert AuditEvent.objects.filter(award=award, action="award_name_shown").exists()
    text = text_of(client.get(response["Location"]))
    assert "Your name is now shown on the public badge page." in text
    share(client, s["launch"], award, token=token, show_name="no")
    award.refresh_from_db()
    assert award.learner_name_public is False


def test_share_refuses_forgery_and_other_peoples_awards(client, course_setup):
    s = course_setup
    award = f.AwardFactory(course_badge=s["course_badge"], learner=s["learner"])
    forged = share(client, s["launch"], award, token="forged", show_name="yes")
    assert forged.status_code == 403 and "This form is no longer valid." in text_of(forged)
    assert share(client, s["launch"], award, token=share_form_token(s["launch"])).status_code == 400
    response = client.post(
        reverse("badging:learner_award_share", args=[s["launch"].public_id, award.public_id]),
        {"token": share_form_token(s["launch"]), "show_name": "yes"},
        headers={"Origin": "https://evil.example"},
    )
    assert response.status_code == 403
    other_award = f.AwardFactory(course_badge=s["course_badge"])
    assert (
        share(client, s["launch"], other_award, token=share_form_token(s["launch"]), show_name="yes").status_code == 404
    )
    other_award.refresh_from_db()
    award.refresh_from_db()
    assert not award.learner_name_public and not other_award.learner_name_public
    assert (
        client.get(reverse("badging:learner_award_share", args=[s["launch"].public_id, award.public_id])).status_code
        == 405
    )
    assert Award.objects.filter(learner_name_public=True).count() == 0


def test_badge_image_is_the_public_badge_class_image(client, course_setup):
    badge_class = course_setup["course_badge"].badge_class
    html = page(client, course_setup["launch"]).content.decode()
    url = f"/public/badges/{badge_class.public_id}/image"
    assert f'src="{url}"' in html
    response = client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/png"


def test_rule_variants_read_from_the_course_badge(client, course_setup):
    """Picked assessments, a per-assessment override, a rubric minimum and a final-grade assignment."""
    s = course_setup
    cb = s["course_badge"]
    final = f.AssignmentFactory(course=s["course"], name="Final grade", assignment_group_name="Grades", rubric=[])
    cb.assessment_ids = [s["a2"].canvas_assignment_id, s["a1"].canvas_assignment_id]
    cb.mastery_overrides = {s["a2"].canvas_assignment_id: {"min_points": 11}}
    cb.min_rubric_criterion_percent = Decimal("50")
    cb.final_grade_source = "assignment"
    cb.final_grade_assignment_name = "Final grade"
    cb.save()
    grade(s["a1"], s["learner"], "10", rubric={"_1": {"points": 6, "rating_id": "r1"}, "_2": {"points": 0}})
    text = text_of(page(client, s["launch"]))
    assert text.index("Present findings") < text.index("Clean a data set")  # the picked order
    assert "at least 11 of 12 points, and at least 50% on every rubric criterion" in text
    assert "Below the minimum" in text and "Not yet mastered" in text  # 10/12 but Skill B at 0
    assert "the badge is issued only once your instructor has graded and posted “Final grade”" in text

    grade(final, s["learner"], "90")
    text = text_of(page(client, s["launch"]))
    assert "Final grade entered" in text
    assert "Not earned in this course." in text


def test_badge_without_published_assessments_says_so(client, course_setup):
    s = course_setup
    from badging.models import Assignment

    Assignment.objects.filter(pk__in=[s["a1"].pk, s["a2"].pk]).update(published=False)
    text = text_of(page(client, s["launch"]))
    assert "The credentialing assessments for this badge are not published in Canvas yet." in text
    assert "each of the 0" not in text


def test_fresh_data_reads_just_now(client, course_setup):
    from badging.models import CourseSync

    CourseSync.objects.create(course=course_setup["course"], last_synced_at=timezone.now())
    assert "last updated just now" in text_of(page(client, course_setup["launch"]))


def test_picked_assessment_deleted_in_canvas_is_shown_and_blocks_the_badge(client, course_setup):
    s = course_setup
    cb = s["course_badge"]
    cb.assessment_ids = [s["a1"].canvas_assignment_id, s["a2"].canvas_assignment_id]
    cb.save()
    s["a2"].deleted_in_canvas = True
    s["a2"].save()
    from badging.models import CourseSync

    CourseSync.objects.create(course=s["course"], last_synced_at=timezone.now())
    grade(s["a1"], s["learner"], "12")
    s["learner"].enrollments.update(override_score=Decimal("90"))
    text = text_of(page(client, s["launch"]))
    assert "Master each of the 2 credentialing assessments" in text
    assert "Removed from Canvas" in text
    assert "You have earned this badge" not in text


def test_several_badges_in_a_course_are_each_shown_with_their_own_rule(client, course_setup):
    s = course_setup
    quiz = f.AssignmentFactory(course=s["course"], name="Spreadsheet quiz", assignment_group_name="Quizzes")
    f.CourseBadgeFactory(
        course=s["course"],
        badge_class__name="Spreadsheet Basics",
        assessment_ids=[quiz.canvas_assignment_id],
        mastery_mode="points",
        mastery_min_points=Decimal("11"),
    )
    f.CourseBadgeFactory(course=s["course"], badge_class__name="Retired badge", active=False)
    grade(quiz, s["learner"], "11")
    grade(s["a1"], s["learner"], "9")
    text = text_of(page(client, s["launch"]))
    first, second = text.index("Data Analysis Fundamentals"), text.index("Spreadsheet Basics")
    assert first < second and "Retired badge" not in text
    analysis, spreadsheet = text[first:second], text[second:]
    assert "Master each of the 2 credentialing assessments" in analysis and "Not yet mastered" in analysis
    assert "Spreadsheet quiz" not in analysis and "Clean a data set" not in spreadsheet
    assert "at least 11 of 12 points" in spreadsheet and "1 of 1 mastered" in spreadsheet


def test_picked_assessments_before_the_first_sync_are_not_called_missing(client, course_setup):
    s = course_setup
    cb = s["course_badge"]
    cb.assessment_ids = ["901", "902"]  # not read from Canvas yet
    cb.save()
    text = text_of(page(client, s["launch"]))
    assert "Data from Canvas has not been read yet" in text
    assert "Not found in Canvas" not in text and "not published in Canvas yet" in text


def test_final_grade_before_the_last_grade_is_posted_is_not_called_not_earned(client, course_setup):
    s = course_setup
    grade(s["a1"], s["learner"], "12")
    grade(s["a2"], s["learner"], "12", posted=False)
    set_final_grade(s)
    text = text_of(page(client, s["launch"]))
    assert "Not earned" not in text
    assert "In progress: 1 of 2 credentialing assessments mastered." in text
    assert "Your final grade is already entered; 1 still to be graded or mastered." in text


def test_score_words_escape_what_canvas_sent_but_not_the_translation():
    from django.utils import translation

    from badging.selectors.learner.cards import RESULT_AWAITING_GRADING, RESULT_NOT_YET, assessment_score_text

    with translation.override("fr"):
        text = assessment_score_text(
            result=RESULT_NOT_YET, problem="", score=Decimal("9.5"), points_possible=Decimal("12"), grade="<b>B</b>"
        )
        assert text == "9,5 sur 12 (&lt;b&gt;B&lt;/b&gt;)"
        # As {% translate %} shows it: the translators' text is not escaped.
        waiting = assessment_score_text(
            result=RESULT_AWAITING_GRADING, problem="", score=None, points_possible=None, grade=""
        )
        assert waiting == "Pas encore noté, ou la note n’est pas encore publiée"
