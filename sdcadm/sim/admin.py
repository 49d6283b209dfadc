"""The simulator's own admin surface (`/_sim/...`): reset, faults, mutation log, latencies."""
from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from sdcadm.sim.web import RestError, json_body, no_content, not_found, send
from sdcadm.sim.world import FaultError

if TYPE_CHECKING:
    from sdcadm.sim.world import World


def routes(world: "World", info: dict[str, Any], shutdown: Callable[[], None]) -> list[Route]:
    store = world.store

    async def ping(request: Request) -> Response:
        return send({"ping": "pong", "simulator": True})

    async def status(request: Request) -> Response:
        counts = {k: len(v) for k, v in store.docs.items()}
        return send(dict(info, pid=os.getpid(), urls=world.urls, time_scale=world.time_scale,
                         counts=counts, running_operations=len(world.runners)))

    async def reset(request: Request) -> Response:
        t = time.monotonic()
        world.reset()
        return send({"reset": True, "ms": round((time.monotonic() - t) * 1000, 1)})

    async def list_faults(request: Request) -> Response:
        return send(world.faults())

    async def add_fault(request: Request) -> Response:
        body = await json_body(request)
        specs = body if isinstance(body, list) else [body]
        try:
            added = [world.add_fault(s) for s in specs]
        except FaultError as e:
            raise RestError(422, "ValidationFailed", str(e)) from e
        return send(added if isinstance(body, list) else added[0], status=200)

    async def clear_faults(request: Request) -> Response:
        world.clear_faults()
        return no_content()

    async def delete_fault(request: Request) -> Response:
        if not store.delete("fault", request.path_params["id"]):
            raise not_found(f"no such fault: {request.path_params['id']}")
        return no_content()

    async def mutations(request: Request) -> Response:
        return send(store.mutations())

    async def clear_mutations(request: Request) -> Response:
        store.clear_mutations()
        return no_content()

    async def latencies(request: Request) -> Response:
        return send(store.get("sim", "latencies") or {})

    async def set_latencies(request: Request) -> Response:
        body = await json_body(request)
        if not isinstance(body, dict):
            raise RestError(422, "ValidationFailed",
                            "latencies are a JSON object of name -> seconds")
        try:
            values = {str(k): float(v) for k, v in body.items()}
        except (TypeError, ValueError):
            raise RestError(422, "ValidationFailed",
                            "latency values must be numbers (seconds)") from None
        lat = dict(store.get("sim", "latencies") or {})
        lat.update(values)
        store.put("sim", "latencies", lat)
        return send(lat)

    async def quorum_losses(request: Request) -> Response:
        from sdcadm.sim import quorum

        return send(quorum.losses(world))

    async def stop(request: Request) -> Response:
        shutdown()
        return send({"stopping": True})

    return [
        Route("/ping", ping),
        Route("/_sim/status", status, methods=["GET"]),
        Route("/_sim/reset", reset, methods=["POST"]),
        Route("/_sim/faults", list_faults, methods=["GET"]),
        Route("/_sim/faults", add_fault, methods=["POST"]),
        Route("/_sim/faults", clear_faults, methods=["DELETE"]),
        Route("/_sim/faults/{id}", delete_fault, methods=["DELETE"]),
        Route("/_sim/mutations", mutations, methods=["GET"]),
        Route("/_sim/mutations", clear_mutations, methods=["DELETE"]),
        Route("/_sim/latencies", latencies, methods=["GET"]),
        Route("/_sim/latencies", set_latencies, methods=["POST"]),
        Route("/_sim/quorum-losses", quorum_losses, methods=["GET"]),
        Route("/_sim/shutdown", stop, methods=["POST"]),
    ]
