"""Public endpoints under abuse: the email check cannot be used to try address lists cheaply."""

import pytest
from django.test import Client

from badging.views import public
from tests.badging.test_public import issued_award


@pytest.fixture
def award(db):
    return issued_award()


def check(award, email, client_ip="203.0.113.7"):
    return Client(REMOTE_ADDR=client_ip).post(f"/public/assertions/{award.public_id}/check", {"email": email})


def test_email_check_is_rate_limited_per_client(award):
    for n in range(public.CHECKS_PER_CLIENT):
        answer = check(award, f"guess{n}@uni.example.edu")
        assert answer.status_code == 200 and b"<strong>No:</strong>" in answer.content
    # Even the right address gets no answer once the client has used up its checks.
    limited = check(award, "ada@uni.example.edu")
    assert limited.status_code == 429
    assert "Too many addresses were checked" in limited.content.decode()
    assert b"<strong>Yes:</strong>" not in limited.content
    assert int(limited["Retry-After"]) > 0
    # Another client is not affected.
    assert b"<strong>Yes:</strong>" in check(award, "ada@uni.example.edu", client_ip="198.51.100.9").content


def test_email_check_is_rate_limited_per_assertion_whatever_the_client(award):
    for n in range(public.CHECKS_PER_AWARD):
        assert check(award, f"guess{n}@uni.example.edu", client_ip=f"10.0.{n // 200}.{n % 200}").status_code == 200
    assert check(award, "ada@uni.example.edu", client_ip="192.0.2.200").status_code == 429


def test_email_check_behind_the_proxy_counts_the_address_the_proxy_saw(award, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    client = Client(REMOTE_ADDR="10.0.0.1")
    url = f"/public/assertions/{award.public_id}/check"
    for n in range(public.CHECKS_PER_CLIENT):
        # A client rotating a spoofed first entry is still the same last hop.
        client.post(url, {"email": f"g{n}@x.example"}, HTTP_X_FORWARDED_FOR=f"1.1.1.{n}, 203.0.113.50")
    assert client.post(url, {"email": "a@x.example"}, HTTP_X_FORWARDED_FOR="9.9.9.9, 203.0.113.50").status_code == 429
    assert client.post(url, {"email": "a@x.example"}, HTTP_X_FORWARDED_FOR="203.0.113.51").status_code == 200


def test_no_public_url_reveals_the_recipient_email_or_database_ids(award):
    import base64

    base = f"/public/assertions/{award.public_id}"
    badge, issuer = award.badge_class, award.badge_class.issuer
    urls = [
        (base, "application/ld+json"),
        (base, "text/html"),
        (base + ".ob3.json", None),
        (base + ".jwt", None),
        (base + "/evidence", None),
        (base + "/image", None),
        (f"/public/badges/{badge.public_id}", "application/ld+json"),
        (f"/public/badges/{badge.public_id}", "text/html"),
        (f"/public/issuers/{issuer.public_id}", "application/ld+json"),
        (f"/public/issuers/{issuer.public_id}", "text/html"),
    ]
    secrets = [award.recipient_email, award.learner.email]
    for url, accept in urls:
        response = Client().get(url, HTTP_ACCEPT=accept or "*/*")
        assert response.status_code == 200, url
        body = response.content
        if url.endswith(".jwt"):
            body = base64.urlsafe_b64decode(body.split(b".")[1] + b"==")
        text = body.decode("utf-8", "replace").lower()
        for secret in secrets:
            assert str(secret).lower() not in text, (url, secret)
        for pk in (f'/{award.pk}"', f'/{award.learner_id}"', f'/{badge.pk}"', f'/{issuer.pk}"'):
            assert pk not in text, (url, pk)
        assert response["X-Content-Type-Options"] == "nosniff", url
    # The person who received it learns nothing either: the page shows no address until they type one.
    assert "ada@" not in Client().get(base, HTTP_ACCEPT="text/html").content.decode().lower()
