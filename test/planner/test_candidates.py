"""The same-or-newer candidate rule (behaviour spec 2.5), table-driven on small states."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from sdcadm.model import Application, DatacenterState, Image, Instance, Service
from sdcadm.planner.candidates import (
    allowed_image_names,
    builds_between,
    candidate_images,
    current_images,
    sdcadm_candidates,
)

CONFIG = SimpleNamespace(image_names={
    "vmapi": ["vmapi"],
    "binder": ["mantav2-nameservice", "manta-nameservice"],
    "cn-agent": ["cn-agent"],
})


def img(uuid: str, name: str, day: int, version: str | None = None, **tags: str) -> Image:
    return Image(uuid=uuid, name=name, version=version or f"master-202401{day:02d}T000000Z-g{uuid}",
                 published_at=f"2024-01-{day:02d}T00:00:00.000Z", tags=tags)


# The updates channel: vmapi builds on days 1..5, a look-alike name, binder under two names.
CATALOG = [
    img("v1", "vmapi", 1), img("v2", "vmapi", 2), img("v3", "vmapi", 3),
    img("v4", "vmapi", 4), img("v5", "vmapi", 5),
    img("x9", "vmapi-old", 9),  # a prefix match the exact-name refilter must drop
    img("b1", "manta-nameservice", 1), img("b2", "mantav2-nameservice", 2),
    img("b3", "mantav2-nameservice", 3),
    img("a1", "cn-agent", 1), img("a2", "cn-agent", 2),
]
LOCAL_ONLY = img("v0", "vmapi", 0)  # an old build no longer in the channel


def state(instances: dict[str, list[str]], *, svc_image: dict[str, str] | None = None,
          sdcadm: tuple[str, str] = ("1.2.0", "master-20240103T000000Z-gabc"),
          extra: list[Image] = ()) -> DatacenterState:
    insts = []
    for svc, images in instances.items():
        for n, image in enumerate(images):
            insts.append(Instance(instance=f"{svc}-{n}", service=svc, image=image,
                                  type="agent" if svc.endswith("agent") else "vm"))
    services = {
        name: Service(uuid=f"s-{name}", name=name, params={"image_uuid": image})
        for name, image in (svc_image or {}).items()
    }
    catalog = {i.uuid: i for i in [*CATALOG, *extra]}
    return DatacenterState(
        app=Application(uuid="app", name="sdc"), services=services, instances=tuple(insts),
        servers={}, local_images={LOCAL_ONLY.uuid: LOCAL_ONLY}, update_images=catalog,
        sdcadm_version=sdcadm[0], sdcadm_buildstamp=sdcadm[1],
    )


@pytest.mark.parametrize("service, expected", [
    ("vmapi", ["vmapi"]),
    ("binder", ["mantav2-nameservice", "manta-nameservice"]),
    ("cn-agent", ["cn-agent"]),
    ("sdcadm", ["sdcadm"]),
    ("nosuch", []),
])
def test_allowed_image_names(service: str, expected: list[str]) -> None:
    assert allowed_image_names(service, CONFIG) == expected


@pytest.mark.parametrize("instances, svc_image, expected", [
    ({"vmapi": ["v3"]}, None, ["v3"]),
    ({"vmapi": ["v4", "v2", "v4"]}, None, ["v2", "v4"]),  # distinct, oldest first
    ({"vmapi": ["v0"]}, None, ["v0"]),  # found locally only
    ({"vmapi": ["zz"]}, None, []),  # unknown everywhere: ignored
    ({}, {"vmapi": "v2"}, ["v2"]),  # no instances: the service's image
    ({"vmapi": ["v3"]}, {"vmapi": "v1"}, ["v3"]),  # instances win over the service
])
def test_current_images(instances, svc_image, expected) -> None:
    got = current_images(state(instances, svc_image=svc_image), "vmapi")
    assert [i.uuid for i in got] == expected


@pytest.mark.parametrize("service, instances, expected", [
    # same-or-newer than the image in use
    ("vmapi", {"vmapi": ["v3"]}, ["v3", "v4", "v5"]),
    # mixed images: from the oldest in use
    ("vmapi", {"vmapi": ["v4", "v2"]}, ["v2", "v3", "v4", "v5"]),
    # already at the latest: only itself
    ("vmapi", {"vmapi": ["v5"]}, ["v5"]),
    # image in use not in the channel: it and everything newer
    ("vmapi", {"vmapi": ["v0"]}, ["v0", "v1", "v2", "v3", "v4", "v5"]),
    # nothing known in use: every build of the name
    ("vmapi", {"vmapi": ["zz"]}, ["v1", "v2", "v3", "v4", "v5"]),
    # several allowed names, exact match only
    ("binder", {"binder": ["b1"]}, ["b1", "b2", "b3"]),
    # agents are services too
    ("cn-agent", {"cn-agent": ["a1", "a1", "a2"]}, ["a1", "a2"]),
    # unknown service: no candidates
    ("nosuch", {"nosuch": ["v1"]}, []),
])
def test_candidate_images(service, instances, expected) -> None:
    got = candidate_images(state(instances), service, CONFIG)
    assert [i.uuid for i in got] == expected


def test_candidates_for_some_instances_use_their_images() -> None:
    st = state({"vmapi": ["v2", "v4"]})
    got = candidate_images(st, "vmapi", CONFIG, current=[st.image("v4")])
    assert [i.uuid for i in got] == ["v4", "v5"]


def sd(uuid: str, version: str, stamp: str) -> Image:
    return Image(uuid=uuid, name="sdcadm", version=version, published_at=f"2024-{stamp}",
                 tags={"buildstamp": f"master-2024{stamp}T000000Z-g{uuid}"})


@pytest.mark.parametrize("running, builds, expected", [
    (("1.2.0", "master-20240103T000000Z-gabc"),
     [sd("s1", "1.1.0", "0105"), sd("s2", "1.2.0", "0102"), sd("s3", "1.2.0", "0104"),
      sd("s4", "1.3.0", "0106"), sd("s5", "2.0.0", "0107")],
     ["s3", "s4", "s5"]),
    # a -dirty running build compares by its stamp
    (("1.2.0", "master-20240104T000000Z-gabc-dirty"),
     [sd("s3", "1.2.0", "0104"), sd("s4", "1.3.0", "0106")], ["s4"]),
    # ordered by semver before stamp
    (("1.0.0", None), [sd("s9", "1.10.0", "0101"), sd("s8", "1.9.0", "0102")], ["s8", "s9"]),
    # a higher version is newer whatever its stamp (a build stamped after the releases
    # must still see them); the stamp only decides within one version
    (("0.1.0", "master-20261121T000000Z-g0000000"),
     [sd("s1", "1.38.0", "0212"), sd("s2", "1.40.0", "0720"), sd("s3", "0.1.0", "0801"),
      sd("s4", "0.0.9", "0901")],
     ["s1", "s2"]),
    (("1.39.0", "master-20240506T025027Z-g6c265ad"),
     [sd("s1", "1.38.0", "0212"), sd("s2", "1.39.0", "0506"), sd("s3", "1.39.0", "0507"),
      sd("s4", "1.40.0", "0401")],
     ["s3", "s4"]),
])
def test_sdcadm_candidates(running, builds, expected) -> None:
    st = state({}, sdcadm=running, extra=builds)
    assert [i.uuid for i in sdcadm_candidates(st)] == expected
    assert [i.uuid for i in candidate_images(st, "sdcadm", CONFIG)] == expected


@pytest.mark.parametrize("older, newer, names, expected", [
    ("v2", "v5", ["vmapi"], ["v3", "v4", "v5"]),
    ("v5", "v2", ["vmapi"], ["v3", "v4", "v5"]),  # order of the arguments does not matter
    ("v3", "v3", ["vmapi"], []),
    ("v0", "v2", ["vmapi"], ["v1", "v2"]),
    ("b1", "b3", ["mantav2-nameservice", "manta-nameservice"], ["b2", "b3"]),
])
def test_builds_between(older, newer, names, expected) -> None:
    st = state({})
    got = builds_between(st, names, st.image(older), st.image(newer))
    assert [i.uuid for i in got] == expected
