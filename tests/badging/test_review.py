"""A grade lowered after issuing flags the award for review; keeping it survives later syncs of the
same situation, and a further change flags it again (sync → issuance services, fake Canvas)."""

import pytest

from badging.models import Award
from badging.services.issuance import review
from badging.services.sync import coordination
from badging.services.sync import marks as sync_marks
from tests.badging.test_sync import award_issued_then_grade_lowered, canvas_api, course_badge  # noqa: F401 (fixtures)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("enqueued")]


def test_a_kept_award_stays_kept_until_something_else_changes(canvas_api, course_badge):  # noqa: F811
    award = award_issued_then_grade_lowered(canvas_api, course_badge)
    assert award.needs_review

    review.award_review_keep(award_id=award.pk, actor="Ada Teacher (Canvas user 7)")
    coordination.course_sync(course_id=course_badge.course_id, trigger="instructor")
    award.refresh_from_db()
    assert not award.needs_review and not award.revoked  # the same situation, already reviewed

    canvas_api.set_override(42, None)  # and now the final grade is removed too
    # Its grade_override Live Event names the learner: the next sync re-reads their enrollment.
    sync_marks.course_sync_learners_mark(course_id=course_badge.course_id, canvas_user_ids=["42"])
    coordination.course_sync(course_id=course_badge.course_id, trigger="instructor")
    award.refresh_from_db()
    assert award.needs_review and not award.revoked


@pytest.mark.browser
def test_keeping_a_flagged_badge_in_a_browser(transactional_db, live_server, page, screenshot):
    import os

    from django.urls import reverse

    from tests.badging.test_dashboard import build_course

    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    course = build_course()
    award = Award.objects.get()
    Award.objects.filter(pk=award.pk).update(
        needs_review=True,
        review_reason="the learner no longer meets the badge rule (Present findings: 3 of 12 points, needs 80%)",
    )
    launch = course["launch"].public_id
    page.goto(
        live_server.url + reverse("badging:instructor_learner", args=[launch, award.course_badge_id, award.learner_id])
    )
    page.get_by_role("link", name="Keep the badge…").click()
    assert page.get_by_role("heading", name="Keep this badge?").is_visible()
    screenshot(page, "instructor-keep-confirm")
    page.get_by_role("button", name="Keep badge").click()
    page.wait_for_load_state()
    assert page.get_by_text("You kept the badge.").is_visible()
    assert page.get_by_text("Needs review").count() == 0
    screenshot(page, "instructor-kept")
