from django.urls import path

from lti import views

app_name = "lti"
urlpatterns = [
    path("login/", views.login, name="login"),
    path("launch/", views.launch, name="launch"),
    path("jwks.json", views.jwks, name="jwks"),
    path("config.json", views.config_json, name="config"),
    path("register/", views.register, name="register"),
    # An admin's one-time registration link: approved at once (lti.models.RegistrationInvite).
    path("register/<str:invite>/", views.register, name="register_invited"),
]
