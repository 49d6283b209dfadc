"""Load and validate sdcadm's configuration.

Layers, later wins (a top-level key replaces the whole earlier value, as the original's
shallow merge did):
  1. shipped defaults, `sdcadm/etc/defaults.json`;
  2. datacenter facts discovered from the headnode's `/usbkey/config` (key=value lines),
     from which the API URLs `http://<svc>.<datacenter_name>.<dns_domain>` are derived;
  3. the operator file: `--config`, else `$SDCADM_CONFIG`, else `/var/sdcadm/sdcadm.conf`.
     A missing default file is fine; a missing file that was named explicitly is an error.

Every key of the operator file is checked: a typo must fail loudly with one line naming
the file and the key, never be ignored.
"""
from __future__ import annotations

import difflib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from sdcadm import redact
from sdcadm.errors import ConfigError
from sdcadm.model import STAMP_RE, is_uuid

DEFAULT_CONFIG_PATH = "/var/sdcadm/sdcadm.conf"

# Config key -> usbkey service host name used to derive the default URL.
SERVICE_KEYS: dict[str, str] = {
    "sapi": "sapi",
    "imgapi": "imgapi",
    "vmapi": "vmapi",
    "cnapi": "cnapi",
    "wfapi": "workflow",
    "napi": "napi",
    "papi": "papi",
}

# usbkey keys copied into the configuration (the same list the original takes from
# `config.sh -json`).
USBKEY_KEYS = (
    "datacenter_name",
    "dns_domain",
    "ufds_admin_uuid",
    "datacenter_location",
    "datacenter_company_name",
    "admin_ip",
    "external_ip",
    "assets_admin_ip",
    "coal",
)


@dataclass(frozen=True)
class Config:
    source: str | None
    updates_url: str
    sapi_url: str | None
    imgapi_url: str | None
    vmapi_url: str | None
    cnapi_url: str | None
    wfapi_url: str | None
    admin_uuid: str | None
    datacenter_name: str | None
    dns_domain: str | None
    var_dir: Path
    lock_path: Path
    poll_interval: float
    connect_timeout: float
    read_timeout: float
    agent_concurrency: int
    image_names: Mapping[str, list[str]]
    min_images: Mapping[str, str]
    vm_min_platform: str
    retries: int = 2
    # A step whose mutation failed transiently (5xx, connection lost) is re-checked and run
    # again this many times before the run stops.
    mutation_retries: int = 3
    # Seconds the datacenter lease of a run lives without a heartbeat (executor/lease.py).
    lease_ttl: float = 60.0
    retry_delay: float = 0.25
    lock_wait: float = 5.0
    # MiB a run leaves free on the file system of its work directory, besides its journal
    # (checked before its first change: executor/preflight.py).
    min_free_mib: float = 64.0
    tls_verify: bool = True
    # A PEM file of the CAs to trust for the APIs instead of the system's (requests' verify).
    ca_bundle: str | None = None
    # Key patterns whose values are kept out of journals, history and logs, besides the
    # built-in ones (sdcadm.redact).
    redact_keys: tuple[str, ...] = ()
    server_uuid: str | None = None
    datacenter_location: str | None = None
    datacenter_company_name: str | None = None
    admin_ip: str | None = None
    external_ip: str | None = None
    updated_size_parameters: Mapping[str, Any] = field(default_factory=dict)
    ssh: Mapping[str, Any] = field(default_factory=dict)
    health: Mapping[str, Any] = field(default_factory=dict)
    reboot: Mapping[str, Any] = field(default_factory=dict)
    self_update: Mapping[str, Any] = field(default_factory=dict)
    address_map: Mapping[str, str] = field(default_factory=dict)
    # Where downloads wait before they are installed (platform images: several hundred MiB).
    tmp_dir: Path = Path("/var/tmp")
    # Where every mutating run writes its log (executor/runlog.py).
    log_dir: Path = Path("/var/log/sdcadm/logs")
    # Seconds between two progress lines of a long wait when stderr is not a terminal.
    progress_interval: float = 30.0
    # The merged configuration as plain data, for `sdcadm info -j`.
    raw: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    def url(self, client: str) -> str:
        """The base URL of an API, or a ConfigError saying how to set it."""
        key = {"updates": "updates_url"}.get(client, f"{client}_url")
        value = getattr(self, key, None)
        if not value:
            where = self.source or DEFAULT_CONFIG_PATH
            raise ConfigError(
                f'{where}: no URL for {client}: set "{client}.url" or provide '
                "datacenter_name and dns_domain (e.g. in /usbkey/config)"
            )
        return value


# -- validation -------------------------------------------------------------------------

Check = Callable[[Any], str | None]  # returns what the value "must be", or None if fine


def _number(v: Any) -> str | None:
    ok = isinstance(v, (int, float)) and not isinstance(v, bool)
    return None if ok else "a number"


def _positive_number(v: Any) -> str | None:
    return _number(v) or (None if v > 0 else "a positive number")


def _nonneg_number(v: Any) -> str | None:
    return _number(v) or (None if v >= 0 else "a non-negative number")


def _positive_int(v: Any) -> str | None:
    ok = isinstance(v, int) and not isinstance(v, bool) and v > 0
    return None if ok else "a positive integer"


def _nonneg_int(v: Any) -> str | None:
    ok = isinstance(v, int) and not isinstance(v, bool) and v >= 0
    return None if ok else "a non-negative integer"


def _string(v: Any) -> str | None:
    return None if isinstance(v, str) and v else "a non-empty string"


def _bool(v: Any) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def _url(v: Any) -> str | None:
    ok = isinstance(v, str) and v.startswith(("http://", "https://"))
    return None if ok else "an http:// or https:// URL"


def _uuid(v: Any) -> str | None:
    return None if isinstance(v, str) and is_uuid(v) else "a UUID"


def _stamp(v: Any) -> str | None:
    return None if isinstance(v, str) and STAMP_RE.match(v) else "a YYYYMMDDTHHMMSSZ stamp"


def _names_map(v: Any) -> str | None:
    ok = isinstance(v, dict) and all(
        isinstance(n, list) and n and all(isinstance(x, str) and x for x in n)
        for n in v.values()
    )
    return None if ok else "an object of service name -> list of image names"


def _stamps_map(v: Any) -> str | None:
    ok = isinstance(v, dict) and all(_stamp(x) is None for x in v.values())
    return None if ok else "an object of service name -> YYYYMMDDTHHMMSSZ stamp"


def _object(v: Any) -> str | None:
    return None if isinstance(v, dict) else "an object"


def _anything(v: Any) -> str | None:
    return None


def _readable_file(v: Any) -> str | None:
    if _string(v):
        return "the path of a readable file"
    if not os.path.isfile(v) or not os.access(v, os.R_OK):
        return f"the path of a readable file (cannot read {v})"
    return None


def _patterns(v: Any) -> str | None:
    ok = isinstance(v, list) and all(isinstance(x, str) and x.strip() for x in v)
    return None if ok else 'a list of key names or patterns (e.g. ["*_apikey"])'


KEYS: dict[str, Check] = {
    "updatesServerUrl": _url,
    "usbkeyConfig": _string,
    "ufds_admin_uuid": _uuid,
    "datacenter_name": _string,
    "dns_domain": _string,
    "datacenter_location": _string,
    "datacenter_company_name": _string,
    "admin_ip": _string,
    "external_ip": _string,
    "assets_admin_ip": _string,
    "coal": _anything,
    "serverUuid": _uuid,
    "varDir": _string,
    "tmpDir": _string,
    "logDir": _string,
    "progressInterval": _positive_number,
    "lockPath": _string,
    "pollInterval": _positive_number,
    "lockWait": _nonneg_number,
    "minFreeMiB": _nonneg_number,
    "connectTimeout": _positive_number,
    "readTimeout": _positive_number,
    "retries": _nonneg_int,
    "mutationRetries": _nonneg_int,
    "leaseTtl": _positive_number,
    "retryDelay": _nonneg_number,
    "agentConcurrency": _positive_int,
    "tlsVerify": _bool,
    "caBundle": _readable_file,
    "vmMinPlatform": _stamp,
    "imgNamesFromSvcName": _names_map,
    "svcMinImages": _stamps_map,
    "updatedSizeParameters": _object,
}
KEYS.update({k: _object for k in SERVICE_KEYS})


def _host_port(v: Any) -> bool:
    if not isinstance(v, str):
        return False
    host, sep, port = v.rpartition(":")
    return bool(sep and host and port.isdigit() and 0 < int(port) < 65536)


def _address_map(v: Any) -> str | None:
    ok = isinstance(v, dict) and all(_host_port(k) and _host_port(x) for k, x in v.items())
    return None if ok else 'an object of "HOST:PORT" -> "HOST:PORT"'


def _one_of(*choices: str) -> Check:
    def check(v: Any) -> str | None:
        return None if v in choices else "one of " + ", ".join(f'"{c}"' for c in choices)
    return check


def _port(v: Any) -> str | None:
    ok = isinstance(v, int) and not isinstance(v, bool) and 0 < v < 65536
    return None if ok else "a port number"


# `ssh`: how sdcadm reaches the servers' global zones (health checks, shard state, ...).
SSH_KEYS: dict[str, Check] = {
    "user": _string,
    "port": _port,
    "identityFile": _string,
    "knownHosts": _string,
    "hostKeyPolicy": _one_of("strict", "accept-new", "off"),
    "connectTimeout": _positive_number,
    "commandTimeout": _positive_number,
    "concurrency": _positive_int,
}
KEYS["ssh"] = _object
KEYS["addressMap"] = _address_map

# `health`: `sdcadm check-health` and the health gates (sdcadm.health).
HEALTH_KEYS: dict[str, Check] = {
    "pingTimeout": _positive_number,
    "pingConcurrency": _positive_int,
    "commandTimeout": _positive_number,
}
KEYS["health"] = _object

# `reboot`: rolling reboots (reboot plans, platform updates) and their health gate.
REBOOT_KEYS: dict[str, Check] = {
    "heartbeatMaxAge": _positive_number,
}
KEYS["reboot"] = _object

# `selfUpdate`: `sdcadm self-update` (sdcadm.executor.builds).
SELF_UPDATE_KEYS: dict[str, Check] = {
    "prefix": _string,
    "reserveMiB": _nonneg_number,
    "smokeTimeout": _positive_number,
    "keepBuilds": _nonneg_int,
}
KEYS["selfUpdate"] = _object

# `redact`: more metadata keys whose values never reach a journal, history or log.
REDACT_KEYS: dict[str, Check] = {
    "keys": _patterns,
}
KEYS["redact"] = _object

# Sections whose own keys are checked like the top level's.
SECTIONS: dict[str, dict[str, Check]] = {
    "ssh": SSH_KEYS, "health": HEALTH_KEYS, "reboot": REBOOT_KEYS, "redact": REDACT_KEYS,
    "selfUpdate": SELF_UPDATE_KEYS,
    **{k: {"url": _url} for k in SERVICE_KEYS},
}


def _check(source: str, data: Mapping[str, Any], checks: Mapping[str, Check] = KEYS,
           prefix: str = "") -> None:
    for key, value in data.items():
        if key.startswith("_") and not prefix:  # `"_comment": ...` keys annotate JSON
            continue
        check = checks.get(key)
        if check is None:
            hint = difflib.get_close_matches(key, list(checks), n=1)
            more = f' (did you mean "{prefix}{hint[0]}"?)' if hint else ""
            raise ConfigError(f'{source}: unknown key "{prefix}{key}"{more}')
        must = check(value)
        if must:
            raise ConfigError(f'{source}: "{prefix}{key}" must be {must}')
        if not prefix and key in SECTIONS:
            _check(source, value, SECTIONS[key], prefix=f"{key}.")


# -- sources ------------------------------------------------------------------------------

def load_defaults() -> dict[str, Any]:
    from sdcadm import package_text

    return json.loads(package_text("etc/defaults.json"))


def read_usbkey_config(path: str | Path) -> dict[str, str]:
    """`key=value` lines of a headnode's /usbkey/config (comments and blanks skipped)."""
    out: dict[str, str] = {}
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return out
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from e
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def _read_file(path: str, explicit: bool) -> dict[str, Any] | None:
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        if explicit:
            raise ConfigError(f"{path}: configuration file not found") from None
        return None
    except IsADirectoryError:
        raise ConfigError(f"{path}: is a directory, not a configuration file") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read: {e.strerror or e}") from e
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        where = f"(line {e.lineno} column {e.colno})"
        raise ConfigError(f"{path}: invalid JSON: {e.msg} {where}") from e
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: must be a JSON object")
    return data


def load_config(path: str | os.PathLike[str] | None = None) -> Config:
    """Build the Config. `path` None means $SDCADM_CONFIG, else the default location."""
    explicit = path is not None or bool(os.environ.get("SDCADM_CONFIG"))
    source = str(path) if path is not None else (
        os.environ.get("SDCADM_CONFIG") or DEFAULT_CONFIG_PATH
    )
    operator = _read_file(source, explicit)
    if operator is not None:
        _check(source, operator)

    merged: dict[str, Any] = load_defaults()
    usbkey_path = (operator or {}).get("usbkeyConfig") or merged.get("usbkeyConfig")
    usbkey = read_usbkey_config(usbkey_path) if usbkey_path else {}
    for key in USBKEY_KEYS:
        if usbkey.get(key):
            merged[key] = usbkey[key]
    if "coal" in merged:
        merged["coal"] = str(merged["coal"]).lower() == "true"
    dc, dns = merged.get("datacenter_name"), merged.get("dns_domain")
    if dc and dns:
        for key, host in SERVICE_KEYS.items():
            merged[key] = {"url": f"http://{host}.{dc}.{dns}"}
    merged.update(operator or {})
    config = _build(source if operator is not None else None, merged)
    # The writers of journals, history and the request log do not all see the
    # configuration: its redaction list holds for the whole process.
    redact.configure(config.redact_keys)
    return config


def _build(source: str | None, m: Mapping[str, Any]) -> Config:
    def url(key: str) -> str | None:
        v = m.get(key)
        return v.get("url") if isinstance(v, dict) else None

    var_dir = Path(m.get("varDir") or "/var/sdcadm")
    admin = m.get("ufds_admin_uuid")
    if admin is not None and not is_uuid(admin):
        # Only reachable from /usbkey/config: the operator file is checked above.
        raise ConfigError(f'{m.get("usbkeyConfig")}: "ufds_admin_uuid" must be a UUID')
    return Config(
        source=source,
        updates_url=str(m["updatesServerUrl"]).rstrip("/"),
        sapi_url=url("sapi"),
        imgapi_url=url("imgapi"),
        vmapi_url=url("vmapi"),
        cnapi_url=url("cnapi"),
        wfapi_url=url("wfapi"),
        admin_uuid=admin,
        datacenter_name=m.get("datacenter_name"),
        dns_domain=m.get("dns_domain"),
        var_dir=var_dir,
        lock_path=Path(m.get("lockPath") or var_dir / "sdcadm.lock"),
        poll_interval=float(m.get("pollInterval", 5)),
        connect_timeout=float(m.get("connectTimeout", 10)),
        read_timeout=float(m.get("readTimeout", 15)),
        agent_concurrency=int(m.get("agentConcurrency", 5)),
        image_names={k: list(v) for k, v in (m.get("imgNamesFromSvcName") or {}).items()},
        min_images=dict(m.get("svcMinImages") or {}),
        vm_min_platform=str(m.get("vmMinPlatform") or "20130606T000000Z"),
        retries=int(m.get("retries", 2)),
        mutation_retries=int(m.get("mutationRetries", 3)),
        lease_ttl=float(m.get("leaseTtl", 60)),
        lock_wait=float(m.get("lockWait", 5)),
        min_free_mib=float(m.get("minFreeMiB", 64)),
        retry_delay=float(m.get("retryDelay", 0.25)),
        tls_verify=bool(m.get("tlsVerify", True)),
        ca_bundle=m.get("caBundle"),
        redact_keys=tuple((m.get("redact") or {}).get("keys") or ()),
        server_uuid=m.get("serverUuid"),
        datacenter_location=m.get("datacenter_location"),
        datacenter_company_name=m.get("datacenter_company_name"),
        admin_ip=m.get("admin_ip"),
        external_ip=m.get("external_ip"),
        updated_size_parameters=dict(m.get("updatedSizeParameters") or {}),
        ssh=dict(m.get("ssh") or {}),
        health=dict(m.get("health") or {}),
        reboot=dict(m.get("reboot") or {}),
        self_update=dict(m.get("selfUpdate") or {}),
        address_map=dict(m.get("addressMap") or {}),
        tmp_dir=Path(m.get("tmpDir") or "/var/tmp"),
        log_dir=Path(m.get("logDir") or "/var/log/sdcadm/logs"),
        progress_interval=float(m.get("progressInterval", 30)),
        raw=dict(m),
    )
