"""The known_hosts file sdcadm checks servers' host keys against (`ssh.knownHosts`).

Parsed once per run and shared by every connection; a line that cannot be parsed is
skipped with one warning naming the file and the line, as OpenSSH skips it. A key is looked
up under the server's admin address (`10.99.99.41`, or `[10.99.99.41]:2222` for another
port), whatever address the connection really goes to. The policy (`ssh.hostKeyPolicy`)
says what happens to a key that is not there: `strict` refuses it, `accept-new` adds it
with a warning; a changed key is refused unless the policy is `off`, which accepts anything
and says so once.
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
        self._load()
        self._warned_off = False

    def _load(self) -> None:
        """Every key of the file. A line that cannot be parsed is skipped with a warning
        naming it, as OpenSSH skips it: the other servers' keys still count."""
        try:
            with open(self.path, encoding="utf-8", errors="replace") as fh:
                lines = fh.read().splitlines()
        except FileNotFoundError:
            return
        except OSError as e:
            raise ConfigError(f"ssh.knownHosts: cannot read {self.path}: "
                              f"{e.strerror or e}") from e
        for lineno, line in enumerate(lines, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            try:
                entry = _entry(line)
            except ValueError as e:
                self.warn(f"Warning: {self.path}:{lineno}: line ignored: {e}")
                continue
            if entry is not None:
                self._add(entry.hostnames, entry.key)

    def _add(self, names: list[str], key: "paramiko.PKey") -> None:
        """A line's key under each of its names; the first line for a name and key type
        wins, as in paramiko's own loading."""
        for name in names:
            known = self.keys.lookup(name)
            if known is None or key.get_name() not in known:
                self.keys.add(name, key.get_name(), key)

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
        with self.lock:  # servers connect at once: say it once all the same
            first, self._warned_off = not self._warned_off, True
        if first:
            self.warn('Warning: ssh.hostKeyPolicy is "off": server host keys are not checked')


def _entry(line: str) -> "paramiko.hostkeys.HostKeyEntry | None":
    """One known_hosts line's names and key; None for a key type paramiko does not know
    (skipped quietly, as OpenSSH skips a type it does not know). ValueError says what is
    wrong with a line that cannot be parsed."""
    import paramiko
    from paramiko.hostkeys import HostKeyEntry, InvalidHostKey

    fields = line.split()
    if fields[0].startswith("@"):
        raise ValueError(f"{fields[0]} lines are not supported")
    if len(fields) < 3:
        raise ValueError("expected hostnames, key type and key")
    try:
        return HostKeyEntry.from_line(" ".join(fields[:3]))
    except InvalidHostKey as e:
        raise ValueError("the key is not valid base64") from e
    except (paramiko.SSHException, ValueError, TypeError, IndexError) as e:
        raise ValueError(f"the key is not a valid {fields[1]} key") from e
