"""One sandbox Canvas's own knobs: injected REST faults and throttle (for benchmarks and fault
tests), and where it posts its Live Events."""

import math

from django.core.exceptions import ValidationError

from sandbox.models import ApiToken, SandboxInstance
from sandbox.services.base import SandboxError


def faults_set(
    *,
    instance: SandboxInstance,
    latency_ms: int | None = None,
    error_rate: float | None = None,
    bucket_size: float | None = None,
    request_cost: float | None = None,
    clear_request_cost: bool = False,
    malformed_rate: float | None = None,
    truncated_rate: float | None = None,
) -> SandboxInstance:
    """Injected REST latency, 5xx share, shares of malformed and truncated answers and throttle
    bucket size (for benchmarks and fault tests)."""
    fields = []
    for name, share in (("malformed_rate", malformed_rate), ("truncated_rate", truncated_rate)):
        if share is not None:
            if not math.isfinite(share) or not 0 <= share <= 1:
                raise SandboxError("a share of answers is between 0 and 1")
            setattr(instance, name, share)
            fields.append(name)
    if latency_ms is not None:
        if not isinstance(latency_ms, int) or not 0 <= latency_ms <= 60_000:
            raise SandboxError("latency must be 0-60000 ms")
        instance.latency_ms = latency_ms
        fields.append("latency_ms")
    if error_rate is not None:
        if not math.isfinite(error_rate) or not 0 <= error_rate <= 1:
            raise SandboxError("the error rate is a share between 0 and 1")
        instance.error_rate = error_rate
        fields.append("error_rate")
    if bucket_size is not None:
        if not math.isfinite(bucket_size) or bucket_size <= 0:
            raise SandboxError("the bucket size must be a positive number")
        instance.throttle_bucket_size = bucket_size
        fields.append("throttle_bucket_size")
    if request_cost is not None or clear_request_cost:
        if request_cost is not None and (not math.isfinite(request_cost) or request_cost < 0):
            raise SandboxError("a request cost must be a number, 0 or more")
        instance.request_cost = request_cost
        fields.append("request_cost")
    if fields:
        instance.save(update_fields=fields)
        # A new bucket size starts every token with a full bucket.
        ApiToken.objects.filter(user__instance=instance).update(bucket_level=0.0, bucket_updated_at=0.0)
    return instance


def live_events_url_set(*, instance: SandboxInstance, url: str) -> SandboxInstance:
    """Where the sandbox posts its signed Live Events from now on; "" turns them off.

    Only this field is validated (a SandboxError for anything but a URL): the instance's own
    base URL may be a test host name that URLField would refuse.
    """
    url = url.strip()
    try:
        url = SandboxInstance._meta.get_field("live_events_url").clean(url, instance)
    except ValidationError as exc:
        raise SandboxError(" ".join(exc.messages)) from exc
    instance.live_events_url = url
    instance.save(update_fields=["live_events_url"])
    return instance
