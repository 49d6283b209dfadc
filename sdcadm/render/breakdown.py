"""The confirmation breakdown (format of seeds/sdcadm-TODO.md, decisions 9).

    <blank>
    This update will make the following changes:
        download 1 image (69 MiB):
            image <uuid> (<name@version>)
        update "ca" service (2 instances) to image
                <uuid> (ca@<version>):
            1 instance will be updated from image
                <old> (ca@<old version>)
            1 instance already at image <uuid>
    <blank>
    download 1 image (69 MiB); update 1 service; 0 reboots.

Every line fits WIDTH columns: a longer one continues on the next line after " image ",
its image uuid and name indented past the lines it heads (the name on a line of its own
when even that is too long); other long lines wrap between words. The last line sums the
plan up, right above the prompt.
"""
from __future__ import annotations

from sdcadm.plan import Plan
from sdcadm.procedures.context import plural

WIDTH = 100
MORE = 8  # extra indent of a continued line: past the change's own instance lines


def render_breakdown(plan: Plan, verb: str = "update") -> str:
    from sdcadm.procedures import summaries

    lines = ["", f"This {verb} will make the following changes:"]
    for block in reworded(summaries(plan), verb):
        for ln in block:
            lines.extend(fit("    " + ln))
    lines.extend(["", summary_line(plan, verb)])
    return "\n".join(lines) + "\n"


def fit(line: str, width: int = WIDTH) -> list[str]:
    """`line`, continued on further lines where it is wider than `width`: after " image "
    (the uuid and name indented past the lines the change heads), else between words with
    a hanging indent."""
    if len(line) <= width:
        return [line]
    indent = " " * (len(line) - len(line.lstrip()))
    cut = line.find(" image ")
    if cut >= len(indent):
        rest = indent + " " * MORE + line[cut + len(" image "):]
        return [line[:cut + len(" image")], *_wrap(rest, width, hang=0)]
    return _wrap(line, width, hang=4)


def _wrap(line: str, width: int, *, hang: int) -> list[str]:
    import textwrap

    indent = " " * (len(line) - len(line.lstrip()))
    return textwrap.wrap(line.strip(), width, initial_indent=indent,
                         subsequent_indent=indent + " " * hang, break_long_words=False,
                         break_on_hyphens=False) or [line]


def summary_line(plan: Plan, verb: str = "update") -> str:
    """`download 9 images (1.2 GiB); update 21 services, 11 agents on 5 servers; 0 reboots.`"""
    parts = []
    if plan.downloads:
        size = sum(i.size for i in plan.downloads)
        parts.append(f"download {plural(len(plan.downloads), 'image')} ({_bytes(size)})")
    services: set[str] = set()
    agents: set[str] = set()
    servers: set[str] = set()
    reboots: set[str] = set()
    for c in plan.changes:
        if c.procedure in ("platform", "reboot"):
            reboots.update(str(s.get("server")) for s in c.reboots if s.get("server"))
            reboots.update(i.instance for i in c.instances if i.type == "server")
            continue
        name = c.service.name if c.service else None
        if c.procedure == "agent" and name:
            agents.add(name)
            servers.update(i.server for i in c.instances if i.server)
        elif name:
            services.add(name)
    what = [w for w in (plural(len(services), "service") if services else "",
                        plural(len(agents), "agent") if agents else "") if w]
    if what:
        on = f" on {plural(len(servers), 'server')}" if agents else ""
        parts.append(f"{verb} {', '.join(what)}{on}")
    parts.append(plural(len(reboots), "reboot"))
    return "; ".join(parts) + "."


def _bytes(n: int) -> str:
    if n >= 1 << 30:
        return f"{n / (1 << 30):.1f} GiB"
    return f"{n // (1 << 20)} MiB"


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
