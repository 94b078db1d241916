"""One award's assertion in Canvas Credentials: pushed (an existing one adopted only when it carries
this award's marker, after a lost answer), a failed push recorded, and its revocation propagated."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.utils import timezone

from badging.models import AuditEvent, Award, CanvasCredentialsConnection, Delivery
from badging.openbadges.links import PublicLinks
from badging.openbadges.ob2 import ob_datetime
from badging.services.canvas_credentials.client import (
    CanvasCredentialsError,
    CanvasCredentialsLoginRefused,
    CanvasCredentialsRefused,
    _answer,
    _base,
    _call,
    _connection_for,
    _error,
    _login_refused_record,
    _token_fetch,
    _token_valid,
)
from badging.services.canvas_credentials.markdown import badgr_markdown

REVOKED_ACTION = "canvas_credentials_revoked"
PAGE_SIZE = 100
# badgr-server's answers (apps/issuer/models.py BadgeInstance.revoke, serializers_v2.py validate).
ALREADY_REVOKED = "already revoked"
DUPLICATE_AWARD = "previous award of this badge already exists"


def _marker(award: Award, links: PublicLinks) -> str:
    return links.assertion(award.public_id)


def _carries_marker(item: dict, marker: str) -> bool:
    evidence = item.get("evidence") or []
    if any(isinstance(e, dict) and e.get("url") == marker for e in evidence):
        return True
    return marker in (item.get("narrative") or "")


def _assertions_list(connection, entity_id: str, *, recipient: str = "", include_revoked: bool = False) -> list[dict]:
    """Every assertion of a Badgr badge class (following Badgr's cursor pages, Link rel="next")."""
    params: dict[str, str | int] = {"num": PAGE_SIZE, "include_expired": "true"}
    if include_revoked:
        params["include_revoked"] = "true"
    if recipient:
        params["recipient"] = recipient
    path: str | None = f"/v2/badgeclasses/{entity_id}/assertions"
    items: list[dict] = []
    while path:
        response = _call(connection, "GET", path, params=params)
        if response.status_code != 200:
            raise _error(response, f"list the assertions of badge class {entity_id}")
        items.extend(response.json().get("result") or [])
        next_url = urlsplit((response.links.get("next") or {}).get("url", ""))
        # The next link carries its own query (cursor, num, filters). Only its path and query are
        # used: the host Badgr names (e.g. http behind a proxy) is never called, only our base.
        next_path = next_url.path
        base_path = urlsplit(_base(connection)).path
        if base_path and next_path.startswith(base_path + "/"):
            next_path = next_path[len(base_path) :]
        path = f"{next_path}?{next_url.query}" if next_path else None
        params = {}
    return items


def _assertion_of_award(connection, entity_id: str, award: Award, links: PublicLinks) -> str | None:
    """The entityId of the live assertion issued there for this very award (a retry after a lost
    answer must not issue a second one), matched by the award's marker, never by email alone."""
    marker = _marker(award, links)
    for item in _assertions_list(connection, entity_id, recipient=award.recipient_email):
        if not item.get("revoked") and _carries_marker(item, marker):
            return item.get("entityId")
    return None


def _result_record(connection: CanvasCredentialsConnection, text: str, *, error: str | None = None) -> None:
    updates: dict = {"last_result": text[:2000], "last_result_at": timezone.now()}
    if error is not None:
        updates["last_error"] = error[:2000]
    CanvasCredentialsConnection.objects.filter(pk=connection.pk).update(**updates)


def canvas_credentials_prepare(*, delivery: Delivery) -> None:
    """Make sure a valid token is stored before the push (outside the delivery's transaction, so
    that a failed push does not roll the new token back and cause a login per retry)."""
    connection, _entity_id = _connection_for(delivery)
    if not _token_valid(connection):
        _token_fetch(connection)


def canvas_credentials_failed(*, delivery: Delivery, error: Exception) -> None:
    """Show the failure on the connection too (admins look there first). Runs outside the
    delivery's transaction, so a login refusal recorded inside it is recorded again here."""
    connection = CanvasCredentialsConnection.objects.filter(issuer_id=delivery.award.badge_class.issuer_id).first()
    if connection is None:
        return
    if isinstance(error, CanvasCredentialsLoginRefused) and not connection.login_refused:
        _login_refused_record(connection, error)
    _result_record(connection, f"Push of award {delivery.award.public_id} failed: {error}", error=str(error))


def canvas_credentials_issue(*, delivery: Delivery, links: PublicLinks) -> str:
    """Issue the award in Canvas Credentials; returns the assertion's entityId there."""
    award = delivery.award
    connection, entity_id = _connection_for(delivery)
    if delivery.attempts >= 1 and (found := _assertion_of_award(connection, entity_id, award, links)):
        return found  # a previous attempt got through but its answer was lost
    narrative = badgr_markdown(award.evidence_narrative)
    body = {
        "recipient": {"identity": award.recipient_email, "type": "email", "hashed": True},
        "notify": connection.notify_recipients,
        "issuedOn": ob_datetime(award.issued_on),
        "expires": ob_datetime(award.expires) if award.expires else None,
        "narrative": narrative,
        "evidence": [{"url": _marker(award, links), "narrative": narrative}],
        "allowDuplicateAwards": False,
    }
    response = _call(connection, "POST", f"/v2/badgeclasses/{entity_id}/assertions", json=body)
    if response.status_code == 400 and DUPLICATE_AWARD in _answer(response).lower():
        if found := _assertion_of_award(connection, entity_id, award, links):
            return found
        # Another award's assertion (issued there by hand, or an earlier award of ours whose
        # revocation has not reached Badgr yet): never adopt it; retry, since the latter clears.
        raise CanvasCredentialsError(
            f"Canvas Credentials already holds a live award of badge class {entity_id} for "
            f"{award.recipient_email} that is not this award ({_answer(response)}); revoke it there "
            "if it should not stand."
        )
    if response.status_code not in (200, 201):
        raise _error(response, "issue the badge")
    result = response.json().get("result") or []
    if not result or not result[0].get("entityId"):
        raise CanvasCredentialsError("Canvas Credentials answered without an assertion entityId.")
    description = (response.json().get("status") or {}).get("description", "")
    CanvasCredentialsConnection.objects.filter(pk=connection.pk).update(last_error="")
    _result_record(
        connection,
        f"Issued award {award.public_id} as assertion {result[0]['entityId']} ({response.status_code} {description})",
    )
    return result[0]["entityId"]


def _assertion_state(connection, entity_id: str) -> str:
    """ "revoked", "gone" or "live": what a 404 on revoke means. Badgr answers 404 both when the
    assertion does not exist and when the token's user may not edit it (apps/entity/views.py), so
    a GET with the same token, then Badgr's public assertion page, tell the two apart."""
    response = _call(connection, "GET", f"/v2/assertions/{entity_id}")
    if response.status_code == 200:
        result = (response.json().get("result") or [{}])[0]
        return "revoked" if result.get("revoked") else "live"
    public = _call(connection, "GET", f"/public/assertions/{entity_id}", authenticated=False)
    if public.status_code == 404:
        return "gone"
    if public.status_code in (200, 410):
        try:
            revoked = public.status_code == 410 or bool(public.json().get("revoked"))
        except ValueError:
            revoked = False
        return "revoked" if revoked else "live"
    raise CanvasCredentialsError(f"Canvas Credentials' public assertion page answered {public.status_code}.")


def _revoke_assertion(connection, entity_id: str, reason: str) -> str:
    """Revoke one assertion there; returns Badgr's answer in words. Raises CanvasCredentialsError."""
    response = _call(connection, "DELETE", f"/v2/assertions/{entity_id}", json={"revocation_reason": reason})
    if response.status_code in (200, 204):
        return f"revoked ({response.status_code})"
    if response.status_code == 400 and ALREADY_REVOKED in _answer(response).lower():
        return f"already revoked there ({_answer(response)})"
    if response.status_code == 404:
        state = _assertion_state(connection, entity_id)
        if state == "gone":
            return "no longer exists there (404)"
        if state == "revoked":
            return "already revoked there"
        raise CanvasCredentialsRefused(
            f"Canvas Credentials did not let this login revoke assertion {entity_id} (404: {_answer(response)}), "
            "and it is still live there. Give the login's Canvas Credentials user edit rights on the badge class, "
            "or revoke it there by hand."
        )
    raise _error(response, "revoke the badge")


def canvas_credentials_revoke(*, delivery_id: int) -> Delivery | None:
    """Revoke the Canvas Credentials copy of a revoked award (DELETE /v2/assertions/{entityId}).

    Done when Badgr revoked it, had already revoked it, or no longer has it; a live assertion this
    login may not revoke is a failure. Done is recorded as an AuditEvent with Badgr's answer.
    Raises CanvasCredentialsError on failure, after recording it on the Delivery and connection
    (permanent errors say so: the task does not retry them).
    """
    delivery = (
        Delivery.objects.select_related("award__badge_class", "award__course_badge").filter(pk=delivery_id).first()
    )
    if delivery is None or not delivery.external_id or not delivery.award.revoked:
        return delivery
    done = AuditEvent.objects.filter(award=delivery.award, action=REVOKED_ACTION)
    if done.exists():
        return delivery
    connection = None
    try:
        connection, _entity = _connection_for(delivery)
        answer = _revoke_assertion(connection, delivery.external_id, delivery.award.revocation_reason)
    except CanvasCredentialsError as exc:
        Delivery.objects.filter(pk=delivery.pk).update(last_error=f"Revocation not propagated yet: {exc}"[:2000])
        if connection is not None:
            text = f"Revocation of award {delivery.award.public_id} failed: {exc}"
            _result_record(connection, text, error=str(exc))
        raise
    AuditEvent.objects.create(
        actor="system",
        action=REVOKED_ACTION,
        course_id=delivery.award.course_pk,
        award=delivery.award,
        detail={"entity_id": delivery.external_id, "answer": answer},
    )
    Delivery.objects.filter(pk=delivery.pk).update(last_error="")
    _result_record(
        connection, f"Revocation of award {delivery.award.public_id} (assertion {delivery.external_id}): {answer}"
    )
    return delivery
