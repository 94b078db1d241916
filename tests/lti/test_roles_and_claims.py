"""Role mapping and claim parsing (pure functions)."""

import pytest

from lti.claims import claims_parse, custom_value
from lti.roles import NoUsableRole, role_decide
from tests.lti.platform import ADMIN, INSTRUCTOR, LEARNER, LIS, LTI, OBSERVER, STUDENT_VIEW, TEACHING_ASSISTANT


@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (LEARNER, ("learner", False, False)),
        (INSTRUCTOR, ("instructor", False, False)),
        (TEACHING_ASSISTANT, ("instructor", True, False)),
        (ADMIN, ("admin", False, False)),
        # The course role decides: an account administrator who teaches the course is its instructor.
        (ADMIN + INSTRUCTOR, ("instructor", False, False)),
        (STUDENT_VIEW, ("learner", False, True)),
        (["Learner"], ("learner", False, False)),  # short LTI 1.1-style context role
        (["Instructor"], ("instructor", False, False)),
        ([LIS + "institution/person#Instructor", LIS + "membership#Learner"], ("learner", False, False)),
    ],
)
def test_role_decide(roles, expected):
    decision = role_decide(roles)
    assert (decision.role, decision.is_teaching_assistant, decision.is_test_user) == expected


@pytest.mark.parametrize(
    "roles", [OBSERVER, [], [LIS + "membership#ContentDeveloper"], [LIS + "institution/person#Instructor"]]
)
def test_roles_without_a_badges_page(roles):
    with pytest.raises(NoUsableRole):
        role_decide(roles)


@pytest.mark.parametrize(
    ("raw", "value"),
    [("42", "42"), (" 42 ", "42"), ("$Canvas.user.id", ""), ("", ""), (None, ""), (42, "42"), ({"a": 1}, "")],
)
def test_custom_values_arrive_as_strings_or_unsubstituted(raw, value):
    assert custom_value({"k": raw}, "k") == value


def test_claims_parse_prefers_the_primary_email_custom_field():
    claims = claims_parse(
        {
            "sub": "abc",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "email": "ada@other.example",
            LTI + "roles": LEARNER,
            LTI + "custom": {"email": " Ada@Uni.Example.edu ", "canvas_user_id": "42"},
            LTI + "context": {"id": "ctx", "title": "Data", "label": "D1"},
        }
    )
    assert claims.email == "ada@uni.example.edu"
    assert claims.name == "Ada Lovelace" and claims.sortable_name == "Lovelace, Ada"
    assert claims.canvas_user_id == "42" and claims.canvas_course_id == ""
    assert (claims.context_id, claims.context_title, claims.context_label) == ("ctx", "Data", "D1")


def test_claims_parse_ignores_an_invalid_email_and_odd_shapes():
    claims = claims_parse({"sub": "abc", "email": "not an email", LTI + "custom": "oops", LTI + "context": []})
    assert claims.email == "" and claims.canvas_user_id == "" and claims.context_id == ""
