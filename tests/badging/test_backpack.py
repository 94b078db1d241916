"""My badges, collections and sharing: what a learner sees and changes, and what nobody else can.

Attack cases, each against a learner with badges and a shared collection: another learner of the
same Canvas, another course's instructor, the same Canvas user id on another Canvas instance, an
anonymous visitor, a forged or cross-site form.
"""

import datetime
import html as htmllib
import io
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from badging.models import AuditEvent, Collection, CollectionItem
from badging.openbadges.links import PublicLinks
from badging.services import backpack
from badging.services.issuance import documents, review
from badging.views.backpack import backpack_form_token
from tests import factories as f
from tests.badging.test_issuance_support import make_png

pytestmark = pytest.mark.django_db

BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def text_of(response) -> str:
    html = response.content.decode()
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", htmllib.unescape(re.sub(r"<[^>]+>", " ", html))).strip()


def award_in(course, learner, *, name: str, days_ago: int, **kwargs):
    badge_class = f.BadgeClassFactory(name=name, image=make_png(), issuer__name="Skills Forward University")
    award = f.AwardFactory(
        course_badge=f.CourseBadgeFactory(course=course, badge_class=badge_class),
        learner=learner,
        issued_on=timezone.now() - datetime.timedelta(days=days_ago),
        **kwargs,
    )
    documents.award_documents_render(award=award, links=PublicLinks("http://testserver"))
    return award


@pytest.fixture
def world():
    """Ada holds three badges from two courses of one Canvas (one revoked); Bea is another learner
    there; Ian teaches a third course; "Ada" on another Canvas has the same Canvas user id."""
    platform = f.PlatformFactory()
    stats = f.CourseFactory(platform=platform, name="Statistics 101")
    data = f.CourseFactory(platform=platform, name="Data Skills 201")
    other_course = f.CourseFactory(platform=platform, name="History 110")
    ada = f.PersonFactory(platform=platform, name="Ada Learner", email="ada@uni.example.edu", canvas_user_id="42")
    bea = f.PersonFactory(platform=platform, name="Bea Other", email="bea@uni.example.edu")
    ian = f.PersonFactory(platform=platform, name="Ian Teacher", email="ian@uni.example.edu")
    old = award_in(stats, ada, name="Descriptive Statistics", days_ago=30)
    new = award_in(data, ada, name="Data Cleaning", days_ago=1)
    revoked = award_in(data, ada, name="Data Visualisation", days_ago=10)
    review.award_revoke(award_id=revoked.pk, reason="Issued in error", actor="admin:alice")
    bea_award = award_in(stats, bea, name="Inferential Statistics", days_ago=2)
    elsewhere = f.PersonFactory(name="Ada Learner", email="ada@uni.example.edu", canvas_user_id="42")
    elsewhere_award = award_in(f.CourseFactory(platform=elsewhere.platform), elsewhere, name="Other Canvas", days_ago=0)
    return {
        "ada": ada,
        "bea": bea,
        "old": old,
        "new": new,
        "revoked": revoked,
        "bea_award": bea_award,
        "elsewhere": elsewhere,
        "elsewhere_award": elsewhere_award,
        "ada_backpack": f.LaunchContextFactory(course=None, platform=platform, person=ada),
        "ada_in_course": f.LaunchContextFactory(course=data, person=ada),
        "bea_backpack": f.LaunchContextFactory(course=None, platform=platform, person=bea),
        "ian_in_course": f.LaunchContextFactory(course=other_course, person=ian, role="instructor"),
        "elsewhere_backpack": f.LaunchContextFactory(course=None, platform=elsewhere.platform, person=elsewhere),
    }


def my_badges(client, launch):
    response = client.get(reverse("badging:my_badges", args=[launch.public_id]))
    assert response.status_code == 200
    return response


def post(client, launch, name, data, args=(), **headers):
    data = {"token": backpack_form_token(launch), **data}
    return client.post(reverse(f"badging:{name}", args=[launch.public_id, *args]), data, **headers)


def test_my_badges_lists_every_own_badge_newest_first_with_course_and_state(client, world):
    text = text_of(my_badges(client, world["ada_backpack"]))
    assert "My badges" in text and "3 badges" in text
    # Newest first: Data Cleaning (1 day), Data Visualisation (10 days, revoked), Descriptive Statistics (30).
    assert text.index("Data Cleaning") < text.index("Data Visualisation") < text.index("Descriptive Statistics")
    assert "Course: Data Skills 201" in text and "Course: Statistics 101" in text
    assert "Revoked: Issued in error" in text and text.count("Issued by Skills Forward University") == 3
    assert "Inferential Statistics" not in text and "Other Canvas" not in text


def test_my_badges_from_a_course_launch_is_the_same_page(client, world):
    text = text_of(my_badges(client, world["ada_in_course"]))
    assert "3 badges" in text and "Back to this course's badges" in text
    course_page = client.get(reverse("badging:launch_home", args=[world["ada_in_course"].public_id]))
    assert "My badges: all your badges" in text_of(course_page)


def test_a_courseless_launch_reaches_no_course_page(client, world):
    launch = world["ada_backpack"]
    for url in (
        reverse("badging:launch_home", args=[launch.public_id]),
        reverse("badging:instructor_dashboard", args=[launch.public_id]),
    ):
        response = client.get(url)
        assert response.status_code == 403 and "This page belongs to a course" in text_of(response)


def test_sharing_actions_of_a_live_badge(client, world):
    launch = world["ada_backpack"]
    listing = my_badges(client, launch).content.decode()
    # The list stays light (200 badges must load fast): each badge links to its own page of actions.
    assert reverse("badging:my_badge", args=[launch.public_id, world["new"].public_id]) in listing
    assert reverse("badging:my_badge", args=[launch.public_id, world["revoked"].public_id]) not in listing
    response = client.get(reverse("badging:my_badge", args=[launch.public_id, world["new"].public_id]))
    assert response.status_code == 200
    html = response.content.decode()
    page_url = f"http://testserver/public/assertions/{world['new'].public_id}"
    quoted = page_url.replace(":", "%3A").replace("/", "%2F")
    assert "https://twitter.com/intent/tweet?text=I+earned+the+Data+Cleaning+badge" in html
    assert f"url={quoted}" in html
    assert f"https://www.facebook.com/sharer/sharer.php?u={quoted}" in html
    assert "https://www.linkedin.com/profile/add?startTask=CERTIFICATION_NAME" in html
    # The copyable link and the embed snippet (escaped once in the textarea).
    assert f'readonly value="{page_url}"' in html
    card = f"http://testserver/public/badges/{world['new'].badge_class.public_id}/card.png"
    assert htmllib.escape(f'<a href="{page_url}"><img src="{card}" alt="Data Cleaning"') in html
    # A revoked badge has no sharing actions.
    revoked = client.get(reverse("badging:my_badge", args=[launch.public_id, world["revoked"].public_id]))
    assert "Revoked: Issued in error" in text_of(revoked)
    assert "facebook.com" not in revoked.content.decode() and "Copy link" not in revoked.content.decode()


def test_collection_create_add_reorder_share_and_the_public_page(client, world):
    ada = world["ada_backpack"]
    assert post(client, ada, "backpack_collection_create", {"name": "  Job   application "}).status_code == 302
    collection = Collection.objects.get(learner=world["ada"])
    assert collection.name == "Job application" and not collection.shared
    for award in (world["old"], world["new"]):
        response = post(
            client,
            ada,
            "backpack_collection_badge",
            {"action": "add", "collection": collection.public_id, "award": award.public_id},
        )
        assert response.status_code == 302
    order = lambda: [i.award_id for i in CollectionItem.objects.filter(collection=collection)]  # noqa: E731
    assert order() == [world["old"].pk, world["new"].pk]
    post(
        client,
        ada,
        "backpack_collection_badge",
        {"action": "up", "collection": collection.public_id, "award": world["new"].public_id},
    )
    assert order() == [world["new"].pk, world["old"].pk]
    assert (
        post(
            client,
            ada,
            "backpack_collection_change",
            {"action": "rename", "name": "For employers"},
            args=[collection.public_id],
        ).status_code
        == 302
    )
    public_url = reverse("badging:public-collection", args=[collection.public_id])
    assert Client().get(public_url).status_code == 404  # not shared yet
    post(client, ada, "backpack_collection_change", {"action": "share"}, args=[collection.public_id])
    collection.refresh_from_db()
    assert collection.shared and collection.name == "For employers"

    page = Client().get(public_url, HTTP_ACCEPT=BROWSER_ACCEPT)
    assert page.status_code == 200
    text, html = text_of(page), page.content.decode()
    assert "For employers" in text and "2 badges" in text
    assert text.index("Data Cleaning") < text.index("Descriptive Statistics")
    assert "Ada Learner" not in text  # the name stays opt-in
    card = f"http://testserver/public/badges/{world['new'].badge_class.public_id}/card.png"
    assert f'<meta property="og:image" content="{card}">' in html
    assert '<meta property="og:title" content="For employers">' in html
    assert '<meta name="twitter:card" content="summary_large_image">' in html
    preview = Client().get(public_url, HTTP_USER_AGENT="facebookexternalhit/1.1")
    assert f'<meta property="og:image" content="{card}">' in preview.content.decode()

    document = Client().get(reverse("badging:public-collection-json", args=[collection.public_id])).json()
    assert document["name"] == "For employers"
    assert document["assertions"] == [
        f"http://testserver/public/assertions/{world['new'].public_id}",
        f"http://testserver/public/assertions/{world['old'].public_id}",
    ]
    assert Client().get(public_url, HTTP_ACCEPT="application/json").json() == document
    assert page["Cache-Control"] == "no-cache"  # unsharing takes effect at the next view

    actions = list(AuditEvent.objects.filter(actor_person=world["ada"]).values_list("action", flat=True))
    assert {
        "collection_created",
        "collection_award_added",
        "collection_reordered",
        "collection_renamed",
        "collection_shared",
    } <= set(actions)


def test_revoked_badges_drop_out_of_a_shared_collection_and_unsharing_ends_the_link(client, world):
    ada = world["ada"]
    collection = backpack.collection_create(learner=ada, name="All")
    for award in (world["old"], world["new"]):
        backpack.collection_award_add(
            learner=ada, collection_public_id=collection.public_id, award_public_id=award.public_id
        )
    backpack.collection_share_set(learner=ada, collection_public_id=collection.public_id, shared=True)
    json_url = reverse("badging:public-collection-json", args=[collection.public_id])
    assert len(Client().get(json_url).json()["assertions"]) == 2

    review.award_revoke(award_id=world["old"].pk, reason="Grade changed", actor="admin:alice")
    assert Client().get(json_url).json()["assertions"] == [
        f"http://testserver/public/assertions/{world['new'].public_id}"
    ]
    text = text_of(my_badges(client, world["ada_backpack"]))
    assert "Revoked: not shown publicly" in text

    with pytest.raises(backpack.BackpackRefused):
        backpack.collection_award_add(
            learner=ada, collection_public_id=collection.public_id, award_public_id=world["revoked"].public_id
        )

    backpack.collection_share_set(learner=ada, collection_public_id=collection.public_id, shared=False)
    assert Client().get(json_url).status_code == 404
    assert Client().get(reverse("badging:public-collection", args=[collection.public_id])).status_code == 404


def test_names_are_unique_per_learner_and_never_empty(client, world):
    backpack.collection_create(learner=world["ada"], name="Portfolio")
    backpack.collection_create(learner=world["bea"], name="Portfolio")  # another learner may
    response = post(client, world["ada_backpack"], "backpack_collection_create", {"name": "Portfolio"})
    assert response.status_code == 400 and "You already have a collection named “Portfolio”." in text_of(response)
    response = post(client, world["ada_backpack"], "backpack_collection_create", {"name": "   "})
    assert response.status_code == 400 and "Give the collection a name." in text_of(response)


def test_the_name_on_a_badge_page_is_opt_in_from_my_badges(client, world):
    award = world["new"]
    page_url = f"/public/assertions/{award.public_id}"
    assert "Ada Learner" not in text_of(Client().get(page_url, HTTP_ACCEPT=BROWSER_ACCEPT))
    response = post(client, world["ada_backpack"], "backpack_award_name", {"show_name": "yes"}, args=[award.public_id])
    assert response.status_code == 302
    assert "Earned by Ada Learner" in text_of(Client().get(page_url, HTTP_ACCEPT=BROWSER_ACCEPT))
    # A collection shows the name only when every badge in it does.
    collection = backpack.collection_create(learner=world["ada"], name="Shown")
    backpack.collection_award_add(
        learner=world["ada"], collection_public_id=collection.public_id, award_public_id=award.public_id
    )
    backpack.collection_share_set(learner=world["ada"], collection_public_id=collection.public_id, shared=True)
    text = text_of(
        Client().get(reverse("badging:public-collection", args=[collection.public_id]), HTTP_ACCEPT=BROWSER_ACCEPT)
    )
    assert "Open Badges earned by Ada Learner" in text


def test_preview_card_is_a_1200_by_630_png(world):
    response = Client().get(f"/public/badges/{world['new'].badge_class.public_id}/card.png")
    assert response.status_code == 200 and response["Content-Type"] == "image/png"
    with Image.open(io.BytesIO(response.content)) as card:
        assert card.size == (1200, 630)
    svg = f.BadgeClassFactory(
        image=b'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 10 10"/>', image_content_type="image/svg+xml"
    )
    with Image.open(io.BytesIO(Client().get(f"/public/badges/{svg.public_id}/card.png").content)) as card:
        assert card.size == (1200, 630)
    assert Client().get("/public/badges/no-such-badge/card.png").status_code == 404


# --- Attacks ------------------------------------------------------------------------------------


@pytest.fixture
def ada_shared(world):
    collection = backpack.collection_create(learner=world["ada"], name="Ada's")
    backpack.collection_award_add(
        learner=world["ada"], collection_public_id=collection.public_id, award_public_id=world["new"].public_id
    )
    return collection


@pytest.mark.parametrize("intruder", ["bea_backpack", "ian_in_course", "elsewhere_backpack"])
def test_nobody_else_sees_or_changes_a_learners_badges(client, world, ada_shared, intruder):
    """Another learner, another course's instructor, the same Canvas user id on another Canvas:
    each sees only their own badges, and every change to Ada's rows answers 404 and changes nothing."""
    launch = world[intruder]
    for award in (world["new"], world["revoked"]):
        assert client.get(reverse("badging:my_badge", args=[launch.public_id, award.public_id])).status_code == 404
    text = text_of(my_badges(client, launch))
    assert "Data Cleaning" not in text and "Descriptive Statistics" not in text
    cid, aid = ada_shared.public_id, world["new"].public_id
    attempts = [
        ("backpack_collection_change", {"action": "share"}, [cid]),
        ("backpack_collection_change", {"action": "rename", "name": "Mine now"}, [cid]),
        ("backpack_collection_change", {"action": "delete"}, [cid]),
        ("backpack_collection_badge", {"action": "remove", "collection": cid, "award": aid}, []),
        ("backpack_collection_badge", {"action": "add", "collection": cid, "award": world["old"].public_id}, []),
        ("backpack_award_name", {"show_name": "yes"}, [aid]),
    ]
    for name, data, args in attempts:
        assert post(client, launch, name, data, args=args).status_code == 404, name
    # Nor can they put Ada's badge into a collection of their own.
    own = backpack.collection_create(learner=launch.person, name="Mine")
    response = post(
        client, launch, "backpack_collection_badge", {"action": "add", "collection": own.public_id, "award": aid}
    )
    assert response.status_code == 404 and not own.items.exists()
    ada_shared.refresh_from_db()
    assert ada_shared.name == "Ada's" and not ada_shared.shared and ada_shared.items.count() == 1
    world["new"].refresh_from_db()
    assert not world["new"].learner_name_public


def test_anonymous_visitors_and_forged_forms_are_refused(client, world, ada_shared):
    launch = world["ada_backpack"]
    assert client.get("/l/not-a-launch/my-badges/").status_code == 404
    url = reverse("badging:backpack_collection_change", args=[launch.public_id, ada_shared.public_id])
    assert client.post(url, {"action": "share", "token": "forged"}).status_code == 403
    response = client.post(
        url, {"action": "share", "token": backpack_form_token(launch)}, HTTP_ORIGIN="https://evil.example"
    )
    assert response.status_code == 403
    ada_shared.refresh_from_db()
    assert not ada_shared.shared
    # An expired launch link no longer works.
    type(launch).objects.filter(pk=launch.pk).update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert client.get(reverse("badging:my_badges", args=[launch.public_id])).status_code == 404
    # A collection id that was never shared (or never existed) reveals nothing.
    assert Client().get(reverse("badging:public-collection", args=[ada_shared.public_id])).status_code == 404
    assert Client().get(reverse("badging:public-collection-json", args=["no-such-collection"])).status_code == 404
