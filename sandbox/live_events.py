"""Canvas Live Events over HTTPS, "Sign Payload" style: an RS256 JWT whose claims are the event.

Like Canvas, delivery is best effort: one attempt after commit, no retry, failures only logged.
The JWT is signed with the instance's current platform key, so the receiver verifies it with
the sandbox's JWKS (set LIVE_EVENTS_JWKS_URL to the instance's keyset URL).
"""

import logging
from datetime import UTC, datetime

import jwt
import requests
from django.db import transaction

log = logging.getLogger(__name__)


def event_message(*, instance, event_name: str, user_id, context_type: str, context_id, body: dict) -> dict:
    return {
        "metadata": {
            "event_name": event_name,
            "event_time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z",
            "root_account_id": str(instance.id),
            # As Canvas: the root account's lti_guid, the same value as the launch's tool_platform.guid.
            "root_account_lti_guid": instance.lti_guid,
            "user_id": str(user_id) if user_id is not None else None,
            "context_type": context_type,
            "context_id": str(context_id),
            "producer": "canvas",
            "hostname": instance.base_url,
        },
        "body": body,
    }


def emit_on_commit(*, instance, event_name: str, user_id, context_type: str, context_id, body: dict) -> None:
    if not instance.live_events_url:
        return
    message = event_message(
        instance=instance,
        event_name=event_name,
        user_id=user_id,
        context_type=context_type,
        context_id=context_id,
        body=body,
    )
    transaction.on_commit(lambda: deliver(instance=instance, message=message))


def deliver(*, instance, message: dict) -> bool:
    from sandbox.services import platform_key_current

    key = platform_key_current(instance=instance)
    token = jwt.encode(message, key.private_key_pem, algorithm="RS256", headers={"kid": key.kid})
    try:
        response = requests.post(
            instance.live_events_url, data=token, headers={"Content-Type": "application/jwt"}, timeout=5
        )
    except requests.RequestException as exc:
        log.warning("live event %s not delivered: %s", message["metadata"]["event_name"], exc)
        return False
    if response.status_code >= 300:
        log.warning("live event %s refused: HTTP %s", message["metadata"]["event_name"], response.status_code)
        return False
    return True
