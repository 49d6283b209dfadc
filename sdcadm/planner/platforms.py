"""Pure rules of `sdcadm platform`: list and usage rows, what is available, which platform
is the latest or the default, assign and remove plans, downgrade detection.

Inputs are what the read phase found: CNAPI's platform list (`{stamp: {os, latest}}`, the
headnode's cache), the servers, the default boot platform and the platforms on the USB
key. No HTTP, no printing; refusals are typed errors the CLI prints.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Collection, Iterable, Mapping, Sequence

from sdcadm.errors import MultiError, SdcAdmError, UpdateError, UsageError
from sdcadm.model import Image, Server, Service, is_uuid
from sdcadm.plan import Plan, PlannedChange, Step

Platforms = Mapping[str, Mapping[str, Any]]

IMAGE_NAMES = {"smartos": "platform", "linux": "platform-linux"}
OSES = tuple(IMAGE_NAMES)
ASSIGN_CONCURRENCY = 5  # the original assigns five servers at a time
SHOWN = 10  # servers named in one refusal line
# History labels a change `type(service name)`; platform changes name "platform", as
# `update-platform` changes are shown.
PLATFORM_SERVICE = Service(uuid="", name="platform", type="platform", raw={"name": "platform"})


# -- platforms ----------------------------------------------------------------------------
def platform_os(info: Mapping[str, Any] | None) -> str:
    """CNAPI's `os` of a platform; old CNAPIs say `other` (or nothing) for SmartOS."""
    value = str((info or {}).get("os") or "smartos")
    return "smartos" if value == "other" else value


def latest_installed(platforms: Platforms, os_: str = "smartos") -> str | None:
    """The platform CNAPI marks `latest` for that OS, else its newest one."""
    mine = sorted(v for v, info in platforms.items() if platform_os(info) == os_)
    flagged = [v for v in mine if platforms[v].get("latest")]
    return (flagged or mine)[-1] if mine else None


def resolve(value: str | None, platforms: Platforms) -> str | None:
    """A boot or default platform with the old `latest` link resolved to a stamp."""
    return latest_installed(platforms) if value == "latest" else value


def server_os(server: Server, platforms: Platforms) -> str:
    current = resolve(server.current_platform, platforms)
    return platform_os(platforms.get(current or ""))


def image_platform_version(version: str) -> str:
    """`master-20250115T120000Z` -> `20250115T120000Z` (the last dash-separated part)."""
    return version.split("-")[-1]


def image_os(image: Image) -> str:
    return "smartos" if image.os in ("other", "smartos", "") else image.os


def _setup(servers: Iterable[Server]) -> list[Server]:
    return [s for s in servers if s.setup]


# -- list / usage / avail -------------------------------------------------------------------
def list_rows(platforms: Platforms, servers: Iterable[Server], default: str | None,
              usb_key: Collection[str]) -> list[dict[str, Any]]:
    """One row per installed platform; `boot_platform`/`current_platform` hold the setup
    servers (`{uuid, hostname}`) that boot and run it, `latest` links resolved."""
    default = resolve(default, platforms)
    rows: dict[str, dict[str, Any]] = {}
    for version, info in sorted(platforms.items()):
        rows[version] = {"version": version, "boot_platform": [], "current_platform": [],
                         "latest": bool(info.get("latest")), "default": version == default,
                         "usb_key": version in usb_key, "os": platform_os(info)}
    for s in _setup(servers):
        for fld in ("boot_platform", "current_platform"):
            row = rows.get(resolve(getattr(s, fld), platforms) or "")
            if row is not None:
                row[fld].append({"uuid": s.uuid, "hostname": s.hostname})
    return list(rows.values())


def counted(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The table form of `list_rows`: how many servers boot and run each platform."""
    return [dict(r, boot_platform=len(r["boot_platform"]),
                 current_platform=len(r["current_platform"])) for r in rows]


def filter_rows(rows: Iterable[Mapping[str, Any]], *, active: bool = False,
                inactive: bool = False, usbkey: bool = False) -> list[dict[str, Any]]:
    """`-a` keeps platforms some server boots or runs, `-i` the others (`-a` wins, as the
    original), `-u` those on the USB key. Takes counted rows."""
    out = [dict(r) for r in rows if r["usb_key"] or not usbkey]
    if active:
        return [r for r in out if r["current_platform"] or r["boot_platform"]]
    if inactive:
        return [r for r in out if not r["current_platform"] and not r["boot_platform"]]
    return out


def usage_rows(platforms: Platforms, servers: Iterable[Server],
               version: str) -> list[dict[str, Any]]:
    """Setup servers that boot or run `version`."""
    if version not in platforms:
        raise UsageError(f"invalid platform {version}")
    return [{"uuid": s.uuid, "hostname": s.hostname, "current_platform": s.current_platform,
             "boot_platform": s.boot_platform}
            for s in _setup(servers)
            if version in (resolve(s.current_platform, platforms),
                           resolve(s.boot_platform, platforms))]


def avail_rows(images: Iterable[Image], platforms: Platforms,
               os_: str | None = None) -> list[dict[str, Any]]:
    """Platform images newer than the latest installed one of their OS.

    As the original, an OS with nothing installed offers nothing (a SmartOS datacenter is
    not shown every Linux platform), unless that OS is asked for with `--os`.
    """
    names = {IMAGE_NAMES[os_]} if os_ else set(IMAGE_NAMES.values())
    newest = {o: latest_installed(platforms, o) for o in OSES}
    rows = []
    for img in sorted(images, key=lambda i: (i.published_at or "", i.uuid)):
        if img.name not in names:
            continue
        version, ios = image_platform_version(img.version), image_os(img)
        have = newest.get(ios)
        if (have is None and ios != os_) or (have is not None and version <= have):
            continue
        rows.append({"version": version, "uuid": img.uuid, "published_at": img.published_at,
                     "os": ios})
    return rows


# -- install ----------------------------------------------------------------------------------
def find_platform_image(images: Iterable[Image], ident: str,
                        os_: str = "smartos") -> Image | None:
    """`latest`, an image uuid or a platform version (`20250115T120000Z`): the newest
    matching image of the updates server's channel, or None."""
    images = list(images)
    if is_uuid(ident):
        return next((i for i in images if i.uuid == ident), None)
    name = IMAGE_NAMES[os_]
    found = [i for i in images if i.name == name
             and (ident == "latest" or f"-{ident}" in i.version)]
    found.sort(key=lambda i: (i.published_at or "", i.uuid))
    return found[-1] if found else None


@dataclass(frozen=True)
class Install:
    version: str
    os: str
    file: str  # on the headnode (where sdcadm runs)
    image: str | None = None  # updates-server image uuid; None for an operator's file


Staged = tuple[Install, "Image | None"]  # what to install and its image (None: a given file)


def resolve_install(images: Iterable[Image], ident: str, os_: str, *, channel: str | None,
                    tmp_dir: str) -> Staged:
    """The image `ident` names on the channel, and where it is downloaded to."""
    img = find_platform_image(images, ident, os_)
    if img is None:
        raise UpdateError(f"Unable to find the given Platform Image '{ident}' in channel "
                          f"'{channel}'")
    if img.name not in IMAGE_NAMES.values():
        raise UpdateError(f"image {img.uuid} ({img.label}) is not a platform image")
    return Install(version=image_platform_version(img.version),
                   os="linux" if img.name == IMAGE_NAMES["linux"] else "smartos",
                   file=f"{tmp_dir.rstrip('/')}/platform-{img.version}.tgz",
                   image=img.uuid), img


def given_install(path: str) -> Staged:
    """An operator's platform file: its stamp from its name, as install-platform.sh
    derives it (`platform-master-20250115T120000Z.tgz`)."""
    import re

    found = re.findall(r"\d{8}T\d{6}Z", path.rsplit("/", 1)[-1].upper())
    if not found:
        raise UsageError(f"cannot tell the platform version from the file name {path} "
                         "(expected a name ending in YYYYMMDDTHHMMSSZ.tgz)")
    return Install(version=found[-1], os="smartos", file=path), None


def not_installed(items: Sequence[Staged], cached: Collection[str],
                  on_key: Collection[str]) -> list[Staged]:
    """Installed means in the cache (CNAPI) and on the USB key: the installer puts back
    what is missing from either."""
    return [it for it in items if it[0].version not in cached or it[0].version not in on_key]


def install_steps(installs: Sequence[Install], headnode: Server,
                  set_default: str | None = None) -> list[Step]:
    hn = _hn(headnode)
    steps = [Step(id="", action="install-platform", target=i.version,
                  params={**hn, "platform": i.version, "os": i.os, "file": i.file,
                          "image_uuid": i.image},
                  summary=f"install platform {i.version} ({i.os}) onto the USB key")
             for i in installs]
    if set_default:
        steps += set_default_steps(set_default)
    return numbered(steps)


# -- assign -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class AssignPlan:
    platform: str  # the SmartOS platform assigned (the Linux one rides in `targets`)
    targets: tuple[tuple[Server, str], ...] = ()  # servers to change, with their platform
    already: tuple[Server, ...] = ()  # already boot their target platform
    downgrades: tuple[tuple[Server, str], ...] = ()  # allowed: server, platform it runs
    set_default: str | None = None

    @property
    def empty(self) -> bool:
        return not self.targets and not self.set_default


def plan_assign(platforms: Platforms, servers: Sequence[Server], *, platform: str | None,
                names: Sequence[str] = (), all_: bool = False, default: str | None = None,
                allow_downgrade: bool = False) -> AssignPlan:
    """What `assign PLATFORM|--latest (--all|SERVER...)` changes. `platform` None means
    `--latest`: the latest SmartOS platform, or the latest Linux one for Linux servers."""
    latest = {o: latest_installed(platforms, o) for o in OSES}
    if platform is None:
        if latest["smartos"] is None:
            raise UsageError("no SmartOS platform is installed")
        chosen = latest["smartos"]
    elif platform not in platforms:
        raise UsageError(f"invalid platform {platform}")
    else:
        chosen = platform
    picked = _pick_servers(servers, names, all_)
    errors: list[SdcAdmError] = []
    targets: list[tuple[Server, str]] = []
    for s in picked:
        current_os = server_os(s, platforms)
        want = chosen
        if platform is None:
            want = latest.get(current_os) or chosen
        want_os = platform_os(platforms.get(want))
        if s.headnode and want_os != "smartos":
            errors.append(UsageError("Headnode Operating System must be SmartOS"))
        elif not s.headnode and s.setup and want_os != current_os:
            errors.append(UsageError(
                f"Cannot change server Operating System without a Factory Reset "
                f"(server {s.hostname} runs {current_os}, platform {want} is {want_os})"))
        else:
            targets.append((s, want))
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise MultiError(errors)
    todo = tuple((s, want) for s, want in targets
                 if resolve(s.boot_platform, platforms) != want)
    already = tuple(s for s, want in targets if (s, want) not in todo)
    # Only a change needs consent: a server that already boots the older platform is
    # not downgraded by this command.
    older = [(s, cur) for s, want in todo
             if (cur := resolve(s.current_platform, platforms)) and want < cur
             and platform_os(platforms.get(cur)) == platform_os(platforms.get(want))]
    if older and not allow_downgrade:
        raise UpdateError(
            f"platform {chosen} is older than the platform running on "
            f"{named(f'{s.hostname} ({cur})' for s, cur in older)}: use --allow-downgrade "
            f"to assign it anyway")
    set_default = chosen if all_ and resolve(default, platforms) != chosen else None
    return AssignPlan(platform=chosen, targets=todo, already=already,
                      downgrades=tuple(older), set_default=set_default)


def _pick_servers(servers: Sequence[Server], names: Sequence[str],
                  all_: bool) -> list[Server]:
    if all_:
        return _setup(servers)
    by_name = {s.uuid: s for s in servers} | {s.hostname: s for s in servers}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise UsageError(f"server {json.dumps(unknown, separators=(',', ':'))} not found")
    return list({by_name[n].uuid: by_name[n] for n in names}.values())


def named(items: Iterable[str]) -> str:
    shown = list(items)
    more = len(shown) - SHOWN
    return ", ".join(shown[:SHOWN]) + (f" and {more} more" if more > 0 else "")


def assign_steps(plan: AssignPlan) -> list[Step]:
    """The headnode first (its USB key boots it, then its boot parameters), the compute
    nodes five at a time, a check that CNAPI took every change, then the default."""
    steps: list[Step] = []
    for s, want in plan.targets:
        if s.headnode:
            steps += [Step(id="", action="switch-platform", target=s.uuid,
                           params={**_hn(s), "platform": want},
                           summary=f"switch the USB key of headnode {s.hostname} to "
                                   f"platform {want}"),
                      _set_boot(s, want, parallel=None)]
    steps += [_set_boot(s, want, parallel="platform-assign")
              for s, want in plan.targets if not s.headnode]
    if plan.targets:
        steps.append(Step(id="", action="verify-boot-platforms", target="servers",
                          params={"servers": {s.uuid: want for s, want in plan.targets}},
                          summary=f"verify the boot platform of {_plural(len(plan.targets))}"))
    if plan.set_default:
        steps += set_default_steps(plan.set_default)
    return numbered(steps)


def _set_boot(s: Server, platform: str, *, parallel: str | None) -> Step:
    return Step(id="", action="set-boot-platform", target=s.uuid,
                params={"server_uuid": s.uuid, "hostname": s.hostname, "platform": platform},
                summary=f"set boot platform of {s.hostname} ({s.uuid}) to {platform}",
                parallel=parallel, concurrency=ASSIGN_CONCURRENCY if parallel else 1,
                on_failure="continue" if parallel else "stop")


# -- set-default ------------------------------------------------------------------------------
def set_default_steps(version: str) -> list[Step]:
    return numbered([Step(id="", action="set-default-platform", target="default",
                          params={"platform": version},
                          summary=f"set the default boot platform to {version}")])


# -- remove -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Removal:
    remove: tuple[str, ...]
    kept_default: str | None = None  # unused default platform left out of `--all`
    in_use: tuple[str, ...] = ()  # named, in use, left without --force


def select_removals(platforms: Platforms, servers: Iterable[Server], default: str | None, *,
                    names: Sequence[str] = (), all_: bool = False, keep: int = 0,
                    force: bool = False) -> Removal:
    """Which platforms `remove` takes: `--all` those no setup server boots or runs (minus
    the `keep` newest, and never the default), or the named ones (in use: with --force)."""
    default = resolve(default, platforms)
    used: set[str | None] = set()
    for s in _setup(servers):
        used.update(resolve(v, platforms) for v in (s.boot_platform, s.current_platform))
    kept_default = None
    if all_:
        unused = [v for v in sorted(platforms) if v not in used]
        if default in unused:
            unused.remove(default)
            kept_default = default
        remove = unused[:len(unused) - keep] if keep > 0 else unused
        in_use: list[str] = []
    else:
        unknown = [n for n in names if n not in platforms]
        if unknown:
            raise UsageError(f"invalid platform {', '.join(unknown)}")
        wanted = list(dict.fromkeys(names))
        in_use = [v for v in wanted if v in used and not force]
        remove = [v for v in wanted if v not in in_use]
        if default in remove:
            raise UsageError("Default platform cannot be removed")
    if not remove:
        msg = "No platforms will be removed"
        if in_use:
            msg += ("\n\nThe following platforms are in use:\n" + "\n".join(in_use)
                    + "\nPlease use `--force` option if you want to remove them anyway")
        raise UsageError(msg)
    return Removal(remove=tuple(remove), kept_default=kept_default, in_use=tuple(in_use))


def remove_steps(versions: Sequence[str], headnode: Server, *, mounted: bool,
                 cleanup_cache: bool) -> list[Step]:
    """Off the USB key (mounted for the purpose when it was not), then, with
    `--cleanup-cache`, out of the headnode's cache, which is what CNAPI lists."""
    hn = _hn(headnode)
    steps: list[Step] = []
    if not mounted:
        steps.append(Step(id="", action="mount-usbkey", target=headnode.uuid, params=hn,
                          summary="mount the USB key"))
    steps += [Step(id="", action="remove-platform", target=v,
                   params={**hn, "platform": v, "where": "key"},
                   summary=f"remove platform {v} from the USB key") for v in versions]
    if not mounted:
        steps.append(Step(id="", action="unmount-usbkey", target=headnode.uuid, params=hn,
                          summary="unmount the USB key"))
    if cleanup_cache:
        steps += [Step(id="", action="remove-platform", target=v,
                       params={**hn, "platform": v, "where": "cache"},
                       summary=f"remove platform {v} from the cache (/usbkey/os)")
                  for v in versions]
    return numbered(steps)


# -- plans and steps --------------------------------------------------------------------------
def platform_plan(kind: str, *, platform: str | None = None, servers: Sequence[str] = (),
                  downgrade: bool = False, request: Mapping[str, Any] | None = None) -> Plan:
    """The plan recorded in the journal and history: one `platform-<kind>` change."""
    change = PlannedChange(type=f"platform-{kind}", procedure="platform",
                           service=PLATFORM_SERVICE, platform=platform,
                           servers=tuple(servers), downgrade=downgrade,
                           request=dict(request or {}))
    return Plan(changes=(change,))


def numbered(steps: Sequence[Step]) -> list[Step]:
    import dataclasses

    return [dataclasses.replace(s, id=f"{n}:{s.action}:{s.target}")
            for n, s in enumerate(steps, start=1)]


def _hn(s: Server) -> dict[str, str]:
    return {"server_uuid": s.uuid, "hostname": s.hostname}


def _plural(n: int) -> str:
    return f"{n} server" if n == 1 else f"{n} servers"
