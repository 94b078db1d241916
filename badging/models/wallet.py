"""Offers of an award to the learner's wallet (OpenID for Verifiable Credential Issuance)."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from badging.models.awards import Award


class WalletOffer(models.Model):
    """An OpenID for Verifiable Credential Issuance offer (pre-authorised code flow) of one award to
    the learner's wallet. Codes, tokens and nonces are stored as SHA-256 hashes only: a database
    reader cannot claim a badge. Each step works once and within its time: the code is exchanged
    for one access token, which fetches one credential."""

    award = models.ForeignKey(Award, on_delete=models.CASCADE, related_name="wallet_offers", verbose_name=_("award"))
    code_hash = models.CharField(_("code hash"), max_length=64, unique=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    code_expires_at = models.DateTimeField(_("code expires at"))
    code_used_at = models.DateTimeField(_("code used at"), null=True, blank=True)
    token_hash = models.CharField(_("token hash"), max_length=64, unique=True, null=True, blank=True)
    token_expires_at = models.DateTimeField(_("token expires at"), null=True, blank=True)
    nonce_hash = models.CharField(_("nonce hash"), max_length=64, blank=True)
    nonce_expires_at = models.DateTimeField(_("nonce expires at"), null=True, blank=True)
    claimed_at = models.DateTimeField(_("claimed at"), null=True, blank=True)
    holder_id = models.CharField(
        _("holder id"), max_length=2000, blank=True, help_text=_("The wallet's DID the credential was bound to")
    )
    credential_id = models.CharField(_("credential id"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("wallet offer")
        verbose_name_plural = _("wallet offers")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Wallet offer of {self.award_id} at {self.created_at:%Y-%m-%d %H:%M}"
