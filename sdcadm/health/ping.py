"""HTTP health pings: which services have one, where, and asking it.

The original's table: `GET /ping` on port 80 for most APIs, cloudapi `/--ping` and grafana
`/ping` over HTTPS on 443 (certificates not verified: they are the instances' own),
prometheus `/-/healthy` on 9090, the firewaller agent `/status` on 2021 of its server.
Healthy iff the answer is HTTP 200. A service without an HTTP ping may have one run in its
zone instead (`ZONE_PINGS`, over the server's SSH connection): moray answers node-moray's
`morayping -d`, a deep ping that also needs its manatee shard, run with the zone's profile
(where the moray tools are on PATH) as the original runs zone tools. Services without
either are healthy once SMF is.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    import ssl

PING_PATHS: dict[str, str] = {
    # VMs
    "amon": "/ping", "cloudapi": "/--ping", "cnapi": "/ping", "fwapi": "/ping",
    "grafana": "/ping", "imgapi": "/ping", "napi": "/ping", "papi": "/ping",
    "prometheus": "/-/healthy", "sapi": "/ping", "vmapi": "/ping", "volapi": "/ping",
    "workflow": "/ping",
    # agents, in their server's global zone
    "firewaller": "/status",
}
ZONE_PINGS: dict[str, tuple[str, ...]] = {
    "moray": ("bash", "-c", "source ~/.bashrc; morayping -d"),
}
PING_PORTS: dict[str, int] = {"cloudapi": 443, "grafana": 443, "prometheus": 9090,
                              "firewaller": 2021}
HTTPS_PORT = 443


@dataclass(frozen=True)
class PingSpec:
    path: str
    port: int

    @property
    def scheme(self) -> str:
        return "https" if self.port == HTTPS_PORT else "http"


def ping_spec(service: str | None) -> PingSpec | None:
    path = PING_PATHS.get(service or "")
    if path is None:
        return None
    return PingSpec(path, PING_PORTS.get(service or "", 80))


def _tls() -> "ssl.SSLContext":
    import ssl

    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def ping(ip: str, spec: PingSpec, *, timeout: float,
         address_map: Mapping[str, str] | None = None) -> str | None:
    """GET the instance's health endpoint; None when it answers 200, else why not.

    Never raises. `address_map` (the configuration's `addressMap`) redirects the
    connection (`"10.99.99.26:80": "127.0.0.1:40100"`); the `Host` header still names the
    instance's own address, so whatever answers there knows who was asked. `timeout`
    bounds the connection and each read: an instance that accepts and never answers costs
    `timeout`, not forever."""
    import http.client
    import socket

    from sdcadm.clients.remote import map_address

    host, port = map_address(address_map or {}, ip, spec.port)
    conn: http.client.HTTPConnection
    if spec.scheme == "https":
        conn = http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    default = 443 if spec.scheme == "https" else 80
    try:
        conn.putrequest("GET", spec.path, skip_host=True, skip_accept_encoding=True)
        conn.putheader("Host", ip if spec.port == default else f"{ip}:{spec.port}")
        conn.putheader("User-Agent", "sdcadm-health")
        conn.endheaders()
        resp = conn.getresponse()
        resp.read()
        status = resp.status
    except socket.timeout:
        return f"ping check to {ip} failed: timed out after {timeout:g}s"
    except (OSError, http.client.HTTPException) as e:
        return f"ping check to {ip} failed: {_reason(e)}"
    except Exception as e:  # a ping must turn into a row, whatever went wrong
        return f"ping check to {ip} failed: {type(e).__name__}: {e}"
    finally:
        conn.close()
    if status != 200:
        return f"ping check to {ip} failed with HTTP code {status}"
    return None


def _reason(e: BaseException) -> str:
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    text = str(e).strip()
    return text or type(e).__name__
