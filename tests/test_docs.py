"""Docs keep up with the code: every setting and CLI option is documented (Datasette's habit)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import typer.main

from cityos.cli import app
from cityos.settings import EgressSettings, NgsiSettings, Settings, StorageSettings

ROOT = Path(__file__).resolve().parent.parent
DOCS = "\n".join(p.read_text("utf-8") for p in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")])


def test_readme_quick_start_is_exactly_two_commands() -> None:
    readme = (ROOT / "README.md").read_text("utf-8")
    block = readme.split("## Quick start", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["make run", "make test"]


def test_every_setting_is_documented() -> None:
    missing = []
    for section, cls in (("", Settings), ("storage.", StorageSettings), ("ngsi.", NgsiSettings),
                         ("egress.", EgressSettings)):
        for f in dataclasses.fields(cls):
            if f.name in ("storage", "ngsi", "egress", "data_dir"):
                continue
            if f"{section}{f.name}" not in DOCS and f"`{f.name}`" not in DOCS:
                missing.append(section + f.name)
    assert not missing, f"undocumented settings: {missing}"


def test_every_cli_option_is_documented() -> None:
    group = typer.main.get_command(app)
    missing = []
    for name, command in group.commands.items():  # type: ignore[attr-defined]
        if f"cityos {name}" not in DOCS:
            missing.append(f"cityos {name}")
        for param in command.params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("--") and opt not in DOCS:
                    missing.append(f"cityos {name} {opt}")
    assert not missing, f"undocumented commands/options: {missing}"
