"""The evaluation rule: a table of the states learners are in, and properties that must always hold."""

from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from badging import evaluation as ev
from badging.evaluation import (
    AssessmentSpec,
    BadgeRule,
    CriterionSpec,
    EnrollmentFact,
    LearnerFacts,
    ResultFact,
    evaluate_learner,
)

A1 = AssessmentSpec("55", "Clean a data set", D(12), min_percent=D(80))
A2 = AssessmentSpec("56", "Present findings", D(10), min_percent=D(80))
RULE = BadgeRule(assessments=(A1, A2))
ACTIVE = EnrollmentFact(state="active")
OVERRIDE = EnrollmentFact(state="active", override_score=D(95), override_grade="A")


def graded(aid, score, posted=True, **kw):
    return ResultFact(assignment_id=aid, workflow_state="graded", score=D(score), graded=True, posted=posted, **kw)


def facts(*results, enrollments=(ACTIVE,), award=None):
    return LearnerFacts(enrollments=tuple(enrollments), results={r.assignment_id: r for r in results}, award=award)


@pytest.mark.parametrize(
    ("learner", "state"),
    [
        (facts(), ev.NOT_STARTED),
        (facts(ResultFact("55", workflow_state="submitted")), ev.IN_PROGRESS),
        (facts(graded("55", 12)), ev.IN_PROGRESS),
        (facts(graded("55", 12), graded("56", 8)), ev.AWAITING_FINAL_GRADE),
        (facts(graded("55", 12), graded("56", 8), enrollments=[OVERRIDE]), ev.ELIGIBLE),
        (facts(graded("55", 12), graded("56", 7.99), enrollments=[OVERRIDE]), ev.NOT_EARNED),
        # Unposted grades never count, even perfect ones; while one is pending (awaiting grading or
        # posting) the learner is not told "not earned" just because the final grade came first.
        (facts(graded("55", 12), graded("56", 10, posted=False), enrollments=[OVERRIDE]), ev.IN_PROGRESS),
        (facts(graded("55", 12), ResultFact("56", workflow_state="submitted"), enrollments=[OVERRIDE]), ev.IN_PROGRESS),
        (facts(graded("55", 12), enrollments=[OVERRIDE]), ev.NOT_EARNED),  # never submitted: nothing pending
        (
            facts(graded("55", 12), graded("56", 10), enrollments=[EnrollmentFact("completed", override_grade="B")]),
            ev.ELIGIBLE,
        ),
        (
            facts(graded("55", 12), graded("56", 10), enrollments=[EnrollmentFact("inactive", override_score=D(90))]),
            ev.INELIGIBLE,
        ),
        (
            facts(graded("55", 12), graded("56", 10), enrollments=[EnrollmentFact("deleted", override_score=D(90))]),
            ev.INELIGIBLE,
        ),
        (
            facts(graded("55", 12), graded("56", 10), enrollments=[EnrollmentFact("rejected", override_score=D(90))]),
            ev.INELIGIBLE,
        ),
        (
            facts(
                graded("55", 12),
                graded("56", 10),
                enrollments=[
                    EnrollmentFact(
                        "active", enrollment_type="StudentViewEnrollment", is_test_user=True, override_score=D(99)
                    )
                ],
            ),
            ev.INELIGIBLE,
        ),
        # Two sections, one dropped: counts once, eligible through the active one.
        (facts(graded("55", 12), graded("56", 10), enrollments=[EnrollmentFact("deleted"), OVERRIDE]), ev.ELIGIBLE),
        (facts(graded("55", 12), graded("56", 10), enrollments=[]), ev.INELIGIBLE),
        (facts(graded("55", 12), graded("56", 10), enrollments=[OVERRIDE], award=ev.AWARD_LIVE), ev.ISSUED),
        (facts(graded("55", 12), graded("56", 10), enrollments=[OVERRIDE], award=ev.AWARD_REVOKED), ev.REVOKED),
    ],
)
def test_state_table(learner, state):
    assert evaluate_learner(rule=RULE, learner=learner).state == state


def test_reasons_per_assessment_in_plain_words():
    result = evaluate_learner(
        rule=RULE,
        learner=facts(graded("55", 9), graded("56", 10, posted=False)),
    )
    first, second = result.detail()["assessments"]
    assert first["status"] == ev.NOT_MASTERED
    assert first["reason"] == "9 of 12 points; 9.6 needed for mastery"
    assert first["needed_points"] == 9.6 and first["needed_percent"] == 80.0
    assert second["status"] == ev.GRADED_NOT_POSTED and second["score"] is None
    assert "not posted" in second["reason"]
    assert result.detail()["final_grade"]["reason"].startswith("the instructor has not entered the final grade")
    assert result.reason == "0 of 2 credentialing assessments mastered"


def test_excused_and_awaiting_grading():
    result = evaluate_learner(
        rule=RULE,
        learner=facts(
            ResultFact("55", workflow_state="graded", excused=True, graded=True, posted=True),
            ResultFact("56", workflow_state="pending_review"),
        ),
    )
    statuses = [a["status"] for a in result.detail()["assessments"]]
    assert statuses == [ev.EXCUSED, ev.AWAITING_GRADING]
    assert result.state == ev.IN_PROGRESS


def test_points_threshold_and_per_assessment_override():
    rule = BadgeRule(
        assessments=(
            AssessmentSpec("55", "A", D(12), min_points=D(11)),
            AssessmentSpec("56", "B", D(10), min_percent=D(50)),
        )
    )
    result = evaluate_learner(rule=rule, learner=facts(graded("55", 10.5), graded("56", 5), enrollments=[OVERRIDE]))
    assert [a.mastered for a in result.assessments] == [False, True]
    assert result.state == ev.NOT_EARNED


def test_minimum_rubric_rating_per_criterion():
    spec = AssessmentSpec(
        "55",
        "A",
        D(12),
        min_percent=D(50),
        criteria=(CriterionSpec("_1", "Skill A", D(6)), CriterionSpec("_2", "Skill B", D(6))),
    )
    rule = BadgeRule(assessments=(spec,), min_rubric_criterion_percent=D(50))
    lopsided = graded("55", 8, rubric_points={"_1": D(6), "_2": D(2)})
    result = evaluate_learner(rule=rule, learner=facts(lopsided, enrollments=[OVERRIDE]))
    assert not result.assessments[0].mastered
    assert "Skill B" in result.assessments[0].reason
    balanced = graded("55", 8, rubric_points={"_1": D(4), "_2": D(4)})
    assert evaluate_learner(rule=rule, learner=facts(balanced, enrollments=[OVERRIDE])).state == ev.ELIGIBLE


def test_final_grade_from_assignment_must_be_graded_and_posted():
    rule = BadgeRule(
        assessments=(A1,),
        final_grade_source=ev.FINAL_GRADE_ASSIGNMENT,
        final_grade_assignment_id="99",
        final_grade_assignment_name="Final grade",
    )
    assert evaluate_learner(rule=rule, learner=facts(graded("55", 12))).state == ev.AWAITING_FINAL_GRADE
    unposted = facts(graded("55", 12), graded("99", 90, posted=False))
    assert (
        evaluate_learner(rule=rule, learner=unposted).final_grade.reason == "Final grade is graded but not posted yet"
    )
    assert evaluate_learner(rule=rule, learner=facts(graded("55", 12), graded("99", 90))).state == ev.ELIGIBLE
    missing = BadgeRule(
        assessments=(A1,), final_grade_source=ev.FINAL_GRADE_ASSIGNMENT, final_grade_assignment_name="Final grade"
    )
    assert not evaluate_learner(rule=missing, learner=facts(graded("55", 12))).final_grade.entered


def test_no_assessments_configured_is_never_eligible():
    rule = BadgeRule(assessments=())
    result = evaluate_learner(rule=rule, learner=facts(enrollments=[OVERRIDE]))
    assert result.state == ev.NOT_STARTED
    assert "no credentialing assessments" in result.reason


# --- Properties -----------------------------------------------------------------------------------

scores = st.one_of(st.none(), st.decimals(min_value=0, max_value=15, places=2))
results_st = st.builds(
    ResultFact,
    assignment_id=st.sampled_from(["55", "56"]),
    workflow_state=st.sampled_from(["unsubmitted", "submitted", "pending_review", "graded"]),
    score=scores,
    excused=st.booleans(),
    graded=st.booleans(),
    posted=st.booleans(),
)
enrollment_st = st.builds(
    EnrollmentFact,
    state=st.sampled_from(["active", "completed", "inactive", "deleted", "rejected", "invited"]),
    enrollment_type=st.sampled_from(["StudentEnrollment", "StudentEnrollment", "StudentViewEnrollment"]),
    is_test_user=st.booleans(),
    override_score=st.one_of(st.none(), st.decimals(min_value=0, max_value=100, places=1)),
    override_grade=st.sampled_from(["", "", "A", "F"]),
)
learner_st = st.builds(
    LearnerFacts,
    enrollments=st.lists(enrollment_st, max_size=3).map(tuple),
    results=st.lists(results_st, max_size=3).map(lambda rs: {r.assignment_id: r for r in rs}),
    award=st.sampled_from([None, None, ev.AWARD_LIVE, ev.AWARD_REVOKED]),
)


@settings(max_examples=300, deadline=None)
@given(learner=learner_st)
def test_eligible_implies_every_condition_of_the_rule(learner):
    result = evaluate_learner(rule=RULE, learner=learner)
    if result.state == ev.ELIGIBLE:
        for spec in RULE.assessments:
            r = learner.results[spec.assignment_id]
            assert r.posted and r.graded and not r.excused
            assert r.score is not None and r.score >= ev.needed_points(spec)
        assert any(e.override_score is not None or e.override_grade for e in learner.enrollments)
        assert any(e.state in ("active", "completed") for e in learner.enrollments)
        assert not any(e.is_test_user or e.enrollment_type == "StudentViewEnrollment" for e in learner.enrollments)
        assert learner.award is None
    if learner.award == ev.AWARD_LIVE:
        assert result.state == ev.ISSUED
    assert 0 <= result.mastered_count <= result.assessment_count == 2
    detail = result.detail()
    assert detail["state"] == result.state and len(detail["assessments"]) == 2


@settings(max_examples=200, deadline=None)
@given(learner=learner_st)
def test_unposting_a_grade_never_makes_a_learner_eligible(learner):
    """Grades the learner cannot see yet (unposted) never master anything nor make anyone eligible."""
    hidden = LearnerFacts(
        enrollments=learner.enrollments,
        results={k: ResultFact(**{**_fields(r), "posted": False}) for k, r in learner.results.items()},
        award=learner.award,
    )
    result = evaluate_learner(rule=RULE, learner=hidden)
    assert result.mastered_count == 0
    assert result.state not in (ev.ELIGIBLE, ev.AWAITING_FINAL_GRADE)
    assert result.mastered_count <= evaluate_learner(rule=RULE, learner=learner).mastered_count


def _fields(r: ResultFact) -> dict:
    return {name: getattr(r, name) for name in ResultFact.__slots__}


def test_points_read_the_same_in_reasons_dashboard_and_learner_pages():
    from badging.evaluation import points_text
    from badging.templatetags.learner_format import points

    assert [points_text(v) for v in (12, D("9.60"), 0.25, D("9.625"), 0, None)] == [
        "12",
        "9.6",
        "0.25",
        "9.63",
        "0",
        "—",
    ]
    # Kept per value and type: values that compare equal but read differently never share a text,
    # whichever is asked first (the float 2.675 is 2.67499…, the decimal 2.675 rounds up; -0 keeps its sign).
    exact = D(2.675)  # noqa: RUF032  (the float's exact binary value is the point)
    assert [points_text(v) for v in (exact, 2.675, D("2.675"), exact)] == ["2.67", "2.68", "2.68", "2.67"]
    assert [points_text(v) for v in (0.0, -0.0, D("-0"), D("0.00"))] == ["0", "-0", "-0", "0"]
    # The learner pages' filter: the same text, blank for nothing, unchanged for what is not a number.
    assert [points(v) for v in (D("9.625"), None, "", "A-")] == ["9.63", "", "", "A-"]
