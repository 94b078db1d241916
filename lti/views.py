"""Placeholder endpoints; the LTI issue replaces them with the real OIDC login and launch."""

from django.http import HttpResponse, JsonResponse


def login(request):
    return HttpResponse("LTI login is not built yet", status=501)


def launch(request):
    return HttpResponse("LTI launch is not built yet", status=501)


def jwks(request):
    return JsonResponse({"keys": []})


def config_json(request):
    return JsonResponse({})
