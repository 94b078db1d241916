"""A Canvas Credentials (Badgr API v2) double for `responses`, behaving as badgr-server does.

Each behaviour names the badgr-server file it follows (concentricsky/badgr-server, read at its
last commit; reference openbadges.md §3):
- /o/token: mainsite/oauth2_api.py TokenView (client id/secret and scope checks, "invalid scope
  requested"), mainsite/oauth_validator.py (the password grant gets rw:profile rw:issuer
  rw:backpack whatever is asked), mainsite/utils.py throttleable (every failed login backs the
  username, or the client's address, off 2^n seconds up to an hour: 429 "login attempts throttled").
- Errors in the v2 envelope: entity/views.py exception_handler ("bad request" with
  validationErrors/fieldErrors; 404 "entity not found or insufficient privileges" both for a
  missing entity and for one the token's user may not see or edit, entity/api.py get_object).
- Issue: issuer/serializers_v2.py (allowDuplicateAwards false refuses a second live award of a
  badge class to one email; narrative and evidence narrative are MarkdownCharFields:
  mainsite/serializers.py strips tags, then refuses "![" with "Images not supported in markdown").
- List: issuer/api.py BadgeInstanceList (recipient filter, revoked and expired left out unless
  include_revoked/include_expired, cursor pages of ?num= with a Link rel="next" header,
  mainsite/pagination.py).
- Revoke: issuer/api.py BadgeInstanceDetail.delete and issuer/models.py BadgeInstance.revoke
  (400 "Assertion is already revoked").
- Public assertion: issuer/public_api.py BadgeInstanceJson (no token; 404 when it does not exist;
  a revoked one answers its id, revoked and revocationReason).
"""

from __future__ import annotations

import json
import re
import secrets
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlencode, urlsplit

import responses
from django.utils.html import strip_tags

API = "https://api.eu.badgr.io"
OWNER = "issuer@uni.example.edu"
PASSWORD = "s3cret"
PASSWORD_SCOPES = "rw:profile rw:issuer rw:backpack"


def envelope(result, *, description="ok", success=True, status=200, field_errors=None, validation_errors=None):
    body = {"status": {"success": success, "description": description}, "result": result}
    if field_errors is not None or validation_errors is not None:
        body["fieldErrors"] = field_errors or {}
        body["validationErrors"] = validation_errors or []
    return status, {}, json.dumps(body)


def bad_request(*, field_errors=None, validation_errors=None):
    return envelope(
        [],
        description="bad request",
        success=False,
        status=400,
        field_errors=field_errors or {},
        validation_errors=validation_errors or [],
    )


NOT_FOUND = (
    404,
    {},
    json.dumps(
        {
            "status": {"success": False, "description": "entity not found or insufficient privileges"},
            "result": [],
            "fieldErrors": {},
            "validationErrors": [],
        }
    ),
)


def _markdown_field(value, field_errors, name):
    """MarkdownCharField: strip_tags, then refuse images (mainsite/serializers.py)."""
    if value is None:
        return None
    value = strip_tags(value)
    if "![" in value:
        field_errors[name] = ["Images not supported in markdown"]
    return value


class BadgrDouble:
    """Users own badge classes; tokens act for a user; assertions belong to badge classes."""

    def __init__(self, rsps, *, api=API, badge_classes=("bc-entity-1", "bc-entity-2")):
        self.api = api
        self.now = lambda: datetime.now(UTC)
        self.tokens: dict[str, dict] = {}  # access token -> {"user", "scope", "expired"}
        self.refresh_tokens: dict[str, str] = {}  # refresh token -> user
        self.users = {OWNER: PASSWORD}
        # client_id -> (secret, user, allowed scopes, issues refresh tokens)
        self.apps = {"app-1": ("app-s3cret", OWNER, ["rw:issuer"], False)}
        self.badge_classes = dict.fromkeys(badge_classes, OWNER)  # entityId -> owner
        self.assertions: dict[str, dict] = {}
        self.order: list[str] = []  # newest first, as Badgr lists them ("-created_at")
        self.token_requests: list[str] = []
        self.backoff: dict[str, dict] = {}  # throttle key -> {"count", "until"}
        self.fail_next_issue = 0
        self.fail_next_revoke = 0
        self.refuse_next_issue: dict | None = None
        self.requests: list[tuple[str, str]] = []
        rsps.add_callback(responses.POST, f"{api}/o/token", callback=self.token)
        assertions = re.compile(rf"{re.escape(api)}/v2/badgeclasses/[\w-]+/assertions")
        rsps.add_callback(responses.POST, assertions, callback=self.issue)
        rsps.add_callback(responses.GET, assertions, callback=self.list)
        one = re.compile(rf"{re.escape(api)}/v2/assertions/[\w-]+$")
        rsps.add_callback(responses.DELETE, one, callback=self.revoke)
        rsps.add_callback(responses.GET, one, callback=self.detail)
        public = re.compile(rf"{re.escape(api)}/public/assertions/[\w-]+$")
        rsps.add_callback(responses.GET, public, callback=self.public)

    # --- tokens ---------------------------------------------------------------------------------

    def _new_token(self, user, scope, *, refresh=True):
        access = secrets.token_hex(8)
        self.tokens[access] = {"user": user, "scope": scope, "expired": False}
        payload = {"access_token": access, "token_type": "Bearer", "expires_in": 86400, "scope": scope}
        if refresh:
            payload["refresh_token"] = secrets.token_hex(8)
            self.refresh_tokens[payload["refresh_token"]] = user
        return payload

    def token(self, request):
        form = {k: v[0] for k, v in parse_qs(request.body).items()}
        grant = form.get("grant_type", "password")
        self.token_requests.append(grant)
        key = f"failed_token_backoff_{form.get('username') or '127.0.0.1'}"
        backoff = self.backoff.get(key)
        if backoff and backoff["until"] > self.now():
            return 429, {}, json.dumps({"error": "login attempts throttled", "expires": 2 ** backoff["count"]})
        status, body = self._grant(grant, form)
        if 200 <= status < 300:
            self.backoff.pop(key, None)
        else:
            count = (backoff or {"count": 0})["count"] + 1
            self.backoff[key] = {
                "count": count,
                "until": self.now() + timedelta(seconds=min(3600, 2 ** min(12, count))),
            }
        return status, {}, json.dumps(body)

    def _grant(self, grant, form):
        requested = [s for s in form.get("scope", "").split() if s]
        client_id = form.get("client_id")
        app = None
        if client_id:
            app = self.apps.get(client_id)
            if app is None:
                return 400, {"error": "invalid client_id"}
            if not set(requested) <= set(app[2]):
                return 400, {"error": "invalid scope requested"}
        if grant == "password":
            if self.users.get(form.get("username")) != form.get("password"):
                return 400, {"error": "invalid_grant", "error_description": "Invalid credentials given."}
            return 200, self._new_token(form["username"], PASSWORD_SCOPES)
        if grant == "client_credentials":
            if app is None or app[0] != form.get("client_secret"):
                return 401, {"error": "invalid_client"}
            return 200, self._new_token(app[1], " ".join(requested or app[2]), refresh=app[3])
        if grant == "refresh_token" and form.get("refresh_token") in self.refresh_tokens:
            user = self.refresh_tokens.pop(form["refresh_token"])
            return 200, self._new_token(user, PASSWORD_SCOPES)
        return 400, {"error": "invalid_grant"}

    def _user(self, request):
        token = self.tokens.get(request.headers.get("Authorization", "").removeprefix("Bearer "))
        if not token or token["expired"] or "rw:issuer" not in token["scope"].split():
            return None
        return token["user"]

    def expire_tokens(self):
        for token in self.tokens.values():
            token["expired"] = True

    # --- assertions -------------------------------------------------------------------------------

    def add_assertion(self, badge_class, email, *, evidence_url=None, revoked=False, owner=None):
        """An assertion made there some other way (by hand in Badgr, or by another account)."""
        entity_id = secrets.token_hex(6)
        if owner:
            badge_class = f"{badge_class}-{owner}"
            self.badge_classes[badge_class] = owner
        self.assertions[entity_id] = {
            "badgeclass": badge_class,
            "email": email,
            "narrative": "",
            "evidence": [{"url": evidence_url}] if evidence_url else [],
            "issuedOn": self.now().isoformat(),
            "revoked": revoked,
            "reason": "by hand" if revoked else None,
        }
        self.order.insert(0, entity_id)
        return entity_id

    def _entity(self, url, position=-2):
        return urlsplit(url).path.rstrip("/").split("/")[position]

    def _representation(self, entity_id):
        a = self.assertions[entity_id]
        return {
            "entityType": "Assertion",
            "entityId": entity_id,
            "openBadgeId": f"{self.api}/public/assertions/{entity_id}",
            "badgeclass": a["badgeclass"],
            "recipient": {"identity": "sha256$…", "hashed": True, "type": "email", "plaintextIdentity": a["email"]},
            "issuedOn": a["issuedOn"],
            "narrative": a["narrative"],
            "evidence": a["evidence"],
            "revoked": a["revoked"],
            "revocationReason": a["reason"],
        }

    def issue(self, request):
        self.requests.append(("POST", request.url))
        user = self._user(request)
        if user is None:
            return 401, {}, json.dumps({"status": {"success": False, "description": "no valid auth token found"}})
        badge_class = self._entity(request.url)
        if self.badge_classes.get(badge_class) != user:
            return NOT_FOUND
        if self.fail_next_issue:
            self.fail_next_issue -= 1
            return 503, {}, "Service Unavailable"
        if self.refuse_next_issue is not None:
            refusal, self.refuse_next_issue = self.refuse_next_issue, None
            return bad_request(field_errors=refusal)
        body = json.loads(request.body)
        field_errors: dict = {}
        narrative = _markdown_field(body.get("narrative"), field_errors, "narrative")
        evidence = []
        for item in body.get("evidence") or []:
            item_errors: dict = {}
            evidence.append(
                {"url": item.get("url"), "narrative": _markdown_field(item.get("narrative"), item_errors, "narrative")}
            )
            if item_errors:
                field_errors["evidence"] = [item_errors]
        if field_errors:
            return bad_request(field_errors=field_errors)
        email = body["recipient"]["identity"]
        if body.get("allowDuplicateAwards", True) is False and any(
            a["badgeclass"] == badge_class and a["email"] == email and not a["revoked"]
            for a in self.assertions.values()
        ):
            return bad_request(validation_errors=["A previous award of this badge already exists for this recipient."])
        entity_id = secrets.token_hex(6)
        self.assertions[entity_id] = {
            "badgeclass": badge_class,
            "email": email,
            "narrative": narrative,
            "evidence": evidence,
            "issuedOn": body["issuedOn"],
            "revoked": False,
            "reason": None,
            "body": body,
        }
        self.order.insert(0, entity_id)
        return envelope([self._representation(entity_id)], status=201)

    def list(self, request):
        self.requests.append(("GET", request.url))
        user = self._user(request)
        if user is None:
            return 401, {}, "{}"
        badge_class = self._entity(request.url)
        if self.badge_classes.get(badge_class) != user:
            return NOT_FOUND
        query = parse_qs(urlsplit(request.url).query)
        recipients = query.get("recipient")
        rows = [
            e
            for e in self.order
            if self.assertions[e]["badgeclass"] == badge_class
            and (not recipients or self.assertions[e]["email"] in recipients)
            and (query.get("include_revoked", [""])[0].lower() in ("1", "true") or not self.assertions[e]["revoked"])
        ]
        headers = {}
        if "num" in query:
            size = int(query["num"][0])
            start = int(query.get("cursor", ["0"])[0])
            if start + size < len(rows):
                following = {k: v[0] for k, v in query.items()} | {"cursor": str(start + size)}
                # Built from the request Badgr saw: behind a proxy that is its internal address.
                link = f"http://badgr-internal:8000{urlsplit(request.url).path}?{urlencode(following)}"
                headers["Link"] = f'<{link}>; rel="next"'
            rows = rows[start : start + size]
        status, _, body = envelope([self._representation(e) for e in rows])
        return status, headers, body

    def _visible(self, request):
        user = self._user(request)
        entity_id = self._entity(request.url, -1)
        assertion = self.assertions.get(entity_id)
        if user is None:
            return None, None
        if assertion is None or self.badge_classes.get(assertion["badgeclass"]) != user:
            return user, None
        return user, entity_id

    def detail(self, request):
        self.requests.append(("GET", request.url))
        user, entity_id = self._visible(request)
        if user is None:
            return 401, {}, "{}"
        if entity_id is None:
            return NOT_FOUND
        return envelope([self._representation(entity_id)])

    def revoke(self, request):
        self.requests.append(("DELETE", request.url))
        if self.fail_next_revoke:
            self.fail_next_revoke -= 1
            return 503, {}, "Service Unavailable"
        user, entity_id = self._visible(request)
        if user is None:
            return 401, {}, "{}"
        if entity_id is None:
            return NOT_FOUND
        reason = json.loads(request.body or "{}").get("revocation_reason")
        if not reason:
            return bad_request(field_errors={"revocation_reason": "This field is required"})
        if self.assertions[entity_id]["revoked"]:
            return bad_request(validation_errors=["Assertion is already revoked"])
        self.assertions[entity_id].update(revoked=True, reason=reason)
        return envelope([self._representation(entity_id)])

    def public(self, request):
        self.requests.append(("GET", request.url))
        assertion = self.assertions.get(self._entity(request.url, -1))
        if assertion is None:
            return 404, {}, ""
        entity_url = request.url.split("?")[0]
        if assertion["revoked"]:
            body = {"id": entity_url, "revoked": True, "revocationReason": assertion["reason"]}
        else:
            body = {"@context": "https://w3id.org/openbadges/v2", "type": "Assertion", "id": entity_url}
        return 200, {}, json.dumps(body)
