"""The confirmation breakdown (format of seeds/sdcadm-TODO.md, decisions 9).

    <blank>
    This update will make the following changes:
        download 1 image (69 MiB):
            image <uuid> (<name@version>)
        update "ca" service (2 instances) to image <uuid> (ca@<version>):
            1 instance will be updated from image <old> (ca@<old version>)
            1 instance already at image <uuid>
    <blank>
"""
from __future__ import annotations

from sdcadm.plan import Plan


def render_breakdown(plan: Plan, verb: str = "update") -> str:
    from sdcadm.procedures import summaries

    lines = ["", f"This {verb} will make the following changes:"]
    for block in reworded(summaries(plan), verb):
        lines.extend("    " + ln for ln in block)
    lines.append("")
    return "\n".join(lines) + "\n"


def reworded(blocks: list[list[str]], verb: str) -> list[list[str]]:
    """The summary blocks in `verb`'s words (`rollback "papi" service ...`)."""
    if verb == "update":
        return blocks
    out = []
    for block in blocks:
        if block and block[0].startswith("update "):
            block = [f"{verb} " + block[0][len("update "):], *block[1:]]
        out.append(block)
    return out
