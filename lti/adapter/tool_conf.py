"""pylti1p3's tool configuration read from our models: registrations by issuer and client id,
deployments, and our signing key loaded only when something signs.
"""

import json
from functools import lru_cache

from pylti1p3.deployment import Deployment as PyltiDeployment
from pylti1p3.registration import Registration
from pylti1p3.tool_config.abstract import ToolConfAbstract

from lti import selectors
from lti.models import Platform
from lti.services.tool_keys import tool_key_current


class DbToolConf(ToolConfAbstract):
    """pylti1p3 registrations built from Platform/Deployment/ToolKey rows.

    Always "many client ids per issuer": Canvas cloud uses one issuer for every institution.
    """

    def __init__(self) -> None:
        super().__init__()
        self.platforms: dict[tuple[str, str], Platform] = {}

    def check_iss_has_one_client(self, iss: str) -> bool:
        return False

    def check_iss_has_many_clients(self, iss: str) -> bool:
        return True

    def platform(self, iss: str, client_id: str | None) -> Platform | None:
        key = (iss, client_id or "")
        if key not in self.platforms:
            found = selectors.platform_for_launch(issuer=iss, client_id=client_id)
            if found is None:
                return None
            self.platforms[key] = found
        return self.platforms[key]

    def _registration(self, platform: Platform) -> Registration:
        reg = DbRegistration()
        reg.set_issuer(platform.issuer).set_client_id(platform.client_id)
        reg.set_auth_login_url(platform.auth_login_url).set_auth_token_url(platform.auth_token_url)
        reg.set_key_set_url(platform.keyset_url).set_key_set(None)
        if platform.auth_audience:
            reg.set_auth_audience(platform.auth_audience)
        return reg

    def find_registration_by_issuer(self, iss: str, *args, **kwargs):
        platform = self.platform(iss, None)
        return self._registration(platform) if platform else None

    def find_registration_by_params(self, iss: str, client_id: str, *args, **kwargs):
        platform = self.platform(iss, client_id)
        return self._registration(platform) if platform else None

    def find_deployment(self, iss: str, deployment_id: str):
        return self.find_deployment_by_params(iss, deployment_id, None)

    def find_deployment_by_params(self, iss: str, deployment_id: str, client_id: str | None, *args, **kwargs):
        platform = self.platform(iss, client_id)
        if platform is None:
            return None
        known = platform.deployments.filter(deployment_id=deployment_id, active=True).exists()
        if not known and not platform.accept_new_deployments:
            return None
        return PyltiDeployment().set_deployment_id(deployment_id)

    def get_jwks(self, iss: str | None = None, client_id: str | None = None, **kwargs):
        return selectors.tool_jwks()


class DbRegistration(Registration):
    """A registration whose tool signing key (our current ToolKey) is read when something signs with
    it (LTI services, a client assertion), not for every OIDC login and launch, which never do."""

    _tool_key_loaded = False

    def _tool_key_load(self) -> None:
        if not self._tool_key_loaded:
            key = tool_key_current()
            self.set_tool_private_key(key.private_key_pem)
            self.set_tool_public_key(_public_pem(json.dumps(key.public_jwk, sort_keys=True)))
            self._tool_key_loaded = True

    def get_tool_private_key(self):
        self._tool_key_load()
        return super().get_tool_private_key()

    def get_tool_public_key(self):
        self._tool_key_load()
        return super().get_tool_public_key()


@lru_cache(maxsize=16)
def _public_pem(public_jwk_json: str) -> str:
    from jwcrypto.jwk import JWK

    return JWK(**json.loads(public_jwk_json)).export_to_pem().decode()
