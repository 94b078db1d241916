"""The issuer's status lists are public and anonymous: only lists that carry awards are signed and
served; any other list number is a 404 that signs and caches nothing."""

import pytest
from django.core.cache import cache
from django.test import Client

from badging.openbadges import ob3
from badging.services.issuance import documents
from tests import factories as f
from tests.badging.test_public import issued_award


@pytest.fixture
def award(db):
    return issued_award()


def _list_path(award) -> str:
    return award.ob3_credential["credentialStatus"]["statusListCredential"].removeprefix("http://testserver")


def test_the_list_an_award_is_on_is_served(award):
    response = Client().get(_list_path(award))
    assert response.status_code == 200
    assert response.json()["type"] == ["VerifiableCredential", "BitstringStatusListCredential"]


@pytest.mark.parametrize("offset", [1, 2, 999_999, 10**30])
def test_a_list_no_award_is_on_is_404_and_nothing_is_signed_or_cached(award, offset, monkeypatch):
    signed = []
    sign = ob3.data_integrity_sign
    monkeypatch.setattr(ob3, "data_integrity_sign", lambda *a, **k: signed.append(1) or sign(*a, **k))
    cached = []

    class RecordingCache:
        def get(self, key, default=None):
            return cache.get(key, default)

        def set(self, key, value, timeout=None):
            cached.append(key)
            cache.set(key, value, timeout)

    monkeypatch.setattr(documents, "cache", RecordingCache())
    in_use, _ = ob3.status_position(award.status_list_index)
    issuer = award.badge_class.issuer.public_id
    assert Client().get(f"/public/status/{issuer}/{in_use + offset}").status_code == 404
    assert signed == [] and cached == []


def test_another_issuers_list_numbers_are_not_this_issuers(award):
    """A list number in use by one issuer is not a list of another issuer (each signs its own)."""
    other = f.IssuerFactory()
    in_use, _ = ob3.status_position(award.status_list_index)
    assert Client().get(f"/public/status/{other.public_id}/{in_use}").status_code == 404
