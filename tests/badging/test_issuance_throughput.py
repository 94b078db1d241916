"""What makes issuance fast must not change what is issued: bounded queries per batch, one mail
server connection per batch, emails sent by the issuing task as its batch lands, and the
precomputed parts (email frames, MIME frames, canonical N-Quads templates) giving exactly what the
full path gives, verifiable the same way. No timing here: `python -m bench issue` measures."""

import copy
import smtplib

import pytest
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.smtp import EmailBackend as SMTPBackend
from django.template.loader import render_to_string
from django.utils import timezone

from badging.models import Award, Delivery, LearnerProgress
from badging.openbadges import jsonld, keys, ob3
from badging.openbadges.links import PublicLinks
from badging.selectors.awards import award_links
from badging.services import award_email, notifications
from badging.services.issuance import issue, issuer_keys
from lti.models import Person
from tests.badging.test_issuance_support import SMTPSink, course_badge_with_assessments, eligible_progress

pytestmark = pytest.mark.django_db
CANVAS = "https://canvas.example.edu"
BASE = "https://badges.example.edu"


@pytest.fixture(autouse=True)
def public_base(settings):
    settings.PUBLIC_BASE_URL = BASE


@pytest.fixture
def smtp(settings):
    with SMTPSink() as sink:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", sink.port
        settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        yield sink


NAMES = ["Ada Lovelace", 'O\'Brien <b>&amp; "Co"</b>', "", "Zoë Ångström", "Learner 5", "Learner 6"]


def learners(rsps, course_badge, count: int, *, prefix: str = "l"):
    """Eligible learners whose primary emails the roster pass read just now (fresh: issuance asks
    Canvas nothing; badging.services.emails)."""
    rows = []
    for i in range(count):
        progress = eligible_progress(course_badge, email=f"{prefix}{i}@uni.example.edu", name=NAMES[i % len(NAMES)])
        Person.objects.filter(pk=progress.learner_id).update(email_read_at=timezone.now())
        progress.learner.refresh_from_db()
        rows.append(progress)
    return rows


def count_connections(monkeypatch) -> list[int]:
    opened = []
    original = smtplib.SMTP.connect

    def connect(self, *args, **kwargs):
        opened.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(smtplib.SMTP, "connect", connect)
    return opened


def test_the_issuing_run_sends_its_batch_emails_over_one_connection_with_bounded_queries(
    rsps, smtp, enqueued, monkeypatch, django_assert_max_num_queries, django_capture_on_commit_callbacks
):
    """A batch's emails go out from the issuing run, right after its commit (not behind every other
    queued batch), over one SMTP connection; the database work is a fixed number of statements per
    batch, emails included (leased in one statement, marked sent in one)."""
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    small, large = learners(rsps, course_badge, 4, prefix="s"), learners(rsps, course_badge, 24, prefix="b")
    opened = count_connections(monkeypatch)
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(30) as few:
        issue.awards_issue_batch(progress_ids=[p.pk for p in small], send_emails=True)
    with django_capture_on_commit_callbacks(execute=True), django_assert_max_num_queries(30) as many:
        issue.awards_issue_batch(progress_ids=[p.pk for p in large], send_emails=True)

    assert len(many.captured_queries) <= len(few.captured_queries)  # nothing per award or per email
    assert len(opened) == 2  # one connection per batch
    assert sorted(m["to"][0] for m in smtp.messages) == sorted(p.learner.email for p in small + large)
    assert Delivery.objects.filter(kind=Delivery.KIND_EMAIL, status=Delivery.SENT).count() == 28
    assert not Delivery.objects.filter(unconfirmed_sends__gt=0).exists()
    assert LearnerProgress.objects.filter(state=LearnerProgress.ISSUED).count() == 28
    assert not any(name == "badging.deliveries_send" for name, _ in enqueued.calls)  # sent, not queued as well


def test_without_send_emails_the_deliveries_are_queued_as_before(
    rsps, smtp, enqueued, django_capture_on_commit_callbacks
):
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    rows = learners(rsps, course_badge, 3)
    with django_capture_on_commit_callbacks(execute=True):
        issue.awards_issue_batch(progress_ids=[p.pk for p in rows])
    ids = sorted(Delivery.objects.values_list("pk", flat=True))
    assert enqueued.calls == [("badging.deliveries_send", [ids])] and not smtp.messages


def test_an_email_the_server_refuses_mid_batch_is_retried_and_the_others_are_sent_once(
    rsps, smtp, enqueued, django_capture_on_commit_callbacks
):
    """The "sent" of an email rides on the next email's lease: a refusal in between must neither
    lose it nor mark the refused one sent."""
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    rows = learners(rsps, course_badge, 5)
    smtp.refuse = 1  # the first email is refused (451), the rest accepted
    with django_capture_on_commit_callbacks(execute=True):
        issue.awards_issue_batch(progress_ids=[p.pk for p in rows], send_emails=True)
    statuses = sorted(Delivery.objects.values_list("status", flat=True))
    assert statuses == [Delivery.FAILED] + [Delivery.SENT] * 4
    failed = Delivery.objects.get(status=Delivery.FAILED)
    assert failed.next_attempt_at is not None and failed.unconfirmed_sends == 0
    notifications.deliveries_send(delivery_ids=[failed.pk])
    assert Delivery.objects.filter(status=Delivery.SENT).count() == 5
    assert sorted(m["to"][0] for m in smtp.messages) == sorted(p.learner.email for p in rows)


def issued(rsps, count: int) -> list[Award]:
    course_badge = course_badge_with_assessments(api_base_url=CANVAS)
    rows = learners(rsps, course_badge, count)
    return list(
        Award.objects.filter(pk__in=[a.pk for a in issue.awards_issue_batch(progress_ids=[p.pk for p in rows])])
        .select_related("badge_class__issuer", "learner", "course_badge__course__platform")
        .order_by("pk")
    )


def test_email_bodies_from_the_frame_are_the_full_render(rsps):
    """Names with markup, quotes, accents or none at all: the frame filled in gives exactly what
    rendering both templates gives (escaped in the HTML part, raw in the text part)."""
    awards = issued(rsps, 6)
    links = PublicLinks(BASE)
    award_email._frames.clear()
    for award in awards:
        link_map = award_links(award, links=links)
        full = tuple(
            render_to_string(name, award_email._email_context(award, links, link_map))
            for name in award_email.EMAIL_TEMPLATES
        )
        assert award_email._email_bodies(award, links) == full
    assert "&lt;b&gt;&amp;amp; &quot;Co&quot;&lt;/b&gt;" in award_email._email_bodies(awards[1], links)[1]
    assert [frame is not None for frame in award_email._frames.values()] == [True, True]  # with and without a name


def test_one_email_frame_serves_a_days_issue_times_and_a_new_day_gets_its_own(rsps):
    """The email shows dates, not times: awards issued at other times of the same day are filled
    into the same frame (and equal the full render); the next day's issue date renders anew."""
    from datetime import timedelta

    awards = issued(rsps, 4)
    links = PublicLinks(BASE)
    day = timezone.localtime(awards[0].issued_on).replace(hour=9, minute=0, second=0)
    for award, shift in zip(
        awards,
        [timedelta(0), timedelta(hours=5, seconds=7), timedelta(days=1), timedelta(days=1, minutes=3)],
        strict=True,
    ):
        award.issued_on = day + shift
        award.expires = award.issued_on + timedelta(days=730)
    award_email._frames.clear()
    for award in awards:
        full = tuple(
            render_to_string(name, award_email._email_context(award, links, award_links(award, links=links)))
            for name in award_email.EMAIL_TEMPLATES
        )
        assert award_email._email_bodies(award, links) == full
    # Day one (two awards, one frame); day two with a name and without one (awards 3 and 4).
    assert len(award_email._frames) == 3 and None not in award_email._frames.values()
    first, next_day = (award_email._email_bodies(award, links)[0] for award in (awards[0], awards[3]))
    issued_on = first.split("\n")[[line.startswith("Issued on:") for line in first.split("\n")].index(True)]
    assert issued_on not in next_day


def test_the_linkedin_link_is_what_urlencode_gives(rsps):
    from urllib.parse import urlencode

    from badging.selectors.awards import LINKEDIN_ADD_URL, linkedin_add_url

    award = issued(rsps, 1)[0]
    award.badge_class.name, award.badge_class.issuer.name = "Données & “quotes” + <b>", "Uni/Forward ?=#"
    links = PublicLinks(BASE)
    for expires in (award.expires, None):
        award.expires = expires
        params = {
            "startTask": "CERTIFICATION_NAME",
            "name": award.badge_class.name,
            "organizationName": award.badge_class.issuer.name,
            "issueYear": award.issued_on.year,
            "issueMonth": award.issued_on.month,
            "certUrl": links.assertion(award.public_id),
            "certId": award.public_id,
        }
        if expires:
            params |= {"expirationYear": expires.year, "expirationMonth": expires.month}
        assert linkedin_add_url(award=award, links=links) == f"{LINKEDIN_ADD_URL}?{urlencode(params)}"


def test_smtp_bytes_from_the_mime_frame_are_djangos(rsps):
    awards = issued(rsps, 4)
    awards[3].recipient_email = "zoë@uni.example.edu"  # not a plain address: generated in full
    connection = SMTPBackend(host="127.0.0.1", port=1)
    award_email._mime_frames.clear()
    framed = []
    for award in awards:
        message = award_email.award_email_message(award=award, links=PublicLinks(BASE), connection=connection)
        mime = message.message()
        full = EmailMultiAlternatives.message(message)
        if isinstance(mime, award_email._FramedBytes):
            framed.append(award)
            boundary = mime.as_bytes().split(b'boundary="', 1)[1].split(b'"', 1)[0].decode()
            full.set_boundary(boundary)
            assert mime.as_bytes(linesep="\r\n") == full.as_bytes(linesep="\r\n")
    assert framed == awards[:3]
    assert list(award_email._mime_frames.values()) != [None]


def credential(award) -> dict:
    return ob3.credential_document(award, PublicLinks(BASE))


def test_canonical_nquads_template_equals_full_canonicalisation(rsps):
    """Values with quotes, backslashes, newlines and accents are escaped as the parser prints them;
    two blank nodes with the same first-degree hash (RDFC-1.0 N-degree hashing) take the full path."""
    awards = issued(rsps, 3)
    jsonld._shapes.clear()  # only this test's shapes below
    documents = [credential(a) for a in awards]
    documents[1]["credentialSubject"]["identifier"][0]["salt"] = 'quote " backslash \\ newline \n accent é'
    documents[2]["credentialSubject"]["achievement"]["alignment"] = [
        {"type": ["Alignment"], "targetName": "Same", "targetUrl": "https://skills.example.org/same"},
        {"type": ["Alignment"], "targetName": "Same", "targetUrl": "https://skills.example.org/same"},
    ]
    for document in documents + documents:  # the second round runs on built templates
        assert jsonld.canonize(document) == jsonld.canonize_full(document)
    templates = [shape.quads for shape in jsonld._shapes.values() if shape.quads is not None]
    # The credential's template is in use; the one whose blank nodes tie stays unchecked, never used.
    assert sorted(t.checked for t in templates) == [False, True] and not any(t.broken for t in templates)


def test_signing_with_the_template_gives_the_plain_paths_proof(rsps, monkeypatch):
    """Ed25519 is deterministic: the same credential signed with the precomputed canonical parts and
    with full canonicalisation carries the same proof, and it verifies against the issuer's key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from badging.openbadges.multibase import b58decode

    award = issued(rsps, 2)[1]
    signing = issuer_keys.issuer_keys_current(issuer=award.badge_class.issuer)
    private_key = keys.private_key_load(signing.ed25519.pk, signing.ed25519.private_key_pem)
    unsigned = credential(award)
    jsonld.canonize(copy.deepcopy(unsigned))  # the shape and its template are built and checked
    fast = ob3.data_integrity_sign(
        copy.deepcopy(unsigned), private_key=private_key, verification_method="did:web:x#k", created=award.issued_on
    )
    calls = []
    monkeypatch.setattr(jsonld._QuadTemplate, "canonize", lambda self, values: calls.append(1))
    monkeypatch.setattr(jsonld, "canonize", jsonld.canonize_full)
    plain = ob3.data_integrity_sign(
        copy.deepcopy(unsigned), private_key=private_key, verification_method="did:web:x#k", created=award.issued_on
    )
    assert fast == plain and not calls
    proof = plain["proof"][0]
    config = {k: v for k, v in proof.items() if k != "proofValue"}
    config_hash = ob3.hashlib.sha256(
        jsonld.canonize_full({"@context": unsigned["@context"], **config}).encode()
    ).digest()
    document_hash = ob3.hashlib.sha256(jsonld.canonize_full(unsigned).encode()).digest()
    public = Ed25519PublicKey.from_public_bytes(b58decode(keys.public_multikey(signing.ed25519.public_jwk)[1:])[2:])
    public.verify(b58decode(proof["proofValue"][1:]), config_hash + document_hash)


def test_the_proof_configuration_takes_the_template_too():
    """proofPurpose's value is a term of the context ("assertionMethod" becomes an IRI): it is part
    of the shape, so configurations that differ only in `created` (one per batch) share a checked
    template instead of each being canonicalised in full."""
    jsonld._shapes.clear()
    for second in range(3):
        config = {
            "@context": list(ob3.CONTEXTS),
            "type": "DataIntegrityProof",
            "cryptosuite": "eddsa-rdfc-2022",
            "created": f"2026-06-01T12:00:0{second}Z",
            "verificationMethod": "did:web:badges.example.edu:public:issuers:abc#key-1",
            "proofPurpose": "assertionMethod",
        }
        assert jsonld.canonize(config) == jsonld.canonize_full(config)
    used = [shape for shape in jsonld._shapes.values() if shape.verified]
    assert len(used) == 1 and used[0].quads is not None and used[0].quads.checked and not used[0].quads.broken
