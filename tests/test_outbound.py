"""Outbound HTTP to merchant-typed URLs: which addresses count as the public internet, which URLs are
refused before anything is sent, and that a request goes to the checked address, never through a redirect."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from cxplugin import outbound

STRICT = outbound.Policy()
LOCAL = outbound.Policy(allow_private=True)


@pytest.mark.parametrize("address", [
    "127.0.0.1", "127.9.9.9",                      # loopback
    "10.0.0.5", "172.16.3.4", "192.168.1.1",       # private
    "100.64.0.1",                                  # carrier-grade NAT
    "169.254.169.254",                             # link-local: the cloud metadata service
    "0.0.0.0", "255.255.255.255", "240.0.0.1",     # unspecified, broadcast, reserved
    "224.0.0.1", "239.255.255.250",                # multicast
    "192.0.2.10", "198.18.0.1",                    # documentation, benchmarking
    "::1", "::", "fe80::1", "fc00::1", "fd12:3456::1", "fec0::1", "ff02::1", "2001:db8::1",
    "::ffff:127.0.0.1", "::ffff:169.254.169.254", "::ffff:10.0.0.5",  # IPv4-mapped IPv6
    "64:ff9b::a9fe:a9fe",                          # NAT64 of 169.254.169.254
    "2002:7f00:1::1",                              # 6to4 of 127.0.0.1
])
def test_addresses_inside_a_network_are_not_public(address: str) -> None:
    assert not outbound.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", ["93.184.215.14", "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8",
                                     "64:ff9b::808:808"])
def test_addresses_on_the_internet_are_public(address: str) -> None:
    assert outbound.is_public(ipaddress.ip_address(address))


@pytest.mark.parametrize(("host", "address"), [
    ("127.1", "127.0.0.1"), ("2130706433", "127.0.0.1"), ("0x7f000001", "127.0.0.1"), ("0177.0.0.1", "127.0.0.1"),
    ("::ffff:a9fe:a9fe", "::ffff:169.254.169.254"),
])
def test_old_ip_literal_forms_are_read_as_the_resolver_reads_them(host: str, address: str) -> None:
    assert outbound.literal_address(host) == ipaddress.ip_address(address)


def test_a_host_name_is_not_an_ip_literal() -> None:
    assert outbound.literal_address("hooks.slack.com") is None


@pytest.mark.parametrize(("url", "says"), [
    ("http://hooks.example.com/x", "https://"),
    ("ftp://hooks.example.com/x", "https://"),
    ("https://169.254.169.254/latest/meta-data/iam", "169.254.169.254 is not a public internet address"),
    ("https://127.0.0.1:6379/", "127.0.0.1 is not a public internet address"),
    ("https://10.0.0.5/", "10.0.0.5 is not a public internet address"),
    ("https://[::1]/hook", "::1 is not a public internet address"),
    ("https://[::ffff:127.0.0.1]/hook", "is not a public internet address"),
    ("https://2130706433/hook", "2130706433 is not a public internet address"),
    ("https://localhost/hook", "localhost is a local name"),
    ("https://LOCALHOST./hook", "localhost is a local name"),
    ("https://metadata.google.internal/computeMetadata/v1/", "metadata.google.internal is a local name"),
    ("https://printer.local/", "printer.local is a local name"),
    ("https://intranet/", "intranet is a local name"),
])
def test_urls_into_the_network_are_refused_with_a_reason(url: str, says: str) -> None:
    problem = outbound.url_problem(url, STRICT)
    assert problem is not None and says in problem


def test_a_public_https_url_is_accepted() -> None:
    assert outbound.url_problem("https://hooks.slack.com/services/T000/B000/XXXX", STRICT) is None


def test_the_local_policy_allows_http_to_this_machine() -> None:
    assert outbound.url_problem("http://127.0.0.1:8080/hook", LOCAL) is None
    assert outbound.url_problem("ftp://127.0.0.1/hook", LOCAL) is not None


def test_a_name_that_resolves_to_loopback_is_refused_at_send() -> None:
    # "localhost" comes from /etc/hosts through the real resolver, as any name would come from DNS.
    with pytest.raises(outbound.Refused, match="points to 127.0.0.1"):
        outbound.public_addresses("localhost", 443, STRICT)
    assert outbound.public_addresses("localhost", 443, LOCAL) == ["127.0.0.1"]


@pytest.fixture
def receiver() -> Iterator[tuple[int, list[dict[str, Any]], list[int]]]:
    """A local HTTP server that records each request and answers the status in ``status[0]``."""
    seen: list[dict[str, Any]] = []
    status = [200]

    @Request.application
    def receive(request: Request) -> Response:
        seen.append({"method": request.method, "host": request.host, "json": request.get_json(silent=True)})
        headers = {"Location": "http://127.0.0.1:1/elsewhere"} if 300 <= status[0] < 400 else {}
        return Response("ok", status=status[0], headers=headers)

    server = make_server("127.0.0.1", 0, receive)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_port, seen, status
    server.shutdown()


def test_with_the_default_policy_nothing_is_sent_to_this_machine(
        receiver: tuple[int, list[dict[str, Any]], list[int]]) -> None:
    port, seen, _ = receiver
    for url in (f"https://127.0.0.1:{port}/hook", f"http://127.0.0.1:{port}/hook", f"https://localhost:{port}/"):
        with pytest.raises(outbound.Refused):
            outbound.post_json(url, {"text": "hi"}, timeout=5, rules=STRICT)
    assert seen == []


def test_the_json_goes_to_the_checked_address_with_the_url_host(
        receiver: tuple[int, list[dict[str, Any]], list[int]]) -> None:
    port, seen, _ = receiver
    assert outbound.post_json(f"http://localhost:{port}/hook?x=1", {"text": "hi"}, timeout=5, rules=LOCAL) == 200
    assert seen == [{"method": "POST", "host": f"localhost:{port}", "json": {"text": "hi"}}]


@pytest.mark.parametrize("status", [301, 302, 307, 308])
def test_a_redirect_is_not_followed_and_fails(receiver: tuple[int, list[dict[str, Any]], list[int]],
                                              status: int) -> None:
    port, seen, answer = receiver
    answer[0] = status
    with pytest.raises(outbound.DeliveryFailed, match=f"HTTP {status}, a redirect") as failed:
        outbound.post_json(f"http://127.0.0.1:{port}/hook", {"text": "hi"}, timeout=5, rules=LOCAL)
    assert failed.value.status == status
    assert len(seen) == 1  # the redirect's target was never asked


def test_an_error_status_fails_with_the_status(receiver: tuple[int, list[dict[str, Any]], list[int]]) -> None:
    port, _, answer = receiver
    answer[0] = 404
    with pytest.raises(outbound.DeliveryFailed, match="answered HTTP 404") as failed:
        outbound.post_json(f"http://127.0.0.1:{port}/hook", {"text": "hi"}, timeout=5, rules=LOCAL)
    assert failed.value.status == 404


def _certificate(directory: Path, name: str) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    cert_path, key_path = directory / f"{name}.pem", directory / f"{name}.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


@pytest.mark.parametrize(("certified", "delivered"), [("localhost", True), ("someone-else.test", False)])
def test_https_connects_to_the_address_but_verifies_the_certificate_for_the_name(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, certified: str, delivered: bool) -> None:
    cert, key = _certificate(tmp_path, certified)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    seen: list[str] = []

    @Request.application
    def receive(request: Request) -> Response:
        seen.append(request.host)
        return Response("ok")

    server = make_server("127.0.0.1", 0, receive, ssl_context=context)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))  # trust this one certificate, as a CA bundle would
    url = f"https://localhost:{server.server_port}/hook"
    try:
        if delivered:
            assert outbound.post_json(url, {"text": "hi"}, timeout=5, rules=LOCAL) == 200
            assert seen == [f"localhost:{server.server_port}"]
        else:
            with pytest.raises(outbound.DeliveryFailed, match="Could not reach localhost"):
                outbound.post_json(url, {"text": "hi"}, timeout=5, rules=LOCAL)
            assert seen == []
    finally:
        server.shutdown()
