"""Drift between a saved plan's facts and the datacenter now: one line per changed fact."""
from __future__ import annotations

import pytest

from sdcadm.planner.drift import drift_lines

BASE = {
    "channel": "dev", "sapi_mode": "full",
    "services": {"moray": "img-a", "papi": "img-p"},
    "instances": {"i1": "img-a", "i2": "img-a"},
    "servers": {"s1": ["running", "20240101T000000Z", "20240101T000000Z"]},
    "local_images": {"img-a": "active"},
}


def changed(**kw):
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in BASE.items()}
    for key, value in kw.items():
        if isinstance(value, dict):
            out[key] = {**out[key], **value}
            out[key] = {k: v for k, v in out[key].items() if v is not ...}
        else:
            out[key] = value
    return out


@pytest.mark.parametrize("after, lines", [
    (changed(), []),
    (changed(channel="release"), ["channel: dev -> release"]),
    (changed(sapi_mode="proto"), ["SAPI mode: full -> proto"]),
    (changed(instances={"i1": "img-b"}), ["instance i1 (moray1): image img-a -> img-b"]),
    (changed(instances={"i2": ...}), ["instance i2: removed"]),
    (changed(instances={"i3": "img-a"}), ["instance i3: added (image img-a)"]),
    (changed(services={"papi": "img-q"}), ["service papi: image img-p -> img-q"]),
    (changed(servers={"s1": ["rebooting", "20240101T000000Z", "20250101T000000Z"]}),
     ["server s1 (cn1): status running -> rebooting",
      "server s1 (cn1): boot platform 20240101T000000Z -> 20250101T000000Z"]),
    (changed(local_images={"img-a": "unactivated", "img-b": "active"}),
     ["local image img-a: state active -> unactivated", "local image img-b: added (state active)"]),
])
def test_drift_lines(after, lines) -> None:
    assert drift_lines(BASE, after, {"i1": "moray1"}, {"s1": "cn1"}) == lines
