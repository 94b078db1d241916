"""Prepare a local badgr-server for the live Canvas Credentials test (see README, "Canvas
Credentials (Badgr)"). Run inside a badgr-server checkout, with its own Python 3.7 venv:

    BADGR_ORIGIN=http://127.0.0.1:18731 venv/bin/python manage.py shell < /path/to/scripts/badgr_local_setup.py

Creates (or reuses) an issuer account with a verified email, an issuer it owns, two badge
classes, and an OAuth application allowed rw:issuer only (client credentials, as the product
recommends); then prints the environment variables the live test reads. Not part of the product
and never imported by it: it uses badgr-server's own models.
"""

import base64
import os
import secrets

from badgeuser.models import BadgeUser, CachedEmailAddress
from django.conf import settings
from django.core.files.base import ContentFile
from issuer.models import BadgeClass, Issuer, IssuerStaff
from mainsite.models import ApplicationInfo, BadgrApp
from oauth2_provider.models import Application

# Badgr mails new accounts and first-time recipients; keep those out of the printed variables.
settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
ORIGIN = os.environ.get("BADGR_ORIGIN", "http://127.0.0.1:18731")
EMAIL = "issuer@badgr.local"
# A 1x1 PNG: Badgr stores it as the badge class image.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)

BadgrApp.objects.get_or_create(
    cors=ORIGIN.split("://", 1)[1],
    defaults={
        "name": "local",
        "is_default": True,
        "email_confirmation_redirect": f"{ORIGIN}/",
        "signup_redirect": f"{ORIGIN}/",
        "forgot_password_redirect": f"{ORIGIN}/",
    },
)
password = os.environ.get("BADGR_PASSWORD") or secrets.token_urlsafe(12)
user = BadgeUser.objects.filter(email=EMAIL).first()
if user is None:
    user = BadgeUser.objects.create(
        email=EMAIL, first_name="Issuer", last_name="Admin", plaintext_password=password, send_confirmation=False
    )
user.set_password(password)
user.save()
address = CachedEmailAddress.objects.filter(user=user, email=EMAIL).first() or CachedEmailAddress(
    user=user, email=EMAIL
)
address.verified, address.primary = True, True
address.save()

issuer = Issuer.objects.filter(name="Skills Forward Test Issuer").first()
if issuer is None:
    issuer = Issuer.objects.create(
        name="Skills Forward Test Issuer", url="https://uni.example.edu", email=EMAIL, created_by=user
    )
IssuerStaff.objects.get_or_create(issuer=issuer, user=user, defaults={"role": IssuerStaff.ROLE_OWNER})
badge_classes = []
for name in ("Data Analysis Fundamentals", "Statistics Basics"):
    badge_class = BadgeClass.objects.filter(issuer=issuer, name=name).first()
    if badge_class is None:
        badge_class = BadgeClass(issuer=issuer, name=name, description=name, criteria_text="Mastery", created_by=user)
        badge_class.image.save("badge.png", ContentFile(PNG), save=False)
        badge_class.save()
    badge_classes.append(badge_class)

# Password logins without a client id use the "public" application (mainsite/oauth_validator.py).
public = Application.objects.filter(client_id="public").first() or Application(client_id="public", name="public")
public.client_type = Application.CLIENT_PUBLIC
public.client_secret = ""  # the validator authenticates it with an empty secret
public.authorization_grant_type = Application.GRANT_PASSWORD
public.save()
ApplicationInfo.objects.update_or_create(
    application=public, defaults={"allowed_scopes": "rw:profile rw:issuer rw:backpack"}
)

client_secret = secrets.token_urlsafe(24)
application = Application.objects.filter(name="skills-forward-badges").first() or Application(
    name="skills-forward-badges"
)
application.user = user
application.client_type = Application.CLIENT_CONFIDENTIAL
application.authorization_grant_type = Application.GRANT_CLIENT_CREDENTIALS
application.client_secret = client_secret
application.save()
ApplicationInfo.objects.update_or_create(
    application=application, defaults={"allowed_scopes": "rw:issuer", "issue_refresh_token": False}
)

# Another account's issuer and one of its assertions: the product's login may not revoke it.
OTHER = "other-issuer@badgr.local"
other = BadgeUser.objects.filter(email=OTHER).first() or BadgeUser.objects.create(
    email=OTHER,
    first_name="Other",
    last_name="Issuer",
    plaintext_password=secrets.token_urlsafe(12),
    send_confirmation=False,
)
other_issuer = Issuer.objects.filter(name="Another Test Issuer").first() or Issuer.objects.create(
    name="Another Test Issuer", url="https://other.example.edu", email=OTHER, created_by=other
)
IssuerStaff.objects.get_or_create(issuer=other_issuer, user=other, defaults={"role": IssuerStaff.ROLE_OWNER})
foreign_class = BadgeClass.objects.filter(issuer=other_issuer).first()
if foreign_class is None:
    foreign_class = BadgeClass(
        issuer=other_issuer, name="Not Yours", description="Not yours", criteria_text="-", created_by=other
    )
    foreign_class.image.save("badge.png", ContentFile(PNG), save=False)
    foreign_class.save()
foreign = foreign_class.badgeinstances.filter(revoked=False).first() or foreign_class.issue(
    recipient_id="someone@uni.example.edu", created_by=other
)

print(f"export BADGR_TEST_URL={ORIGIN}")
print(f"export BADGR_TEST_FOREIGN_ASSERTION={foreign.entity_id}")
print(f"export BADGR_TEST_USERNAME={EMAIL}")
print(f"export BADGR_TEST_PASSWORD={password}")
print(f"export BADGR_TEST_CLIENT_ID={application.client_id}")
print(f"export BADGR_TEST_CLIENT_SECRET={client_secret}")
print(f"export BADGR_TEST_BADGE_CLASS={badge_classes[0].entity_id}")
print(f"export BADGR_TEST_BADGE_CLASS_2={badge_classes[1].entity_id}")
