"""Error pages look like the rest of the product (the stylesheet, a plain explanation, what to do
next) instead of Django's bare defaults, and never echo the address that was asked for."""

import pytest
from django.test import RequestFactory
from django.views import csrf, defaults

pytestmark = pytest.mark.django_db


def test_not_found_page(client):
    response = client.get("/no/such/<b>page</b>/")
    assert response.status_code == 404
    html = response.content.decode()
    assert "<h1>Page not found</h1>" in html
    assert "css/app.css" in html
    assert "<b>page</b>" not in html and "&lt;b&gt;" not in html  # the address is not echoed


def test_server_error_page_renders_without_a_context():
    response = defaults.server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "<h1>Something went wrong</h1>" in html and "css/app.css" in html


def test_forbidden_and_bad_request_pages():
    request = RequestFactory().get("/")
    forbidden = defaults.permission_denied(request, Exception("secret detail"))
    assert forbidden.status_code == 403 and b"<h1>Not available to you</h1>" in forbidden.content
    assert b"secret detail" not in forbidden.content
    bad = defaults.bad_request(request, Exception("x"))
    assert bad.status_code == 400 and b"<h1>Request not understood</h1>" in bad.content


def test_csrf_failure_page_has_no_inline_style():
    response = csrf.csrf_failure(RequestFactory().post("/"), reason="CSRF cookie not set.")
    assert response.status_code == 403
    html = response.content.decode()
    assert "<h1>This form cannot be used</h1>" in html
    assert "<style" not in html  # Django's default page styles itself inline, which the CSP refuses
