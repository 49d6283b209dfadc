"""The one table of effect handlers: step action -> handler (run + check).

This is the only code that mutates the datacenter. Adding a step action means adding a
handler here; the executor refuses a plan with an action it has no handler for.
"""
from __future__ import annotations

from typing import Any

from sdcadm.executor.handlers.agents import InstallAgent
from sdcadm.executor.handlers.images import ImportImage
from sdcadm.executor.handlers.platforms import platform_handlers
from sdcadm.executor.handlers.rejoin import JoinDns, JoinZookeeper, LeaveDns
from sdcadm.executor.handlers.servers import RebootServer, SetBootPlatform
from sdcadm.executor.handlers.shard import CheckShard
from sdcadm.executor.handlers.verify import Verify
from sdcadm.executor.handlers.vms import Reprovision, SapiUpdateService, WaitInstance


def default_handlers(gate: Any = None) -> dict[str, Any]:
    """A fresh table (handlers keep per-run state such as progress bars)."""
    return {
        "import-image": ImportImage(),
        "sapi-update-service": SapiUpdateService(),
        "reprovision": Reprovision(),
        "wait-instance": WaitInstance(gate),
        "check-shard": CheckShard(),
        "install-agent": InstallAgent(),
        "set-boot-platform": SetBootPlatform(),
        "reboot-server": RebootServer(),
        "dns-leave": LeaveDns(),
        "dns-join": JoinDns(),
        "zk-join": JoinZookeeper(),
        "verify": Verify(),
        **platform_handlers(),
    }
