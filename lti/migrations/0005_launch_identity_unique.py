"""A signed context (context.id) is one course and a signed subject (sub) one person.

Rows recorded before this change may share a context or subject (a custom field could move a
launch): the oldest row keeps it, the others lose it (their next launch, if genuine, binds again)."""

from django.db import migrations, models
from django.db.models import Count


def _unbind_duplicates(apps, schema_editor):
    for model_name, field in (("Course", "lti_context_id"), ("Person", "lti_sub")):
        model = apps.get_model("lti", model_name)
        duplicated = (
            model.objects.exclude(**{field: ""}).values("platform_id", field).annotate(n=Count("id")).filter(n__gt=1)
        )
        for group in duplicated:
            rows = model.objects.filter(platform_id=group["platform_id"], **{field: group[field]}).order_by(
                "created_at", "id"
            )
            keep = rows.first()
            rows.exclude(pk=keep.pk).update(**{field: ""})


class Migration(migrations.Migration):
    dependencies = [
        ("lti", "0004_platform_approval_and_registration_invites"),
    ]

    operations = [
        migrations.RunPython(_unbind_duplicates, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="course",
            constraint=models.UniqueConstraint(
                condition=models.Q(("lti_context_id", ""), _negated=True),
                fields=("platform", "lti_context_id"),
                name="lti_course_context_unique",
            ),
        ),
        migrations.AddConstraint(
            model_name="person",
            constraint=models.UniqueConstraint(
                condition=models.Q(("lti_sub", ""), _negated=True),
                fields=("platform", "lti_sub"),
                name="lti_person_sub_unique",
            ),
        ),
    ]
