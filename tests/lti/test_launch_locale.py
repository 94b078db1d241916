"""The language of a launch: Canvas sends the user's Canvas language in
launch_presentation.locale and the top-level locale claim (canvas-lms lib/lti/messages/jwt_message.rb,
add_launch_presentation_claims! and add_i18n_claims!, both I18n.locale); each launch keeps its own,
and the person keeps the latest one, for the emails sent to them later."""

from tests.lti.platform import LTI


def test_a_launch_keeps_its_locale_and_the_person_the_latest_one(client, canvas):
    first = canvas.launch_context(client, claims={LTI + "launch_presentation": {"locale": "es"}})
    assert first.locale == "es" and first.person.locale == "es"
    second = canvas.launch_context(client, claims={LTI + "launch_presentation": {"locale": "fr-CA"}})
    second.person.refresh_from_db()
    assert second.locale == "fr-CA" and second.person.locale == "fr-CA"
    first.refresh_from_db()
    assert first.locale == "es"  # each launch keeps its own language
