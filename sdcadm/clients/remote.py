"""Commands in the servers' global zones, over SSH (paramiko): the one remote-execution seam.

A server is named by its CNAPI uuid; its address is the admin IP from CNAPI (`sysinfo`
`Admin IP`), optionally redirected by the configuration's `addressMap` (port forwards, NAT,
the simulated datacenter), while its identity for host-key checking stays the admin
address, as OpenSSH's `HostKeyAlias` would have it.

- Connections are opened lazily, one per server, and reused until closed.
- Host keys are checked against one known_hosts file (`ssh.knownHosts`): an unknown key is
  refused unless `ssh.hostKeyPolicy` is `accept-new` (then it is added, with a warning); a
  changed key is always refused unless the policy is `off`.
- A command is an argument vector: every argument is shell-quoted here, so no shell string
  is ever built from data read from an API.
- `fleet()` runs work on many servers, `concurrency` at a time, and returns a result or an
  error for every server: one unreachable server never hides the others' answers.
- Every command goes to the request log (`SDCADM_REQUEST_LOG`) as HTTP requests do, one
  line each: `ssh EXEC ssh://USER@HOST:PORT <exit status|ERR> <ms>ms <command>`.
"""
from __future__ import annotations

import logging
import os
import shlex
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence, TypeVar

from sdcadm.clients.http import append_request_log
from sdcadm.clients.known_hosts import KnownHosts
from sdcadm.errors import ConfigError, RemoteError, SdcAdmError

T = TypeVar("T")

HOST_KEY_POLICIES = ("strict", "accept-new", "off")


@dataclass(frozen=True)
class CommandResult:
    server: str
    argv: tuple[str, ...]
    stdout: str
    stderr: str
    exit_status: int

    @property
    def ok(self) -> bool:
        return self.exit_status == 0

    @property
    def command(self) -> str:
        return quote(self.argv)


@dataclass(frozen=True)
class Endpoint:
    """Where a server is reached (`host:port`) and what it is called (`name`, `address`)."""

    server: str
    name: str  # hostname, for messages
    address: str  # admin IP: the identity checked against known_hosts
    host: str  # where the TCP connection goes (addressMap applied)
    port: int
    ssh_port: int = 22  # the configured port: with the address, the identity

    @property
    def known_hosts_name(self) -> str:
        return self.address if self.ssh_port == 22 else f"[{self.address}]:{self.ssh_port}"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.address})" if self.name != self.address else self.address


def quote(argv: Sequence[str]) -> str:
    """The command line for an argument vector: every argument quoted for the shell."""
    return " ".join(shlex.quote(str(a)) for a in argv)


@dataclass(frozen=True)
class SshSettings:
    user: str = "root"
    port: int = 22
    identity_file: str | None = None
    known_hosts: str = "~/.ssh/known_hosts"
    host_key_policy: str = "strict"
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    concurrency: int = 16

    @classmethod
    def from_config(cls, config: Any) -> "SshSettings":
        raw: Mapping[str, Any] = getattr(config, "ssh", None) or {}
        return cls(
            user=str(raw.get("user", cls.user)),
            port=int(raw.get("port", cls.port)),
            identity_file=raw.get("identityFile"),
            known_hosts=str(raw.get("knownHosts", cls.known_hosts)),
            host_key_policy=str(raw.get("hostKeyPolicy", cls.host_key_policy)),
            connect_timeout=float(raw.get("connectTimeout", cls.connect_timeout)),
            command_timeout=float(raw.get("commandTimeout", cls.command_timeout)),
            concurrency=int(raw.get("concurrency", cls.concurrency)),
        )


def map_address(address_map: Mapping[str, str], host: str, port: int) -> tuple[str, int]:
    """Apply the configuration's `addressMap` (`"10.99.99.7:22": "127.0.0.1:40001"`)."""
    target = address_map.get(f"{host}:{port}")
    if not target:
        return host, port
    mhost, _, mport = target.rpartition(":")
    return mhost, int(mport)


class Session:
    """Commands on one server over its (reused) connection."""

    def __init__(self, remote: "Remote", server: str) -> None:
        self.remote = remote
        self.server = server

    def run(self, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = False) -> CommandResult:
        return self.remote.run(self.server, argv, timeout=timeout, check=check)


class Remote:
    """SSH to the servers' global zones. Thread-safe; `close()` drops every connection."""

    def __init__(self, config: Any, *, resolve: Callable[[str], Mapping[str, Any]] | None = None,
                 warn: Callable[[str], None] | None = None, verbose: bool = False) -> None:
        self.settings = SshSettings.from_config(config)
        if self.settings.host_key_policy not in HOST_KEY_POLICIES:
            raise ConfigError(f'ssh.hostKeyPolicy must be one of {", ".join(HOST_KEY_POLICIES)}')
        self.address_map: Mapping[str, str] = dict(getattr(config, "address_map", None) or {})
        self.resolve = resolve
        self.warn = warn or (lambda _m: None)
        self._servers: dict[str, tuple[str, str | None]] = {}  # uuid -> (hostname, admin ip)
        self._clients: dict[str, Any] = {}
        self._locks: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()
        self._known: KnownHosts | None = None
        self._pkey: Any = None
        self.log_path = os.environ.get("SDCADM_REQUEST_LOG")
        if not verbose:
            # paramiko reports a peer that hangs up through logging; the error it raises
            # says the same, once, where it matters.
            logging.getLogger("paramiko").setLevel(logging.CRITICAL)

    # -- servers ----------------------------------------------------------------------------
    def learn(self, servers: Iterable[Any]) -> None:
        """Remember hostnames and admin IPs (model Servers or CNAPI objects)."""
        for s in servers:
            if isinstance(s, Mapping):
                uuid, host = s["uuid"], s.get("hostname") or s["uuid"]
                ip = _admin_ip(s)
            else:
                uuid, host, ip = s.uuid, s.hostname, s.admin_ip
            # A listing without sysinfo says nothing of the address: keep what we know.
            self._servers[uuid] = (host, ip or self._servers.get(uuid, (host, None))[1])

    def endpoint(self, server: str) -> Endpoint:
        if not self._servers.get(server, (None, None))[1] and self.resolve is not None:
            try:
                self.learn([self.resolve(server)])
            except SdcAdmError as e:
                raise RemoteError(f"server {server}: cannot look up its address: "
                                  f"{e.message.splitlines()[0]}", kind="unreachable") from e
        host, ip = self._servers.get(server, (server, None))
        if not ip:
            raise RemoteError(f"server {host}: no admin IP known (sysinfo has no Admin IP)",
                              kind="unreachable")
        port = self.settings.port
        mhost, mport = map_address(self.address_map, ip, port)
        return Endpoint(server=server, name=host, address=ip, host=mhost, port=mport, ssh_port=port)

    def name(self, server: str) -> str:
        return self._servers.get(server, (server, None))[0]

    # -- connections ------------------------------------------------------------------------
    def _known_hosts(self) -> KnownHosts:
        with self._lock:
            if self._known is None:
                s = self.settings
                self._known = KnownHosts(s.known_hosts, s.host_key_policy, self.warn)
            return self._known

    def _key(self) -> Any:
        path = self.settings.identity_file
        if not path:
            return None
        with self._lock:
            if self._pkey is None:
                import paramiko

                try:
                    self._pkey = paramiko.PKey.from_path(os.path.expanduser(path))
                except (OSError, paramiko.SSHException, ValueError) as e:
                    raise ConfigError(f"ssh.identityFile: cannot load {path}: {e}") from e
            return self._pkey

    def _server_lock(self, server: str) -> threading.Lock:
        with self._lock:
            return self._locks.setdefault(server, threading.Lock())

    def _client(self, server: str) -> Any:
        with self._server_lock(server):
            client = self._clients.get(server)
            transport = client.get_transport() if client is not None else None
            if transport is not None and transport.is_active():
                return client
            if client is not None:
                client.close()
            client = self._connect(self.endpoint(server))
            self._clients[server] = client
            return client

    def _connect(self, ep: Endpoint) -> Any:
        import paramiko

        known = self._known_hosts()
        pkey = self._key()
        s = self.settings

        class _Check(paramiko.MissingHostKeyPolicy):
            # Every key reaches the policy (the client holds no keys of its own): the shared,
            # parsed-once known_hosts decides.
            def missing_host_key(self, client: Any, hostname: str, key: Any) -> None:
                known.verify(ep, key)

        try:
            sock = socket.create_connection((ep.host, ep.port), timeout=s.connect_timeout)
            # Commands are small request/answer exchanges: without this, each one waits for
            # a delayed ACK (about 40 ms).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError as e:
            raise RemoteError(f"server {ep.label}: cannot connect: {_reason(e)}",
                              kind="unreachable", cause=e) from e
        client = paramiko.SSHClient()
        client.set_missing_host_key_policy(_Check())
        try:
            client.connect(ep.address, port=s.port, username=s.user, pkey=pkey, sock=sock,
                           timeout=s.connect_timeout, banner_timeout=s.connect_timeout,
                           auth_timeout=s.connect_timeout, allow_agent=pkey is None,
                           look_for_keys=pkey is None)
        except RemoteError:
            client.close()
            raise
        except paramiko.AuthenticationException as e:
            client.close()
            raise RemoteError(f"server {ep.label}: authentication as {s.user} failed ({e})",
                              kind="auth", cause=e) from e
        except (paramiko.SSHException, OSError, EOFError) as e:
            client.close()
            raise RemoteError(f"server {ep.label}: cannot connect: {_reason(e)}",
                              kind="unreachable", cause=e) from e
        return client

    def release(self, server: str) -> None:
        with self._lock:
            client = self._clients.pop(server, None)
        if client is not None:
            client.close()

    def close(self) -> None:
        with self._lock:
            clients = list(self._clients.values())
            self._clients.clear()
        for c in clients:
            c.close()

    # -- commands ---------------------------------------------------------------------------
    def run(self, server: str, argv: Sequence[str], *, timeout: float | None = None,
            check: bool = False) -> CommandResult:
        """Run `argv` on `server`; raises RemoteError when it cannot run or time runs out.

        A dead cached connection (the server rebooted) is replaced once, transparently.
        With `check`, a non-zero exit status raises RemoteError too.
        """
        limit = self.settings.command_timeout if timeout is None else timeout
        command = quote(argv)
        started, status = time.monotonic(), "ERR"
        try:
            for attempt in (1, 2):
                client = self._client(server)
                try:
                    result = self._exec(server, client, tuple(str(a) for a in argv), command,
                                        limit)
                    status = str(result.exit_status)
                    break
                except _Stale:
                    self.release(server)
                    if attempt == 2:
                        raise RemoteError(f"server {self.name(server)}: connection lost "
                                          f"running: {command}", kind="unreachable") from None
        finally:
            self._log(server, command, status, started)
        if check and not result.ok:
            detail = (result.stderr or result.stdout).strip().splitlines()
            raise RemoteError(f"server {self.name(server)}: {command} exited "
                              f"{result.exit_status}" + (f": {detail[0]}" if detail else ""))
        return result

    def _exec(self, server: str, client: Any, argv: tuple[str, ...], command: str,
              limit: float) -> CommandResult:
        import paramiko

        deadline = time.monotonic() + limit
        try:
            transport = client.get_transport()
            chan = transport.open_session(timeout=limit)
        except (paramiko.SSHException, OSError, EOFError, AttributeError):
            raise _Stale() from None
        try:
            chan.settimeout(max(0.01, deadline - time.monotonic()))
            chan.exec_command(command)
            out = _read_all(chan, deadline, stderr=False)
            err = _read_all(chan, deadline, stderr=True)
            if not chan.status_event.wait(max(0.0, deadline - time.monotonic())):
                raise socket.timeout()
            status = chan.recv_exit_status()
        except socket.timeout:
            chan.close()
            self.release(server)  # the command may still run: never reuse its connection
            raise RemoteError(f"server {self.name(server)}: timed out after "
                              f"{_secs(limit)}: {command}", kind="timeout") from None
        except (paramiko.SSHException, OSError, EOFError) as e:
            self.release(server)
            raise RemoteError(f"server {self.name(server)}: connection lost running "
                              f"{command}: {_reason(e)}", kind="unreachable", cause=e) from e
        finally:
            chan.close()
        return CommandResult(server, argv, out, err, status)

    def _log(self, server: str, command: str, status: str, started: float) -> None:
        """One line of the request log for a command (where it went: the address it was
        sent to, addressMap applied)."""
        if not self.log_path:
            return
        ip = self._servers.get(server, (server, None))[1]
        where = "%s:%d" % map_address(self.address_map, ip, self.settings.port) if ip else server
        ms = (time.monotonic() - started) * 1000
        line = f"ssh EXEC ssh://{self.settings.user}@{where} {status} {ms:.0f}ms {command}"
        if not append_request_log(self.log_path, line, self.warn):
            self.log_path = None

    # -- many servers -----------------------------------------------------------------------
    def fleet(self, servers: Iterable[str], work: Callable[[Session], T], *,
              concurrency: int | None = None,
              keep: bool = False) -> dict[str, T | SdcAdmError]:
        """`work(session)` on every server, `concurrency` at a time; a result or the error
        per server, in the order given. Connections are closed after use unless `keep`."""
        order = list(dict.fromkeys(servers))
        out: dict[str, T | SdcAdmError] = {}
        width = max(1, min(concurrency or self.settings.concurrency, len(order) or 1))

        def one(server: str) -> tuple[str, T | SdcAdmError]:
            try:
                return server, work(Session(self, server))
            except SdcAdmError as e:
                return server, e
            except Exception as e:  # a bug must not lose the other servers' answers
                return server, RemoteError(f"server {self.name(server)}: {type(e).__name__}: "
                                           f"{e}", cause=e)
            finally:
                if not keep:
                    self.release(server)

        with ThreadPoolExecutor(max_workers=width, thread_name_prefix="ssh") as pool:
            for server, res in pool.map(one, order):
                out[server] = res
        return out


class _Stale(Exception):
    """The cached connection died before the command started: reconnect and try again."""


def _read_all(chan: Any, deadline: float, *, stderr: bool) -> str:
    recv = chan.recv_stderr if stderr else chan.recv
    chunks: list[bytes] = []
    while True:
        chan.settimeout(max(0.01, deadline - time.monotonic()))
        data = recv(65536)
        if not data:
            break
        chunks.append(data)
        if time.monotonic() > deadline:
            raise socket.timeout()
    return b"".join(chunks).decode("utf-8", errors="replace")


def _admin_ip(server: Mapping[str, Any]) -> str | None:
    sysinfo = server.get("sysinfo") or {}
    if sysinfo.get("Admin IP"):
        return str(sysinfo["Admin IP"])
    for nic in (sysinfo.get("Network Interfaces") or {}).values():
        if "admin" in (nic.get("NIC Names") or []) and nic.get("ip4addr"):
            return str(nic["ip4addr"])
    return None


def _reason(e: BaseException) -> str:
    if isinstance(e, socket.timeout):
        return "timed out"
    if isinstance(e, OSError) and e.strerror:
        return e.strerror
    text = str(e).strip()
    return text or type(e).__name__


def _secs(seconds: float) -> str:
    return f"{seconds:g}s"
