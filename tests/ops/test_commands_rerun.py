"""Every management command can be run twice: the second run adds no duplicate row, loses nothing,
and says what it did (README › Operations, "Safe to rerun").

Commands whose rerun is covered elsewhere (not repeated here):
- badging_schedule: tests/badging/test_sync_commands.py::test_schedule_is_idempotent_and_uses_the_exact_task_names
- canvas_platform_add: tests/lti/test_keys_and_config.py::test_canvas_platform_add_command_is_idempotent
- learner_forget: tests/security/test_learner_forget.py::test_the_command_reports_per_kind_by_id_or_by_email
  (and ::test_a_second_run_removes_nothing_and_a_dry_run_changes_nothing)
- rotate_field_encryption: tests/security/test_admin_and_secrets.py::
  test_rotation_stopped_half_way_then_run_again_loses_no_secret
- badging_import (the service): tests/badging/test_config.py::test_import_creates_everything_then_is_idempotent
- sandbox_seed (the service): tests/sandbox/test_actions_and_seed.py::test_seed_is_idempotent_and_registers_the_tool
"""

import io
from datetime import timedelta

import pytest
from django.apps import apps
from django.core.management import call_command
from django.utils import timezone
from freezegun import freeze_time

from badging.models import AuditEvent, Award, Delivery, IssuerKey, LearnerProgress, SyncRun
from badging.openbadges.links import PublicLinks
from badging.services.issuance import documents
from lti.models import LaunchContext, ToolKey
from lti.services.tool_keys import tool_key_current
from tests import factories as f
from tests.badging.test_issuance_support import make_png

pytestmark = pytest.mark.django_db


def row_counts() -> dict[str, int]:
    return {model._meta.label: model._default_manager.count() for model in apps.get_models()}


def differences(before: dict[str, int], after: dict[str, int]) -> dict[str, tuple[int, int]]:
    return {label: (before[label], after[label]) for label in after if before[label] != after[label]}


def run(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out, stderr=out)
    return out.getvalue()


def configured():
    issuer = f.IssuerFactory(key="uni", name="Skills Forward University")
    badge_class = f.BadgeClassFactory(key="data-analysis", issuer=issuer, image=make_png())
    return f.CourseBadgeFactory(key="ds101-data-analysis", badge_class=badge_class)


def test_export_twice_writes_the_same_file_and_changes_nothing(tmp_path):
    configured()
    before = row_counts()
    first, second = tmp_path / "first.json", tmp_path / "second.json"
    assert "configuration written to" in run("badging_export", "--out", str(first))
    run("badging_export", "--out", str(second))
    assert first.read_bytes() == second.read_bytes()
    assert run("badging_export") == run("badging_export") == first.read_text()
    assert differences(before, row_counts()) == {}


def test_import_command_twice_reports_everything_unchanged(tmp_path):
    configured()
    exported = tmp_path / "config.json"
    run("badging_export", "--out", str(exported))
    before = row_counts()
    first = run("badging_import", str(exported))
    second = run("badging_import", str(exported))
    assert differences(before, row_counts()) == {}
    assert "created" not in second and "updated" not in second
    assert second == first  # the export's own configuration: unchanged both times
    assert "issuer uni" in second and "course badge ds101-data-analysis" in second


def test_revoke_twice_keeps_the_first_revocation_and_records_it_once(enqueued):
    award = f.AwardFactory()
    Delivery.objects.create(award=award, kind=Delivery.KIND_CANVAS_CREDENTIALS, external_id="badgr-1")
    first = run("badging_revoke", award.public_id, "--reason", "Academic misconduct", "--actor", "admin:a")
    revoked = Award.objects.get(pk=award.pk)
    before = row_counts()
    second = run("badging_revoke", award.public_id, "--reason", "Another reason", "--actor", "admin:b")
    assert "Revoked award" in first
    assert second == f"Award {award.public_id} was already revoked: Academic misconduct\n"
    assert differences(before, row_counts()) == {}
    again = Award.objects.get(pk=award.pk)
    assert (again.revoked_at, again.revocation_reason, again.revoked_by) == (
        revoked.revoked_at,
        "Academic misconduct",
        "admin:a",
    )
    assert AuditEvent.objects.filter(action="award_revoked", award=award).count() == 1
    # Canvas Credentials is told once, by the first run only.
    assert enqueued.names.count("badging.canvas_credentials_revoke") <= 1


def test_rotating_issuer_keys_twice_leaves_one_current_key_per_algorithm_and_keeps_the_old_ones(settings):
    """Each run is one more rotation (that is what it is for): a rerun never leaves two current keys,
    never drops or re-dates an older key, and credentials signed before still name a published key."""
    settings.PUBLIC_BASE_URL = "https://badges.example.edu"
    award = f.AwardFactory()
    documents.award_documents_render(award=award, links=PublicLinks(settings.PUBLIC_BASE_URL))
    issuer = award.badge_class.issuer
    signed_with = award.ob3_credential["proof"][0]["verificationMethod"].rpartition("#")[2]

    run("badging_rotate_issuer_keys", issuer.key)
    first_generation = dict(
        IssuerKey.objects.filter(issuer=issuer, superseded_at__isnull=False).values_list("pk", "superseded_at")
    )
    out = run("badging_rotate_issuer_keys", issuer.key)

    keys = IssuerKey.objects.filter(issuer=issuer)
    current = keys.filter(superseded_at__isnull=True)
    assert sorted(current.values_list("algorithm", flat=True)) == sorted({k.algorithm for k in keys})
    assert current.count() == 2 and keys.count() == 6
    still = dict(keys.filter(pk__in=first_generation).values_list("pk", "superseded_at"))
    assert still == first_generation  # not re-dated by the second run
    assert keys.filter(public_id=signed_with).exists()
    assert out.count("new keys") == 1
    assert AuditEvent.objects.filter(action="issuer_keys_rotated").count() == 2


@pytest.fixture
def canvas_api(canvas_api):
    canvas_api.add_assignment(55, "Clean a data set")
    canvas_api.add_assignment(56, "Present findings")
    canvas_api.add_student(42, "Ada Lovelace", email="ada@uni.example.edu")
    canvas_api.add_student(43, "Grace Hopper")
    return canvas_api


@pytest.mark.parametrize("full", [False, True], ids=["incremental", "full"])
def test_sync_twice_adds_only_its_run_record(canvas_api, full, enqueued, django_capture_on_commit_callbacks):
    now = timezone.now()
    canvas_api.grade(55, 42, 12, at=now)
    canvas_api.grade(56, 42, 12, at=now)
    canvas_api.set_override(42, 90.0)
    canvas_api.grade(55, 43, 12, at=now)
    platform = f.PlatformFactory(api_base_url=canvas_api.base)
    badge = f.CourseBadgeFactory(course__platform=platform, course__canvas_course_id=canvas_api.course_id)
    args = ["badging_sync", "--course-badge", badge.key] + (["--full"] if full else [])
    with django_capture_on_commit_callbacks(execute=True):
        first = run(*args)
    progress = list(LearnerProgress.objects.order_by("pk").values())
    before, sent_before = row_counts(), len(enqueued)
    with django_capture_on_commit_callbacks(execute=True):
        second = run(*args)
    assert "ok" in first and "ok" in second
    assert differences(before, row_counts()) == {"badging.SyncRun": (1, 2)}
    assert SyncRun.objects.filter(status="ok").count() == 2
    again = list(LearnerProgress.objects.order_by("pk").values())
    moving = ("updated_at", "evaluated_at", "detail")
    strip = lambda rows: [{k: v for k, v in row.items() if k not in moving} for row in rows]  # noqa: E731
    assert strip(again) == strip(progress)  # same states, same issue queue: Ada queued once
    assert len(enqueued.named("badging.award_issue_batch")) == 1 and len(enqueued) == sent_before


def test_purging_launches_twice_deletes_the_expired_ones_once(capsys):
    course = f.CourseFactory()
    f.LaunchContextFactory(course=course)
    with freeze_time(timezone.now() + timedelta(hours=8, minutes=1)):
        fresh = f.LaunchContextFactory(course=course)
        first = run("lti_purge_launches")
        second = run("lti_purge_launches")
    assert "Deleted 1 expired launch context(s)" in first
    assert "Deleted 0 expired launch context(s)" in second
    assert list(LaunchContext.objects.all()) == [fresh]


def test_rotating_the_lti_key_twice_keeps_one_current_key_and_the_first_grace_period(settings, client):
    settings.LTI_KEY_ROTATION_GRACE_DAYS = 14
    original = tool_key_current()
    run("lti_rotate_keys")
    original.refresh_from_db()
    grace_end = original.retire_after
    out = run("lti_rotate_keys")

    original.refresh_from_db()
    assert original.retire_after == grace_end  # the second run does not extend the first key's grace
    assert ToolKey.objects.filter(superseded_at__isnull=True).count() == 1
    assert ToolKey.objects.count() == 3
    assert f"Superseded {original.kid}" not in out and out.count("Superseded") == 1
    kids = [k["kid"] for k in client.get("/lti/jwks.json").json()["keys"]]
    assert len(kids) == 3 and kids[0] == tool_key_current().kid


@pytest.mark.parametrize(
    "extra", [[], ["--problem-courses", "--hosted-example"]], ids=["demo-course", "with-problem-courses-and-hosted"]
)
def test_sandbox_seed_command_twice_keeps_one_of_everything(extra):
    args = ["sandbox_seed", "--learners", "4", "--assessments", "1", "--instance", "rerun", *extra]
    first = run(*args)
    before = row_counts()
    second = run(*args)
    assert "Seeded " in first
    assert "already exists: kept it (use --reset to start over)." in second
    assert differences(before, row_counts()) == {}
