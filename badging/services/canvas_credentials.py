"""Canvas Credentials (Badgr) API v2: the only code that speaks to it.

When an admin enables a CanvasCredentialsConnection for an issuer, each award of a mapped badge
class is also issued there (POST /v2/badgeclasses/{entityId}/assertions) and its revocation is
propagated (DELETE /v2/assertions/{entityId}). Tokens come from POST /o/token (client credentials
when a client id/secret is set, which Badgr scopes to rw:issuer; else the password grant, which
Badgr gives every scope of the account) and are refreshed on expiry or a 401.

Rules this module keeps (each learnt from badgr-server's behaviour):
- Mapping: one product badge class to one Canvas Credentials badge class per connection. Badgr
  refuses a second live award of a badge class to one email, so two product badge classes on one
  Badgr badge class would collapse into one assertion; an ambiguous mapping is refused.
- Every assertion carries the award's public URL as its evidence URL (the product's marker). An
  existing assertion is adopted only when it carries this award's marker, never by email alone.
- Canvas text is escaped for Badgr's Markdown fields, which refuse "![" and strip HTML-like text.
- A refused request (400 other than a duplicate award, 403, 404 on issue) is permanent: shown, not
  retried. A refused login is not tried again until an admin changes the credentials, since
  Badgr locks the account's logins out for up to an hour after failures.
A failure here never undoes the local award: the Delivery row records it.
"""

from __future__ import annotations

import logging
import re
from datetime import timedelta
from urllib.parse import urlsplit

import requests
from django.db import transaction
from django.utils import timezone

from badging.models import AuditEvent, Award, CanvasCredentialsConnection, Delivery
from badging.openbadges.links import PublicLinks
from badging.openbadges.ob2 import ob_datetime
from skillsforward.outbound import outbound_session

logger = logging.getLogger(__name__)

TIMEOUT = 20
SCOPE = "rw:issuer"
REVOKED_ACTION = "canvas_credentials_revoked"
PAGE_SIZE = 100
# badgr-server's answers (apps/issuer/models.py BadgeInstance.revoke, serializers_v2.py validate).
ALREADY_REVOKED = "already revoked"
DUPLICATE_AWARD = "previous award of this badge already exists"


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


# --- Markdown ---------------------------------------------------------------------------------

_INLINE = re.compile(r"([\\`*_\[\]{}#|~!])")
_BLOCK_START = re.compile(r"^(\s*)([-+>]|\d+[.)])(?=\s|$)")


def _escape_text(text: str) -> str:
    """Plain text as Markdown that Badgr keeps: entities for &, < and > (Badgr strips anything
    tag-like), backslashes before Markdown punctuation (so "![" never reaches Badgr, which refuses
    it), and a leading list/quote/number marker made literal."""
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = _INLINE.sub(r"\\\1", text)
    return _BLOCK_START.sub(lambda m: m.group(1) + re.sub(r"([-+.)])", r"\\\1", m.group(2)), text)


def badgr_markdown(narrative: str) -> str:
    """The product's evidence narrative (paragraphs and "- " list items of Canvas course and
    assignment names) as Markdown for Badgr: the list structure kept, all text escaped."""
    lines = []
    for line in narrative.split("\n"):
        if line.startswith("- "):
            lines.append("- " + _escape_text(line[2:]))
        else:
            lines.append(_escape_text(line))
    return "\n".join(lines)


# --- Finding assertions ---------------------------------------------------------------------------


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


# --- Push -------------------------------------------------------------------------------------


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


# --- Revoke -----------------------------------------------------------------------------------


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


# --- Resync -----------------------------------------------------------------------------------


def _award_id_from(item: dict, prefix: str) -> str:
    for evidence in item.get("evidence") or []:
        url = evidence.get("url", "") if isinstance(evidence, dict) else ""
        if url.startswith(prefix) and "/" not in url[len(prefix) :]:
            return url[len(prefix) :]
    return ""


def canvas_credentials_resync(*, connection_id: int, links: PublicLinks, actor: str) -> dict:
    """Reconcile the product's awards with the assertions Canvas Credentials holds, per mapped
    badge class: every assertion there (revoked ones too, all pages) is matched to an award by the
    award's marker (its public URL as evidence URL). Then live awards missing there are pushed
    again (their delivery re-opened and queued after commit), awards revoked here but live there
    are revoked there, and deliveries pointing at another assertion than the award's are
    corrected. Assertions without a marker of ours, and awards revoked only there, are counted
    and left alone (an admin decides). Returns {badge class key: counts, or "error": message}.
    """
    from badging.services.issuance.policy import queued_stale_after

    connection = CanvasCredentialsConnection.objects.select_related("issuer").get(pk=connection_id)
    if not connection.enabled:
        raise CanvasCredentialsRefused("Canvas Credentials is not enabled for this issuer.")
    prefix = links.assertion("")
    report: dict[str, dict] = {}
    reopened: list[int] = []
    for key in sorted(connection.badge_class_entity_ids or {}):
        counts: dict = dict.fromkeys(
            ["assertions", "matched", "repushed", "revoked_there", "relinked", "revoked_only_there"], 0
        )
        counts.update(not_ours=0, never_pushed=0, revoke_failed=0)
        report[key] = counts
        try:
            entity_id = _entity_for(connection, key)
            items = _assertions_list(connection, entity_id, include_revoked=True)
        except CanvasCredentialsError as exc:
            report[key] = {"error": str(exc)}
            continue
        counts["assertions"] = len(items)
        by_award: dict[str, list[dict]] = {}
        for item in items:
            by_award.setdefault(_award_id_from(item, prefix), []).append(item)
        awards = Award.objects.filter(badge_class__issuer_id=connection.issuer_id, badge_class__key=key).select_related(
            "course_badge"
        )
        known = set()
        for award in awards.defer("ob3_credential", "ob3_jwt"):
            known.add(award.public_id)
            found = by_award.get(award.public_id, [])
            live = [i for i in found if not i.get("revoked")]
            delivery = Delivery.objects.filter(award=award, kind=Delivery.KIND_CANVAS_CREDENTIALS).first()
            if award.revoked:
                for item in live:
                    try:
                        answer = _revoke_assertion(connection, item["entityId"], award.revocation_reason)
                    except CanvasCredentialsError as exc:
                        counts["revoke_failed"] += 1
                        counts["problem"] = f"award {award.public_id}: {exc}"
                        continue
                    counts["revoked_there"] += 1
                    AuditEvent.objects.create(
                        actor=actor,
                        action=REVOKED_ACTION,
                        course_id=award.course_pk,
                        award=award,
                        detail={"entity_id": item["entityId"], "answer": answer, "by": "resync"},
                    )
                continue
            if live:
                counts["matched"] += 1
                if delivery and (delivery.external_id != live[0]["entityId"] or delivery.status != Delivery.SENT):
                    Delivery.objects.filter(pk=delivery.pk).update(
                        external_id=live[0]["entityId"], status=Delivery.SENT, last_error="", next_attempt_at=None
                    )
                    counts["relinked"] += 1
            elif found:
                counts["revoked_only_there"] += 1
            elif delivery is None:
                counts["never_pushed"] += 1  # issued before the connection existed
            else:
                Delivery.objects.filter(pk=delivery.pk).update(
                    status=Delivery.PENDING,
                    external_id="",
                    last_error="",
                    next_attempt_at=timezone.now() + queued_stale_after(),
                )
                reopened.append(delivery.pk)
                counts["repushed"] += 1
        counts["not_ours"] = sum(
            1 for award_id, found in by_award.items() if award_id not in known for i in found if not i.get("revoked")
        )
    if reopened:
        from celery import current_app

        transaction.on_commit(lambda: current_app.send_task("badging.deliveries_send", args=[reopened]))
    AuditEvent.objects.create(actor=actor, action="canvas_credentials_resynced", detail=report)
    _result_record(connection, f"Resync: {resync_summary(report)}")
    return report


def resync_summary(report: dict) -> str:
    """The resync report in one sentence per badge class, for the admin."""
    parts = []
    for key, counts in report.items():
        if "error" in counts:
            parts.append(f"{key}: {counts['error']}")
            continue
        parts.append(
            f"{key}: {counts['assertions']} assertions there, {counts['matched']} matched, "
            f"{counts['repushed']} pushed again, {counts['revoked_there']} revoked there, "
            f"{counts['relinked']} relinked, {counts['revoked_only_there']} revoked only there, "
            f"{counts['not_ours']} live ones not issued by this product, "
            f"{counts['never_pushed']} awards from before the connection"
            + (
                f", {counts['revoke_failed']} could not be revoked ({counts['problem']})"
                if counts["revoke_failed"]
                else ""
            )
        )
    return "; ".join(parts) or "no badge classes are mapped"
