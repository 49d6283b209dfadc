"""What a health check says about one instance: a `HealthRow`, its JSON and its report block."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sdcadm.errors import SdcAdmError

SEVERE = "Triton is experiencing severe errors that prevent detailed health checks"


class UnhealthyError(SdcAdmError):
    """At least one instance failed its health check (the rows say which and why)."""

    code = "Unhealthy"
    exit_status = 1


@dataclass(frozen=True)
class HealthRow:
    """One checked instance.

    `type` is `vm`, `agent`, `global` (a server's global-zone services: `instance` is the
    server uuid, `service` and `alias` are `global`) or `triton` (the datacenter could not
    be read at all: only `hostname` and the errors are set). `errors` is empty exactly when
    `healthy` is true.
    """

    type: str
    instance: str | None
    service: str | None
    hostname: str | None
    alias: str | None
    server: str | None
    healthy: bool
    errors: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """The original's row: `type, healthy`, then `hostname, instance, alias, service`
        when known, then `health_errors: [{message}]` when unhealthy."""
        out: dict[str, Any] = {"type": self.type, "healthy": self.healthy}
        for key in ("hostname", "instance", "alias", "service"):
            value = getattr(self, key)
            if value is not None:
                out[key] = value
        if self.errors:
            out["health_errors"] = [{"message": m} for m in self.errors]
        return out

    def cells(self) -> dict[str, Any]:
        """Table and sort fields (`-type,service,hostname,instance`; columns
        `instance,service,hostname,alias,healthy`)."""
        return {"type": self.type, "instance": self.instance, "service": self.service,
                "hostname": self.hostname, "alias": self.alias, "healthy": self.healthy}


def report(row: HealthRow) -> str:
    """The FMA-style block printed after the table for an unhealthy row: right-aligned
    8-character labels, one `Error:` line per line of the messages, messages separated by
    a `--` line."""
    lines = []
    for label, value in (("Type", row.type), ("Instance", row.instance),
                         ("Service", row.service), ("Hostname", row.hostname),
                         ("Alias", row.alias)):
        if value is not None:
            lines.append(f"{label:>8}: {value}")
    text = "\n--\n".join(m.strip() for m in row.errors).strip()
    lines += [f"{'Error':>8}: {line}" for line in text.split("\n")]
    return "\n".join(lines)


def severe_row(message: str) -> HealthRow:
    """The single row reported when the datacenter's APIs cannot even be read."""
    return HealthRow(type="triton", instance=None, service=None, hostname="headnode",
                     alias=None, server=None, healthy=False, errors=(message, SEVERE))
