"""An issuer's connection to Canvas Credentials (Badgr), where its awards are also issued."""

import hashlib
import hmac

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from badging.models.badges import Issuer
from skillsforward.fields import EncryptedTextField


class CanvasCredentialsConnection(models.Model):
    """Canvas Credentials (Badgr) API v2 for an issuer: awards are also issued there when enabled."""

    issuer = models.OneToOneField(
        Issuer, on_delete=models.CASCADE, related_name="canvas_credentials", verbose_name=_("issuer")
    )
    enabled = models.BooleanField(_("enabled"), default=False)
    api_base_url = models.URLField(_("api base url"), max_length=300, default="https://api.badgr.io")
    username = models.CharField(_("username"), max_length=300, blank=True)
    password = EncryptedTextField(_("password"), blank=True)
    client_id = models.CharField(_("client id"), max_length=300, blank=True)
    client_secret = EncryptedTextField(_("client secret"), blank=True)
    access_token = EncryptedTextField(_("access token"), blank=True)
    refresh_token = EncryptedTextField(_("refresh token"), blank=True)
    token_expires_at = models.DateTimeField(_("token expires at"), null=True, blank=True)
    # {"<badge class key>": "<Badgr badge class entityId>"}
    badge_class_entity_ids = models.JSONField(_("badge class entity ids"), default=dict, blank=True)
    # Learners already get our email; a second one from Canvas Credentials is opt-in.
    notify_recipients = models.BooleanField(
        _("notify recipients"),
        default=False,
        help_text=_("Also let Canvas Credentials email the learner about the award"),
    )
    last_error = models.TextField(_("last error"), blank=True)
    # The last push or revocation as Canvas Credentials answered it (its own words), for the admin.
    last_result = models.TextField(_("last result"), blank=True)
    last_result_at = models.DateTimeField(_("last result at"), null=True, blank=True)
    # What the last token was granted: password logins get every scope of the account.
    token_scope = models.CharField(_("token scope"), max_length=300, blank=True)
    # A refused login is not retried (Badgr locks the account out for up to an hour after failed
    # logins) until the credentials differ from the ones refused: the fingerprint tells.
    login_refused_at = models.DateTimeField(_("login refused at"), null=True, blank=True)
    login_refused_fingerprint = models.CharField(_("login refused fingerprint"), max_length=64, blank=True)

    class Meta:
        verbose_name = _("canvas credentials connection")
        verbose_name_plural = _("canvas credentials connections")

    def __str__(self) -> str:
        return f"Canvas Credentials for {self.issuer}"

    def credentials_fingerprint(self) -> str:
        """A keyed digest of the login settings (never the secrets themselves)."""
        material = "\x1f".join([self.api_base_url, self.username, self.password, self.client_id, self.client_secret])
        return hmac.new(settings.SECRET_KEY.encode(), material.encode(), hashlib.sha256).hexdigest()

    @property
    def login_refused(self) -> bool:
        """Canvas Credentials refused these very credentials: an admin has to change them."""
        return bool(self.login_refused_at) and self.login_refused_fingerprint == self.credentials_fingerprint()
