"""The project's URLs without the instructor dashboard's: a deployment (or a release) that does not
serve it. Pages that link to the dashboard must then do without the link (ROOT_URLCONF in a test)."""

from django.urls import URLResolver, include, path

from badging import urls as badging_urls
from badging.views import instructor
from skillsforward import urls as project_urls

badging_without_dashboard = [
    p for p in badging_urls.urlpatterns if not (isinstance(p, URLResolver) and p.urlconf_name is instructor.urlpatterns)
]
urlpatterns = [
    *(p for p in project_urls.urlpatterns if not (isinstance(p, URLResolver) and p.urlconf_module is badging_urls)),
    path("", include((badging_without_dashboard, "badging"))),
]
