from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from skillsforward.health import health

urlpatterns = [
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("lti/", include("lti.urls")),
    path("", include("badging.urls")),
]

if settings.SANDBOX_ENABLED:
    urlpatterns.append(path("sandbox/", include("sandbox.urls")))
