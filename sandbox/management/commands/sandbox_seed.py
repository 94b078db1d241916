from django.core.management.base import BaseCommand, CommandError

from sandbox.live_events import keyset_url as live_events_keyset_url
from sandbox.seed.instances import hosted_registration_seed, sandbox_seed


class Command(BaseCommand):
    help = "Seed the Canvas sandbox with a realistic course and register it in the tool (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--learners", type=int, default=40)
        parser.add_argument("--assessments", type=int, default=4)
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--instance", default="demo", help="slug of the sandbox Canvas instance")
        parser.add_argument("--base-url", default="http://localhost:8001", help="origin the sandbox is served from")
        parser.add_argument("--tool-url", default="http://localhost:8000", help="origin the tool is served from")
        parser.add_argument("--reset", action="store_true", help="delete this sandbox instance first")
        parser.add_argument("--live-events-url", default=None, help="POST signed Live Events here ('' turns them off)")
        parser.add_argument(
            "--live-events",
            action="store_true",
            help="POST signed Live Events to the tool's Live Events URL of the registered platform",
        )
        parser.add_argument("--no-register", action="store_true", help="do not register the sandbox in the tool")
        parser.add_argument(
            "--problem-courses",
            action="store_true",
            help="also seed two small courses whose Canvas settings stop the badge (an unpublished credentialing "
            "assessment; Final Grade Override turned off), each with a course badge",
        )
        parser.add_argument(
            "--issuer-url",
            default="",
            help="serve the LTI issuer and OpenID configuration from this origin, as hosted Canvas does "
            "(another host name of the sandbox, e.g. http://127.0.0.1:8001 next to http://localhost:8001)",
        )

        parser.add_argument(
            "--hosted-example",
            action="store_true",
            help="also seed a second Canvas set up as hosted Canvas (issuer on another host name) and "
            "registered in the tool by dynamic registration, its API base URL from the launch",
        )

    def handle(self, *args, **options):
        try:
            result = sandbox_seed(
                learners=options["learners"],
                assessments=options["assessments"],
                seed=options["seed"],
                slug=options["instance"],
                base_url=options["base_url"],
                tool_url=options["tool_url"],
                reset=options["reset"],
                register_in_tool=not options["no_register"],
                live_events_url=options["live_events_url"],
                live_events=options["live_events"],
                issuer_url=options["issuer_url"],
                problem_courses_too=options["problem_courses"],
            )
        except ValueError as exc:
            raise CommandError(str(exc))
        if result.created:
            self.stdout.write(f"Seeded {result.course.name!r} with {result.learners} learners.")
        else:
            self.stdout.write(f"{result.course.name!r} already exists: kept it (use --reset to start over).")
        if result.platform_id:
            self.stdout.write(f"Registered in the tool as platform {result.platform_id} ({result.instance.issuer}).")
            self.stdout.write(f"Course badge: {result.course_badge_key}")
        self.stdout.write(f"JWKS: {result.instance.keyset_url}")
        self.stdout.write(f"Live Events JWKS: {live_events_keyset_url(result.instance.base_url)}")
        if result.instance.issuer_base_url:
            self.stdout.write(f"OpenID configuration (issuer host): {result.instance.openid_configuration_url}")
        if result.instance.live_events_url:
            self.stdout.write(f"Live Events: {result.instance.live_events_url}")
        self.stdout.write(f"Admin REST token (sandbox only): {result.api_token}")
        self.stdout.write(f"Open: {result.launch_url()}")
        if options["hosted_example"]:
            try:
                hosted = hosted_registration_seed(base_url=options["base_url"], tool_url=options["tool_url"])
            except ValueError as exc:
                raise CommandError(str(exc))
            self.stdout.write(
                f"Hosted-style Canvas (issuer {hosted.instance.issuer}), platform {hosted.platform_id} "
                f"registered dynamically: {hosted.launch_url()}"
            )
