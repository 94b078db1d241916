from django.apps import AppConfig


class SandboxConfig(AppConfig):
    name = "sandbox"
    verbose_name = "Canvas sandbox (development only)"

    def ready(self):
        from sandbox import checks  # noqa: F401  (registers sandbox.W001)
