"""Configuration as a file: issuers, badge classes and course badges in one JSON document.

`config_import` is idempotent by `key` (re-importing the same file changes nothing) and
all-or-nothing: every problem is reported, naming the offending field (`badge_classes[1].image:
file not found: x.png`), and nothing is written unless the whole file is valid.
`config_export` produces a document that `config_import` accepts (images as data: URIs).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator, validate_slug
from django.db import transaction

from badging.images import MAX_BYTES, badge_image_validate
from badging.models import BadgeClass, CourseBadge, Issuer, Program, ProgramRequirement
from badging.services.programs import program_evaluate_all_later
from badging.services.sync.coordination import course_evaluate_request
from lti.models import Course, Platform


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


class _Errors:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, message: str) -> None:
        self.items.append(f"{where}: {message}")


def _text(obj: dict, name: str, where: str, errors: _Errors, *, required: bool = True, max_length: int = 0) -> str:
    value = obj.get(name)
    if value is None or value == "":
        if required:
            errors.add(f"{where}.{name}", "is required")
        return ""
    if not isinstance(value, str):
        errors.add(f"{where}.{name}", "must be text")
        return ""
    if max_length and len(value) > max_length:
        errors.add(f"{where}.{name}", f"is longer than {max_length} characters")
    return value.strip()


def _key(obj: dict, where: str, errors: _Errors) -> str:
    key = _text(obj, "key", where, errors, max_length=100)
    if key:
        try:
            validate_slug(key)
        except ValidationError:
            errors.add(f"{where}.key", f"{key!r} must contain only letters, digits, hyphens and underscores")
    return key


def _image(value: Any, where: str, base_dir: Path, errors: _Errors) -> tuple[bytes, str] | None:
    if not isinstance(value, str) or not value:
        errors.add(where, "must be a file name (relative to the JSON file) or a data: URI")
        return None
    if value.startswith("data:"):
        try:
            header, payload = value.split(",", 1)
            data = base64.b64decode(payload, validate=True) if ";base64" in header else payload.encode()
        except (ValueError, binascii.Error):
            errors.add(where, "is not a valid data: URI")
            return None
        name = "image.svg" if "svg" in header else "image.png"
    else:
        path = (base_dir / value).resolve()
        # Image files sit next to the JSON file: "../.." or an absolute path would let a set-up
        # file read any file this account can read into a public badge image.
        if not path.is_relative_to(base_dir.resolve()):
            errors.add(where, f"must be a file in the JSON file's folder or below it, not {value}")
            return None
        if not path.is_file():
            errors.add(where, f"file not found: {value}")
            return None
        if path.stat().st_size > MAX_BYTES:
            errors.add(
                where, f"the image is {path.stat().st_size // 1024} KB; at most {MAX_BYTES // 1024} KB is allowed"
            )
            return None
        data, name = path.read_bytes(), path.name
    try:
        return badge_image_validate(data, name)
    except ValidationError as exc:
        errors.add(where, "; ".join(exc.messages))
        return None


def _decimal(value: Any, where: str, errors: _Errors, *, low: float, high: float | None = None) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.add(where, f"must be a number, not {value!r}")
        return None
    if isinstance(value, bool) or number < low or (high is not None and number > high):
        errors.add(where, f"must be between {low:g} and {high:g}" if high is not None else f"must be at least {low:g}")
        return None
    return number


def _list(obj: dict, name: str, where: str, errors: _Errors) -> list:
    value = obj.get(name, [])
    if not isinstance(value, list):
        errors.add(f"{where}.{name}", "must be a list")
        return []
    return value


# --- Parsing into model field values --------------------------------------------------------------


def _issuer_fields(obj: dict, where: str, base_dir: Path, errors: _Errors) -> dict:
    fields: dict[str, Any] = {
        "name": _text(obj, "name", where, errors, max_length=200),
        "url": _text(obj, "url", where, errors, max_length=500),
        "email": _text(obj, "email", where, errors, max_length=320),
        "description": _text(obj, "description", where, errors, required=False),
    }
    if fields["url"]:
        try:
            URLValidator(schemes=["https", "http"])(fields["url"])
        except ValidationError:
            errors.add(f"{where}.url", f"{fields['url']!r} is not a web address")
    if fields["email"]:
        try:
            EmailValidator()(fields["email"])
        except ValidationError:
            errors.add(f"{where}.email", f"{fields['email']!r} is not an email address")
    if obj.get("image"):
        image = _image(obj["image"], f"{where}.image", base_dir, errors)
        if image:
            fields["image"], fields["image_content_type"] = image
    return fields


def _badge_class_fields(obj: dict, where: str, base_dir: Path, errors: _Errors, issuer_keys: set[str]) -> dict:
    issuer_key = _text(obj, "issuer", where, errors)
    if issuer_key and issuer_key not in issuer_keys:
        errors.add(f"{where}.issuer", f"no issuer with key {issuer_key!r} in this file or the database")
    criteria = obj.get("criteria")
    narrative, criteria_url = "", ""
    if isinstance(criteria, str):
        narrative = criteria
    elif isinstance(criteria, dict):
        narrative = str(criteria.get("narrative") or "")
        criteria_url = str(criteria.get("url") or "")
    if not narrative:
        errors.add(f"{where}.criteria", "is required: a text (or {narrative, url}) saying what earns the badge")
    alignments = _list(obj, "alignments", where, errors)
    for i, alignment in enumerate(alignments):
        if not isinstance(alignment, dict) or not alignment.get("targetName") or not alignment.get("targetUrl"):
            errors.add(f"{where}.alignments[{i}]", "needs targetName and targetUrl")
            continue
        try:
            URLValidator(schemes=["https", "http"])(str(alignment["targetUrl"]))
        except ValidationError:
            errors.add(f"{where}.alignments[{i}].targetUrl", f"{alignment['targetUrl']!r} is not a web address")
    tags = _list(obj, "tags", where, errors)
    if any(not isinstance(t, str) for t in tags):
        errors.add(f"{where}.tags", "must be a list of words")
    valid_for_days = obj.get("valid_for_days")
    if valid_for_days is not None and (
        not isinstance(valid_for_days, int) or isinstance(valid_for_days, bool) or valid_for_days < 1
    ):
        errors.add(f"{where}.valid_for_days", "must be a whole number of days (1 or more), or left out")
        valid_for_days = None
    fields: dict[str, Any] = {
        "issuer_key": issuer_key,
        "name": _text(obj, "name", where, errors, max_length=200),
        "description": _text(obj, "description", where, errors),
        "criteria_narrative": narrative,
        "criteria_url": criteria_url,
        "alignments": alignments,
        "tags": tags,
        "valid_for_days": valid_for_days,
    }
    image = _image(obj.get("image"), f"{where}.image", base_dir, errors)
    if image:
        fields["image"], fields["image_content_type"] = image
    return fields


def _course_badge_fields(obj: dict, where: str, errors: _Errors, badge_class_keys: set[str]) -> dict:
    badge_class_key = _text(obj, "badge_class", where, errors)
    if badge_class_key and badge_class_key not in badge_class_keys:
        errors.add(f"{where}.badge_class", f"no badge class with key {badge_class_key!r} in this file or the database")
    issuer = _text(obj, "platform_issuer", where, errors)
    client_id = str(obj.get("client_id") or "").strip()
    if not client_id:
        errors.add(f"{where}.client_id", "is required")
    course_id = str(obj.get("canvas_course_id") or "").strip()
    if not course_id:
        errors.add(f"{where}.canvas_course_id", "is required")
    platform = None
    if issuer and client_id:
        platform = Platform.objects.filter(issuer=issuer, client_id=client_id).first()
        if platform is None:
            errors.add(
                f"{where}.client_id",
                f"no Canvas platform is registered with issuer {issuer!r} and client_id {client_id!r}",
            )
    fields: dict[str, Any] = {
        "badge_class_key": badge_class_key,
        "platform": platform,
        "canvas_course_id": course_id,
        "assessment_group_name": "Credentialing Assessments",
        "assessment_ids": [],
        "mastery_mode": CourseBadge.MASTERY_PERCENT,
        "mastery_min_percent": Decimal(80),
        "mastery_min_points": None,
        "mastery_overrides": {},
        "min_rubric_criterion_percent": None,
        "mastery_score": CourseBadge.SCORE_ENTERED,
        "final_grade_source": CourseBadge.FINAL_GRADE_OVERRIDE,
        "final_grade_assignment_id": "",
        "final_grade_assignment_name": "",
        "active": bool(obj.get("active", True)),
        "teaching_assistants_may_act": obj.get("teaching_assistants_may_act", False),
    }
    if not isinstance(fields["teaching_assistants_may_act"], bool):
        errors.add(f"{where}.teaching_assistants_may_act", "must be true or false")
    assessments = obj.get("assessments", {"assignment_group": "Credentialing Assessments"})
    if not isinstance(assessments, dict) or len(assessments) != 1:
        errors.add(f"{where}.assessments", 'must be {"assignment_group": NAME} or {"assignment_ids": [ids]}')
    elif "assignment_group" in assessments:
        if not isinstance(assessments["assignment_group"], str) or not assessments["assignment_group"].strip():
            errors.add(f"{where}.assessments.assignment_group", "must be the name of a Canvas assignment group")
        else:
            fields["assessment_group_name"] = assessments["assignment_group"].strip()
    elif "assignment_ids" in assessments:
        ids = assessments["assignment_ids"]
        if not isinstance(ids, list) or not ids or not all(str(i).strip().isdigit() for i in ids):
            errors.add(f"{where}.assessments.assignment_ids", "must be a non-empty list of Canvas assignment ids")
        else:
            fields["assessment_ids"] = [str(i).strip() for i in ids]
    else:
        errors.add(f"{where}.assessments", 'must be {"assignment_group": NAME} or {"assignment_ids": [ids]}')

    mastery = obj.get("mastery", {"min_percent": 80})
    if not isinstance(mastery, dict):
        errors.add(f"{where}.mastery", 'must be {"min_percent": N} or {"min_points": N}')
        mastery = {}
    if "min_percent" in mastery and "min_points" in mastery:
        errors.add(f"{where}.mastery", "give min_percent or min_points, not both")
    elif "min_points" in mastery:
        fields["mastery_mode"] = CourseBadge.MASTERY_POINTS
        fields["mastery_min_points"] = _decimal(mastery["min_points"], f"{where}.mastery.min_points", errors, low=0)
    elif "min_percent" in mastery:
        fields["mastery_min_percent"] = _decimal(
            mastery["min_percent"], f"{where}.mastery.min_percent", errors, low=0, high=100
        )
    if "min_rubric_criterion_percent" in mastery:
        fields["min_rubric_criterion_percent"] = _decimal(
            mastery["min_rubric_criterion_percent"],
            f"{where}.mastery.min_rubric_criterion_percent",
            errors,
            low=0,
            high=100,
        )
    if "score" in mastery:
        if mastery["score"] not in (CourseBadge.SCORE_ENTERED, CourseBadge.SCORE_AFTER_PENALTIES):
            errors.add(f"{where}.mastery.score", 'must be "entered" (before late penalties) or "after_penalties"')
        else:
            fields["mastery_score"] = mastery["score"]
    overrides = mastery.get("overrides", {})
    if not isinstance(overrides, dict):
        errors.add(f"{where}.mastery.overrides", 'must map assignment ids to {"min_percent": N} or {"min_points": N}')
    else:
        for aid, rule in overrides.items():
            here = f"{where}.mastery.overrides.{aid}"
            if not isinstance(rule, dict) or len(rule) != 1 or next(iter(rule)) not in ("min_percent", "min_points"):
                errors.add(here, 'must be {"min_percent": N} or {"min_points": N}')
                continue
            kind, value = next(iter(rule.items()))
            number = _decimal(value, f"{here}.{kind}", errors, low=0, high=100 if kind == "min_percent" else None)
            if number is not None:
                fields["mastery_overrides"][str(aid)] = {kind: float(number)}

    final = obj.get("final_grade", {"source": "override"})
    source = final.get("source") if isinstance(final, dict) else None
    if source == CourseBadge.FINAL_GRADE_OVERRIDE:
        pass
    elif source == CourseBadge.FINAL_GRADE_ASSIGNMENT:
        fields["final_grade_source"] = CourseBadge.FINAL_GRADE_ASSIGNMENT
        fields["final_grade_assignment_id"] = str(final.get("assignment_id") or "").strip()
        fields["final_grade_assignment_name"] = str(final.get("assignment_name") or "").strip()
        if not (fields["final_grade_assignment_id"] or fields["final_grade_assignment_name"]):
            errors.add(f"{where}.final_grade", 'with source "assignment" needs assignment_name or assignment_id')
    else:
        errors.add(f"{where}.final_grade.source", f'must be "override" or "assignment", not {source!r}')
    return fields


def _program_fields(
    obj: dict, where: str, errors: _Errors, badge_class_keys: set[str], course_badge_classes: set[str]
) -> dict:
    """A program badge: {"badge_class", "platform_issuer", "client_id", "requires": [badge class
    keys], "rule": {"all": true} or {"at_least": N}, "active"?}."""
    badge_class_key = _text(obj, "badge_class", where, errors)
    if badge_class_key and badge_class_key not in badge_class_keys:
        errors.add(f"{where}.badge_class", f"no badge class with key {badge_class_key!r} in this file or the database")
    if badge_class_key in course_badge_classes:
        errors.add(
            f"{where}.badge_class", f"{badge_class_key!r} is a course's badge; a program needs a badge class of its own"
        )
    issuer = _text(obj, "platform_issuer", where, errors)
    client_id = str(obj.get("client_id") or "").strip()
    if not client_id:
        errors.add(f"{where}.client_id", "is required")
    platform = None
    if issuer and client_id:
        platform = Platform.objects.filter(issuer=issuer, client_id=client_id).first()
        if platform is None:
            errors.add(
                f"{where}.client_id",
                f"no Canvas platform is registered with issuer {issuer!r} and client_id {client_id!r}",
            )
    requires = _list(obj, "requires", where, errors)
    if not requires:
        errors.add(f"{where}.requires", "lists at least one badge class key")
    for i, key in enumerate(requires):
        if not isinstance(key, str) or key not in badge_class_keys:
            errors.add(f"{where}.requires[{i}]", f"no badge class with key {key!r} in this file or the database")
        elif key == badge_class_key:
            errors.add(f"{where}.requires[{i}]", "a program cannot require its own badge")
    if len(set(map(str, requires))) != len(requires):
        errors.add(f"{where}.requires", "lists a badge class twice")
    rule = obj.get("rule") or {"all": True}
    mode, count = Program.MODE_ALL, None
    if not isinstance(rule, dict) or (set(rule) - {"all", "at_least"}) or len(rule) != 1:
        errors.add(f"{where}.rule", 'is {"all": true} or {"at_least": N}')
    elif "at_least" in rule:
        value = rule["at_least"]
        if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= max(len(requires), 1):
            errors.add(f"{where}.rule.at_least", f"is a whole number from 1 to {len(requires)}")
        else:
            mode, count = Program.MODE_N_OF, value
    elif rule.get("all") is not True:
        errors.add(f"{where}.rule.all", "is true")
    return {
        "badge_class_key": badge_class_key,
        "platform": platform,
        "mode": mode,
        "required_count": count,
        "active": bool(obj.get("active", True)),
        "requires": [str(k) for k in requires],
    }


# --- Import / export ------------------------------------------------------------------------------


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


def _offered_once(course_badges: list[tuple[str, str, dict]], errors: _Errors) -> None:
    """A badge class is offered at most once per course (the database says so too): report, not crash."""
    offered: dict[tuple[int, str, str], str] = {}
    in_file = [key for _, key, _ in course_badges]  # their stored rows take this file's values
    for where, key, fields in course_badges:
        platform, course_id, class_key = fields["platform"], fields["canvas_course_id"], fields["badge_class_key"]
        if platform is None or not course_id or not class_key:
            continue
        other: str | None = offered.setdefault((platform.pk, course_id, class_key), key)
        if other == key:
            other = (
                CourseBadge.objects.filter(
                    course__platform=platform, course__canvas_course_id=course_id, badge_class__key=class_key
                )
                .exclude(key__in=in_file)
                .values_list("key", flat=True)
                .first()
            )
        if other:
            errors.add(
                f"{where}.badge_class",
                f"{class_key!r} is already offered in Canvas course {course_id} by course badge {other!r}",
            )


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
