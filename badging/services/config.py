"""Configuration as a file: issuers, badge classes and course badges in one JSON document.

`config_import` is idempotent by `key` (re-importing the same file changes nothing) and
all-or-nothing: every problem is reported, naming the offending field (`badge_classes[1].image:
file not found: x.png`), and nothing is written unless the whole file is valid.
`config_export` produces a document that `config_import` accepts (images as data: URIs).

Each object's fields are checked and turned into model field values by badging.services.config_fields;
this module writes them (or reads them back, for the export).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.db import transaction

from badging.models import BadgeClass, CourseBadge, Issuer, Program, ProgramRequirement
from badging.services.config_fields import (
    _badge_class_fields,
    _course_badge_fields,
    _Errors,
    _issuer_fields,
    _key,
    _list,
    _offered_once,
    _program_fields,
)
from badging.services.programs import program_evaluate_all_later
from badging.services.sync.coordination import course_evaluate_request
from lti.models import Course


class ConfigImportError(Exception):
    """The file is invalid; `errors` lists every problem, each naming its field."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        return [f"{verb}: {name}" for verb, names in self.as_dict().items() for name in names]

    def as_dict(self) -> dict[str, list[str]]:
        return {"created": self.created, "updated": self.updated, "unchanged": self.unchanged}


def _apply(model, key: str, fields: dict, report: ImportReport, label: str):
    row = model.objects.filter(key=key).first()
    if row is None:
        row = model.objects.create(key=key, **fields)
        report.created.append(label)
        return row
    changed = [name for name, value in fields.items() if _stored(getattr(row, name)) != _stored(value)]
    if changed:
        for name in changed:
            setattr(row, name, fields[name])
        row.save()
        report.updated.append(f"{label} ({', '.join(changed)})")
    else:
        report.unchanged.append(label)
    return row


def _stored(value: Any) -> Any:
    if isinstance(value, memoryview):
        return bytes(value)
    if isinstance(value, Decimal):
        return value.normalize()
    if isinstance(value, float):
        return Decimal(str(value)).normalize()
    if hasattr(value, "pk"):
        return value.pk
    return value


def config_import(*, data: dict, base_dir: Path) -> ImportReport:
    """Create or update issuers, badge classes and course badges from a configuration document.

    Raises ConfigImportError listing every problem (nothing is written then)."""
    errors = _Errors()
    if not isinstance(data, dict):
        raise ConfigImportError(["the file must hold a JSON object with issuers, badge_classes and course_badges"])
    unknown = set(data) - {"issuers", "badge_classes", "course_badges", "programs", "version"}
    for name in sorted(unknown):
        errors.add(name, "is not a known section (issuers, badge_classes, course_badges, programs)")
    names = ("issuers", "badge_classes", "course_badges", "programs")
    sections = {name: _list(data, name, "file", errors) if name in data or name != "programs" else [] for name in names}

    def keyed(section: str) -> list[tuple[str, str, dict]]:
        out, seen = [], set()
        for i, obj in enumerate(sections[section]):
            where = f"{section}[{i}]"
            if not isinstance(obj, dict):
                errors.add(where, "must be an object")
                continue
            key = _key(obj, where, errors)
            if key in seen:
                errors.add(f"{where}.key", f"{key!r} appears twice in {section}")
            seen.add(key)
            out.append((where, key, obj))
        return out

    issuers = [(w, k, _issuer_fields(o, w, base_dir, errors)) for w, k, o in keyed("issuers")]
    issuer_keys = {k for _, k, _ in issuers} | set(Issuer.objects.values_list("key", flat=True))
    classes = [(w, k, _badge_class_fields(o, w, base_dir, errors, issuer_keys)) for w, k, o in keyed("badge_classes")]
    class_keys = {k for _, k, _ in classes} | set(BadgeClass.objects.values_list("key", flat=True))
    course_badges = [(w, k, _course_badge_fields(o, w, errors, class_keys)) for w, k, o in keyed("course_badges")]
    _offered_once(course_badges, errors)
    offered = {f["badge_class_key"] for _, _, f in course_badges} | set(
        CourseBadge.objects.values_list("badge_class__key", flat=True)
    )
    programs = [(w, k, _program_fields(o, w, errors, class_keys, offered)) for w, k, o in keyed("programs")]
    if errors.items:
        raise ConfigImportError(errors.items)

    report = ImportReport()
    with transaction.atomic():
        for _, key, fields in issuers:
            _apply(Issuer, key, fields, report, f"issuer {key}")
        for _, key, fields in classes:
            fields = dict(fields)
            fields["issuer"] = Issuer.objects.get(key=fields.pop("issuer_key"))
            _apply(BadgeClass, key, fields, report, f"badge class {key}")
        for _, key, fields in course_badges:
            fields = dict(fields)
            fields["badge_class"] = BadgeClass.objects.get(key=fields.pop("badge_class_key"))
            platform = fields.pop("platform")
            course, _ = Course.objects.get_or_create(platform=platform, canvas_course_id=fields.pop("canvas_course_id"))
            fields["course"] = course
            before = len(report.unchanged)
            _apply(CourseBadge, key, fields, report, f"course badge {key}")
            if len(report.unchanged) == before:  # created or changed: learner states follow the new rule
                course_evaluate_request(course_id=course.pk)
        for _, key, fields in programs:
            fields = dict(fields)
            fields["badge_class"] = BadgeClass.objects.get(key=fields.pop("badge_class_key"))
            requires = fields.pop("requires")
            before = len(report.unchanged)
            program = _apply(Program, key, fields, report, f"program badge {key}")
            wanted = list(BadgeClass.objects.filter(key__in=requires).values_list("key", "pk"))
            by_key = dict(wanted)
            current = list(program.requirements.order_by("position", "pk").values_list("badge_class__key", flat=True))
            if current != requires:
                program.requirements.all().delete()
                ProgramRequirement.objects.bulk_create(
                    [
                        ProgramRequirement(program=program, badge_class_id=by_key[k], position=i)
                        for i, k in enumerate(requires)
                    ]
                )
                if len(report.unchanged) != before:
                    report.unchanged.pop()
                    report.updated.append(f"program badge {key} (requires)")
            if len(report.unchanged) == before:  # created or changed: learners are evaluated again
                program_evaluate_all_later(program_id=program.pk)
    return report


def _data_uri(data: bytes | memoryview | None, content_type: str) -> str | None:
    if not data:
        return None
    return f"data:{content_type or 'image/png'};base64,{base64.b64encode(bytes(data)).decode()}"


def config_export() -> dict:
    """Every issuer, badge class and course badge as a document config_import accepts."""
    issuers = []
    for issuer in Issuer.objects.order_by("key"):
        item: dict[str, Any] = {
            "key": issuer.key,
            "name": issuer.name,
            "url": issuer.url,
            "email": issuer.email,
            "description": issuer.description,
        }
        image = _data_uri(issuer.image, issuer.image_content_type)
        if image:
            item["image"] = image
        issuers.append(item)
    classes = []
    for badge_class in BadgeClass.objects.select_related("issuer").order_by("key"):
        item = {
            "key": badge_class.key,
            "issuer": badge_class.issuer.key,
            "name": badge_class.name,
            "description": badge_class.description,
            "image": _data_uri(badge_class.image, badge_class.image_content_type),
            "criteria": (
                {"narrative": badge_class.criteria_narrative, "url": badge_class.criteria_url}
                if badge_class.criteria_url
                else badge_class.criteria_narrative
            ),
            "alignments": badge_class.alignments,
            "tags": badge_class.tags,
        }
        if badge_class.valid_for_days:
            item["valid_for_days"] = badge_class.valid_for_days
        classes.append(item)
    course_badges = []
    for cb in CourseBadge.objects.select_related("badge_class", "course__platform").order_by("key"):
        mastery: dict[str, Any] = (
            {"min_points": float(cb.mastery_min_points)}
            if cb.mastery_mode == CourseBadge.MASTERY_POINTS and cb.mastery_min_points is not None
            else {"min_percent": float(cb.mastery_min_percent)}
        )
        if cb.mastery_overrides:
            mastery["overrides"] = cb.mastery_overrides
        if cb.min_rubric_criterion_percent is not None:
            mastery["min_rubric_criterion_percent"] = float(cb.min_rubric_criterion_percent)
        if cb.mastery_score != CourseBadge.SCORE_ENTERED:
            mastery["score"] = cb.mastery_score
        final: dict[str, Any] = {"source": cb.final_grade_source}
        if cb.final_grade_source == CourseBadge.FINAL_GRADE_ASSIGNMENT:
            if cb.final_grade_assignment_id:
                final["assignment_id"] = cb.final_grade_assignment_id
            if cb.final_grade_assignment_name:
                final["assignment_name"] = cb.final_grade_assignment_name
        course_badges.append(
            {
                "key": cb.key,
                "badge_class": cb.badge_class.key,
                "platform_issuer": cb.course.platform.issuer,
                "client_id": cb.course.platform.client_id,
                "canvas_course_id": cb.course.canvas_course_id,
                "assessments": (
                    {"assignment_ids": cb.assessment_ids}
                    if cb.assessment_ids
                    else {"assignment_group": cb.assessment_group_name}
                ),
                "mastery": mastery,
                "final_grade": final,
                "active": cb.active,
                "teaching_assistants_may_act": cb.teaching_assistants_may_act,
            }
        )
    programs = []
    for program in (
        Program.objects.select_related("badge_class", "platform")
        .prefetch_related("requirements__badge_class")
        .order_by("key")
    ):
        programs.append(
            {
                "key": program.key,
                "badge_class": program.badge_class.key,
                "platform_issuer": program.platform.issuer,
                "client_id": program.platform.client_id,
                "requires": [r.badge_class.key for r in program.requirements.all()],
                "rule": {"at_least": program.required_count} if program.mode == Program.MODE_N_OF else {"all": True},
                "active": program.active,
            }
        )
    return {
        "version": 1,
        "issuers": issuers,
        "badge_classes": classes,
        "course_badges": course_badges,
        "programs": programs,
    }
