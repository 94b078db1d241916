"""Course and person identity come from the signed claims (`context.id`, `sub`), never from custom
fields: a launch whose custom canvas_course_id / canvas_user_id names another course or person
neither moves to that course nor writes into that person's record.

Canvas signs `sub` (the user's LTI id) and `https://purl.imsglobal.org/spec/lti/claim/context`
`id` (the course's LTI context id) in every course launch (canvas-lms
lib/lti/messages/jwt_message.rb: add_security_claims! sets sub, add_context_claims! sets
context.id from Lti::Asset.opaque_identifier_for(@context)); custom fields are whatever the
tool configuration or a resource link's custom parameters say.
"""

import pytest
from django.db import IntegrityError, transaction
from django.test import Client
from django.urls import reverse

from lti.models import Course, LaunchContext, Person
from tests.factories import CourseFactory, PersonFactory
from tests.lti.platform import INSTRUCTOR, LEARNER, LTI

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def production_like(settings):
    settings.DEBUG = False
    settings.SANDBOX_ENABLED = False


def with_custom(**values):
    def hook(claims):
        claims[LTI + "custom"] = {**claims[LTI + "custom"], **values}
        return claims

    return hook


def test_a_custom_course_id_does_not_move_a_launch_to_another_course(canvas):
    # Course 900 is known (someone launched there); course 77's instructor edits the custom field.
    other = canvas.launch_context(Client(), roles=INSTRUCTOR, course_id="900", user_id="5")
    mine = canvas.launch_context(Client(), roles=INSTRUCTOR, course_id="77", user_id="6")
    moved = canvas.launch_context(
        Client(), roles=INSTRUCTOR, course_id="77", user_id="6", token_hook=with_custom(canvas_course_id="900")
    )
    assert moved.course == mine.course != other.course
    assert moved.course.canvas_course_id == "77"
    dashboard = Client().get(reverse("badging:instructor_dashboard", args=[moved.public_id]))
    assert dashboard.status_code == 200
    assert "Data Skills 900" not in dashboard.content.decode()


def test_a_new_context_cannot_take_over_a_course_bound_to_another_context(canvas):
    canvas.launch_context(Client(), roles=INSTRUCTOR, course_id="900", user_id="5")

    def other_context(claims):
        claims[LTI + "context"] = {**claims[LTI + "context"], "id": "ctx-sandbox-course", "title": "My sandbox"}
        claims[LTI + "custom"] = {**claims[LTI + "custom"], "canvas_course_id": "900"}
        return claims

    response = canvas.launch(Client(), roles=INSTRUCTOR, course_id="12", user_id="6", token_hook=other_context)
    assert response.status_code == 403
    assert "does not match this course" in response.content.decode()
    assert not LaunchContext.objects.filter(person__canvas_user_id="6").exists()
    assert Course.objects.get(canvas_course_id="900").name == "Data Skills 900"


def test_a_custom_user_id_never_writes_into_another_persons_record(canvas):
    victim = canvas.launch_context(Client(), roles=INSTRUCTOR, user_id="5", name="Vic Teacher", email="vic@uni.edu")
    response = canvas.launch(
        Client(),
        roles=LEARNER,
        user_id="6",
        name="Mallory Student",
        email="mallory@uni.edu",
        token_hook=with_custom(canvas_user_id="5"),
    )
    assert response.status_code == 403
    victim.person.refresh_from_db()
    assert (victim.person.name, victim.person.email) == ("Vic Teacher", "vic@uni.edu")
    assert LaunchContext.objects.filter(person=victim.person).count() == 1


def test_a_known_subject_keeps_its_person_whatever_the_custom_user_id_says(canvas):
    first = canvas.launch_context(Client(), roles=LEARNER, user_id="6", name="Sam Student")
    other = PersonFactory(platform=canvas.platform, canvas_user_id="5", name="Other Person", lti_sub="")
    again = canvas.launch_context(Client(), roles=LEARNER, user_id="6", token_hook=with_custom(canvas_user_id="5"))
    assert again.person == first.person
    other.refresh_from_db()
    assert other.name == "Other Person" and other.lti_sub == ""


def test_the_database_keeps_one_course_per_context_and_one_person_per_subject(canvas):
    course = CourseFactory(platform=canvas.platform, lti_context_id="ctx-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        CourseFactory(platform=canvas.platform, lti_context_id="ctx-1")
    person = PersonFactory(platform=canvas.platform, lti_sub="sub-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        PersonFactory(platform=canvas.platform, lti_sub="sub-1")
    # Rows not yet bound (from a sync or an import) may share the blank value.
    CourseFactory(platform=canvas.platform, lti_context_id="")
    CourseFactory(platform=canvas.platform, lti_context_id="")
    assert Person.objects.filter(pk=person.pk).exists() and Course.objects.filter(pk=course.pk).exists()
