"""The operators' configuration home: issuers, badge classes, course badges and the records behind them.

Configuration (issuers, badge classes, course badges, programs) is editable; what Canvas says
(assignments, enrollments, results) and what happened (progress, awards, deliveries, syncs, audit)
is read-only, changed only through the services: revoking an award and retrying a delivery are
admin actions.

One module per area; importing them here is what registers them when Django's admin
autodiscovery imports `badging.admin`.
"""

from django.contrib import admin
from django.utils.translation import gettext_lazy

from badging.admin import awards, badge_classes, course_records, issuers, programs

__all__ = ["awards", "badge_classes", "course_records", "issuers", "programs"]

admin.site.site_header = gettext_lazy("Skills Forward Badges administration")
admin.site.site_title = "Skills Forward Badges"
admin.site.index_title = gettext_lazy("Configuration and records")
