"""Talking to Canvas Credentials (Badgr): logins (tokens, refreshed on expiry or a 401; a refused
login not tried again until the credentials change), calls through the outbound guard, errors in
words an admin can act on, and which Badgr badge class a badge class is mapped to."""

from __future__ import annotations

import logging
from datetime import timedelta

import requests
from django.utils import timezone

from badging.models import CanvasCredentialsConnection, Delivery
from skillsforward.outbound import outbound_session

logger = logging.getLogger(__name__)

TIMEOUT = 20
SCOPE = "rw:issuer"


class CanvasCredentialsError(Exception):
    """A failed Canvas Credentials call, in words an admin can act on. Passing: retried later."""

    permanent = False


class CanvasCredentialsRefused(CanvasCredentialsError):
    """Canvas Credentials refused the request itself: the same request can never succeed, so it
    is shown and not retried until an admin fixes the cause (and retries or resyncs)."""

    permanent = True


class CanvasCredentialsLoginRefused(CanvasCredentialsRefused):
    """The login itself was refused (wrong password, client id or secret, or scope)."""


def _base(connection: CanvasCredentialsConnection) -> str:
    return connection.api_base_url.rstrip("/")


def _token_request(connection: CanvasCredentialsConnection, data: dict) -> dict:
    try:
        response = outbound_session(timeout=TIMEOUT).post(f"{_base(connection)}/o/token", data=data)
    except requests.RequestException as exc:
        raise CanvasCredentialsError(f"Canvas Credentials is unreachable: {exc}") from exc
    if response.status_code == 429:
        raise CanvasCredentialsError("Canvas Credentials is throttling logins (429); will retry later.")
    if response.status_code in (400, 401):
        # badgr-server: invalid_grant / invalid_client / "invalid scope requested" (mainsite/oauth2_api.py).
        raise CanvasCredentialsLoginRefused(
            f"Canvas Credentials refused the login ({response.status_code}): {_answer(response)}"
        )
    if response.status_code >= 400:
        raise CanvasCredentialsError(f"Canvas Credentials login failed ({response.status_code}): {_answer(response)}")
    return response.json()


def _login_refused_record(connection: CanvasCredentialsConnection, error: Exception) -> None:
    now = timezone.now()
    CanvasCredentialsConnection.objects.filter(pk=connection.pk).update(
        login_refused_at=now,
        login_refused_fingerprint=connection.credentials_fingerprint(),
        last_error=str(error)[:2000],
    )
    connection.login_refused_at, connection.login_refused_fingerprint = now, connection.credentials_fingerprint()


def _token_fetch(connection: CanvasCredentialsConnection) -> None:
    """Get a fresh access token (client credentials; else the refresh token, then the password) and store it.

    Raises CanvasCredentialsLoginRefused without calling Canvas Credentials while these very
    credentials stand refused."""
    if connection.login_refused:
        raise CanvasCredentialsLoginRefused(
            f"Canvas Credentials refused this login on {connection.login_refused_at:%Y-%m-%d %H:%M} UTC; "
            "not trying again until an admin changes the credentials of the connection."
        )
    payload = None
    client_credentials = bool(connection.client_id and connection.client_secret)
    # With client credentials a new grant costs no more than a refresh, and a refused refresh
    # (no username) would back Badgr's token endpoint off for our whole address, this grant included.
    if connection.refresh_token and not client_credentials:
        try:
            payload = _token_request(
                connection, {"grant_type": "refresh_token", "refresh_token": connection.refresh_token}
            )
        except CanvasCredentialsError:
            payload = None  # an expired refresh token: fall back to the configured grant
    if payload is None:
        if client_credentials:
            # Preferred: Badgr limits these tokens to the scope asked for and allowed to the app.
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
                "scope": SCOPE,  # ignored by Badgr, which grants rw:profile rw:issuer rw:backpack
            }
        else:
            raise CanvasCredentialsRefused(
                "No Canvas Credentials login is configured (client id and secret, or username and password)."
            )
        try:
            payload = _token_request(connection, data)
        except CanvasCredentialsLoginRefused as exc:
            _login_refused_record(connection, exc)
            raise
    connection.access_token = payload["access_token"]
    connection.refresh_token = payload.get("refresh_token", "") or ""
    connection.token_expires_at = timezone.now() + timedelta(seconds=int(payload.get("expires_in", 3600)))
    connection.token_scope = str(payload.get("scope", ""))[:300]
    connection.login_refused_at, connection.login_refused_fingerprint = None, ""
    CanvasCredentialsConnection.objects.filter(pk=connection.pk).update(
        access_token=connection.access_token,
        refresh_token=connection.refresh_token,
        token_expires_at=connection.token_expires_at,
        token_scope=connection.token_scope,
        login_refused_at=None,
        login_refused_fingerprint="",
    )


def _token_valid(connection: CanvasCredentialsConnection) -> bool:
    expired = not connection.token_expires_at or connection.token_expires_at <= timezone.now() + timedelta(minutes=1)
    return bool(connection.access_token) and not expired


def _call(
    connection: CanvasCredentialsConnection, method: str, path: str, *, authenticated: bool = True, **kwargs
) -> requests.Response:
    """One API call with a valid token (or none, for Badgr's public pages); on 401 the token is
    renewed once and the call repeated."""
    if authenticated and not _token_valid(connection):
        _token_fetch(connection)
    for attempt in (1, 2):
        headers = {"Accept": "application/json"}
        if authenticated:
            headers["Authorization"] = f"Bearer {connection.access_token}"
        try:
            response = outbound_session(timeout=TIMEOUT).request(
                method, f"{_base(connection)}{path}", headers=headers, timeout=TIMEOUT, **kwargs
            )
        except requests.RequestException as exc:
            raise CanvasCredentialsError(f"Canvas Credentials is unreachable: {exc}") from exc
        if response.status_code == 401 and authenticated and attempt == 1:
            _token_fetch(connection)
            continue
        return response
    return response


def _answer(response: requests.Response) -> str:
    """Canvas Credentials' own message from a v2 envelope or an OAuth error body."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:300]
    if not isinstance(body, dict):
        return str(body)[:300]
    if "error" in body:
        return " ".join(str(body[k]) for k in ("error", "error_description") if body.get(k))
    parts = [str((body.get("status") or {}).get("description") or "")]
    if body.get("validationErrors"):
        parts.append(" ".join(str(m) for m in body["validationErrors"]))
    if body.get("fieldErrors"):
        parts.append(str(body["fieldErrors"]))
    return " ".join(p for p in parts if p).strip() or str(body)[:300]


def _error(response: requests.Response, what: str) -> CanvasCredentialsError:
    """Passing failures (5xx, 429, …) are retried; refusals (400, 403, 404) are permanent."""
    message = f"Canvas Credentials refused to {what} ({response.status_code}): {_answer(response)}"
    if response.status_code in (400, 403, 404, 405, 413, 422):
        return CanvasCredentialsRefused(f"{message}. Not retried: fix the cause, then retry or resync.")
    return CanvasCredentialsError(message)


def _connection_for(delivery: Delivery) -> tuple[CanvasCredentialsConnection, str]:
    badge_class = delivery.award.badge_class
    connection = CanvasCredentialsConnection.objects.filter(issuer_id=badge_class.issuer_id).first()
    if connection is None or not connection.enabled:
        raise CanvasCredentialsRefused("Canvas Credentials is not enabled for this issuer.")
    return connection, _entity_for(connection, badge_class.key)


def _entity_for(connection: CanvasCredentialsConnection, badge_class_key: str) -> str:
    mapping = connection.badge_class_entity_ids or {}
    entity_id = mapping.get(badge_class_key)
    if not entity_id:
        raise CanvasCredentialsRefused(f"No Canvas Credentials badge class is mapped for “{badge_class_key}”.")
    shared = sorted(k for k, v in mapping.items() if v == entity_id)
    if len(shared) > 1:
        raise CanvasCredentialsRefused(
            f"Canvas Credentials badge class {entity_id} is mapped from several badge classes ({', '.join(shared)}); "
            "map each badge class to its own Canvas Credentials badge class."
        )
    return entity_id


def mapping_conflicts(mapping: dict) -> dict[str, list[str]]:
    """{Badgr entityId: [badge class keys]} for every entityId mapped from more than one key."""
    by_entity: dict[str, list[str]] = {}
    for key, entity_id in mapping.items():
        by_entity.setdefault(entity_id, []).append(key)
    return {e: sorted(keys) for e, keys in by_entity.items() if len(keys) > 1}
