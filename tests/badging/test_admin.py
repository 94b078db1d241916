"""The Django admin as operators use it: badge configuration with validated images, award revocation."""

import html as htmllib
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from badging.models import AuditEvent, Award, BadgeClass, CourseBadge, LearnerProgress
from tests import factories as f

pytestmark = pytest.mark.django_db


def text_of(response) -> str:
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", response.content.decode(), flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def png(size=(200, 200)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGBA", size, (7, 112, 163, 255)).save(buffer, "PNG")
    return buffer.getvalue()


def badge_form(issuer, upload, **overrides):
    data = {
        "issuer": issuer.pk,
        "name": "Data Wrangler",
        "key": "data-wrangler",
        "description": "Cleans data.",
        "criteria_narrative": "Master every credentialing assessment.",
        "criteria_url": "",
        "alignments": '[{"targetName": "Data cleaning", "targetUrl": "https://skills.example.org/clean"}]',
        "tags": '["data"]',
        "valid_for_days": "",
    }
    data.update(overrides)
    if upload is not None:
        data["image_upload"] = upload
    return data


def test_badge_class_upload_accepts_a_real_png(admin_client):
    issuer = f.IssuerFactory()
    data = png()
    response = admin_client.post(
        reverse("admin:badging_badgeclass_add"),
        badge_form(issuer, SimpleUploadedFile("badge.png", data, content_type="image/png")),
    )
    assert response.status_code == 302, text_of(response)
    badge = BadgeClass.objects.get(key="data-wrangler")
    assert bytes(badge.image) == data and badge.image_content_type == "image/png"
    assert badge.alignments[0]["targetName"] == "Data cleaning"
    page = admin_client.get(reverse("admin:badging_badgeclass_change", args=[badge.pk]))
    assert f'src="/public/badges/{badge.public_id}/image"' in page.content.decode()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("badge.png", b"GIF89a not a png", "The image must be a PNG or an SVG file."),
        (
            "badge.svg",
            b'<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200"><script>alert(1)</script></svg>',
            "The SVG contains a <script> element",
        ),
        ("badge.png", None, "each side must be between 90 and 2048"),
    ],
)
def test_badge_class_upload_refuses_bad_images_with_a_clear_error(admin_client, name, content, message):
    issuer = f.IssuerFactory()
    content = content if content is not None else png((20, 20))
    response = admin_client.post(
        reverse("admin:badging_badgeclass_add"), badge_form(issuer, SimpleUploadedFile(name, content))
    )
    assert response.status_code == 200
    assert message in text_of(response)
    assert not BadgeClass.objects.filter(key="data-wrangler").exists()


def test_badge_class_needs_an_image_and_well_formed_alignments(admin_client):
    issuer = f.IssuerFactory()
    response = admin_client.post(
        reverse("admin:badging_badgeclass_add"),
        badge_form(issuer, None, alignments='[{"targetName": "No URL"}]', tags='"data"'),
    )
    text = text_of(response)
    assert "Upload the badge image (PNG or SVG)." in text
    assert "Alignment 1 needs a targetName and a targetUrl." in text
    assert "Tags must be a JSON list of words" in text


def test_course_badge_rule_is_readable_and_filterable_by_course(admin_client):
    cb = f.CourseBadgeFactory(mastery_min_percent=75, min_rubric_criterion_percent=50)
    other = f.CourseBadgeFactory(badge_class__name="Other badge")
    response = admin_client.get(reverse("admin:badging_coursebadge_changelist") + f"?course__id__exact={cb.course_id}")
    assert response.status_code == 200
    text = text_of(response)
    assert (
        "Master the assignment group “Credentialing Assessments” (at least 75% of points, every rubric criterion"
        " ≥ 50%); issued once the instructor has entered the final grade (Canvas Final Grade Override)." in text
    )
    assert str(other.course) not in text


def test_course_badge_form_checks_the_rule(admin_client):
    course = f.CourseFactory()
    badge = f.BadgeClassFactory()
    response = admin_client.post(
        reverse("admin:badging_coursebadge_add"),
        {
            "key": "cb-1",
            "badge_class": badge.pk,
            "course": course.pk,
            "active": "on",
            "assessment_group_name": "Credentialing Assessments",
            "assessment_ids": "[]",
            "mastery_mode": "points",
            "mastery_min_percent": "80",
            "mastery_min_points": "",
            "mastery_overrides": '{"501": {"min_percent": 120}}',
            "min_rubric_criterion_percent": "",
            "final_grade_source": "assignment",
            "final_grade_assignment_id": "",
            "final_grade_assignment_name": "",
        },
    )
    text = text_of(response)
    assert "Mastery by points needs the minimum points." in text
    assert "Name the final-grade assignment" in text
    assert "a percent is 0–100" in text
    assert not CourseBadge.objects.filter(key="cb-1").exists()


def revoke_post(admin_client, awards, **extra):
    return admin_client.post(
        reverse("admin:badging_award_changelist"),
        {"action": "revoke_awards", "_selected_action": [a.pk for a in awards], **extra},
    )


def test_revoke_asks_for_a_reason_first(admin_client):
    award = f.AwardFactory(learner__name="Zoë O'Brien <b>")
    response = revoke_post(admin_client, [award])
    assert response.status_code == 200
    text = text_of(response)
    assert "1 award to revoke" in text and "Reason:" in text
    assert "Zoë O'Brien <b>" in text  # shown, escaped in the HTML
    assert "Zoë O&#x27;Brien &lt;b&gt;" in response.content.decode()
    award.refresh_from_db()
    assert not award.revoked

    response = revoke_post(admin_client, [award], apply="1", reason="   ")
    assert response.status_code == 200
    assert "This field is required." in text_of(response) or "Give the reason for revoking." in text_of(response)
    award.refresh_from_db()
    assert not award.revoked


def test_revoke_with_a_reason_calls_the_issuance_service(admin_client, admin_user):
    award = f.AwardFactory()
    f.LearnerProgressFactory(course_badge=award.course_badge, learner=award.learner, state=LearnerProgress.ISSUED)
    response = revoke_post(admin_client, [award], apply="1", reason="Issued in error")
    assert response.status_code == 302
    award.refresh_from_db()
    assert award.revoked and award.revocation_reason == "Issued in error"
    assert award.revoked_by == f"admin:{admin_user.username}"
    assert AuditEvent.objects.filter(award=award, action="award_revoked").exists()
    assert LearnerProgress.objects.get(learner=award.learner).state == LearnerProgress.REVOKED


def test_awards_are_searchable_by_email_name_and_public_id(admin_client):
    ada = f.AwardFactory(learner__name="Ada Lovelace", recipient_email="ada@uni.example.edu")
    f.AwardFactory(learner__name="Grace Hopper", recipient_email="grace@uni.example.edu")
    url = reverse("admin:badging_award_changelist")
    for query in ("ada@uni", "Lovelace", ada.public_id):
        text = text_of(admin_client.get(url, {"q": query}))
        assert "ada@uni.example.edu" in text and "grace@uni.example.edu" not in text


def test_learner_progress_filters_by_state(admin_client):
    f.LearnerProgressFactory(learner__name="Waiting Walter", state=LearnerProgress.AWAITING_FINAL_GRADE)
    f.LearnerProgressFactory(learner__name="Started Sam", state=LearnerProgress.IN_PROGRESS)
    text = text_of(
        admin_client.get(reverse("admin:badging_learnerprogress_changelist"), {"state__exact": "awaiting_final_grade"})
    )
    assert "Waiting Walter" in text and "Started Sam" not in text


def test_canvas_records_are_read_only(admin_client):
    assignment = f.AssignmentFactory()
    assert admin_client.get(reverse("admin:badging_assignment_add")).status_code == 403
    response = admin_client.get(reverse("admin:badging_assignment_change", args=[assignment.pk]))
    assert response.status_code == 200
    text = text_of(response)
    assert "Skill A" in text and "Meets (6.0)" in text  # the rubric, as a table
    assert 'name="_save"' not in response.content.decode()


def test_every_badging_admin_page_renders(admin_client):
    award = f.AwardFactory()
    f.LearnerProgressFactory()
    f.EnrollmentFactory()
    f.AssessmentResultFactory()
    from badging.models import CourseSync, Delivery, SyncRun

    Delivery.objects.create(award=award, kind="email", status="failed", last_error="SMTP 451", attempts=2)
    SyncRun.objects.create(course=award.course_badge.course, kind="full", status="ok", stats={"assignments": 3})
    CourseSync.objects.create(course=award.course_badge.course, last_synced_at=timezone.now())
    AuditEvent.objects.create(actor="admin:alice", action="award_revoked", award=award)
    for model in (
        "issuer",
        "badgeclass",
        "coursebadge",
        "assignment",
        "enrollment",
        "assessmentresult",
        "learnerprogress",
        "award",
        "delivery",
        "syncrun",
        "coursesync",
        "auditevent",
    ):
        response = admin_client.get(reverse(f"admin:badging_{model}_changelist"))
        assert response.status_code == 200, model
    for model, obj in (("award", award), ("issuer", award.badge_class.issuer), ("badgeclass", award.badge_class)):
        response = admin_client.get(reverse(f"admin:badging_{model}_change", args=[obj.pk]))
        assert response.status_code == 200, model
    assert Award.objects.count() == 1
    # An award is never edited by hand: its page is view-only.
    response = admin_client.get(reverse("admin:badging_award_change", args=[award.pk]))
    assert 'name="_save"' not in response.content.decode()
    before = Award.objects.values().get(pk=award.pk)
    response = admin_client.post(reverse("admin:badging_award_change", args=[award.pk]), {"revoked": "on"})
    assert response.status_code == 403
    assert Award.objects.values().get(pk=award.pk) == before


def test_retry_reopens_failed_deliveries_and_hands_them_to_the_task(
    admin_client, enqueued, django_capture_on_commit_callbacks
):
    from badging.models import Delivery

    live = f.AwardFactory()
    revoked = f.AwardFactory(revoked=True, revocation_reason="Issued in error")
    failed = Delivery.objects.create(award=live, kind="email", status="failed", attempts=5, last_error="SMTP 451")
    done = Delivery.objects.create(award=f.AwardFactory(), kind="email", status="sent")
    stale = Delivery.objects.create(award=revoked, kind="email", status="failed", attempts=2)
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            reverse("admin:badging_delivery_changelist"),
            {"action": "retry_deliveries", "_selected_action": [failed.pk, done.pk, stale.pk]},
            follow=True,
        )
    assert "1 delivery queued for another attempt." in text_of(response)
    failed.refresh_from_db()
    done.refresh_from_db()
    stale.refresh_from_db()
    assert failed.status == "pending" and failed.next_attempt_at is not None
    assert done.status == "sent" and stale.status == "failed"
    assert enqueued.calls == [("badging.deliveries_send", [[failed.pk]])]
    assert AuditEvent.objects.filter(action="delivery_retried", award=live).count() == 1


def test_the_admin_cannot_be_framed_even_by_canvas(admin_client):
    """Canvas pages embed user-authored iframes: the admin (a logged-in operator's session) must not
    be framable there, while the tool's own pages stay framable by the registered Canvas."""
    platform = f.PlatformFactory(api_base_url="https://canvas.uni.example.edu")
    response = admin_client.get("/admin/badging/award/")
    assert response.status_code == 200
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]
    assert response["X-Frame-Options"] == "DENY"
    launch = f.LaunchContextFactory(course=f.CourseFactory(platform=platform))
    tool_page = admin_client.get(f"/l/{launch.public_id}/")
    assert "https://canvas.uni.example.edu" in tool_page["Content-Security-Policy"]
    assert "X-Frame-Options" not in tool_page


def test_learner_progress_list_shows_why_issuing_failed_and_when_it_retries(admin_client):
    from datetime import timedelta

    from django.utils import timezone

    f.LearnerProgressFactory(
        learner__name="Failing Fay",
        state=LearnerProgress.ELIGIBLE,
        issue_status=LearnerProgress.ISSUE_FAILED,
        issue_attempts=3,
        issue_error="The learner has no primary email address in Canvas.",
        issue_next_attempt_at=timezone.now() + timedelta(minutes=4),
    )
    text = text_of(
        admin_client.get(reverse("admin:badging_learnerprogress_changelist"), {"issue_status__exact": "failed"})
    )
    assert "Failing Fay" in text
    assert "The learner has no primary email address in Canvas. (attempt 3). Next try " in text


def test_help_texts_show_their_examples(admin_client):
    """Django's admin renders help texts as HTML: an example with "<...>" vanished (or became a
    <canvas> element). Every example must reach the page as text."""
    cb = f.CourseBadgeFactory()
    html = admin_client.get(reverse("admin:badging_coursebadge_change", args=[cb.pk])).content.decode()
    assert "<canvas" not in html
    assert "e.g. {&quot;501&quot;: {&quot;min_percent&quot;: 90}" in html or 'e.g. {"501": {"min_percent": 90}' in html
    platform = cb.course.platform
    html = admin_client.get(reverse("admin:lti_platform_change", args=[platform.pk])).content.decode()
    assert "<canvas" not in html
    assert "e.g. https://canvas.uni.example.edu/login/oauth2/token" in html
    assert "https:///login" not in html


def test_keep_action_clears_the_review_flag_of_live_flagged_awards_only(admin_client, admin_user):
    flagged = f.AwardFactory(needs_review=True, review_reason="Final grade removed")
    other = f.AwardFactory()
    response = admin_client.post(
        reverse("admin:badging_award_changelist"),
        {"action": "keep_reviewed_awards", "_selected_action": [flagged.pk, other.pk]},
        follow=True,
    )
    assert "Kept 1 award after review." in text_of(response)
    flagged.refresh_from_db()
    assert not flagged.needs_review and not flagged.revoked
    event = AuditEvent.objects.get(action="award_review_kept")
    assert event.award_id == flagged.pk and event.actor == f"admin:{admin_user.username}"


def test_issuer_list_counts_badge_classes_in_one_query(admin_client, django_assert_max_num_queries):
    url = reverse("admin:badging_issuer_changelist")
    issuer = f.IssuerFactory(name="Skills Forward University")
    f.BadgeClassFactory.create_batch(2, issuer=issuer)
    with django_assert_max_num_queries(100) as few:
        assert admin_client.get(url).status_code == 200
    for _ in range(4):
        f.BadgeClassFactory(issuer=f.IssuerFactory())
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(url)
    assert "Skills Forward University" in text_of(response)
    counts = re.findall(r'<td class="field-badge_class_count">(\d+)</td>', response.content.decode())
    assert sorted(counts) == ["1", "1", "1", "1", "2"]
