"""`sdcadm rehearse`: run an update on a private simulated copy of the live datacenter first.

snapshot (`sdcadm-sim snapshot`, reads only) -> private simulator (`sdcadm-sim up`, its own
process on loopback) -> `sdcadm update --plan ... -y` there at an accelerated clock, and
`--resume` after a failure -> a report (predicted time, outages, quorum losses, failures)
kept beside the live history. Every request that reaches the live datacenter is made by a
child process writing sdcadm's request log, which the rehearsal counts at the end.
"""
from __future__ import annotations

from sdcadm.errors import SdcAdmError


class SimulatorError(SdcAdmError):
    """The private simulator could not be started or did not answer."""

    code = "Simulator"
    exit_status = 1


class RehearsalFailed(SdcAdmError):
    """The rehearsed update did not complete, not even after `--resume`, or lost a quorum;
    the report says what happened."""

    code = "RehearsalFailed"
    exit_status = 1


class LiveWriteError(SdcAdmError):
    """The live datacenter received a request other than a read during the rehearsal."""

    code = "LiveWrite"
    exit_status = 1


class ForwardedError(SdcAdmError):
    """The error line of an sdcadm command the rehearsal ran, with its code and status."""

    def __init__(self, code: str, message: str, exit_status: int) -> None:
        super().__init__(message)
        self.code = code
        self.exit_status = exit_status
