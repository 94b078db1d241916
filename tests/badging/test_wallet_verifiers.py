"""Third-party verifiers on the credentials we issue, as a learner's wallet runs them: the Digital
Bazaar Data Integrity stack (@digitalbazaar/vc + eddsa-rdfc-2022 + vc-bitstring-status-list), the
Digital Credentials Consortium's verifier-core (Learner Credential Wallet, VerifierPlus) and jose for
the VC-JWT. Node packages pinned by tests/verifiers/package-lock.json (`make venv` installs them);
offline: contexts and 1EdTech schemas from local copies, DIDs and keys from the live test server."""

import base64
import copy
import io
import json
import os
import subprocess
from pathlib import Path

import jsonschema
import pytest

from badging.models import Award
from badging.openbadges import keys, ob3
from badging.openbadges.links import PublicLinks
from badging.services.issuance import documents, issuer_keys, review
from tests import factories as f
from tests.badging.test_public import issued_award
from tests.conftest import ROOT

VERIFIERS = ROOT / "tests" / "verifiers"
# ../shared beside the clone (CI), else the workplace's copy; SFB_REFERENCE_DATA overrides both.
_SHARED_DATA = [ROOT.parent / "shared" / "reference" / "data", Path("/work/shared/reference/data")]
SCHEMAS = (
    Path(os.environ["SFB_REFERENCE_DATA"])
    if "SFB_REFERENCE_DATA" in os.environ
    else next((p for p in _SHARED_DATA if p.exists()), _SHARED_DATA[-1])
) / "ob30-schema"


def verify(document, base: str) -> dict:
    """The verdict of every third-party verifier on a credential (dict) or VC-JWT (str)."""
    text = document if isinstance(document, str) else json.dumps(document)
    proc = subprocess.run(
        ["node", str(VERIFIERS / "verify.mjs"), "--base", base, "--schemas", str(SCHEMAS)],
        input=text, capture_output=True, text=True, timeout=120, cwd=VERIFIERS,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])  # libraries log to stdout before it


@pytest.fixture
def served(transactional_db, live_server, settings):
    if not (VERIFIERS / "node_modules" / "@digitalbazaar" / "vc").exists():
        pytest.fail("third-party verifiers not installed: run `make venv` (npm ci in tests/verifiers)")
    settings.PUBLIC_BASE_URL = live_server.url
    return live_server


def test_issued_credential_verifies_in_both_stacks_and_revocation_shows(served):
    award = issued_award(base=served.url)
    verdict = verify(award.ob3_credential, served.url)
    assert verdict["digitalbazaar"]["verified"], verdict["digitalbazaar"]
    assert verdict["digitalbazaar"]["revoked"] is False and verdict["digitalbazaar"]["statusChecked"]
    assert verdict["dcc"]["verified"], verdict["dcc"]
    assert verdict["dcc"]["revoked"] is False
    # DCC validates against the official schema it picks from the type and context: valid.
    (schema_check,) = verdict["dcc"]["schema"]
    assert [r["result"]["valid"] for r in schema_check["results"]] == [True], schema_check
    assert all(url.startswith((served.url, "https://")) for url in verdict["requested"]), verdict["requested"]

    review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    verdict = verify(award.ob3_credential, served.url)
    assert verdict["digitalbazaar"]["revoked"] is True, verdict["digitalbazaar"]
    assert verdict["dcc"]["revoked"] is True, verdict["dcc"]
    assert not verdict["dcc"]["verified"]


def test_tampered_credential_fails_every_verifier(served):
    award = issued_award(base=served.url)
    tampered = copy.deepcopy(award.ob3_credential)
    tampered["credentialSubject"]["achievement"]["name"] = "Something else"
    verdict = verify(tampered, served.url)
    assert not verdict["digitalbazaar"]["verified"]
    assert not verdict["dcc"]["verified"]
    assert verdict["dcc"]["errors"], verdict["dcc"]


def test_credential_is_valid_against_the_official_1edtech_schema(served):
    award = issued_award(base=served.url)
    schema = json.loads((SCHEMAS / "ob_v3p0_achievementcredential_schema.json").read_text())
    validator = jsonschema.Draft201909Validator(schema, format_checker=jsonschema.FormatChecker())
    validator.validate(award.ob3_credential)
    broken = copy.deepcopy(award.ob3_credential)
    del broken["credentialSubject"]["achievement"]["criteria"]
    assert list(validator.iter_errors(broken))


def test_vc_jwt_verifies_with_jose_and_has_every_claim_ob3_requires(served):
    award = issued_award(base=served.url)
    verdict = verify(award.ob3_jwt, served.url)
    jwt = verdict["jwt"]
    assert jwt["verified"], jwt
    assert jwt["header"]["alg"] == "RS256" and set(jwt["header"]) == {"alg", "kid", "typ"}
    assert jwt["claims"] == {"iss": True, "jti": True, "sub": True, "nbf": True, "exp": True}
    assert jwt["payload"]["sub"] == award.ob3_credential["credentialSubject"]["id"]
    # The embedded proof travels in the payload and verifies on its own (OB 3.0 §8).
    assert verdict["digitalbazaar"]["verified"], verdict["digitalbazaar"]

    header, payload, signature = award.ob3_jwt.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["sub"] = "did:example:someone-else"
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    tampered = verify(f"{header}.{forged}.{signature}", served.url)
    assert not tampered["jwt"]["verified"] and "signature" in tampered["jwt"]["error"].lower()


def test_credentials_signed_before_a_key_rotation_still_verify_in_both_stacks(served):
    from django.core.management import call_command

    award = issued_award(base=served.url)
    call_command("badging_rotate_issuer_keys", award.badge_class.issuer.key, stdout=io.StringIO())
    fresh = f.AwardFactory(course_badge=award.course_badge, recipient_email="grace@uni.example.edu")
    documents.award_documents_render(award=fresh, links=PublicLinks(served.url))
    old_method = award.ob3_credential["proof"][0]["verificationMethod"]
    assert fresh.ob3_credential["proof"][0]["verificationMethod"] != old_method
    for credential in (award.ob3_credential, fresh.ob3_credential):
        verdict = verify(credential, served.url)
        assert verdict["digitalbazaar"]["verified"], verdict["digitalbazaar"]
        assert verdict["dcc"]["verified"], verdict["dcc"]
    assert verify(award.ob3_jwt, served.url)["jwt"]["verified"]

    # The status list is now signed with the new key: revoking the old credential still shows.
    review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    verdict = verify(award.ob3_credential, served.url)
    assert verdict["digitalbazaar"]["revoked"] is True and verdict["dcc"]["revoked"] is True


def test_a_key_another_issuer_publishes_is_not_accepted_for_this_issuer(served):
    """Signed with issuer B's key but naming issuer A: B's DID document does not make A's claims."""
    award = issued_award(base=served.url)
    other = issued_award(base=served.url, recipient_email="eve@uni.example.edu")
    forged = copy.deepcopy(other.ob3_credential)
    forged["issuer"] = award.ob3_credential["issuer"]
    unsigned = {k: v for k, v in forged.items() if k != "proof"}
    signing = issuer_keys.issuer_keys_current(issuer=other.badge_class.issuer)
    resigned = ob3.data_integrity_sign(
        unsigned,
        private_key=keys.private_key_load(signing.ed25519.pk, signing.ed25519.private_key_pem),
        verification_method=other.ob3_credential["proof"][0]["verificationMethod"],
        created=other.issued_on,
    )
    verdict = verify(resigned, served.url)
    assert not verdict["digitalbazaar"]["verified"]
    assert "issuer must match" in verdict["digitalbazaar"]["error"]


@pytest.fixture
def outside(transactional_db, live_server, monkeypatch, settings):
    """Canvas's profile endpoint and a mail server for the worker; its PUBLIC_BASE_URL is the live server."""
    from tests.badging.test_issuance_support import CanvasProfiles, SMTPSink

    with CanvasProfiles() as profiles, SMTPSink() as smtp:
        monkeypatch.setenv("EMAIL_URL", smtp.url)
        monkeypatch.setenv("PUBLIC_BASE_URL", live_server.url)  # read by the worker process
        settings.PUBLIC_BASE_URL = live_server.url
        yield profiles


@pytest.fixture
def worker(served, outside, celery_worker_process):
    return outside


@pytest.mark.integration
def test_credential_issued_by_a_real_worker_verifies_then_shows_revoked(worker, live_server):
    """The whole path a learner's badge takes: a Celery worker process reads the email from Canvas,
    signs and stores the credential; the live server serves the DID document and the status list."""
    from skillsforward.celery import app
    from tests.badging.test_issuance_support import course_badge_with_assessments, eligible_progress
    from tests.conftest import wait_for

    course_badge = course_badge_with_assessments(api_base_url=worker.url)
    progress = eligible_progress(course_badge, email="ada@uni.example.edu")
    worker.emails = {progress.learner.canvas_user_id: "Ada@Uni.example.edu"}
    app.send_task("badging.award_issue", args=[progress.pk])
    wait_for(lambda: Award.objects.filter(ob3_credential__isnull=False).exists(), timeout=90, message="award")
    award = Award.objects.get()
    assert award.ob3_credential["issuer"]["id"].startswith("did:web:localhost%3A")
    verdict = verify(award.ob3_credential, live_server.url)
    assert verdict["digitalbazaar"]["verified"], verdict["digitalbazaar"]
    assert verdict["dcc"]["verified"], verdict["dcc"]
    assert verify(award.ob3_jwt, live_server.url)["jwt"]["verified"]
    tampered = copy.deepcopy(award.ob3_credential)
    tampered["validFrom"] = "2020-01-01T00:00:00Z"
    verdict = verify(tampered, live_server.url)
    assert not verdict["digitalbazaar"]["verified"] and not verdict["dcc"]["verified"]

    review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    verdict = verify(award.ob3_credential, live_server.url)
    assert verdict["digitalbazaar"]["revoked"] is True and verdict["dcc"]["revoked"] is True


def test_credential_claimed_into_a_wallet_verifies_in_both_stacks(served):
    """What the OID4VCI credential endpoint answers (subject = the wallet's DID, id urn:uuid)."""
    from tests.badging.test_wallet_claim import ScriptedWallet

    award = issued_award(base=served.url)
    holder = ScriptedWallet(client=None)
    credential = documents.award_credential_for_holder(award=award, holder_id=holder.did, links=PublicLinks(served.url))
    verdict = verify(credential, served.url)
    assert verdict["digitalbazaar"]["verified"], verdict["digitalbazaar"]
    assert verdict["dcc"]["verified"], verdict["dcc"]
    review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    verdict = verify(credential, served.url)
    assert verdict["digitalbazaar"]["revoked"] is True and verdict["dcc"]["revoked"] is True
