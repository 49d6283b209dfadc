"""Commands over SSH (`Remote`) against the simulated servers: what the server receives is
the exact argument vector sdcadm meant, whatever the arguments contain."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

import pytest
import requests

from sdcadm.clients.remote import Remote
from sdcadm.config import load_config

NASTY = [
    "two words",
    "it's",
    'say "hi"',
    "a; svcadm disable svc:/smartdc/agent/cn-agent:default",
    "$(svcadm disable cn-agent)",
    "`svcadm disable cn-agent`",
    "first line\nsecond line",
    "${HOME} $PATH * ? [a] ~ & | > /tmp/x < /etc/passwd",
    "back\\slash",
    "'",
    "-",
    "",
    "über",
]


@pytest.fixture
def remote(sim: Any) -> Iterator[Remote]:
    r = Remote(load_config(Path(sim.config_path)))
    r.learn(requests.get(sim.urls["cnapi"] + "/servers", params={"extras": "sysinfo"},
                         timeout=10).json())
    yield r
    r.close()


def headnode(sim: Any) -> str:
    servers = requests.get(sim.urls["cnapi"] + "/servers", timeout=10).json()
    return next(s["uuid"] for s in servers if s["headnode"])


@pytest.mark.parametrize("word", NASTY, ids=lambda w: json.dumps(w))
def test_an_argument_arrives_as_one_exact_word(remote, sim, word):
    # `svcs -vxz ZONE` takes exactly one word after -vxz (else its usage, exit 2) and
    # prints it back: the server saw three words, the last one exactly this one.
    res = remote.run(headnode(sim), ["svcs", "-vxz", word], timeout=5)
    assert (res.exit_status, res.stdout, res.stderr) == (1, "", f"svcs: zone '{word}' unknown\n")
    assert sim.mutations() == []  # nothing in it ran


def test_many_arguments_keep_their_boundaries(remote, sim):
    res = remote.run(headnode(sim), ["echo", *NASTY], timeout=5)
    assert (res.exit_status, res.stdout, res.stderr) == (0, " ".join(NASTY) + "\n", "")
    res = remote.run(headnode(sim), ["svcs", "-vxz", "a", "b"], timeout=5)
    assert res.exit_status == 2 and res.stderr.startswith("Usage: svcs ")
    assert sim.mutations() == []


def test_a_command_name_is_never_a_shell_line(remote, sim):
    res = remote.run(headnode(sim), ["svcs -vx; svcadm disable cn-agent"], timeout=5)
    assert (res.exit_status, res.stdout) == (127, "")
    assert res.stderr == "bash: svcs -vx; svcadm disable cn-agent: command not found\n"
    # an unknown command is logged as an attempt, as the one line the server received
    (logged,) = sim.mutations()
    assert logged["path"] == "headnode: 'svcs -vx; svcadm disable cn-agent'"
