"""After an update or a reboot plan: are the services it touched healthy, and do the APIs
sdcadm depends on answer? (`sdcadm update --verify`, and the `verify` step that ends every
real update and reboot plan.)

Two parts: the check-health verdict for every instance of the touched services, and of
everything on the rebooted servers; then a smoke test through the APIs: list images
(IMGAPI), list VMs (VMAPI), read the `sdc` application (SAPI), ping Workflow.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence

from sdcadm.errors import SdcAdmError
from sdcadm.health.rows import HealthRow

if TYPE_CHECKING:
    from sdcadm.clients import Clients

SHOWN = 10  # unhealthy instances named in the one-line result


@dataclass
class Verification:
    rows: list[HealthRow] = field(default_factory=list)
    smoke: dict[str, str | None] = field(default_factory=dict)  # check -> error (None: ok)

    @property
    def unhealthy(self) -> list[HealthRow]:
        return [r for r in self.rows if not r.healthy]

    @property
    def ok(self) -> bool:
        return not self.unhealthy and not any(self.smoke.values())

    def lines(self) -> list[str]:
        bad = self.unhealthy
        out = [f"Verified {len(self.rows) - len(bad)} of {len(self.rows)} instances healthy"]
        for r in bad:
            out.append(f"    {r.service} {r.alias or r.instance} on {r.hostname}: "
                       f"{r.errors[0].splitlines()[0] if r.errors else 'unhealthy'}")
        passed = [k for k, v in self.smoke.items() if v is None]
        out.append(f"API smoke test: {len(passed)} of {len(self.smoke)} answered"
                   + "".join(f"\n    {k}: {v}" for k, v in self.smoke.items() if v))
        return out

    def problem(self) -> str:
        """One line (wrapped at `;`) saying what is wrong, for the error of the step."""
        parts = [f"{r.service} {r.alias or r.instance} on {r.hostname}" for r in
                 self.unhealthy[:SHOWN]]
        more = len(self.unhealthy) - SHOWN
        if more > 0:
            parts.append(f"and {more} more")
        what = []
        if parts:
            what.append(f"{len(self.unhealthy)} unhealthy instance"
                        f"{'s' if len(self.unhealthy) > 1 else ''}: " + ", ".join(parts))
        what += [f"{k} failed: {v}" for k, v in self.smoke.items() if v]
        return "verification failed: " + "; ".join(what)

    def to_json(self) -> dict[str, Any]:
        return {"checked": len(self.rows), "unhealthy": [r.to_json() for r in self.unhealthy],
                "smoke": dict(self.smoke)}


def verify(clients: "Clients", config: Any, *, services: Sequence[str] | None,
           servers: Sequence[str] = ()) -> Verification:
    """`services` None: every service (the whole datacenter, as check-health)."""
    from sdcadm.gather import gather
    from sdcadm.health import check, select_targets

    state = gather(clients, config, updates=False)
    if services is None:
        targets = select_targets(state)
    else:
        targets = select_targets(state, services=services, global_servers=()) \
            if services else []
        if servers:
            seen = {t.instance for t in targets}
            targets += [t for t in select_targets(state, servers=servers,
                                                  global_servers=servers)
                        if t.instance not in seen]
    rows = check(clients, state, targets) if targets else []
    return Verification(rows=rows, smoke=smoke_test(clients, config))


def smoke_test(clients: "Clients", config: Any) -> dict[str, str | None]:
    admin = getattr(config, "admin_uuid", None)
    probes: list[tuple[str, Callable[[], Any]]] = [
        ("list images (imgapi)", lambda: clients.imgapi.get("/images", limit=1, state="active")),
        ("list VMs (vmapi)", lambda: clients.vmapi.get(
            "/vms", limit=1, **({"owner_uuid": admin} if admin else {}))),
        ("read the sdc application (sapi)", lambda: clients.sapi.get("/applications",
                                                                     name="sdc")),
        ("ping workflow", lambda: clients.wfapi.get("/ping")),
    ]
    out: dict[str, str | None] = {}
    for name, probe in probes:
        try:
            probe()
            out[name] = None
        except SdcAdmError as e:
            out[name] = e.message.splitlines()[0]
    return out
