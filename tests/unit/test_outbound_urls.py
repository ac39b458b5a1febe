"""Outbound URLs users configure (partners' webhooks, issue 22): HTTPS, public
addresses or explicitly allowed networks, checked when stored and again at each
connection on the address actually dialled (DNS rebinding)."""

from __future__ import annotations

import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import anyio
import httpx
import pytest

from referral.settings import ReferralSettings
from rescue_chassis.outbound import OutboundPolicy

LOOPBACK = (ipaddress.ip_network("127.0.0.0/8"),)


@pytest.mark.parametrize(
    ("url", "refused_as"),
    [
        ("http://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://169.254.169.254/latest/meta-data/", "link-local"),
        ("https://[::ffff:169.254.169.254]/", "link-local"),
        ("https://[fe80::1]/hook", "link-local"),
        ("https://127.0.0.1:8443/hook", "loopback"),
        ("https://[::1]/hook", "loopback"),
        ("https://localhost/hook", "loopback"),
        ("https://admin.localhost./hook", "loopback"),
        ("https://10.0.0.5/hook", "private"),
        ("https://192.168.1.1/hook", "private"),
        ("https://172.16.0.1/hook", "private"),
        ("https://100.64.0.1/hook", "not a public address"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://224.0.0.1/hook", "multicast"),
    ],
)
def test_addresses_inside_are_refused(url, refused_as):
    refusal = OutboundPolicy(allow_http=True, setting="X_ALLOWED").url_refusal(url)
    assert refusal is not None and refused_as in refusal and "X_ALLOWED" in refusal


def test_https_is_required_but_in_development_and_names_are_left_to_the_connection():
    production = OutboundPolicy(allow_http=False)
    assert "https" in production.url_refusal("http://partner.example.org/hook")
    assert "https" in production.url_refusal("ftp://partner.example.org/hook")
    assert production.url_refusal("https://partner.example.org/hook") is None
    assert production.url_refusal("https://8.8.8.8/hook") is None
    assert OutboundPolicy(allow_http=True).url_refusal("http://partner.example.org/") is None


def test_an_operator_allows_a_network_explicitly():
    policy = OutboundPolicy(allowed_networks=(ipaddress.ip_network("10.20.0.0/16"),))
    assert policy.url_refusal("https://10.20.3.4/hook") is None
    assert "private" in policy.url_refusal("https://10.21.3.4/hook")


def test_referral_reads_its_policy_from_the_settings(monkeypatch):
    monkeypatch.setenv("REFERRAL_WEBHOOK_ALLOWED_NETWORKS", "127.0.0.0/8, ::1/128")
    base = {
        "database_url": "x",
        "kafka_bootstrap_servers": "x",
        "jwt_secret": "k" * 40,
        "jwt_issuer": "https://sso.example.org",
    }
    policy = ReferralSettings(**base, environment="production").webhook_policy
    assert not policy.allow_http
    assert policy.url_refusal("https://127.0.0.1/hook") is None
    assert "REFERRAL_WEBHOOK_ALLOWED_NETWORKS" in policy.url_refusal("https://10.0.0.1/")
    assert ReferralSettings(**base, environment="development").webhook_policy.allow_http


@pytest.fixture
def receiver():
    """A local HTTP endpoint counting the requests it got, with their Host header."""
    hosts: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 (http.server's name)
            self.rfile.read(int(self.headers.get("Content-Length", 0)))
            hosts.append(self.headers["Host"])
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, hosts
    server.shutdown()
    server.server_close()


def resolving(monkeypatch, name: str, address: str) -> None:
    """DNS, as an attacker's name server answers: ``name`` is ``address`` now."""
    real = anyio.getaddrinfo

    async def fake(host, port, *args, **kwargs):
        if host == name:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port))]
        return await real(host, port, *args, **kwargs)

    monkeypatch.setattr(anyio, "getaddrinfo", fake)


async def test_each_connection_checks_the_address_the_name_resolves_to(monkeypatch, receiver):
    port, hosts = receiver
    url = f"http://partner.test:{port}/hook"
    policy = OutboundPolicy(allow_http=True, allowed_networks=LOOPBACK)
    assert policy.url_refusal(url) is None  # a name: nothing to refuse when stored
    async with policy.client() as client:
        resolving(monkeypatch, "partner.test", "127.0.0.1")  # allowed here
        assert (await client.post(url, content=b"{}")).status_code == 200
        assert hosts == [f"partner.test:{port}"]  # dialled the checked address, named the host
    async with policy.client() as client:
        resolving(monkeypatch, "partner.test", "169.254.169.254")  # rebound
        with pytest.raises(httpx.ConnectError, match="partner.test resolves to .*link-local"):
            await client.post(url, content=b"{}")


async def test_a_literal_address_is_checked_at_connection_too(receiver):
    port, hosts = receiver
    async with OutboundPolicy(allow_http=True).client() as client:
        with pytest.raises(httpx.ConnectError, match="loopback"):
            await client.post(f"http://127.0.0.1:{port}/hook", content=b"{}")
    assert hosts == []
