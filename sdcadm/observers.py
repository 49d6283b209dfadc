"""Who hears about the API requests of one invocation (keyed by its request id): the run's
log. Kept apart from `http` so that listening costs no `requests` import."""
from __future__ import annotations

import threading
from typing import Any, Callable, Mapping

Listener = Callable[[Mapping[str, Any]], None]

_listeners: dict[str, Listener] = {}
_lock = threading.Lock()


def listen(request_id: str, listener: Listener) -> None:
    with _lock:
        _listeners[request_id] = listener


def forget(request_id: str) -> None:
    with _lock:
        _listeners.pop(request_id, None)


def listener(request_id: str) -> Listener | None:
    return _listeners.get(request_id)
