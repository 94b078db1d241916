"""Program badges (pathways): held course badges across courses and terms of one Canvas earn a
program badge, issued like any other (OB 2.0 + OB 3.0, email, course badges as evidence), flagged
for review when a required badge is revoked; the admin, import/export and My badges cover them."""

import json
import os
from pathlib import Path

import jsonschema
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from badging.models import AuditEvent, Award, Delivery, Program, ProgramProgress, ProgramRequirement
from badging.openbadges import validator
from badging.openbadges.links import PublicLinks
from badging.services import award_email, programs
from badging.services.config import ConfigImportError, config_export, config_import
from badging.services.issuance import documents, issue, review
from tests import factories as f
from tests.badging.test_issuance_support import make_png

pytestmark = pytest.mark.django_db


def course_award(learner, badge_class, *, course=None, base="http://testserver", **kwargs):
    course = course or f.CourseFactory(platform=learner.platform)
    course_badge = f.CourseBadgeFactory(course=course, badge_class=badge_class)
    award = f.AwardFactory(course_badge=course_badge, learner=learner, **kwargs)
    documents.award_documents_render(award=award, links=PublicLinks(base))
    return award


@pytest.fixture
def setup():
    platform = f.PlatformFactory()
    issuer = f.IssuerFactory(name="Skills Forward University")
    classes = [
        f.BadgeClassFactory(issuer=issuer, name=name, image=make_png(), key=key)
        for name, key in [("Statistics", "stats"), ("Data Cleaning", "cleaning"), ("Visualisation", "viz")]
    ]
    program_class = f.BadgeClassFactory(
        issuer=issuer, name="Data Analyst Program", key="data-analyst", image=make_png()
    )
    program = Program.objects.create(key="data-analyst-program", platform=platform, badge_class=program_class)
    for position, badge_class in enumerate(classes):
        ProgramRequirement.objects.create(program=program, badge_class=badge_class, position=position)
    learner = f.PersonFactory(platform=platform, name="Ada Learner", email="ada@uni.example.edu")
    return {"platform": platform, "classes": classes, "program": program, "learner": learner}


def program_award(learner):
    return Award.objects.filter(learner=learner, program__isnull=False).first()


def test_all_of_across_courses_and_terms_issues_the_program_badge(setup, settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    learner, (stats, cleaning, viz) = setup["learner"], setup["classes"]
    spring = f.CourseFactory(platform=learner.platform, name="Statistics 101 (Spring)")
    held = [course_award(learner, stats, course=spring), course_award(learner, cleaning)]
    (progress,) = programs.learner_programs_evaluate(learner_id=learner.pk)
    assert (progress.held_count, progress.required_count, progress.complete) == (2, 3, False)
    assert progress.held_awards == [a.public_id for a in held]
    assert program_award(learner) is None

    held.append(course_award(learner, viz, course=f.CourseFactory(platform=learner.platform, name="Viz (Autumn)")))
    programs.learner_programs_evaluate(learner_id=learner.pk)
    award = program_award(learner)
    assert award is not None and award.badge_class == setup["program"].badge_class
    assert award.course_badge is None and award.program == setup["program"] and award.course is None
    assert award.recipient_email == "ada@uni.example.edu"
    assert award.ob3_credential is not None and award.images.count() == 2  # signed and baked
    for course_badge_award in held:  # every course badge is evidence, linked to its hosted assertion
        assert f"(http://testserver/public/assertions/{course_badge_award.public_id})" in award.evidence_narrative
    assert "Statistics 101 (Spring)" in award.evidence_narrative
    assert Delivery.objects.filter(award=award, kind=Delivery.KIND_EMAIL).count() == 1
    assert AuditEvent.objects.filter(action="program_award_issued", award=award).exists()
    # A repeat changes nothing: still one live program award.
    programs.learner_programs_evaluate(learner_id=learner.pk)
    assert Award.objects.filter(learner=learner, program__isnull=False).count() == 1

    message = award_email.award_email_message(award=award, links=PublicLinks("http://testserver"))
    assert message.to == ["ada@uni.example.edu"] and "Data Analyst Program" in message.subject
    assert "for your work in" not in message.body  # no course to name


def test_n_of_a_list(setup):
    program = setup["program"]
    program.mode, program.required_count = Program.MODE_N_OF, 2
    program.save()
    learner = setup["learner"]
    course_award(learner, setup["classes"][2])
    programs.learner_programs_evaluate(learner_id=learner.pk)
    assert program_award(learner) is None
    course_award(learner, setup["classes"][0])
    (progress,) = programs.learner_programs_evaluate(learner_id=learner.pk)
    assert (progress.held_count, progress.required_count) == (2, 2)
    assert program_award(learner) is not None


def test_badges_from_another_canvas_or_revoked_never_count(setup):
    learner, classes = setup["learner"], setup["classes"]
    # The same person on another Canvas instance (another Person row): their awards are not this learner's.
    twin = f.PersonFactory(name=learner.name, email=learner.email, canvas_user_id=learner.canvas_user_id)
    for badge_class in classes:
        course_award(twin, badge_class)
    revoked = course_award(learner, classes[0])
    review.award_revoke(award_id=revoked.pk, reason="Issued in error", actor="admin:alice")
    course_award(learner, classes[1])
    course_award(learner, classes[2])
    (progress,) = programs.learner_programs_evaluate(learner_id=learner.pk)
    assert progress.held_count == 2 and program_award(learner) is None
    assert programs.learner_programs_evaluate(learner_id=twin.pk) == []  # no program on that Canvas


def test_revoking_a_required_badge_flags_the_program_badge_for_review(setup):
    learner, classes = setup["learner"], setup["classes"]
    held = [course_award(learner, c) for c in classes]
    programs.learner_programs_evaluate(learner_id=learner.pk)
    award = program_award(learner)
    review.award_revoke(award_id=held[1].pk, reason="Grade changed", actor="admin:alice")
    programs.learner_programs_evaluate(learner_id=learner.pk)
    award.refresh_from_db()
    assert award.needs_review and not award.revoked
    assert "missing: Data Cleaning" in award.review_reason
    flagged = AuditEvent.objects.filter(action="award_flagged_for_review", award=award)
    programs.learner_programs_evaluate(learner_id=learner.pk)
    assert flagged.count() == 1  # idempotent
    # The admin then revokes it (or keeps it) like any flagged award.
    review.award_review_keep(award_id=award.pk, actor="admin:alice")
    award.refresh_from_db()
    assert not award.needs_review


def test_issuance_and_revocation_queue_the_evaluation_after_commit(setup, enqueued, django_capture_on_commit_callbacks):
    """The narrow hook: course awards stored or revoked → one task per batch of learners, after commit."""
    import responses

    from tests.badging.test_issuance_support import course_badge_with_assessments, eligible_progress

    course_badge = course_badge_with_assessments(api_base_url="https://canvas.example.edu")
    progress = eligible_progress(course_badge)
    with responses.RequestsMock() as canvas, django_capture_on_commit_callbacks(execute=True):
        # The course's users list with include[]=email: issuance's read of a stale email.
        canvas.add(
            responses.GET,
            f"https://canvas.example.edu/api/v1/courses/{course_badge.course.canvas_course_id}/users",
            json=[{"id": int(progress.learner.canvas_user_id), "name": "Ada", "email": "ada@uni.edu"}],
        )
        award = issue.award_issue(progress_id=progress.pk)
    assert award is not None
    assert (programs.TASK, [[progress.learner_id]]) in enqueued.calls  # one argument: the list of learner ids
    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    assert [task.args for task in enqueued.named(programs.TASK)] == [[[progress.learner_id]]]


def test_no_program_no_task(db, enqueued, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        programs.programs_reevaluate_later(learner_ids=[1, 2])
    assert not enqueued


def test_my_badges_shows_progress_toward_the_program(client, setup):
    learner, classes = setup["learner"], setup["classes"]
    course_award(learner, classes[0])
    launch = f.LaunchContextFactory(course=None, platform=setup["platform"], person=learner)
    html = client.get(reverse("badging:my_badges", args=[launch.public_id])).content.decode()
    assert "Program badges" in html and "Data Analyst Program" in html
    assert "1 of 3 held" in html and 'max="3" value="1"' in html
    assert "Hold all 3 course badges below." in html
    # Another Canvas's learner sees no program of this one.
    other = f.LaunchContextFactory(course=None, platform=f.PlatformFactory(), person__name="Other")
    assert (
        "Data Analyst Program" not in client.get(reverse("badging:my_badges", args=[other.public_id])).content.decode()
    )


def test_import_export_round_trip(setup, enqueued, tmp_path):
    document = config_export()
    (exported,) = document["programs"]
    assert exported == {
        "key": "data-analyst-program",
        "badge_class": "data-analyst",
        "platform_issuer": setup["platform"].issuer,
        "client_id": setup["platform"].client_id,
        "requires": ["stats", "cleaning", "viz"],
        "rule": {"all": True},
        "active": True,
    }
    exported["rule"] = {"at_least": 2}
    exported["requires"] = ["viz", "stats"]
    path = tmp_path / "config.json"
    path.write_text(json.dumps(document))
    call_command("badging_import", str(path))
    program = Program.objects.get(key="data-analyst-program")
    assert (program.mode, program.required_count) == (Program.MODE_N_OF, 2)
    assert [r.badge_class.key for r in program.requirements.all()] == ["viz", "stats"]

    bad = {"programs": [{**exported, "key": "bad", "requires": ["data-analyst", "nope"], "rule": {"at_least": 5}}]}
    with pytest.raises(ConfigImportError) as refused:
        config_import(data=bad, base_dir=Path(tmp_path))
    text = " ".join(refused.value.errors)
    assert "no badge class with key 'nope'" in text
    assert "a program cannot require its own badge" in text
    assert "at_least" in text


def test_admin_defines_a_program(admin_client, setup, enqueued, django_capture_on_commit_callbacks):
    badge_class = f.BadgeClassFactory(key="second-program", name="Second Program")
    stats, cleaning, _ = setup["classes"]
    data = {
        "key": "second",
        "platform": setup["platform"].pk,
        "badge_class": badge_class.pk,
        "mode": "n_of",
        "required_count": "3",
        "active": "on",
        "requirements-TOTAL_FORMS": "2",
        "requirements-INITIAL_FORMS": "0",
        "requirements-0-badge_class": stats.pk,
        "requirements-0-position": "0",
        "requirements-1-badge_class": cleaning.pk,
        "requirements-1-position": "1",
    }
    response = admin_client.post(reverse("admin:badging_program_add"), data)
    assert (
        response.status_code == 200 and "asks for more badges than the program lists (2)" in response.content.decode()
    )
    data["required_count"] = "1"
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:badging_program_add"), data)
    assert response.status_code == 302
    program = Program.objects.get(key="second")
    assert program.requirements.count() == 2
    assert (programs.TASK_ALL, [program.pk]) in enqueued.calls
    # A course's badge class cannot be a program's.
    offered = f.BadgeClassFactory(key="offered")
    f.CourseBadgeFactory(badge_class=offered)
    data.update(key="third", badge_class=offered.pk)
    response = admin_client.post(reverse("admin:badging_program_add"), data)
    assert "This badge class is a course&#x27;s badge" in response.content.decode()


def test_program_evaluate_all_reaches_existing_holders(setup):
    learner, classes = setup["learner"], setup["classes"]
    for c in classes:
        course_award(learner, c)
    assert programs.program_evaluate_all(program=setup["program"]) == 1
    assert program_award(learner) is not None
    assert ProgramProgress.objects.get(learner=learner).complete


# --- Official validators --------------------------------------------------------------------------


@pytest.fixture
def served(transactional_db, live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server


def _issued_program_award(base: str):
    platform = f.PlatformFactory()
    issuer = f.IssuerFactory(name="Skills Forward University")
    classes = [f.BadgeClassFactory(issuer=issuer, image=make_png()) for _ in range(2)]
    program = Program.objects.create(
        key="p", platform=platform, badge_class=f.BadgeClassFactory(issuer=issuer, name="Program", image=make_png())
    )
    for badge_class in classes:
        ProgramRequirement.objects.create(program=program, badge_class=badge_class)
    learner = f.PersonFactory(platform=platform, email="ada@uni.example.edu")
    for badge_class in classes:
        course_award(learner, badge_class, base=base, recipient_email="ada@uni.example.edu")
    programs.learner_programs_evaluate(learner_id=learner.pk, base_url=base)
    return program_award(learner)


@pytest.mark.validator
def test_program_badge_passes_the_official_ob2_validator(served):
    if not validator.validator_path().exists():
        message = f"validator not found at {validator.validator_path()} (set OB_VALIDATOR)"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    award = _issued_program_award(served.url)
    result = validator.validate(f"{served.url}/public/assertions/{award.public_id}", recipient="ada@uni.example.edu")
    assert result.valid, result.errors or result.output[-2000:]
    assert result.report["report"]["errorCount"] == 0


def test_program_badge_credential_passes_the_ob3_schema_and_verifiers(served):
    from tests.badging.test_wallet_verifiers import SCHEMAS, VERIFIERS, verify

    award = _issued_program_award(served.url)
    schema = json.loads((SCHEMAS / "ob_v3p0_achievementcredential_schema.json").read_text())
    jsonschema.Draft201909Validator(schema, format_checker=jsonschema.FormatChecker()).validate(award.ob3_credential)
    if not (VERIFIERS / "node_modules" / "@digitalbazaar" / "vc").exists():
        pytest.fail("third-party verifiers not installed: run `make venv` (npm ci in tests/verifiers)")
    verdict = verify(award.ob3_credential, served.url)
    assert verdict["digitalbazaar"]["verified"], verdict["digitalbazaar"]
    assert verdict["dcc"]["verified"], verdict["dcc"]
    assert verify(award.ob3_jwt, served.url)["jwt"]["verified"]
    # Public page of the program badge works like any other.
    assert Client().get(f"/public/assertions/{award.public_id}", HTTP_ACCEPT="text/html").status_code == 200


def test_the_reconciler_catches_what_a_lost_task_left(setup):
    """No task ran after these awards (a lost broker message): the periodic reconciler evaluates
    exactly the learners whose awards changed since their last evaluation."""
    learner, classes = setup["learner"], setup["classes"]
    awards = [course_award(learner, c) for c in classes]
    bystander = f.PersonFactory(platform=learner.platform)
    course_award(bystander, classes[0])
    programs.learner_programs_evaluate(learner_id=bystander.pk)
    assert programs.programs_stale_learner_ids(program=setup["program"]) == [learner.pk]
    assert programs.programs_reconcile() == 1
    assert program_award(learner) is not None
    assert programs.programs_stale_learner_ids(program=setup["program"]) == []
    # A revocation whose evaluation was lost is found the same way.
    review.award_revoke(award_id=awards[0].pk, reason="Grade changed", actor="admin:alice")
    assert programs.programs_stale_learner_ids(program=setup["program"]) == [learner.pk]
    programs.programs_reconcile()
    assert program_award(learner).needs_review


def test_the_schedule_includes_the_program_reconciler(db):
    from django.core.management import call_command
    from django_celery_beat.models import PeriodicTask

    call_command("badging_schedule")
    assert PeriodicTask.objects.get(task=programs.RECONCILE_TASK).interval.every == programs.RECONCILE_MINUTES
