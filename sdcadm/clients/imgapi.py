"""IMGAPI: the DC-local image store and the updates server (same API, channel-scoped)."""
from __future__ import annotations

from typing import Any, BinaryIO, Iterable, Mapping

import requests

from sdcadm.clients.http import RestClient


class ImgapiClient(RestClient):
    name = "imgapi"
    # The node client's default: without it images come without their `channels`.
    accept_version = "*"

    def __init__(self, url: str, *, channel: str | None = None, **kw: Any) -> None:
        super().__init__(url, **kw)
        self.channel = channel

    def _scoped(self, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        p = dict(params or {})
        if self.channel and "channel" not in p:
            p["channel"] = self.channel
        return p

    def list_images(self, **filters: Any) -> list[dict[str, Any]]:
        """Every matching image, all pages, oldest first.

        Paging as node-sdc-clients does it: the first request carries only the caller's
        filters (and marker); then `marker=<last uuid>&limit=1000`, dropping the repeated
        marker image (markers are inclusive), until a short page or a stuck marker.
        """
        params = self._scoped(filters)
        if "limit" in params:  # the caller asked for one page
            return self.get("/images", **params) or []
        page = self.get("/images", **params) or []
        images: list[dict[str, Any]] = list(page)
        seen = {i.get("uuid") for i in images}
        while len(page) >= self.page_size and images:
            marker = images[-1]["uuid"]
            more = {"marker": marker, "limit": self.page_size}
            page = self.get("/images", **{**params, **more}) or []
            fresh = [i for i in page if i.get("uuid") not in seen]
            if not fresh:
                break
            images.extend(fresh)
            seen.update(i.get("uuid") for i in fresh)
        return images

    def get_image(self, uuid: str, **params: Any) -> dict[str, Any]:
        return self.get(f"/images/{uuid}", **self._scoped(params))

    def list_channels(self) -> list[dict[str, Any]]:
        return self.get("/channels") or []

    def import_remote(
        self, uuid: str, source: str, skip_owner_check: bool = True
    ) -> dict[str, Any]:
        """Start AdminImportRemoteImage; returns job_uuid, image_uuid and workflow_api."""
        resp = self.request(
            "POST", f"/images/{uuid}",
            params={"action": "import-remote", "source": source,
                    "skip_owner_check": skip_owner_check},
        )
        body = resp.json() if resp.content else {}
        body["workflow_api"] = resp.headers.get("workflow-api")
        return body

    def admin_import(self, manifest: Mapping[str, Any]) -> dict[str, Any]:
        return self.call("POST", f"/images/{manifest['uuid']}", params={"action": "import"},
                         body=dict(manifest))

    def add_file(
        self,
        uuid: str,
        fileobj_or_iter: BinaryIO | Iterable[bytes],
        *,
        size: int,
        sha1: str | None,
        compression: str,
    ) -> dict[str, Any]:
        # An upload is a mutation: sent once, with a read timeout long enough for big files.
        return self.call(
            "PUT", f"/images/{uuid}/file",
            params=self._scoped({"compression": compression, "sha1": sha1}),
            data=fileobj_or_iter,
            headers={"Content-Type": "application/octet-stream", "Content-Length": str(size)},
            read_timeout=max(self.read_timeout, 600.0),
        )

    def activate(self, uuid: str) -> dict[str, Any]:
        return self.call("POST", f"/images/{uuid}", params=self._scoped({"action": "activate"}))

    def delete_image(self, uuid: str) -> None:
        self.call("DELETE", f"/images/{uuid}", params=self._scoped())

    def get_file(self, uuid: str) -> requests.Response:
        """The image file as a streaming response; the caller checks Content-MD5/sha1."""
        return self.request("GET", f"/images/{uuid}/file", params=self._scoped(), stream=True)
