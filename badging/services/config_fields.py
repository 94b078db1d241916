"""Reading a configuration document (badging.services.config): each issuer, badge class, course
badge and program checked and turned into model field values, every problem named by its place
in the file (`badge_classes[1].image: file not found: x.png`). Nothing here writes."""

from __future__ import annotations

import base64
import binascii
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator, URLValidator, validate_slug

from badging.images import MAX_BYTES, badge_image_validate
from badging.models import CourseBadge, Program
from lti.models import Platform


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
