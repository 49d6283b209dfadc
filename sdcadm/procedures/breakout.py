"""The per-source-image break-out under each service in the confirmation (decisions 9).

    289 instances will be updated from image <old1> (name@version)
    1 instance will be updated from image <old2> (name@version)
    10 instances already at image <target>
"""
from __future__ import annotations

from sdcadm.plan import PlannedChange
from sdcadm.procedures.context import Context, plural


def breakout_lines(change: PlannedChange, ctx: Context, noun: str = "instance") -> list[str]:
    target = change.image.uuid if change.image else None
    groups: dict[tuple[str, str | None], int] = {}
    for inst in change.instances:
        if inst.instance in ctx.downgrades:
            how = "downgrade"
        elif target is not None and inst.image == target:
            how = "same"
        else:
            how = "update"
        key = (how, inst.image)
        groups[key] = groups.get(key, 0) + 1
    # Largest group first; ties keep the order instances were listed in.
    ordered = sorted(groups.items(), key=lambda kv: -kv[1])
    lines = []
    for (how, image), n in ordered:
        src = ctx.image_text(image)
        if how == "downgrade":
            lines.append(f"{plural(n, noun)} forced downgrade from {src}")
        elif how == "same":
            lines.append(f"{plural(n, noun)} will be reprovisioned at the same {src}"
                         " (--force-same-image)")
        else:
            lines.append(f"{plural(n, noun)} will be updated from {src}")
    at_target = [i for i in change.already if i.image == target]
    if at_target:
        lines.append(f"{plural(len(at_target), noun)} already at image {target}")
    newer: dict[str | None, int] = {}
    for inst in change.already:
        if inst.image != target:
            newer[inst.image] = newer.get(inst.image, 0) + 1
    for image, n in newer.items():
        lines.append(f"{plural(n, noun)} left at newer {ctx.image_text(image)}")
    return lines
