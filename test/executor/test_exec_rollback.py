"""Rollback requests from a saved update plan (pure)."""
from __future__ import annotations

import json

import pytest

from sdcadm.errors import UsageError
from sdcadm.executor.rollback import load_plan_file, rollback_blocks, rollback_requests

OLD, NEW = "11111111-1111-4111-8111-111111111111", "22222222-2222-4222-8222-222222222222"


def _svc_change(name="papi", old=OLD, new=NEW, ctype="update-service", insts=()):
    return {"type": ctype, "service": {"name": name, "params": {"image_uuid": old} if old else {}},
            "image": {"uuid": new}, "insts": list(insts)}


@pytest.mark.parametrize("changes, expect, refused", [
    ([_svc_change()], [("update-service", "papi", None, OLD)], 0),
    ([_svc_change(), _svc_change()], [("update-service", "papi", None, OLD)], 0),
    ([_svc_change(old=NEW)], [], 0),  # already at that image: nothing to do
    ([_svc_change("cn-agent", old=None, ctype="update-agent",
                  insts=[{"instance": "a", "image": OLD}, {"instance": "b", "image": OLD}])],
     [("update-service", "cn-agent", None, OLD)], 0),
    ([_svc_change("cn-agent", old=None, ctype="update-agent",
                  insts=[{"instance": "a", "image": OLD}, {"instance": "b", "image": NEW}])],
     [], 1),
    ([_svc_change(ctype="update-instance", insts=[{"instance": "vm1", "image": OLD}])],
     [("update-instance", None, "vm1", OLD)], 0),
    ([{"type": "update-platform", "service": None}], [], 1),
])
def test_rollback_requests(changes, expect, refused):
    reqs, why = rollback_requests({"changes": changes})
    assert [(r.type, r.service, r.instance, r.image) for r in reqs] == expect
    assert len(why) == refused


def test_platform_refusal_names_platform_servers_and_previous_platform():
    change = {"type": "update-platform", "service": None, "image": None, "platform": "P2",
              "insts": [{"instance": "s1", "hostname": "cn03", "version": "P1"},
                        {"instance": "s2", "hostname": "cn04", "version": "P0"}]}
    reqs, why = rollback_requests({"changes": [change]})
    assert reqs == []
    assert why == ['cannot roll back the platform update to P2 on cn03, cn04 (they ran P0, P1 '
                   'before): platforms are not rolled back; to go back, update the platform '
                   'again with an "update-platform" change']


def test_blocks_read_as_rollback():
    blocks = [["update \"papi\" service (1 instance) to image X:", "    1 instance ..."],
              ["download 1 image (1 MiB):"]]
    assert rollback_blocks(blocks)[0][0] == "rollback \"papi\" service (1 instance) to image X:"
    assert rollback_blocks(blocks)[1] == blocks[1]


@pytest.mark.parametrize("content, message", [
    (None, "cannot read update plan"),
    ("{nope", "is not valid JSON"),
    (json.dumps({"v": 1}), 'has no "changes" list'),
])
def test_bad_plan_files(tmp_path, content, message):
    path = tmp_path / "plan.json"
    if content is not None:
        path.write_text(content)
    with pytest.raises(UsageError, match=message):
        load_plan_file(path)
