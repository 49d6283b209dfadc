"""Waiting for Workflow jobs and CNAPI tasks, interruptibly and with bounded poll errors."""
from __future__ import annotations

import json
import time
from typing import Any, Callable, Mapping

from sdcadm.errors import SdcAdmError, StepFailedError
from sdcadm.executor.context import ExecContext
from sdcadm.plan import Step

FINISHED_JOB = ("succeeded", "failed", "canceled")
MAX_POLL_ERRORS = 5  # as the original's clients: five poll errors in a row abort the wait


def wait_job(
    ctx: ExecContext,
    get_job: Callable[[str], Mapping[str, Any]],
    job_uuid: str,
    *,
    timeout: float,
    what: str,
    shown: Any = None,
) -> Mapping[str, Any]:
    """Poll a Workflow job until it finishes; raise with the last chain result's error.
    `shown`, an activity of the progress, hears what the job is doing."""
    deadline = time.monotonic() + timeout
    errors = 0
    while True:
        try:
            job = get_job(job_uuid)
            errors = 0
            if shown is not None:
                shown.detail(job_doing(job))
        except SdcAdmError:
            errors += 1
            if errors >= MAX_POLL_ERRORS:
                raise
            job = None
        if job is not None and job.get("execution") in FINISHED_JOB:
            err = job_error(job)
            if job.get("execution") != "succeeded" or err:
                raise StepFailedError(
                    f"{what} failed (job {job_uuid} {job.get('execution')}): "
                    f"{err or 'no error detail'}")
            return job
        if time.monotonic() >= deadline:
            raise StepFailedError(f"timeout waiting for {what} (job {job_uuid})")
        ctx.sleep()


def job_doing(job: Mapping[str, Any]) -> str:
    """`running, last task: machine_reprovision`: where a job stands, for progress."""
    results = job.get("chain_results") or []
    last = (results[-1] or {}).get("name") if results else None
    return str(job.get("execution") or "queued") + (f", last task: {last}" if last else "")


def job_error(job: Mapping[str, Any]) -> str | None:
    """The error of the last chain result, as the node clients read it."""
    results = job.get("chain_results") or []
    if not results:
        return None
    err = results[-1].get("error")
    if not err:
        return None
    if isinstance(err, Mapping):
        return str(err.get("message") or json.dumps(err))
    return str(err)


def task_error(task: Mapping[str, Any]) -> str:
    for h in task.get("history") or []:
        err = ((h or {}).get("event") or {}).get("error")
        if err:
            return str(err.get("message") if isinstance(err, Mapping) else err)
    return f"task {task.get('id')} ended with status {task.get('status')}"


def wait_task(ctx: ExecContext, task_id: str, *, timeout: float, what: str) -> Mapping[str, Any]:
    """Long-poll a CNAPI task (`/tasks/:id/wait`) in short slices so Ctrl-C is honoured."""
    cnapi = ctx.clients.cnapi
    deadline = time.monotonic() + timeout
    errors = 0
    while True:
        ctx.check_cancel()
        remaining = deadline - time.monotonic()
        asked = time.monotonic()
        try:
            task = cnapi.wait_task(task_id, max(1, min(int(remaining) + 1, 10)))
            errors = 0
        except SdcAdmError:
            errors += 1
            if errors >= MAX_POLL_ERRORS:
                raise
            ctx.sleep()
            continue
        status = task.get("status")
        if status == "complete":
            return task
        if status == "failure":
            raise StepFailedError(f"{what} failed: {task_error(task)}")
        if time.monotonic() >= deadline:
            raise StepFailedError(f"timeout waiting for {what} (task {task_id})")
        if time.monotonic() - asked < 0.5:
            ctx.sleep()  # the server answered without long-polling: do not spin


def follow_job(
    ctx: ExecContext,
    step: Step,
    started: Mapping[str, Any] | None,
    get_job: Callable[[str], Mapping[str, Any]],
    *,
    request: str,
    timeout: float,
    what: str,
) -> Mapping[str, Any]:
    """Journal the job that `request` just started (so a resumed run waits for it instead
    of starting another), then wait until it finishes."""
    job_uuid = (started or {}).get("job_uuid")
    if not job_uuid:
        raise StepFailedError(f"{request} returned no job: {started!r}")
    ctx.note(step, job_uuid=job_uuid)
    with ctx.waiting(what) as shown:
        return wait_job(ctx, get_job, job_uuid, timeout=timeout, what=what, shown=shown)


def settle_jobs(
    ctx: ExecContext,
    step: Step,
    get_job: Callable[[str], Mapping[str, Any]],
    param: str,
    value: str,
    *,
    timeout: float,
    what: str,
) -> None:
    """Before a `check` judges a step: wait for the job an earlier run left in flight.

    That is the journalled job, or else any unfinished one whose `params[param] == value`:
    its result decides, and a second one must not be started meanwhile. Whether it worked
    is for the check to read from the datacenter, not from the job.
    """
    noted = ctx.notes(step).get("job_uuid")
    jobs = [noted] if noted else unfinished_jobs(ctx, param, value)
    for job in jobs:
        try:
            wait_job(ctx, get_job, job, timeout=timeout, what=what)
        except StepFailedError:
            pass


def unfinished_jobs(ctx: ExecContext, param: str, value: str) -> list[str]:
    """Uuids of queued/running Workflow jobs whose `params[param] == value`.

    Resume uses it when a run died between submitting a job and journalling its uuid: the
    job may still be running, and submitting a second one would repeat the change.
    """
    found: list[str] = []
    for execution in ("running", "queued"):
        try:
            jobs = ctx.clients.wfapi.list_jobs(execution=execution)
        except SdcAdmError:
            return found
        for job in jobs or []:
            if (job.get("params") or {}).get(param) == value and job.get("uuid"):
                found.append(job["uuid"])
    return found
