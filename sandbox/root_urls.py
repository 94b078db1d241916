"""ROOT_URLCONF of the demo's sandbox process: the fake Canvas alone, on its own origin."""

from django.urls import include, path
from django.views.generic import RedirectView

from skillsforward.health import health

urlpatterns = [
    path("health/", health, name="health"),
    path("sandbox/", include("sandbox.urls")),
    path("", RedirectView.as_view(url="/sandbox/", permanent=False)),
]
