"""Mounted at /sandbox/ (only when SANDBOX_ENABLED). Canvas's own paths below /sandbox/<instance>/."""

from django.urls import URLPattern, URLResolver, include, path

from sandbox import admin_api, views, views_lti
from sandbox.api import assignments, courses, people, submissions

app_name = "sandbox"

rest = [
    path("courses/<int:course_id>", courses.course_detail, name="api_course"),
    path("courses/<int:course_id>/settings", courses.course_settings, name="api_course_settings"),
    path("courses/<int:course_id>/assignments", assignments.assignment_list, name="api_assignments"),
    path(
        "courses/<int:course_id>/assignments/<int:assignment_id>", assignments.assignment_detail, name="api_assignment"
    ),
    path("courses/<int:course_id>/assignment_groups", assignments.assignment_group_list, name="api_assignment_groups"),
    path("courses/<int:course_id>/rubrics/<int:rubric_id>", assignments.rubric_detail, name="api_rubric"),
    path("courses/<int:course_id>/students/submissions", submissions.submission_list, name="api_submissions"),
    path("courses/<int:course_id>/enrollments", people.enrollment_list, name="api_enrollments"),
    path("courses/<int:course_id>/users", people.course_user_list, name="api_users"),
    path("users/<int:user_id>/communication_channels", people.communication_channel_list, name="api_channels"),
    path("users/self/profile", people.self_profile, name="api_self_profile"),
    path("users/<int:user_id>/profile", people.user_profile, name="api_profile"),
]

admin = [
    path("courses/<int:course_id>/grade", admin_api.grade, name="admin_grade"),
    path(
        "courses/<int:course_id>/assignments/<int:assignment_id>/post_grades",
        admin_api.post_grades,
        name="admin_post_grades",
    ),
    path("courses/<int:course_id>/override", admin_api.override, name="admin_override"),
    path("courses/<int:course_id>/enroll", admin_api.enroll, name="admin_enroll"),
    path(
        "courses/<int:course_id>/enrollments/<int:enrollment_id>/state",
        admin_api.enrollment_state,
        name="admin_enrollment_state",
    ),
    path("courses/<int:course_id>/assessments", admin_api.add_assessment, name="admin_add_assessment"),
    path("courses/<int:course_id>/conclude", admin_api.conclude_course, name="admin_conclude_course"),
    path("courses/<int:course_id>/settings", admin_api.course_settings_set, name="admin_course_settings"),
    path(
        "courses/<int:course_id>/assignments/<int:assignment_id>/published",
        admin_api.assignment_published,
        name="admin_assignment_published",
    ),
    path("users/<int:user_id>/primary_email", admin_api.primary_email, name="admin_primary_email"),
    path("faults", admin_api.faults, name="admin_faults"),
    path("keys/rotate", admin_api.rotate_keys, name="admin_rotate_keys"),
    path("lti_registrations", admin_api.lti_registration_start, name="admin_lti_registration_start"),
]

instance: list[URLPattern | URLResolver] = [
    path("api/v1/", include(rest)),
    path("admin_api/v1/", include(admin)),
    path("api/lti/security/jwks", views_lti.jwks, name="jwks"),
    path("api/lti/security/openid-configuration", views_lti.openid_configuration, name="openid_configuration"),
    path("api/lti/registrations", views_lti.registrations, name="registrations"),
    path("api/lti/authorize_redirect", views_lti.authorize, name="authorize"),
    path("login/oauth2/token", views_lti.token, name="token"),
    path("api/lti/courses/<int:course_id>/names_and_roles", views_lti.names_and_roles, name="nrps"),
    path("courses/<int:course_id>/", views.course_people, name="course"),
    path("courses/<int:course_id>/settings/", views.course_settings, name="course_settings"),
    path("courses/<int:course_id>/users/<int:user_id>/", views.learner_page, name="learner"),
    path("courses/<int:course_id>/external_tools/badges/", views.tool_page, name="tool"),
    path("courses/<int:course_id>/external_tools/badges/launch", views.launch_initiate, name="launch_initiate"),
    path("users/<int:user_id>/external_tools/my_badges/", views.user_tool_page, name="user_tool"),
    path(
        "users/<int:user_id>/external_tools/my_badges/launch", views.user_launch_initiate, name="user_launch_initiate"
    ),
]

urlpatterns = [
    path("", views.index, name="index"),
    path("live-events/jwks", views_lti.live_events_jwks, name="live_events_jwks"),
    path("<slug:instance>/", include(instance)),
]
