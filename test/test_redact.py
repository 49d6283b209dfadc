"""The redaction rule (sdcadm.redact) and owner-only files (sdcadm.private_files)."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import pytest

from sdcadm import redact as redact_mod
from sdcadm.config import load_config
from sdcadm.errors import ConfigError
from sdcadm.private_files import make_dir, make_dirs, open_private
from sdcadm.redact import REDACTED, Redactor

PEM = ("-----BEGIN RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEAx\n-----END RSA PRIVATE KEY-----\n")
OPENSSH = ("-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n"
           "-----END OPENSSH PRIVATE KEY-----")


@pytest.mark.parametrize("key, secret", [
    ("ufds_ldap_root_pw", True),
    ("UFDS_LDAP_ROOT_PW", True),
    ("rabbitmq_password", True),
    ("PASSWORD", True),
    ("db_passwd", True),
    ("docker_registry_secret", True),
    ("SecretAccessKey", True),
    ("api_token", True),
    ("tokens", True),
    ("tls_private_key", True),
    # not secrets: similar words, but no match
    ("pw", False),
    ("pwd_dir", False),
    ("SERVICE_DOMAIN", False),
    ("update_channel", False),
    ("image_uuid", False),
    ("fingerprint", False),
    ("public_key", False),
    ("keys", False),
    (42, False),
])
def test_secret_keys(key: Any, secret: bool) -> None:
    assert Redactor().secret_key(key) is secret


@pytest.mark.parametrize("doc, expected", [
    ({"a": 1}, {"a": 1}),
    ({"ufds_ldap_root_pw": "hunter2"}, {"ufds_ldap_root_pw": REDACTED}),
    # nothing to hide: an empty or null value says nothing and is kept as it is
    ({"password": ""}, {"password": ""}),
    ({"password": None}, {"password": None}),
    # a whole structure under a secret key goes
    ({"secrets": {"a": "b"}}, {"secrets": REDACTED}),
    ({"api_tokens": ["t1", "t2"]}, {"api_tokens": REDACTED}),
    # nested anywhere: lists of dicts, dicts of dicts
    ({"changes": [{"service": {"metadata": {"x_token": "t", "name": "vmapi"}}}]},
     {"changes": [{"service": {"metadata": {"x_token": REDACTED, "name": "vmapi"}}}]}),
    # PEM private keys under any key, even inside a longer text
    ({"signing": PEM}, {"signing": REDACTED}),
    ({"notes": "key follows\n" + OPENSSH}, {"notes": REDACTED}),
    ([PEM, "-----BEGIN CERTIFICATE-----\nMIIB\n"],
     [REDACTED, "-----BEGIN CERTIFICATE-----\nMIIB\n"]),
    # numbers, booleans: kept unless under a secret key
    ({"count": 3, "db_pw": 1234}, {"count": 3, "db_pw": REDACTED}),
    ((1, "x"), [1, "x"]),
    ("plain", "plain"),
])
def test_documents(doc: Any, expected: Any) -> None:
    assert Redactor().document(doc) == expected


def test_the_document_itself_is_left_alone() -> None:
    doc = {"metadata": {"db_pw": "x"}, "steps": [{"api_token": "y"}]}
    before = json.dumps(doc)
    out = Redactor().document(doc)
    assert json.dumps(doc) == before
    assert out["metadata"]["db_pw"] == REDACTED and out["steps"][0]["api_token"] == REDACTED


@pytest.mark.parametrize("url, expected", [
    ("http://sapi/services?name=vmapi", "http://sapi/services?name=vmapi"),
    ("http://sapi/x?token=abc&name=vmapi", "http://sapi/x?token=[REDACTED]&name=vmapi"),
    ("http://sapi/x?ACCESS_TOKEN=abc", "http://sapi/x?ACCESS_TOKEN=[REDACTED]"),
    ("https://admin:s3cret@proxy:8080/path", "https://admin:[REDACTED]@proxy:8080/path"),
    ("https://admin@proxy:8080/path", "https://admin@proxy:8080/path"),
    ("http://127.0.0.1:1234/images?state=all", "http://127.0.0.1:1234/images?state=all"),
])
def test_urls(url: str, expected: str) -> None:
    assert Redactor().url(url) == expected


@pytest.mark.parametrize("extra, key, secret", [
    (["moray_creds"], "moray_creds", True),
    (["moray_creds"], "MORAY_CREDS", True),
    (["*_apikey"], "cloudapi_apikey", True),
    (["*_apikey"], "cloudapi_apikeys", False),
    ([], "moray_creds", False),
])
def test_configured_keys(extra: list[str], key: str, secret: bool) -> None:
    assert Redactor(extra).secret_key(key) is secret


def _conf(tmp_path: Path, **keys: Any) -> Path:
    p = tmp_path / "sdcadm.conf"
    p.write_text(json.dumps({"usbkeyConfig": str(tmp_path / "none"), **keys}))
    return p


def test_the_configuration_extends_the_rule_for_the_process(tmp_path: Path) -> None:
    try:
        config = load_config(_conf(tmp_path, redact={"keys": ["moray_creds", "*_apikey"]}))
        assert config.redact_keys == ("moray_creds", "*_apikey")
        assert redact_mod.redact({"moray_creds": "a", "x_apikey": "b", "n": "c"}) == {
            "moray_creds": REDACTED, "x_apikey": REDACTED, "n": "c"}
        # The next configuration loaded replaces the list.
        load_config(_conf(tmp_path))
        assert redact_mod.redact({"moray_creds": "a"}) == {"moray_creds": "a"}
    finally:
        redact_mod.configure(())


@pytest.mark.parametrize("keys, message", [
    ({"redact": {"keys": "moray_creds"}},
     '"redact.keys" must be a list of key names or patterns (e.g. ["*_apikey"])'),
    ({"redact": {"keys": [""]}},
     '"redact.keys" must be a list of key names or patterns (e.g. ["*_apikey"])'),
    ({"redact": {"key": ["x"]}}, 'unknown key "redact.key" (did you mean "redact.keys"?)'),
    ({"redact": []}, '"redact" must be an object'),
])
def test_bad_redact_configuration(tmp_path: Path, keys: dict[str, Any], message: str) -> None:
    p = _conf(tmp_path, **keys)
    with pytest.raises(ConfigError) as e:
        load_config(p)
    assert e.value.message == f"{p}: {message}"


# -- owner-only files ------------------------------------------------------------------------

@pytest.fixture
def open_umask():
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(p: Path) -> int:
    return stat.S_IMODE(p.stat().st_mode)


def test_private_files_under_umask_000(tmp_path: Path, open_umask: None) -> None:
    deep = make_dirs(tmp_path / "a" / "b" / "c")
    assert [_mode(p) for p in (tmp_path / "a", tmp_path / "a" / "b", deep)] == [0o700] * 3
    one = make_dir(deep / "run")
    assert _mode(one) == 0o700
    with pytest.raises(FileExistsError):
        make_dir(deep / "run")
    for mode, name in (("w", "w.json"), ("a", "a.jsonl"), ("wb", "b.part"), ("r+", "lock")):
        with open_private(one / name, mode) as fh:
            fh.write(b"x" if "b" in mode else "x")
        assert _mode(one / name) == 0o600, name
    # An existing directory is left as it is (an operator's /var may be shared).
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    make_dirs(shared / "sdcadm")
    assert (_mode(shared), _mode(shared / "sdcadm")) == (0o755, 0o700)


def test_make_dirs_refuses_a_file_in_the_way(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("")
    with pytest.raises(OSError):
        make_dirs(tmp_path / "f" / "x")
    with pytest.raises(NotADirectoryError):
        make_dirs(tmp_path / "f")
