"""OpenID for Verifiable Credential Issuance endpoints (what a wallet calls) and the learner's
"Add to a wallet" page (QR code + deep link). The protocol lives in badging.services.wallet."""

import json

import segno
from django.http import Http404, JsonResponse
from django.shortcuts import render
from django.urls import path
from django.utils.crypto import constant_time_compare
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST, require_safe

from badging.openbadges.links import public_links
from badging.services import wallet
from badging.services.sharing import AwardNotYours
from badging.views.learner import _refused, wallet_form_token
from lti.launch import launch_context_required, request_from_this_site
from lti.models import LaunchContext


def _no_store(response):
    # RFC 6749 §5.1: token responses (and credentials) must not be cached.
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def _error(exc: wallet.WalletError) -> JsonResponse:
    response = JsonResponse(exc.body(), status=exc.status)
    if exc.status == 401:
        response["WWW-Authenticate"] = f'Bearer error="{exc.error}"'
    return _no_store(response)


@require_safe
def credential_issuer_metadata(request):
    response = JsonResponse(wallet.issuer_metadata(links=public_links(request)))
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_safe
def authorization_server_metadata(request):
    response = JsonResponse(wallet.authorization_server_metadata(links=public_links(request)))
    response["Access-Control-Allow-Origin"] = "*"
    return response


@csrf_exempt  # a wallet's OAuth token request: no cookies, authorised by the pre-authorised code
@require_POST
def token(request):
    try:
        body = wallet.wallet_token_exchange(
            grant_type=request.POST.get("grant_type", ""),
            pre_authorized_code=request.POST.get("pre-authorized_code", ""),
        )
    except wallet.WalletError as exc:
        return _error(exc)
    return _no_store(JsonResponse(body))


@csrf_exempt  # a wallet's request, no cookies: a nonce is no secret, it only makes a proof fresh
@require_POST
def nonce(request):
    return _no_store(JsonResponse(wallet.wallet_nonce_issue()))


@csrf_exempt  # a wallet's request: authorised by its bearer access token, not a cookie
@require_POST
def credential(request):
    authorization = request.headers.get("Authorization", "")
    scheme, _, access_token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not access_token.strip():
        return _error(wallet.WalletError("invalid_token", "A bearer access token is required.", status=401))
    try:
        body = json.loads(request.body or b"null")
    except ValueError:
        body = None
    try:
        issued = wallet.wallet_credential_issue(
            access_token=access_token.strip(), body=body, links=public_links(request)
        )
    except wallet.WalletError as exc:
        return _error(exc)
    return _no_store(JsonResponse(issued))


@csrf_exempt  # protected by wallet_form_token and the Origin check, like the share form
@require_POST
@launch_context_required
def learner_wallet_offer(request, launch: LaunchContext, award_public_id: str):
    if not request_from_this_site(request):
        return _refused(request, 403, _("This request came from another site, so it was refused."))
    if not constant_time_compare(request.POST.get("token", ""), wallet_form_token(launch)):
        return _refused(request, 403, _("This form is no longer valid."))
    if launch.concluded:
        return _refused(request, 403, _("Your enrollment in this course has concluded: this page is read-only."))
    links = public_links(request)
    try:
        offer, uri = wallet.wallet_offer_create(award_public_id=award_public_id, learner=launch.person, links=links)
    except AwardNotYours:
        raise Http404("No such award")
    qr = segno.make(uri, error="m")
    response = render(
        request,
        "badging/learner/wallet.html",
        {
            "launch": launch,
            "award": offer.award,
            "badge": offer.award.badge_class,
            "offer_uri": uri,
            "qr_svg": qr.svg_inline(scale=4, dark="#1b1b1b", title="QR code of the credential offer"),
            "expires_at": offer.code_expires_at,
            "credential_url": links.credential_json(offer.award.public_id) + "?download",
        },
    )
    return _no_store(response)


urlpatterns = [
    path(".well-known/openid-credential-issuer", credential_issuer_metadata, name="oid4vci-issuer-metadata"),
    path(".well-known/oauth-authorization-server", authorization_server_metadata, name="oid4vci-as-metadata"),
    path("oid4vci/token", token, name="oid4vci-token"),
    path("oid4vci/nonce", nonce, name="oid4vci-nonce"),
    path("oid4vci/credential", credential, name="oid4vci-credential"),
    path("l/<str:launch_id>/awards/<str:award_public_id>/wallet/", learner_wallet_offer, name="learner_award_wallet"),
]
