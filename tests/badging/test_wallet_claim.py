"""Putting a badge into a wallet with OpenID for Verifiable Credential Issuance 1.0, pre-authorised
code flow, driven by a scripted wallet: offer from the learner's own launch, token, proof of
possession, credential bound to the wallet's DID; and the attacks on each step."""

import json
import re
import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from django.test import Client
from django.urls import reverse
from freezegun import freeze_time

from badging.models import AuditEvent, WalletOffer
from badging.openbadges.multibase import multibase_encode
from badging.services import wallet
from badging.services.issuance import review
from badging.views.learner import wallet_form_token
from tests import factories as f
from tests.badging.test_public import issued_award

BASE = "http://testserver"
PRE_AUTH = "urn:ietf:params:oauth:grant-type:pre-authorized_code"


class ScriptedWallet:
    """What a wallet app does, with its own Ed25519 key and did:key (or a P-256 jwk)."""

    def __init__(self, client: Client, *, key_type: str = "did:key"):
        self.client = client
        self.key_type = key_type
        if key_type == "did:key":
            self.private = ed25519.Ed25519PrivateKey.generate()
            raw = self.private.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
            self.did = "did:key:" + multibase_encode(b"\xed\x01" + raw)
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            self.jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key()))

    @staticmethod
    def parse_offer(uri: str) -> dict:
        assert uri.startswith("openid-credential-offer://?")
        return json.loads(parse_qs(urlsplit(uri).query)["credential_offer"][0])

    def metadata(self, offer: dict) -> tuple[dict, dict]:
        issuer = offer["credential_issuer"].removeprefix(BASE)
        credential_issuer = self.client.get(issuer + "/.well-known/openid-credential-issuer").json()
        authorization_server = self.client.get(issuer + "/.well-known/oauth-authorization-server").json()
        return credential_issuer, authorization_server

    def token(self, code: str):
        return self.client.post("/oid4vci/token", {"grant_type": PRE_AUTH, "pre-authorized_code": code})

    def proof(self, *, nonce: str, audience: str = BASE, iat: float | None = None) -> str:
        claims = {"aud": audience, "iat": int(iat if iat is not None else time.time()), "nonce": nonce}
        if self.key_type == "did:key":
            header = {"typ": "openid4vci-proof+jwt", "kid": f"{self.did}#{self.did.removeprefix('did:key:')}"}
            return jwt.encode(claims, self.private, algorithm="EdDSA", headers=header)
        header = {"typ": "openid4vci-proof+jwt", "jwk": self.jwk}
        return jwt.encode(claims, self.private, algorithm="ES256", headers=header)

    def credential(self, access_token: str, proof_jwt: str, **body):
        body.setdefault("credential_configuration_id", "OpenBadgeCredential")
        body["proofs"] = {"jwt": [proof_jwt]}
        return self.client.post(
            "/oid4vci/credential", json.dumps(body), content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {access_token}",
        )  # fmt: skip

    def claim(self, uri: str) -> dict:
        offer = self.parse_offer(uri)
        metadata, _ = self.metadata(offer)
        assert "OpenBadgeCredential" in metadata["credential_configurations_supported"]
        code = offer["grants"][PRE_AUTH]["pre-authorized_code"]
        token = self.token(code).json()
        response = self.credential(token["access_token"], self.proof(nonce=token["c_nonce"]))
        assert response.status_code == 200, response.content
        return response.json()


@pytest.fixture
def learner_award(db, settings):
    settings.PUBLIC_BASE_URL = ""
    award = issued_award()
    launch = f.LaunchContextFactory(course=award.course_badge.course, person=award.learner)
    return award, launch


def start_claim(client, launch, award) -> str:
    """The learner presses "Add to a digital wallet" on their Badges page; returns the offer URI."""
    page = client.get(reverse("badging:launch_home", args=[launch.public_id])).content.decode()
    action = reverse("badging:learner_award_wallet", args=[launch.public_id, award.public_id])
    assert action in page
    response = client.post(action, {"token": wallet_form_token(launch)}, HTTP_ORIGIN=BASE)
    assert response.status_code == 200 and "no-store" in response["Cache-Control"]
    html = response.content.decode()
    assert "<svg" in html and "download" in html
    uri = re.search(r'href="(openid-credential-offer://[^"]+)"', html).group(1).replace("&amp;", "&")
    return uri


def test_scripted_wallet_claims_the_badge_bound_to_its_did(learner_award):
    award, launch = learner_award
    client = Client()
    uri = start_claim(client, launch, award)
    holder = ScriptedWallet(client)
    issued = holder.claim(uri)
    credential = issued["credentials"][0]["credential"]
    assert credential["credentialSubject"]["id"] == holder.did
    assert credential["credentialSubject"]["achievement"] == award.ob3_credential["credentialSubject"]["achievement"]
    assert credential["credentialStatus"] == award.ob3_credential["credentialStatus"]
    assert credential["issuer"]["id"] == award.ob3_credential["issuer"]["id"]
    assert credential["id"].startswith("urn:uuid:") and credential["proof"][0]["proofPurpose"] == "assertionMethod"
    offer = WalletOffer.objects.get()
    assert offer.holder_id == holder.did and offer.claimed_at and offer.credential_id == credential["id"]
    audit = AuditEvent.objects.get(action="wallet_credential_claimed")
    assert audit.award == award and audit.detail["holder"] == holder.did
    assert AuditEvent.objects.filter(action="wallet_offer_created", actor_person=award.learner).exists()
    # Nothing secret is stored in the clear.
    code = ScriptedWallet.parse_offer(uri)["grants"][PRE_AUTH]["pre-authorized_code"]
    assert code not in json.dumps(list(WalletOffer.objects.values()), default=str)


def test_a_wallet_with_a_p256_jwk_gets_a_did_jwk_subject(learner_award):
    award, launch = learner_award
    client = Client()
    holder = ScriptedWallet(client, key_type="jwk")
    credential = holder.claim(start_claim(client, launch, award))["credential"]
    assert credential["credentialSubject"]["id"].startswith("did:jwk:")


def test_the_code_and_the_token_work_once(learner_award):
    award, launch = learner_award
    client = Client()
    uri = start_claim(client, launch, award)
    holder = ScriptedWallet(client)
    code = ScriptedWallet.parse_offer(uri)["grants"][PRE_AUTH]["pre-authorized_code"]
    token = holder.token(code).json()
    again = holder.token(code)
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"
    assert holder.credential(token["access_token"], holder.proof(nonce=token["c_nonce"])).status_code == 200
    replay = holder.credential(token["access_token"], holder.proof(nonce=token["c_nonce"]))
    assert replay.status_code == 401 and replay.json()["error"] == "invalid_token"
    assert AuditEvent.objects.filter(action="wallet_credential_claimed").count() == 1


def test_an_expired_code_or_token_is_refused(learner_award):
    award, launch = learner_award
    client = Client()
    holder = ScriptedWallet(client)
    code = ScriptedWallet.parse_offer(start_claim(client, launch, award))["grants"][PRE_AUTH]["pre-authorized_code"]
    with freeze_time(WalletOffer.objects.get().code_expires_at + timedelta(seconds=1)):
        assert holder.token(code).json()["error"] == "invalid_grant"
    code = ScriptedWallet.parse_offer(start_claim(client, launch, award))["grants"][PRE_AUTH]["pre-authorized_code"]
    token = holder.token(code).json()
    later = WalletOffer.objects.filter(code_used_at__isnull=False).get().token_expires_at + timedelta(seconds=1)
    with freeze_time(later):
        response = holder.credential(token["access_token"], holder.proof(nonce=token["c_nonce"]))
    assert response.status_code == 401


def test_only_the_learner_who_earned_it_can_start_a_claim(learner_award):
    award, launch = learner_award
    client = Client()
    other = f.PersonFactory(platform=award.course_badge.course.platform)
    bob = f.LaunchContextFactory(course=award.course_badge.course, person=other)
    action = reverse("badging:learner_award_wallet", args=[bob.public_id, award.public_id])
    assert client.post(action, {"token": wallet_form_token(bob)}, HTTP_ORIGIN=BASE).status_code == 404
    own = reverse("badging:learner_award_wallet", args=[launch.public_id, award.public_id])
    # Bob's form token does not work on Ada's launch, nor does a post from another site.
    assert client.post(own, {"token": wallet_form_token(bob)}, HTTP_ORIGIN=BASE).status_code == 403
    assert client.post(own, {"token": wallet_form_token(launch)}, HTTP_ORIGIN="https://evil.example").status_code == 403
    assert client.get(own).status_code == 405
    assert not WalletOffer.objects.exists()


def test_a_code_cannot_fetch_another_learners_badge(learner_award):
    """A code is bound to its award at creation: a wallet holding Bob's code gets Bob's badge only."""
    award, _launch = learner_award
    client = Client()
    bob_award = issued_award(recipient_email="bob@uni.example.edu")
    bob = f.LaunchContextFactory(course=bob_award.course_badge.course, person=bob_award.learner)
    credential = ScriptedWallet(client).claim(start_claim(client, bob, bob_award))["credential"]
    assert credential["credentialSubject"]["identifier"] == bob_award.ob3_credential["credentialSubject"]["identifier"]
    assert credential["credentialSubject"]["identifier"] != award.ob3_credential["credentialSubject"]["identifier"]


def test_proof_of_possession_is_checked(learner_award):
    award, launch = learner_award
    client = Client()
    holder = ScriptedWallet(client)
    code = ScriptedWallet.parse_offer(start_claim(client, launch, award))["grants"][PRE_AUTH]["pre-authorized_code"]
    token = holder.token(code).json()
    access = token["access_token"]
    bad = [
        holder.proof(nonce=token["c_nonce"], audience="https://other-issuer.example"),
        holder.proof(nonce=token["c_nonce"], iat=time.time() - 3600),
        holder.proof(nonce=token["c_nonce"]).rsplit(".", 1)[0] + ".AAAA",
        jwt.encode({"aud": BASE, "iat": int(time.time()), "nonce": token["c_nonce"]}, holder.private, algorithm="EdDSA",
                   headers={"kid": holder.did}),  # no typ
    ]  # fmt: skip
    nonce = token["c_nonce"]
    for proof in bad:
        response = holder.credential(access, proof)
        assert response.status_code == 400 and response.json()["error"] == "invalid_proof", response.content
        assert response.json()["c_nonce"] != nonce
        nonce = response.json()["c_nonce"]
    # A nonce the issuer did not hand out, and the superseded one, are refused as invalid_nonce.
    for stale in ("not-the-nonce", token["c_nonce"]):
        response = holder.credential(access, holder.proof(nonce=stale))
        assert response.status_code == 400 and response.json()["error"] == "invalid_nonce", response.content
    no_proof = client.post(
        "/oid4vci/credential", json.dumps({"credential_configuration_id": "OpenBadgeCredential"}),
        content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {access}",
    )  # fmt: skip
    assert no_proof.json()["error"] == "invalid_proof"
    nonce = no_proof.json()["c_nonce"]
    wrong_type = holder.credential(access, holder.proof(nonce=nonce), credential_configuration_id="Diploma")
    assert wrong_type.json()["error"] == "unknown_credential_configuration"
    assert holder.credential(access, holder.proof(nonce=nonce)).status_code == 200


def test_a_revoked_badge_cannot_be_claimed(learner_award):
    award, launch = learner_award
    client = Client()
    holder = ScriptedWallet(client)
    code = ScriptedWallet.parse_offer(start_claim(client, launch, award))["grants"][PRE_AUTH]["pre-authorized_code"]
    review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    assert holder.token(code).json()["error"] == "invalid_grant"
    page = client.get(reverse("badging:launch_home", args=[launch.public_id])).content.decode()
    assert reverse("badging:learner_award_wallet", args=[launch.public_id, award.public_id]) not in page
    with pytest.raises(wallet.AwardNotYours):
        wallet.wallet_offer_create(
            award_public_id=award.public_id, learner=award.learner, links=wallet.PublicLinks(BASE)
        )


def test_metadata_and_errors_follow_oauth(learner_award):
    client = Client()
    metadata = client.get("/.well-known/openid-credential-issuer").json()
    assert metadata["credential_issuer"] == BASE and metadata["credential_endpoint"] == f"{BASE}/oid4vci/credential"
    configuration = metadata["credential_configurations_supported"]["OpenBadgeCredential"]
    assert configuration["format"] == "ldp_vc" and "did:key" in configuration["cryptographic_binding_methods_supported"]
    server = client.get("/.well-known/oauth-authorization-server").json()
    assert server["token_endpoint"] == f"{BASE}/oid4vci/token" and PRE_AUTH in server["grant_types_supported"]
    assert client.post("/oid4vci/token", {"grant_type": "password"}).json()["error"] == "unsupported_grant_type"
    assert client.post("/oid4vci/token", {"grant_type": PRE_AUTH, "pre-authorized_code": "guess"}).status_code == 400
    anonymous = client.post("/oid4vci/credential", "{}", content_type="application/json")
    assert anonymous.status_code == 401 and "Bearer" in anonymous["WWW-Authenticate"]


def test_a_wallet_on_oid4vci_1_0_takes_its_nonce_from_the_nonce_endpoint_once(learner_award):
    award, launch = learner_award
    client = Client()
    holder = ScriptedWallet(client)
    offer = ScriptedWallet.parse_offer(start_claim(client, launch, award))
    metadata, _ = holder.metadata(offer)
    token = holder.token(offer["grants"][PRE_AUTH]["pre-authorized_code"]).json()
    nonce_endpoint = metadata["nonce_endpoint"].removeprefix(BASE)
    first = client.post(nonce_endpoint).json()["c_nonce"]
    second = client.post(nonce_endpoint).json()["c_nonce"]
    assert first != second
    other = ScriptedWallet(client)
    other_offer = ScriptedWallet.parse_offer(start_claim(client, launch, award))
    other_token = other.token(other_offer["grants"][PRE_AUTH]["pre-authorized_code"]).json()
    assert holder.credential(token["access_token"], holder.proof(nonce=first)).status_code == 200
    # Spent: the same endpoint nonce does not make a second proof fresh, even for another offer.
    again = other.credential(other_token["access_token"], other.proof(nonce=first))
    assert again.json()["error"] == "invalid_nonce"
    assert other.credential(other_token["access_token"], other.proof(nonce=second)).status_code == 200


def test_admins_see_wallet_claims_but_no_secrets(learner_award, admin_client):
    award, launch = learner_award
    client = Client()
    holder = ScriptedWallet(client)
    holder.claim(start_claim(client, launch, award))
    offer = WalletOffer.objects.get()
    listing = admin_client.get(reverse("admin:badging_walletoffer_changelist"))
    assert listing.status_code == 200 and holder.did in listing.content.decode()
    detail = admin_client.get(reverse("admin:badging_walletoffer_change", args=[offer.pk])).content.decode()
    assert offer.code_hash not in detail and offer.token_hash not in detail
