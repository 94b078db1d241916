"""The demo seed's My badges: a learner with badges from two courses and a program badge in progress."""

import pytest

from badging.models import Award, Program
from badging.selectors.backpack import my_badges_page
from lti.models import Person
from sandbox.models import SandboxCourse
from sandbox.seed import BACKPACK_PROGRAM_KEY, sandbox_seed

pytestmark = pytest.mark.django_db


def test_demo_seeds_a_learner_with_two_courses_of_badges_and_a_program_in_progress(monkeypatch):
    from celery import current_app

    monkeypatch.setattr(current_app, "send_task", lambda *a, **k: None)
    result = sandbox_seed(learners=4, assessments=2, seed=3, slug="bp", base_url="http://testserver")
    person = Person.objects.filter(platform_id=result.platform_id, awards__isnull=False).distinct().get()
    page = my_badges_page(person=person)
    assert [b.course_name for b in page.badges] == [
        "Spreadsheet Skills — Summer 2026",
        "Statistics Foundations — Spring 2026",
    ]
    assert all(b.award.ob3_credential for b in page.badges)  # signed, as issued awards are
    (program,) = page.programs
    assert program.name == "Data Skills Pathway" and (program.held_count, program.required_count) == (2, 3)
    assert program.award is None
    # The earlier courses are concluded in the sandbox and retired in the tool (never synced again).
    assert set(
        SandboxCourse.objects.filter(course_code__in=["STAT-100", "SHEET-110"]).values_list("workflow_state", flat=True)
    ) == {"completed"}
    assert not any(b.award.course_badge.active for b in page.badges)
    # Seeding again changes nothing.
    sandbox_seed(learners=4, assessments=2, seed=3, slug="bp", base_url="http://testserver")
    assert (
        Award.objects.filter(learner=person).count() == 2
        and Program.objects.filter(key=BACKPACK_PROGRAM_KEY).count() == 1
    )
