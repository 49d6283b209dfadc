"""API clients on one shared HTTP session: `Clients(config, request_id=...)`.

Each client is created on first use, so a command pays only for the APIs it talks to,
and `requests` is not imported until then (it costs ~100 ms, too much for `--help`).
"""
from __future__ import annotations

import threading
import uuid as uuidlib
from functools import cached_property
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import requests

    from sdcadm.clients.cnapi import CnapiClient
    from sdcadm.clients.imgapi import ImgapiClient
    from sdcadm.clients.remote import Remote
    from sdcadm.clients.sapi import SapiClient
    from sdcadm.clients.vmapi import VmapiClient
    from sdcadm.clients.wfapi import WfapiClient
    from sdcadm.config import Config

__all__ = ["Clients"]


class Clients:
    def __init__(
        self, config: "Config", request_id: str | None = None, verbose: bool = False,
        warn: Any = None,
    ) -> None:
        self.config = config
        self.request_id = request_id or str(uuidlib.uuid4())
        self.verbose = verbose
        self.warn = warn
        self._updates: dict[str | None, "ImgapiClient"] = {}
        self._lock = threading.Lock()
        self._updates_proxy: str | None = None
        self._verify_lock = threading.Lock()
        self._insecure_said = False

    @property
    def updates_proxy(self) -> str | None:
        """HTTP proxy for the updates server (the original honours the sdc app's
        `metadata.http_proxy`); applies to every updates client, made or to be made."""
        return self._updates_proxy

    @updates_proxy.setter
    def updates_proxy(self, url: str | None) -> None:
        with self._lock:
            self._updates_proxy = url
            for client in self._updates.values():
                client.proxies = self._proxies()

    def _proxies(self) -> dict[str, str] | None:
        url = self._updates_proxy
        return {"http": url, "https": url} if url else None

    @cached_property
    def session(self) -> "requests.Session":
        from sdcadm.clients.http import new_session

        return new_session()

    def _kw(self) -> dict[str, Any]:
        c = self.config
        return {
            "session": self.session,
            "request_id": self.request_id,
            "connect_timeout": c.connect_timeout,
            "read_timeout": c.read_timeout,
            "retries": c.retries,
            "retry_delay": c.retry_delay,
            "verify": self._verify,
            "verbose": self.verbose,
            "warn": self.warn,
        }

    @property
    def _verify(self) -> bool | str:
        """What requests' `verify` gets: the CA bundle, the system's CAs, or nothing (said
        once per run, here, instead of urllib3's warning on every request)."""
        c = self.config
        if c.tls_verify:
            return c.ca_bundle or True
        with self._verify_lock:  # clients are made from several threads (gather)
            if not self._insecure_said:
                self._insecure_said = True
                self._say_insecure()
        return False

    def _say_insecure(self) -> None:
        c = self.config
        import warnings

        from urllib3.exceptions import InsecureRequestWarning

        warnings.simplefilter("ignore", InsecureRequestWarning)
        where = f" in {c.source}" if c.source else ""
        line = (f"sdcadm: warning: TLS certificates are not verified (tlsVerify: false{where}): "
                "anyone on the path to an API can read and change what sdcadm sends")
        if self.warn is not None:
            self.warn(line)
        else:
            import sys

            print(line, file=sys.stderr)

    @cached_property
    def sapi(self) -> "SapiClient":
        from sdcadm.clients.sapi import SapiClient

        return SapiClient(self.config.url("sapi"), **self._kw())

    @cached_property
    def imgapi(self) -> "ImgapiClient":
        from sdcadm.clients.imgapi import ImgapiClient

        return ImgapiClient(self.config.url("imgapi"), **self._kw())

    @property
    def updates(self) -> "ImgapiClient":
        """The updates server, without a channel (the server's default applies)."""
        return self.updates_for(None)

    def updates_for(self, channel: str | None) -> "ImgapiClient":
        """The updates server with `?channel=<channel>` on every call."""
        from sdcadm.clients.imgapi import ImgapiClient

        with self._lock:
            if channel not in self._updates:
                client = ImgapiClient(
                    self.config.url("updates"), channel=channel, name="updates", **self._kw()
                )
                client.proxies = self._proxies()
                self._updates[channel] = client
            return self._updates[channel]

    @cached_property
    def vmapi(self) -> "VmapiClient":
        from sdcadm.clients.vmapi import VmapiClient

        return VmapiClient(self.config.url("vmapi"), **self._kw())

    @cached_property
    def cnapi(self) -> "CnapiClient":
        from sdcadm.clients.cnapi import CnapiClient

        return CnapiClient(self.config.url("cnapi"), **self._kw())

    @cached_property
    def wfapi(self) -> "WfapiClient":
        from sdcadm.clients.wfapi import WfapiClient

        return WfapiClient(self.config.url("wfapi"), **self._kw())

    @cached_property
    def remote(self) -> "Remote":
        """SSH to the servers' global zones; addresses come from CNAPI when not learnt."""
        from sdcadm.clients.remote import Remote

        return Remote(self.config, resolve=self.cnapi.get_server, warn=self.warn,
                      verbose=self.verbose)

    def close(self) -> None:
        if "remote" in self.__dict__:
            self.remote.close()
        if "session" in self.__dict__:
            self.session.close()
