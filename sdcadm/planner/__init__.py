"""Pure update planning: from the gathered datacenter and the operator's requests to a Plan.

No HTTP, no clock, no printing here (the one exception, `topology`, reads HA roles
through the remote seam and is called by the CLI before planning).
"""
from sdcadm.planner.core import all_services, plan
from sdcadm.planner.options import PlanOptions
from sdcadm.planner.spec import SpecDocument, parse_spec, requests_from_args, validate_changes

__all__ = [
    "PlanOptions", "SpecDocument", "all_services", "parse_spec", "plan", "requests_from_args",
    "validate_changes",
]
