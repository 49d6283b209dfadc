"""Hypothesis strategies for what an operator may type: spec documents (as data, then as
JSON, YAML or mangled text), argument lists for every command that cannot change the
datacenter (or that is given `-n`), and configuration files.

Names come from the `small` scenario, so a generated case is as often a plausible request
as nonsense. Nothing generated may reach beyond loopback: configuration URLs are drawn from
a fixed list of loopback and malformed ones, and the keys that route connections
(`addressMap`, the API URLs' fallback names) are never removed.
"""
from __future__ import annotations

import json
from importlib.resources import files
from typing import Any

import click
import yaml
from hypothesis import strategies as st

SCENARIO = yaml.safe_load(files("sdcadm").joinpath("sim/scenarios/small.yaml").read_text())
SERVICES = [s["name"] for s in SCENARIO["services"]]
ALIASES = [i["alias"] for i in SCENARIO["instances"]]
INSTANCES = [i["uuid"] for i in SCENARIO["instances"]]
HOSTS = [s["hostname"] for s in SCENARIO["servers"]]
SERVERS = [s["uuid"] for s in SCENARIO["servers"]]
IMAGES = [i["uuid"] for i in SCENARIO["images"]]
VERSIONS = [i["version"] for i in SCENARIO["images"]]
PLATFORMS = [p["version"] for p in SCENARIO["platforms"]] + ["19990101T000000Z"]
BUILDS = [i for i in SCENARIO["images"] if i["name"] in SERVICES]  # image name = service name
CHANNELS = ["dev", "staging", "release", "nightly"]
TYPES = ["update-service", "update-instance", "update-platform", "create-instances",
         "delete", "delete-service", "nonsense"]

# -- values --------------------------------------------------------------------------------
ODD_TEXT = st.sampled_from(["", " ", "*", "-", "--", "-n", "../x", "a" * 300,
                            "\u00e9t\u00e9", "null", "true", "0", "1e999", "NaN", "${HOME}",
                            "$(reboot)", "; rm -rf /", "%s%s", "\t", "[", "{"])
TEXT = st.one_of(st.text(max_size=24), ODD_TEXT)
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-3, 10**12), TEXT,
                 st.floats(allow_nan=True, allow_infinity=True),
                 st.lists(st.one_of(st.integers(), TEXT), max_size=3),
                 st.dictionaries(TEXT, st.integers(), max_size=2))


def known(names: list[str]) -> st.SearchStrategy[Any]:
    """Mostly a real name, sometimes text, sometimes a value of another type."""
    return st.one_of(st.sampled_from(names), st.sampled_from(names), TEXT, JUNK)


UUIDS = st.one_of(st.sampled_from(IMAGES), st.uuids().map(str), TEXT)
CHANGE_VALUES: dict[str, st.SearchStrategy[Any]] = {
    "type": known(TYPES),
    "service": known(SERVICES),
    "instance": known(ALIASES + INSTANCES),
    "image": st.one_of(UUIDS, JUNK),
    "version": known(VERSIONS),
    "server": known(HOSTS + SERVERS),
    "servers": st.one_of(st.lists(known(HOSTS + SERVERS), max_size=4), JUNK),
    "platform": known(PLATFORMS),
    "selector": st.one_of(st.sampled_from(["traits.ssd=true", "hostname=cn0*", "=", "x"]),
                          JUNK),
    "max_unavailable": st.one_of(st.integers(-2, 10),
                                 st.sampled_from(["50%", "0%", "150%", "1", "x%"]), JUNK),
}
CHANGE = st.builds(lambda fixed, extra: {**fixed, **extra},
                   st.fixed_dictionaries({}, optional=CHANGE_VALUES),
                   st.dictionaries(TEXT, JUNK, max_size=1))
OPTIONS: dict[str, st.SearchStrategy[Any]] = {
    "changes": st.one_of(st.lists(CHANGE, max_size=4), JUNK),
    "channel": known(CHANNELS),
    "all": st.one_of(st.booleans(), JUNK),
    "exclude": st.one_of(st.lists(known(SERVICES), max_size=3), JUNK),
    "just-images": st.one_of(st.booleans(), JUNK),
    "just_images": st.one_of(st.booleans(), JUNK),
    "force-same-image": st.one_of(st.booleans(), JUNK),
    "force-rabbitmq": st.one_of(st.booleans(), JUNK),
    "allow-downgrade": st.one_of(st.booleans(), JUNK),
    "servers": st.one_of(st.lists(known(HOSTS), max_size=3), JUNK),
    "concurrency": st.one_of(st.integers(-1, 300), JUNK),
}
DOCUMENT = st.builds(lambda fixed, extra: {**fixed, **extra},
                     st.fixed_dictionaries({}, optional=OPTIONS),
                     st.dictionaries(TEXT, JUNK, max_size=1))
# What an operator would write, so that many cases get past validation into planning.
VALID_CHANGE = st.one_of(
    st.builds(lambda s: {"service": s}, st.sampled_from(SERVICES)),
    st.sampled_from([{"service": i["name"], "version": i["version"]} for i in BUILDS]),
    st.sampled_from([{"service": i["name"], "image": i["uuid"]} for i in BUILDS]),
    st.builds(lambda a: {"type": "update-instance", "instance": a}, st.sampled_from(ALIASES)),
    st.builds(lambda h: {"service": "vm-agent", "server": h}, st.sampled_from(HOSTS)),
    st.builds(lambda p, h, n: {"type": "update-platform", "platform": p, "servers": h,
                               "max_unavailable": n},
              st.sampled_from(PLATFORMS), st.lists(st.sampled_from(HOSTS), min_size=1,
                                                   max_size=3, unique=True),
              st.sampled_from([1, 2, "50%"])))
VALID_SPEC = st.one_of(
    st.lists(VALID_CHANGE, min_size=1, max_size=3),
    st.fixed_dictionaries({"changes": st.lists(VALID_CHANGE, max_size=3)}, optional={
        "channel": st.sampled_from(CHANNELS[:3]), "all": st.booleans(),
        "exclude": st.lists(st.sampled_from(SERVICES), max_size=3),
        "just-images": st.booleans(), "force-rabbitmq": st.booleans(),
        "concurrency": st.integers(1, 20)}))
ODD_SPEC = st.one_of(CHANGE, st.lists(CHANGE, max_size=5), DOCUMENT, JUNK)
# Six in ten specs are well formed (one_of would draw each branch alike).
SPEC = st.integers(0, 9).flatmap(lambda n: VALID_SPEC if n < 6 else ODD_SPEC)


@st.composite
def spec_text(draw: st.DrawFn) -> tuple[str, str]:
    """(format, text): a generated spec as JSON or YAML, possibly cut short or garbled."""
    data = draw(SPEC)
    fmt = draw(st.sampled_from(["json"] * 4 + ["yaml"] * 4 + ["json-cut", "yaml-cut", "text"]))
    if fmt.startswith("json"):
        text = json.dumps(data, indent=draw(st.sampled_from([None, 2])))
    elif fmt.startswith("yaml"):
        text = yaml.safe_dump(data, allow_unicode=draw(st.booleans()))
    else:
        text = draw(st.text(max_size=200))
    if fmt.endswith("-cut") and text:
        text = text[:draw(st.integers(0, len(text)))]
    return fmt.split("-")[0], text


# -- argument lists ------------------------------------------------------------------------
# Commands that change nothing in the datacenter, by their words; reboot-plan create writes
# a plan under varDir, and pause/resume/cancel its control file, nothing else.
READ_ONLY = [("services",), ("instances",), ("avail",), ("changes",), ("channel", "list"),
             ("channel", "get"), ("info",), ("history",), ("check-health",),
             ("platform", "list"), ("platform", "usage"), ("platform", "avail"),
             ("dc-maint", "status"), ("reboot-plan", "status"), ("reboot-plan", "list"),
             ("reboot-plan", "create"), ("reboot-plan", "pause"), ("reboot-plan", "cancel"),
             ("lock", "status"), ("help",)]
# Commands that change the datacenter unless given `-n`, which they always are here.
DRY_RUN = [("update",), ("rollback",), ("platform", "install"), ("platform", "assign"),
           ("platform", "set-default"), ("platform", "remove")]
# Never generated: `-v` shows tracebacks on purpose, `--config` has cases of its own.
NEVER = {"-v", "--verbose", "--config"}


def command(words: tuple[str, ...]) -> click.Command:
    from sdcadm.cli.main import cli

    ctx = click.Context(cli)
    cmd: Any = cli
    for w in words:
        cmd = cmd.get_command(ctx, w)
        assert cmd is not None, words
    return cmd


POSITIONAL = st.one_of(known(SERVICES), st.sampled_from(ALIASES + HOSTS + PLATFORMS),
                       st.sampled_from([f"{h}/vm-agent" for h in HOSTS]),
                       st.sampled_from([f"{s}@{v}" for s, v in zip(SERVICES, VERSIONS,
                                                                    strict=False)]),
                       st.sampled_from(IMAGES), TEXT)


def _value(param: click.Option) -> st.SearchStrategy[str]:
    choices = getattr(param.type, "choices", None)
    base = [POSITIONAL.map(str), st.integers(-5, 10**6).map(str)]
    if choices:
        base.insert(0, st.sampled_from(list(choices)))
    return st.one_of(*base).filter(lambda v: "\x00" not in v)


@st.composite
def argv(draw: st.DrawFn) -> list[str]:
    """`sdcadm WORDS [-n] OPTIONS... ARGS...`, options drawn from the command's own."""
    dry = draw(st.booleans())
    words = draw(st.sampled_from(DRY_RUN if dry else READ_ONLY))
    out = list(words) + (["-n"] if dry else [])  # first: nothing can turn it into a value
    if words == ("help",):
        return out + draw(st.lists(st.sampled_from(
            [w for c in READ_ONLY + DRY_RUN for w in c] + ["bogus"]), max_size=2))
    cmd = command(words)
    options = [p for p in cmd.params if isinstance(p, click.Option)
               and not set(p.opts) & NEVER and "-n" not in p.opts]
    tail: list[str] = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["option", "option", "option", "positional",
                                     "positional", "junk"]))
        if kind == "option" and options:
            p = draw(st.sampled_from(options))
            tail.append(draw(st.sampled_from(p.opts + p.secondary_opts)))
            if not p.is_flag and not p.count:
                tail.append(draw(_value(p)))
        elif kind == "positional":
            tail.append(str(draw(POSITIONAL)))
        else:
            tail.append(draw(st.sampled_from(["--bogus", "-Z", "-", "=", "-nn", "--all="])))
    return out + [t.replace("\x00", "") for t in tail]


# -- configuration files ---------------------------------------------------------------------
# LIVE: the key's own working URL; LIVE_TLS: the same port spoken to over TLS.
URLS = ["LIVE", "LIVE", "LIVE_TLS", "http://127.0.0.1:1", "http://127.0.0.1:notaport",
        "not a url", "", "http://", "ftp://127.0.0.1/x", "http://[::1", "http://127.0.0.1:99999"]
NUMBER = st.one_of(st.integers(-2, 3), st.floats(-1, 2), st.sampled_from(
    [0, 0.0001, float("nan"), float("inf"), 10**12, "5", True, None]))
# Values the keys accept, drawn as often as odd ones.
FINE: dict[str, st.SearchStrategy[Any]] = {
    "pollInterval": st.floats(0.01, 0.05), "lockWait": st.integers(0, 2),
    "connectTimeout": st.integers(1, 10), "readTimeout": st.integers(1, 15),
    "retries": st.integers(0, 2), "mutationRetries": st.integers(0, 3),
    "leaseTtl": st.integers(10, 60), "retryDelay": st.floats(0, 0.05),
    "agentConcurrency": st.integers(1, 10), "minFreeMiB": st.integers(0, 64),
    "varDir": st.just("var"), "tmpDir": st.just("tmp"), "logDir": st.just("logs"),
    "lockPath": st.just("sdcadm.lock"), "updatesServerUrl": st.just("LIVE"),
    "tlsVerify": st.booleans(),
}
NAME_KEY = st.one_of(st.sampled_from(SERVICES), TEXT)  # a JSON object's key: text
CONFIG_VALUES: dict[str, st.SearchStrategy[Any]] = {
    **{k: NUMBER for k in ("pollInterval", "lockWait", "connectTimeout", "readTimeout",
                           "retries", "mutationRetries", "leaseTtl", "retryDelay",
                           "agentConcurrency", "minFreeMiB")},
    **{k: st.one_of(st.sampled_from(["/nonexistent/dir", "/dev/null", "/proc/version",
                                     "relative/dir", "", "/"]), JUNK)
       for k in ("varDir", "tmpDir", "lockPath", "logDir", "usbkeyConfig", "caBundle")},
    "updatesServerUrl": st.sampled_from(URLS),
    **{k: st.one_of(st.sampled_from(URLS).map(lambda u: {"url": u}), JUNK)
       for k in ("sapi", "imgapi", "vmapi", "cnapi", "wfapi")},
    "tlsVerify": st.one_of(st.booleans(), JUNK),
    "ufds_admin_uuid": UUIDS,
    "vmMinPlatform": known(PLATFORMS),
    "imgNamesFromSvcName": st.one_of(st.dictionaries(NAME_KEY, st.lists(TEXT, max_size=2),
                                                     max_size=2), JUNK),
    "svcMinImages": st.one_of(st.dictionaries(NAME_KEY, known(PLATFORMS), max_size=2), JUNK),
    "redact": st.one_of(st.fixed_dictionaries({"keys": st.one_of(st.lists(TEXT, max_size=2),
                                                                 JUNK)}), JUNK),
    "health": st.one_of(st.dictionaries(st.sampled_from(["pingTimeout", "pingConcurrency",
                                                         "commandTimeout", "bogus"]), NUMBER,
                                        max_size=2), JUNK),
    "selfUpdate": st.one_of(st.dictionaries(st.sampled_from(["prefix", "reserveMiB", "x"]),
                                            st.one_of(NUMBER, TEXT), max_size=2), JUNK),
}


def _live_url(value: Any, key: str, live: dict[str, Any]) -> Any:
    """LIVE and LIVE_TLS (above) made the key's own loopback URL."""
    own = live.get(key)
    if isinstance(own, dict):
        own = own.get("url")
    if not isinstance(own, str) or not own.startswith("http://"):
        return value
    for token, url in (("LIVE_TLS", own.replace("http://", "https://")), ("LIVE", own)):
        if value == token:
            return url
        if isinstance(value, dict) and value.get("url") == token:
            return {**value, "url": url}
    return value


@st.composite
def config_text(draw: st.DrawFn, live: dict[str, Any]) -> str:
    """A configuration: the simulator's `live` one with keys changed, unknown keys added,
    or text that is not a JSON object at all."""
    shape = draw(st.sampled_from(["changed", "changed", "changed", "not-json", "not-object"]))
    if shape == "not-json":
        return draw(st.one_of(st.text(max_size=80), st.just(json.dumps(live)[:-1])))
    if shape == "not-object":
        return json.dumps(draw(st.one_of(st.lists(st.integers(), max_size=2), TEXT,
                                         st.integers())))
    doc = dict(live)
    changed = draw(st.dictionaries(st.sampled_from(sorted(CONFIG_VALUES)), st.none(),
                                   min_size=1, max_size=3))
    for key in changed:
        odd = CONFIG_VALUES[key]
        value = draw(st.one_of(FINE[key], odd) if key in FINE else odd)
        doc[key] = _live_url(value, key, live)
    doc.update(draw(st.dictionaries(st.sampled_from(["bogusKey", "retrys", "SAPI"]), JUNK,
                                    max_size=1)))
    return json.dumps(doc)
