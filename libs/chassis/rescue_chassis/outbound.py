"""Calls to URLs that users configure through the API (a partner's webhook): not
into the deployment's own network (server-side request forgery).

An ``OutboundPolicy`` refuses a URL whose scheme is not HTTPS (HTTP only where the
settings allow it, in development) or whose host is a loopback, link-local
(``169.254.169.254``: cloud metadata), private or otherwise non-public address,
unless an operator allows that network explicitly (a setting of CIDRs).

Checked twice: ``url_refusal`` when the URL is stored (a 422 naming the field; a
literal address or ``localhost``, no DNS lookup then), and ``client()`` at every
connection: its transport resolves the host itself, refuses if any address is
forbidden and connects to the address it checked, so a name that resolved to a
public address at registration cannot later point inside (DNS rebinding).
TLS still verifies the certificate against the host name.
"""

from __future__ import annotations

import ipaddress
import socket
import typing
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

import anyio
import httpcore
import httpx

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class OutboundRefused(httpcore.ConnectError):
    """A connection refused by the policy (httpx raises it as a ConnectError)."""


def parse_networks(value: object) -> object:
    """A settings value "127.0.0.0/8, ::1/128" as a tuple of CIDRs (pydantic checks each)."""
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return value


@dataclass(frozen=True)
class OutboundPolicy:
    allow_http: bool = False
    allowed_networks: tuple[IPNetwork, ...] = ()
    setting: str = "the allowed networks"  # named in refusals: what an operator would set

    def address_refusal(self, address: IPAddress) -> str | None:
        """Why this address may not be called, or None."""
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
            address = address.ipv4_mapped  # ::ffff:169.254.169.254 is 169.254.169.254
        if any(address in network for network in self.allowed_networks):
            return None
        if address.is_unspecified:
            kind = "the unspecified address"
        elif address.is_loopback:
            kind = "a loopback address"
        elif address.is_link_local:
            kind = "a link-local address"
        elif address.is_multicast:
            kind = "a multicast address"
        elif address.is_private:
            kind = "a private address"
        elif not address.is_global:
            kind = "not a public address"
        else:
            return None
        return f"{address} is {kind}, refused unless {self.setting} allows it"

    def url_refusal(self, url: str) -> str | None:
        """Why this URL may not be stored or called, or None (no DNS lookup)."""
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").rstrip(".")
        except ValueError:
            return "is no valid URL"
        if parts.scheme == "http" and not self.allow_http:
            return "must be an https URL (http is allowed in development only)"
        if parts.scheme not in ("http", "https"):
            return "must be an https URL"
        if not host:
            return "names no host"
        if host == "localhost" or host.endswith(".localhost"):
            host = "127.0.0.1"  # always loopback (RFC 6761)
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return None  # a name: its addresses are checked at each connection
        return self.address_refusal(address)

    def client(self, **options: typing.Any) -> httpx.AsyncClient:
        """An httpx client that connects only to addresses this policy allows."""
        return httpx.AsyncClient(transport=_GuardedTransport(self), **options)


class _GuardedBackend(httpcore.AsyncNetworkBackend):
    """Resolves the host, checks every address, connects to a checked one."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            with anyio.fail_after(timeout):
                found = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except TimeoutError:
            raise httpcore.ConnectTimeout(f"resolving {host} timed out") from None
        except OSError as exc:
            raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
        addresses = list(dict.fromkeys(ipaddress.ip_address(info[4][0]) for info in found))
        for address in addresses:  # one forbidden address is enough to refuse the name
            if (reason := self.policy.address_refusal(address)) is not None:
                raise OutboundRefused(f"{host} resolves to {reason}")
        error: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                return await self.inner.connect_tcp(
                    str(address), port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                error = exc
        raise error

    async def connect_unix_socket(self, path, timeout=None, socket_options=None):  # noqa: ASYNC109
        raise OutboundRefused("unix sockets are not called")

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


class _GuardedTransport(httpx.AsyncHTTPTransport):
    def __init__(self, policy: OutboundPolicy) -> None:
        super().__init__()
        # httpx takes no network backend: its pool, rebuilt with the guarded one.
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(), network_backend=_GuardedBackend(policy)
        )
