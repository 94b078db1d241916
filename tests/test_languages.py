"""Which language a page or an email is in (README "Languages"): the launch's LTI locale claim,
then the browser's Accept-Language, then the default; emails in the learner's language; public
badge pages in the viewer's; numbers and dates in the page's language; right to left for Arabic.

Canvas fills `launch_presentation.locale` and the top-level `locale` claim with I18n.locale, the
language Canvas is shown in for that user (canvas-lms lib/lti/messages/jwt_message.rb,
add_launch_presentation_claims! and add_i18n_claims!). The Canvas REST Course object carries the
course's own `locale` when one is set (canvas-lms doc/api courses.html, "Course" object; null when
the account's applies); the sandbox sends both the same way (sandbox/platform.py, sandbox/api/people.py)."""

import csv
import hashlib
import io
import re
from decimal import Decimal

import pytest
from django.core import mail
from django.test import override_settings
from django.utils import translation
from django.utils.formats import date_format

from badging import evaluation as ev
from badging.models import CourseSync, LearnerProgress
from badging.selectors.reasons import reason_text
from badging.services import award_email, notifications
from canvas.records import CanvasCourse
from lti.claims import claims_parse
from lti.launch import launch_cookie_name
from lti.models import LaunchContext
from skillsforward.i18n import language_for, language_for_person
from tests import factories as f
from tests.badging.test_dashboard import build_course
from tests.badging.test_public import issued_award
from tests.lti.platform import LEARNER, LTI

pytestmark = pytest.mark.django_db


def html_lang(response) -> tuple[str, str]:
    match = re.search(r'<html lang="([^"]+)" dir="(ltr|rtl)">', response.content.decode())
    assert match, response.content[:300]
    return match.group(1), match.group(2)


# --- the locale claim ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "locale"),
    [
        ({LTI + "launch_presentation": {"locale": "fr-CA"}, "locale": "en"}, "fr-CA"),
        ({"locale": "es"}, "es"),
        ({LTI + "launch_presentation": {"locale": "<script>"}, "locale": "ar"}, "ar"),
        ({LTI + "launch_presentation": "es"}, ""),
        ({"locale": "x" * 40}, ""),
        ({}, ""),
    ],
)
def test_the_launch_locale_is_the_presentation_claim_then_the_top_level_one(body, locale):
    assert claims_parse({"sub": "s", LTI + "roles": LEARNER, **body}).locale == locale


@pytest.mark.parametrize(
    ("locale", "language"),
    [("es", "es"), ("es-419", "es"), ("fr-CA", "fr"), ("FR", "fr"), ("ar", "ar"), ("en-GB-x-ukhe", "en")],
)
def test_canvas_locales_map_to_a_supported_language(locale, language):
    assert language_for(locale) == language


@pytest.mark.parametrize("locale", ["zh-Hant", "pt-BR", "", None])
def test_an_unsupported_locale_has_no_language(locale):
    assert language_for(locale) is None


# --- pages --------------------------------------------------------------------------------------


@pytest.fixture
def learner_launch():
    s = build_course()
    return f.LaunchContextFactory(course=s["course"], person=s["people"]["bob"])


def test_the_launch_language_wins_over_the_browser(client, learner_launch):
    learner_launch.locale = "es"
    learner_launch.save()
    response = client.get(f"/l/{learner_launch.public_id}/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 200
    assert html_lang(response) == ("es", "ltr")
    assert response["Content-Language"] == "es"
    page = response.content.decode()
    assert "Insignias en este curso" in page and "Badges in this course" not in page


def test_without_a_launch_language_the_browser_decides(client, learner_launch):
    response = client.get(f"/l/{learner_launch.public_id}/", HTTP_ACCEPT_LANGUAGE="fr-CA,fr;q=0.9,en;q=0.5")
    assert html_lang(response) == ("fr", "ltr")
    page = response.content.decode()
    assert "Badges de ce cours" in page and "Comment l’obtenir" in page


@override_settings(LANGUAGE_CODE="fr")
def test_without_either_the_default_language_applies(client, learner_launch):
    response = client.get(f"/l/{learner_launch.public_id}/")
    assert html_lang(response)[0] == "fr"


def test_an_unsupported_launch_language_falls_back_to_the_browser(client, learner_launch):
    learner_launch.locale = "zh-Hant"
    learner_launch.save()
    response = client.get(f"/l/{learner_launch.public_id}/", HTTP_ACCEPT_LANGUAGE="es")
    assert html_lang(response)[0] == "es"


def test_an_arabic_launch_is_right_to_left(client, learner_launch):
    learner_launch.locale = "ar"
    learner_launch.save()
    response = client.get(f"/l/{learner_launch.public_id}/")
    assert html_lang(response) == ("ar", "rtl")


def test_points_and_dates_use_the_page_language(client):
    s = build_course()
    ada = s["people"]["ada"]
    launch = f.LaunchContextFactory(course=s["course"], person=ada, locale="fr")
    page = client.get(f"/l/{launch.public_id}/").content.decode()
    # 80 % of 12 points: 9.6 in English, 9,6 in French.
    assert "au moins 80 % (9,6 points sur 12)" in page
    award = ada.awards.get()
    with translation.override("fr"):
        issued = date_format(award.issued_on, "DATE_FORMAT")
    assert re.search(r"[a-zéû]+ 20\d\d", issued) and issued in page


def test_instructor_pages_and_csv_headers_in_the_launch_language(client):
    s = build_course()
    launch = s["launch"]
    launch.locale = "es"
    launch.save()
    page = client.get(f"/l/{launch.public_id}/instructor/").content.decode()
    assert "Buscar por nombre, correo o ID de usuario de Canvas" in page
    assert "Sincronizar ahora" in page
    url = f"/l/{launch.public_id}/instructor/badges/{s['badge'].pk}/export/"
    confirm = client.get(url)
    token = re.search(r'name="token" value="([^"]+)"', confirm.content.decode()).group(1)
    response = client.post(url, {"token": token}, HTTP_ORIGIN="http://testserver")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][:3] == ["Nombre", "Nombre para ordenar", "ID de usuario de Canvas"]
    assert "Calificación final" in rows[0] and "Estado" in rows[0]


def test_an_expired_launch_is_refused_in_the_browser_language(client):
    response = client.get("/l/not-a-launch/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 404
    assert "Esta página ha caducado" in response.content.decode()


def test_public_badge_pages_follow_the_viewer(client):
    award = issued_award()
    page = client.get(
        f"/public/assertions/{award.public_id}", HTTP_ACCEPT="text/html", HTTP_ACCEPT_LANGUAGE="fr"
    ).content.decode()
    assert "Badge valide" in page and "Valid badge" not in page
    page = client.get(
        f"/public/assertions/{award.public_id}", HTTP_ACCEPT="text/html", HTTP_ACCEPT_LANGUAGE="es"
    ).content.decode()
    assert "Insignia válida" in page


def test_error_pages_follow_the_viewer(client):
    response = client.get("/no/such/page/", HTTP_ACCEPT_LANGUAGE="fr")
    assert response.status_code == 404 and "Page introuvable" in response.content.decode()


# --- read-only modes and Canvas course settings (main's pages, in the launch's language) ---------


def test_a_concluded_learner_is_told_in_her_language(client, learner_launch):
    learner_launch.locale = "es"
    learner_launch.concluded = True
    learner_launch.save()
    page = client.get(f"/l/{learner_launch.public_id}/").content.decode()
    assert "Tu inscripción en este curso ha finalizado: esta página es de solo lectura." in page
    assert "has concluded" not in page


def test_a_teaching_assistants_read_only_dashboard_in_french(client):
    s = build_course()
    ta = f.LaunchContextFactory(
        course=s["course"],
        person=f.PersonFactory(platform=s["course"].platform, canvas_user_id="3"),
        role=LaunchContext.ROLE_INSTRUCTOR,
        is_teaching_assistant=True,
        locale="fr",
    )
    page = client.get(f"/l/{ta.public_id}/instructor/").content.decode()
    assert "Lecture seule" in page and "Vous êtes assistant d’enseignement" in page
    assert "Assistant d’enseignement" in page  # who is signed in
    assert "Read-only" not in page and "You are a teaching assistant" not in page


def test_the_rule_panel_says_final_grade_override_is_off_in_spanish(client):
    s = build_course()
    CourseSync.objects.update_or_create(course=s["course"], defaults={"allow_final_grade_override": False})
    s["launch"].locale = "es"
    s["launch"].save()
    page = client.get(f"/l/{s['launch'].public_id}/instructor/").content.decode()
    assert "Este curso no permite la anulación de la calificación final en Canvas" in page
    assert "según la puntuación que introdujo el corrector" in page


def test_a_link_from_another_browser_is_refused_in_the_browsers_language(client, learner_launch):
    """The launch's language is the launch user's; someone else's browser is answered in its own."""
    learner_launch.locale = "fr"
    learner_launch.browser_key_hash = hashlib.sha256(b"the-right-key").hexdigest()
    learner_launch.browser_bound = True
    learner_launch.save()
    client.cookies[launch_cookie_name(learner_launch.public_id)] = "a-guess"
    response = client.get(f"/l/{learner_launch.public_id}/", HTTP_ACCEPT_LANGUAGE="es")
    assert response.status_code == 403
    assert html_lang(response)[0] == "es"
    assert "Este enlace pertenece a otro navegador" in response.content.decode()


@pytest.mark.parametrize(
    ("deducted", "language", "text"),
    [
        ("1", "en", "Canvas took 1 point off"),
        ("0.5", "en", "Canvas took 0.5 points off"),
        ("1.5", "en", "Canvas took 1.5 points off"),
        ("0.5", "fr", "Canvas a retiré 0,5 point pour retard"),
        ("3", "fr", "Canvas a retiré 3 points pour retard"),
        ("1", "es", "Canvas restó 1 punto por entrega tardía"),
        ("2.5", "es", "Canvas restó 2,5 puntos por entrega tardía"),
    ],
)
def test_late_penalty_points_take_the_languages_plural(deducted, language, text):
    from badging.selectors.learner.cards import late_penalty_note

    with translation.override(language):
        note = late_penalty_note(points_deducted=Decimal(deducted), mastery_score="entered")
    assert text in note


# --- emails -------------------------------------------------------------------------------------


def _sent(award) -> mail.EmailMultiAlternatives:
    mail.outbox.clear()
    award_email.award_email_message(award=award, links=notifications.delivery_links()).send()
    return mail.outbox[-1]


def test_the_email_is_in_the_language_of_the_latest_launch():
    award = issued_award()
    award.learner.locale = "es"
    award.learner.save()
    message = _sent(award)
    assert message.subject == "Has obtenido la insignia «Data Analysis Fundamentals»"
    assert message.extra_headers["Content-Language"] == "es"
    assert "¡Enhorabuena!" in message.body
    html = message.alternatives[0][0]
    assert '<html lang="es" dir="ltr">' in html and "Ver tu insignia" in html


def test_without_a_launch_the_course_language_then_the_default_applies(settings):
    award = issued_award()
    course = award.course_badge.course
    course.locale = "fr"
    course.save()
    assert _sent(award).subject == "Vous avez obtenu le badge « Data Analysis Fundamentals »"
    course.locale = ""
    course.save()
    assert _sent(award).subject == "You earned the “Data Analysis Fundamentals” badge"
    settings.LANGUAGE_CODE = "es"
    assert language_for_person(award.learner, course) == "es"


def test_sending_an_email_leaves_the_active_language_alone():
    award = issued_award()
    award.learner.locale = "fr"
    with translation.override("es"):
        _sent(award)
        assert translation.get_language() == "es"


# --- the course language from Canvas REST -------------------------------------------------------


def test_the_course_record_reads_the_course_language():
    assert CanvasCourse.from_api({"id": 7, "name": "Data", "locale": "fr-CA"}).locale == "fr-CA"
    assert CanvasCourse.from_api({"id": 7, "name": "Data", "locale": None}).locale == ""


def test_localized_points_keep_canvas_precision():
    from badging.templatetags.learner_format import localized_points

    with translation.override("fr"):
        assert localized_points(Decimal("9.625")) == "9,63"
        assert localized_points(12) == "12"
    with translation.override("en"):
        assert localized_points(Decimal("9.60")) == "9.6"


# --- the admin's own texts: model field labels, help texts and choices -----------------------------


def test_the_admin_course_badge_and_platform_pages_in_spanish(admin_client):
    """The admin follows the browser's Accept-Language (README "Languages"); its labels, help
    texts and choices come from the models' translatable verbose names."""
    badge = f.CourseBadgeFactory()
    page = admin_client.get(f"/admin/badging/coursebadge/{badge.pk}/change/", HTTP_ACCEPT_LANGUAGE="es")
    text = page.content.decode()
    assert "Modificar insignia del curso" in text
    for label in ("Porcentaje mínimo de dominio:", "Modo de dominio:", "Los profesores asistentes pueden actuar"):
        assert f">{label}</label>" in text, label
    assert "Anulación de la calificación final de Canvas" in text and "% de los puntos" in text
    assert "Dominar el grupo de tareas «Credentialing Assessments» (al menos el 80 % de los puntos)" in text
    assert ">Insignias del curso</a>" in text and ">Progreso del estudiante</a>" in text  # the admin's menu
    assert "Mastery min percent" not in text and "Canvas Final Grade Override" not in text

    platform = f.PlatformFactory()
    text = admin_client.get(f"/admin/lti/platform/{platform.pk}/change/", HTTP_ACCEPT_LANGUAGE="es").content.decode()
    assert "Modificar plataforma" in text
    assert ">Url del conjunto de claves:</label>" in text and ">Id de cliente:</label>" in text
    assert "Aceptar lanzamientos de implementaciones que no figuran abajo" in text
    assert "Keyset url" not in text and "Client id" not in text
    english = admin_client.get(f"/admin/lti/platform/{platform.pk}/change/", HTTP_ACCEPT_LANGUAGE="en")
    assert ">Keyset url:</label>" in english.content.decode()

    award = f.AwardFactory()
    text = admin_client.get(f"/admin/badging/award/{award.pk}/change/", HTTP_ACCEPT_LANGUAGE="fr").content.decode()
    assert "Affichage de badge décerné" in text and "Adresse du destinataire" in text
    assert "Recipient email" not in text


# --- the evaluation's reasons, in the viewer's language ----------------------------------------------


def _evaluated_detail():
    """What the evaluator stores for a learner with one assessment below mastery (6 of 12 points,
    9.6 needed), one mastered, and no Final Grade Override yet."""
    rule = ev.BadgeRule(
        assessments=(
            ev.AssessmentSpec("501", "Clean a data set", Decimal(12), min_percent=Decimal(80)),
            ev.AssessmentSpec("502", "Present findings", Decimal(12), min_percent=Decimal(80)),
        )
    )
    facts = ev.LearnerFacts(
        enrollments=(ev.EnrollmentFact(state="active"),),
        results={
            "501": ev.ResultFact("501", "graded", score=Decimal(12), graded=True, posted=True),
            "502": ev.ResultFact("502", "graded", score=Decimal(6), graded=True, posted=True),
        },
    )
    return ev.evaluate_learner(rule=rule, learner=facts).detail()


def test_a_spanish_instructor_reads_the_evaluations_reasons_in_spanish(client):
    """The reasons are stored with their code and values and shown in the viewer's language on the
    dashboard, "why not issued?" and the CSV; the stored English stays for older rows."""
    s = build_course()
    bob = s["people"]["bob"]
    detail = _evaluated_detail()
    assert detail["assessments"][1]["reason"] == "6 of 12 points; 9.6 needed for mastery"  # the English kept
    LearnerProgress.objects.filter(course_badge=s["badge"], learner=bob).update(detail=detail)
    s["launch"].locale = "es"
    s["launch"].save()
    launch, badge = s["launch"].public_id, s["badge"].pk
    why = client.get(f"/l/{launch}/instructor/badges/{badge}/learners/{bob.pk}/").content.decode()
    assert "6 de 12 puntos; se necesitan 9,6 para superarla" in why
    assert "Superada: 12 de 12 puntos (se necesitan 9,6)" in why
    assert "El profesor aún no ha introducido la calificación final" in why
    assert "needed for mastery" not in why and "has not entered the final grade" not in why
    dashboard = client.get(f"/l/{launch}/instructor/").content.decode()
    assert "1 de 2 evaluaciones acreditativas superadas" in dashboard
    url = f"/l/{launch}/instructor/badges/{badge}/export/"
    token = re.search(r'name="token" value="([^"]+)"', client.get(url).content.decode()).group(1)
    response = client.post(url, {"token": token}, HTTP_ORIGIN="http://testserver")
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    bob_row = next(r for r in rows if r[2] == bob.canvas_user_id)
    assert "1 de 2 evaluaciones acreditativas superadas" in bob_row
    with translation.override("fr"):
        assert reason_text(detail["assessments"][1]) == "6 sur 12 points ; 9,6 nécessaires pour la maîtrise"
    # A row stored before the codes: its English words as they are.
    assert reason_text({"reason": "an older reason"}) == "an older reason"


def test_points_texts_kept_per_language_follow_a_settings_change(settings):
    from badging.templatetags.learner_format import localized_points, points_pts

    with translation.override("fr"):
        assert localized_points(Decimal("1250.5")) == "1250,5"
        assert points_pts(Decimal("2.50")) == "2,5 pts"
    with translation.override("en"):
        assert localized_points(Decimal("1250.5")) == "1250.5"
        settings.USE_THOUSAND_SEPARATOR = True
        assert localized_points(Decimal("1250.5")) == "1,250.5"
