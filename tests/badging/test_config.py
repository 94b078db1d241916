"""Configuration import/export: idempotent by key, all-or-nothing, errors naming the field."""

import io
import json

import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from badging.models import BadgeClass, CourseBadge, Issuer
from badging.services.config import ConfigImportError, config_export, config_import
from lti.models import Course
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(tmp_path):
    out = io.BytesIO()
    Image.new("RGBA", (128, 128), (0, 100, 200, 255)).save(out, format="PNG")
    (tmp_path / "badge.png").write_bytes(out.getvalue())
    (tmp_path / "evil.svg").write_bytes(b'<svg xmlns="http://www.w3.org/2000/svg"><script>x()</script></svg>')
    return tmp_path


@pytest.fixture
def platform():
    return f.PlatformFactory(issuer="https://canvas.instructure.com", client_id="10000000000042")


def document(**overrides):
    doc = {
        "issuers": [
            {
                "key": "uni",
                "name": "Skills Forward University",
                "url": "https://uni.example.edu",
                "email": "badges@uni.example.edu",
            }
        ],
        "badge_classes": [
            {
                "key": "data-analysis",
                "issuer": "uni",
                "name": "Data Analysis Fundamentals",
                "description": "Cleans, analyses and presents a data set.",
                "image": "badge.png",
                "criteria": "Master every credentialing assessment.",
                "alignments": [{"targetName": "Data analysis", "targetUrl": "https://skills.example.org/da"}],
                "tags": ["data"],
                "valid_for_days": 730,
            }
        ],
        "course_badges": [
            {
                "key": "ds101-data-analysis",
                "badge_class": "data-analysis",
                "platform_issuer": "https://canvas.instructure.com",
                "client_id": "10000000000042",
                "canvas_course_id": 7,
                "assessments": {"assignment_group": "Credentialing Assessments"},
                "mastery": {"min_percent": 75, "overrides": {"55": {"min_points": 11}}},
                "final_grade": {"source": "assignment", "assignment_name": "Final grade"},
            }
        ],
    }
    doc.update(overrides)
    return doc


def test_import_creates_everything_then_is_idempotent(files, platform):
    report = config_import(data=document(), base_dir=files)
    assert report.created == ["issuer uni", "badge class data-analysis", "course badge ds101-data-analysis"]
    badge = CourseBadge.objects.get(key="ds101-data-analysis")
    assert badge.course == Course.objects.get(platform=platform, canvas_course_id="7")
    assert badge.mastery_min_percent == 75 and badge.mastery_overrides == {"55": {"min_points": 11.0}}
    assert badge.final_grade_source == "assignment" and badge.final_grade_assignment_name == "Final grade"
    badge_class = BadgeClass.objects.get()
    assert (
        badge_class.image_content_type == "image/png" and bytes(badge_class.image) == (files / "badge.png").read_bytes()
    )

    again = config_import(data=document(), base_dir=files)
    assert again.created == [] and again.updated == []
    assert len(again.unchanged) == 3
    assert Issuer.objects.count() == BadgeClass.objects.count() == CourseBadge.objects.count() == 1


def test_changed_field_updates_only_that_object(files, platform):
    config_import(data=document(), base_dir=files)
    doc = document()
    doc["issuers"][0]["name"] = "Skills Forward U."
    report = config_import(data=doc, base_dir=files)
    assert report.updated == ["issuer uni (name)"]
    assert Issuer.objects.get().name == "Skills Forward U."


def test_errors_name_the_offending_field_and_nothing_is_written(files, platform):
    doc = document()
    doc["badge_classes"].append({**doc["badge_classes"][0], "key": "second", "image": "x.png"})
    doc["badge_classes"].append({**doc["badge_classes"][0], "key": "third", "image": "evil.svg", "issuer": "nobody"})
    doc["course_badges"][0]["mastery"] = {"min_percent": 120}
    doc["course_badges"][0]["client_id"] = "999"
    doc["issuers"][0]["email"] = "not-an-email"
    with pytest.raises(ConfigImportError) as info:
        config_import(data=doc, base_dir=files)
    errors = info.value.errors
    assert "badge_classes[1].image: file not found: x.png" in errors
    assert (
        "badge_classes[2].image: the SVG contains a <script> element, which is not allowed in a badge image" in errors
    )
    assert "badge_classes[2].issuer: no issuer with key 'nobody' in this file or the database" in errors
    assert "course_badges[0].mastery.min_percent: must be between 0 and 100" in errors
    assert any(e.startswith("course_badges[0].client_id: no Canvas platform is registered") for e in errors)
    assert "issuers[0].email: 'not-an-email' is not an email address" in errors
    assert Issuer.objects.count() == 0 and BadgeClass.objects.count() == 0


def test_export_round_trips_through_import(files, platform):
    config_import(data=document(), base_dir=files)
    exported = config_export()
    assert exported["badge_classes"][0]["image"].startswith("data:image/png;base64,")
    assert exported["course_badges"][0]["mastery"] == {"min_percent": 75.0, "overrides": {"55": {"min_points": 11.0}}}
    report = config_import(data=json.loads(json.dumps(exported)), base_dir=files)
    assert report.created == [] and report.updated == []


def test_commands(files, platform, tmp_path):
    path = files / "config.json"
    path.write_text(json.dumps(document()))
    out = io.StringIO()
    call_command("badging_import", str(path), stdout=out)
    assert "created: course badge ds101-data-analysis" in out.getvalue()
    export_path = tmp_path / "export.json"
    call_command("badging_export", "--out", str(export_path), stderr=io.StringIO())
    assert json.loads(export_path.read_text())["issuers"][0]["key"] == "uni"
    bad = files / "bad.json"
    bad.write_text(json.dumps(document(issuers=[{"key": "bad key!"}])))
    with pytest.raises(CommandError, match=r"issuers\[0\]\.key: 'bad key!' must contain only"):
        call_command("badging_import", str(bad))


def test_one_badge_class_offered_twice_in_a_course_is_an_error_not_a_crash(files, platform):
    doc = document()
    doc["course_badges"].append({**doc["course_badges"][0], "key": "duplicate"})
    with pytest.raises(ConfigImportError) as info:
        config_import(data=doc, base_dir=files)
    assert info.value.errors == [
        "course_badges[1].badge_class: 'data-analysis' is already offered in Canvas course 7 "
        "by course badge 'ds101-data-analysis'"
    ]

    config_import(data=document(), base_dir=files)
    doc = document()
    doc["course_badges"][0]["key"] = "renamed"
    with pytest.raises(ConfigImportError) as info:
        config_import(data=doc, base_dir=files)
    assert info.value.errors == [
        "course_badges[0].badge_class: 'data-analysis' is already offered in Canvas course 7 "
        "by course badge 'ds101-data-analysis'"
    ]
    assert list(CourseBadge.objects.values_list("key", flat=True)) == ["ds101-data-analysis"]


def test_alignment_addresses_must_be_web_addresses(files, platform):
    doc = document()
    doc["badge_classes"][0]["alignments"] = [
        {"targetName": "Data analysis", "targetUrl": "not a url", "targetCode": "DA-1"},
        {"targetName": "", "targetUrl": "https://skills.example.org/x"},
    ]
    with pytest.raises(ConfigImportError) as info:
        config_import(data=doc, base_dir=files)
    assert info.value.errors == [
        "badge_classes[0].alignments[0].targetUrl: 'not a url' is not a web address",
        "badge_classes[0].alignments[1]: needs targetName and targetUrl",
    ]


def test_a_created_or_changed_course_badge_re_evaluates_its_course(
    files, platform, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        config_import(data=document(), base_dir=files)
    course = Course.objects.get(canvas_course_id="7")
    assert [(task.name, task.kwargs) for task in enqueued] == [("badging.course_evaluate", {"course_id": course.pk})]

    enqueued.clear()
    with django_capture_on_commit_callbacks(execute=True):
        config_import(data=document(), base_dir=files)  # unchanged: nothing to re-evaluate
    assert not enqueued


def test_an_unreachable_broker_does_not_undo_or_break_an_import(files, platform, django_capture_on_commit_callbacks):
    from unittest import mock

    with (
        mock.patch("celery.current_app.send_task", side_effect=ConnectionError("broker down")),
        django_capture_on_commit_callbacks(execute=True),
    ):
        report = config_import(data=document(), base_dir=files)
    assert "course badge ds101-data-analysis" in report.created
    assert CourseBadge.objects.filter(key="ds101-data-analysis").exists()
