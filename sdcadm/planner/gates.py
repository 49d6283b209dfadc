"""Safety gates with the original's messages: locked services, minimum platform and image.

Each gate looks at the planned changes (what would really be touched), not at the raw
requests, so an up-to-date rabbitmq never trips the rabbitmq lock (as in the original,
where no-ops are dropped before the locks are checked).
"""
from __future__ import annotations

from typing import Any, Sequence

from sdcadm.errors import MultiError, SdcAdmError, UpdateError
from sdcadm.model import DatacenterState, buildstamp_of
from sdcadm.plan import PlannedChange
from sdcadm.planner.options import PlanOptions
from sdcadm.planner.resolve import Resolved

VM_PROCEDURES = frozenset({"stateless", "ha", "moray", "sapi", "manatee", "binder", "imgapi"})


def _raise(errors: list[SdcAdmError]) -> None:
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultiError(errors)


def check_locks(changes: Sequence[tuple[Resolved, PlannedChange]], options: PlanOptions) -> None:
    for r, pc in changes:
        name = pc.service.name if pc.service else None
        if name == "rabbitmq" and not options.force_rabbitmq:
            raise UpdateError(f"rabbitmq updates are locked: {r.request.describe()} "
                              "(use --force-rabbitmq flag)")
        if name == "portolan" and not options.force_data_path:
            raise UpdateError(f"portolan updates are locked: {r.request.describe()} "
                              "(use --force-data-path flag)")


def check_min_platform(changes: Sequence[tuple[Resolved, PlannedChange]],
                       state: DatacenterState, config: Any) -> None:
    minimum = getattr(config, "vm_min_platform", None)
    if not minimum:
        return
    errors: list[SdcAdmError] = []
    for _r, pc in changes:
        if pc.procedure not in VM_PROCEDURES or pc.service is None:
            continue
        for inst in pc.instances:
            server = state.servers.get(inst.server or "")
            plat = server.current_platform if server else None
            if plat and plat < minimum:
                errors.append(UpdateError(
                    f'insufficient platform for service "{pc.service.name}" instance '
                    f'"{inst.instance}" on server "{inst.server}" (current platform is '
                    f'"{plat}", require minimum "{minimum}")'))
    _raise(errors)


def check_min_images(changes: Sequence[tuple[Resolved, PlannedChange]],
                     state: DatacenterState, config: Any) -> None:
    minimums = getattr(config, "min_images", None) or {}
    updates_url = getattr(config, "updates_url", "https://updates.tritondatacenter.com")
    errors: list[SdcAdmError] = []
    for _r, pc in changes:
        if pc.procedure not in VM_PROCEDURES or pc.service is None:
            continue
        name = pc.service.name
        minimum = minimums.get(name)
        if not minimum:
            continue
        for inst in pc.instances:
            img = state.image(inst.image)
            stamp = (img.buildstamp if img else None) or buildstamp_of(inst.version)
            if stamp is None:
                who = f'service "{name}" instance "{inst.instance}"'
                if inst.image:
                    chan = f"?channel={state.channel}" if state.channel else ""
                    errors.append(UpdateError(
                        f"cannot determine the build date of image {inst.image} of {who}: "
                        f"import it into the local IMGAPI with `sdc-imgadm import {inst.image} "
                        f"-S {updates_url}{chan}` or use --force-bypass-min-image"))
                else:
                    errors.append(UpdateError(
                        f"cannot determine the image of {who}: use --force-bypass-min-image "
                        "to update it anyway"))
                break
            if stamp < minimum:
                errors.append(UpdateError(
                    f'image for service "{name}" is too old for sdcadm update (min image '
                    f'build date is "{minimum}" current image build date is "{stamp}")'))
                break
    _raise(errors)
