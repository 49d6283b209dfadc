"""`sysinfo` in a global zone: the server's sysinfo, as SmartOS prints it (JSON).

The answer is the CNAPI server document's `sysinfo`, so it follows what the simulator does
to the server (a reboot onto another platform changes `Live Image` and `Boot Time`, an agent
install `SDC Agents`). `-f` (force a refresh) gives the same answer.
"""
from __future__ import annotations

import json

from sdcadm.sim.gz import Call, Output, command

USAGE = "Usage: sysinfo [-f]"


@command("sysinfo")
def sysinfo(call: Call) -> Output:
    if any(a != "-f" for a in call.argv[1:]):
        return call.fail(USAGE, 2)
    return json.dumps(call.server.get("sysinfo") or {}, indent=2) + "\n", "", 0
