"""The evaluation's reasons in the viewer's language: the one place that turns a reason stored in
LearnerProgress.detail (its code and parameters, see badging.evaluation.REASONS) into words, for the
dashboard, "why not issued?" and the CSV export. A row stored before the codes keeps its English."""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from decimal import InvalidOperation

from django.utils.translation import gettext

from badging.evaluation import FINAL_ASSIGNMENT_UNNAMED, REASONS
from badging.templatetags.learner_format import localized_points

# Parameters that are points (stored as points_text): shown with the language's decimal separator.
POINTS = frozenset({"score", "needed", "possible"})


def reason_text(entry: Mapping | None) -> str:
    """The reason of one stored outcome (the evaluation's summary, an assessment, the final grade or
    the enrollment) in the active language; its stored English when the code is unknown or missing."""
    if not isinstance(entry, Mapping):
        return ""
    stored = str(entry.get("reason") or "")
    code = entry.get("reason_code")
    params = entry.get("reason_params")
    if not isinstance(code, str) or code not in REASONS or not isinstance(params, Mapping):
        return stored
    if not REASONS[code]:
        return ""
    values: dict[str, str] = {}
    for name, value in params.items():
        text = str(value)
        if name in POINTS:
            with contextlib.suppress(InvalidOperation):
                text = localized_points(text)
        elif name == "assignment" and not text:
            text = gettext(FINAL_ASSIGNMENT_UNNAMED)
        values[str(name)] = text
    try:
        return gettext(REASONS[code]) % values if values else gettext(REASONS[code])
    except (KeyError, ValueError, TypeError):
        return stored
