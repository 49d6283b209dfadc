"""svcs output: the original's verdict, block parsing, attribution to agents by FMRI."""
from __future__ import annotations

import pytest

from sdcadm.health.smf import attribute, blocks, owner, service_path, svcs_errors

CN_AGENT = """svc:/smartdc/agent/cn-agent:default (cn-agent)
 State: maintenance since Mon Nov 02 10:00:00 2026
Reason: Start method exited with $SMF_EXIT_ERR_FATAL.
   See: http://illumos.org/msg/SMF-8000-KS
   See: /var/svc/log/smartdc-agent-cn-agent:default.log
Impact: This service is not running.
"""
LOCAL_FS = """svc:/system/filesystem/local:default (local file system mounts)
 State: maintenance since Mon Nov 02 10:00:00 2026
Reason: Start method exited with $SMF_EXIT_ERR_FATAL.
Impact: 33 dependent services are not running.
"""
CMON_AGENT = """svc:/smartdc/agent/cmon-agent:default (cmon-agent)
 State: offline since Mon Nov 02 10:00:00 2026
Reason: Dependency svc:/system/filesystem/local is absent.
"""


@pytest.mark.parametrize("status,out,err,expected", [
    (0, "", "", ()),
    # `svcs -vx FMRI` describes a named service even when it is fine
    (0, "svc:/smartdc/agent/cn-agent:default (cn-agent)\n State: online since x\n", "", ()),
    (0, CN_AGENT, "", ("SMF svcs check failed: stdout: " + CN_AGENT.rstrip("\n"),)),
    (1, "", "svcs: zone 'x' unknown\n\n",
     ("SMF svcs check failed: svcs returned 1",
      "SMF svcs check failed: stderr: svcs: zone 'x' unknown")),
    (0, "", "warning\n", ("SMF svcs check failed: stderr: warning",)),
    (2, "junk", "", ("SMF svcs check failed: svcs returned 2",
                     "SMF svcs check failed: stdout: junk")),
])
def test_svcs_errors(status, out, err, expected):
    assert svcs_errors(status, out, err) == expected


@pytest.mark.parametrize("text,expected", [
    ("", []),
    ("\n\n", []),
    (CN_AGENT, [("svc:/smartdc/agent/cn-agent:default", CN_AGENT.rstrip("\n"))]),
    (CN_AGENT + "\n" + LOCAL_FS,
     [("svc:/smartdc/agent/cn-agent:default", CN_AGENT.rstrip("\n")),
      ("svc:/system/filesystem/local:default", LOCAL_FS.rstrip("\n"))]),
    # text before any FMRI line is kept, not dropped
    ("svcs: something odd\n" + CN_AGENT,
     [(None, "svcs: something odd"),
      ("svc:/smartdc/agent/cn-agent:default", CN_AGENT.rstrip("\n"))]),
])
def test_blocks(text, expected):
    assert blocks(text) == expected


@pytest.mark.parametrize("fmri,path", [
    ("svc:/smartdc/agent/cn-agent:default", "smartdc/agent/cn-agent"),
    ("svc:/system/filesystem/local:default", "system/filesystem/local"),
    ("svc:/network/ssh", "network/ssh"),
    ("lrc:/etc/rc2_d/S20sysetup", "etc/rc2_d/S20sysetup"),
])
def test_service_path(fmri, path):
    assert service_path(fmri) == path


@pytest.mark.parametrize("fmri,agents,expected", [
    ("svc:/smartdc/agent/cn-agent:default", ["cn-agent", "vm-agent"], "cn-agent"),
    ("svc:/smartdc/agent/amon-agent:default", ["agent", "amon-agent"], "amon-agent"),
    ("svc:/smartdc/agent/vm-agent:default", ["vm-agent"], "vm-agent"),
    # a component must match whole: `agent` is not the owner of cn-agent
    ("svc:/smartdc/agent/cn-agent:default", ["agent"], "cn-agent"),
    ("svc:/system/filesystem/local:default", ["cn-agent"], None),
    ("svc:/smartdc/agent/unlisted:default", ["cn-agent"], "unlisted"),
    (None, ["cn-agent"], None),
])
def test_owner(fmri, agents, expected):
    assert owner(fmri, agents) == expected


def test_attribute_splits_one_svcs_run_per_agent_and_the_rest():
    out = CN_AGENT + "\n" + LOCAL_FS + "\n" + CMON_AGENT
    parts = attribute(out, ["cn-agent", "cmon-agent", "vm-agent"])
    assert parts == {"cn-agent": CN_AGENT, None: LOCAL_FS, "cmon-agent": CMON_AGENT}
    assert attribute("", ["cn-agent"]) == {}
