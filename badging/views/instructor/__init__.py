"""Instructor pages: the dashboard, one learner's "why not issued?", and the confirmed actions.

Every view is reached through the launch id in the URL and allowed only to instructors, TAs and
admins of that launch's course; every object is looked up within that course, so a launch from
another course or another Canvas instance gets a 404, never someone else's data.

access (roles, tokens, course-scoped lookups, confirm pages) · pages (dashboard, learner detail) ·
actions (sync, retry, revoke, resend, keep) · export (CSV).
"""

from django.urls import path

from badging.views.instructor.actions import keep, resend, retry_failed, revoke, sync_now
from badging.views.instructor.export import export
from badging.views.instructor.pages import dashboard, learner_detail

prefix = "l/<str:launch_id>/instructor/"
urlpatterns = [
    path(prefix, dashboard, name="instructor_dashboard"),
    path(f"{prefix}sync/", sync_now, name="instructor_sync"),
    path(f"{prefix}badges/<int:course_badge_id>/learners/<int:learner_id>/", learner_detail, name="instructor_learner"),
    path(f"{prefix}badges/<int:course_badge_id>/retry/", retry_failed, name="instructor_retry"),
    path(f"{prefix}badges/<int:course_badge_id>/export/", export, name="instructor_export"),
    path(f"{prefix}awards/<str:award_public_id>/revoke/", revoke, name="instructor_revoke"),
    path(f"{prefix}awards/<str:award_public_id>/resend/", resend, name="instructor_resend"),
    path(f"{prefix}awards/<str:award_public_id>/keep/", keep, name="instructor_keep"),
]
