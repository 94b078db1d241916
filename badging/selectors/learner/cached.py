"""The learner page kept in the cache: the digest of the rows it is built from (one prepared query),
the cache key of the rendered page, and the course's part of the page kept in the process while
the course's own digest is unchanged.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.utils import translation

from badging.models import (
    AssessmentResult,
    Assignment,
    Award,
    BadgeClass,
    CourseBadge,
    CourseSync,
    Enrollment,
    Issuer,
    LearnerProgress,
)
from badging.selectors.learner.cards import LearnerPage
from badging.selectors.learner.page import CourseRules, course_rules_read, learner_page
from lti.models import LaunchContext, Person
from skillsforward.prepared import execute_prepared

# --- the learner page, cached ------------------------------------------------------------------
#
# Building and rendering the page costs seven queries, the evaluation and the template; under load
# that is most of a request. The rendered page is kept in the cache under a key made of whose page
# it is (platform, course, learner), what shapes its words and links (language, site, the launch's
# email, test-user and concluded flags), and a digest of the version (see _version)
# of every row it is built from, computed by the database in one query. Any change to those rows
# (a grade, an award, a revocation, a rule, however it was written: save, bulk update, raw SQL)
# changes the digest, so the next view builds the page again: nothing is
# invalidated by hand, and nothing stale is shown. The digest needs PostgreSQL; elsewhere (the
# SQLite demo) the page is built on every view.

LEARNER_PAGE_CACHE_SECONDS = 600
# Bump when what is kept (badging.views.learner.RenderedPage) changes shape: old entries are then not read.
LEARNER_PAGE_CACHE_VERSION = 3


def _code_version() -> str:
    """The deployed code and templates of the learner page: a release that changes any of them
    does not serve pages cached by the previous one (stat only, read once per process)."""
    from pathlib import Path

    from django.conf import settings

    root = Path(settings.BASE_DIR)
    files = [
        *sorted(Path(__file__).parent.glob("*.py")),  # this package: the page's data and words
        root / "badging" / "views" / "learner.py",
        root / "badging" / "selectors" / "awards.py",
        root / "templates" / "base.html",
        *sorted((root / "templates" / "badging" / "learner").glob("*.html")),
    ]
    stamps = []
    for path in files:
        try:
            stat = path.stat()
        except OSError:
            continue
        stamps.append(f"{path.name}:{stat.st_mtime_ns}:{stat.st_size}")
    return hashlib.sha256("|".join(stamps).encode()).hexdigest()[:12]


_CODE_VERSION: list[str] = []


def _version(*aliases: str) -> str:
    """The version of a row (or of a joined row's parts): its id, the transaction that wrote it
    (xmin) and that transaction's command (cmin). Every write of a row, however made, stores a new
    version under a new pair, even a second write in one transaction, so this changes whenever the
    row's text could, without reading the row's columns (large evaluation details are compressed
    out of line: reading them was most of the digest's cost)."""
    return "concat_ws(':', " + ", ".join(f"{a}.id, {a}.xmin, {a}.cmin" for a in aliases) + ")"


def _digest_sql() -> str:
    badge, sync = CourseBadge._meta.db_table, CourseSync._meta.db_table
    # Only model table and column names are formatted in; the values are query parameters.
    active_badges = f"SELECT id FROM {badge} WHERE course_id = %(course)s AND active"  # noqa: S608
    active_classes = f"SELECT badge_class_id FROM {badge} WHERE course_id = %(course)s AND active"  # noqa: S608
    # The course's part (badges, assignments, sync) has its own digest too: see course_rules below.
    # OFFSET 0 keeps it a subquery computed once (pulled up, it was computed for each use of c.part).
    return f"""
    SELECT md5(concat_ws('|', c.part,
      (SELECT string_agg({_version("r")}, ',' ORDER BY r.id)
         FROM {AssessmentResult._meta.db_table} r WHERE r.course_id = %(course)s AND r.learner_id = %(person)s),
      (SELECT string_agg({_version("e")}, ',' ORDER BY e.id)
         FROM {Enrollment._meta.db_table} e WHERE e.course_id = %(course)s AND e.learner_id = %(person)s),
      (SELECT string_agg({_version("p")}, ',' ORDER BY p.id)
         FROM {LearnerProgress._meta.db_table} p
        WHERE p.learner_id = %(person)s AND p.course_badge_id IN ({active_badges})),
      (SELECT string_agg({_version("w")}, ',' ORDER BY w.id)
         FROM {Award._meta.db_table} w
        WHERE w.learner_id = %(person)s AND w.badge_class_id IN ({active_classes})),
      (SELECT {_version("pe")} FROM {Person._meta.db_table} pe WHERE pe.id = %(person)s)
    )),
    (SELECT s.last_synced_at FROM {sync} s WHERE s.course_id = %(course)s ORDER BY s.id LIMIT 1),
    c.part
    FROM (SELECT md5(concat_ws('|',
      (SELECT string_agg({_version("cb", "bc", "i")}, ',' ORDER BY cb.id)
         FROM {badge} cb JOIN {BadgeClass._meta.db_table} bc ON bc.id = cb.badge_class_id
         JOIN {Issuer._meta.db_table} i ON i.id = bc.issuer_id
        WHERE cb.course_id = %(course)s AND cb.active),
      (SELECT string_agg({_version("a")}, ',' ORDER BY a.id)
         FROM {Assignment._meta.db_table} a WHERE a.course_id = %(course)s),
      -- A course's sync row appears at its first sync request: that alone does not change the page.
      coalesce((SELECT concat_ws(',', s.last_synced_at, s.allow_final_grade_override) FROM {sync} s
        WHERE s.course_id = %(course)s ORDER BY s.id LIMIT 1), '')
    )) AS part OFFSET 0) c
    """  # noqa: S608


_DIGEST_SQL: list[str] = []


@dataclass(frozen=True)
class LearnerPageVersion:
    digest: str  # of every row the page is built from
    last_synced_at: datetime | None  # shown as "last updated … ago", which changes by itself
    course_digest: str = ""  # of the course's own rows among them (badges, assignments, sync)


def learner_page_version(*, course_id: int, person_id: int) -> LearnerPageVersion | None:
    """What the learner page of this learner in this course is built from, in one query (None when
    the database cannot compute the digest: then nothing is cached)."""
    if connection.vendor != "postgresql":
        return None
    if not _DIGEST_SQL:
        _DIGEST_SQL.append(_digest_sql().replace("%(course)s", "$1").replace("%(person)s", "$2"))
    with connection.cursor() as cursor:
        execute_prepared(
            cursor,
            name="learner_page_digest",
            sql=_DIGEST_SQL[0],
            types=["bigint", "bigint"],
            params=[course_id, person_id],
        )
        row = cursor.fetchone()
    return LearnerPageVersion(digest=row[0], last_synced_at=row[1], course_digest=row[2]) if row else None


def learner_page_cache_key(*, launch: LaunchContext, request, version: LearnerPageVersion) -> str:
    """The cache key of what a learner page shows: whose it is (platform, course, learner), what
    shapes its words and links (language, site, the launch's email, test-user and concluded flags)
    and the digest. The launch itself is not part of it: a rendered page keeps slots for the
    launch's own links and form tokens (badging.views.learner.RenderedPage)."""
    site = request.build_absolute_uri("/") if request is not None else ""
    shaped_by = "|".join(
        [
            str(launch.platform_id),
            str(launch.course_id),
            str(launch.person_id),
            translation.get_language() or "",
            site,
            launch.email,
            str(launch.is_test_user),
            str(launch.concluded),
        ]
    )
    scope = hashlib.sha256(shaped_by.encode()).hexdigest()[:32]
    if not _CODE_VERSION:
        _CODE_VERSION.append(_code_version())
    return (
        f"badging:learner-page:html:v{LEARNER_PAGE_CACHE_VERSION}-{_CODE_VERSION[0]}:"
        f"{launch.course_id}:{launch.person_id}:"
        f"{scope}:{version.digest}"
    )


# The course's part of the page, kept in this process while the course's digest is unchanged: a
# learner's first view (a new learner, or new grades) then reads only that learner's four queries.
_COURSE_RULES: dict[int, tuple[str, CourseRules]] = {}
_COURSE_RULES_KEPT = 256  # courses per process; past that the memo starts again


def course_rules(*, course, version: LearnerPageVersion) -> CourseRules:
    """course_rules_read(), kept in this process for the course's digest (read after the digest,
    so what is kept is never older than the digest it is kept under)."""
    kept = _COURSE_RULES.get(course.pk)
    if kept is not None and kept[0] == version.course_digest:
        return kept[1]
    rules = course_rules_read(course=course)
    if len(_COURSE_RULES) >= _COURSE_RULES_KEPT:
        _COURSE_RULES.clear()
    _COURSE_RULES[course.pk] = (version.course_digest, rules)
    return rules


def learner_page_built(*, launch: LaunchContext, request=None, version: LearnerPageVersion | None) -> LearnerPage:
    """learner_page(), with the course's part kept in this process while its digest is unchanged.
    The page itself is kept rendered (badging.views.learner), so it is built only when a row it
    is built from changed, or for a view with a query (a notice after a save)."""
    if version is None or not version.course_digest:
        return learner_page(launch=launch, request=request)
    return learner_page(
        launch=launch, request=request, course_rules=course_rules(course=launch.course_required, version=version)
    )
