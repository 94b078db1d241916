"""Canvas Live Events endpoint: POST /events/canvas/<live_events_key>/ (signed JWT, or JSON when allowed).

The key in the URL names the platform (lti.Platform.live_events_key): the signature alone cannot,
since hosted Canvas signs every customer's events with the same key.

Answers: 202 a sync was requested; 204 nothing to do (another event, a course without a badge);
200 {"ignored": why} for an authentic event not acted on (another root account, stale, replayed).
Canvas deactivates a subscription after repeated failed deliveries in 24 hours, so only what is not
authentic, malformed or too large is answered 4xx.
"""

import logging

from django.http import HttpResponse, JsonResponse
from django.urls import path
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from badging.live_events import LiveEventRejected, live_event_parse, live_event_receive
from lti.selectors import platform_for_live_events

logger = logging.getLogger(__name__)

MAX_EVENT_BYTES = 256 * 1024


@csrf_exempt  # a server-to-server webhook: authenticity comes from the signature, not a cookie
@require_POST
def canvas_live_event(request, key: str):
    # Refused on the announced length before the body is read (then on what actually came).
    length = request.META.get("CONTENT_LENGTH") or "0"
    if not length.isdigit() or int(length) > MAX_EVENT_BYTES or len(request.body) > MAX_EVENT_BYTES:
        return JsonResponse({"error": "the event is too large"}, status=413)
    platform = platform_for_live_events(key=key)
    if platform is None:
        return JsonResponse({"error": "no active platform has this Live Events URL"}, status=404)
    try:
        event = live_event_parse(
            body=request.body, content_type=request.content_type, secret=request.GET.get("secret", "")
        )
    except LiveEventRejected as exc:
        logger.info("live event for %s refused: %s", platform, exc)
        return JsonResponse({"error": str(exc)}, status=exc.status)
    outcome = live_event_receive(event=event, platform=platform)
    if outcome.ignored:
        logger.info("live event for %s ignored: %s", platform, outcome.ignored)
        return JsonResponse({"ignored": outcome.ignored}, status=200)
    if not outcome.course_ids:
        return HttpResponse(status=204)
    return JsonResponse({"event": outcome.event_name, "courses": len(outcome.course_ids)}, status=202)


@csrf_exempt
def canvas_live_event_unkeyed(request):
    # The old shared URL could not tell which platform an event came from: it accepts nothing now,
    # and says where the right URL is (Canvas Data Services shows the answer to whoever set it up).
    return JsonResponse(
        {
            "error": "this Live Events URL is retired: use the platform's own URL "
            "(tool admin › Platforms › your platform › Live Events URL)"
        },
        status=410,
    )


urlpatterns = [
    path("events/canvas/", canvas_live_event_unkeyed, name="canvas_live_event_unkeyed"),
    path("events/canvas/<str:key>/", canvas_live_event, name="canvas_live_event"),
]
