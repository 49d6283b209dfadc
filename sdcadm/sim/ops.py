"""Asynchronous operations: Workflow jobs (import-remote, reprovision, server reboot, VM
update, provision) and CNAPI tasks (agent install).

Each operation is a document carrying its own `_sim` progress (phase, due time). A runner
coroutine moves it through its phases when they fall due; because phase and due time are
persisted, a restarted simulator resumes every unfinished operation where it stood.
"""
from __future__ import annotations

import asyncio
import time
import uuid as uuidlib
from typing import TYPE_CHECKING, Any

from sdcadm.sim.store import now_iso

if TYPE_CHECKING:
    from sdcadm.sim.world import World

WORKFLOWS = {
    "import": ("import-remote-image-7.0.7",
               ["origin_import_images", "import_image", "add_image_file", "activate_image"], 7250),
    "reprovision": ("reprovision-7.0.4",
                    ["common.validate_params", "common.setup_request", "cnapi.acquire_vm_ticket",
                     "cnapi.wait_on_vm_ticket", "cnapi.reprovision_vm", "cnapi.wait_task",
                     "vmapi.put_vm", "cnapi.release_vm_ticket"], 210),
    "provision": ("provision-8.4.0",
                  ["common.validate_params", "cnapi.provision_vm", "cnapi.wait_task",
                                      "vmapi.put_vm"], 3600),
    "vm-action": ("update-7.3.0", ["common.validate_params", "cnapi.update_vm", "cnapi.wait_task",
                                   "vmapi.put_vm"], 180),
    "reboot": ("server-reboot-7.0.0", ["cnapi.server_reboot", "cnapi.wait_for_server_running"],
               3600),
}
LATENCY = {"import": "import-image", "reprovision": "reprovision", "provision": "reprovision",
           "vm-action": "vm-update", "reboot": "reboot"}


def job_done(world: "World", uuid: str) -> bool:
    job = world.store.get("job", uuid)
    return job is None or job.get("execution") in ("succeeded", "failed", "canceled")


def task_done(world: "World", id_: str) -> bool:
    task = world.store.get("task", id_)
    return task is None or task.get("status") in ("complete", "failure")


# -- creating operations ---------------------------------------------------------------------

def new_job(world: "World", kind: str, params: dict[str, Any], target: str) -> dict[str, Any]:
    name, chain, timeout = WORKFLOWS[kind]
    u = str(uuidlib.uuid4())
    created = now_iso()
    job = {
        "uuid": u, "workflow_uuid": str(uuidlib.uuid5(uuidlib.NAMESPACE_OID, name)), "name": name,
        "execution": "queued", "params": dict(params, target=target), "target": target,
        "exec_after": created, "created_at": created, "timeout": timeout,
        "chain": [{"name": c, "timeout": 60, "retry": 1} for c in chain],
        "onerror": [], "chain_results": [], "onerror_results": [],
        "_sim": {"kind": kind, "phase": "queued", "due": world.due("job-queue", 0.5)},
    }
    world.store.put("job", u, job)
    spawn(world, "job", u)
    return job


def reprovision(world: "World", vm: dict[str, Any], image_uuid: str) -> dict[str, Any]:
    return new_job(world, "reprovision",
                    {"vm_uuid": vm["uuid"], "image_uuid": image_uuid,
                     "server_uuid": vm.get("server_uuid"),
                     "owner_uuid": vm.get("owner_uuid"), "task": "reprovision"},
                    f"/reprovision-{vm['uuid']}")


def vm_action(world: "World", vm: dict[str, Any], action: str,
              payload: dict[str, Any]) -> dict[str, Any]:
    return new_job(world, "vm-action", {"vm_uuid": vm["uuid"], "server_uuid": vm.get("server_uuid"),
                                         "task": action, "payload": payload},
                   f"/{action}-{vm['uuid']}")


def server_reboot(world: "World", server: dict[str, Any]) -> dict[str, Any]:
    return new_job(world, "reboot", {"server_uuid": server["uuid"], "task": "server-reboot"},
                    f"/server-reboot-{server['uuid']}")


def provision(world: "World", inst_uuid: str, svc: dict[str, Any],
              inst: dict[str, Any]) -> dict[str, Any]:
    from sdcadm.sim.scenario import vm_doc

    params = dict(svc.get("params") or {})
    params.update(inst.get("params") or {})
    server = params.get("server_uuid") or next(
        (s["uuid"] for s in world.store.all("server") if s.get("headnode")), None)
    vm = vm_doc({"uuid": inst_uuid,
                 "alias": params.get("alias") or f"{svc['name']}-{inst_uuid[:8]}",
                 "server": server, "image_uuid": params.get("image_uuid"), "ip": None},
                {"name": svc["name"], "ram": params.get("max_physical_memory", 256)},
                {"admin_uuid": world.admin_uuid, "name": world.dc_name,
                 "dns_domain": world.dns_domain})
    vm.update(state="provisioning", zone_state="installed", create_timestamp=now_iso())
    world.store.put("vm", inst_uuid, vm)
    return new_job(world, "provision", {"vm_uuid": inst_uuid, "image_uuid": vm["image_uuid"],
                                         "server_uuid": server, "task": "provision"},
                   f"/provision-{inst_uuid}")


def install_agent(world: "World", server: dict[str, Any], image_uuid: str) -> dict[str, Any]:
    tid = str(uuidlib.uuid4())
    task = {"id": tid, "req_id": str(uuidlib.uuid4()), "task": "agent_install",
            "server_uuid": server["uuid"], "status": "active", "timestamp": now_iso(),
            "params": {"image_uuid": image_uuid},
            "history": [{"name": "start", "timestamp": now_iso(), "event": {}}],
            "_sim": {"kind": "agent_install", "phase": "work",
                     "due": world.due("install-agent", 15.0), "image_uuid": image_uuid}}
    world.store.put("task", tid, task)
    spawn(world, "task", tid)
    return task


# -- running them -------------------------------------------------------------------------------

def spawn(world: "World", kind: str, id_: str) -> None:
    task = asyncio.get_running_loop().create_task(_run(world, kind, id_, world.generation))
    world.runners[id_] = task
    task.add_done_callback(
        lambda _t: world.runners.pop(id_, None) if world.runners.get(id_) is _t else None)


def resume_all(world: "World") -> None:
    for job in world.store.all("job"):
        if not job_done(world, job["uuid"]) and "_sim" in job:
            spawn(world, "job", job["uuid"])
    for task in world.store.all("task"):
        if not task_done(world, task["id"]) and "_sim" in task:
            spawn(world, "task", task["id"])


async def _run(world: "World", kind: str, id_: str, generation: int) -> None:
    while world.generation == generation:
        doc = world.store.get(kind, id_)
        if doc is None or doc["_sim"]["phase"] == "done":
            world.finished(id_)
            return
        delay = doc["_sim"]["due"] - time.time()
        if delay > 0:
            await asyncio.sleep(delay)
            continue
        try:
            if kind == "task":
                await _task_step(world, doc)
            else:
                await _job_step(world, doc)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - an operation failing must not kill the runner
            if world.generation != generation:
                return
            if kind == "task":
                _finish_task(world, id_, str(e))
            else:
                finish_job(world, id_, f"{type(e).__name__}: {e}")


def set_progress(world: "World", kind: str, id_: str, **sim: Any) -> None:
    world.store.edit(kind, id_, lambda d: d["_sim"].update(sim))


def finish_job(world: "World", uuid: str, error: str | None, result: str = "OK") -> None:
    def change(job: dict[str, Any]) -> None:
        started = job["_sim"].get("started") or now_iso()
        results = []
        chain = [c["name"] for c in job["chain"]]
        if error is None:
            for name in chain:
                results.append({"name": name, "result": result, "error": "", "started_at": started,
                                "finished_at": now_iso()})
            job["execution"] = "succeeded"
        else:
            step = job["_sim"].get("fail_at") or chain[-1]
            for name in chain[:chain.index(step) if step in chain else len(chain) - 1]:
                results.append({"name": name, "result": "OK", "error": "", "started_at": started,
                                "finished_at": now_iso()})
            results.append({"name": step, "result": "",
                            "error": {"name": "Error", "message": error},
                            "started_at": started, "finished_at": now_iso()})
            job["execution"] = "failed"
        job["chain_results"] = results
        job["elapsed"] = 0
        job["_sim"]["phase"] = "done"
    world.store.edit("job", uuid, change)
    world.finished(uuid)


def _finish_task(world: "World", tid: str, error: str | None) -> None:
    def change(task: dict[str, Any]) -> None:
        if error is None:
            task["status"] = "complete"
            task["history"].append({"name": "finish", "timestamp": now_iso(), "event": {}})
        else:
            task["status"] = "failure"
            task["history"] = [{"name": "error", "timestamp": now_iso(),
                                "event": {"error": {"message": error}}},
                               {"name": "finish", "timestamp": now_iso(), "event": {}}]
        task["_sim"]["phase"] = "done"
    world.store.edit("task", tid, change)
    world.finished(tid)


async def _job_step(world: "World", job: dict[str, Any]) -> None:
    store = world.store
    sim = job["_sim"]
    kind, phase, p = sim["kind"], sim["phase"], job["params"]
    uuid = job["uuid"]
    if phase == "queued":
        store.edit("job", uuid, lambda j: (j.update(execution="running"),
                                           j["_sim"].update(phase="work", started=now_iso(),
                                                            due=world.due(LATENCY[kind], 10.0))))
        _on_start(world, kind, p)
        return
    targets = [p.get("vm_uuid"), p.get("image_uuid"), p.get("server_uuid")]
    fault = world.target_fault("fail-job", targets, action=kind)
    if kind == "import":
        from sdcadm.sim.imports import import_work

        await import_work(world, job, fault)
    elif kind in ("reprovision", "provision"):
        _vm_work(world, job, fault)
    elif kind == "vm-action":
        _vm_action_work(world, job, fault)
    elif kind == "reboot":
        _reboot_work(world, job, fault)


def _on_start(world: "World", kind: str, p: dict[str, Any]) -> None:
    store = world.store
    if kind == "reprovision":
        store.edit("vm", p["vm_uuid"],
                   lambda vm: vm.update(state="provisioning", zone_state="installed"))
        _zone_changed(world)
    elif kind == "reboot":
        from sdcadm.sim import reboots

        reboots.going_down(world, p["server_uuid"])
    elif kind == "import":
        m = dict(p["manifest"])
        m.pop("channels", None)
        # dc mode owns what it imports
        m.update(state="unactivated", files=[], owner=world.admin_uuid)
        m["_md5"] = ""
        if world.store.get("image", p["image_uuid"]) is None:
            store.put("image", p["image_uuid"], m)


def _vm_work(world: "World", job: dict[str, Any], fault: dict | None) -> None:
    p = job["params"]
    store = world.store
    vm = store.get("vm", p["vm_uuid"])
    if vm is None:
        finish_job(world, job["uuid"], f"VM {p['vm_uuid']} not found")
        return
    if fault:
        set_progress(world, "job", job["uuid"], fail_at="cnapi.wait_task")
        store.edit("vm", vm["uuid"], lambda v: v.update(state="running", zone_state="running"))
        _zone_changed(world)
        finish_job(world, job["uuid"],
                   fault.get("message") or f"reprovision of VM {vm['uuid']} failed")
        return
    stuck = world.has_fault("stuck-instance", vm["uuid"])
    state = "provisioning" if stuck else "running"

    def reprovisioned(v: dict[str, Any]) -> None:
        v.update(image_uuid=p["image_uuid"], state=state,
                 zone_state="installed" if stuck else "running", last_modified=now_iso())
        v.get("_sim", {}).pop("smf", None)  # a new zone root: its SMF services as shipped
    store.edit("vm", vm["uuid"], reprovisioned)
    _zone_changed(world)
    finish_job(world, job["uuid"], None)


def _vm_action_work(world: "World", job: dict[str, Any], fault: dict | None) -> None:
    p = job["params"]
    if fault:
        finish_job(world, job["uuid"],
                   fault.get("message") or f"{p['task']} of VM {p['vm_uuid']} failed")
        return
    task, payload = p["task"], p.get("payload") or {}

    def change(vm: dict[str, Any]) -> None:
        if task == "update":
            for k, v in payload.items():
                if k in ("tags", "customer_metadata", "internal_metadata") and isinstance(v, dict):
                    vm.setdefault(k, {}).update(v)
                elif k.startswith("set_") and isinstance(v, dict):
                    vm.setdefault(k[4:], {}).update(v)
                elif k.startswith("remove_") and isinstance(v, list):
                    for key in v:
                        vm.setdefault(k[7:], {}).pop(key, None)
                else:
                    vm[k] = v
        elif task == "stop":
            vm.update(state="stopped", zone_state="installed")
        elif task == "destroy":
            vm.update(state="destroyed", zone_state="destroyed", destroyed=now_iso())
        elif task in ("start", "reboot"):
            vm.update(state="running", zone_state="running")
        vm["last_modified"] = now_iso()
    world.store.edit("vm", p["vm_uuid"], change)
    _zone_changed(world)
    finish_job(world, job["uuid"], None)


def _zone_changed(world: "World") -> None:
    """A zone stopped, started or is being reprovisioned: a manatee shard, binder ensemble
    or moray shard that loses (or regains) its quorum by it is recorded, as a reboot's is.
    The shard's roles are left to the reboot model."""
    from sdcadm.sim import quorum

    quorum.evaluate(world)


def _reboot_work(world: "World", job: dict[str, Any], fault: dict | None) -> None:
    from sdcadm.sim import reboots

    p = job["params"]
    server = p["server_uuid"]
    if fault:
        # The reboot was refused before the server went anywhere.
        reboots.back(world, server)
        finish_job(world, job["uuid"], fault.get("message") or f"reboot of server {server} failed")
        return
    if world.has_fault("reboot-hang", server):
        set_progress(world, "job", job["uuid"], fail_at="cnapi.wait_for_server_running")
        finish_job(world, job["uuid"], reboots.never_back(world, server))
        return
    reboots.back(world, server)
    finish_job(world, job["uuid"], None)


async def _task_step(world: "World", task: dict[str, Any]) -> None:
    sim = task["_sim"]
    server = task["server_uuid"]
    image_uuid = sim["image_uuid"]
    fault = world.target_fault("fail-job", [server, image_uuid], action="install-agent")
    if fault:
        _finish_task(world, task["id"],
                     fault.get("message") or f"agent install of {image_uuid} failed")
        return
    srv = world.store.get("server", server) or {}
    if srv.get("status") != "running":
        _finish_task(world, task["id"], f"server {server} is not running (cn-agent did not answer)")
        return
    img = world.store.get("image", image_uuid)
    if img is None or img.get("state") != "active":
        _finish_task(world, task["id"], f"image {image_uuid} not found in the datacenter IMGAPI")
        return
    version = str((img.get("tags") or {}).get("version") or img.get("version"))

    def change(s: dict[str, Any]) -> None:
        from sdcadm.sim.scenario import agent_uuid

        for a in s["agents"]:
            if a["name"] == img["name"]:
                a.update(image_uuid=image_uuid, version=version)
                break
        else:
            s["agents"].append({"name": img["name"], "version": version, "image_uuid": image_uuid,
                                "uuid": agent_uuid(server, img["name"])})
        s["sysinfo"]["SDC Agents"] = [{"name": a["name"], "version": a["version"],
                                       "image_uuid": a["image_uuid"]}
                                      for a in s["agents"]]
    world.store.edit("server", server, change)
    _finish_task(world, task["id"], None)
