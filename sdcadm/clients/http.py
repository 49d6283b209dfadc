"""The one place sdcadm speaks HTTP: timeouts, headers, retries, error mapping, request log.

Every API client is a thin subclass of `RestClient` that names paths; nothing else in
sdcadm builds URLs or looks at status codes.
"""
from __future__ import annotations

import json
import os
import re
import sys
import threading
import time
from typing import Any, Callable, Iterable, Iterator, Mapping
from urllib.parse import urlencode, urlsplit

import requests

from sdcadm import __version__, observers
from sdcadm.errors import SDCClientError
from sdcadm.private_files import open_private
from sdcadm.redact import redact_url

USER_AGENT = f"sdcadm/{__version__}"

# Reads are retried on these; anything below 500 is an answer, not a hiccup.
RETRY_STATUSES = frozenset({500, 502, 503, 504})
# A read retried after this long (or after a time-out) says so on stderr: the operator
# should not stare at a silent terminal. Quick retries of a 503 stay quiet.
RETRY_NOTICE_AFTER = 2.0
# The longest pause between two tries of a read.
MAX_BACKOFF = 5.0
_unwritable_logs: set[str] = set()
_log_lock = threading.Lock()


def new_session(pool_size: int = 16) -> requests.Session:
    """A session whose connection pool is large enough for gather's parallel reads."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=pool_size)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def encode_filters(filters: Mapping[str, Any]) -> dict[str, str]:
    """Query parameters as the node clients send them: booleans as true/false, lists joined."""
    out: dict[str, str] = {}
    for key, value in filters.items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "true" if value else "false"
        elif isinstance(value, (list, tuple, set, frozenset)):
            out[key] = ",".join(str(v) for v in value)
        else:
            out[key] = str(value)
    return out


class RestClient:
    """A JSON-over-HTTP client for one API (`name` is what error lines call it)."""

    name = "http"
    accept_version: str | None = None
    page_size = 1000  # the APIs' maximum `limit`

    def __init__(
        self,
        url: str,
        *,
        session: requests.Session,
        request_id: str,
        connect_timeout: float = 10.0,
        read_timeout: float = 15.0,
        retries: int = 2,
        retry_delay: float = 0.25,
        verify: bool | str = True,
        verbose: bool = False,
        name: str | None = None,
        warn: Callable[[str], None] | None = None,
    ) -> None:
        self.url = url.rstrip("/")
        self.session = session
        self.request_id = request_id
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.retries = retries
        self.retry_delay = retry_delay
        # True, False (tlsVerify: false) or the path of a CA bundle (caBundle)
        self.verify = verify
        self.verbose = verbose
        self.warn = warn
        if name:
            self.name = name
        self.log_path = os.environ.get("SDCADM_REQUEST_LOG")
        # e.g. {"https": "http://proxy:8080"} for the updates server (sdc app `http_proxy`)
        self.proxies: dict[str, str] | None = None

    # -- low level ------------------------------------------------------------------------
    def headers(self) -> dict[str, str]:
        h = {
            "User-Agent": USER_AGENT,
            "x-request-id": self.request_id,
            "Accept": "application/json",
        }
        if self.accept_version:
            h["Accept-Version"] = self.accept_version
        return h

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        data: Any = None,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
        read_timeout: float | None = None,
        ok: Iterable[int] = (),
    ) -> requests.Response:
        """Send one request; GETs are retried with backoff on connection errors, time-outs
        and 5xx, so one read waits at most (1 + retries) x read timeout plus the backoff.

        Mutations are sent once: a lost answer to a POST does not mean it did not happen,
        so callers check state and decide instead of this layer guessing.
        """
        url = self.url + path
        query = encode_filters(params or {})
        hdrs = self.headers()
        if headers:
            hdrs.update(headers)
        if body is not None:
            data = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        attempts = 1 + (self.retries if method == "GET" else 0)
        timeout = (self.connect_timeout, read_timeout or self.read_timeout)
        began = time.monotonic()
        for attempt in range(attempts):
            last = attempt == attempts - 1
            started = time.monotonic()
            try:
                resp = self.session.request(
                    method, url, params=query, data=data, headers=hdrs, stream=stream,
                    timeout=timeout, verify=self.verify, proxies=self.proxies,
                )
            except requests.RequestException as e:
                self._log(method, url, query, None, started)
                # A certificate that fails today fails in a second too: no retry.
                tls = _tls_problem(e)
                if not last and not (tls and tls[0]):
                    self._retry(method, path, attempt, attempts, _reason(e), began,
                                slow=isinstance(e, requests.Timeout))
                    continue
                raise self._transport_error(method, url, e) from e
            self._log(method, url, query, resp.status_code, started)
            if resp.status_code < 400 or resp.status_code in ok:
                return resp
            if resp.status_code in RETRY_STATUSES and not last:
                resp.close()
                reason = f"{resp.status_code} {resp.reason or ''}".rstrip()
                self._retry(method, path, attempt, attempts, reason, began)
                continue
            raise self._http_error(method, path, resp)
        raise AssertionError("unreachable")

    def call(self, method: str, path: str, **kw: Any) -> Any:
        """A request whose answer is JSON (None for an empty body, e.g. 204)."""
        resp = self.request(method, path, **kw)
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as e:
            raise SDCClientError(
                self.name, "InvalidContent",
                f"{method} {path}: response is not JSON ({resp.status_code})",
                status=resp.status_code,
            ) from e

    def get(self, path: str, **params: Any) -> Any:
        return self.call("GET", path, params=params)

    def get_each(self, path: str, **params: Any) -> Iterator[Any]:
        """The items of a JSON array answer, decoded one at a time: what is kept of each is
        the caller's to say, so a long list of large items never lives whole in memory
        (only its text does)."""
        resp = self.request("GET", path, params=params)
        text = resp.text
        resp.close()
        try:
            yield from json_array_items(text)
        except ValueError as e:
            raise SDCClientError(
                self.name, "InvalidContent",
                f"GET {path}: response is not a JSON array ({resp.status_code}): {e}",
                status=resp.status_code,
            ) from e

    def get_all(self, path: str, **filters: Any) -> list[dict[str, Any]]:
        """Every item of a list endpoint paged by limit+offset (CNAPI, VMAPI): pages until a
        short one, as node-sdc-clients does."""
        items: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = self.get(path, **filters, offset=offset, limit=self.page_size) or []
            items.extend(page)
            if len(page) < self.page_size:
                return items
            offset += len(page)

    # -- helpers --------------------------------------------------------------------------
    def _backoff(self, attempt: int) -> None:
        time.sleep(backoff(self.retry_delay, attempt))

    def _retry(self, method: str, path: str, attempt: int, attempts: int, reason: str,
               began: float, *, slow: bool = False) -> None:
        """Say that a read is tried again (once it has taken a while), then back off."""
        if slow or self.verbose or time.monotonic() - began >= RETRY_NOTICE_AFTER:
            self._notice(f"sdcadm: retrying {self.name} {method} {path} "
                         f"({attempt + 2}/{attempts}): {reason}")
        self._backoff(attempt)

    def _notice(self, line: str) -> None:
        if self.warn is not None:
            self.warn(line)
            return
        with _log_lock:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    def _transport_error(self, method: str, url: str, e: Exception) -> SDCClientError:
        tls = _tls_problem(e)
        path = url[len(self.url):]
        base = redact_url(self.url)  # error lines end up in history too
        if tls is not None:
            verifying, why = tls
            what = ("TLS certificate verification failed for" if verifying
                    else "TLS handshake failed with")
            return SDCClientError(self.name, "TLSError",
                                  f"{what} {base}: {why} ({method} {path})", cause=e)
        if isinstance(e, requests.Timeout) and not isinstance(e, requests.ConnectTimeout):
            code, what = "RequestTimeout", "timed out waiting for"
        elif _dropped(e):
            # Not "could not connect": the request went out, so a change may have happened.
            code, what = "ConnectionError", "connection closed without a response by"
        else:
            code, what = "ConnectionError", "could not connect to"
        return SDCClientError(self.name, code, f"{what} {base} ({method} {path})", cause=e)

    def _http_error(self, method: str, path: str, resp: requests.Response) -> SDCClientError:
        body: Any = None
        try:
            body = resp.json() if resp.content else None
        except ValueError:
            body = None
        code = body.get("code") if isinstance(body, dict) else None
        message = body.get("message") if isinstance(body, dict) else None
        if not message:
            text = (resp.text or "").strip() if body is None else ""
            message = f"{method} {path}: {resp.status_code} {resp.reason or ''}".rstrip()
            if text and len(text) < 200:
                message += f": {text}"
        return SDCClientError(self.name, code, message, status=resp.status_code, body=body)

    def _log(self, method: str, url: str, query: Mapping[str, str], status: int | None,
             started: float) -> None:
        heard = observers.listener(self.request_id)
        if not (self.log_path or self.verbose or heard):
            return
        full = redact_url(url + ("?" + urlencode(query) if query else ""))
        ms = (time.monotonic() - started) * 1000
        if heard is not None:
            parts = urlsplit(full)
            heard({"client": self.name, "method": method,
                   "path": parts.path + ("?" + parts.query if parts.query else ""),
                   "status": status, "latency": round(ms)})
            if not (self.log_path or self.verbose):
                return
        line = f"{self.name} {method} {full} {status if status is not None else 'ERR'} {ms:.0f}ms"
        if self.verbose:
            with _log_lock:  # gather reads in parallel: one whole line at a time
                sys.stderr.write(f"sdcadm: {line}\n")
                sys.stderr.flush()
        if self.log_path and not append_request_log(self.log_path, line, _stderr_line):
            self.log_path = None


def _dropped(e: Exception) -> bool:
    """The connection was made and then closed before any response (not refused)."""
    from urllib3.exceptions import NewConnectionError, ProtocolError

    seen: list[Any] = [e]
    while seen:
        cur = seen.pop()
        if isinstance(cur, NewConnectionError):
            return False
        if isinstance(cur, ProtocolError):
            return True
        seen.extend(x for x in (*getattr(cur, "args", ()), getattr(cur, "reason", None))
                    if isinstance(x, BaseException))
    return False


def backoff(retry_delay: float, attempt: int) -> float:
    """Seconds to wait before try `attempt + 2` of a read: doubling, at most MAX_BACKOFF."""
    return min(retry_delay * (2 ** attempt), MAX_BACKOFF)


def worst_read(read_timeout: float, retries: int, retry_delay: float) -> float:
    """The longest one read of an API that never answers can take: every try waits out
    the read timeout, with the backoff between tries."""
    return (1 + retries) * read_timeout + sum(backoff(retry_delay, n) for n in range(retries))


def _reason(e: Exception) -> str:
    """Why a try failed, in a few words, for the `retrying ...` line."""
    if isinstance(e, requests.ConnectTimeout):
        return "timed out connecting"
    if isinstance(e, requests.Timeout):
        return "timed out"
    if _dropped(e):
        return "connection closed without a response"
    return "could not connect"


def _tls_problem(e: Exception) -> tuple[bool, str] | None:
    """(whether it was the certificate check, why) when `e` is a TLS failure, else None."""
    import ssl

    if not isinstance(e, requests.exceptions.SSLError):
        return None
    seen: list[Any] = [e]
    visited: set[int] = set()
    found: BaseException | None = None
    while seen:
        cur = seen.pop()
        if id(cur) in visited:
            continue
        visited.add(id(cur))
        if isinstance(cur, ssl.SSLCertVerificationError):
            why = cur.verify_message or cur.reason or str(cur)
            return True, str(why)
        if isinstance(cur, ssl.SSLError) and found is None:
            found = cur
        seen.extend(x for x in (*getattr(cur, "args", ()), getattr(cur, "reason", None),
                                cur.__cause__, cur.__context__)
                    if isinstance(x, BaseException))
    if found is not None:
        # "[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)": without the
        # OpenSSL source line
        text = str(getattr(found, "strerror", None) or getattr(found, "reason", None) or found)
        return False, re.sub(r"\s*\(_ssl\.c:\d+\)$", "", text)
    return False, str(e)


def append_request_log(path: str, line: str, warn: Callable[[str], None]) -> bool:
    """Append one line to the request log (`SDCADM_REQUEST_LOG`): HTTP requests and SSH
    commands alike, one whole line at a time. A debugging aid never fails a request (least
    of all a POST that already happened): a log that cannot be written is said once and
    False returned, for the caller to stop logging there."""
    with _log_lock:
        try:
            with open_private(path, "a") as f:
                f.write(line + "\n")
            return True
        except OSError as e:
            if path not in _unwritable_logs:
                _unwritable_logs.add(path)
                warn(f"sdcadm: warning: cannot write request log {path}: {e.strerror or e}")
            return False


def _stderr_line(text: str) -> None:
    sys.stderr.write(text + "\n")


_WS = re.compile(r"[ \t\n\r]*")


def _skip(text: str, pos: int) -> int:
    """Past the JSON whitespace at `pos`."""
    m = _WS.match(text, pos)
    return m.end() if m else pos


def json_array_items(text: str) -> Iterator[Any]:
    """Each item of the JSON array `text`, decoded as it is reached (ValueError when `text`
    is not one array; an empty text is an empty array)."""
    decode = json.JSONDecoder().raw_decode
    pos = _skip(text, 0)
    if pos == len(text):
        return
    if text[pos] != "[":
        raise ValueError("not a JSON array")
    pos = _skip(text, pos + 1)
    if text.startswith("]", pos):
        pos += 1
    else:
        while True:
            item, pos = decode(text, pos)
            yield item
            pos = _skip(text, pos)
            if text.startswith(",", pos):
                pos = _skip(text, pos + 1)
                continue
            if text.startswith("]", pos):
                pos += 1
                break
            raise ValueError(f"expected , or ] at {pos}")
    if _skip(text, pos) != len(text):
        raise ValueError(f"extra data at {pos}")
