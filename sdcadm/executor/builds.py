"""The builds of sdcadm installed side by side under the self-update prefix.

    <prefix>/builds/<version>-<build time>/   one virtual environment per build + build.json
    <prefix>/current  -> builds/...             the build in use: <prefix>/current/bin/sdcadm
    <prefix>/previous -> ...                    the build in use before the last switch

`current` and `previous` are symbolic links, each replaced by a rename, so a reader sees
the old build or the new one, never neither. Before the first self-update there is no
`current`: the build in use is the environment the running sdcadm runs from
(`sys.prefix`), and that is where `previous` points after the first switch. The prefix is
`selfUpdate.prefix` (default /opt/smartdc/sdcadm); operators put `<prefix>/current/bin` on
PATH (or link /opt/smartdc/bin/sdcadm to `<prefix>/current/bin/sdcadm`).

What a build's environment holds, and why
-----------------------------------------
An sdcadm image is a wheel of sdcadm alone. Its dependencies (click, requests, paramiko,
...) are not fetched: a headnode must not need the internet to update its own tool, and a
new set of libraries on every update would be slow and could break a tool that works.
The new environment is a venv of the interpreter sdcadm runs on (`python -m venv
--without-pip`: milliseconds) with a `_sdcadm_shared.pth` naming the directories that hold
the running build's dependencies (found through their distribution metadata,
transitively) and pip; `pip install --no-deps --no-index` then puts the wheel into the
venv's own site-packages, which comes first on sys.path, so its sdcadm shadows any other
found through the shared directories. (`--system-site-packages` would not do: it shares
the base interpreter's packages, not those of the venv sdcadm runs from.) One interpreter,
so compiled dependencies (cryptography, PyNaCl) fit. `pip check` refuses a build whose
requirements the shared libraries do not meet, before anything switches to it. A build
installed by a self-update shares the same directories, so a chain of updates keeps
using the first environment's libraries: that environment must stay.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Mapping

from sdcadm.errors import InternalError
from sdcadm.executor.preflight import MIB
from sdcadm.private_files import open_private

DEFAULT_PREFIX = "/opt/smartdc/sdcadm"
DEFAULT_RESERVE_MIB = 64.0  # what must stay free on the prefix's file system
DEFAULT_SMOKE_TIMEOUT = 60.0
DEFAULT_KEEP = 3  # complete builds kept under <prefix>/builds, the newest (see Builds.prune)
RECORD = "build.json"
SHARED_PTH = "_sdcadm_shared.pth"
# What a venv without pip takes besides the package (interpreter links, scripts, pyvenv.cfg).
ENV_OVERHEAD = MIB
# Variables that would put other code before the build's own on its sys.path.
FOREIGN_ENV = ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "PYTHONUSERBASE")


def _setting(config: Any, key: str) -> Any:
    """`selfUpdate.<key>` of the configuration, None when it is not set."""
    return (getattr(config, "self_update", None) or {}).get(key)


def prefix_of(config: Any) -> Path:
    return Path(_setting(config, "prefix") or DEFAULT_PREFIX)


def reserve_of(config: Any) -> int:
    mib = _setting(config, "reserveMiB")
    return int(float(DEFAULT_RESERVE_MIB if mib is None else mib) * MIB)


def smoke_timeout_of(config: Any) -> float:
    return float(_setting(config, "smokeTimeout") or DEFAULT_SMOKE_TIMEOUT)


def keep_of(config: Any) -> int:
    keep = _setting(config, "keepBuilds")
    return DEFAULT_KEEP if keep is None else int(keep)


def running_env() -> Path:
    """The environment the running sdcadm runs from."""
    return Path(sys.prefix).resolve()


class Builds:
    def __init__(self, prefix: Path) -> None:
        self.prefix = Path(prefix)
        self.dir = self.prefix / "builds"
        self.current_link = self.prefix / "current"
        self.previous_link = self.prefix / "previous"

    def path(self, name: str) -> Path:
        return self.dir / name

    @staticmethod
    def record(build: Path) -> dict[str, Any] | None:
        """A complete build's facts (written last by its install), else None."""
        try:
            data = json.loads((Path(build) / RECORD).read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    @staticmethod
    def write_record(build: Path, facts: Mapping[str, Any]) -> None:
        tmp = Path(build) / f"{RECORD}.tmp"
        tmp.write_text(json.dumps(dict(facts), indent=2) + "\n")
        tmp.replace(Path(build) / RECORD)

    @staticmethod
    def target(link: Path) -> Path | None:
        """Where a link leads (resolved), None when it is missing or dangling."""
        if not link.is_symlink() and not link.exists():
            return None
        resolved = link.resolve()
        return resolved if resolved.exists() else None

    def in_use(self) -> Path:
        """The build `current` names, else the running one."""
        return self.target(self.current_link) or running_env()

    def switch(self, to: Path) -> Path:
        """Make `to` current and what was in use previous; returns the latter."""
        to = Path(to).resolve()
        old = self.in_use()
        if old == to:
            return old
        self._link(self.previous_link, old)
        self._link(self.current_link, to)
        return old

    def prune(self, keep: int) -> list[Path]:
        """Remove the complete builds under `builds/` but the `keep` installed last (by their
        `build.json`), the ones `current` and `previous` name, and the running one; returns
        what it removed, oldest first. A build without its record (an install under way, or
        one a killed run left, which the next install of that build removes) and anything
        that is not a directory of its own (a link) are left alone."""
        protected = {p for p in (self.target(self.current_link), self.target(self.previous_link),
                                 running_env()) if p is not None}
        complete: list[tuple[float, Path]] = []
        for entry in (self.dir.iterdir() if self.dir.is_dir() else ()):
            if entry.is_symlink() or not entry.is_dir():
                continue
            try:
                installed = (entry / RECORD).stat().st_mtime
            except OSError:
                continue
            if self.record(entry) is not None:
                complete.append((installed, entry))
        complete.sort(reverse=True)
        old = [d for _t, d in complete[max(0, keep):] if d.resolve() not in protected]
        for build in reversed(old):
            remove(build)
        return list(reversed(old))

    def _link(self, link: Path, to: Path) -> None:
        prefix = self.prefix.resolve()
        dest = os.path.relpath(to, prefix) if to.is_relative_to(prefix) else str(to)
        tmp = self.prefix / f".{link.name}.{os.getpid()}"
        tmp.unlink(missing_ok=True)
        os.symlink(dest, tmp)
        os.replace(tmp, link)  # rename(2) over the old link: atomic


# -- an environment for a build ------------------------------------------------------------
def shared_dirs() -> list[str]:
    """The directories holding the running sdcadm's dependencies (transitively) and pip."""
    from importlib.metadata import PackageNotFoundError, distribution, distributions

    dirs: list[str] = []
    seen: set[str] = set()
    todo = [r for d in list(distributions(name="sdcadm"))[:1] for r in d.requires or []]
    todo.append("pip")
    while todo:
        name = _requirement_name(todo.pop())
        if not name or name in seen:
            continue
        seen.add(name)
        try:
            dist = distribution(name)
        except PackageNotFoundError:
            continue  # pip check names what is missing
        where = str(Path(str(dist.locate_file(""))).resolve())
        if where not in dirs:
            dirs.append(where)
        todo.extend(dist.requires or [])
    return dirs


def _requirement_name(req: str) -> str | None:
    """`click<9,>=8.1` -> `click`; None for an extra's requirement (`...; extra == "x"`)."""
    import re

    spec, _, marker = req.partition(";")
    if "extra" in marker:
        return None
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", spec)
    return re.sub(r"[-_.]+", "-", m.group(1)).lower() if m else None


def child_env() -> dict[str, str]:
    """The environment of a build's commands: no variable that would run other code first
    or point pip elsewhere (PIP_TARGET, PIP_PREFIX, ...)."""
    env = {k: v for k, v in os.environ.items()
           if k not in FOREIGN_ENV and not k.startswith("PIP_")}
    env.update(NO_COLOR="1", PIP_CONFIG_FILE=os.devnull, PIP_NO_INPUT="1",
               PIP_DISABLE_PIP_VERSION_CHECK="1")
    return env


def run_logged(argv: list[str], log: Path, *, cwd: Path, timeout: float | None = None,
               ) -> tuple[int, str]:
    """Run a command, its output appended to `log`; (exit status, output)."""
    with open_private(log, "a") as fh:
        fh.write(f"$ {' '.join(argv)}\n")
    try:
        res = subprocess.run(argv, cwd=cwd, env=child_env(), stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                             errors="replace", timeout=timeout)
        code, out = res.returncode, res.stdout
    except subprocess.TimeoutExpired as e:
        partial = e.stdout.decode(errors="replace") if isinstance(e.stdout, bytes) else ""
        code, out = -1, partial + f"\n(no answer after {timeout:.0f} s)\n"
    except OSError as e:
        code, out = -1, f"{e}\n"
    with open_private(log, "a") as fh:
        fh.write(out + ("" if out.endswith("\n") or not out else "\n") + f"[exit {code}]\n")
    return code, out


def create_env(build: Path, wheel: Path, log: Path) -> None:
    """A venv at `build` sharing the running build's libraries, with the wheel installed
    and its requirements checked; raises InternalError (the log has the details)."""
    code, out = run_logged([sys.executable, "-m", "venv", "--without-pip", str(build)], log,
                           cwd=build.parent)
    if code != 0:
        raise InternalError(f"cannot create a virtual environment in {build}: {last_line(out)}")
    python = build / "bin" / "python"
    site = run_logged([str(python), "-c", "import sysconfig; print(sysconfig.get_path("
                                          "'purelib'))"], log, cwd=build)
    if site[0] != 0:
        raise InternalError(f"the new environment's python does not run: {last_line(site[1])}")
    Path(site[1].strip()).joinpath(SHARED_PTH).write_text("\n".join(shared_dirs()) + "\n")
    code, out = run_logged([str(python), "-m", "pip", "install", "--no-deps", "--no-index",
                            "--no-warn-script-location", str(wheel)], log, cwd=build)
    if code != 0:
        raise InternalError(f"pip could not install {wheel.name}: {last_line(out)}")
    code, out = run_logged([str(python), "-m", "pip", "check"], log, cwd=build)
    own = [line for line in out.splitlines() if line.startswith("sdcadm ")]
    if own:  # other distributions' problems are the environment's, not this build's
        raise InternalError(f"requirements not met: {own[0]}")


def run_build(build: Path, args: Iterable[str], log: Path, *, timeout: float,
              config_path: str | None) -> tuple[int, str]:
    """Run a build's own `sdcadm` with the running one's configuration."""
    argv = [str(build / "bin" / "sdcadm")]
    if config_path:
        argv += ["--config", str(Path(config_path).resolve())]
    return run_logged([*argv, *args], log, cwd=build, timeout=timeout)


def unpacked_size(wheel: Path) -> int:
    """Bytes the wheel takes once installed (its members' sizes)."""
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as zf:
            return sum(i.file_size for i in zf.infolist())
    except (OSError, zipfile.BadZipFile) as e:
        raise InternalError(f"{wheel} is not a wheel: {e}") from e


def remove(build: Path) -> None:
    shutil.rmtree(build, ignore_errors=True)


def last_line(out: str) -> str:
    """A command's last non-empty line of output, for an error message."""
    lines = [line for line in out.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else "no output"
