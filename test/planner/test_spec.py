"""Change specs: arguments, stdin objects and spec documents -> ChangeRequests or errors."""
from __future__ import annotations

import pytest

from sdcadm.errors import MultiError, UsageError, ValidationError
from sdcadm.planner.spec import parse_spec, requests_from_args, validate_change

IMG = "6261c204-e75d-11e3-91fa-a311fd4ab601"
SERVICES = ["vmapi", "papi", "cn-agent"]


@pytest.mark.parametrize("arg, expected", [
    ("vmapi", {"type": "update-service", "service": "vmapi"}),
    (f"vmapi@{IMG}", {"type": "update-service", "service": "vmapi", "image": IMG}),
    ("vmapi@master-20240101T000000Z-gabc", {"type": "update-service", "service": "vmapi",
                                            "version": "master-20240101T000000Z-gabc"}),
    ("papi0", {"type": "update-instance", "instance": "papi0"}),
    (f"papi0@{IMG}", {"type": "update-instance", "instance": "papi0", "image": IMG}),
    ("headnode/cn-agent", {"type": "update-instance", "service": "cn-agent",
                           "servers": ("headnode",)}),
])
def test_args(arg: str, expected: dict) -> None:
    (req,) = requests_from_args([arg], SERVICES)
    for key, value in expected.items():
        assert getattr(req, key) == value


def test_args_source_keeps_the_original_key_order() -> None:
    (req,) = requests_from_args([f"vmapi@{IMG}"], SERVICES)
    assert req.describe() == f'{{"service":"vmapi","image":"{IMG}","type":"update-service"}}'


def test_server_agent_form_needs_a_known_service() -> None:
    with pytest.raises(UsageError, match="^unknown service: nope$"):
        requests_from_args(["headnode/nope"], SERVICES)


@pytest.mark.parametrize("change, message", [
    ({"service": "vmapi", "foo": 1, "bar": 2},
     'invalid extra fields "foo", "bar" in {"service":"vmapi","foo":1,"bar":2}'),
    ({"instance": "x", "service": "vmapi"},
     'invalid extra fields "service" in {"instance":"x","service":"vmapi"}'),
    ({"service": "vmapi", "type": "update-instance"},
     'invalid type "update-service" change in {"service":"vmapi","type":"update-instance"}'),
    ({"instance": "vmapi0", "type": "update-service"},
     'invalid type "update-instance" change in {"instance":"vmapi0","type":"update-service"}'),
    ({"image": IMG}, f'invalid change: {{"image":"{IMG}"}}'),
    ({"service": 3}, '"service" in {"service":3} (string) is required'),
    ({"type": "update-platform", "platform": "20250101T000000Z", "max_unavailable": 0,
      "selector": "all"},
     '"max_unavailable" in {"type":"update-platform","platform":"20250101T000000Z",'
     '"max_unavailable":0,"selector":"all"} (positive integer, or percentage "N%") is '
     'required'),
    ({"type": "update-platform", "platform": "20250101T000000Z"},
     'exactly one of "servers" or "selector" is required in '
     '{"type":"update-platform","platform":"20250101T000000Z"}'),
    ("vmapi", 'invalid change: "vmapi"'),
])
def test_invalid_change_objects(change, message: str) -> None:
    with pytest.raises(ValidationError) as e:
        validate_change(change)
    assert e.value.message == message
    assert e.value.exit_status == 2


def test_several_problems_are_combined_and_still_exit_2() -> None:
    with pytest.raises(MultiError) as e:
        parse_spec('[{"service": "vmapi", "x": 1}, {"bogus": true}]')
    assert e.value.message.splitlines() == [
        "multiple (2) errors",
        '    error (Validation): invalid extra fields "x" in {"service":"vmapi","x":1}',
        '    error (Validation): invalid change: {"bogus":true}',
    ]
    assert e.value.exit_status == 2


def test_stdin_object_and_array() -> None:
    one = parse_spec('{"service": "vmapi"}')
    many = parse_spec('[{"service": "vmapi"}, {"instance": "papi0", "image": "%s"}]' % IMG)
    assert [r.service for r in one.changes] == ["vmapi"]
    assert [(r.type, r.instance) for r in many.changes] == [
        ("update-service", None), ("update-instance", "papi0")]


def test_stdin_garbage_is_the_original_message() -> None:
    with pytest.raises(UsageError, match="^input is not valid JSON$"):
        parse_spec("{nope: [")


def test_yaml_document_with_options() -> None:
    doc = parse_spec(
        "channel: release\nall: true\nforce-data-path: true\nexclude: [sapi, 'moray,binder']\n"
        "changes:\n  - service: manatee\n", origin="spec.yaml")
    assert doc.channel == "release"
    assert doc.options == {"all": True, "force_data_path": True,
                           "exclude": ("sapi", "moray", "binder")}
    assert [r.service for r in doc.changes] == ["manatee"]


@pytest.mark.parametrize("text, message", [
    ("all: true\nforce-everything: true\n",
     'invalid extra fields "force-everything" in {"all":true,"force-everything":true}'),
    ("all: yes please\n", '"all" in spec (boolean) is required'),
    ("concurrency: 0\nall: true\n", '"concurrency" in spec (positive integer) is required'),
    ("changes: {service: vmapi}\n", '"changes" in spec (array) is required'),
    ("servers: []\nchanges: [{service: cn-agent}]\n",
     '"servers" in spec needs at least one server (uuid or hostname)'),
    ("servers: ', '\nchanges: [{service: cn-agent}]\n",
     '"servers" in spec needs at least one server (uuid or hostname)'),
])
def test_bad_documents(text: str, message: str) -> None:
    with pytest.raises(ValidationError) as e:
        parse_spec(text, origin="spec.yaml")
    assert e.value.message == message


def test_bad_yaml_names_the_file_and_line() -> None:
    with pytest.raises(UsageError) as e:
        parse_spec("changes:\n  - service: [vmapi\n", origin="up.yaml")
    assert e.value.message.startswith("up.yaml is not valid JSON or YAML (line ")


@pytest.mark.parametrize("text, origin, message", [
    ('{"changes": [{"service": "vmapi"}], "changes": []}', "s.json",
     's.json has the key "changes" twice: only one would be used'),
    ("changes:\n  - service: vmapi\nchanges:\n  - service: cnapi\n", "s.yaml",
     's.yaml has the key "changes" twice (line 3): only one would be used'),
    ("changes:\n  - service: vmapi\n    service: cnapi\n", "s.yaml",
     's.yaml has the key "service" twice (line 3): only one would be used'),
    ('[{"service": "vmapi", "service": "cnapi"}]', None,
     'input has the key "service" twice: only one would be used'),
])
def test_a_key_given_twice_is_refused(text: str, origin: str | None, message: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_spec(text, origin=origin)
    assert e.value.message == message


def test_yaml_anchors_merge_keys_and_a_bom_still_load() -> None:
    text = "\ufeffchanges:\r\n  - &v {service: vmapi}\r\n  - {<<: *v, service: cnapi}\r\n"
    doc = parse_spec(text, origin="s.yaml")
    assert [r.service for r in doc.changes] == ["vmapi", "cnapi"]


def test_document_without_changes_or_all_is_refused() -> None:
    with pytest.raises(UsageError, match="no changes"):
        parse_spec("channel: dev\n", origin="x.yaml")


def test_platform_change() -> None:
    doc = parse_spec('{"changes": [{"type": "update-platform", "platform": "20250101T000000Z",'
                     ' "servers": ["cn1", "cn2"], "max_unavailable": 2}]}', origin="p.json")
    (req,) = doc.changes
    assert (req.type, req.platform, req.servers, req.max_unavailable) == (
        "update-platform", "20250101T000000Z", ("cn1", "cn2"), 2)
