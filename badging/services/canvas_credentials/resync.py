"""Resync of a connection: every award of its mapped badge classes compared with the assertions
there, missing ones pushed again and revoked ones revoked there, with a summary for the admin."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from badging.models import AuditEvent, Award, CanvasCredentialsConnection, Delivery
from badging.openbadges.links import PublicLinks
from badging.services.canvas_credentials.assertions import (
    REVOKED_ACTION,
    _assertions_list,
    _result_record,
    _revoke_assertion,
)
from badging.services.canvas_credentials.client import CanvasCredentialsError, CanvasCredentialsRefused, _entity_for


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
