"""The instructor dashboard: counts, the learner table (filter, search, sort, paginate), the rule
check against Canvas, the last sync in plain words, and who may see it."""

import datetime
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from badging.models import AssessmentResult, Award, Delivery, LearnerProgress, SyncRun
from badging.selectors.dashboard.display_states import (
    AWAITING_FINAL_GRADE,
    ELIGIBLE,
    FAILED,
    IN_PROGRESS,
    ISSUED,
    NOT_EARNED,
    NOT_STARTED,
    state_counts,
)
from badging.selectors.dashboard.learner_table import LearnerFilters, learner_table
from badging.selectors.dashboard.rule_check import rule_check
from badging.selectors.dashboard.sync_status import INSTRUCTOR_SYNC_ERRORS, sync_status
from lti.models import LaunchContext, Person
from tests.factories import (
    AssessmentResultFactory,
    AssignmentFactory,
    AwardFactory,
    CourseBadgeFactory,
    CourseFactory,
    EnrollmentFactory,
    LaunchContextFactory,
    LearnerProgressFactory,
    PersonFactory,
)

pytestmark = pytest.mark.django_db


def detail_v1(state, reason, assessments, final_entered=False, final_reason=""):
    """LearnerProgress.detail as badging.evaluation writes it (version 1)."""
    return {
        "version": 1,
        "state": state,
        "reason": reason,
        "assessments": [
            {
                "assignment_id": aid,
                "name": name,
                "points_possible": 12.0,
                "needed_points": 9.6,
                "needed_percent": 80.0,
                "score": score,
                "status": status,
                "mastered": status == "mastered",
                "reason": why,
                "criteria": [],
            }
            for aid, name, score, status, why in assessments
        ],
        "final_grade": {
            "source": "override",
            "entered": final_entered,
            "value": "A" if final_entered else "",
            "reason": final_reason or ("final grade entered (A)" if final_entered else "no final grade yet"),
        },
        "enrollment": {"state": "active", "counts": True, "reason": ""},
    }


def build_course(*, name="Data Skills 101"):
    """A course with one badge, two credentialing assessments and learners in every state."""
    course = CourseFactory(name=name)
    platform = course.platform
    a1 = AssignmentFactory(course=course, name="Clean a data set", canvas_assignment_id="501", position=1)
    a2 = AssignmentFactory(course=course, name="Present findings", canvas_assignment_id="502", position=2)
    AssignmentFactory(course=course, name="Weekly quiz", canvas_assignment_id="503", assignment_group_name="Quizzes")
    badge = CourseBadgeFactory(course=course, badge_class__name="Data Analysis Fundamentals")

    def learner(name, email, uid):
        return PersonFactory(platform=platform, name=name, sortable_name=name, email=email, canvas_user_id=uid)

    people = {
        "ada": learner("Ada Lovelace", "ada@uni.example.edu", "11"),
        "bob": learner("Bob Byte", "bob@uni.example.edu", "12"),
        "cy": learner("Cy Cipher", "cy@uni.example.edu", "13"),
        "dee": learner("Dee Data", "dee@uni.example.edu", "14"),
        "eve": learner("Eve <b>Evil</b>", "eve@uni.example.edu", "9"),
        "fay": learner("Fay Fail", "fay@uni.example.edu", "15"),
    }
    for person in people.values():
        EnrollmentFactory(course=course, learner=person)
    m = ("501", "Clean a data set", 12.0, "mastered", "mastered: 12 of 12 points (9.6 needed)")
    m2 = ("502", "Present findings", 10.0, "mastered", "mastered: 10 of 12 points (9.6 needed)")
    low = ("502", "Present findings", 6.0, "not_mastered", "6 of 12 points; 9.6 needed for mastery")
    LearnerProgressFactory(
        course_badge=badge,
        learner=people["ada"],
        state=LearnerProgress.ISSUED,
        mastered_count=2,
        assessment_count=2,
        final_grade_entered=True,
        detail=detail_v1("issued", "the badge has been issued", [m, m2], True),
    )
    ada_award = AwardFactory(course_badge=badge, learner=people["ada"], recipient_email="ada.primary@uni.example.edu")
    Delivery.objects.create(award=ada_award, kind=Delivery.KIND_EMAIL, status=Delivery.SENT, sent_at=timezone.now())
    LearnerProgressFactory(
        course_badge=badge,
        learner=people["bob"],
        state=LearnerProgress.IN_PROGRESS,
        mastered_count=1,
        assessment_count=2,
        detail=detail_v1("in_progress", "1 of 2 credentialing assessments mastered", [m, low]),
    )
    LearnerProgressFactory(
        course_badge=badge,
        learner=people["cy"],
        state=LearnerProgress.AWAITING_FINAL_GRADE,
        mastered_count=2,
        assessment_count=2,
        detail=detail_v1("awaiting_final_grade", "all 2 credentialing assessments mastered; waiting", [m, m2]),
    )
    # Graded but not posted, with a Final Grade Override: as the evaluation writes it.
    LearnerProgressFactory(
        course_badge=badge,
        learner=people["dee"],
        state=LearnerProgress.NOT_STARTED,
        mastered_count=0,
        assessment_count=2,
        final_grade_entered=True,
        detail=detail_v1(
            "not_started",
            "none of the 2 credentialing assessments submitted yet",
            [
                ("501", "Clean a data set", 5.0, "graded_not_posted", "graded, but the grade is not posted yet"),
                ("502", "Present findings", None, "not_submitted", "not submitted"),
            ],
            True,
            final_reason="final grade entered (B+)",
        ),
    )
    LearnerProgressFactory(
        course_badge=badge,
        learner=people["eve"],
        state=LearnerProgress.NOT_EARNED,
        mastered_count=0,
        assessment_count=2,
        final_grade_entered=True,
        detail=detail_v1("not_earned", "the final grade was entered with 0 of 2 mastered", [low], True),
    )
    LearnerProgressFactory(
        course_badge=badge,
        learner=people["fay"],
        state=LearnerProgress.ELIGIBLE,
        issue_status=LearnerProgress.ISSUE_FAILED,
        issue_error="Canvas has no primary email for this learner.",
        mastered_count=2,
        assessment_count=2,
        final_grade_entered=True,
        detail=detail_v1("eligible", "every credentialing assessment is mastered", [m, m2], True),
    )
    teacher = PersonFactory(platform=platform, name="Tess Teacher", canvas_user_id="2")
    launch = LaunchContextFactory(course=course, person=teacher, role=LaunchContext.ROLE_INSTRUCTOR)
    return {"course": course, "badge": badge, "people": people, "launch": launch, "a1": a1, "a2": a2}


def dashboard_url(launch, **params):
    url = reverse("badging:instructor_dashboard", args=[launch.public_id])
    if params:
        from urllib.parse import urlencode

        url += "?" + urlencode(params)
    return url


# --- Selectors ------------------------------------------------------------------------------------


def test_counts_by_state_pull_failed_issuing_out_of_eligible():
    s = build_course()
    counts = state_counts(course_badge_ids=[s["badge"].pk])[s["badge"].pk]
    assert counts[ISSUED] == 1
    assert counts[IN_PROGRESS] == 1
    assert counts[AWAITING_FINAL_GRADE] == 1
    assert counts[NOT_STARTED] == 1
    assert counts[NOT_EARNED] == 1
    assert counts[FAILED] == 1
    assert counts[ELIGIBLE] == 0
    assert sum(counts.values()) == 6


def names(table):
    return [row.learner.name for row in table.rows]


def test_filter_search_sort_and_paginate():
    s = build_course()
    badge = s["badge"]
    table = learner_table(course_badge=badge, filters=LearnerFilters())
    assert names(table) == ["Ada Lovelace", "Bob Byte", "Cy Cipher", "Dee Data", "Eve <b>Evil</b>", "Fay Fail"]

    failed = learner_table(course_badge=badge, filters=LearnerFilters(state=FAILED))
    assert names(failed) == ["Fay Fail"]
    assert failed.rows[0].reason == "Canvas has no primary email for this learner."

    # Search by name, by Canvas email, by the email the award went to, by Canvas user id.
    assert names(learner_table(course_badge=badge, filters=LearnerFilters(q="cipher"))) == ["Cy Cipher"]
    assert names(learner_table(course_badge=badge, filters=LearnerFilters(q="bob@uni"))) == ["Bob Byte"]
    assert names(learner_table(course_badge=badge, filters=LearnerFilters(q="ada.primary"))) == ["Ada Lovelace"]
    assert names(learner_table(course_badge=badge, filters=LearnerFilters(q="14"))) == ["Dee Data"]

    # Canvas user ids sort as numbers ("9" before "11").
    by_user = learner_table(course_badge=badge, filters=LearnerFilters(sort="user"))
    assert [r.learner.canvas_user_id for r in by_user.rows] == ["9", "11", "12", "13", "14", "15"]
    by_state = learner_table(course_badge=badge, filters=LearnerFilters(sort="state"))
    assert [r.display_state for r in by_state.rows] == [
        "not_started",
        "in_progress",
        "awaiting_final_grade",
        "issued",
        "failed",
        "not_earned",
    ]
    awarded_first = learner_table(course_badge=badge, filters=LearnerFilters(sort="awarded", descending=True))
    assert awarded_first.rows[0].learner.name == "Ada Lovelace"
    by_name_desc = learner_table(course_badge=badge, filters=LearnerFilters(descending=True))
    assert names(by_name_desc)[0] == "Fay Fail"

    page2 = learner_table(course_badge=badge, filters=LearnerFilters(), page_number=2, per_page=4)
    assert names(page2) == ["Eve <b>Evil</b>", "Fay Fail"]
    assert page2.page.paginator.count == 6


def test_rows_carry_results_award_and_delivery():
    s = build_course()
    rows = {r.learner.name: r for r in learner_table(course_badge=s["badge"], filters=LearnerFilters()).rows}
    ada = rows["Ada Lovelace"]
    assert [c.status for c in ada.assessments] == ["mastered", "mastered"]
    assert ada.assessments[0].score_text == "12/12"
    assert ada.award is not None and ada.email == "ada.primary@uni.example.edu"
    assert ada.email_delivery.status == Delivery.SENT
    bob = rows["Bob Byte"]
    assert [c.mastered for c in bob.assessments] == [True, False]
    assert bob.reason == "1 of 2 credentialing assessments mastered"
    # Graded but unposted is not mastered, and says so.
    dee = rows["Dee Data"]
    assert [c.status for c in dee.assessments] == ["not_posted", "not_submitted"]
    assert dee.email == "dee@uni.example.edu"


def test_learner_table_query_count_is_bounded_for_2000_learners(django_assert_max_num_queries):
    s = build_course()
    badge = s["badge"]
    platform = s["course"].platform
    people = Person.objects.bulk_create(
        [
            Person(platform=platform, canvas_user_id=str(10_000 + i), name=f"Learner {i:04d}", sortable_name=f"{i:04d}")
            for i in range(2000)
        ]
    )
    LearnerProgress.objects.bulk_create(
        [
            LearnerProgress(
                course_badge=badge, learner=p, state=LearnerProgress.ISSUED if i % 3 == 0 else "in_progress"
            )
            for i, p in enumerate(people)
        ]
    )
    awards = Award.objects.bulk_create(
        [
            Award(
                badge_class=badge.badge_class,
                course_badge=badge,
                learner=p,
                recipient_email=f"l{i}@x.edu",
                issued_on=timezone.now(),
            )
            for i, p in enumerate(people)
            if i % 3 == 0
        ]
    )
    Delivery.objects.bulk_create([Delivery(award=a, kind=Delivery.KIND_EMAIL) for a in awards])
    AssessmentResult.objects.bulk_create(
        [AssessmentResult(course=s["course"], assignment=s["a1"], learner=p, score=10) for p in people]
    )
    with django_assert_max_num_queries(8):
        table = learner_table(course_badge=badge, filters=LearnerFilters(), page_number=3)
    assert len(table.rows) == 50
    assert table.page.paginator.count == 2006
    # The whole page, with counts, rule check and sync status, stays bounded too.
    client = __import__("django.test", fromlist=["Client"]).Client()
    with django_assert_max_num_queries(20):
        response = client.get(dashboard_url(s["launch"], page=7, sort="state"))
    assert response.status_code == 200


# --- The rule and the last sync -------------------------------------------------------------------


def test_rule_matches_canvas_when_nothing_is_wrong():
    s = build_course()
    rule = rule_check(course_badge=s["badge"])
    assert rule.ok, rule.flags
    assert [a.name for a in rule.assessments] == ["Clean a data set", "Present findings"]
    assert rule.assessments[0].needed_text == "80% (9.6 of 12 points)"
    assert "Final Grade Override" in rule.final_grade_text


def flag_texts(rule):
    return " | ".join(f.message for f in rule.flags)


def test_rule_flags_what_no_longer_matches_canvas():
    s = build_course()
    badge = s["badge"]
    a1, a2 = s["a1"], s["a2"]
    a1.rubric = []
    a1.save()
    a2.published = False
    a2.save()
    assert "“Clean a data set” has no rubric in Canvas." in flag_texts(rule_check(course_badge=badge))
    assert "“Present findings” is unpublished" in flag_texts(rule_check(course_badge=badge))

    badge.assessment_ids = ["501", "999"]
    badge.save()
    a1.deleted_in_canvas = True
    a1.save()
    texts = flag_texts(rule_check(course_badge=badge))
    assert "Credentialing assessment “Clean a data set” was deleted in Canvas, so nobody can earn the badge." in texts
    assert (
        "Credentialing assessment “Assignment 999” is not in this Canvas course, so nobody can earn the badge." in texts
    )
    # Picked ones Canvas no longer has stay in the rule (they block the badge); a deleted one keeps its name.
    assert [a.name for a in rule_check(course_badge=badge).assessments] == [
        "Clean a data set",
        "Assignment 999 (not found in Canvas)",
    ]

    badge.assessment_ids = []
    badge.assessment_group_name = "Badge Assessments"
    badge.save()
    assert "Canvas has no assignment group named “Badge Assessments”" in flag_texts(rule_check(course_badge=badge))

    badge.final_grade_source = badge.FINAL_GRADE_ASSIGNMENT
    badge.final_grade_assignment_name = "Final grade"
    badge.save()
    assert "The final-grade assignment “Final grade” is not in this Canvas course." in flag_texts(
        rule_check(course_badge=badge)
    )


def test_rule_flags_an_assessment_deleted_from_the_group():
    s = build_course()
    s["a2"].deleted_in_canvas = True
    s["a2"].save()
    rule = rule_check(course_badge=s["badge"])
    assert "“Present findings” was deleted in Canvas, so it no longer counts." in flag_texts(rule)
    assert [a.name for a in rule.assessments] == ["Clean a data set"]


def test_rule_flags_a_rubric_changed_after_assessment():
    s = build_course()
    AssessmentResultFactory(
        assignment=s["a1"], learner=s["people"]["bob"], rubric_assessment={"_old": {"points": 6, "rating_id": "x"}}
    )
    assert "The rubric of “Clean a data set” changed after some learners were assessed." in flag_texts(
        rule_check(course_badge=s["badge"])
    )


def test_sync_failure_in_plain_words():
    """Instructors read the failure by its Canvas error kind (canvas.errors, recorded by the sync in
    SyncRun.stats), never by guessing from the message's text."""
    s = build_course()
    course = s["course"]
    admin_words = "the Canvas API token was revoked or is invalid: ask your Canvas admin to issue a new one"
    SyncRun.objects.create(
        course=course, kind="full", status=SyncRun.STATUS_FAILED, error=admin_words, stats={"error_kind": "token"}
    )
    status = sync_status(course=course)
    assert status.failed
    assert status.error_plain == str(INSTRUCTOR_SYNC_ERRORS["token"])
    # Not a Canvas error (no kind): the sync's own message, as written, even if it mentions a 401.
    message = "an unexpected error stopped the sync (HTTPError 401 Unauthorized); it was logged"
    SyncRun.objects.create(course=course, kind="full", status=SyncRun.STATUS_FAILED, error=message)
    assert sync_status(course=course).error_plain == message


def test_a_running_sync_is_shown_with_the_last_finished_one(client):
    s = build_course()
    course = s["course"]
    SyncRun.objects.create(course=course, kind="full", status=SyncRun.STATUS_OK, finished_at=timezone.now())
    running = SyncRun.objects.create(course=course, kind="incremental", trigger="instructor")
    status = sync_status(course=course)
    assert status.running and status.running_since == running.started_at
    assert not status.failed
    html = client.get(dashboard_url(s["launch"])).content.decode()
    assert "Syncing now" in html and "Last sync succeeded" in html


# --- The page -------------------------------------------------------------------------------------


def test_dashboard_page_for_a_teacher(client):
    s = build_course()
    SyncRun.objects.create(
        course=s["course"],
        kind="full",
        status=SyncRun.STATUS_FAILED,
        error="the Canvas API token was revoked or is invalid",
        stats={"error_kind": "token"},
        finished_at=timezone.now() - datetime.timedelta(minutes=3),
    )
    response = client.get(dashboard_url(s["launch"]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Badges in Data Skills 101" in html
    assert "Data Analysis Fundamentals" in html
    assert "Last sync failed" in html
    assert "its API token was revoked or has expired" in html
    assert "Matches Canvas" in html
    # Canvas text is escaped, never markup.
    assert "Eve &lt;b&gt;Evil&lt;/b&gt;" in html and "<b>Evil</b>" not in html
    assert f"/public/assertions/{Award.objects.get().public_id}" in html
    assert "ada.primary<wbr>@uni.example.edu" in html  # a line may break before the "@" only
    assert "Retry failed (1)" in html
    # CSP: no inline scripts or style attributes.
    assert "<script" not in html and "style=" not in html


def test_dashboard_filter_links_and_state_filter(client):
    s = build_course()
    html = client.get(dashboard_url(s["launch"], state="failed")).content.decode()
    assert "Fay Fail" in html and "Bob Byte" not in html
    assert "Showing 1–1 of 1 learner matching the filter." in html
    html = client.get(dashboard_url(s["launch"], q="zzz")).content.decode()
    assert "No learner matches this filter." in html


def test_dashboard_for_a_teaching_assistant(client):
    s = build_course()
    ta = LaunchContextFactory(
        course=s["course"],
        person=PersonFactory(platform=s["course"].platform, name="Tia Assistant"),
        role=LaunchContext.ROLE_INSTRUCTOR,
        is_teaching_assistant=True,
    )
    response = client.get(dashboard_url(ta))
    assert response.status_code == 200
    assert "Teaching assistant" in response.content.decode()


def test_a_learner_is_refused(client):
    s = build_course()
    learner_launch = LaunchContextFactory(course=s["course"], person=s["people"]["bob"])
    response = client.get(dashboard_url(learner_launch))
    assert response.status_code == 403
    assert "Fay Fail" not in response.content.decode()
    detail = reverse(
        "badging:instructor_learner", args=[learner_launch.public_id, s["badge"].pk, s["people"]["ada"].pk]
    )
    assert client.get(detail).status_code == 403


def test_an_instructor_of_another_course_cannot_see_this_badge(client):
    s = build_course()
    other = LaunchContextFactory(course=CourseFactory(), role=LaunchContext.ROLE_INSTRUCTOR)
    response = client.get(dashboard_url(other, badge=s["badge"].pk))
    assert response.status_code == 200
    assert "Fay Fail" not in response.content.decode()
    url = reverse("badging:instructor_learner", args=[other.public_id, s["badge"].pk, s["people"]["ada"].pk])
    assert client.get(url).status_code == 404


def test_an_expired_launch_is_refused(client):
    s = build_course()
    launch = s["launch"]
    launch.expires_at = timezone.now() - datetime.timedelta(minutes=1)
    launch.save()
    assert client.get(dashboard_url(launch)).status_code == 404


def test_why_not_issued_shows_each_rule_outcome(client):
    s = build_course()
    bob = s["people"]["bob"]
    url = reverse("badging:instructor_learner", args=[s["launch"].public_id, s["badge"].pk, bob.pk])
    html = client.get(url).content.decode()
    assert "Why it is not issued" in html
    assert "Mastered: 12 of 12 points (9.6 needed)" in html
    assert "6 of 12 points; 9.6 needed for mastery" in html
    assert "No final grade yet" in html
    assert "Active" in html


def test_why_not_issued_shows_the_evaluated_final_grade_and_unposted_grade(client):
    s = build_course()
    dee = s["people"]["dee"]
    url = reverse("badging:instructor_learner", args=[s["launch"].public_id, s["badge"].pk, dee.pk])
    html = client.get(url).content.decode()
    assert "Final grade entered (B+)" in html
    assert "Graded, but the grade is not posted yet" in html


def test_no_badge_configured(client):
    launch = LaunchContextFactory(role=LaunchContext.ROLE_INSTRUCTOR)
    html = client.get(dashboard_url(launch)).content.decode()
    assert "No badge is offered in this course yet" in html


@pytest.mark.parametrize(
    "contact, link",
    [
        ("badges@uni.example.edu", '<a href="mailto:badges@uni.example.edu">badges@uni.example.edu</a>'),
        ("https://help.uni.example.edu/badges", '<a href="https://help.uni.example.edu/badges" target="_blank"'),
        ("javascript:alert(1)", None),  # not an address or web page: the generic advice instead
        ("", None),
    ],
)
def test_no_badge_tells_the_instructor_who_to_ask(client, settings, contact, link):
    settings.BADGES_SUPPORT_CONTACT = contact
    launch = LaunchContextFactory(role=LaunchContext.ROLE_INSTRUCTOR, course__canvas_course_id="4242")
    landing = client.get(reverse("badging:launch_home", args=[launch.public_id])).content.decode()
    dashboard = client.get(dashboard_url(launch)).content.decode()
    assert "No badge is set up for this course" in landing
    for html in (landing, dashboard):
        assert "<strong>4242</strong>" in html  # the course id to quote
        assert "javascript:" not in html
        if link:
            assert link in html
        else:
            assert "Canvas administrator" in html or "Canvas or Badges administrator" in html


def test_mastery_threshold_overrides_shown_per_assessment():
    s = build_course()
    badge = s["badge"]
    badge.mastery_overrides = {"502": {"min_points": 11}}
    badge.save()
    rule = rule_check(course_badge=badge)
    assert [a.needed_text for a in rule.assessments] == ["80% (9.6 of 12 points)", "11 points"]
    assert rule.ok
    badge.mastery_overrides = {"502": {"min_points": 13}}
    badge.save()
    assert "needs 13 points but is worth only 12" in flag_texts(rule_check(course_badge=badge))
    assert Decimal("12") == s["a2"].points_possible


def test_an_award_whose_grades_changed_is_flagged_for_review(client):
    s = build_course()
    Award.objects.update(needs_review=True, review_reason="Present findings: 10 → 6 points after issue")
    html = client.get(dashboard_url(s["launch"])).content.decode()
    assert "1 issued badge needs your review" in html
    assert "Needs review" in html
    url = reverse("badging:instructor_learner", args=[s["launch"].public_id, s["badge"].pk, s["people"]["ada"].pk])
    assert "Present findings: 10 → 6 points after issue" in client.get(url).content.decode()


def test_public_page_links_open_in_a_new_tab_at_the_public_address(client, settings):
    """Inside Canvas's iframe the public page must not replace the dashboard; its address is the
    badge's public one (PUBLIC_BASE_URL), the one the learner shares."""
    settings.PUBLIC_BASE_URL = "https://badges.uni.example.edu"
    s = build_course()
    award = Award.objects.get()
    public = f"https://badges.uni.example.edu/public/assertions/{award.public_id}"
    detail = client.get(
        reverse("badging:instructor_learner", args=[s["launch"].public_id, s["badge"].pk, s["people"]["ada"].pk])
    ).content.decode()
    assert f'href="{public}" target="_blank" rel="noopener">{public}' in detail
    table = client.get(dashboard_url(s["launch"])).content.decode()
    assert f'href="/public/assertions/{award.public_id}" target="_blank" rel="noopener"' in table


def test_admin_launch_page_shows_a_failed_syncs_message_as_the_canvas_client_wrote_it(client):
    """The admin reads the sync's own message: the Canvas client words each typed error for the
    admin (canvas/client.py), so the page shows it as written (escaped), with nothing guessed."""
    from badging.models import CourseSync

    s = build_course()
    message = (
        "the Canvas API token was revoked or is invalid: ask your Canvas admin to issue a new token "
        "for the badges tool (it may have expired) and enter it in the platform settings <b>x</b>"
    )
    CourseSync.objects.create(
        course=s["course"], last_synced_at=timezone.now(), last_status=SyncRun.STATUS_FAILED, last_error=message
    )
    admin = LaunchContextFactory(course=s["course"], role=LaunchContext.ROLE_ADMIN)
    html = client.get(reverse("badging:launch_home", args=[admin.public_id])).content.decode()
    assert "the Canvas API token was revoked or is invalid: ask your Canvas admin" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html and "<b>x</b>" not in html


def test_pager_jumps_to_the_first_and_last_page(client, monkeypatch):
    import functools

    monkeypatch.setattr("badging.views.instructor.pages.learner_table", functools.partial(learner_table, per_page=1))
    s = build_course()  # 6 learners: 6 pages of 1
    badge = s["badge"].pk
    html = client.get(dashboard_url(s["launch"], badge=badge, page=3)).content.decode()
    assert "Page 3 of 6" in html
    assert f'badge={badge}&amp;page=1">First' in html and f'badge={badge}&amp;page=6">Last' in html
    first = client.get(dashboard_url(s["launch"], badge=badge)).content.decode()
    assert "Page 1 of 6" in first and ">First" not in first and ">Previous" not in first
    last = client.get(dashboard_url(s["launch"], badge=badge, page=6)).content.decode()
    assert ">Last" not in last and ">Next" not in last
