import io

import pytest
from django.core.management import CommandError, call_command

from badging.models import IssuerKey
from badging.services.issuance.issuer_keys import issuer_keys_current
from tests import factories as f

pytestmark = pytest.mark.django_db


def test_rotation_supersedes_old_keys_and_keeps_them():
    issuer = f.IssuerFactory(key="uni")
    before = issuer_keys_current(issuer=issuer)
    out = io.StringIO()
    call_command("badging_rotate_issuer_keys", "uni", stdout=out)
    after = issuer_keys_current(issuer=issuer)
    assert {after.ed25519.pk, after.rsa.pk}.isdisjoint({before.ed25519.pk, before.rsa.pk})
    old = IssuerKey.objects.filter(pk__in=[before.ed25519.pk, before.rsa.pk])
    assert old.count() == 2 and all(k.superseded_at for k in old)  # still there, so old credentials verify
    assert "uni: new keys" in out.getvalue()


def test_unknown_issuer_and_missing_arguments_are_refused():
    with pytest.raises(CommandError, match="No issuer with key nope"):
        call_command("badging_rotate_issuer_keys", "nope")
    with pytest.raises(CommandError, match="--all"):
        call_command("badging_rotate_issuer_keys")
