"""OB 3.0 credentials signed before the issuer became a did:web named the OB 2.0 issuer URL as their
issuer and key controller, which strict verifiers (Digital Bazaar, DCC) refuse. Their stored
documents are cleared: the first request for one signs it again (same status list slot, so a
revocation still shows), exactly as for an award issued without PUBLIC_BASE_URL."""

from django.db import migrations


def clear_http_issuer_credentials(apps, schema_editor):
    Award = apps.get_model("badging", "Award")
    AwardImage = apps.get_model("badging", "AwardImage")
    stale = Award.objects.filter(ob3_credential__issuer__id__startswith="http")
    AwardImage.objects.filter(award__in=stale).delete()
    stale.update(ob3_credential=None, ob3_jwt="")


class Migration(migrations.Migration):
    dependencies = [("badging", "0004_award_recipient_identity")]

    operations = [migrations.RunPython(clear_http_issuer_credentials, migrations.RunPython.noop)]
