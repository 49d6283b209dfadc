"""Configuration: layers, discovery from /usbkey/config, and one-line errors for bad input."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdcadm.config import load_config, read_usbkey_config
from sdcadm.errors import ConfigError

ADMIN = "930896af-bf8c-48d4-885c-6573a94b1853"


def write(tmp_path: Path, data: object, name: str = "sdcadm.conf") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else json.dumps(data))
    return p


@pytest.fixture(autouse=True)
def no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SDCADM_CONFIG", raising=False)


def test_shipped_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, {"usbkeyConfig": str(tmp_path / "none")}))
    assert cfg.updates_url == "https://updates.tritondatacenter.com"
    assert cfg.vm_min_platform == "20130606T000000Z"
    assert cfg.poll_interval == 5.0
    assert cfg.agent_concurrency == 5
    assert cfg.var_dir == Path("/var/sdcadm")
    assert cfg.lock_path == Path("/var/sdcadm/sdcadm.lock")
    assert cfg.image_names["manatee"] == ["sdc-postgres"]
    assert cfg.image_names["binder"] == ["mantav2-nameservice", "manta-nameservice"]
    assert cfg.image_names["cn-agent"] == ["cn-agent"]
    assert cfg.image_names["vmapi"] == ["vmapi"]
    assert cfg.min_images["manatee"] == "20141225T181254Z"
    assert cfg.sapi_url is None


def test_operator_file_values(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, {
        "usbkeyConfig": str(tmp_path / "none"),
        "updatesServerUrl": "http://127.0.0.1:9/",
        "sapi": {"url": "http://127.0.0.1:1"},
        "imgapi": {"url": "http://127.0.0.1:2"},
        "vmapi": {"url": "http://127.0.0.1:3"},
        "cnapi": {"url": "http://127.0.0.1:4"},
        "wfapi": {"url": "http://127.0.0.1:5"},
        "ufds_admin_uuid": ADMIN,
        "datacenter_name": "dc1",
        "dns_domain": "example.com",
        "varDir": str(tmp_path / "var"),
        "pollInterval": 0.01,
    }))
    assert (cfg.updates_url, cfg.sapi_url, cfg.imgapi_url, cfg.vmapi_url, cfg.cnapi_url,
            cfg.wfapi_url) == ("http://127.0.0.1:9", "http://127.0.0.1:1", "http://127.0.0.1:2",
                               "http://127.0.0.1:3", "http://127.0.0.1:4", "http://127.0.0.1:5")
    assert cfg.admin_uuid == ADMIN
    assert cfg.var_dir == tmp_path / "var"
    assert cfg.lock_path == tmp_path / "var" / "sdcadm.lock"
    assert cfg.poll_interval == 0.01
    assert cfg.source == str(tmp_path / "sdcadm.conf")


def test_usbkey_discovery_and_explicit_urls_win(tmp_path: Path) -> None:
    usbkey = tmp_path / "usbkey-config"
    usbkey.write_text(
        "# headnode config\n"
        "datacenter_name=us-east-1\n"
        "dns_domain=example.com\n"
        f"ufds_admin_uuid={ADMIN}\n"
        "admin_ip=10.99.99.7\n"
        "external_ip=10.88.88.200\n"
        "datacenter_company_name='Acme Inc'\n"
        "\n"
    )
    cfg = load_config(write(tmp_path, {
        "usbkeyConfig": str(usbkey), "vmapi": {"url": "http://127.0.0.1:7"}}))
    assert cfg.sapi_url == "http://sapi.us-east-1.example.com"
    assert cfg.imgapi_url == "http://imgapi.us-east-1.example.com"
    assert cfg.cnapi_url == "http://cnapi.us-east-1.example.com"
    assert cfg.wfapi_url == "http://workflow.us-east-1.example.com"
    assert cfg.vmapi_url == "http://127.0.0.1:7"
    assert cfg.admin_uuid == ADMIN
    assert cfg.admin_ip == "10.99.99.7"
    assert cfg.external_ip == "10.88.88.200"
    assert cfg.datacenter_company_name == "Acme Inc"


def test_read_usbkey_config_missing_is_empty(tmp_path: Path) -> None:
    assert read_usbkey_config(tmp_path / "nope") == {}


def test_missing_default_file_is_fine(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr("sdcadm.config.DEFAULT_CONFIG_PATH", str(tmp_path / "absent.conf"))
    cfg = load_config(None)
    assert cfg.source is None


def test_lock_wait_defaults_and_can_be_set(tmp_path: Path) -> None:
    none = str(tmp_path / "none")
    assert load_config(write(tmp_path, {"usbkeyConfig": none})).lock_wait == 5.0
    assert load_config(write(tmp_path, {"usbkeyConfig": none, "lockWait": 0})).lock_wait == 0.0


def test_env_variable_names_the_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    p = write(tmp_path, {"pollInterval": 2, "usbkeyConfig": str(tmp_path / "none")})
    monkeypatch.setenv("SDCADM_CONFIG", str(p))
    assert load_config(None).poll_interval == 2.0
    monkeypatch.setenv("SDCADM_CONFIG", str(tmp_path / "missing.conf"))
    with pytest.raises(ConfigError) as e:
        load_config(None)
    assert e.value.message == f"{tmp_path}/missing.conf: configuration file not found"


@pytest.mark.parametrize("data, message", [
    ({"pollInterval": "5"}, '"pollInterval" must be a number'),
    ({"pollInterval": -1}, '"pollInterval" must be a positive number'),
    ({"pollInterva": 5}, 'unknown key "pollInterva" (did you mean "pollInterval"?)'),
    ({"frobnicate": 1}, 'unknown key "frobnicate"'),
    ({"sapi": "http://x"}, '"sapi" must be an object'),
    ({"sapi": {"url": "ftp://x"}}, '"sapi.url" must be an http:// or https:// URL'),
    ({"sapi": {"uri": "http://x"}}, 'unknown key "sapi.uri" (did you mean "sapi.url"?)'),
    ({"ufds_admin_uuid": "nope"}, '"ufds_admin_uuid" must be a UUID'),
    ({"agentConcurrency": 0}, '"agentConcurrency" must be a positive integer'),
    ({"lockWait": -1}, '"lockWait" must be a non-negative number'),
    ({"lockWait": "5s"}, '"lockWait" must be a number'),
    ({"agentConcurrency": 2.5}, '"agentConcurrency" must be a positive integer'),
    ({"vmMinPlatform": "2013"}, '"vmMinPlatform" must be a YYYYMMDDTHHMMSSZ stamp'),
    ({"imgNamesFromSvcName": {"x": "x"}},
     '"imgNamesFromSvcName" must be an object of service name -> list of image names'),
    ({"tlsVerify": "no"}, '"tlsVerify" must be true or false'),
    ({"ssh": {"hostKeyPolicy": "yes"}},
     '"ssh.hostKeyPolicy" must be one of "strict", "accept-new", "off"'),
    ({"ssh": {"knownhosts": "/x"}}, 'unknown key "ssh.knownhosts" (did you mean '
                                    '"ssh.knownHosts"?)'),
    ({"ssh": {"port": 70000}}, '"ssh.port" must be a port number'),
    ({"ssh": {"concurrency": 0}}, '"ssh.concurrency" must be a positive integer'),
    ({"addressMap": {"10.0.0.1": "127.0.0.1:22"}},
     '"addressMap" must be an object of "HOST:PORT" -> "HOST:PORT"'),
    ({"reboot": {"heartbeatMaxAge": 0}}, '"reboot.heartbeatMaxAge" must be a positive number'),
    ({"reboot": {"heartbeat": 5}}, 'unknown key "reboot.heartbeat" (did you mean '
                                   '"reboot.heartbeatMaxAge"?)'),
    ("{not json",
     "invalid JSON: Expecting property name enclosed in double quotes (line 1 column 2)"),
    ("[1, 2]", "must be a JSON object"),
])
def test_bad_file_names_file_and_key(tmp_path: Path, data: object, message: str) -> None:
    p = write(tmp_path, data)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert e.value.message == f"{p}: {message}"
    assert e.value.exit_status == 2


def test_comment_keys_are_allowed(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, {"_comment": "lab DC", "pollInterval": 1,
                                       "usbkeyConfig": str(tmp_path / "none")}))
    assert cfg.poll_interval == 1.0


def test_url_of_unconfigured_api_is_a_config_error(tmp_path: Path) -> None:
    p = write(tmp_path, {"usbkeyConfig": str(tmp_path / "none")})
    cfg = load_config(p)
    with pytest.raises(ConfigError) as e:
        cfg.url("sapi")
    assert e.value.message.startswith(f'{p}: no URL for sapi: set "sapi.url"')
