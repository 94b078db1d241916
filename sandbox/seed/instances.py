"""The seeds a command or the demo runs, one sandbox Canvas each: `sandbox_seed` (the demo course,
registered in the tool) and `hosted_registration_seed` (a second Canvas set up and registered as
hosted Canvas is)."""

import random
from dataclasses import dataclass

from django.db import connection

from sandbox.models import (
    DEFAULT_CUSTOM_FIELDS,
    ApiToken,
    CommunicationChannel,
    SandboxAssignment,
    SandboxCourse,
    SandboxEnrollment,
    SandboxInstance,
    SandboxUser,
    Submission,
)
from sandbox.seed.course import COURSE_SIS_ID, _course
from sandbox.seed.problem_courses import problem_courses
from sandbox.seed.tool import (
    course_badge_key,
    tool_backpack_demo,
    tool_demo_config,
    tool_live_events_url,
    tool_register,
)
from sandbox.services.instance import live_events_url_set
from sandbox.services.keys import api_token_create, platform_key_current


@dataclass
class SeedResult:
    instance: SandboxInstance
    course: SandboxCourse
    api_token: str
    created: bool
    platform_id: int | None
    learners: int

    def launch_url(self) -> str:
        return f"{self.instance.root_url}/courses/{self.course.id}/"

    @property
    def course_badge_key(self) -> str:
        return course_badge_key(instance=self.instance, course=self.course)


def _instance(*, slug: str, base_url: str, tool_url: str, issuer_url: str = "") -> SandboxInstance:
    tool_url = tool_url.rstrip("/")
    instance, _ = SandboxInstance.objects.update_or_create(
        slug=slug,
        defaults={
            "name": f"Canvas sandbox ({slug})",
            "base_url": base_url.rstrip("/"),
            "issuer_base_url": issuer_url.rstrip("/"),
            "client_id": "10000000000001",
            "deployment_id": "1:8865aa05b4b79b64a91a86042e43af5ea8ae79eb",
            "tool_login_url": f"{tool_url}/lti/login/",
            "tool_launch_url": f"{tool_url}/lti/launch/",
            "tool_jwks_url": f"{tool_url}/lti/jwks.json",
            "tool_custom_fields": DEFAULT_CUSTOM_FIELDS,
        },
    )
    platform_key_current(instance=instance)
    return instance


def _statistics_update() -> None:
    """PostgreSQL statistics of the tables a course seed fills (thousands of rows at once): without
    them the REST endpoints' queries are planned as for empty tables, and a copy of the database
    (what the sync benchmark serves) is never analyzed by autovacuum."""
    if connection.vendor != "postgresql":
        return
    models = (SandboxUser, CommunicationChannel, SandboxEnrollment, SandboxAssignment, Submission)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(m._meta.db_table) for m in models))


def sandbox_seed(
    *,
    learners: int = 40,
    assessments: int = 4,
    seed: int = 2026,
    slug: str = "demo",
    base_url: str = "http://localhost:8001",
    tool_url: str = "http://localhost:8000",
    register_in_tool: bool = True,
    reset: bool = False,
    live_events_url: str | None = None,
    live_events: bool = False,
    issuer_url: str = "",
    problem_courses_too: bool = False,
    backpack_demo: bool = True,
) -> SeedResult:
    """Creates (once) the demo course and (every time) the tool's registration and configuration.

    `live_events` posts the sandbox's signed Live Events to the tool's URL for the platform it
    registers (under tool_url); `live_events_url` sets any other URL ('' turns them off).
    `issuer_url`: serve the LTI issuer and OpenID configuration from this origin instead of
    base_url, as hosted Canvas does (https://canvas.instructure.com for every customer).
    `problem_courses_too`: also the two small courses whose Canvas settings stop the badge (an
    unpublished credentialing assessment; Final Grade Override off), with their course badges.
    """
    if learners < 0 or assessments < 1:
        raise ValueError("learners must be >= 0 and assessments >= 1")
    rng = random.Random(seed)
    if reset:
        SandboxInstance.objects.filter(slug=slug).delete()
    instance = _instance(slug=slug, base_url=base_url, tool_url=tool_url, issuer_url=issuer_url)
    course = SandboxCourse.objects.filter(instance=instance, sis_course_id=COURSE_SIS_ID).first()
    created = course is None
    count = 0
    if course is None:
        course, count = _course(instance=instance, learners=learners, assessments=assessments, rng=rng)
        _statistics_update()
    extra = problem_courses(instance=instance) if problem_courses_too else ()
    admin = SandboxUser.objects.filter(instance=instance, is_account_admin=True).order_by("id").first()
    if admin is None:
        raise ValueError(f"the sandbox instance {slug!r} has no account admin: seed it again with --reset")
    # One live token for the tool: a re-seed replaces it (and hands the new one to the tool).
    ApiToken.objects.filter(user=admin, purpose="Skills Forward Badges").delete()
    token = api_token_create(user=admin, purpose="Skills Forward Badges")
    platform_id = None
    if register_in_tool:
        platform_id = tool_register(instance=instance, api_token=token)
        tool_demo_config(instance=instance, course=course, extra_courses=extra)
        if backpack_demo:  # awards of other courses: benchmarks that count this course's awards leave it out
            tool_backpack_demo(instance=instance, course=course, tool_url=tool_url)
    if live_events and live_events_url is None:
        if platform_id is None:
            raise ValueError("live events go to the tool's URL of the registered platform: register it too")
        live_events_url = tool_live_events_url(platform_id=platform_id, tool_url=tool_url)
    if live_events_url is not None:
        # Set after seeding: the seeded grades are history, not news for the tool.
        live_events_url_set(instance=instance, url=live_events_url)
    return SeedResult(
        instance=instance, course=course, api_token=token, created=created, platform_id=platform_id, learners=count
    )


HOSTED_SLUG = "hosted"


def other_host_name(origin: str) -> str:
    """The same server under its other loopback name (localhost ↔ 127.0.0.1): the sandbox's stand-in
    for hosted Canvas's LTI issuer host, which is not the institution's."""
    if "://localhost" in origin:
        return origin.replace("://localhost", "://127.0.0.1", 1)
    return origin.replace("://127.0.0.1", "://localhost", 1)


def hosted_registration_seed(*, base_url: str, tool_url: str, learners: int = 6) -> SeedResult:
    """A second sandbox Canvas set up as hosted Canvas is, and registered in the tool the way hosted
    Canvas registers it, so the tool's admin shows both kinds side by side.

    The OpenID configuration and the issuer are on the issuer's host (another name of the sandbox),
    so registration cannot tell the REST address; the registration exchange (the tool's request, the
    sandbox's answer with its top-level deployment_id) runs in-process, the registration is approved
    as an admin would, and the API base is recorded from the `$Canvas.api.baseUrl` the sandbox's
    launch sends, as its first launch records it (source "Launch"). Idempotent."""
    from lti.config import registration_request
    from lti.models import Platform
    from lti.registration import registration_api_base_url, registration_deployment_id
    from lti.services.launches import platform_api_base_url_record
    from lti.services.platforms import platform_approve, platform_create_registered
    from sandbox import dynamic_registration
    from sandbox import platform as sandbox_platform

    result = sandbox_seed(
        learners=learners,
        assessments=2,
        seed=7,
        slug=HOSTED_SLUG,
        base_url=base_url,
        tool_url=tool_url,
        register_in_tool=False,
        issuer_url=other_host_name(base_url),
    )
    instance = result.instance
    openid = dynamic_registration.openid_configuration(instance=instance)
    body = registration_request(base_url=tool_url.rstrip("/"), scopes_supported=openid["scopes_supported"])
    answer = dynamic_registration.registration_create(instance=instance, body=body)
    platform = Platform.objects.filter(issuer=openid["issuer"], client_id=answer["client_id"]).first()
    if platform is None:
        platform = platform_create_registered(
            issuer=openid["issuer"],
            client_id=answer["client_id"],
            deployment_id=registration_deployment_id(answer),
            api_base_url=registration_api_base_url(
                openid_configuration_url=instance.openid_configuration_url,
                issuer=openid["issuer"],
                platform_conf=openid[dynamic_registration.PLATFORM_CONFIGURATION],
            ),
            name=f"{instance.name}, hosted-style",
            auth_login_url=openid["authorization_endpoint"],
            auth_token_url=openid["token_endpoint"],
            keyset_url=openid["jwks_uri"],
            requested_ip="127.0.0.1",
            requested_with="sandbox seed: dynamic registration as hosted Canvas does it",
        )
    platform = platform_approve(platform=platform, approved_by="demo seed")
    admin = SandboxUser.objects.filter(instance=instance, is_account_admin=True).order_by("id").first()
    if admin is None:
        raise ValueError(f"the sandbox instance {HOSTED_SLUG!r} has no account admin: seed it again with --reset")
    launched = sandbox_platform.custom_substitute(instance=instance, user=admin, course=result.course).get(
        "canvas_api_base_url", ""
    )
    platform_api_base_url_record(platform=platform, launched=launched)
    platform.refresh_from_db()
    platform.api_token = result.api_token
    platform.save(update_fields=["api_token", "updated_at"])
    return SeedResult(
        instance=instance,
        course=result.course,
        api_token=result.api_token,
        created=result.created,
        platform_id=platform.pk,
        learners=result.learners,
    )
