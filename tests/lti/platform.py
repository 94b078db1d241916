"""A fake Canvas LTI 1.3 platform for tests: its own RSA keys, signed id_tokens, its JWKS, and the
whole OIDC login → launch round trip through the real tool views (no mock of pylti1p3).

Launch as a learner from any test area::

    from tests.lti.platform import FakeCanvas, INSTRUCTOR, LEARNER

    def test_learner_page(client, db):
        canvas = FakeCanvas()                  # RSA key generated now; unique client_id
        canvas.register()                      # Platform + Deployment rows (lti.services.platforms.platform_upsert)
        launch = canvas.launch_context(client, roles=LEARNER, user_id="42", course_id="7", name="Ada L")
        page = client.get(f"/l/{launch.public_id}/")   # or follow canvas.launch(...)'s redirect

`launch(client, ...)` returns the tool's response to the launch POST (302 to the launch home on
success, a refusal page otherwise); `launch_context(client, ...)` asserts success and returns the
LaunchContext. Change any claim with `claims={...}` (a value of `DROP` removes it) and the JWT
header with `header={...}`; `token_hook(claims)` may rewrite the final claims.

The platform's JWKS: by default `launch()` seeds it into the tool's key cache (no HTTP), which is
enough for tests of other areas. Tests of the LTI layer serve it over HTTP instead with
`canvas.serve_jwks(responses_mock)` and `launch(..., seed_jwks=False)`; `rotate_key()` then
behaves like Canvas: the served set changes at once and new tokens carry the new kid.
"""

import json
import time
import uuid
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from jwcrypto.jwk import JWK

from lti import keyset
from lti.services.platforms import platform_upsert

LIS = "http://purl.imsglobal.org/vocab/lis/v2/"
LTI = "https://purl.imsglobal.org/spec/lti/claim/"
SYSTEM_USER = LIS + "system/person#User"
LEARNER = [LIS + "institution/person#Student", LIS + "membership#Learner", SYSTEM_USER]
INSTRUCTOR = [LIS + "institution/person#Instructor", LIS + "membership#Instructor", SYSTEM_USER]
TEACHING_ASSISTANT = [
    LIS + "institution/person#Student",
    LIS + "membership#Instructor",
    LIS + "membership/Instructor#TeachingAssistant",
    SYSTEM_USER,
]
ADMIN = [LIS + "institution/person#Administrator", LIS + "system/person#SysAdmin", SYSTEM_USER]
STUDENT_VIEW = [LIS + "membership#Learner", "http://purl.imsglobal.org/vocab/lti/system/person#TestUser", SYSTEM_USER]
OBSERVER = [LIS + "membership#Mentor", SYSTEM_USER]
DROP = object()

_counter = iter(range(1, 10**9))


class FakeCanvas:
    def __init__(
        self,
        *,
        issuer: str = "https://canvas.instructure.com",
        client_id: str | None = None,
        deployment_id: str | None = None,
        host: str | None = None,
    ):
        n = next(_counter)
        self.issuer = issuer
        self.client_id = client_id or f"1000000000{n:04d}"
        self.deployment_id = deployment_id or f"{n}:8865aa05b4b79b64a91a86042e43af5ea8ae79eb"
        self.host = host or f"uni{n}.canvas.test"
        self.api_base_url = f"https://{self.host}"
        self.auth_login_url = f"https://sso.{self.host}/api/lti/authorize_redirect"
        self.keyset_url = f"https://sso.{self.host}/api/lti/security/jwks"
        self.keys: list[JWK] = [JWK.generate(kty="RSA", size=2048, kid=f"canvas-key-{n}-1")]
        self.platform = None
        self.jwks_requests = 0

    # --- keys ---------------------------------------------------------------------------------------

    @property
    def signing_key(self) -> JWK:
        return self.keys[-1]

    def jwks(self) -> dict:
        """Published keys: like Canvas, the previous and the current one."""
        keys = []
        for key in self.keys[-2:]:
            public = key.export_public(as_dict=True)
            public.update(alg="RS256", use="sig")
            keys.append(public)
        return {"keys": keys}

    def rotate_key(self) -> JWK:
        self.keys.append(JWK.generate(kty="RSA", size=2048, kid=f"{self.signing_key.kid}-next"))
        return self.signing_key

    def serve_jwks(self, rsps) -> None:
        """Serve the (live) JWKS over HTTP with a `responses.RequestsMock`; counts the fetches."""

        def callback(request):
            self.jwks_requests += 1
            return 200, {"Content-Type": "application/json"}, json.dumps(self.jwks())

        rsps.add_callback("GET", self.keyset_url, callback=callback)

    def seed_jwks(self) -> None:
        keyset.key_set_store(self.keyset_url, self.jwks())

    # --- registration -------------------------------------------------------------------------------

    def register(self, **overrides):
        values = dict(
            issuer=self.issuer,
            client_id=self.client_id,
            deployment_ids=[self.deployment_id],
            api_base_url=self.api_base_url,
            api_token="canvas-api-token",
            name=f"Canvas {self.host}",
            auth_login_url=self.auth_login_url,
            keyset_url=self.keyset_url,
        )
        values.update(overrides)
        self.platform = platform_upsert(**values)
        return self.platform

    # --- OIDC login ---------------------------------------------------------------------------------

    def login(self, client, **params):
        """GET /lti/login/ as Canvas starts it; returns (response, state, nonce) from the redirect."""
        query = {
            "iss": self.issuer,
            "login_hint": "a-login-hint",
            "target_link_uri": "https://testserver/lti/launch/",
            "lti_message_hint": "a-message-hint",
            "client_id": self.client_id,
            "lti_deployment_id": self.deployment_id,
            "canvas_region": "us-east-1",
        }
        query.update({k: v for k, v in params.items() if v is not DROP})
        for key in [k for k, v in params.items() if v is DROP]:
            query.pop(key, None)
        response = client.get("/lti/login/", query, secure=True)
        if response.status_code != 302:
            return response, None, None
        redirect = parse_qs(urlsplit(response["Location"]).query)
        return response, redirect["state"][0], redirect["nonce"][0]

    # --- id_token -----------------------------------------------------------------------------------

    def claims(
        self,
        *,
        nonce: str,
        roles: list[str],
        user_id: str = "1001",
        course_id: str = "77",
        name: str = "Ada Lovelace",
        email: str = "ada@uni.example.edu",
        now: float | None = None,
    ) -> dict:
        now = time.time() if now is None else now
        given, _, family = name.partition(" ")
        return {
            "iss": self.issuer,
            "aud": self.client_id,
            "azp": self.client_id,
            "sub": f"sub-{user_id}-{self.client_id}",
            "nonce": nonce,
            "iat": int(now),
            "exp": int(now) + 3600,
            "name": name,
            "given_name": given,
            "family_name": family,
            "email": email,
            "locale": "en",
            LTI + "message_type": "LtiResourceLinkRequest",
            LTI + "version": "1.3.0",
            LTI + "deployment_id": self.deployment_id,
            LTI + "target_link_uri": "https://testserver/lti/launch/",
            LTI + "resource_link": {"id": f"rl-{course_id}", "title": "Badges"},
            LTI + "roles": list(roles),
            LTI + "context": {
                "id": f"ctx-{course_id}-{self.client_id}",
                "label": f"DATA{course_id}",
                "title": f"Data Skills {course_id}",
                "type": ["http://purl.imsglobal.org/vocab/lis/v2/course#CourseOffering"],
            },
            LTI + "tool_platform": {"guid": "canvas-guid", "product_family_code": "canvas", "name": "Uni"},
            LTI + "custom": {
                "canvas_user_id": str(user_id),
                "canvas_course_id": str(course_id),
                "canvas_api_base_url": self.api_base_url,
                "email": email,
            },
            "https://purl.imsglobal.org/spec/lti-nrps/claim/namesroleservice": {
                "context_memberships_url": f"{self.api_base_url}/api/lti/courses/{course_id}/names_and_roles",
                "service_versions": ["2.0"],
            },
        }

    def sign(self, claims: dict, *, header: dict | None = None, key: JWK | None = None) -> str:
        key = key or self.signing_key
        headers = {"kid": key.kid, "typ": "JWT"}
        headers.update(header or {})
        return jwt.encode(claims, _private_key(key), algorithm="RS256", headers=headers)

    # --- launch -------------------------------------------------------------------------------------

    def launch(
        self,
        client,
        *,
        roles: list[str] = LEARNER,
        claims: dict | None = None,
        header: dict | None = None,
        token_hook=None,
        seed_jwks: bool = True,
        **claim_args,
    ):
        """The full round trip: login, then POST the signed id_token to /lti/launch/ (secure)."""
        if seed_jwks:
            self.seed_jwks()
        login_response, state, nonce = self.login(client)
        assert login_response.status_code == 302, login_response.content[:500]
        body = self.claims(nonce=nonce, roles=roles, **claim_args)
        for key, value in (claims or {}).items():
            if value is DROP:
                body.pop(key, None)
            else:
                body[key] = value
        if token_hook:
            body = token_hook(body)
        id_token = self.sign(body, header=header)
        self.last_state, self.last_id_token = state, id_token
        return self.post_launch(client, state=state, id_token=id_token)

    @staticmethod
    def post_launch(client, *, state: str, id_token: str):
        return client.post("/lti/launch/", {"state": state, "id_token": id_token}, secure=True)

    def launch_context(self, client, **kwargs):
        from lti.models import LaunchContext

        response = self.launch(client, **kwargs)
        assert response.status_code == 302, response.content.decode()[:2000]
        public_id = response["Location"].rstrip("/").rsplit("/", 1)[-1]
        return LaunchContext.objects.select_related("person", "course", "platform", "deployment").get(
            public_id=public_id
        )


_loaded_keys: dict[str, object] = {}


def _private_key(key: JWK):
    """The cryptography key object, loaded once: parsing a PEM checks the RSA key and takes ~30 ms."""
    thumbprint = key.thumbprint()
    if thumbprint not in _loaded_keys:
        pem = key.export_to_pem(private_key=True, password=None)
        _loaded_keys[thumbprint] = serialization.load_pem_private_key(pem, password=None)
    return _loaded_keys[thumbprint]


def new_nonce() -> str:
    return uuid.uuid4().hex
