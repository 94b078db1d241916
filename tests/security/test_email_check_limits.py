"""The "was this issued to this address?" check is limited per client and badge, per client, and
per badge: guessing is slow, and one client (or a handful) cannot lock the real verifiers out."""

import pytest
from django.test import Client

from badging.views import public
from tests.badging.test_public import issued_award


@pytest.fixture
def award(db):
    return issued_award()


def check(award, email, client_ip="203.0.113.7"):
    return Client(REMOTE_ADDR=client_ip).post(f"/public/assertions/{award.public_id}/check", {"email": email})


def test_a_handful_of_clients_cannot_lock_out_a_badges_real_verifiers(award):
    attackers = [f"198.51.100.{n}" for n in range(4)]
    for ip in attackers:
        for n in range(public.CHECKS_PER_CLIENT + 3):
            check(award, f"guess{n}@uni.example.edu", client_ip=ip)
        assert check(award, "ada@uni.example.edu", client_ip=ip).status_code == 429
    # An employer checking the recipient's address from elsewhere still gets the answer.
    answer = check(award, "ada@uni.example.edu", client_ip="192.0.2.44")
    assert answer.status_code == 200 and b"<strong>Yes:</strong>" in answer.content


def test_a_client_that_used_its_checks_on_one_badge_can_still_check_another(award):
    other = issued_award(recipient_email="grace@uni.example.edu")
    for n in range(public.CHECKS_PER_CLIENT):
        check(award, f"guess{n}@uni.example.edu")
    assert check(award, "ada@uni.example.edu").status_code == 429
    answer = check(other, "grace@uni.example.edu")
    assert answer.status_code == 200 and b"<strong>Yes:</strong>" in answer.content


def test_one_client_cannot_sweep_an_address_across_many_badges(db, monkeypatch):
    monkeypatch.setattr(public, "CHECKS_PER_CLIENT_ALL_AWARDS", 12)
    awards = [issued_award(recipient_email=f"learner{n}@uni.example.edu") for n in range(3)]
    answers = [check(a, "ada@uni.example.edu").status_code for a in awards for _ in range(5)]
    assert answers[:12] == [200] * 12 and answers[12:] == [429] * 3
    # Someone else is not affected.
    assert check(awards[2], "learner2@uni.example.edu", client_ip="192.0.2.44").status_code == 200


def test_the_per_badge_cap_still_stops_a_distributed_guesser(award, monkeypatch):
    monkeypatch.setattr(public, "CHECKS_PER_AWARD", 25)
    assert public.CHECKS_PER_AWARD > public.CHECKS_PER_CLIENT
    for n in range(25):
        assert check(award, f"guess{n}@uni.example.edu", client_ip=f"10.1.0.{n}").status_code == 200
    limited = check(award, "ada@uni.example.edu", client_ip="192.0.2.44")
    assert limited.status_code == 429 and int(limited["Retry-After"]) == public.CHECKS_PER_AWARD_WINDOW
    assert b"<strong>Yes:</strong>" not in limited.content


def test_the_client_is_who_the_projects_client_address_helper_says(award, monkeypatch):
    """Which address a request comes from (and whether proxy headers count) is decided in one place."""
    monkeypatch.setattr(public, "client_address", lambda request: "one-client-behind-many-addresses")
    for n in range(public.CHECKS_PER_CLIENT):
        assert check(award, f"guess{n}@uni.example.edu", client_ip=f"10.2.0.{n}").status_code == 200
    assert check(award, "ada@uni.example.edu", client_ip="10.2.1.1").status_code == 429
