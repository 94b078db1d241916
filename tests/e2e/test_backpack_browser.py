"""My badges in a real browser: launched from the sandbox Canvas's Account menu (user navigation,
no course), then collections made, reordered, shared, opened as a public visitor, unshared; another
learner sees none of it. Screenshots kept; axe-core finds no serious issue.

Canvas behaviour relied on (see tests/lti/test_my_badges_launch.py for the sources): a
user_navigation launch carries the User as its context, no course role and no course id.
"""

import datetime
import os
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils import timezone
from playwright.sync_api import expect

from badging.openbadges.links import PublicLinks
from badging.services.issuance import documents, review
from lti.models import Person
from sandbox.models import SandboxUser
from sandbox.seed.instances import sandbox_seed
from tests import factories as f
from tests.e2e.test_learner_browser import badge_png

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def check_a11y(page, name):
    results = Axe().run(page)
    bad = [v for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    assert not bad, f"{name}: " + "; ".join(f"{v['id']}: {v['help']} ({len(v['nodes'])})" for v in bad)


def award(course, learner, name: str, days_ago: int, base: str):
    badge_class = f.BadgeClassFactory(name=name, image=badge_png(), issuer__name="Skills Forward University")
    row = f.AwardFactory(
        course_badge=f.CourseBadgeFactory(course=course, badge_class=badge_class),
        learner=learner,
        issued_on=timezone.now() - datetime.timedelta(days=days_ago),
    )
    documents.award_documents_render(award=row, links=PublicLinks(base))
    return row


def test_my_badges_from_the_sandbox_account_menu(page, live_server, enqueued, screenshot):
    """The sandbox's "Account → My badges" performs the real OIDC login and user_navigation launch."""
    result = sandbox_seed(
        learners=6, assessments=2, seed=5, slug="bp", base_url=live_server.url, tool_url=live_server.url
    )
    user = (
        SandboxUser.objects.filter(instance=result.instance, is_test_user=False)
        .exclude(name__contains="Hopper")
        .first()
    )
    # The tool knows this learner (from a sync) and holds a badge of theirs.
    learner = Person.objects.create(
        platform_id=result.platform_id, canvas_user_id=str(user.id), name=user.name, email=user.primary_email
    )
    course = f.CourseFactory(platform_id=result.platform_id, name="Statistics 101")
    award(course, learner, "Descriptive Statistics", 3, live_server.url)

    page.goto(f"{result.instance.root_url}/courses/{result.course.id}/")
    page.locator(f'[data-my-badges-as="{user.id}"]').click()
    frame = page.frame_locator("iframe[name=tool_content]")
    expect(frame.get_by_role("heading", name="My badges", level=1)).to_be_visible(timeout=15000)
    expect(frame.get_by_role("heading", name="Descriptive Statistics")).to_be_visible()
    expect(frame.get_by_text("Course: Statistics 101")).to_be_visible()
    assert re.search(r"/l/[\w-]+/my-badges/$", page.frame(name="tool_content").url)
    assert Person.objects.filter(platform_id=result.platform_id, canvas_user_id=str(user.id)).count() == 1
    screenshot(page, "backpack-sandbox-account-menu")


def test_collections_sharing_and_what_others_see(page, live_server, screenshot):
    platform = f.PlatformFactory()
    stats = f.CourseFactory(platform=platform, name="Statistics 101")
    data = f.CourseFactory(platform=platform, name="Data Skills 201")
    ada = f.PersonFactory(platform=platform, name="Ada Learner", email="ada@uni.example.edu")
    bea = f.PersonFactory(platform=platform, name="Bea Other", email="bea@uni.example.edu")
    award(stats, ada, "Descriptive Statistics", 20, live_server.url)
    award(data, ada, "Data Cleaning", 2, live_server.url)
    revoked = award(data, ada, "Data Visualisation", 5, live_server.url)
    review.award_revoke(award_id=revoked.pk, reason="Issued in error", actor="admin:alice")
    ada_launch = f.LaunchContextFactory(course=None, platform=platform, person=ada)
    bea_launch = f.LaunchContextFactory(course=None, platform=platform, person=bea)

    page.set_viewport_size({"width": 1100, "height": 900})
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{live_server.url}/l/{ada_launch.public_id}/my-badges/")
    expect(page.get_by_role("heading", name="3 badges")).to_be_visible()
    names = page.locator(".backpack-item h3").all_inner_texts()
    assert names == ["Data Cleaning", "Data Visualisation", "Descriptive Statistics"]  # newest first
    expect(page.get_by_text("Revoked: Issued in error")).to_be_visible()
    check_a11y(page, "my badges")

    page.get_by_label("New collection name").fill("Job application")
    page.get_by_role("button", name="Create collection").click()
    expect(page.get_by_text("Collection created.")).to_be_visible()
    for badge in ("Descriptive Statistics", "Data Cleaning"):
        page.get_by_role("link", name=f"Share, add to a collection, re-issue {badge}").click()
        expect(page.get_by_role("heading", name=badge, level=1)).to_be_visible()
        page.get_by_role("button", name="Add", exact=True).click()
        expect(page.get_by_text("Badge added to the collection.")).to_be_visible()
        if badge == "Data Cleaning":
            check_a11y(page, "one badge's page")
            screenshot(page, "backpack-one-badge")
            expect(page.get_by_role("link", name=re.compile("Share on X"))).to_be_visible()
            expect(page.get_by_role("link", name=re.compile("Add to LinkedIn profile"))).to_be_visible()
        page.get_by_role("link", name="Back to My badges").click()
    collection = page.locator("section.card--alt", has_text="Job application")
    expect(collection.locator(".collection-badges__name")).to_have_text(["Descriptive Statistics", "Data Cleaning"])
    collection.get_by_role("button", name="Move up Data Cleaning").click()
    collection = page.locator("section.card--alt", has_text="Job application")
    expect(collection.locator(".collection-badges__name")).to_have_text(["Data Cleaning", "Descriptive Statistics"])
    collection.get_by_label("Name").fill("For employers")
    collection.get_by_role("button", name="Rename").click()
    expect(page.get_by_text("Collection renamed.")).to_be_visible()
    page.get_by_role("button", name="Share by link For employers").click()
    expect(page.get_by_text("Collection shared: anyone with its link can see it.")).to_be_visible()
    collection = page.locator("section.card--alt", has_text="For employers")
    link = collection.locator("input[readonly]").input_value()
    assert re.match(rf"{re.escape(live_server.url)}/public/collections/[\w-]+$", link)
    collection.get_by_role("button", name="Copy link").click()
    expect(collection.get_by_text("Link copied.")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == link
    expect(collection.get_by_role("link", name=re.compile("Share on X"))).to_have_attribute(
        "href", re.compile(r"^https://twitter\.com/intent/tweet\?")
    )
    expect(collection.get_by_role("link", name=re.compile("Share on Facebook"))).to_have_attribute(
        "href", re.compile(r"^https://www\.facebook\.com/sharer/sharer\.php\?u=")
    )
    screenshot(page, "backpack-my-badges")
    check_a11y(page, "my badges with a shared collection")

    # A public visitor (a fresh browser context: no cookie of Ada's).
    visitor = page.context.browser.new_context()
    public = visitor.new_page()
    public.goto(link)
    expect(public.get_by_role("heading", name="For employers", level=1)).to_be_visible()
    expect(public.locator(".public-collection strong")).to_have_text(["Data Cleaning", "Descriptive Statistics"])
    expect(public.get_by_text("Ada Learner")).to_have_count(0)
    assert public.locator('meta[name="twitter:card"]').get_attribute("content") == "summary_large_image"
    card = public.locator('meta[property="og:image"]').get_attribute("content")
    assert public.request.get(card).headers["content-type"] == "image/png"
    check_a11y(public, "public collection")
    screenshot(public, "backpack-public-collection")
    # Another learner's My badges in the same browser shows none of Ada's.
    public.goto(f"{live_server.url}/l/{bea_launch.public_id}/my-badges/")
    expect(public.get_by_text("You have no badges yet.")).to_be_visible()
    expect(public.get_by_text("For employers")).to_have_count(0)

    page.get_by_role("button", name="Stop sharing For employers").click()
    expect(page.get_by_text("Collection no longer shared")).to_be_visible()
    response = public.goto(link)
    assert response.status == 404
    visitor.close()


def test_program_progress_and_a_second_email(page, live_server, enqueued, screenshot, settings):
    """A program in progress on My badges; a second address proven with its code and a badge
    re-issued to it, the old one revoked by the learner's choice; the old page then says revoked."""
    from badging.models import LearnerEmail, Program, ProgramRequirement

    settings.PUBLIC_BASE_URL = live_server.url
    platform = f.PlatformFactory()
    ada = f.PersonFactory(platform=platform, name="Ada Learner", email="ada@uni.example.edu")
    stats = award(f.CourseFactory(platform=platform, name="Statistics 101"), ada, "Statistics", 9, live_server.url)
    wanted = f.BadgeClassFactory(name="Data Cleaning", image=badge_png())
    program = Program.objects.create(
        key="pathway", platform=platform, badge_class=f.BadgeClassFactory(name="Data Pathway", image=badge_png())
    )
    ProgramRequirement.objects.create(program=program, badge_class=stats.badge_class, position=0)
    ProgramRequirement.objects.create(program=program, badge_class=wanted, position=1)
    launch = f.LaunchContextFactory(course=None, platform=platform, person=ada)

    page.set_viewport_size({"width": 1100, "height": 900})
    page.goto(f"{live_server.url}/l/{launch.public_id}/my-badges/")
    program_card = page.locator("section.program", has_text="Data Pathway")
    expect(program_card.get_by_text("1 of 2 held")).to_be_visible()
    expect(program_card.locator("progress")).to_have_attribute("value", "1")
    expect(program_card.locator("li", has_text="Data Cleaning").get_by_text("Not yet")).to_be_visible()

    page.get_by_label("Another email address of yours").fill("ada.personal@example.org")
    page.get_by_role("button", name="Send a code").click()
    expect(page.get_by_text("A code is on its way to that address.")).to_be_visible()
    code = LearnerEmail.objects.get(learner=ada).code
    page.get_by_label("Code sent to ada.personal@example.org").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("That code is not right. 4 tries left.")).to_be_visible()
    page.get_by_label("Code sent to ada.personal@example.org").fill(code)
    page.get_by_role("button", name="Verify").click()
    expect(page.get_by_text("Address verified")).to_be_visible()
    check_a11y(page, "my badges with emails and a program")
    screenshot(page, "backpack-program-and-emails")

    page.get_by_role("link", name="Share, add to a collection, re-issue Statistics").click()
    page.get_by_label("Revoke it (only the new one stays valid)").check()
    page.get_by_role("button", name="Re-issue").click()
    expect(page.get_by_text("Badge re-issued")).to_be_visible()
    expect(page.get_by_text("Issued to ada.personal@example.org.")).to_be_visible()
    page.get_by_role("link", name="Back to My badges").click()
    expect(page.get_by_role("heading", name="2 badges")).to_be_visible()
    old = page.context.new_page()
    old.goto(f"{live_server.url}/public/assertions/{stats.public_id}")
    expect(old.get_by_text("This badge has been revoked")).to_be_visible()
    old.close()
