"""What every simulated service shares: restify-style errors and responses, request
parameters, and the outer ASGI layer (headers, mutation log, injected faults)."""
from __future__ import annotations

import asyncio
import json
import socket
import time
import uuid as uuidlib
from typing import TYPE_CHECKING, Any, Callable

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

if TYPE_CHECKING:
    from sdcadm.sim.world import World

UUID_RE = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"


def loopback_socket(port: int, *, or_any: bool = True) -> socket.socket:
    """A non-blocking TCP socket listening on 127.0.0.1:`port`; when that port is taken and
    `or_any`, on any free one (a restart that finds its recorded port in use)."""
    def bind(p: int) -> socket.socket:
        # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on accepted sockets whose
        # proto says TCP, and without it every response waits ~40 ms for a delayed ACK.
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", p))
            sock.listen(1024)
        except OSError:
            sock.close()
            raise
        sock.setblocking(False)
        return sock

    try:
        return bind(port)
    except OSError:
        if not port or not or_any:
            raise
        return bind(0)


PROBE_HEADER = "x-sim-probe"  # `sdcadm-sim up --detach` asking whether a service is up

class RestError(Exception):
    """An error response as restify would send it: `{code, message[, errors]}`.

    `code=None` gives restify's bare `{message}` body (a plain JS Error); `empty=True` an
    empty body (a handler that did `res.send(404)`).
    """

    def __init__(self, status: int, code: str | None, message: str = "", *,
                 errors: list[dict[str, Any]] | None = None, empty: bool = False,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.errors, self.empty, self.headers = errors, empty, headers or {}

    def response(self) -> Response:
        if self.empty:
            return Response(status_code=self.status, headers=self.headers)
        body: dict[str, Any] = {}
        if self.code is not None:
            body["code"] = self.code
        body["message"] = self.message
        if self.errors is not None:
            body["errors"] = self.errors
        return JSONResponse(body, status_code=self.status, headers=self.headers)


def not_found(message: str) -> RestError:
    return RestError(404, "ResourceNotFound", message)


def invalid_argument(message: str) -> RestError:
    return RestError(409, "InvalidArgument", message)


def missing_parameter(message: str) -> RestError:
    return RestError(409, "MissingParameter", message)


def public(doc: Any) -> Any:
    """The document without the simulator's own `_`-prefixed fields."""
    if isinstance(doc, dict):
        return {k: v for k, v in doc.items() if not k.startswith("_")}
    return doc


def send(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(obj, separators=(",", ":")), status_code=status,
                    media_type="application/json", headers=headers)


def no_content() -> Response:
    return Response(status_code=204)


async def params_of(request: Request) -> dict[str, Any]:
    """restify's mapParams: query parameters merged with a JSON (or form) body."""
    out: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if body:
        ctype = request.headers.get("content-type", "")
        if "json" in ctype or body[:1] in (b"{", b"["):
            try:
                data = json.loads(body)
            except ValueError:
                raise RestError(400, "InvalidContent", "Invalid JSON in request body") from None
            if isinstance(data, dict):
                out.update(data)
        elif "form" in ctype:
            from urllib.parse import parse_qsl

            out.update(dict(parse_qsl(body.decode())))
    return out


async def json_body(request: Request) -> Any:
    body = await request.body()
    if not body:
        return {}
    try:
        return json.loads(body)
    except ValueError:
        raise RestError(400, "InvalidContent", "Invalid JSON in request body") from None


def truthy(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def make_app(routes: list[Route]) -> Starlette:
    async def on_rest_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RestError)
        return exc.response()

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        if exc.status_code == 404:
            return RestError(404, "ResourceNotFound",
                             f"{request.url.path} does not exist").response()
        if exc.status_code == 405:
            return RestError(405, "MethodNotAllowedError", f"{request.method} is not allowed",
                             headers=dict(exc.headers or {})).response()
        return RestError(exc.status_code, "InternalError", str(exc.detail)).response()

    async def on_crash(request: Request, exc: Exception) -> Response:
        # restify turns a plain Error into a 500 without a code.
        return RestError(500, None, f"{type(exc).__name__}: {exc}").response()

    return Starlette(routes=routes, exception_handlers={
        RestError: on_rest_error, HTTPException: on_http_error, Exception: on_crash})


class ServiceLayer:
    """Outer ASGI wrapper of one service: Server/x-request-id headers, the mutation log,
    and the request faults (latency, error, dropped connection)."""

    def __init__(self, world: "World", service: str, server_header: str, app: Callable):
        self.world, self.service, self.server_header, self.app = world, service, server_header, app

    async def __call__(self, scope: dict, receive: Callable, send_: Callable) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send_)
        started = time.monotonic()
        method = scope["method"]
        path = scope["path"]
        qs = scope.get("query_string", b"").decode()
        full = f"{path}?{qs}" if qs else path
        headers = dict(scope.get("headers") or [])
        req_id = headers.get(b"x-request-id", b"").decode() or str(uuidlib.uuid4())
        if method in ("POST", "PUT", "DELETE", "PATCH") and not (
                self.service == "cnapi" and path.endswith("/execute")):
            # CommandExecute is logged by its handler, which knows whether the script only reads.
            self.world.log_mutation(self.service, method, full)

        from sdcadm.sim.quorum import api_down

        # The launcher's readiness probe asks whether the service is up, not how it is
        # faring: injected faults and a modelled outage do not apply to it.
        probe = headers.get(PROBE_HEADER.encode()) == b"1"
        if not probe and api_down(self.world, self.service) and await _hang_up(receive):
            return
        lose_answer = False
        for fault in () if probe else self.world.request_faults(self.service, method, full):
            kind = fault["type"]
            if kind == "latency":
                await asyncio.sleep(float(fault.get("delay", 1.0)))
            elif kind == "drop" and fault.get("after"):
                lose_answer = True  # handled, then the answer is lost on the way back
            elif kind == "drop":
                if await _hang_up(receive):
                    return
            elif kind == "error":
                status = int(fault.get("status", 500))
                code = fault.get("code", _default_code(status))
                resp = RestError(status, code, fault.get("message", "injected fault")).response()
                return await self._respond(resp, scope, receive, send_, req_id, started)

        async def send_with_headers(message: dict) -> None:
            if message["type"] == "http.response.start":
                extra = [(b"server", self.server_header.encode()),
                         (b"x-request-id", req_id.encode()),
                         (b"x-server-name", f"{self.service}.sim".encode()),
                         (b"x-response-time",
                          str(int((time.monotonic() - started) * 1000)).encode())]
                message = dict(message, headers=list(message.get("headers") or []) + extra)
            await send_(message)

        if lose_answer:
            async def swallow(message: dict) -> None:
                pass
            await self.app(scope, receive, swallow)
            await _hang_up(receive)
            return
        await self.app(scope, receive, send_with_headers)

    async def _respond(self, resp: Response, scope: dict, receive: Callable, send_: Callable,
                       req_id: str, started: float) -> None:
        resp.headers["server"] = self.server_header
        resp.headers["x-request-id"] = req_id
        resp.headers["x-response-time"] = str(int((time.monotonic() - started) * 1000))
        await resp(scope, receive, send_)


async def _hang_up(receive: Callable) -> bool:
    """Drop the connection without an answer, as a host that went away would."""
    cycle = getattr(receive, "__self__", None)
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    transport.abort()
    await asyncio.sleep(0.01)  # let the protocol see the connection is gone
    return True


def _default_code(status: int) -> str:
    return {400: "BadRequestError", 404: "ResourceNotFound", 409: "InvalidArgument",
            500: "InternalError", 502: "BadGatewayError", 503: "ServiceUnavailableError",
            504: "GatewayTimeoutError"}.get(status, "InternalError")
