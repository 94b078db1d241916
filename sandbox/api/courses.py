"""Canvas REST courses: `GET /courses/:id` and `GET /courses/:id/settings`."""

from sandbox.api.pipeline import Caller, canvas_api, iso
from sandbox.models import SandboxCourse


def course_json(course: SandboxCourse) -> dict:
    instance = course.instance
    return {
        "id": course.id,
        "name": course.name,
        "course_code": course.course_code,
        "sis_course_id": course.sis_course_id or None,
        "integration_id": None,
        "uuid": course.lti_context_id,
        "account_id": instance.id,
        "root_account_id": instance.id,
        "enrollment_term_id": 1,
        "workflow_state": course.workflow_state,
        "created_at": iso(course.created_at),
        "start_at": None,
        "end_at": None,
        "locale": None,  # the account's default applies
        "default_view": "modules",
        "is_public": False,
        "public_syllabus": False,
        "apply_assignment_group_weights": False,
        "hide_final_grades": False,
        "time_zone": "UTC",
        "blueprint": False,
        "template": False,
        "restrict_enrollments_to_course_dates": False,
        "html_url": f"{instance.root_url}/courses/{course.id}",
        "calendar": {"ics": f"{instance.root_url}/feeds/calendars/course_{course.lti_context_id}.ics"},
    }


@canvas_api
def course_detail(request, caller: Caller, course_id: int):
    course = caller.course(course_id)
    caller.require_member(course)
    return course_json(course)


@canvas_api
def course_settings(request, caller: Caller, course_id: int):
    """`GET /courses/:id/settings` (courses_controller.rb#api_settings): needs :read_as_admin, i.e. a
    teacher, TA, designer or admin; a student gets 401 unauthorized. Only the keys the tool reads and
    a few neighbours are answered."""
    course = caller.course(course_id)
    caller.require_grader(course)
    return {
        "allow_final_grade_override": course.allow_final_grade_override,
        "allow_student_discussion_topics": True,
        "allow_student_forum_attachments": True,
        "hide_final_grades": False,
        "hide_distribution_graphs": False,
        "restrict_student_future_view": False,
        "restrict_student_past_view": False,
        "usage_rights_required": False,
    }
