"""skillsforward.compiled: a queryset compiled once runs again with other values and gives what
the ORM gives (same rows, same order, same fields and related objects), for lists of any size."""

import pytest

from badging.models import Award
from skillsforward.compiled import CompiledQuery
from tests import factories as f

pytestmark = pytest.mark.django_db

awards_of = CompiledQuery(
    lambda person, badge_classes: (
        Award.objects.filter(learner_id=person, badge_class_id__in=badge_classes)
        .select_related("badge_class__issuer")
        .defer("ob3_credential", "badge_class__image")
        .order_by("revoked", "-issued_on")
    )
)


def orm(person, badge_classes):
    return list(
        Award.objects.filter(learner_id=person, badge_class_id__in=badge_classes)
        .select_related("badge_class__issuer")
        .defer("ob3_credential", "badge_class__image")
        .order_by("revoked", "-issued_on")
    )


def described(awards):
    return [(a.pk, a.revoked, a.issued_on, a.badge_class.name, a.badge_class.issuer.name) for a in awards]


def test_the_same_rows_as_the_orm_for_other_values_and_sizes():
    ada, bo = f.PersonFactory(), f.PersonFactory()
    course_badges = [f.CourseBadgeFactory(badge_class__name=f"Badge {i}") for i in range(3)]
    classes = [cb.badge_class for cb in course_badges]
    for person in (ada, bo):
        for i, course_badge in enumerate(course_badges):
            revoked = i == 1
            f.AwardFactory(
                learner=person, course_badge=course_badge, revoked=revoked, revocation_reason="Error" if revoked else ""
            )
    cases = [
        (ada.pk, [classes[0].pk]),
        (bo.pk, [classes[2].pk]),  # the same shape, other values
        (ada.pk, [c.pk for c in classes]),
        (bo.pk, [classes[0].pk, classes[1].pk]),
        (ada.pk, []),  # matches nothing
    ]
    for person, badge_classes in cases:
        got = awards_of(person=person, badge_classes=badge_classes)
        assert described(got) == described(orm(person, badge_classes))
    got = awards_of(person=ada.pk, badge_classes=[classes[0].pk])[0]
    assert got.learner_id == ada.pk and got.get_deferred_fields() >= {"ob3_credential"}
    assert "image" in got.badge_class.get_deferred_fields()
