"""An admin's "test connection": one cheap Canvas call that says, in words, whether sync will work."""

from dataclasses import dataclass

from canvas.client import CanvasClient
from canvas.errors import CanvasError


@dataclass(frozen=True)
class ConnectionReport:
    ok: bool
    message: str


def platform_connection_test(*, platform, session=None) -> ConnectionReport:
    """Reads the API user's own profile with the platform's address and token; never raises for Canvas errors."""
    try:
        client = CanvasClient(platform, session=session, max_retries=1)
        user = client.get_self()
    except CanvasError as exc:
        return ConnectionReport(ok=False, message=f"{platform.name}: {exc}")
    who = user.name or f"user {user.id}"
    return ConnectionReport(ok=True, message=f"{platform.name}: connected to Canvas as {who}.")
