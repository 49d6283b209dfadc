"""SSH into the simulated servers' global zones (paramiko server).

Every simulated server listens on its own loopback port with its own host key, so host-key
checking is as real as on a datacenter. Keys live in `<state>/ssh/`: one host key per
server (`host_keys.json`), the key sdcadm logs in with (`id_ed25519`), and `known_hosts`
naming each server by its admin IP, which is what sdcadm checks keys against. The generated
`sdcadm.conf` maps each admin address (`10.99.99.41:22`) to the server's port.

Connections are accepted by one thread; each SSH transport runs in paramiko's own threads,
and every command is handed to the simulator's event loop (`sim/gz`), so it reads and
changes the same state as the HTTP APIs, in the same order.

Faults (all aimed at a server uuid, or `*`):
- `ssh-unreachable`: the connection is dropped before the SSH banner;
- `ssh-hostkey`: the server presents another host key than the one in known_hosts;
- `ssh-hang`: commands (matching `command`, a regex, if given) never answer.
A server that is not `running` (rebooting, down) drops connections too.
"""
from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import selectors
import socket
import struct
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import paramiko
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from paramiko import common as ssh_common

from sdcadm.sim import gz
from sdcadm.sim.web import loopback_socket

if TYPE_CHECKING:
    from sdcadm.sim.world import World

log = logging.getLogger("sdcadm.sim.sshd")
HUNG = 3600.0  # how long an `ssh-hang` command waits: longer than any client timeout
CLOSE_WAIT = 30.0  # how long a finished command's channel waits for the client to close it


def _new_key() -> tuple[str, paramiko.PKey]:
    pem = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption()).decode()
    return pem, paramiko.Ed25519Key.from_private_key(io.StringIO(pem))


def admin_ip(server: dict[str, Any]) -> str | None:
    ip = (server.get("sysinfo") or {}).get("Admin IP")
    return str(ip) if ip else None


class Keys:
    """Host keys per server, the client key, known_hosts: made once, kept in the state dir."""

    def __init__(self, state_dir: Path, servers: list[dict[str, Any]]) -> None:
        self.dir = state_dir / "ssh"
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        store = self.dir / "host_keys.json"
        try:
            pems: dict[str, str] = json.loads(store.read_text())
        except (OSError, ValueError):
            pems = {}
        self.host: dict[str, paramiko.PKey] = {}
        changed = False
        for s in servers:
            pem = pems.get(s["uuid"])
            if pem is None:
                pem, key = _new_key()
                pems[s["uuid"]] = pem
                changed = True
            else:
                key = paramiko.Ed25519Key.from_private_key(io.StringIO(pem))
            self.host[s["uuid"]] = key
        if changed:
            _write_private(store, json.dumps(pems))
        self.identity = self.dir / "id_ed25519"
        if not self.identity.exists():
            pem, key = _new_key()
            _write_private(self.identity, pem)
            (self.dir / "id_ed25519.pub").write_text(f"ssh-ed25519 {key.get_base64()} sdcadm\n")
        self.client = paramiko.Ed25519Key.from_private_key_file(str(self.identity))
        self.known_hosts = self.dir / "known_hosts"
        lines = [f"{admin_ip(s)} {self.host[s['uuid']].get_name()} "
                 f"{self.host[s['uuid']].get_base64()}\n" for s in servers if admin_ip(s)]
        _write_private(self.known_hosts, "".join(lines))
        self._impostor: paramiko.PKey | None = None

    def impostor(self) -> paramiko.PKey:
        """A key no known_hosts entry names (the `ssh-hostkey` fault)."""
        if self._impostor is None:
            self._impostor = _new_key()[1]
        return self._impostor


def _write_private(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    tmp.replace(path)


class _Interface(paramiko.ServerInterface):
    def __init__(self, daemon: "SshDaemon", server_uuid: str) -> None:
        self.daemon = daemon
        self.server_uuid = server_uuid
        self.commands: dict[int, str] = {}
        self.ready = threading.Condition()

    def get_allowed_auths(self, username: str) -> str:
        return "publickey"

    def check_auth_publickey(self, username: str, key: paramiko.PKey) -> int:
        if username == "root" and key == self.daemon.keys.client:
            return ssh_common.AUTH_SUCCESSFUL
        return ssh_common.AUTH_FAILED

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return ssh_common.OPEN_SUCCEEDED
        return ssh_common.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        with self.ready:
            self.commands[channel.get_id()] = command.decode("utf-8", errors="replace")
            self.ready.notify_all()
        return True

    def wait_command(self, channel: paramiko.Channel, timeout: float) -> str | None:
        with self.ready:
            self.ready.wait_for(lambda: channel.get_id() in self.commands or channel.closed,
                                timeout)
            return self.commands.pop(channel.get_id(), None)


class SshDaemon:
    def __init__(self, world: "World", state_dir: Path) -> None:
        self.world = world
        self.state_dir = state_dir
        self.servers = sorted(world.store.all("server"), key=lambda s: s["hostname"])
        self.keys = Keys(state_dir, self.servers)
        self.ports: dict[str, int] = {}
        self._socks: dict[str, socket.socket] = {}
        self._selector = selectors.DefaultSelector()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        logging.getLogger("paramiko").setLevel(logging.CRITICAL)

    # -- set-up ------------------------------------------------------------------------------
    def bind(self, wanted: dict[str, int] | None = None) -> dict[str, int]:
        """A listening loopback socket per server (the recorded port when it is free)."""
        _raise_fd_limit(len(self.servers) * 2 + 256)
        for s in self.servers:
            sock = loopback_socket((wanted or {}).get(s["uuid"], 0))
            self._socks[s["uuid"]] = sock
            self.ports[s["uuid"]] = sock.getsockname()[1]
            self._selector.register(sock, selectors.EVENT_READ, s["uuid"])
        return self.ports

    def address_map(self) -> dict[str, str]:
        """`addressMap` for sdcadm.conf: each admin address's SSH port -> its loopback port."""
        return {f"{admin_ip(s)}:22": f"127.0.0.1:{self.ports[s['uuid']]}"
                for s in self.servers if admin_ip(s) and s["uuid"] in self.ports}

    def config(self) -> dict[str, Any]:
        return {"user": "root", "identityFile": str(self.keys.identity),
                "knownHosts": str(self.keys.known_hosts), "hostKeyPolicy": "strict"}

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._thread = threading.Thread(target=self._accept_loop, name="sim-sshd", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)
        for sock in self._socks.values():
            try:
                sock.close()
            except OSError:
                pass

    # -- serving -----------------------------------------------------------------------------
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            for key, _ in self._selector.select(timeout=0.2):
                try:
                    conn, _addr = key.fileobj.accept()  # type: ignore[union-attr]
                except OSError:
                    continue
                threading.Thread(target=self._serve, args=(conn, key.data), daemon=True,
                                 name=f"sim-ssh-{key.data[:8]}").start()

    def _fault(self, kind: str, server_uuid: str) -> dict[str, Any] | None:
        return self.world.has_fault(kind, server_uuid)

    def _serve(self, conn: socket.socket, server_uuid: str) -> None:
        server = self.world.store.get("server", server_uuid) or {}
        if server.get("status") != "running" or self._fault("ssh-unreachable", server_uuid):
            _drop(conn)
            return
        conn.setblocking(True)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = paramiko.Transport(conn)
        key = self.keys.impostor() if self._fault("ssh-hostkey", server_uuid) \
            else self.keys.host[server_uuid]
        transport.add_server_key(key)
        iface = _Interface(self, server_uuid)
        try:
            transport.start_server(server=iface)
        except (paramiko.SSHException, EOFError, OSError):
            transport.close()
            return
        while transport.is_active() and not self._stop.is_set():
            chan = transport.accept(timeout=1.0)
            if chan is None:
                continue
            threading.Thread(target=self._channel, args=(iface, chan), daemon=True).start()
        transport.close()

    def _channel(self, iface: _Interface, chan: paramiko.Channel) -> None:
        try:
            command = iface.wait_command(chan, 10.0)
            if command is None:
                return
            out, err, code = self._run(iface.server_uuid, command, chan)
            if out:
                chan.sendall(out.encode())
            if err:
                chan.sendall_stderr(err.encode())
            chan.send_exit_status(code)
            # EOF now, CLOSE once the client closes: the transport thread sends the reply to
            # the exec request only after check_channel_exec_request returns, and a CLOSE
            # that overtakes it makes the client report "Channel closed." for a command
            # that ran.
            chan.shutdown_write()
            chan.status_event.wait(CLOSE_WAIT)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            chan.close()

    def _run(self, server_uuid: str, command: str, chan: paramiko.Channel) -> gz.Output:
        assert self.loop is not None
        hang = self._fault("ssh-hang", server_uuid)
        if hang and (not hang.get("command") or re.search(hang["command"], command)):
            chan.status_event.wait(HUNG)  # until the client gives up and closes
            return "", "", 255
        fut = asyncio.run_coroutine_threadsafe(self._exec(server_uuid, command), self.loop)
        return fut.result()

    async def _exec(self, server_uuid: str, command: str) -> gz.Output:
        if gz.is_mutating(command):
            server = self.world.store.get("server", server_uuid) or {}
            self.world.log_mutation("ssh", "EXEC", f"{server.get('hostname', server_uuid)}: "
                                                   f"{command}")
        return await gz.run(self.world, server_uuid, command)


def _drop(conn: socket.socket) -> None:
    """Close with a reset, as a host that is down or filtered would look to the client."""
    try:
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        conn.close()
    except OSError:
        pass


def _raise_fd_limit(wanted: int) -> None:
    try:
        import resource

        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < wanted:
            limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    except (ImportError, ValueError, OSError):
        pass
