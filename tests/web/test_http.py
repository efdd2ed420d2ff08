"""The web port's HTTP answers, on memory streams: routes, headers, methods, limits."""

from __future__ import annotations

from .conftest import WebConnector


async def test_the_page_is_served_with_strict_security_headers(
    web_connector: WebConnector,
) -> None:
    client = web_connector.http()
    answer = await client.request("/")
    assert answer.status == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    assert b"<html" in answer.body
    csp = answer.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "'unsafe-inline'" not in csp
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["referrer-policy"] == "no-referrer"
