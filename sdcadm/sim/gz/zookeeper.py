"""ZooKeeper's four-letter words on a binder zone's port 2181 (`stat`, `ruok`, `mntr`)."""
from __future__ import annotations

from sdcadm.sim import quorum
from sdcadm.sim.gz import Call, Output

NOT_SERVING = "This ZooKeeper instance is not currently serving requests\n"


def four_letter(call: Call, host: str, word: str) -> Output:
    vm = call.zone
    if vm is None or (vm.get("tags") or {}).get("smartdc_role") != "binder" \
            or host not in ("127.0.0.1", "localhost"):
        return call.fail(f"nc: connect to {host} port 2181 (tcp) failed: Connection refused")
    mode = quorum.zk_mode(call.world, vm)
    if word == "ruok":
        return ("imok" if mode else ""), "", 0
    if mode is None:
        return NOT_SERVING, "", 0
    if word == "stat":
        return ("Zookeeper version: 3.4.14-4c25d480e66aadd371de8bd2fd8da255ac140bcf, "
                "built on 03/06/2019 16:18 GMT\n"
                "Clients:\n /127.0.0.1:41234[0](queued=0,recved=1,sent=0)\n\n"
                "Latency min/avg/max: 0/0/17\nReceived: 84211\nSent: 84230\nConnections: 7\n"
                f"Outstanding: 0\nZxid: 0x30000a1f2\nMode: {mode}\nNode count: 212\n"), "", 0
    if word == "mntr":
        return (f"zk_version\t3.4.14\nzk_server_state\t{mode}\nzk_znode_count\t212\n"), "", 0
    return "", "", 0
