"""API hardening over a real uvicorn server: body size limit, rate limit, security headers, CORS."""

from __future__ import annotations

import base64
import hashlib
import re
import time

import httpx
import pytest

from carelm.api.app import create_app
from carelm.api.hardening import TokenBuckets, docs_policy, parse_origins
from carelm.core.errors import ConfigError
from carelm.core.settings import get_settings
from tests.conftest import TEST_KEY
from tests.server import serving

SECURITY_HEADERS = {"x-content-type-options": "nosniff", "x-frame-options": "DENY", "referrer-policy": "no-referrer"}
API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"


def _settings(tmp_path, **overrides):
    return get_settings(profile="test", data_dir=tmp_path / "data", secret_key=TEST_KEY, **overrides)


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and body["error"]["code"] == code
    return body["error"]


def assert_secure(response: httpx.Response, *, no_store: bool = True) -> None:
    for name, value in SECURITY_HEADERS.items():
        assert response.headers.get(name) == value, (response.request.url, name)
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert ("no-store" in response.headers.get("cache-control", "")) is no_store
    assert "strict-transport-security" not in response.headers  # plain http
    assert "access-control-allow-origin" not in response.headers  # CORS closed by default


def test_every_kind_of_response_carries_the_security_headers(tmp_path):
    app = create_app(_settings(tmp_path))

    async def failure(request) -> None:  # an unexpected error: answered by the outermost error middleware
        raise RuntimeError("boom")

    app.router.add_route("/test-failure", failure)  # a plain route: no authentication in the way

    with serving(app) as api:
        health = api.get("/health")
        assert health.status_code == 200
        assert_secure(health)
        assert health.headers["content-security-policy"] == API_CSP
        for response in (api.get("/v1/records"), api.get("/v1/nope"), api.delete("/health"),
                         api.post("/v1/deidentify", content=b"{", headers={"content-type": "application/json"})):
            assert response.status_code in (200, 401, 404, 405, 422), response.text
            assert_secure(response)
        crashed = httpx.get(f"{api.base_url}/test-failure")  # its own connection: uvicorn closes this one
        assert_error(crashed, 500, "internal_error")
        assert_secure(crashed)
        spec = api.get("/openapi.json")
        assert spec.status_code == 200
        assert_secure(spec, no_store=False)  # the schema holds no data and may be cached


def test_hsts_only_over_https(tmp_path):
    with serving(create_app(_settings(tmp_path))) as api:
        # uvicorn trusts X-Forwarded-Proto from loopback, as it would from a TLS-terminating proxy there
        proxied = api.get("/health", headers={"x-forwarded-proto": "https"})
        assert proxied.headers["strict-transport-security"].startswith("max-age=63072000")
        assert "strict-transport-security" not in api.get("/health").headers


def test_docs_page_policy_allows_exactly_its_own_inline_scripts(tmp_path):
    with serving(create_app(_settings(tmp_path))) as api:
        page = api.get("/docs")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        policy = page.headers["content-security-policy"]
        scripts = re.findall(r"<script>(.*?)</script>", page.text, re.S)
        assert scripts, "the Swagger UI page has an inline start-up script"
        for script in scripts:
            digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
            assert f"'sha256-{digest}'" in policy
        assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]
        assert "'unsafe-eval'" not in policy and "frame-ancestors 'none'" in policy
        assert page.headers["x-frame-options"] == "DENY"
        assert "content-length" not in page.headers or int(page.headers["content-length"]) == len(page.content)
    assert docs_policy(b"<p>no scripts</p>").startswith("default-src 'none'; script-src 'self' https://cdn.jsdelivr.net;")


def test_body_limit_applies_to_every_route(tmp_path):
    limit = 2048
    with serving(create_app(_settings(tmp_path, max_request_bytes=limit))) as api:
        big = {"text": "a" * (limit + 1)}
        for path in ("/v1/deidentify", "/v1/search", "/v1/ask", "/v1/records", "/v1/interactions"):
            error = assert_error(api.post(path, json=big), 413, "payload_too_large")
            assert error["location"] == "body" and str(limit) in error["message"]

        def chunks():  # no Content-Length: the size is counted while the body streams in
            for _ in range(5):
                yield b"x" * 1000

        streamed = api.post("/v1/search", content=chunks(), headers={"content-type": "application/json"})
        assert "content-length" not in streamed.request.headers
        assert_error(streamed, 413, "payload_too_large")
        assert_secure(streamed)
        # exactly at the limit the request reaches the application (and its authentication)
        at_limit = api.post("/v1/search", content=b" " * (limit - 2) + b"{}",
                            headers={"content-type": "application/json"})
        assert at_limit.status_code in (401, 422), at_limit.text


def test_rate_limit_answers_429_with_retry_after_and_exempts_health(tmp_path):
    settings = _settings(tmp_path, rate_limit_per_second=0.5, rate_limit_burst=3)
    with serving(create_app(settings)) as api:
        statuses = [api.get("/v1/records").status_code for _ in range(3)]
        assert 429 not in statuses
        limited = api.get("/v1/records")
        error = assert_error(limited, 429, "rate_limited")
        assert "3 at once" in error["message"] and "0.5 per second" in error["message"]
        assert limited.headers["retry-after"] == "2"  # a token every 2 s
        assert_secure(limited)
        assert all(api.get("/health").status_code == 200 for _ in range(10))  # exempt
        # another API key is another client with its own bucket (keys are only fingerprinted, never kept)
        other = api.get("/v1/records", headers={"X-API-Key": "another-client"})
        assert other.status_code != 429
        time.sleep(2.1)  # one token back
        assert api.get("/v1/records").status_code != 429
        assert api.get("/v1/records").status_code == 429


def test_rate_limit_off_with_zero(tmp_path):
    with serving(create_app(_settings(tmp_path, rate_limit_per_second=0, rate_limit_burst=1))) as api:
        assert all(api.get("/v1/records").status_code != 429 for _ in range(20))


def test_token_buckets_refill_at_the_rate_and_cap_at_the_burst():
    now = [100.0]
    buckets = TokenBuckets(rate=4.0, burst=2, max_clients=2, clock=lambda: now[0])
    assert buckets.take("a") == 0 and buckets.take("a") == 0
    assert buckets.take("a") == pytest.approx(0.25)
    now[0] += 0.25
    assert buckets.take("a") == 0  # refilled one token
    now[0] += 60
    assert [buckets.take("a") for _ in range(3)][2] > 0  # idle time never banks more than the burst
    buckets.take("b")
    buckets.take("c")  # a third client evicts the least recently seen one
    assert set(buckets._buckets) == {"b", "c"}


def test_cors_is_closed_by_default_and_open_only_to_configured_origins(tmp_path):
    origin = "https://ward.example.org"
    with serving(create_app(_settings(tmp_path))) as api:
        plain = api.get("/health", headers={"origin": origin})
        assert "access-control-allow-origin" not in plain.headers
        preflight = api.options("/v1/search", headers={"origin": origin, "access-control-request-method": "POST"})
        assert "access-control-allow-origin" not in preflight.headers
    settings = _settings(tmp_path, cors_origins=f"{origin}, http://localhost:3000")
    with serving(create_app(settings)) as api:
        allowed = api.get("/health", headers={"origin": origin})
        assert allowed.headers["access-control-allow-origin"] == origin
        assert "access-control-allow-origin" not in api.get("/health", headers={"origin": "https://evil.example"}).headers
        preflight = api.options("/v1/search", headers={"origin": origin, "access-control-request-method": "POST",
                                                        "access-control-request-headers": "authorization,content-type"})
        assert preflight.status_code == 200 and preflight.headers["access-control-allow-origin"] == origin
        assert "authorization" in preflight.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in preflight.headers


@pytest.mark.parametrize("value", ["*", "ward.example.org", "https://ward.example.org/path", "ftp://x.example",
                                   "https://a.example?x=1", "https://user@a.example", "https://a.example, *"])
def test_cors_origins_must_be_explicit_origins(tmp_path, value):
    with pytest.raises(ConfigError, match="CARELM_CORS_ORIGINS"):
        parse_origins(value)
    with pytest.raises(ConfigError):
        create_app(_settings(tmp_path, cors_origins=value))


def test_parse_origins_accepts_a_list():
    assert parse_origins(" https://a.example , http://127.0.0.1:3000/ ,") == ["https://a.example", "http://127.0.0.1:3000"]
    assert parse_origins("") == []
