"""HTTP to addresses from outside (the alert webhook a merchant typed, a file Shopify links to): to the public
internet only.

It must never reach the app's own network: it refuses loopback, private, link-local, multicast, reserved
and unspecified addresses (IPv4 and IPv6, also an IPv4 address inside an IPv6 one), connects to the very
address it checked (a second DNS answer cannot slip in between) and never follows a redirect.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import socket
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO, Any
from urllib.parse import SplitResult, unquote, urlsplit

import urllib3
from flask import current_app, has_app_context

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# Names that never lead to the public internet, whatever DNS says today.
_LOCAL_NAMES = ("localhost",)
_LOCAL_SUFFIXES = (".localhost", ".local", ".localdomain", ".internal", ".intranet", ".lan", ".home.arpa")
# NAT64's well-known prefix carries an IPv4 address in its last 32 bits (RFC 6052).
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class DeliveryFailed(Exception):
    """The request did not reach a public server that accepted it; ``reason`` says why, for a merchant."""

    def __init__(self, reason: str, status: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


class Refused(DeliveryFailed):
    """The URL leads somewhere the app must not send to; nothing was sent."""


@dataclass(frozen=True)
class Policy:
    # Tests and development with a receiver on this machine only: allows http and non-public addresses.
    allow_private: bool = False


def policy() -> Policy:
    """The policy the app's config sets (``CX_ALLOW_PRIVATE_ALERT_HOOKS``); the strict one outside an app."""
    allow = bool(current_app.config.get("CX_ALLOW_PRIVATE_ALERT_HOOKS")) if has_app_context() else False
    return Policy(allow_private=allow)


def is_public(address: IPAddress) -> bool:
    """True only for an address on the public internet (an IPv4 address inside IPv6 is judged as IPv4)."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            return is_public(embedded)
        if address.is_site_local:
            return False
    return address.is_global and not (address.is_multicast or address.is_reserved or address.is_unspecified
                                      or address.is_loopback or address.is_link_local or address.is_private)


def literal_address(host: str) -> IPAddress | None:
    """The address a host names by itself: ``10.0.0.5``, ``::1``, and the old forms the C resolver
    also reads as IPv4 (``127.1``, ``2130706433``, ``0x7f000001``); None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def url_problem(url: str, rules: Policy) -> str | None:
    """Why this URL may not be used, in words for the merchant; None when it may (no DNS lookup here:
    the send checks the addresses the name has then)."""
    parts = urlsplit(url)
    if parts.scheme not in (("https", "http") if rules.allow_private else ("https",)):
        return "Use an https:// address."
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        return "The address has no host name."
    if rules.allow_private:
        return None
    address = literal_address(host)
    if address is not None:
        if not is_public(address):
            return f"{host} is not a public internet address; use the URL your chat tool gave you."
        return None
    if "." not in host or host in _LOCAL_NAMES or host.endswith(_LOCAL_SUFFIXES):
        return f"{host} is a local name, not a public internet address; use the URL your chat tool gave you."
    return None


def public_addresses(host: str, port: int, rules: Policy) -> list[str]:
    """Resolve ``host``: the addresses to connect to. Refused when any of them is not public (a name that
    also points inside is not trusted for its other addresses)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise DeliveryFailed(f"The host name {host} could not be resolved ({exc.strerror or exc}).") from exc
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not rules.allow_private:
        inside = [a for a in addresses if not is_public(ipaddress.ip_address(a.split("%")[0]))]
        if inside:
            raise Refused(f"{host} points to {inside[0]}, which is not a public internet address.")
    if not addresses:
        raise DeliveryFailed(f"The host name {host} has no address.")
    return addresses


def post_json(url: str, payload: Any, *, timeout: float, rules: Policy) -> int:
    """POST ``payload`` as JSON to a checked public address; the 2xx status it answered.

    Raises Refused (nothing sent) or DeliveryFailed (a network error, or any status other than 2xx:
    a redirect is an answer we do not follow, so it fails too).
    """
    return _request("POST", url, timeout=timeout, rules=rules, body=json.dumps(payload).encode(),
                    content_type="application/json")


def download(url: str, sink: IO[bytes], *, timeout: float, rules: Policy, max_bytes: int) -> int:
    """GET ``url`` (a checked public address) and copy its body into ``sink``; the number of bytes copied.

    Same refusals and failures as :func:`post_json`; a body longer than ``max_bytes`` fails too."""
    copied = [0]

    def copy(response: urllib3.BaseHTTPResponse) -> None:
        for chunk in response.stream(64 * 1024):
            copied[0] += len(chunk)
            if copied[0] > max_bytes:
                raise DeliveryFailed(f"The file at {urlsplit(url).hostname} is larger than {max_bytes} bytes.")
            sink.write(chunk)

    _request("GET", url, timeout=timeout, rules=rules, read=copy)
    return copied[0]


def _request(method: str, url: str, *, timeout: float, rules: Policy, body: bytes | None = None,
             content_type: str | None = None,
             read: Callable[[urllib3.BaseHTTPResponse], None] | None = None) -> int:
    problem = url_problem(url, rules)
    if problem:
        raise Refused(problem)
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".")
    port = parts.port or (443 if parts.scheme == "https" else 80)
    headers = {"Host": _host_header(parts, host), "User-Agent": "cxplugin"}
    if content_type:
        headers["Content-Type"] = content_type
    if parts.username is not None:
        headers.update(urllib3.make_headers(basic_auth=f"{unquote(parts.username)}:{unquote(parts.password or '')}"))
    addresses = public_addresses(host, port, rules)
    for address in addresses:
        pool = _pool(parts.scheme, address, port, host, timeout)
        try:
            response = pool.urlopen(method, _target(parts), body=body, headers=headers, redirect=False,
                                    retries=False, preload_content=False, assert_same_host=False)
            try:
                if read is not None and 200 <= response.status < 300:
                    read(response)
            finally:
                response.close()  # a body not needed is not read: a hostile server could make it endless
            break
        except urllib3.exceptions.NewConnectionError as exc:
            if address == addresses[-1]:  # nothing was sent: the next checked address may listen
                raise DeliveryFailed(f"Could not connect to {host}: {_short(exc)}.") from exc
        except (urllib3.exceptions.HTTPError, OSError) as exc:
            raise DeliveryFailed(f"Could not reach {host}: {_short(exc)}.") from exc
        finally:
            pool.close()
    if 200 <= response.status < 300:
        return response.status
    if 300 <= response.status < 400:
        raise DeliveryFailed(f"{host} answered HTTP {response.status}, a redirect; redirects are not followed, "
                             "so use the final address.", response.status)
    raise DeliveryFailed(f"{host} answered HTTP {response.status}.", response.status)


def _pool(scheme: str, address: str, port: int, host: str, timeout: float) -> urllib3.HTTPConnectionPool:
    limits = urllib3.Timeout(connect=timeout, read=timeout)
    if scheme == "https":
        # Connect to the checked address; send the name (SNI) and verify the certificate against it.
        context = _verifying_context(os.environ.get("SSL_CERT_FILE"))
        return urllib3.HTTPSConnectionPool(address, port, timeout=limits, maxsize=1, retries=False,
                                           server_hostname=host, ssl_context=context)
    return urllib3.HTTPConnectionPool(address, port, timeout=limits, maxsize=1, retries=False)


@functools.lru_cache(maxsize=4)
def _verifying_context(ca_file: str | None) -> ssl.SSLContext:
    # Loading the CA bundle takes tens of milliseconds: once per process, not per request.
    return ssl.create_default_context(cafile=ca_file)


def _host_header(parts: SplitResult, host: str) -> str:
    name = f"[{host}]" if ":" in host else host
    return f"{name}:{parts.port}" if parts.port else name


def _target(parts: SplitResult) -> str:
    return (parts.path or "/") + (f"?{parts.query}" if parts.query else "")


def _short(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason or exc)[:200]
