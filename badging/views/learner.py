"""Where a launch lands: /l/<launch_id>/ routes by role. For now it says who launched."""

from django.shortcuts import render
from django.urls import path

from lti.launch import launch_context_required


@launch_context_required
def launch_home(request, launch):
    return render(request, "badging/launch_home.html", {"launch": launch})


urlpatterns = [path("l/<str:launch_id>/", launch_home, name="launch_home")]
