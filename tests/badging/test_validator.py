"""The official OB 2.0 validator against what we serve, plus what it misses (revocation, issuer
email, email case), checked by us."""

import pytest

from badging.openbadges import validator
from badging.services.issuance import documents, issue, review
from tests.badging.test_public import issued_award
from tests.services import missing

pytestmark = [pytest.mark.validator]


@pytest.fixture
def served(transactional_db, live_server, settings):
    settings.PUBLIC_BASE_URL = live_server.url
    if not validator.validator_path().exists():
        missing(f"validator not found at {validator.validator_path()} (set OB_VALIDATOR)")
    return live_server


def test_hosted_assertion_and_baked_image_validate(served, tmp_path):
    award = issued_award(base=served.url, recipient_email="ada@uni.example.edu")
    url = f"{served.url}/public/assertions/{award.public_id}"
    result = validator.validate(url, recipient="ada@uni.example.edu")
    assert result.valid, result.errors or result.output[-2000:]
    assert result.report["report"]["valid"] is True and result.report["report"]["errorCount"] == 0
    assert result.report["report"]["recipientProfile"]["email"] == "ada@uni.example.edu"

    baked = tmp_path / "baked.png"
    baked.write_bytes(bytes(award.images.get(content_type="image/png").data))
    result = validator.validate(image=baked, recipient="ada@uni.example.edu")
    assert result.valid, result.errors or result.output[-2000:]

    wrong = validator.validate(url, recipient="eve@uni.example.edu")
    assert not wrong.valid and any("VERIFY_RECIPIENT_IDENTIFIER" in e for e in wrong.errors)


def test_email_issued_with_capitals_and_spaces_validates_lowercased(served, enqueued):
    """Canvas says "Ada@Uni.edu ": the award is issued to ada@uni.edu, which backpacks hash as typed."""
    import re

    import responses

    from tests.badging.test_issuance_support import course_badge_with_assessments, eligible_progress

    course_badge = course_badge_with_assessments(api_base_url="https://canvas.example.edu")
    progress = eligible_progress(course_badge)
    with responses.RequestsMock() as canvas:
        # The course's users list with include[]=email (issuance's read of a stale email).
        canvas.add(
            responses.GET,
            re.compile(r"https://canvas\.example\.edu/api/v1/courses/[^/]+/users"),
            json=[{"id": int(progress.learner.canvas_user_id), "name": "Ada", "email": "Ada@Uni.edu "}],
        )
        award = issue.award_issue(progress_id=progress.pk)
    assert award.recipient_email == "ada@uni.edu"
    url = f"{served.url}/public/assertions/{award.public_id}"
    result = validator.validate(url, recipient="ada@uni.edu")
    assert result.valid, result.errors


def test_revocation_is_served_even_though_the_validator_misses_it(served):
    import requests

    award = issued_award(base=served.url)
    url = f"{served.url}/public/assertions/{award.public_id}"
    review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    response = requests.get(url, headers={"Accept": "application/ld+json"}, timeout=10)
    assert response.status_code == 410
    assert response.json()["revoked"] is True and response.json()["revocationReason"] == "Issued in error"
    issuer = requests.get(f"{served.url}/public/issuers/{award.badge_class.issuer.public_id}", timeout=10).json()
    assert issuer["email"] == award.badge_class.issuer.email  # the validator does not require it; the spec does


def test_svg_badge_assertion_and_baked_svg_validate(served, tmp_path):
    """An SVG badge class: the hosted assertion, its SVG badge class image and the baked SVG all pass."""
    from badging.openbadges.links import PublicLinks
    from tests import factories as f
    from tests.badging.test_issuance_support import SVG

    award = f.AwardFactory(
        recipient_email="grace@uni.example.edu",
        course_badge=f.CourseBadgeFactory(
            badge_class=f.BadgeClassFactory(image=SVG, image_content_type="image/svg+xml")
        ),
    )
    documents.award_documents_render(award=award, links=PublicLinks(served.url))
    url = f"{served.url}/public/assertions/{award.public_id}"
    result = validator.validate(url, recipient="grace@uni.example.edu")
    assert result.valid, result.errors or result.output[-2000:]

    baked = tmp_path / "baked.svg"
    baked.write_bytes(bytes(award.images.get(content_type="image/svg+xml").data))
    result = validator.validate(image=baked, recipient="grace@uni.example.edu")
    assert result.valid, result.errors or result.output[-2000:]
    wrong = validator.validate(image=baked, recipient="Grace@uni.example.edu")
    # Backpacks hash the address as typed: why the product lowercases before hashing.
    assert not wrong.valid and any("VERIFY_RECIPIENT_IDENTIFIER" in e for e in wrong.errors)
