"""Sub-commands imported only when they run, so that `cityos --help` answers at once.

The parts' command modules import the whole platform (the app, cryptography, numba …); the
root group lists them by name and one-line help and imports a module the moment one of its
commands is invoked (or its own `--help` is asked for). Also: flags show no `<bool>` in help,
and usage errors are framed in Japanese and English.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from dataclasses import dataclass
from typing import Any

import typer
import typer.main
from typer import _click
from typer.core import TyperCommand, TyperGroup, TyperOption


@dataclass(frozen=True)
class Part:
    """A sub-command of `cityos` kept in another module: `module:attribute` is a typer.Typer
    (a group such as `cityos org …`) or a function (a command such as `cityos token`)."""

    target: str
    help: str


def _load(name: str, part: Part) -> _click.Command | None:
    module, _, attribute = part.target.partition(":")
    try:
        obj = getattr(importlib.import_module(module), attribute)
    except ImportError:  # an optional part whose dependencies are not installed
        return None
    if isinstance(obj, typer.Typer):
        command: _click.Command = typer.main.get_group(obj)  # as add_typer mounts it
        command.help = part.help
    else:
        single = typer.Typer(add_completion=False)
        single.command(name)(obj)
        command = typer.main.get_command(single)
    command.name = name
    return command


class _Commands(MutableMapping[str, _click.Command]):
    """The root group's commands: the ones defined in place, then the parts, each imported on
    its first use. Iterating gives names only and imports nothing."""

    def __init__(self, defined: MutableMapping[str, _click.Command], parts: Mapping[str, Part]
                 ) -> None:
        self.defined, self.parts = defined, parts

    def __getitem__(self, name: str) -> _click.Command:
        if name not in self.defined and name in self.parts:
            command = _load(name, self.parts[name])
            if command is not None:
                self.defined[name] = command
        return self.defined[name]

    def __setitem__(self, name: str, command: _click.Command) -> None:
        self.defined[name] = command

    def __delitem__(self, name: str) -> None:
        del self.defined[name]

    def __iter__(self) -> Iterator[str]:
        yield from self.defined
        yield from (name for name in self.parts if name not in self.defined)

    def __len__(self) -> int:
        return len(set(self.defined) | set(self.parts))

    def __contains__(self, name: object) -> bool:
        return name in self.defined or name in self.parts


class LazyGroup(TyperGroup):
    """The root group: `parts` (set by `lazy_group`) join its commands, imported on use; its
    own help lists them from their one-line help without importing them."""

    parts: Mapping[str, Part] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self.commands = _Commands(self.commands, self.parts)
        self._listing = False

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return list(self.commands)

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        commands = self.commands
        assert isinstance(commands, _Commands)
        if self._listing and cmd_name not in commands.defined and cmd_name in self.parts:
            return TyperCommand(name=cmd_name, help=self.parts[cmd_name].help)
        return commands.get(cmd_name)

    def format_help(self, ctx: _click.Context, formatter: _click.HelpFormatter) -> None:
        self._listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self._listing = False


def lazy_group(parts: Mapping[str, Part]) -> type[LazyGroup]:
    """The group class of a Typer app whose `parts` are imported only when used."""
    return type("CityosGroup", (LazyGroup,), {"parts": dict(parts)})


def _flag_type(self: TyperOption, ctx: _click.Context) -> str | None:
    """A flag takes no value: its help shows no `<bool>`."""
    if self.is_flag:
        return None
    return _value_type(self, ctx)


_value_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]


def _bilingual_usage_errors() -> None:
    """A mistyped command line (click's own message, in English) is framed in both languages."""
    from typer import rich_utils  # loaded for every help and error anyway

    rich_utils.ERRORS_PANEL_TITLE = "コマンドの誤り / Error"
    rich_utils.RICH_HELP = "使い方 / help: [blue]'{command_path} {help_option}'[/]"
    rich_utils.ABORTED_TEXT = "中断しました / Aborted."


_bilingual_usage_errors()
