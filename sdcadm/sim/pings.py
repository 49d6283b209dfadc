"""Health pings of the simulated instances: what `GET http://<admin ip>:<port>/ping` answers.

In a datacenter every core API answers a health ping at its admin IP (`/ping` on 80 for
most; cloudapi `/--ping` and grafana `/ping` over HTTPS on 443; prometheus `/-/healthy` on
9090) and the firewaller agent answers `/status` on port 2021 of its server. Here one
loopback HTTP listener (and one HTTPS listener, with a self-signed certificate made once in
`<state>/pings/`) stands for all of them: the generated `sdcadm.conf` maps every instance's
`ip:port` to it in `addressMap`, and the request's `Host` header (`10.99.99.26`,
`10.99.99.41:2021`) says which instance was asked.

- The ping path of the instance's service answers 200 (JSON); another path, an address
  no instance has, or an instance without a ping on that port: 404.
- A VM that is not running, or on a server that is not running, and an agent on a server
  that is not running, do not answer: the connection is reset.
- Faults: `ping-fail` answers 500, `ping-hang` never answers (until the client gives up).
  Target a VM uuid, or a server uuid for its global-zone agents, or `*`; `count` and
  `rate` apply.

Requests are handled in the simulator's event loop, so they see the same state as the
APIs. Pings are reads: nothing goes to the mutation log.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import ssl
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sdcadm.sim.web import loopback_socket

if TYPE_CHECKING:
    from sdcadm.sim.world import World

# service -> (path, port): the real services' health endpoints.
PINGS: dict[str, tuple[str, int]] = {
    "amon": ("/ping", 80), "cloudapi": ("/--ping", 443), "cnapi": ("/ping", 80),
    "fwapi": ("/ping", 80), "grafana": ("/ping", 443), "imgapi": ("/ping", 80),
    "napi": ("/ping", 80), "papi": ("/ping", 80), "prometheus": ("/-/healthy", 9090),
    "sapi": ("/ping", 80), "vmapi": ("/ping", 80), "volapi": ("/ping", 80),
    "workflow": ("/ping", 80),
}
AGENT_PINGS: dict[str, tuple[str, int]] = {"firewaller": ("/status", 2021)}
HTTPS_PORTS = frozenset({443})
# Where provisioned VMs land (scenario.vm_doc): mapped too, so a ping to one never leaves
# loopback.
FALLBACK_IP = "10.99.99.99"
HUNG = 3600.0
Index = dict[tuple[str, int], list[tuple[str, str, str]]]  # (ip, port) -> [(kind, uuid, path)]
DROP, HANG = "drop", "hang"


class PingServer:
    def __init__(self, world: "World", state_dir: Path) -> None:
        self.world = world
        self.state_dir = state_dir
        self.ports: dict[str, int] = {}
        self._servers: list[asyncio.AbstractServer] = []
        self._conns: set[asyncio.StreamWriter] = set()
        self._built: tuple[Any, Index, float] | None = None

    # -- set-up ------------------------------------------------------------------------------
    async def start(self, wanted: dict[str, int] | None = None) -> dict[str, int]:
        """Listen on loopback (the recorded ports when still free)."""
        for scheme in ("http", "https"):
            tls = self._tls() if scheme == "https" else None
            sock = loopback_socket((wanted or {}).get(scheme, 0))

            async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter,
                             secure: bool = tls is not None) -> None:
                await self._handle(r, w, secure)
            server = await asyncio.start_server(handle, sock=sock, ssl=tls)
            self._servers.append(server)
            self.ports[scheme] = sock.getsockname()[1]
        return self.ports

    def _tls(self) -> ssl.SSLContext:
        cert, key = _certificate(self.state_dir / "pings")
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(str(cert), str(key))
        return ctx

    def address_map(self) -> dict[str, str]:
        """`addressMap` entries: every instance's ping address -> the listener for it."""
        def to(port: int) -> str:
            scheme = "https" if port in HTTPS_PORTS else "http"
            return f"127.0.0.1:{self.ports[scheme]}"

        out: dict[str, str] = {}
        for vm in self.world.store.all("vm"):
            ping = PINGS.get(_role(vm) or "")
            ip = _vm_ip(vm)
            if ping and ip:
                out[f"{ip}:{ping[1]}"] = to(ping[1])
        for srv in self.world.store.all("server"):
            ip = _server_ip(srv)
            for agent in srv.get("agents") or []:
                ping = AGENT_PINGS.get(agent.get("name") or "")
                if ping and ip:
                    out[f"{ip}:{ping[1]}"] = to(ping[1])
        for port in sorted({p for _path, p in PINGS.values()}):
            out.setdefault(f"{FALLBACK_IP}:{port}", to(port))
        return out

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for w in list(self._conns):  # hung pings included: nothing may outlive the simulator
            w.close()
        for server in self._servers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 2)

    # -- answering ---------------------------------------------------------------------------
    def answer(self, ip: str, port: int, method: str, path: str) -> tuple[int, Any] | str:
        """(status, body), DROP or HANG for a ping of `ip:port` + `path`."""
        target = self._find(ip, port)
        if target is None:
            return 404, {"code": "ResourceNotFound", "message": f"nothing answers at {ip}:{port}"}
        kind, doc, ping_path = target
        if kind == "vm":
            server = self.world.store.get("server", doc.get("server_uuid") or "") or {}
            up = doc.get("state") == "running" and server.get("status") == "running"
        else:
            up = doc.get("status") == "running"
        if not up:
            return DROP
        if path.split("?", 1)[0] != ping_path or method not in ("GET", "HEAD"):
            return 404, {"code": "ResourceNotFound", "message": f"{path} does not exist"}
        # A VM's faults name the VM; an agent's name its server.
        if self.world.target_fault("ping-hang", [doc["uuid"]]):
            return HANG
        if self.world.target_fault("ping-fail", [doc["uuid"]]):
            return 500, {"code": "InternalError", "message": "ping failed (injected fault)"}
        if kind == "agent":
            return 200, {"status": "ok", "server": doc["uuid"]}
        return 200, {"ping": "pong", "pid": 1, "alias": doc.get("alias")}

    def _find(self, ip: str, port: int) -> tuple[str, dict[str, Any], str] | None:
        """The instance with a ping at ip:port (a running VM wins over others)."""
        for attempt in (1, 2):
            listed = self._index().get((ip, port), [])
            found = []
            for kind, id_, path in listed:
                doc = self.world.store.get("vm" if kind == "vm" else "server", id_)
                if doc is not None and _address(kind, doc, port) == ip:
                    found.append((kind, doc, path))
            # A document edited in place (an address changed) does not show in the index
            # key: an entry that no longer holds, or a miss on an index a second old,
            # rebuilds it once.
            stale = len(found) != len(listed) or (
                not listed and self._built is not None
                and time.monotonic() - self._built[2] > 1.0)
            if not stale or attempt == 2:
                break
            self._built = None
        found.sort(key=lambda f: f[1].get("state", f[1].get("status")) != "running")
        return found[0] if found else None

    def _index(self) -> "Index":
        """(ip, port) -> [(kind, uuid, path)]: a thousand servers are not scanned per ping.
        Rebuilt when documents come or go (a provisioned VM, a reset)."""
        store = self.world.store
        key = (store.seq, len(store.docs.get("vm", {})), len(store.docs.get("server", {})))
        if self._built is not None and self._built[0] == key:
            return self._built[1]
        index: Index = {}
        for vm in store.all("vm"):
            ping = PINGS.get(_role(vm) or "")
            ip = _vm_ip(vm)
            if ping and ip and vm.get("state") != "destroyed":
                index.setdefault((ip, ping[1]), []).append(("vm", vm["uuid"], ping[0]))
        for srv in store.all("server"):
            ip = _server_ip(srv)
            for agent in srv.get("agents") or []:
                ping = AGENT_PINGS.get(agent.get("name") or "")
                if ping and ip:
                    index.setdefault((ip, ping[1]), []).append(("agent", srv["uuid"], ping[0]))
        self._built = (key, index, time.monotonic())
        return index

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter,
                      secure: bool) -> None:
        self._conns.add(writer)
        try:
            try:
                head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, asyncio.TimeoutError,
                    ConnectionError, ssl.SSLError):
                return
            lines = head.decode("latin-1").split("\r\n")
            method, path = (lines[0].split(" ") + ["", ""])[:2]
            headers = {k.strip().lower(): v.strip()
                       for k, sep, v in (h.partition(":") for h in lines[1:]) if sep}
            ip, port = _host(headers.get("host", ""), 443 if secure else 80)
            outcome = self.answer(ip, port, method, path)
            if outcome == DROP:
                writer.transport.abort()
                return
            if outcome == HANG:
                # Read until the client hangs up (or the simulator stops): never answer.
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(reader.read(), HUNG)
                return
            assert not isinstance(outcome, str)
            status, body = outcome
            data = (json.dumps(body) + "\n").encode()
            reason = {200: "OK", 404: "Not Found", 500: "Internal Server Error"}[status]
            writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                         f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode()
                         + (b"" if method == "HEAD" else data))
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await writer.drain()
        finally:
            self._conns.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()


def _role(vm: dict[str, Any]) -> str | None:
    return (vm.get("tags") or {}).get("smartdc_role")


def _vm_ip(vm: dict[str, Any]) -> str | None:
    for nic in vm.get("nics") or []:
        if str(nic.get("nic_tag") or "").lower().startswith("admin") and nic.get("ip"):
            return str(nic["ip"])
    return None


def _address(kind: str, doc: dict[str, Any], port: int) -> str | None:
    if kind == "vm":
        ping = PINGS.get(_role(doc) or "")
        return _vm_ip(doc) if ping and ping[1] == port and doc.get("state") != "destroyed" \
            else None
    return _server_ip(doc)


def _server_ip(srv: dict[str, Any]) -> str | None:
    ip = (srv.get("sysinfo") or {}).get("Admin IP")
    return str(ip) if ip else None


def _host(value: str, default_port: int) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if sep and port.isdigit() and "]" not in port:
        return host, int(port)
    return value, default_port


def _certificate(directory: Path) -> tuple[Path, Path]:
    """A self-signed certificate for the HTTPS pings, made once and kept."""
    cert, key = directory / "cert.pem", directory / "key.pem"
    if cert.exists() and key.exists():
        return cert, key
    import datetime
    import ipaddress
    import os

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    pkey = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sdcadm-sim instance")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(pkey.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.SubjectAlternativeName(
            [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .sign(pkey, hashes.SHA256()))
    fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pkey.private_bytes(serialization.Encoding.PEM,
                                    serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption()))
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return cert, key
