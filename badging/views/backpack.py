"""My badges (the learner's backpack) and the public pages of what they share.

Learner pages: /l/<launch_id>/my-badges/…, reachable from a course launch and from a launch of the
account or user navigation (no course). They show and change only the launching person's own
badges and collections (badging.selectors.backpack, badging.services.backpack).
Public pages: a shared collection (HTML with link previews, and JSON), and a badge's preview card.
"""

import functools

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST, require_safe

from badging.openbadges.links import public_links
from badging.selectors import awards as award_selectors
from badging.selectors import backpack as selectors
from badging.services import backpack as services
from badging.services import learner_emails
from badging.services.sharing import AwardNotYours, award_share_set
from badging.social_card import badge_card_png
from badging.views import launch_form_token
from badging.views.public import _json, _og_page, _vary, negotiate
from lti.launch import launch_context_required, request_from_this_site
from lti.models import LaunchContext


def backpack_form_token(launch: LaunchContext) -> str:
    return launch_form_token(launch=launch, purpose="learner.backpack")


def _page(request, launch: LaunchContext, *, error: str = "", status: int = 200):
    page = selectors.my_badges_page(person=launch.person, request=request)
    sample = reverse("badging:my_badge", args=[launch.public_id, "x"])
    context = {
        "launch": launch,
        "page": page,
        "token": backpack_form_token(launch),
        "error": error,
        "done": request.GET.get("done", ""),
        # One reverse() for the whole list: each badge's page is this plus its public id.
        "badge_page_base": sample[: -len("x/")],
    }
    return render(request, "badging/backpack/my_badges.html", context, status=status)


@require_GET
@launch_context_required(without_course=True)
def my_badges(request, launch: LaunchContext):
    return _page(request, launch)


def _badge_page(request, launch: LaunchContext, award_public_id: str, *, error: str = "", status: int = 200):
    page = selectors.my_badge_page(person=launch.person, award_public_id=award_public_id, request=request)
    if page is None:
        raise Http404("No such badge")
    context = {
        "launch": launch,
        "page": page,
        "token": backpack_form_token(launch),
        "error": error,
        "done": request.GET.get("done", ""),
    }
    return render(request, "badging/backpack/award.html", context, status=status)


@require_GET
@launch_context_required(without_course=True)
def my_badge(request, launch: LaunchContext, award_public_id: str):
    return _badge_page(request, launch, award_public_id)


def _back_to_badge(launch: LaunchContext, award_public_id: str, done: str):
    return redirect(reverse("badging:my_badge", args=[launch.public_id, award_public_id]) + f"?done={done}")


def _refused(request, status: int, message: str):
    return render(
        request,
        "lti/error.html",
        {"title": _("Not saved"), "message": message, "advice": _("Open My badges from Canvas again.")},
        status=status,
    )


def _checked(request, launch: LaunchContext):
    """The refusal of a post that is not from this launch's own page, or None."""
    if not request_from_this_site(request):
        return _refused(request, 403, _("This request came from another site, so it was refused."))
    if not constant_time_compare(request.POST.get("token", ""), backpack_form_token(launch)):
        return _refused(request, 403, _("This form is no longer valid."))
    return None


def _backpack_post(view):
    """A learner's change from their own My badges page: POST only, a launch with or without a
    course, and refused unless it comes from this site with the page's form token (which is what
    protects it instead of Django's CSRF cookie, blocked in Canvas's iframe)."""

    @csrf_exempt
    @require_POST
    @launch_context_required(without_course=True)
    @functools.wraps(view)
    def checked(request, launch: LaunchContext, *args, **kwargs):
        if refusal := _checked(request, launch):
            return refusal
        return view(request, launch, *args, **kwargs)

    return checked


def _back(launch: LaunchContext, done: str, anchor: str = ""):
    url = reverse("badging:my_badges", args=[launch.public_id]) + f"?done={done}"
    return redirect(url + (f"#{anchor}" if anchor else ""))


@_backpack_post
def collection_create(request, launch: LaunchContext):
    try:
        collection = services.collection_create(learner=launch.person, name=request.POST.get("name", ""))
    except services.BackpackRefused as exc:
        return _page(request, launch, error=str(exc), status=400)
    return _back(launch, "created", f"collection-{collection.public_id}")


COLLECTION_ACTIONS = {"rename", "delete", "share", "unshare"}


@_backpack_post
def collection_change(request, launch: LaunchContext, collection_id: str):
    action = request.POST.get("action", "")
    if action not in COLLECTION_ACTIONS:
        return _refused(request, 400, _("Unknown action."))
    person = launch.person
    try:
        if action == "rename":
            services.collection_rename(
                learner=person, collection_public_id=collection_id, name=request.POST.get("name", "")
            )
        elif action == "delete":
            services.collection_delete(learner=person, collection_public_id=collection_id)
            return _back(launch, "deleted", "collections")
        else:
            services.collection_share_set(learner=person, collection_public_id=collection_id, shared=action == "share")
    except services.BackpackNotFound:
        raise Http404("No such collection")
    except services.BackpackRefused as exc:
        return _page(request, launch, error=str(exc), status=400)
    return _back(
        launch, {"rename": "renamed", "share": "shared", "unshare": "unshared"}[action], f"collection-{collection_id}"
    )


ITEM_ACTIONS = {"add", "remove", "up", "down"}


@_backpack_post
def collection_badge(request, launch: LaunchContext):
    action = request.POST.get("action", "")
    collection_id = request.POST.get("collection", "")
    award_id = request.POST.get("award", "")
    if action not in ITEM_ACTIONS or not collection_id or not award_id:
        return _refused(request, 400, _("Choose a collection and a badge."))
    kwargs = {"learner": launch.person, "collection_public_id": collection_id, "award_public_id": award_id}
    try:
        if action == "add":
            services.collection_award_add(**kwargs)
        elif action == "remove":
            services.collection_award_remove(**kwargs)
        else:
            services.collection_award_move(**kwargs, offset=-1 if action == "up" else 1)
    except services.BackpackNotFound:
        raise Http404("No such collection or badge")
    except services.BackpackRefused as exc:
        if request.POST.get("next") == "badge":
            return _badge_page(request, launch, award_id, error=str(exc), status=400)
        return _page(request, launch, error=str(exc), status=400)
    if action == "add" and request.POST.get("next") == "badge":
        return _back_to_badge(launch, award_id, "added")
    anchor = f"award-{award_id}" if action == "add" else f"collection-{collection_id}"
    return _back(launch, {"add": "added", "remove": "removed"}.get(action, "moved"), anchor)


@_backpack_post
def award_name(request, launch: LaunchContext, award_public_id: str):
    """Show or hide the learner's name on a badge's public page (opt-in, as on the course page)."""
    choice = request.POST.get("show_name")
    if choice not in ("yes", "no"):
        return _refused(request, 400, _("Choose whether to show your name, then save."))
    try:
        award_share_set(award_public_id=award_public_id, learner=launch.person, show_name=choice == "yes")
    except AwardNotYours:
        raise Http404("No such award")
    return _back_to_badge(launch, award_public_id, "name_shown" if choice == "yes" else "name_hidden")


@_backpack_post
def email_add(request, launch: LaunchContext):
    try:
        learner_emails.learner_email_add(learner=launch.person, email=request.POST.get("email", ""))
    except learner_emails.EmailRefused as exc:
        return _page(request, launch, error=str(exc), status=400)
    return _back(launch, "code_sent", "emails")


EMAIL_ACTIONS = {"verify", "resend", "remove"}


@_backpack_post
def email_change(request, launch: LaunchContext, email_id: int):
    action = request.POST.get("action", "")
    if action not in EMAIL_ACTIONS:
        return _refused(request, 400, _("Unknown action."))
    person = launch.person
    try:
        if action == "verify":
            learner_emails.learner_email_verify(learner=person, email_id=email_id, code=request.POST.get("code", ""))
        elif action == "remove":
            learner_emails.learner_email_remove(learner=person, email_id=email_id)
        else:
            row = person.extra_emails.filter(pk=email_id).first()
            if row is None:
                raise learner_emails.EmailNotFound(email_id)
            learner_emails.learner_email_add(learner=person, email=row.email)
    except learner_emails.EmailNotFound:
        raise Http404("No such address")
    except learner_emails.EmailRefused as exc:
        return _page(request, launch, error=str(exc), status=400)
    return _back(launch, {"verify": "verified", "remove": "email_removed", "resend": "code_sent"}[action], "emails")


@_backpack_post
def award_reissue(request, launch: LaunchContext, award_public_id: str):
    try:
        email_id = int(request.POST.get("email", ""))
    except ValueError:
        return _refused(request, 400, _("Choose one of your verified addresses."))
    try:
        copy = learner_emails.award_reissue(
            learner=launch.person, award_public_id=award_public_id, email_id=email_id, old=request.POST.get("old", "")
        )
    except learner_emails.EmailNotFound:
        raise Http404("No such award or address")
    except learner_emails.EmailRefused as exc:
        return _badge_page(request, launch, award_public_id, error=str(exc), status=400)
    return _back_to_badge(launch, copy.public_id, "reissued")


# --- Public -------------------------------------------------------------------------------------


def _public_collection_or_404(public_id: str) -> selectors.PublicCollection:
    public = selectors.collection_public_get(public_id=public_id)
    if public is None:
        # Never shared, unshared or deleted: indistinguishable from a link that never existed.
        raise Http404("No such collection")
    return public


def _cached(response: HttpResponse) -> HttpResponse:
    """Caches may keep a copy but must ask again before each use: once the learner stops sharing,
    or a badge is revoked, the very next view reflects it."""
    response["Cache-Control"] = "no-cache"
    return response


@require_safe
def public_collection(request, public_id: str):
    public = _public_collection_or_404(public_id)
    links = public_links(request)
    mode = negotiate(request)
    if mode == "json":
        return _vary(
            _json(request, selectors.collection_document(public=public, links=links), content_type="application/json")
        )
    first = public.awards[0].badge_class.public_id if public.awards else None
    share = selectors.collection_share_links(collection=public.collection, links=links, first_badge_id=first)
    count = len(public.awards)
    description = _("%(count)d Open Badges, each verifiable on the issuer's page.") % {"count": count}
    if mode == "og":
        return _vary(
            _cached(
                _og_page(
                    request,
                    title=public.collection.name,
                    description=description,
                    image=links.badge_card(first) if first else "",
                    url=share.url,
                )
            )
        )
    context = {
        "public": public,
        "links": links,
        "share": share,
        "description": description,
        "card_url": links.badge_card(first) if first else "",
        "json_url": links.collection_json(public.collection.public_id),
        "badges": [
            {
                "award": award,
                "page_url": links.assertion(award.public_id),
                "image_url": links.badge_class_image(award.badge_class.public_id),
            }
            for award in public.awards
        ],
    }
    return _vary(_cached(render(request, "badging/backpack/public_collection.html", context)))


@require_safe
def public_collection_json(request, public_id: str):
    public = _public_collection_or_404(public_id)
    document = selectors.collection_document(public=public, links=public_links(request))
    return _cached(_json(request, document, content_type="application/json"))


@require_safe
def badge_card(request, public_id: str):
    badge = award_selectors.badge_class_public_get(public_id=public_id)
    if badge is None or not badge.image:
        raise Http404("No such badge")
    png = badge_card_png(
        name=badge.name, issuer_name=badge.issuer.name, image=bytes(badge.image), content_type=badge.image_content_type
    )
    response = HttpResponse(png, content_type="image/png")
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


urlpatterns = [
    path("l/<str:launch_id>/my-badges/", my_badges, name="my_badges"),
    path("l/<str:launch_id>/my-badges/badges/<slug:award_public_id>/", my_badge, name="my_badge"),
    path("l/<str:launch_id>/my-badges/collections/", collection_create, name="backpack_collection_create"),
    path(
        "l/<str:launch_id>/my-badges/collections/<slug:collection_id>/",
        collection_change,
        name="backpack_collection_change",
    ),
    path("l/<str:launch_id>/my-badges/collection-badges/", collection_badge, name="backpack_collection_badge"),
    path("l/<str:launch_id>/my-badges/awards/<slug:award_public_id>/name/", award_name, name="backpack_award_name"),
    path("l/<str:launch_id>/my-badges/emails/", email_add, name="backpack_email_add"),
    path("l/<str:launch_id>/my-badges/emails/<int:email_id>/", email_change, name="backpack_email_change"),
    path(
        "l/<str:launch_id>/my-badges/awards/<slug:award_public_id>/reissue/",
        award_reissue,
        name="backpack_award_reissue",
    ),
    path("public/collections/<slug:public_id>", public_collection, name="public-collection"),
    path("public/collections/<slug:public_id>.json", public_collection_json, name="public-collection-json"),
    path("public/badges/<slug:public_id>/card.png", badge_card, name="public-badge-card"),
]
