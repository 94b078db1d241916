from django.core.management.base import BaseCommand, CommandError

from lti.services.platforms import PlatformConflict, platform_upsert


class Command(BaseCommand):
    help = "Register (or update) a Canvas instance: its LTI developer key, deployments and REST API token."

    def add_arguments(self, parser):
        parser.add_argument("--issuer", required=True, help="e.g. https://canvas.instructure.com")
        parser.add_argument("--client-id", required=True, help="the LTI developer key's client id")
        parser.add_argument(
            "--deployment-id", action="append", required=True, dest="deployment_ids", help="repeat for several"
        )
        parser.add_argument("--auth-login-url")
        parser.add_argument("--auth-token-url")
        parser.add_argument("--keyset-url")
        parser.add_argument("--api-base-url", required=True, help="https://<institution>.instructure.com")
        parser.add_argument("--api-token", required=True, help="Canvas REST token of an admin or service account")
        parser.add_argument("--name", default="")
        parser.add_argument(
            "--replace-dynamic",
            action="store_true",
            help="the client id was registered through dynamic registration and that registration is not "
            "yours: delete it (only if no course was launched from it) and register this one instead",
        )

    def handle(self, *args, **options):
        try:
            platform = platform_upsert(
                issuer=options["issuer"],
                client_id=options["client_id"],
                deployment_ids=options["deployment_ids"],
                api_base_url=options["api_base_url"],
                api_token=options["api_token"],
                name=options["name"],
                auth_login_url=options["auth_login_url"],
                auth_token_url=options["auth_token_url"],
                keyset_url=options["keyset_url"],
                replace_dynamic=options["replace_dynamic"],
            )
        except PlatformConflict as exc:
            raise CommandError(str(exc)) from exc
        except Exception as exc:  # validation errors are the operator's to fix: say what, not a traceback
            raise CommandError(f"could not register the platform: {exc}") from exc
        deployments = ", ".join(platform.deployments.values_list("deployment_id", flat=True))
        self.stdout.write(
            self.style.SUCCESS(
                f"Platform {platform.name}: issuer {platform.issuer}, client id {platform.client_id}, "
                f"deployments {deployments}"
            )
        )
