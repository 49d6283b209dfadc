"""README.md's examples: each marker has the block tools/readme-examples wrote for it, and
the tool rewrites exactly those blocks from real runs against the simulated datacenter."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MARKER = re.compile(r"^<!-- example: (.+?) -->\n(.*?)(?=^<!--|\Z)", re.M | re.S)


def test_every_readme_example_has_its_output() -> None:
    found = MARKER.findall((ROOT / "README.md").read_text())
    assert found, "README.md has no examples"
    for command, after in found:
        assert re.match(r"(?:[A-Z_]+=\S+ )*sdcadm(?:-sim)? ", command), command
        assert after.startswith(f"```text\n$ {command}\n"), f"no output after `{command}`"


@pytest.mark.slow
def test_the_tool_rewrites_only_the_example_blocks(tmp_path: Path) -> None:
    readme = tmp_path / "README.md"
    readme.write_text(
        "# Title\n\nSome prose.\n\n"
        "<!-- example: sdcadm services | head -3 -->\n```text\n$ stale\nold output\n```\n\n"
        "More prose, kept.\n\n"
        "<!-- example: sdcadm update nosuchservice -n -->\n\n"
        "```sh\nsdcadm instances   # not an example: kept\n```\n")
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "readme-examples"),
                           "--readme", str(readme)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    text = readme.read_text()
    services = re.search(r"```text\n\$ sdcadm services \| head -3\n(.*?)```\n", text, re.S)
    assert services is not None, text
    rows = services.group(1).splitlines()
    assert len(rows) == 3 and rows[0].split()[:3] == ["TYPE", "UUID", "NAME"], rows
    assert "stale" not in text and "old output" not in text
    failed = re.search(r"```text\n\$ sdcadm update nosuchservice -n\n(.*?)```\n", text, re.S)
    assert failed is not None, text
    lines = failed.group(1).splitlines()
    assert lines[-2:] == ["$ echo $?", "2"], lines
    assert lines[0].startswith("sdcadm update: error (")
    assert text.startswith("# Title\n\nSome prose.\n\n<!-- example: sdcadm services | head -3")
    assert "More prose, kept.\n\n" in text
    assert text.endswith("```sh\nsdcadm instances   # not an example: kept\n```\n")
