"""Canvas Credentials (Badgr) API v2: the only code that speaks to it.

When an admin enables a CanvasCredentialsConnection for an issuer, each award of a mapped badge
class is also issued there (POST /v2/badgeclasses/{entityId}/assertions) and its revocation is
propagated (DELETE /v2/assertions/{entityId}). Tokens come from POST /o/token (password grant,
or client credentials when a client id/secret is set) and are refreshed on expiry or a 401.
A failure here never undoes the local award: the Delivery row records it and is retried.
"""

from __future__ import annotations

import logging
from datetime import timedelta

import requests
from django.utils import timezone

from badging.models import AuditEvent, CanvasCredentialsConnection, Delivery
from badging.openbadges.links import PublicLinks
from badging.openbadges.ob2 import ob_datetime
from skillsforward.outbound import outbound_session

logger = logging.getLogger(__name__)

TIMEOUT = 20
SCOPE = "rw:issuer"
REVOKED_ACTION = "canvas_credentials_revoked"


class CanvasCredentialsError(Exception):
    """A failed Canvas Credentials call, in words an admin can act on."""


def _base(connection: CanvasCredentialsConnection) -> str:
    return connection.api_base_url.rstrip("/")


def _token_request(connection: CanvasCredentialsConnection, data: dict) -> dict:
    try:
        response = outbound_session(timeout=TIMEOUT).post(f"{_base(connection)}/o/token", data=data)
    except requests.RequestException as exc:
        raise CanvasCredentialsError(f"Canvas Credentials is unreachable: {exc}") from exc
    if response.status_code == 429:
        raise CanvasCredentialsError("Canvas Credentials is throttling logins (429); will retry later.")
    if response.status_code >= 400:
        raise CanvasCredentialsError(
            f"Canvas Credentials refused the login ({response.status_code}): {response.text[:300]}"
        )
    return response.json()


def _token_fetch(connection: CanvasCredentialsConnection) -> None:
    """Get a fresh access token (refresh token first, then the configured grant) and store it."""
    payload = None
    if connection.refresh_token:
        try:
            payload = _token_request(
                connection, {"grant_type": "refresh_token", "refresh_token": connection.refresh_token}
            )
        except CanvasCredentialsError:
            payload = None  # an expired refresh token: fall back to the configured grant
    if payload is None:
        if connection.client_id and connection.client_secret:
            data = {
                "grant_type": "client_credentials",
                "client_id": connection.client_id,
                "client_secret": connection.client_secret,
                "scope": SCOPE,
            }
        elif connection.username and connection.password:
            data = {
                "grant_type": "password",
                "username": connection.username,
                "password": connection.password,
                "scope": SCOPE,
            }
        else:
            raise CanvasCredentialsError("No Canvas Credentials login is configured (username/password or client).")
        payload = _token_request(connection, data)
    connection.access_token = payload["access_token"]
    connection.refresh_token = payload.get("refresh_token", "") or ""
    connection.token_expires_at = timezone.now() + timedelta(seconds=int(payload.get("expires_in", 3600)))
    CanvasCredentialsConnection.objects.filter(pk=connection.pk).update(
        access_token=connection.access_token,
        refresh_token=connection.refresh_token,
        token_expires_at=connection.token_expires_at,
    )


def _call(connection: CanvasCredentialsConnection, method: str, path: str, **kwargs) -> requests.Response:
    """One API call with a valid token; on 401 the token is renewed once and the call repeated."""
    expired = not connection.token_expires_at or connection.token_expires_at <= timezone.now() + timedelta(minutes=1)
    if not connection.access_token or expired:
        _token_fetch(connection)
    for attempt in (1, 2):
        try:
            response = outbound_session(timeout=TIMEOUT).request(
                method,
                f"{_base(connection)}{path}",
                headers={"Authorization": f"Bearer {connection.access_token}"},
                timeout=TIMEOUT,
                **kwargs,
            )
        except requests.RequestException as exc:
            raise CanvasCredentialsError(f"Canvas Credentials is unreachable: {exc}") from exc
        if response.status_code == 401 and attempt == 1:
            _token_fetch(connection)
            continue
        return response
    return response


def _error(response: requests.Response, what: str) -> CanvasCredentialsError:
    try:
        body = response.json()
        status = body.get("status", {})
        detail = status.get("description") or body
        if body.get("fieldErrors") or body.get("validationErrors"):
            detail = f"{detail} {body.get('fieldErrors') or ''} {body.get('validationErrors') or ''}".strip()
    except ValueError:
        detail = response.text[:300]
    return CanvasCredentialsError(f"Canvas Credentials refused to {what} ({response.status_code}): {detail}")


def _connection_for(delivery: Delivery) -> tuple[CanvasCredentialsConnection, str]:
    badge_class = delivery.award.badge_class
    connection = CanvasCredentialsConnection.objects.filter(issuer_id=badge_class.issuer_id).first()
    if connection is None or not connection.enabled:
        raise CanvasCredentialsError("Canvas Credentials is not enabled for this issuer.")
    entity_id = (connection.badge_class_entity_ids or {}).get(badge_class.key)
    if not entity_id:
        raise CanvasCredentialsError(f"No Canvas Credentials badge class is mapped for “{badge_class.key}”.")
    return connection, entity_id


def _existing_assertion(connection, entity_id: str, email: str) -> str | None:
    """The entityId of a live assertion already issued there to this email (a retry after a
    timeout must not issue a second one)."""
    response = _call(connection, "GET", f"/v2/badgeclasses/{entity_id}/assertions", params={"recipient": email})
    if response.status_code != 200:
        return None
    for item in response.json().get("result", []):
        if not item.get("revoked"):
            return item.get("entityId")
    return None


def canvas_credentials_prepare(*, delivery: Delivery) -> None:
    """Make sure a valid token is stored before the push (outside the delivery's transaction, so
    that a failed push does not roll the new token back and cause a login per retry)."""
    connection, _entity_id = _connection_for(delivery)
    expired = not connection.token_expires_at or connection.token_expires_at <= timezone.now() + timedelta(minutes=1)
    if not connection.access_token or expired:
        _token_fetch(connection)


def canvas_credentials_failed(*, delivery: Delivery, error: Exception) -> None:
    """Show the failure on the connection too (admins look there first)."""
    CanvasCredentialsConnection.objects.filter(issuer_id=delivery.award.badge_class.issuer_id).update(
        last_error=str(error)[:2000]
    )


def canvas_credentials_issue(*, delivery: Delivery, links: PublicLinks) -> str:
    """Issue the award in Canvas Credentials; returns the assertion's entityId there."""
    award = delivery.award
    connection, entity_id = _connection_for(delivery)
    if delivery.attempts >= 1 and (found := _existing_assertion(connection, entity_id, award.recipient_email)):
        return found  # a previous attempt got through but its answer was lost
    body = {
        "recipient": {"identity": award.recipient_email, "type": "email", "hashed": True},
        "notify": connection.notify_recipients,
        "issuedOn": ob_datetime(award.issued_on),
        "expires": ob_datetime(award.expires) if award.expires else None,
        "narrative": award.evidence_narrative,
        "evidence": [{"url": links.assertion(award.public_id), "narrative": award.evidence_narrative}],
        "allowDuplicateAwards": False,
    }
    response = _call(connection, "POST", f"/v2/badgeclasses/{entity_id}/assertions", json=body)
    if response.status_code not in (200, 201):
        raise _error(response, "issue the badge")
    result = response.json().get("result") or []
    if not result or not result[0].get("entityId"):
        raise CanvasCredentialsError("Canvas Credentials answered without an assertion entityId.")
    CanvasCredentialsConnection.objects.filter(pk=connection.pk).exclude(last_error="").update(last_error="")
    return result[0]["entityId"]


def canvas_credentials_revoke(*, delivery_id: int) -> Delivery | None:
    """Revoke the Canvas Credentials copy of a revoked award (DELETE /v2/assertions/{entityId}).

    Idempotent (a 404 there counts as done; done is recorded as an AuditEvent). Raises
    CanvasCredentialsError on failure, after recording it on the Delivery, so the task retries.
    """
    delivery = (
        Delivery.objects.select_related("award__badge_class", "award__course_badge").filter(pk=delivery_id).first()
    )
    if delivery is None or not delivery.external_id or not delivery.award.revoked:
        return delivery
    done = AuditEvent.objects.filter(award=delivery.award, action=REVOKED_ACTION)
    if done.exists():
        return delivery
    connection, _entity = _connection_for(delivery)
    try:
        response = _call(
            connection,
            "DELETE",
            f"/v2/assertions/{delivery.external_id}",
            json={"revocation_reason": delivery.award.revocation_reason},
        )
        if response.status_code not in (200, 204, 404):
            raise _error(response, "revoke the badge")
    except CanvasCredentialsError as exc:
        Delivery.objects.filter(pk=delivery.pk).update(last_error=f"Revocation not propagated yet: {exc}"[:2000])
        raise
    AuditEvent.objects.create(
        actor="system",
        action=REVOKED_ACTION,
        course_id=delivery.award.course_badge.course_id,
        award=delivery.award,
        detail={"entity_id": delivery.external_id},
    )
    Delivery.objects.filter(pk=delivery.pk).update(last_error="")
    return delivery
