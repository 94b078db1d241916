"""The Canvas Credentials connection in the admin: mapping rule, login status, Badgr's own
messages, and the "resync with Badgr" action (against tests/badging/badgr_double.py)."""

from html.parser import HTMLParser

import pytest
import responses
from django.urls import reverse

from badging.models import CanvasCredentialsConnection, Delivery
from tests import factories as f
from tests.badging.badgr_double import API, OWNER, PASSWORD, BadgrDouble
from tests.badging.test_admin import text_of
from tests.badging.test_canvas_credentials import BASE, ENTITY, push
from tests.badging.test_public import issued_award

pytestmark = pytest.mark.django_db
PREFIX = "canvas_credentials-0-"


class FormFields(HTMLParser):
    """The values a browser would submit for the page's main form, as rendered."""

    def __init__(self):
        super().__init__()
        self.data: dict[str, str] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        name = a.get("name")
        if tag == "input" and name and a.get("type") not in ("submit", "checkbox", "file", "password"):
            self.data[name] = a.get("value") or ""
        elif tag == "input" and name and a.get("type") == "checkbox" and "checked" in a:
            self.data[name] = "on"
        elif tag == "textarea" and name:
            self._textarea, self.data[name] = name, ""
        elif tag == "select" and name:
            self._select = name
        elif tag == "option" and self._select and "selected" in a:
            self.data[self._select] = a.get("value") or ""

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.data[self._textarea] += data.lstrip("\n") if not self.data[self._textarea] else data


def change_form(admin_client, issuer) -> dict:
    parser = FormFields()
    parser.feed(admin_client.get(reverse("admin:badging_issuer_change", args=[issuer.pk])).content.decode())
    return parser.data


@pytest.fixture
def connected(settings):
    settings.PUBLIC_BASE_URL = BASE
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    award = issued_award(base=BASE)
    connection = CanvasCredentialsConnection.objects.create(
        issuer=award.badge_class.issuer,
        enabled=True,
        api_base_url=API,
        username=OWNER,
        password=PASSWORD,
        badge_class_entity_ids={award.badge_class.key: ENTITY},
    )
    return award, connection


@pytest.fixture
def badgr():
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield BadgrDouble(rsps)


def test_one_badgr_badge_class_per_badge_class_is_enforced_in_the_admin(admin_client, connected):
    award, connection = connected
    other = f.BadgeClassFactory(issuer=award.badge_class.issuer)
    data = change_form(admin_client, award.badge_class.issuer)
    data[PREFIX + "badge_class_entity_ids"] = f'{{"{award.badge_class.key}": "{ENTITY}", "{other.key}": "{ENTITY}"}}'
    response = admin_client.post(reverse("admin:badging_issuer_change", args=[award.badge_class.issuer.pk]), data)
    assert response.status_code == 200
    assert f"Canvas Credentials badge class {ENTITY} is mapped from" in text_of(response)
    foreign = f.BadgeClassFactory()  # another issuer's badge class
    data[PREFIX + "badge_class_entity_ids"] = f'{{"{foreign.key}": "bc-9"}}'
    response = admin_client.post(reverse("admin:badging_issuer_change", args=[award.badge_class.issuer.pk]), data)
    assert f"Not a badge class of this issuer: {foreign.key}." in text_of(response)
    connection.refresh_from_db()
    assert connection.badge_class_entity_ids == {award.badge_class.key: ENTITY}
    data[PREFIX + "badge_class_entity_ids"] = f'{{"{award.badge_class.key}": "{ENTITY}", "{other.key}": "bc-entity-2"}}'
    response = admin_client.post(reverse("admin:badging_issuer_change", args=[award.badge_class.issuer.pk]), data)
    assert response.status_code == 302
    connection.refresh_from_db()
    assert connection.badge_class_entity_ids[other.key] == "bc-entity-2"


def test_admin_shows_a_refused_login_and_saving_new_credentials_clears_it(admin_client, connected, badgr):
    award, _connection = connected
    CanvasCredentialsConnection.objects.update(password="wrong")
    push(award)
    issuer = award.badge_class.issuer
    text = text_of(admin_client.get(reverse("admin:badging_issuer_change", args=[issuer.pk])))
    assert "Needs attention: Canvas Credentials refused this login" in text
    assert "invalid_grant Invalid credentials given." in text  # Badgr's own words
    data = change_form(admin_client, issuer)
    assert PREFIX + "password" not in data  # the secret is never sent back to the browser
    data[PREFIX + "password"] = PASSWORD
    response = admin_client.post(reverse("admin:badging_issuer_change", args=[issuer.pk]), data)
    assert response.status_code == 302
    assert not CanvasCredentialsConnection.objects.get().login_refused
    text = text_of(admin_client.get(reverse("admin:badging_issuer_change", args=[issuer.pk])))
    assert "Needs attention" not in text


def test_saving_without_changing_the_credentials_keeps_the_refusal(admin_client, connected, badgr):
    award, _connection = connected
    CanvasCredentialsConnection.objects.update(password="wrong")
    push(award)
    data = change_form(admin_client, award.badge_class.issuer)
    data[PREFIX + "notify_recipients"] = "on"  # an unrelated change; the password field left empty
    admin_client.post(reverse("admin:badging_issuer_change", args=[award.badge_class.issuer.pk]), data)
    assert CanvasCredentialsConnection.objects.get().login_refused


def test_admin_shows_badgrs_message_for_the_last_push_and_the_granted_scope(admin_client, connected, badgr):
    award, _connection = connected
    badgr.refuse_next_issue = {"narrative": ["Images not supported in markdown"]}
    push(award)
    text = text_of(admin_client.get(reverse("admin:badging_issuer_change", args=[award.badge_class.issuer.pk])))
    assert f"Push of award {award.public_id} failed" in text and "Images not supported in markdown" in text
    Delivery.objects.filter(award=award).delete()
    push(award)
    text = text_of(admin_client.get(reverse("admin:badging_issuer_change", args=[award.badge_class.issuer.pk])))
    assert f"Issued award {award.public_id} as assertion" in text and "(201 ok)" in text
    assert "rw:profile rw:issuer rw:backpack — more than this product needs" in text


def test_resync_action_reports_what_it_found(admin_client, connected, badgr, django_capture_on_commit_callbacks):
    award, _connection = connected
    delivery = push(award)
    del badgr.assertions[delivery.external_id]
    badgr.order.remove(delivery.external_id)
    with django_capture_on_commit_callbacks(execute=False):
        response = admin_client.post(
            reverse("admin:badging_issuer_changelist"),
            {"action": "resync_canvas_credentials", "_selected_action": [award.badge_class.issuer.pk]},
            follow=True,
        )
    text = text_of(response)
    assert f"{award.badge_class.key}: 0 assertions there, 0 matched, 1 pushed again" in text
    assert Delivery.objects.get(pk=delivery.pk).status == Delivery.PENDING


def test_resync_action_without_a_connection_says_so(admin_client):
    issuer = f.IssuerFactory()
    response = admin_client.post(
        reverse("admin:badging_issuer_changelist"),
        {"action": "resync_canvas_credentials", "_selected_action": [issuer.pk]},
        follow=True,
    )
    assert "None of the selected issuers has a Canvas Credentials connection." in text_of(response)
