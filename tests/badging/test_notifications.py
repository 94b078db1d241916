"""The award email: content, exactly one per award, SMTP failures retried without a double send."""

import smtplib
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend as LocmemBackend
from django.utils import timezone
from freezegun import freeze_time

from badging.models import Delivery
from badging.services import notifications, smtp_envelope
from tests.badging.test_public import issued_award

pytestmark = pytest.mark.django_db
BASE = "https://badges.uni.example.edu"


class FlakySMTP(LocmemBackend):
    """Refuses the first `failures` messages like a mail server in trouble, then accepts."""

    failures = 0

    def send_messages(self, messages):
        if FlakySMTP.failures > 0:
            FlakySMTP.failures -= 1
            raise smtplib.SMTPRecipientsRefused({"ada@uni.example.edu": (451, b"4.3.0 Try again later")})
        return super().send_messages(messages)


@pytest.fixture
def award(settings):
    settings.PUBLIC_BASE_URL = BASE
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    return issued_award(base=BASE)


def email_delivery(award):
    return Delivery.objects.create(award=award, kind=Delivery.KIND_EMAIL, next_attempt_at=timezone.now())


def test_email_content_and_links(award):
    delivery = email_delivery(award)
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["ada@uni.example.edu"]
    assert message.reply_to == [award.badge_class.issuer.email]
    assert message.subject == "You earned the “Data Analysis Fundamentals” badge"
    text = message.body
    page = f"{BASE}/public/assertions/{award.public_id}"
    assert "Skills Forward University has awarded you the badge “Data Analysis Fundamentals”" in text
    assert "Cleans, analyses and presents a data set." in text  # what it certifies
    assert "It was issued to: ada@uni.example.edu" in text
    assert f"Public badge page (share it; anyone can verify it): {page}" in text
    assert f"{page}/image?download=1" in text
    assert f"{page}.ob3.json?download=1" in text and f"{page}.jwt?download=1" in text
    assert "Import into Badgr / Canvas Credentials" in text and "upload the downloaded badge image" in text
    course = award.course_badge.course
    learner_page = f"{course.platform.api_base_url}/courses/{course.canvas_course_id}"
    assert f"Your badge page in Canvas (open “Badges” in the course menu): {learner_page}" in text

    html, mime = message.alternatives[0]
    assert mime == "text/html"
    assert f'href="{page}"' in html and "Add to LinkedIn profile" in html
    assert f'href="{learner_page}"' in html and "Your badge page in Canvas" in html
    linkedin = next(line for line in text.splitlines() if "linkedin.com" in line).split(": ", 1)[1]
    parts = urlsplit(linkedin)
    assert parts.netloc == "www.linkedin.com" and parts.path == "/profile/add"
    query = parse_qs(parts.query)
    assert query["startTask"] == ["CERTIFICATION_NAME"]
    assert query["name"] == ["Data Analysis Fundamentals"]
    assert query["organizationName"] == ["Skills Forward University"]
    assert query["issueYear"] == [str(award.issued_on.year)] and query["issueMonth"] == [str(award.issued_on.month)]
    assert query["certUrl"] == [page] and query["certId"] == [award.public_id]

    delivery.refresh_from_db()
    assert delivery.status == Delivery.SENT and delivery.sent_at and delivery.attempts == 1


def test_a_retried_task_never_sends_twice(award):
    delivery = email_delivery(award)
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    notifications.deliveries_send(delivery_ids=[delivery.pk, delivery.pk])
    assert len(mail.outbox) == 1


def test_smtp_failure_is_recorded_retried_and_sent_once(award, settings):
    settings.EMAIL_BACKEND = "tests.badging.test_notifications.FlakySMTP"
    FlakySMTP.failures = 1
    delivery = email_delivery(award)

    notifications.deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    assert len(mail.outbox) == 0
    assert delivery.status == Delivery.FAILED and delivery.attempts == 1
    assert "did not accept the email" in delivery.last_error and "Try again later" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()

    notifications.deliveries_send(delivery_ids=[delivery.pk])  # the retry
    notifications.deliveries_send(delivery_ids=[delivery.pk])  # a duplicate of the retry
    delivery.refresh_from_db()
    assert len(mail.outbox) == 1
    assert delivery.status == Delivery.SENT and delivery.attempts == 2 and delivery.last_error == ""


def test_gives_up_after_the_last_attempt(award, settings, caplog):
    settings.EMAIL_BACKEND = "tests.badging.test_notifications.FlakySMTP"
    FlakySMTP.failures = 2
    delivery = email_delivery(award)
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    assert [r.levelname for r in caplog.records if "failed, attempt" in r.message] == ["WARNING"]  # will retry
    Delivery.objects.filter(pk=delivery.pk).update(attempts=notifications.MAX_DELIVERY_ATTEMPTS - 1)
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    assert delivery.status == Delivery.FAILED and delivery.next_attempt_at is None
    last = [r for r in caplog.records if "failed, attempt" in r.message][-1]
    assert last.levelname == "ERROR" and "giving up" in last.message  # what log alerting watches


def test_revoked_before_sending_is_not_sent(award):
    from badging.services.issuance.review import award_revoke

    delivery = email_delivery(award)
    award_revoke(award_id=award.pk, reason="Issued in error", actor="admin:alice")
    notifications.deliveries_send(delivery_ids=[delivery.pk])
    delivery.refresh_from_db()
    assert len(mail.outbox) == 0
    assert delivery.status == Delivery.FAILED and "revoked" in delivery.last_error and delivery.next_attempt_at is None


def test_a_failed_email_is_tried_again_on_its_rows_schedule_by_the_reconciler_only(
    award, settings, enqueued, django_capture_on_commit_callbacks
):
    """One retry policy for an email: the backoff recorded on its row, picked up by the reconciler
    once due. The task does not retry it as well (no second schedule beside the row's)."""
    from badging.services.issuance.queueing import awards_reconcile
    from badging.tasks.issuance import deliveries_send

    settings.EMAIL_BACKEND = "tests.badging.test_notifications.FlakySMTP"
    FlakySMTP.failures = 1
    delivery = email_delivery(award)
    result = deliveries_send.apply(args=[[delivery.pk]])
    assert result.successful() and result.get() == 0  # nothing sent, and no task retry raised
    delivery.refresh_from_db()
    assert delivery.status == Delivery.FAILED and delivery.next_attempt_at > timezone.now()
    assert awards_reconcile()["deliveries_queued"] == 0  # not due yet
    with (
        freeze_time(delivery.next_attempt_at + timedelta(seconds=1)),
        django_capture_on_commit_callbacks(execute=True),
    ):
        assert awards_reconcile()["deliveries_queued"] == 1
    assert [task.args for task in enqueued if task.name == "badging.deliveries_send"] == [[[delivery.pk]]]
    assert deliveries_send.apply(args=[[delivery.pk]]).get() == 1 and len(mail.outbox) == 1


@pytest.mark.parametrize("pipelining", [True, False])
def test_a_connection_dropped_after_data_is_an_unconfirmed_send_and_a_refusal_is_not(award, settings, pipelining):
    """A server that took the message and closed the connection before its 250 may have delivered
    it: the retry sends it again and the delivery counts the possible extra email. A 451 refusal
    is no send at all (RFC 5321 §4.2.1: a 4yz reply means the message was not accepted)."""
    from tests.badging.test_issuance_support import SMTPSink

    with SMTPSink(pipelining=pipelining) as smtp:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_USE_TLS = "127.0.0.1", smtp.port, False
        settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
        delivery = email_delivery(award)

        smtp.refuse = 1
        notifications.deliveries_send(delivery_ids=[delivery.pk])
        delivery.refresh_from_db()
        assert (delivery.status, delivery.unconfirmed_sends, len(smtp.messages)) == (Delivery.FAILED, 0, 0)

        smtp.drop = 1
        notifications.deliveries_send(delivery_ids=[delivery.pk])
        delivery.refresh_from_db()
        assert (delivery.status, delivery.unconfirmed_sends, len(smtp.messages)) == (Delivery.FAILED, 1, 1)
        assert "may have been delivered" in delivery.last_error

        notifications.deliveries_send(delivery_ids=[delivery.pk])
        delivery.refresh_from_db()
        assert (delivery.status, delivery.unconfirmed_sends, len(smtp.messages)) == (Delivery.SENT, 1, 2)
        assert delivery.attempts == 3


@pytest.mark.parametrize(
    "data", [b"plain\r\n", b".starts\r\n..two\r\nmid.dle\r\n.\r\nend", b"", b"\r\n.\r\n", b"no newline at end"]
)
def test_message_data_is_quoted_as_smtplib_quotes_it(data):
    """Lines starting with a period are doubled (RFC 5321 §4.5.2), as smtplib's SMTP.data does."""
    expected = smtplib._quote_periods(data)
    expected += b"" if expected.endswith(b"\r\n") else b"\r\n"
    assert smtp_envelope.message_data(data) == expected + b".\r\n"


def test_an_address_ending_in_a_newline_never_reaches_the_mail_server_as_a_command():
    """With PIPELINING the envelope is written in one send, past smtplib's own newline check
    (putcmd): an address with a line break must be refused before anything is written, and the
    plain-address fast path must not take an address that ends in one ($ would match before it)."""
    from badging.services.award_email import _PLAIN_ADDRESS

    assert not _PLAIN_ADDRESS.match("ada@uni.example.edu\n")
    assert _PLAIN_ADDRESS.match("ada@uni.example.edu")

    class PipeliningServer:
        does_esmtp = True
        written: list = []

        def ehlo_or_helo_if_needed(self):
            pass

        def has_extn(self, name):
            return name in ("pipelining", "size")

        def send(self, text):
            self.written.append(text)

    server = PipeliningServer()
    with pytest.raises(ValueError, match="newline"):
        smtp_envelope.sendmail(server, "badges@uni.example.edu", ["ada@uni.example.edu\r\nRCPT TO:<x@y.z>"], b"x")
    assert server.written == []
