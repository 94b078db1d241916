"""Revocation status slots: random, free before anything is signed with them, and from a space that
grows with the awards (Bitstring Status List §6.1: random positions for herd privacy). Before,
a slot was checked only by the award's insert, and a space that filled faster than it was resized
(20,000 awards in half a minute after a start) failed learners with "No free revocation status
slot after several tries"."""

import secrets

import pytest

from badging.models import Award
from badging.openbadges import ob3
from badging.services.issuance import documents, issue
from tests import factories as f
from tests.badging.test_issuance import canvas_email
from tests.badging.test_issuance_support import course_badge_with_assessments, eligible_progress

pytestmark = pytest.mark.django_db

CANVAS = "https://canvas.example.edu"


@pytest.fixture(autouse=True)
def fresh_space(monkeypatch, settings):
    settings.PUBLIC_BASE_URL = "https://badges.example.edu"
    monkeypatch.setattr(documents, "_index_space", documents._IndexSpace())


def draws(monkeypatch, values):
    """secrets.randbelow answers `values` in turn; returns the list of the space sizes it was asked for."""
    asked, values = [], iter(values)

    def randbelow(n):
        asked.append(n)
        return next(values)

    monkeypatch.setattr(secrets, "randbelow", randbelow)
    return asked


def test_a_slot_in_use_is_drawn_again_before_the_credential_is_signed(rsps, enqueued, monkeypatch):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    f.AwardFactory(status_list_index=77)
    progress = eligible_progress(course_badge)
    canvas_email(rsps, progress.learner, progress.learner.email)
    draws(monkeypatch, [77, 78])
    signed, build = [], issue._documents_build_json

    def build_and_note(award, *args):
        signed.append(award.status_list_index)
        return build(award, *args)

    monkeypatch.setattr(issue, "_documents_build_json", build_and_note)
    award = issue.award_issue(progress_id=progress.pk)
    assert award.status_list_index == 78
    assert signed == [78]  # signed once, with the free slot: the taken one never reached the insert


def test_a_batch_gets_distinct_free_slots(monkeypatch):
    for index in (3, 5):
        f.AwardFactory(status_list_index=index)
    # The first round draws a duplicate and two taken slots; the second fills what is missing.
    draws(monkeypatch, [1, 1, 3, 5, 2, 4, 6])
    assert documents.status_slots_free(4) == [1, 2, 4, 6]


def test_a_space_that_keeps_drawing_taken_slots_gives_up_and_leaves_it_to_the_constraint(monkeypatch):
    f.AwardFactory(status_list_index=9)
    draws(monkeypatch, [9] * 9)
    assert documents.status_slots_free(1) == [9]  # eight rounds, then the ninth draw as it is


def test_the_space_grows_with_the_awards_between_the_minutely_recounts(monkeypatch):
    """At most 1/16 full: recounted once this process has drawn a sixty-fourth of the space, not
    only every minute, so that a burst of issuance right after a start does not crowd it."""
    monkeypatch.setattr(ob3, "STATUS_LIST_SIZE", 128)
    f.AwardFactory.create_batch(7, status_list_index=None)
    asked = draws(monkeypatch, range(1000, 2000))
    documents.status_slots_free(1)
    assert asked[-1] == 128  # (7 + 1) × 16 = 128: still fits
    f.AwardFactory.create_batch(3, status_list_index=None)
    documents.status_slots_free(1)
    assert asked[-1] == 128  # one slot drawn since the count: not recounted yet
    documents.status_slots_free(2)  # 2 drawn since the count, a sixty-fourth of 128: recounted
    assert asked[-1] == 256  # (10 + 2) × 16 > 128
    assert Award.objects.count() == 10


def test_a_collision_at_insert_asks_for_a_recount(monkeypatch):
    monkeypatch.setattr(ob3, "STATUS_LIST_SIZE", 128)
    asked = draws(monkeypatch, range(1000, 2000))
    documents.status_slots_free(1)
    f.AwardFactory.create_batch(9, status_list_index=None)
    documents.status_slots_free(1, recount=True)
    assert asked == [128, 256]  # (9 + 1) × 16 > 128
