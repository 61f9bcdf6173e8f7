"""HTTP fetching that refuses private, loopback and link-local addresses, at every redirect."""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from archive.errors import FetchError

MAX_REDIRECTS = 5
ACCEPT = "text/html, application/rss+xml, application/atom+xml, text/markdown, text/plain;q=0.9, */*;q=0.5"


@dataclass
class FetchedPage:
    url: str  # after redirects
    data: bytes
    content_type: str | None
    status: int = 200  # 304 when a conditional request found the page unchanged (and `data` is empty)
    etag: str | None = None
    last_modified: str | None = None


def is_public_address(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


class _GuardedConnection(http.client.HTTPConnection):
    """Checks the address actually connected to, so a DNS answer cannot point us inside."""

    allow_private = False

    def connect(self) -> None:
        if not self.allow_private:
            # Refuse before any packet is sent, so a private address cannot even be probed; the peer is
            # checked again after connecting, in case a second DNS answer differs from the first.
            try:
                answers = {
                    info[4][0] for info in socket.getaddrinfo(self.host, self.port or 80, type=socket.SOCK_STREAM)
                }
            except socket.gaierror:
                answers = set()  # super().connect() reports the failure in its own words
            private = sorted(a for a in answers if not is_public_address(a))
            if private:
                where = f"{self.host} is" if self.host == private[0] else f"{self.host} resolves to {private[0]},"
                raise FetchError(f"{where} a private or local address; fetching it is not allowed.")
        super().connect()
        peer = self.sock.getpeername()[0]
        if not self.allow_private and not is_public_address(peer):
            self.sock.close()
            raise FetchError(f"{self.host} resolves to {peer}, a private or local address; fetching it is not allowed.")


class _GuardedHTTPSConnection(http.client.HTTPSConnection, _GuardedConnection):
    pass


def fetch(
    url: str,
    *,
    timeout: float,
    max_bytes: int,
    allow_private: bool,
    user_agent: str,
    etag: str | None = None,
    last_modified: str | None = None,
) -> FetchedPage:
    """GET `url`, following up to five redirects, each one checked like the first.

    With `etag` or `last_modified` (from an earlier answer) the request is conditional: an unchanged
    page answers 304 with no body. An HTTP error raises FetchError with its status and Retry-After.
    """
    conditions = {"If-None-Match": etag, "If-Modified-Since": last_modified}
    headers = {"User-Agent": user_agent, "Accept": ACCEPT} | {k: v for k, v in conditions.items() if v}
    for _ in range(MAX_REDIRECTS + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FetchError(f"{url} is not an http(s) URL.")
        if parts.username or parts.password:
            raise FetchError(f"{url} carries credentials; they are not sent.")
        cls = _GuardedHTTPSConnection if parts.scheme == "https" else _GuardedConnection
        kwargs = {"context": ssl.create_default_context()} if parts.scheme == "https" else {}
        conn = cls(parts.hostname, parts.port, timeout=timeout, **kwargs)
        conn.allow_private = allow_private
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        response = None
        try:
            conn.request("GET", target, headers=headers)
            response = conn.getresponse()
            if response.status in (301, 302, 303, 307, 308) and response.getheader("Location"):
                url = urljoin(url, response.getheader("Location"))
                continue
            if response.status >= 400:
                raise FetchError(
                    f"{url} answered HTTP {response.status} {response.reason}.",
                    status=response.status,
                    retry_after=response.getheader("Retry-After"),
                )
            data = b"" if response.status == 304 else response.read(max_bytes + 1)
            if len(data) > max_bytes:
                raise FetchError(f"{url} is larger than the {max_bytes:,}-byte limit for one input.")
            return FetchedPage(
                url=url,
                data=data,
                content_type=response.getheader("Content-Type"),
                status=response.status,
                etag=response.getheader("ETag"),
                last_modified=response.getheader("Last-Modified"),
            )
        except (OSError, http.client.HTTPException, ssl.SSLError) as exc:
            if isinstance(exc, FetchError):
                raise
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
            if isinstance(exc, socket.gaierror):
                reason = "the host name could not be resolved"
            raise FetchError(f"{url} could not be fetched: {reason}.") from None
        finally:
            if response is not None:  # an answer read only in part (an error, a redirect) holds the socket
                response.close()
            conn.close()
    raise FetchError(f"{url} redirected more than {MAX_REDIRECTS} times.")
