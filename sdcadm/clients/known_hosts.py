"""The known_hosts file sdcadm checks servers' host keys against (`ssh.knownHosts`).

Parsed once per run and shared by every connection. A key is looked up under the server's
admin address (`10.99.99.41`, or `[10.99.99.41]:2222` for another port), whatever address
the connection really goes to. The policy (`ssh.hostKeyPolicy`) says what happens to a key
that is not there: `strict` refuses it, `accept-new` adds it with a warning; a changed key is
refused unless the policy is `off`, which accepts anything and says so once.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from sdcadm.errors import ConfigError, RemoteError

if TYPE_CHECKING:
    import paramiko

    from sdcadm.clients.remote import Endpoint


class KnownHosts:
    """One known_hosts file shared by every connection of a run (parsed once)."""

    def __init__(self, path: str, policy: str, warn: Callable[[str], None]) -> None:
        import paramiko

        self.path = Path(os.path.expanduser(path))
        self.policy = policy
        self.warn = warn
        self.lock = threading.Lock()
        self.keys = paramiko.HostKeys()
        try:
            self.keys.load(str(self.path))
        except FileNotFoundError:
            pass
        except (OSError, paramiko.SSHException) as e:
            raise ConfigError(f"ssh.knownHosts: cannot read {self.path}: {e}") from e
        self._warned_off = False

    def verify(self, ep: Endpoint, key: "paramiko.PKey") -> None:
        """Accept the key, or raise RemoteError(kind="host-key") saying why not."""
        name = ep.known_hosts_name
        with self.lock:
            known = self.keys.lookup(name)
        if known is not None and key.get_name() in known:
            expected = known[key.get_name()]
            if expected == key:
                return
            if self.policy == "off":
                self._warn_off()
                return
            raise RemoteError(
                f"server {ep.label}: host key CHANGED ({key.get_name()} "
                f"{key.fingerprint}, {self.path} has {expected.fingerprint}): refusing to connect",
                kind="host-key")
        if known:
            # Known under another key type only: a different key all the same.
            if self.policy == "off":
                self._warn_off()
                return
            have = ", ".join(sorted(known.keys()))
            raise RemoteError(
                f"server {ep.label}: host key CHANGED (offered {key.get_name()} "
                f"{key.fingerprint}, {self.path} has {have}): refusing to connect",
                kind="host-key")
        if self.policy == "strict":
            raise RemoteError(
                f"server {ep.label}: host key {key.get_name()} {key.fingerprint} is not in "
                f"{self.path}: refusing to connect (add it, or set ssh.hostKeyPolicy to "
                '"accept-new")', kind="host-key")
        if self.policy == "off":
            self._warn_off()
            return
        with self.lock:
            self.keys.add(name, key.get_name(), key)
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            with os.fdopen(fd, "a") as fh:
                fh.write(f"{name} {key.get_name()} {key.get_base64()}\n")
        self.warn(f"Warning: added the host key of {ep.label} ({key.get_name()} "
                  f"{key.fingerprint}) to {self.path}")

    def _warn_off(self) -> None:
        if not self._warned_off:
            self._warned_off = True
            self.warn('Warning: ssh.hostKeyPolicy is "off": server host keys are not checked')
