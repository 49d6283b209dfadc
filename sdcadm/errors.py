"""One error tree. Every error knows its code and exit status; only the CLI prints them.

The codes and exit statuses are the original sdcadm's (UsageError -> `Usage`, exit 2;
SDCClientError -> `SDCClient`, exit 1; ...), so scripts written against it keep working.
"""
from __future__ import annotations

from typing import Any, Iterable


class SdcAdmError(Exception):
    """Base of every error sdcadm reports to the operator."""

    code = "InternalError"
    exit_status = 1

    def __init__(self, message: str, *, cause: BaseException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause

    def to_json(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message}


class UsageError(SdcAdmError):
    code = "Usage"
    exit_status = 2


class UpdateError(SdcAdmError):
    code = "Update"
    exit_status = 2


class ValidationError(SdcAdmError):
    code = "Validation"
    exit_status = 2


class ConfigError(SdcAdmError):
    """A bad configuration file or key; the message names the file and the key."""

    code = "Config"
    exit_status = 2


class PlanDriftError(SdcAdmError):
    """A saved plan no longer matches the datacenter it was computed from."""

    code = "PlanDrift"
    exit_status = 2


class PlanTamperedError(SdcAdmError):
    """A saved plan or a run's journal says something its own plan does not derive: it was
    edited (or damaged) after it was written."""

    code = "PlanTampered"
    exit_status = 2


class UnfinishedRunError(SdcAdmError):
    """An update or rollback is unfinished: resume or abandon it before starting another."""

    code = "UnfinishedRun"
    exit_status = 2


class JournalError(SdcAdmError):
    """A run's journal cannot be read as one (a damaged or edited file)."""

    code = "Journal"
    exit_status = 2


class InstanceIsDownError(SdcAdmError):
    code = "InstanceIsDown"
    exit_status = 2


class InternalError(SdcAdmError):
    code = "InternalError"
    exit_status = 1


class LockError(SdcAdmError):
    """Another update or rollback holds the headnode lock."""

    code = "Lock"
    exit_status = 1


class LeaseError(SdcAdmError):
    """Another run holds the datacenter lease (exit 2: a refusal), or the lease cannot be
    written at all (exit 1)."""

    code = "Lease"
    exit_status = 2

    def __init__(self, message: str, *, runtime: bool = False) -> None:
        super().__init__(message)
        if runtime:
            self.exit_status = 1


class PreflightError(SdcAdmError):
    """A run cannot start: what it needs (a writable work directory, the APIs it talks to)
    is not there. Nothing was changed."""

    code = "Preflight"
    exit_status = 1


class NoSpaceError(SdcAdmError):
    """Not enough free space where a run, a download or an install must write."""

    code = "NoSpace"
    exit_status = 1


class WriteFailedError(SdcAdmError):
    """A file the run must keep (its journal, plan, history fallback) could not be written
    (a full disk, an I/O error): the run stops where it is, to be resumed."""

    code = "WriteFailed"
    exit_status = 1

    def __init__(self, message: str, *, step: str | None = None,
                 cause: BaseException | None = None) -> None:
        super().__init__(message, cause=cause)
        self.step = step  # the step whose event could not be written, if any


class StepFailedError(SdcAdmError):
    """A step of a running plan failed; the journal says which and why."""

    code = "StepFailed"
    exit_status = 1


class Interrupted(SdcAdmError):
    """The operator pressed Ctrl-C; the run was recorded and can be resumed."""

    code = "Interrupted"
    exit_status = 130


class UnhealthyDatacenter(SdcAdmError):
    """`update --verify`: some instance is unhealthy or an API does not answer."""

    code = "Unhealthy"
    exit_status = 1


class Cancelled(SdcAdmError):
    """An operator cancelled the run from elsewhere (`sdcadm reboot-plan cancel`)."""

    code = "Cancelled"
    exit_status = 1


class HeadnodeRebooting(Interrupted):
    """The run rebooted the headnode it runs on: it stops here and continues when run again
    once the headnode is back. Exit status 75 (EX_TEMPFAIL: try again later)."""

    code = "HeadnodeRebooting"
    exit_status = 75


class SDCClientError(SdcAdmError):
    """An API answered with an error, or could not be reached.

    Prints as `sapi client error (ResourceNotFound): no such service: X`, followed by one
    indented `field: code: message` line per entry of the body's `errors` array.
    """

    code = "SDCClient"
    exit_status = 1

    def __init__(
        self,
        client: str,
        rest_code: str | None,
        message: str,
        *,
        status: int | None = None,
        body: Any = None,
        cause: BaseException | None = None,
    ) -> None:
        self.client = client
        self.rest_code = rest_code
        self.status = status
        self.body = body
        self.api_message = message
        text = f"{client} client error ({rest_code or status or 'Error'}): {message}"
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list):
            for e in errors:
                if isinstance(e, dict):
                    parts = [str(e.get(k)) for k in ("field", "code", "message") if e.get(k)]
                    text += "\n    " + ": ".join(parts)
        super().__init__(text, cause=cause)

    @property
    def not_found(self) -> bool:
        return self.rest_code == "ResourceNotFound" or self.status == 404



def transient(e: BaseException) -> bool:
    """An API hiccup rather than an answer (a 5xx, a connection lost or timed out): worth a
    re-check and another try."""
    if not isinstance(e, SDCClientError):
        return False
    return e.status in (500, 502, 503, 504) or e.rest_code in ("ConnectionError",
                                                               "RequestTimeout")

class RemoteError(SdcAdmError):
    """A server could not be reached, refused us, or a command did not finish in time."""

    code = "Remote"
    exit_status = 1

    def __init__(self, message: str, *, kind: str = "error",
                 cause: BaseException | None = None) -> None:
        super().__init__(message, cause=cause)
        # unreachable | host-key | auth | timeout | error: callers group failures by kind
        self.kind = kind


class MultiError(SdcAdmError):
    code = "MultiError"
    exit_status = 1

    def __init__(self, errors: Iterable[SdcAdmError]) -> None:
        self.errors = list(errors)
        lines = [f"multiple ({len(self.errors)}) errors"]
        lines += [f"    error ({e.code}): {e.message}" for e in self.errors]
        super().__init__("\n".join(lines))
        # A MultiError of usage/validation errors is still a usage problem.
        if self.errors and all(e.exit_status == 2 for e in self.errors):
            self.exit_status = 2
