"""Canvas Live Events endpoint: POST /events/canvas/ (signed JWT, or JSON when allowed)."""

import logging

from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from badging.live_events import LiveEventRejected, live_event_handle, live_event_parse

logger = logging.getLogger(__name__)

MAX_EVENT_BYTES = 256 * 1024


@csrf_exempt  # a server-to-server webhook: authenticity comes from the signature, not a cookie
@require_POST
def canvas_live_event(request):
    # Refused on the announced length before the body is read (then on what actually came).
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_EVENT_BYTES or len(request.body) > MAX_EVENT_BYTES:
        return JsonResponse({"error": "the event is too large"}, status=413)
    try:
        event = live_event_parse(
            body=request.body, content_type=request.content_type, secret=request.GET.get("secret", "")
        )
    except LiveEventRejected as exc:
        logger.info("live event refused: %s", exc)
        return JsonResponse({"error": str(exc)}, status=exc.status)
    outcome = live_event_handle(event=event)
    if not outcome.course_ids:
        return HttpResponse(status=204)
    return JsonResponse({"event": outcome.event_name, "courses": len(outcome.course_ids)}, status=202)


urlpatterns = [path("events/canvas/", canvas_live_event, name="canvas_live_event")]
