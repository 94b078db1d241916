"""The learner's own choices about how their badge is shown to others."""

from django.db import transaction

from badging.models import AuditEvent, Award
from lti.models import Person


class AwardNotYours(Exception):
    """The award does not exist, or belongs to someone else: the caller answers 404 either way."""


@transaction.atomic
def award_share_set(*, award_public_id: str, learner: Person, show_name: bool) -> Award:
    """Show or hide the learner's name on the award's public page.

    Only the award's own learner can change it; the change is recorded in the audit log.
    """
    award = (
        Award.objects.select_for_update(of=("self",))
        .select_related("course_badge")
        .filter(public_id=award_public_id, learner=learner)
        .first()
    )
    if award is None:
        raise AwardNotYours(award_public_id)
    if award.learner_name_public != show_name:
        award.learner_name_public = show_name
        award.save(update_fields=["learner_name_public"])
        AuditEvent.objects.create(
            actor=f"{learner.name or 'Learner'} (Canvas user {learner.canvas_user_id})",
            actor_person=learner,
            action="award_name_shown" if show_name else "award_name_hidden",
            course=award.course,
            award=award,
            detail={"learner_name_public": show_name},
        )
    return award
