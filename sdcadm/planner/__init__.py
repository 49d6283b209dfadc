"""Pure update planning: from the gathered datacenter and the operator's requests to a Plan.

No HTTP, no clock, no printing here (the one exception, `topology`, reads HA roles
through the remote seam and is called by the CLI before planning).

The names below load their modules when first used: a command that only needs the options
(`PlanOptions`, `rules`) before it reads the datacenter can load the planner itself while
the reads are on their way (`gather(..., meanwhile=)`).
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sdcadm.planner.core import all_services, plan
    from sdcadm.planner.options import PlanOptions
    from sdcadm.planner.spec import SpecDocument, parse_spec, requests_from_args, validate_changes

_WHERE = {
    "all_services": "core", "plan": "core", "PlanOptions": "options",
    "SpecDocument": "spec", "parse_spec": "spec", "requests_from_args": "spec",
    "validate_changes": "spec",
}

__all__ = [
    "PlanOptions", "SpecDocument", "all_services", "parse_spec", "plan", "requests_from_args",
    "validate_changes",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{where}"), name)
