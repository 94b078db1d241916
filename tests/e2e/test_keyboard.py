"""Keyboard only: the learner page and every instructor action, with Tab, Shift+Tab, Space and
Enter and no mouse. Every stop of the Tab order shows a visible focus indicator, the order follows
the page (document order, no positive tabindex), every scrolling table is a stop of its own, and
each action's confirmation page is reached, answered and left by keyboard.

The tool has no modal dialogs: every instructor action is a confirmation page of its own (a plain
link there, a form posting back), so there is no focus to trap; the test checks that the page
that follows an action puts the keyboard user back at the top of the page with its status notice."""

import os
import re
from pathlib import Path

import pytest
from playwright.sync_api import expect

from badging.models import Award, Delivery
from tests.badging.test_dashboard import build_course
from tests.e2e.test_learner_browser import build, open_page

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("enqueued")]


# What the focused element is, whether its focus is visible, and whether it follows the last one.
FOCUS_STATE = """(previous) => {
  const el = document.activeElement;
  if (!el || el === document.body) return null;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2;
  const shadow = style.boxShadow && style.boxShadow !== "none";
  const box = el.getBoundingClientRect();
  const named = el.getAttribute("aria-labelledby") && document.getElementById(el.getAttribute("aria-labelledby"));
  const text = el.getAttribute("aria-label") || (named && named.textContent) || el.innerText || el.value;
  const label = (text || "").trim();
  let follows = true;
  if (previous && window.__lastFocused) {
    follows = !!(window.__lastFocused.compareDocumentPosition(el) & Node.DOCUMENT_POSITION_FOLLOWING)
      || window.__lastFocused.contains(el);
  }
  window.__lastFocused = el;
  return {
    tag: el.tagName.toLowerCase(), label: label.slice(0, 80), visible: outline || !!shadow,
    onScreen: box.width > 0 && box.height > 0 && box.bottom > 0 && box.top < window.innerHeight,
    follows, tabindex: el.tabIndex,
  };
}"""


def walk(page, limit=200) -> list[dict]:
    """Tabs from the top of the page to its end; every stop is checked on the way."""
    page.evaluate("window.__lastFocused = null; document.activeElement && document.activeElement.blur()")
    stops: list[dict] = []
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_STATE, bool(stops))
        if state is None or (stops and not state["follows"]):
            break  # past the last stop: focus left the page or wrapped to the top
        assert state["visible"], f"no visible focus indicator on {state}"
        assert state["onScreen"], f"focused but not scrolled into view: {state}"
        assert state["tabindex"] <= 0, f"a positive tabindex changes the order: {state}"
        stops.append(state)
    return stops


def tab_to(page, name: str | re.Pattern, limit=120) -> dict:
    """Presses Tab until the focused element's text is `name`; fails when it is never reached."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        state = page.evaluate(FOCUS_STATE, False)
        if state is None:
            continue
        assert state["visible"], f"no visible focus indicator on {state}"
        label = state["label"]
        if name.search(label) if isinstance(name, re.Pattern) else label == name:
            return state
    raise AssertionError(f"{name!r} is not reachable with Tab")


@pytest.mark.parametrize("width", [1280, 375])
def test_learner_page_by_keyboard(page, live_server, screenshot, width):
    launch = build("issued")
    page.set_viewport_size({"width": width, "height": 800})
    open_page(page, live_server, launch)
    stops = walk(page)
    labels = [s["label"] for s in stops]
    assert labels[0] == "Skip to content"
    # Every rubric table that may scroll sideways is a stop, named by its caption.
    assert sum(1 for s in stops if s["tag"] == "div" and s["label"].startswith("Rubric: ")) == 2, labels
    for wanted in ("Public badge page", "Add to LinkedIn profile", "Save my choice", "Add to a digital wallet"):
        assert any(wanted in label for label in labels), f"{wanted!r} not in the Tab order: {labels}"
    # The skip link moves focus to the content: the next Tab is inside <main>.
    page.evaluate("document.activeElement && document.activeElement.blur()")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("document.querySelector('main').contains(document.activeElement)")
    # A closed disclosure opens with Enter and its content joins the Tab order.
    summary = page.locator("details > summary").first
    summary.focus()
    page.keyboard.press("Enter")
    expect(page.locator("details").first).to_have_attribute("open", "")
    # Shift+Tab goes back the same way.
    tab_to(page, "Save my choice")
    page.keyboard.press("Shift+Tab")
    assert page.evaluate("document.activeElement.type") == "radio"
    screenshot(page, f"keyboard-learner-{width}")


def test_every_instructor_action_by_keyboard(page, live_server, screenshot, enqueued):
    s = build_course()
    launch = s["launch"]
    dashboard = f"{live_server.url}/l/{launch.public_id}/instructor/"
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(dashboard)
    stops = walk(page)
    labels = [st["label"] for st in stops]
    assert labels[0] == "Skip to content"
    assert "Learners" in labels  # the learner table's scrolling region is a stop

    # Filter by keyboard: type in the search field, Enter submits.
    page.get_by_label("Search by name, email or Canvas user id").focus()
    page.keyboard.type("ada.primary")
    page.keyboard.press("Enter")
    expect(page.locator("table.learners tbody tr")).to_have_count(1)

    def action(link: str | re.Pattern, button: str, notice: str):
        page.evaluate("window.scrollTo(0, 0); document.activeElement && document.activeElement.blur()")
        tab_to(page, link)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        tab_to(page, button)
        with page.expect_navigation():
            page.keyboard.press("Enter")
        expect(page.get_by_role("status")).to_contain_text(notice)
        # After the action: back on a page of its own, the keyboard starts at its top.
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.textContent.trim()") == "Skip to content"

    page.goto(dashboard)
    action("Sync now", "Sync now", "Sync requested.")
    action(re.compile(r"^Retry failed \(1\)$"), "Retry now", "queued again")

    # Cancel on a confirmation page returns to where the action started, nothing done.
    page.goto(dashboard)
    tab_to(page, "Sync now")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("/sync/$"))
    tab_to(page, "Cancel")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.split("?")[0] == dashboard

    page.goto(dashboard)
    tab_to(page, "Ada Lovelace")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    action("Send the email again", "Send again", "being sent again")
    assert Delivery.objects.get().status == Delivery.PENDING

    # Keep a badge flagged for review after a grade change.
    Award.objects.update(needs_review=True, review_reason="Present findings: 10 → 6 points after issue")
    page.reload()
    action("Keep the badge…", "Keep badge", "You kept the badge.")
    assert not Award.objects.get().needs_review

    # Revoke: submitting without a reason puts focus in the reason field with the error read out.
    tab_to(page, "Revoke…")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, "Revoke badge")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.locator("#reason")).to_be_focused()
    expect(page.locator("#reason")).to_have_attribute("aria-describedby", "reason-error")
    page.keyboard.type("Awarded by mistake")
    tab_to(page, "Revoke badge")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_contain_text("The badge was revoked.")
    assert Award.objects.get().revoked

    # Export: the download starts from the keyboard.
    page.goto(dashboard)
    tab_to(page, "Export CSV")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    tab_to(page, "Download CSV")
    with page.expect_download() as download:
        page.keyboard.press("Enter")
    assert Path(download.value.path()).read_text(encoding="utf-8").startswith("Name,")
    screenshot(page, "keyboard-instructor-export")
