"""Public verification URLs: content negotiation, revocation, the email check, link previews, and the
page in a real browser."""

import io
import json
import os
import re

import pytest
from django.test import Client

from badging.models import IssuerKey
from badging.openbadges.links import PublicLinks
from badging.services.issuance import documents, issuer_keys, review
from tests import factories as f
from tests.badging.test_issuance_support import make_png

# Playwright's sync API keeps an event loop in the test thread for the session; ORM calls stay synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8"
VALIDATOR_ACCEPT = "application/ld+json, application/json, image/png, image/svg+xml"


def issued_award(base="http://testserver", **award_kwargs):
    badge_class = f.BadgeClassFactory(
        image=make_png(),
        name="Data Analysis Fundamentals",
        issuer=f.IssuerFactory(name="Skills Forward University"),
    )
    award_kwargs.setdefault("recipient_email", "ada@uni.example.edu")
    award = f.AwardFactory(
        course_badge=f.CourseBadgeFactory(badge_class=badge_class),
        learner=f.PersonFactory(name="Ada Lovelace"),
        evidence_narrative="Mastered every credentialing assessment in Data Skills 101:\n\n- Cleaning a data set",
        **award_kwargs,
    )
    documents.award_documents_render(award=award, links=PublicLinks(base))
    return award


@pytest.fixture
def award(db):
    return issued_award()


def get(path, accept=None, ua=None):
    headers = {}
    if accept is not None:
        headers["HTTP_ACCEPT"] = accept
    if ua:
        headers["HTTP_USER_AGENT"] = ua
    return Client().get(path, **headers)


def test_assertion_negotiates_json_ld_html_and_opengraph(award):
    path = f"/public/assertions/{award.public_id}"
    machine = get(path, VALIDATOR_ACCEPT)
    assert machine.status_code == 200 and machine["Content-Type"].startswith("application/ld+json")
    body = machine.json()
    assert body["id"] == f"http://testserver{path}" and body["type"] == "Assertion"
    assert "Accept" in machine["Vary"]
    assert get(path, "application/json")["Content-Type"].startswith("application/json")
    assert get(path, "*/*")["Content-Type"].startswith("application/ld+json")
    assert get(path, None).json()["type"] == "Assertion"
    assert get(path + "?format=json", BROWSER_ACCEPT).json()["type"] == "Assertion"
    # RFC 9110 §12.5.1: q-values rank the ranges, a more specific range wins over a wildcard.
    assert get(path, "text/html;q=0.5, application/json")["Content-Type"].startswith("application/json")
    assert get(path, "application/json;q=0.2, text/*;q=0.9")["Content-Type"].startswith("text/html")
    assert get(path, "image/png")["Content-Type"].startswith("application/ld+json")  # nothing offered fits

    page = get(path, BROWSER_ACCEPT)
    assert page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert "Data Analysis Fundamentals" in html and "Valid badge" in html and "Skills Forward University" in html
    assert "ada@uni.example.edu" not in html  # the recipient's address is never shown

    preview = get(path, BROWSER_ACCEPT, ua="LinkedInBot/1.0 (compatible; Mozilla/5.0; +http://www.linkedin.com)")
    text = preview.content.decode()
    assert '<meta property="og:title" content="Data Analysis Fundamentals · Skills Forward University">' in text
    # The preview image is the 1200×630 PNG card (crawlers crop to ~1.91:1 and refuse SVG).
    assert f'content="http://testserver/public/badges/{award.badge_class.public_id}/card.png"' in text
    assert 'property="og:description"' in text
    assert '<meta name="twitter:card" content="summary_large_image">' in text
    assert get(path, None, ua="Slackbot-LinkExpanding 1.0").content.decode().count('property="og:image"') == 1


def test_public_base_url_wins_over_the_request_host(award, settings):
    settings.PUBLIC_BASE_URL = "https://badges.uni.example.edu"
    body = get(f"/public/assertions/{award.public_id}", VALIDATOR_ACCEPT).json()
    assert body["id"].startswith("https://badges.uni.example.edu/public/assertions/")
    assert body["badge"].startswith("https://badges.uni.example.edu/public/badges/")


def test_badge_class_and_issuer_documents(award):
    badge = get(f"/public/badges/{award.badge_class.public_id}", VALIDATOR_ACCEPT).json()
    assert badge["type"] == "BadgeClass" and badge["criteria"]["narrative"]
    issuer = get(badge["issuer"].removeprefix("http://testserver"), VALIDATOR_ACCEPT).json()
    assert issuer["type"] == "Issuer" and issuer["email"] == award.badge_class.issuer.email
    assert (
        "Skills Forward University"
        in get(badge["issuer"].removeprefix("http://testserver"), BROWSER_ACCEPT).content.decode()
    )
    image = get(badge["image"].removeprefix("http://testserver"))
    assert image["Content-Type"] == "image/png" and image.content == bytes(award.badge_class.image)


def test_revoked_assertion_is_gone_everywhere(award):
    review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    path = f"/public/assertions/{award.public_id}"
    response = get(path, VALIDATOR_ACCEPT)
    assert response.status_code == 410
    assert response.json() == {
        "@context": "https://w3id.org/openbadges/v2",
        "type": "Assertion",
        "id": f"http://testserver{path}",
        "revoked": True,
        "revocationReason": "Issued in error",
    }
    page = get(path, BROWSER_ACCEPT)
    assert page.status_code == 410
    assert "This badge has been revoked" in page.content.decode() and "Issued in error" in page.content.decode()
    assert "(revoked)" in get(path, None, ua="Twitterbot/1.0").content.decode()
    # The image still answers an image, marked revoked and no longer carrying the badge.
    for image_path in ("/image", "/image.ob3"):
        image = get(path + image_path)
        assert image.status_code == 200 and image["Content-Type"] == "image/png"
        from PIL import Image

        marked = Image.open(io.BytesIO(image.content))
        assert marked.format == "PNG" and marked.size == Image.open(io.BytesIO(bytes(award.badge_class.image))).size
        assert b"openbadge" not in image.content
        assert (180, 35, 24, 255) in {marked.getpixel((x, marked.height // 2)) for x in range(marked.width)}


def test_revoked_svg_badge_image_is_a_marked_svg_that_embeds_nothing_active(db):
    from tests.badging.test_issuance_support import SVG

    award = issued_award()
    award.badge_class.image, award.badge_class.image_content_type = SVG, "image/svg+xml"
    award.badge_class.save()
    review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    image = get(f"/public/assertions/{award.public_id}/image")
    assert image.status_code == 200 and image["Content-Type"] == "image/svg+xml"
    body = image.content.decode()
    assert "REVOKED" in body and "openbadges" not in body and "<script" not in body
    assert image["Content-Security-Policy"].startswith("default-src 'none'")


def test_credential_url_answers_the_vc_jwt_when_asked_for_it(award):
    path = f"/public/assertions/{award.public_id}.ob3.json"
    jwt = get(path, "application/vc+jwt")
    assert jwt.status_code == 200 and jwt["Content-Type"] == "application/vc+jwt"
    assert jwt.content.decode() == award.ob3_jwt and "Accept" in jwt["Vary"]
    assert get(path, "application/ld+json, application/vc+jwt;q=0.5").json() == award.ob3_credential
    assert get(path, "application/json").json() == award.ob3_credential
    assert get(path, None).json() == award.ob3_credential
    assert get(path, "*/*").json() == award.ob3_credential  # a wildcard is not a request for the JWT
    assert get(path, "application/jwt, */*;q=0.1")["Content-Type"] == "application/vc+jwt"
    assert get(f"/public/assertions/{award.public_id}.jwt")["Content-Type"] == "application/vc+jwt"


def test_email_check_answers_yes_or_no_without_revealing_the_address(award):
    path = f"/public/assertions/{award.public_id}/check"
    yes = Client().post(path, {"email": "  Ada@Uni.Example.EDU "})
    assert yes.status_code == 200
    assert "this badge was issued to Ada@Uni.Example.EDU" in yes.content.decode()
    no = Client().post(path, {"email": "eve@uni.example.edu"})
    html = no.content.decode()
    assert "this badge was not issued to eve@uni.example.edu" in html
    assert "ada@uni.example.edu" not in html.lower()


def test_learner_name_only_when_opted_in(award):
    path = f"/public/assertions/{award.public_id}"
    assert "Ada Lovelace" not in get(path, BROWSER_ACCEPT).content.decode()
    award.learner_name_public = True
    award.save()
    assert "Earned by</dt><dd>Ada Lovelace" in get(path, BROWSER_ACCEPT).content.decode()


def test_downloads_images_credential_and_jwt(award):
    png = get(f"/public/assertions/{award.public_id}/image?download=1")
    assert png["Content-Type"] == "image/png" and png["Content-Disposition"].startswith("attachment")
    assert b"iTXtopenbadges" in png.content
    ob3 = get(f"/public/assertions/{award.public_id}.ob3.json")
    assert ob3.json()["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    jwt = get(f"/public/assertions/{award.public_id}.jwt")
    assert jwt.content.decode() == award.ob3_jwt
    assert b"openbadgecredential" in get(f"/public/assertions/{award.public_id}/image.ob3").content
    evidence = get(f"/public/assertions/{award.public_id}/evidence").content.decode()
    assert "Cleaning a data set" in evidence


def test_documents_are_signed_on_first_request_when_no_base_url_was_configured(db):
    award = f.AwardFactory(course_badge=f.CourseBadgeFactory(badge_class=f.BadgeClassFactory(image=make_png())))
    assert award.ob3_credential is None
    credential = get(f"/public/assertions/{award.public_id}.ob3.json").json()
    assert credential["id"] == f"http://testserver/public/assertions/{award.public_id}.ob3.json"
    award.refresh_from_db()
    assert award.ob3_credential == credential  # stored: signed once


def test_old_keys_stay_published_after_rotation(award):
    old = IssuerKey.objects.filter(issuer=award.badge_class.issuer)
    old_ids = list(old.values_list("public_id", flat=True))
    issuer_keys.issuer_key_rotate(issuer_id=award.badge_class.issuer.pk)
    for kid in old_ids:
        assert get(f"/public/issuers/{award.badge_class.issuer.public_id}/keys/{kid}").status_code == 200
    assert get(f"/public/issuers/{award.badge_class.issuer.public_id}/keys/nope").status_code == 404


def test_did_document_lists_current_and_superseded_keys_under_assertion_method(award):
    issuer = award.badge_class.issuer
    path = f"/public/issuers/{issuer.public_id}/did.json"
    before = get(path).json()
    issuer_keys.issuer_key_rotate(issuer_id=issuer.pk)
    issuer_keys.issuer_keys_current(issuer=issuer)
    response = get(path)
    assert response.status_code == 200 and response["Content-Type"].startswith("application/did+ld+json")
    document = response.json()
    did = f"did:web:testserver:public:issuers:{issuer.public_id}"
    assert document["id"] == did == award.ob3_credential["issuer"]["id"]
    assert document["@context"] == ["https://www.w3.org/ns/did/v1", "https://w3id.org/security/multikey/v1"]
    assert document["alsoKnownAs"] == [f"http://testserver/public/issuers/{issuer.public_id}"]
    ed25519 = issuer.keys.filter(algorithm="Ed25519")
    assert ed25519.count() == 2
    assert document["assertionMethod"] == [m["id"] for m in document["verificationMethod"]]
    assert set(before["assertionMethod"]) < set(document["assertionMethod"])
    assert award.ob3_credential["proof"][0]["verificationMethod"] in document["assertionMethod"]
    for method in document["verificationMethod"]:
        # The key once: Multikey publicKeyMultibase only (the Multikey context defines no JWK term).
        assert set(method) == {"id", "type", "controller", "publicKeyMultibase"}
        assert method["type"] == "Multikey" and method["controller"] == did
    assert get("/public/issuers/nope/did.json").status_code == 404


def test_did_web_encodes_the_port_and_path_of_the_public_base_url():
    from badging.openbadges.links import PublicLinks

    assert PublicLinks("http://127.0.0.1:8000").issuer_did("abc") == "did:web:127.0.0.1%3A8000:public:issuers:abc"
    assert PublicLinks("https://Uni.example.edu").issuer_did("a-b_c") == "did:web:uni.example.edu:public:issuers:a-b_c"


def test_ed25519_key_document_gives_the_key_once(award):
    kid = award.badge_class.issuer.keys.get(algorithm="Ed25519").public_id
    document = get(f"/public/issuers/{award.badge_class.issuer.public_id}/keys/{kid}").json()
    assert document["type"] == "Multikey" and "publicKeyJwk" not in document
    assert document["controller"] == award.ob3_credential["issuer"]["id"]


def test_unknown_ids_are_404(db):
    assert get("/public/assertions/nope", VALIDATOR_ACCEPT).status_code == 404
    assert get("/public/badges/nope", VALIDATOR_ACCEPT).status_code == 404
    assert get("/public/issuers/nope", VALIDATOR_ACCEPT).status_code == 404


@pytest.mark.browser
def test_public_page_in_a_browser(transactional_db, live_server, page, screenshot):
    award = issued_award(base=live_server.url, learner_name_public=True)
    page.goto(f"{live_server.url}/public/assertions/{award.public_id}")
    assert page.get_by_role("heading", level=1).inner_text() == "Data Analysis Fundamentals"
    assert page.get_by_text("Valid badge").is_visible()
    assert page.locator("img.badge__image").evaluate("img => img.naturalWidth") > 0
    page.get_by_label("Email address").fill("ADA@uni.example.edu")
    page.get_by_role("button", name="Check").click()
    page.wait_for_load_state()
    assert page.get_by_text("this badge was issued to ADA@uni.example.edu").is_visible()
    screenshot(page, "public-assertion")
    page.set_viewport_size({"width": 390, "height": 844})
    screenshot(page, "public-assertion-mobile")

    review.award_revoke(award_id=award.pk, reason="Issued to the wrong learner", actor="admin:alice")
    page.goto(f"{live_server.url}/public/assertions/{award.public_id}")
    assert page.get_by_text("This badge has been revoked").is_visible()
    assert not re.search("Ada Lovelace", page.content())
    screenshot(page, "public-assertion-revoked")
    data = json.loads(page.request.get(f"{live_server.url}/public/assertions/{award.public_id}?format=json").text())
    assert data["revoked"] is True


@pytest.mark.browser
def test_award_email_renders_cleanly(transactional_db, live_server, page, screenshot, settings):
    """The HTML email as a mail client would show it (images from the live server)."""
    from badging.openbadges.links import PublicLinks as Links
    from badging.services.award_email import award_email_message

    settings.PUBLIC_BASE_URL = live_server.url
    award = issued_award(base=live_server.url)
    message = award_email_message(award=award, links=Links(live_server.url))
    html = message.alternatives[0][0]
    page.set_viewport_size({"width": 700, "height": 900})
    page.set_content(html)
    assert page.get_by_role("heading", level=1).inner_text() == "You earned the “Data Analysis Fundamentals” badge"
    assert (
        page.get_by_role("link", name="Add to LinkedIn profile")
        .get_attribute("href")
        .startswith("https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME")
    )
    assert page.get_by_text("Issued to: ada@uni.example.edu").is_visible()
    screenshot(page, "award-email")


@pytest.mark.browser
def test_badge_class_issuer_and_evidence_pages_in_a_browser(transactional_db, live_server, page, screenshot):
    award = issued_award(base=live_server.url)
    badge = award.badge_class
    page.goto(f"{live_server.url}/public/assertions/{award.public_id}")
    page.get_by_role("link", name="Evidence: the assessments mastered").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Evidence for “Data Analysis Fundamentals”"
    assert page.get_by_role("listitem").filter(has_text="Cleaning a data set").is_visible()  # Markdown list
    assert "ada@" not in page.content()
    screenshot(page, "public-evidence")

    page.goto(f"{live_server.url}/public/badges/{badge.public_id}")
    assert page.get_by_role("heading", level=1).inner_text() == "Data Analysis Fundamentals"
    assert page.get_by_role("heading", name="Data Analysis Fundamentals").count() == 1
    assert page.get_by_role("heading", name="How to earn it").is_visible()
    assert page.locator("img.badge__image").evaluate("img => img.naturalWidth") > 0
    screenshot(page, "public-badge-class")

    page.get_by_role("link", name="Skills Forward University").first.click()
    assert page.get_by_role("heading", level=1).inner_text() == "Skills Forward University"
    assert page.get_by_role("link", name=badge.issuer.email).is_visible()
    screenshot(page, "public-issuer")


def test_narratives_show_paragraphs_and_lists_and_never_markup(db):
    from badging.templatetags.badge_text import narrative

    text = (
        "Mastered every assessment in <b>Data</b>:\n\n- Cleaning & tidying\n- <script>x</script>\n\nand a final grade."
    )
    assert narrative(text) == (
        "<p>Mastered every assessment in &lt;b&gt;Data&lt;/b&gt;:</p>"
        "<ul><li>Cleaning &amp; tidying</li><li>&lt;script&gt;x&lt;/script&gt;</li></ul>"
        "<p>and a final grade.</p>"
    )
    assert narrative("one\ntwo") == "<p>one<br>two</p>" and narrative("") == ""


def test_head_requests_answer_like_get(award):
    """Link checkers and some crawlers probe with HEAD before (or instead of) GET."""
    client = Client()
    for path in (
        f"/public/assertions/{award.public_id}",
        f"/public/assertions/{award.public_id}/image",
        f"/public/assertions/{award.public_id}.ob3.json",
        f"/public/badges/{award.badge_class.public_id}",
        f"/public/issuers/{award.badge_class.issuer.public_id}",
    ):
        head, get_ = client.head(path, HTTP_ACCEPT=VALIDATOR_ACCEPT), client.get(path, HTTP_ACCEPT=VALIDATOR_ACCEPT)
        assert head.status_code == get_.status_code == 200, path
        assert head["Content-Type"] == get_["Content-Type"] and head.content == b""
    assert client.post(f"/public/assertions/{award.public_id}").status_code == 405
    review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    assert client.head(f"/public/assertions/{award.public_id}", HTTP_ACCEPT=VALIDATOR_ACCEPT).status_code == 410


def test_the_html_page_carries_link_preview_tags_too(award):
    """A crawler not known by name gets the full page: it still finds the OpenGraph tags."""
    html = get(f"/public/assertions/{award.public_id}", BROWSER_ACCEPT, ua="SomeNewPreviewBot/2.0").content.decode()
    image = f"http://testserver/public/badges/{award.badge_class.public_id}/card.png"
    assert '<meta property="og:title" content="Data Analysis Fundamentals · Skills Forward University">' in html
    assert f'<meta property="og:image" content="{image}">' in html
    assert f'<meta property="og:url" content="http://testserver/public/assertions/{award.public_id}">' in html
    assert get(image.removeprefix("http://testserver")).status_code == 200


def test_an_assertion_image_reads_its_award_once(award):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for suffix in ("/image", "/image.ob3"):
        with CaptureQueriesContext(connection) as queries:
            assert get(f"/public/assertions/{award.public_id}{suffix}").status_code == 200
        award_reads = [q for q in queries.captured_queries if q["sql"].lstrip().upper().startswith("SELECT")]
        award_reads = [q for q in award_reads if 'FROM "badging_award"' in q["sql"]]
        assert len(award_reads) == 1, suffix


def test_the_status_list_is_signed_once_until_a_badge_on_it_is_revoked(award, monkeypatch):
    from badging.openbadges import ob3

    signed = []
    sign = ob3.data_integrity_sign
    monkeypatch.setattr(ob3, "data_integrity_sign", lambda *a, **k: signed.append(1) or sign(*a, **k))
    path = award.ob3_credential["credentialStatus"]["statusListCredential"].removeprefix("http://testserver")
    first = get(path).json()
    assert get(path).json() == first and len(signed) == 1
    review.award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    assert get(path).json() != first and len(signed) == 2


def test_credentials_signed_for_the_old_https_issuer_are_signed_again_on_first_request(award):
    """Before the did:web issuer, credentials named the OB 2.0 issuer URL (refused by strict
    verifiers): migration 0003 clears them and the first request signs them again, same status slot."""
    import importlib

    from django.apps import apps

    migration = importlib.import_module("badging.migrations.0005_resign_credentials_with_did_web_issuer")
    old = dict(award.ob3_credential)
    old["issuer"] = {**old["issuer"], "id": f"http://testserver/public/issuers/{award.badge_class.issuer.public_id}"}
    type(award).objects.filter(pk=award.pk).update(ob3_credential=old)
    fresh = issued_award()
    migration.clear_http_issuer_credentials(apps, None)
    award.refresh_from_db()
    fresh.refresh_from_db()
    assert award.ob3_credential is None and not award.images.exists()
    assert fresh.ob3_credential is not None  # already did:web: left alone
    credential = get(f"/public/assertions/{award.public_id}.ob3.json").json()
    assert credential["issuer"]["id"].startswith("did:web:testserver:")
    assert credential["credentialStatus"] == old["credentialStatus"]
    assert get(f"/public/assertions/{award.public_id}/image").status_code == 200


def test_embedded_issuer_profile_carries_the_issuer_image(db):
    award = issued_award()
    issuer = award.badge_class.issuer
    issuer.image, issuer.image_content_type = make_png(), "image/png"
    issuer.save()
    documents.award_documents_render(award=award, links=PublicLinks("http://testserver"))
    profile = award.ob3_credential["issuer"]
    assert profile["image"] == {"id": f"http://testserver/public/issuers/{issuer.public_id}/image", "type": "Image"}
    assert get(profile["image"]["id"].removeprefix("http://testserver")).status_code == 200
    assert award.ob3_credential["credentialSubject"]["achievement"]["creator"]["image"] == profile["image"]
