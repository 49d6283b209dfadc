"""`--faults`: what an operator asks to go wrong, as the private simulator's fault specs.

    reprovision:5%            every reprovision job fails with probability 0.05
    reprovision:moray1        moray1's reprovision fails once (a retry succeeds)
    reprovision:moray1:always ... and every time
    install-agent:cn03        an agent install task on cn03 fails once
    reboot-hang:cn07          cn07 does not come back from its reboot
    unhealthy:vmapi0          an SMF service of vmapi0 is in maintenance
    api-error:vmapi:10%       VMAPI answers 503 to a tenth of the requests
    {"type": "fail-job", ...} any simulator fault, as JSON

Parsing is pure (`parse`); names are resolved against the datacenter (`resolve`) once it is
known. Each spec carries the operator's words in `label`, so a failed step names its fault.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterable, Mapping

from sdcadm.errors import UsageError

if TYPE_CHECKING:
    from sdcadm.model import DatacenterState

# operator kind -> (simulator fault type, fail-job action, what the target names)
KINDS: dict[str, tuple[str, str | None, str]] = {
    "import": ("fail-job", "import", "image"),
    "reprovision": ("fail-job", "reprovision", "instance"),
    "install-agent": ("fail-job", "install-agent", "server"),
    "reboot": ("fail-job", "reboot", "server"),
    "reboot-hang": ("reboot-hang", None, "server"),
    "reboot-old-platform": ("reboot-old-platform", None, "server"),
    "stale-heartbeat": ("stale-heartbeat", None, "server"),
    "ssh-unreachable": ("ssh-unreachable", None, "server"),
    "unhealthy": ("unhealthy", None, "instance"),
    "stuck-instance": ("stuck-instance", None, "instance"),
    "ping-fail": ("ping-fail", None, "instance"),
    "dns-missing": ("dns-missing", None, "instance"),
    "manatee-deposed": ("manatee-deposed", None, "instance"),
    "api-error": ("error", None, "service"),
}
APIS = ("sapi", "imgapi", "updates", "vmapi", "cnapi", "workflow")
# The step actions each kind of fault can fail.
AFFECTS: dict[str, tuple[str, ...]] = {
    "fail-job": (),  # by its action, below
    "reboot-hang": ("reboot-server",), "reboot-old-platform": ("reboot-server",),
    "stale-heartbeat": ("reboot-server",), "reboot-maintenance": ("reboot-server",),
    "ssh-unreachable": ("reboot-server", "wait-instance", "dns-leave", "dns-join", "zk-join",
                        "check-shard"),
    "unhealthy": ("wait-instance", "reboot-server", "verify"),
    "stuck-instance": ("wait-instance", "reprovision"),
    "ping-fail": ("wait-instance", "reboot-server", "verify"),
    "ping-hang": ("wait-instance", "reboot-server", "verify"),
    "dns-missing": ("dns-join",), "manatee-deposed": ("check-shard", "reboot-server"),
}
JOB_ACTIONS = {"import": "import-image", "reprovision": "reprovision",
               "install-agent": "install-agent", "reboot": "reboot-server"}


@dataclass(frozen=True)
class Wish:
    """One fault as the operator wrote it, checked for form but not yet resolved."""

    label: str
    kind: str = ""
    target: str = "*"
    rate: float | None = None
    always: bool = False
    raw: Mapping[str, Any] | None = None


def parse(values: Iterable[str]) -> list[Wish]:
    """`--faults` values (each a comma-separated list, or one JSON object)."""
    out: list[Wish] = []
    for value in values:
        text = value.strip()
        if text.startswith("{"):
            try:
                raw = json.loads(text)
            except ValueError as e:
                raise UsageError(f"--faults: not JSON: {text}") from e
            if not isinstance(raw, dict) or "type" not in raw:
                raise UsageError(f'--faults: a JSON fault is an object with a "type": {text}')
            out.append(Wish(label=text, raw=raw))
            continue
        out.extend(_one(part.strip()) for part in text.split(",") if part.strip())
    return out


def _one(text: str) -> Wish:
    kind, _, rest = text.partition(":")
    if kind not in KINDS:
        raise UsageError(f'--faults: unknown fault "{kind}" in "{text}": one of '
                         + ", ".join(KINDS) + ", or a JSON object")
    args = [a for a in rest.split(":")] if rest else []
    if kind == "api-error":
        if not args or args[0] not in APIS:
            raise UsageError(f'--faults: "{text}": api-error:API[:RATE%] with API one of '
                             + ", ".join(APIS))
        rate = _rate(args[1], text) if len(args) > 1 else None
        return Wish(label=text, kind=kind, target=args[0], rate=rate)
    target = args[0] if args else "*"
    always = len(args) > 1 and args[1] == "always"
    if len(args) > 2 or (len(args) > 1 and not always) or not target:
        raise UsageError(f'--faults: "{text}": expected {kind}:TARGET[:always] or '
                         f"{kind}:RATE%")
    if target.endswith("%"):
        return Wish(label=text, kind=kind, rate=_rate(target, text), always=True)
    return Wish(label=text, kind=kind, target=target, always=always or target == "*")


def _rate(text: str, whole: str) -> float:
    m = re.fullmatch(r"(\d+(?:\.\d+)?)%", text)
    if not m or not 0 < float(m.group(1)) <= 100:
        raise UsageError(f'--faults: "{whole}": a rate is a percentage above 0, up to 100%')
    return float(m.group(1)) / 100


def resolve(wishes: Iterable[Wish], state: "DatacenterState") -> list[dict[str, Any]]:
    """The simulator's fault specs; a name that is nothing here is a UsageError."""
    out = []
    for w in wishes:
        if w.raw is not None:
            out.append(dict(w.raw, label=w.label))
            continue
        ftype, action, names = KINDS[w.kind]
        spec: dict[str, Any] = {"type": ftype, "label": w.label}
        if ftype == "error":
            spec.update(service=w.target, status=503, code="ServiceUnavailableError",
                        message=f"rehearsal fault {w.label}")
        elif w.target != "*":
            spec["target"] = _target(w, names, state)
        elif ftype != "manatee-deposed":  # without a target it deposes the last async
            spec["target"] = "*"
        if action:
            spec["action"] = action
        if w.rate is not None:
            spec["rate"] = w.rate
        if ftype == "fail-job" and not w.always:
            spec["count"] = 1  # a transient failure: the retry by --resume succeeds
        if ftype == "fail-job":
            spec["message"] = f"rehearsal fault {w.label}"
        out.append(spec)
    return out


def _target(w: Wish, names: str, state: "DatacenterState") -> str:
    t = w.target
    if names == "server":
        for s in state.servers.values():
            if t in (s.uuid, s.hostname):
                return s.uuid
    elif names == "instance":
        for i in state.instances:
            if i.type == "vm" and t in (i.instance, i.alias):
                return i.instance
    elif names == "image":
        if t in state.local_images or t in state.update_images:
            return t
    raise UsageError(f'--faults: "{w.label}": no {names} "{t}" in this datacenter')


def cause(step: Mapping[str, Any], faults: Iterable[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The injected fault that explains a failed step, if any."""
    p = step.get("params") or {}
    targets = {str(step.get("target"))} | {str(v) for v in p.values() if isinstance(v, str)}
    for f in faults:
        kind = f.get("type")
        if kind == "fail-job":
            if f.get("action") and JOB_ACTIONS.get(str(f["action"])) != step.get("action"):
                continue
            if not f.get("action") and step.get("action") not in JOB_ACTIONS.values():
                continue
        elif kind == "error":
            if not f.get("fired"):
                continue
        elif step.get("action") not in AFFECTS.get(str(kind), ()):
            continue
        if kind != "error" and f.get("target") not in targets | {"*"}:
            continue
        if kind == "fail-job" and not f.get("fired"):
            continue
        return f
    return None


# The faults the simulator counts in `fired` each time they strike; every other kind is a
# standing condition that strikes whatever meets it, never counted.
REQUEST_KINDS = frozenset({"error", "latency", "drop"})
COUNTED = REQUEST_KINDS | {"fail-job", "ping-fail", "ping-hang", "corrupt-file"}
# For "the plan reboots no server" and "the plan does not reboot cn03".
PLAN_DOES = {"reboot-server": ("reboots no server", "reboot"),
             "reprovision": ("reprovisions no instance", "reprovision"),
             "install-agent": ("installs no agent", "install an agent on"),
             "import-image": ("imports no image", "import"),
             "check-shard": ("checks no shard", "check the shard of")}


def never_fired(fault: Mapping[str, Any], ran: Iterable[Mapping[str, Any]],
                members: Mapping[str, Iterable[tuple[str, str | None]]]) -> str | None:
    """Why an injected fault never struck in the run (the steps that `ran`), or None when
    it did or may have: a fault the simulator counts is judged by its count, a standing one
    by whether a step it can fail met its target."""
    kind = str(fault.get("type"))
    if fault.get("fired"):
        return None
    if kind == "fail-job":
        actions: tuple[str, ...] = ((JOB_ACTIONS[str(fault["action"])],)
                                    if fault.get("action") in JOB_ACTIONS
                                    else tuple(JOB_ACTIONS.values()))
    else:
        actions = AFFECTS.get(kind, ())
    if not actions and kind not in COUNTED:
        return None  # a standing fault of which nothing is known: it may have struck
    target = str(fault.get("target") or "*")
    meets = [s for s in ran if s.get("action") in actions]
    if actions and not meets:
        return (f"the plan {PLAN_DOES[actions[0]][0]}" if len(actions) == 1
                and actions[0] in PLAN_DOES else "no step of the plan can meet it")
    if actions and not any(_meets(s, target, members) for s in meets):
        name = _named(fault)
        return (f"the plan does not {PLAN_DOES[actions[0]][1]} {name}" if len(actions) == 1
                and actions[0] in PLAN_DOES else f"no step of the plan met {name}")
    if kind not in COUNTED:
        return None
    if fault.get("rate") is not None:
        return f"its {float(fault['rate']):.0%} chance never came up"
    if kind in REQUEST_KINDS:
        svc = fault.get("service")
        apis = ", ".join(map(str, svc)) if isinstance(svc, list) else svc
        return f"the run sent {apis if apis and apis != '*' else 'the APIs'} no request " \
               "it applies to"
    return "nothing in the run met it"


def _meets(step: Mapping[str, Any], target: str,
           members: Mapping[str, Iterable[tuple[str, str | None]]]) -> bool:
    """Whether a step concerns `target` (an instance, a server or an image): it names it,
    reboots the server of that instance or verifies its service, or names an instance on
    that server."""
    if target == "*":
        return True
    p = step.get("params") or {}
    named = {str(step.get("target"))}
    for v in p.values():
        if isinstance(v, str):
            named.add(v)
        elif isinstance(v, (list, tuple)):
            named.update(str(x) for x in v if isinstance(x, str))
    if target in named:
        return True
    action = step.get("action")
    for service, insts in members.items():
        for inst, server in insts:
            if inst == target and ((action == "reboot-server" and server in named)
                                   or (action == "verify" and service in named)):
                return True
            if server == target and inst in named:
                return True
    return False


def _named(fault: Mapping[str, Any]) -> str:
    """The fault's target as the operator named it (`reboot-hang:cn03`: cn03)."""
    label = str(fault.get("label") or "")
    if label and not label.startswith("{") and ":" in label:
        return label.split(":")[1]
    return str(fault.get("target"))
