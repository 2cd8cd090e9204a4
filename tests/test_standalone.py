"""The repository stands alone: nothing in it reads a file from outside the clone.

A new user's clone has no sibling folders; a test or a command that reads one skips or fails
on their machine only (issue #29, item 8). The data the tests and the benchmark use is vendored
(tests/fixtures/darp-cordeau, src/cityos/town/data), each folder with its SOURCES.md.
"""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
OUTSIDE = ("/work/" + "shared", "../" + "shared", '"shared" / "data"', "shared" + " folder")


def scanned() -> list[Path]:
    files = [ROOT / "README.md", ROOT / "Makefile", *(ROOT / "docs").rglob("*.md")]
    for part in ("src", "tests", "bench", "scripts"):
        files += [p for p in (ROOT / part).rglob("*.py") if p != Path(__file__).resolve()]
    return files


def test_nothing_reads_outside_the_repository() -> None:
    found = [f"{p.relative_to(ROOT)}: {needle}" for p in scanned()
             for needle in OUTSIDE if needle in p.read_text("utf-8")]
    assert not found, found


@pytest.mark.parametrize("folder, files", [("tests/fixtures/darp-cordeau", 42 + 2),
                                           ("src/cityos/town/data", 4)])
def test_vendored_data_is_in_the_clone_with_its_sources(folder: str, files: int) -> None:
    here = ROOT / folder
    assert (here / "SOURCES.md").is_file()
    assert len([p for p in here.iterdir() if p.is_file()]) == files


def test_the_architecture_map_names_every_part_and_only_parts_that_exist() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text("utf-8")
    package = ROOT / "src" / "cityos"
    parts = {p.name for p in package.iterdir() if (p / "__init__.py").is_file()}
    rows = {line.split("`")[1].rstrip("/") for line in text.split("## The parts", 1)[1]
            .split("\n## ", 1)[0].splitlines() if line.startswith("| `")}
    assert parts == rows
    assert "docs/architecture.md" in (ROOT / "README.md").read_text("utf-8")
