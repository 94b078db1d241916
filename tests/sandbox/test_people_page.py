"""The sandbox's People page as a newcomer to the demo uses it: the people one launches as to try
the tool (the admin, the teacher, the TA, the Student View user) come first, then the learners by
surname; generated learners have plausible names, not numbered ones; no browser error on load."""

import re

from sandbox.models import SandboxUser
from sandbox.seed.instances import sandbox_seed


def _launch_order(client, result) -> list[str]:
    html = client.get(f"/sandbox/{result.instance.slug}/courses/{result.course.id}/").content.decode()
    ids = [int(i) for i in re.findall(r'data-launch-as="(\d+)"', html)]
    names = dict(SandboxUser.objects.filter(id__in=ids).values_list("id", "name"))
    return [names[i] for i in ids]


def test_staff_and_student_view_come_before_the_learners(client, seeded):
    order = _launch_order(client, seeded)
    assert order[:4] == ["Ada Admin", "Grace Hopper-Núñez", "Alan Turing", "Test Student"]
    learners = order[4:]
    surnames = [SandboxUser.objects.get(instance=seeded.instance, name=n).sortable_name for n in learners]
    assert surnames == sorted(surnames)


def test_a_search_keeps_the_same_order(client, seeded):
    url = f"/sandbox/{seeded.instance.slug}/courses/{seeded.course.id}/"
    html = client.get(url, {"q": "r"}).content.decode()
    assert html.index("Grace Hopper-Núñez") < html.index("Sofía Herrera")  # Herrera sorts before Hopper


def test_generated_learners_have_plausible_unique_names(db):
    result = sandbox_seed(
        learners=120, assessments=1, slug="names", base_url="http://testserver", register_in_tool=False
    )
    names = list(
        SandboxUser.objects.filter(instance=result.instance, is_test_user=False, is_account_admin=False).values_list(
            "name", flat=True
        )
    )
    assert len(names) == 120 + 2  # the learners, the teacher and the TA
    assert len(set(names)) == len(names)
    assert not [n for n in names if re.search(r"\d", n)]


def test_pages_declare_an_icon(client, seeded):
    """Without one, every sandbox page logs a 404 for /favicon.ico in the browser console."""
    html = client.get(f"/sandbox/{seeded.instance.slug}/courses/{seeded.course.id}/").content.decode()
    assert re.search(r'<link rel="icon" href="data:image/svg\+xml,', html)


def _grades(result) -> list:
    from sandbox.models import SandboxEnrollment, Submission

    scores = Submission.objects.filter(assignment__course=result.course).order_by("user__login_id", "assignment__name")
    overrides = SandboxEnrollment.objects.filter(course=result.course).order_by("user__login_id", "section__name")
    return [
        *scores.values_list("user__name", "assignment__name", "score", "workflow_state", "rubric_assessment"),
        *overrides.values_list("user__name", "workflow_state", "override_score"),
    ]


def test_the_same_seed_makes_the_same_course_and_another_seed_another(db):
    def seeded(slug: str, seed: int):
        return sandbox_seed(
            learners=30, assessments=2, seed=seed, slug=slug, base_url="http://testserver", register_in_tool=False
        )

    first, again, other = _grades(seeded("s1", 5)), _grades(seeded("s2", 5)), _grades(seeded("s3", 6))
    assert first == again
    assert first != other
