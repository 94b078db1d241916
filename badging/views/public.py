"""Public, stable pages and documents of issued badges: no login, no Canvas, opaque ids.

One URL per document (OB 2.0 hosted verification): JSON-LD for machines, an HTML page for
people, a small OpenGraph page for link-preview crawlers (content negotiation on Accept and
User-Agent). Revoked assertions answer 410 Gone with {id, revoked, revocationReason}.
"""

import json
import re

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.cache import patch_vary_headers
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_safe

from badging import images
from badging.openbadges import keys, ob2
from badging.openbadges.links import public_links
from badging.selectors import awards as selectors
from badging.services.issuance import documents
from skillsforward.ratelimit import client_address, rate_limit_exceeded

CRAWLERS = re.compile(
    r"LinkedInBot|Slackbot|Twitterbot|facebookexternalhit|Discordbot|WhatsApp|TelegramBot|redditbot|Applebot|"
    r"Mastodon|SkypeUriPreview|Embedly",
    re.IGNORECASE,
)
JSON_MAX_AGE = 60
# Badge images opened on their own (an SVG is a document) run nothing and load nothing, even if
# validation ever let something through; inline styles are how SVGs are drawn.
IMAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"
# "Was this issued to this address?" answers only yes or no, but unthrottled it would let anyone try
# a list of addresses against an assertion. Limits, checked in this order (a refused check counts
# against no later limit, so one client spending its checks does not use up anyone else's):
# - per client and assertion: a person checking an address or two never meets it;
# - per client over all assertions: one client cannot sweep an address across many badges;
# - per assertion whatever the client: caps a distributed guesser, set well above the first so
#   that it takes many clients, not one, to hold up the checks of a badge's real verifiers.
CHECKS_PER_CLIENT = 10
CHECKS_PER_CLIENT_WINDOW = 600
CHECKS_PER_CLIENT_ALL_AWARDS = 60
CHECKS_PER_CLIENT_ALL_AWARDS_WINDOW = 3600
CHECKS_PER_AWARD = 300
CHECKS_PER_AWARD_WINDOW = 3600


# Content negotiation is Django's (HttpRequest.get_preferred_type: q-values, then the more specific
# range); the order of each list breaks ties, so machines that ask for nothing in particular
# (no Accept, or */*) get JSON-LD.
JSON_TYPES = ["application/ld+json", "application/json"]
HTML_TYPES = ["text/html", "application/xhtml+xml"]


def negotiate(request) -> str:
    """'json', 'html' or 'og' (link preview). Machines asking for nothing in particular get JSON."""
    fmt = request.GET.get("format")
    if fmt in ("json", "html"):
        return fmt
    if CRAWLERS.search(request.headers.get("User-Agent", "")):
        return "og"
    return "html" if request.get_preferred_type([*JSON_TYPES, *HTML_TYPES]) in HTML_TYPES else "json"


def _json_type(request) -> str:
    return request.get_preferred_type(JSON_TYPES) or JSON_TYPES[0]


def _json(request, document: dict, *, status: int = 200, content_type: str | None = None) -> HttpResponse:
    response = HttpResponse(
        json.dumps(document, ensure_ascii=False, indent=2),
        status=status,
        content_type=f"{content_type or _json_type(request)}; charset=utf-8",
    )
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = f"public, max-age={JSON_MAX_AGE}"
    return response


def _vary(response: HttpResponse) -> HttpResponse:
    patch_vary_headers(response, ("Accept", "User-Agent"))
    return response


def _award_or_404(public_id: str):
    award = selectors.award_public_get(public_id=public_id)
    if award is None:
        raise Http404("No such badge")
    return award


def _award_with_documents(request, public_id: str):
    return _documents_ensured(request, _award_or_404(public_id))


def _documents_ensured(request, award):
    if award.ob3_credential is None:
        # Issued while no PUBLIC_BASE_URL was configured: sign and bake now, for this host.
        award = documents.award_documents_ensure(award_id=award.pk, base_url=public_links(request).base)
    return award


def _award_page(request, award, *, status: int = 200, check_result: str | None = None, checked_email: str = ""):
    links = public_links(request)
    context = {
        "award": award,
        "badge": award.badge_class,
        "issuer": award.badge_class.issuer,
        "links": selectors.award_links(award, links=links),
        "expired": bool(award.expires and award.expires <= timezone.now()),
        "check_result": check_result,
        "checked_email": checked_email,
        "learner_name": award.learner.name if award.learner_name_public and not award.revoked else "",
        "badge_image_url": links.badge_class_image(award.badge_class.public_id),
        "badge_card_url": links.badge_card(award.badge_class.public_id),
    }
    return render(request, "badging/public/assertion.html", context, status=status)


def _og_page(request, *, title: str, description: str, image: str, url: str, status: int = 200):
    context = {"title": title, "description": description, "image": image, "url": url}
    return render(request, "badging/public/opengraph.html", context, status=status)


@require_safe
def assertion(request, public_id: str):
    award = _award_or_404(public_id)
    links = public_links(request)
    mode = negotiate(request)
    status = 410 if award.revoked else 200
    if mode == "json":
        if award.revoked:
            document = ob2.revoked_assertion_document(award, links)
        else:
            document = ob2.assertion_document(award, links)
        return _vary(_json(request, document, status=status))
    if mode == "og":
        badge = award.badge_class
        title = f"{badge.name} (revoked)" if award.revoked else f"{badge.name} · {badge.issuer.name}"
        return _vary(
            _og_page(
                request,
                title=title,
                description=badge.description,
                # The 1200×630 PNG card: crawlers crop to about 1.91:1 and refuse SVG.
                image=links.badge_card(badge.public_id),
                url=links.assertion(award.public_id),
                status=status,
            )
        )
    return _vary(_award_page(request, award, status=status))


def _check_limited(*, client: str, award_id: str) -> int:
    """Seconds to wait when this check is over a limit, else 0 (see CHECKS_PER_* above)."""
    limits = [
        (f"check:client-award:{client}:{award_id}", CHECKS_PER_CLIENT, CHECKS_PER_CLIENT_WINDOW),
        (f"check:client:{client}", CHECKS_PER_CLIENT_ALL_AWARDS, CHECKS_PER_CLIENT_ALL_AWARDS_WINDOW),
        (f"check:award:{award_id}", CHECKS_PER_AWARD, CHECKS_PER_AWARD_WINDOW),
    ]
    for key, limit, window in limits:
        if rate_limit_exceeded(key=key, limit=limit, window_seconds=window):
            return window
    return 0


@csrf_exempt  # a read-only question ("was it issued to this address?"), nothing changes
@require_http_methods(["POST"])
def assertion_check(request, public_id: str):
    award = _award_or_404(public_id)
    email = request.POST.get("email", "")[:320]
    status = 410 if award.revoked else 200
    retry_after = _check_limited(client=client_address(request), award_id=award.public_id)
    if retry_after:
        response = _award_page(request, award, status=429, check_result="limited", checked_email=email.strip())
        response["Retry-After"] = str(retry_after)
        return response
    if not ob2.normalise_email(email):
        result = "empty"
    else:
        result = "yes" if selectors.award_recipient_matches(award=award, email=email) else "no"
    # The address typed is echoed back to the person who typed it; the recipient's is never shown.
    return _award_page(request, award, status=status, check_result=result, checked_email=email.strip())


def _image(data: bytes | memoryview, content_type: str) -> HttpResponse:
    response = HttpResponse(bytes(data), content_type=content_type)
    response["Content-Security-Policy"] = IMAGE_CSP
    return response


def _image_response(image, *, filename: str, download: bool) -> HttpResponse:
    response = _image(image.data, image.content_type.split(";")[0])
    disposition = "attachment" if download else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{filename}"'
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _assertion_image(request, award, *, content_type: str, extension: str):
    award = _documents_ensured(request, award)
    if award.revoked:
        # Still an image (a wallet or a page embedding it shows a revoked badge, not a broken
        # picture), but not the baked one: that carries the credential.
        badge = award.badge_class
        data, marked_type = images.revoked_marked(bytes(badge.image), badge.image_content_type)
        response = _image(data, marked_type)
        response["Cache-Control"] = "public, max-age=300"
        response["Access-Control-Allow-Origin"] = "*"
        return response
    image = selectors.award_image_get(award=award, content_type=content_type)
    if image is None:
        raise Http404("No such image for this badge")
    return _image_response(image, filename=f"badge-{award.public_id}.{extension}", download="download" in request.GET)


@require_safe
def assertion_image(request, public_id: str):
    award = _award_or_404(public_id)
    svg = ob2.is_svg(award.badge_class.image_content_type)
    return _assertion_image(
        request,
        award,
        content_type="image/svg+xml" if svg else "image/png",
        extension="svg" if svg else "png",
    )


@require_safe
def assertion_image_svg(request, public_id: str):
    return _assertion_image(request, _award_or_404(public_id), content_type="image/svg+xml", extension="svg")


@require_safe
def assertion_ob3_image(request, public_id: str):
    award = _award_or_404(public_id)
    svg = ob2.is_svg(award.badge_class.image_content_type)
    return _assertion_image(
        request,
        award,
        content_type=documents.OB3_SVG if svg else documents.OB3_PNG,
        extension="ob3.svg" if svg else "ob3.png",
    )


# VC-JOSE-COSE §6.1.1: the media type of a VC secured as a JWT (OB 3.0 §8.2).
VC_JWT = "application/vc+jwt"


def _wants_jwt(request) -> bool:
    """Asked for by name: a wildcard alone gets the JSON-LD (listed first)."""
    return request.get_preferred_type([*JSON_TYPES, VC_JWT, "application/jwt"]) in (VC_JWT, "application/jwt")


def _jwt_response(request, award) -> HttpResponse:
    response = HttpResponse(award.ob3_jwt, content_type=VC_JWT, status=410 if award.revoked else 200)
    response["Access-Control-Allow-Origin"] = "*"
    if "download" in request.GET:
        response["Content-Disposition"] = f'attachment; filename="badge-{award.public_id}.jwt"'
    return response


@require_safe
def assertion_ob3(request, public_id: str):
    """The credential at its id: the Data Integrity JSON-LD, or the VC-JWT for Accept: application/vc+jwt."""
    award = _award_with_documents(request, public_id)
    if _wants_jwt(request):
        return _vary(_jwt_response(request, award))
    # A revoked credential answers 410 like every URL of a revoked award; the body stays, as its
    # status list entry is what an OB 3.0 verifier checks.
    status = 410 if award.revoked else 200
    response = _json(request, award.ob3_credential, content_type="application/ld+json", status=status)
    if "download" in request.GET:
        response["Content-Disposition"] = f'attachment; filename="badge-{award.public_id}.ob3.json"'
    return _vary(response)


@require_safe
def assertion_jwt(request, public_id: str):
    return _jwt_response(request, _award_with_documents(request, public_id))


@require_safe
def assertion_evidence(request, public_id: str):
    award = _award_or_404(public_id)
    links = public_links(request)
    return render(
        request,
        "badging/public/evidence.html",
        {"award": award, "badge": award.badge_class, "links": selectors.award_links(award, links=links)},
        status=410 if award.revoked else 200,
    )


@require_safe
def badge_class(request, public_id: str):
    badge = selectors.badge_class_public_get(public_id=public_id)
    if badge is None:
        raise Http404("No such badge class")
    links = public_links(request)
    mode = negotiate(request)
    if mode == "json":
        return _vary(_json(request, ob2.badge_class_document(badge, links)))
    if mode == "og":
        return _vary(
            _og_page(
                request,
                title=f"{badge.name} · {badge.issuer.name}",
                description=badge.description,
                image=links.badge_class_image(badge.public_id),
                url=links.badge_class(badge.public_id),
            )
        )
    context = {"badge": badge, "issuer": badge.issuer, "alignments": ob2.alignments(badge), "links": links}
    return _vary(render(request, "badging/public/badge_class.html", context))


@require_safe
def badge_class_image(request, public_id: str):
    badge = selectors.badge_class_public_get(public_id=public_id)
    if badge is None or not badge.image:
        raise Http404("No such badge image")
    response = _image(badge.image, badge.image_content_type)
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def issuer(request, public_id: str):
    found = selectors.issuer_public_get(public_id=public_id)
    if found is None:
        raise Http404("No such issuer")
    links = public_links(request)
    if negotiate(request) in ("json",):
        return _vary(_json(request, ob2.issuer_document(found, links)))
    return _vary(render(request, "badging/public/issuer.html", {"issuer": found, "links": links}))


@require_safe
def issuer_image(request, public_id: str):
    found = selectors.issuer_public_get(public_id=public_id)
    if found is None or not found.image:
        raise Http404("No issuer image")
    response = _image(found.image, found.image_content_type or "image/png")
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_safe
def issuer_key(request, public_id: str, kid: str):
    found = selectors.issuer_public_get(public_id=public_id)
    key = selectors.issuer_key_public_get(issuer=found, kid=kid) if found else None
    if found is None or key is None:
        raise Http404("No such key")
    links = public_links(request)
    document = keys.key_document(
        key_url=links.issuer_key(found.public_id, key.public_id),
        controller=links.issuer_did(found.public_id),
        algorithm=key.algorithm,
        public_jwk=key.public_jwk,
    )
    return _json(request, document, content_type="application/json" if key.algorithm == keys.RS256 else None)


@require_safe
def issuer_did_document(request, public_id: str):
    """The did:web DID document of an issuer (OB 3.0 credentials name the DID as their issuer)."""
    found = selectors.issuer_public_get(public_id=public_id)
    if found is None:
        raise Http404("No such issuer")
    links = public_links(request)
    document = keys.did_document(
        did=links.issuer_did(found.public_id),
        also_known_as=links.issuer(found.public_id),
        ed25519_keys=[
            (links.issuer_verification_method(found.public_id, key.public_id), key.public_jwk)
            for key in selectors.issuer_keys_published(issuer=found, algorithm=keys.ED25519)
        ],
    )
    response = _json(request, document, content_type="application/did+ld+json")
    response["Cache-Control"] = "public, max-age=300"
    return response


@require_safe
def status_list(request, public_id: str, list_number: int):
    found = selectors.issuer_public_get(public_id=public_id)
    if found is None:
        raise Http404("No such issuer")
    document = documents.status_list_render(issuer=found, list_number=list_number, links=public_links(request))
    if document is None:
        raise Http404("No such status list")
    response = _json(request, document, content_type="application/ld+json")
    response["Cache-Control"] = "public, max-age=30"
    return response


urlpatterns = [
    path("public/assertions/<slug:public_id>", assertion, name="public-assertion"),
    path("public/assertions/<slug:public_id>.ob3.json", assertion_ob3, name="public-assertion-ob3"),
    path("public/assertions/<slug:public_id>.jwt", assertion_jwt, name="public-assertion-jwt"),
    path("public/assertions/<slug:public_id>/check", assertion_check, name="public-assertion-check"),
    path("public/assertions/<slug:public_id>/image", assertion_image, name="public-assertion-image"),
    path("public/assertions/<slug:public_id>/image.svg", assertion_image_svg, name="public-assertion-image-svg"),
    path("public/assertions/<slug:public_id>/image.ob3", assertion_ob3_image, name="public-assertion-ob3-image"),
    path("public/assertions/<slug:public_id>/evidence", assertion_evidence, name="public-assertion-evidence"),
    path("public/badges/<slug:public_id>", badge_class, name="public-badge"),
    path("public/badges/<slug:public_id>/image", badge_class_image, name="public-badge-image"),
    path("public/issuers/<slug:public_id>", issuer, name="public-issuer"),
    path("public/issuers/<slug:public_id>/image", issuer_image, name="public-issuer-image"),
    path("public/issuers/<slug:public_id>/did.json", issuer_did_document, name="public-issuer-did"),
    path("public/issuers/<slug:public_id>/keys/<slug:kid>", issuer_key, name="public-issuer-key"),
    path("public/status/<slug:public_id>/<int:list_number>", status_list, name="public-status-list"),
]
