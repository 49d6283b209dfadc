"""TLS to the APIs: a certificate that does not verify is named as such, `caBundle` trusts
a private CA, `tlsVerify: false` is said once per run. SAPI is reached through a local
HTTPS front (a private CA's certificate for 127.0.0.1) that forwards to the simulator."""
from __future__ import annotations

import datetime
import ipaddress
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest


def _pki(directory: Path) -> tuple[Path, Path, Path]:
    """A private CA and a server certificate it signed for 127.0.0.1: (ca, cert, key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sdcadm test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - datetime.timedelta(days=1))
          .not_valid_after(now + datetime.timedelta(days=30))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True,
                                       crl_sign=True, content_commitment=False,
                                       key_encipherment=False, data_encipherment=False,
                                       key_agreement=False, encipher_only=False,
                                       decipher_only=False), critical=True)
          .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                         critical=False)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sapi")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                           critical=False)
            .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                ca_key.public_key()), critical=False)
            .sign(ca_key, hashes.SHA256()))
    paths = directory / "ca.pem", directory / "cert.pem", directory / "key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                           serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return paths


def _front(upstream: str, cert: Path, key: Path) -> tuple[ThreadingHTTPServer, list[str]]:
    """An HTTPS server on 127.0.0.1 passing GETs to `upstream`; returns it and the paths
    it was asked for."""
    asked: list[str] = []

    class Forward(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            asked.append(self.path)
            req = urllib.request.Request(upstream + self.path, headers={
                k: v for k, v in self.headers.items() if k.lower() != "host"})
            try:
                with urllib.request.urlopen(req, timeout=10) as resp:
                    status, body, ctype = resp.status, resp.read(), resp.headers["Content-Type"]
            except urllib.error.HTTPError as e:
                status, body, ctype = e.code, e.read(), e.headers["Content-Type"]
            self.send_response(status)
            self.send_header("Content-Type", ctype or "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Forward)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, asked


@pytest.fixture
def https_sapi(sim: Any, tmp_path: Path) -> Iterator[dict[str, Any]]:
    ca, cert, key = _pki(tmp_path)
    server, asked = _front(sim.urls["sapi"], cert, key)
    url = f"https://127.0.0.1:{server.server_address[1]}"
    try:
        yield {"url": url, "ca": ca, "asked": asked}
    finally:
        server.shutdown()
        server.server_close()


def _conf(sim: Any, tmp_path: Path, **changes: Any) -> str:
    data = json.loads(Path(sim.config_path).read_text())
    data.update(changes)
    p = tmp_path / "sdcadm.conf"
    p.write_text(json.dumps(data))
    return str(p)


def test_an_untrusted_certificate_is_named_and_not_retried(
        sdcadm: Any, sim: Any, tmp_path: Path, https_sapi: dict[str, Any]) -> None:
    conf = _conf(sim, tmp_path, sapi={"url": https_sapi["url"]}, retryDelay=1.0)
    started = time.monotonic()
    r = sdcadm("services", env={"SDCADM_CONFIG": conf})
    assert (r.exit_code, r.out) == (1, "")
    assert r.err == (f"sdcadm services: error (SDCClient): sapi client error (TLSError): TLS "
                     f"certificate verification failed for {https_sapi['url']}: unable to get "
                     "local issuer certificate (GET /applications)\n")
    assert time.monotonic() - started < 1.0  # no retry (each would back off a second)
    assert https_sapi["asked"] == []


def test_ca_bundle_trusts_a_private_ca(sdcadm: Any, sim: Any, tmp_path: Path,
                                       https_sapi: dict[str, Any]) -> None:
    plain = sdcadm("services")
    conf = _conf(sim, tmp_path, sapi={"url": https_sapi["url"]}, caBundle=str(https_sapi["ca"]))
    r = sdcadm("services", env={"SDCADM_CONFIG": conf})
    assert (r.exit_code, r.err) == (0, "")
    assert r.out == plain.out
    assert any(path.startswith("/applications?") for path in https_sapi["asked"])


def test_tls_verify_false_is_said_once(sdcadm: Any, sim: Any, tmp_path: Path,
                                       https_sapi: dict[str, Any]) -> None:
    plain = sdcadm("instances")
    conf = _conf(sim, tmp_path, sapi={"url": https_sapi["url"]}, tlsVerify=False)
    r = sdcadm("instances", env={"SDCADM_CONFIG": conf})
    assert r.exit_code == 0, r.err
    assert r.out == plain.out
    assert len(https_sapi["asked"]) >= 2  # several HTTPS requests ...
    assert r.err == (f"sdcadm: warning: TLS certificates are not verified (tlsVerify: false in "
                     f"{conf}): anyone on the path to an API can read and change what sdcadm "
                     "sends\n")  # ... one line, no urllib3 warnings


def test_tls_to_a_plain_http_port_is_named(sdcadm: Any, sim: Any, tmp_path: Path) -> None:
    https = sim.urls["sapi"].replace("http://", "https://")
    r = sdcadm("services", env={"SDCADM_CONFIG": _conf(sim, tmp_path, sapi={"url": https})})
    assert r.exit_code == 1
    assert r.err.startswith(f"sdcadm services: error (SDCClient): sapi client error (TLSError): "
                            f"TLS handshake failed with {https}: ")
    assert len(r.err.splitlines()) == 1


@pytest.mark.parametrize("value, must", [
    ("/no/such/ca.pem", "the path of a readable file (cannot read /no/such/ca.pem)"),
    ("", "the path of a readable file"),
    (True, "the path of a readable file"),
])
def test_a_bad_ca_bundle_is_a_configuration_error(sdcadm: Any, sim: Any, tmp_path: Path,
                                                  value: Any, must: str) -> None:
    conf = _conf(sim, tmp_path, caBundle=value)
    r = sdcadm("services", env={"SDCADM_CONFIG": conf})
    assert r.exit_code == 2
    assert r.err == f'sdcadm services: error (Config): {conf}: "caBundle" must be {must}\n'
