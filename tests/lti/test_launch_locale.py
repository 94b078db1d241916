"""The language of a launch: Canvas sends the user's Canvas language in
launch_presentation.locale and the top-level locale claim (canvas-lms lib/lti/messages/jwt_message.rb,
add_launch_presentation_claims! and add_i18n_claims!, both I18n.locale); each launch keeps its own,
and the person keeps the latest one, for the emails sent to them later."""

from tests.lti.platform import LTI, OBSERVER


def test_a_launch_keeps_its_locale_and_the_person_the_latest_one(client, canvas):
    first = canvas.launch_context(client, claims={LTI + "launch_presentation": {"locale": "es"}})
    assert first.locale == "es" and first.person.locale == "es"
    second = canvas.launch_context(client, claims={LTI + "launch_presentation": {"locale": "fr-CA"}})
    second.person.refresh_from_db()
    assert second.locale == "fr-CA" and second.person.locale == "fr-CA"
    first.refresh_from_db()
    assert first.locale == "es"  # each launch keeps its own language


def test_a_verified_launch_is_refused_in_the_users_canvas_language(client, canvas):
    """An observer has no Badges page: the refusal comes after the token is verified, so it speaks
    the language the launch carries (not the browser's)."""
    client.defaults["HTTP_ACCEPT_LANGUAGE"] = "es"
    response = canvas.launch(client, roles=OBSERVER, claims={LTI + "launch_presentation": {"locale": "fr"}})
    assert response.status_code == 403
    page = response.content.decode()
    assert '<html lang="fr" dir="ltr">' in page
    assert "Badges s’adresse aux étudiants et aux enseignants" in page
