"""The `health` configuration section: validated like `ssh`, read by HealthSettings."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from sdcadm.config import load_config
from sdcadm.errors import ConfigError
from sdcadm.health import HealthSettings


def write(tmp_path: Path, data: object) -> Path:
    path = tmp_path / "sdcadm.conf"
    path.write_text(json.dumps(data))
    return path


def test_defaults_without_a_section(tmp_path):
    cfg = load_config(write(tmp_path, {}))
    assert HealthSettings.from_config(cfg) == HealthSettings(
        ping_timeout=5.0, ping_concurrency=32, command_timeout=10.0)


def test_values_from_the_section(tmp_path):
    cfg = load_config(write(tmp_path, {"health": {"pingTimeout": 0.5, "pingConcurrency": 4,
                                                  "commandTimeout": 3}}))
    assert HealthSettings.from_config(cfg) == HealthSettings(0.5, 4, 3.0)


@pytest.mark.parametrize("section,message", [
    ({"pingTimeout": 0}, '"health.pingTimeout" must be a positive number'),
    ({"pingTimeout": "5"}, '"health.pingTimeout" must be a number'),
    ({"pingConcurrency": 1.5}, '"health.pingConcurrency" must be a positive integer'),
    ({"commandTimeout": -1}, '"health.commandTimeout" must be a positive number'),
    ({"pingTimout": 1}, 'unknown key "health.pingTimout" (did you mean "health.pingTimeout"?)'),
])
def test_bad_values_name_the_file_and_key(tmp_path, section, message):
    path = write(tmp_path, {"health": section})
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert e.value.message == f"{path}: {message}"


def test_the_section_must_be_an_object(tmp_path):
    path = write(tmp_path, {"health": [1]})
    with pytest.raises(ConfigError) as e:
        load_config(path)
    assert e.value.message == f'{path}: "health" must be an object'
