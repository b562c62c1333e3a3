"""Configuration files: the defaults of the options, by their names, and `provenance config`.

A file is TOML. Its keys are option names without the dashes (`db`, `key`,
`checkpoint-key`, `ledger`, `pack`, ...); a table names a command (`[check]`) or a
group (`[shipment]`) or a group's command (`[shipment.register]`). A key at the top,
or in a group's table, applies to every command below it that has that option; a
command's own table wins over its group's, and its group's over the top. Values are
what the command line takes (a list for a repeatable option, true/false for a flag;
paths as on the command line, from the working directory).

The files, later ones winning: `$XDG_CONFIG_HOME/provenance/config.toml` (else
`~/.config/provenance/config.toml`), then `./provenance.toml`; or the one `--config
FILE` names instead. The command line wins over an environment variable, and both
over the files. An unknown table or key, or a value the option refuses, is exit 2
naming the file and the key.

The root (`cli.py`) reads them before a command runs and gives click the defaults as
the root context's `default_map`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from provenance.commands.options import emit, json_option
from provenance.errors import InputError

LOCAL = "provenance.toml"
"""The configuration file read from the working directory."""


def user_file() -> Path:
    """`$XDG_CONFIG_HOME/provenance/config.toml`, else `~/.config/provenance/config.toml`."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "provenance" / "config.toml"


@dataclass(frozen=True)
class Setting:
    """One key of a configuration file: the table it is in (command names), its value, the
    file it came from."""

    scope: tuple[str, ...]
    key: str
    value: Any
    source: Path

    @property
    def name(self) -> str:
        return ".".join((*self.scope, self.key))


def files(explicit: str | None) -> list[Path]:
    """The files that apply, lowest precedence first."""
    if explicit is not None:
        path = Path(explicit)
        if not path.is_file():
            raise InputError(f"configuration file {explicit} not found")
        return [path]
    return [p for p in (user_file(), Path(LOCAL)) if p.is_file()]


def read(paths: list[Path]) -> list[Setting]:
    """Every key of the files, a later file's replacing an earlier one's."""
    import tomllib

    found: dict[tuple[tuple[str, ...], str], Setting] = {}
    for path in paths:
        try:
            document = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise InputError(f"{path}: not valid TOML: {exc}") from exc
        except OSError as exc:
            raise InputError(f"cannot read {path}: {exc.strerror}") from exc
        for setting in _flatten(document, (), path):
            found[(setting.scope, setting.key)] = setting
    return list(found.values())


def _flatten(table: dict[str, Any], scope: tuple[str, ...], path: Path) -> Iterator[Setting]:
    for key, value in table.items():
        if isinstance(value, dict):
            yield from _flatten(value, (*scope, key), path)
        else:
            yield Setting(scope, key.replace("_", "-"), value, path)


def option_key(param: click.Parameter) -> str | None:
    """The name a file gives `param`: its first long option without the dashes (None for
    an argument, or an option with no long name)."""
    if not isinstance(param, click.Option):
        return None
    names = [o for o in (*param.opts, *param.secondary_opts) if o.startswith("--")]
    return names[0][2:] if names else None


def _subcommands(command: click.Command) -> dict[str, click.Command]:
    if not isinstance(command, click.Group):
        return {}
    context = click.Context(command)
    found = {}
    for name in command.list_commands(context):
        sub = command.get_command(context, name)
        if sub is not None:
            found[name] = sub
    return found


def _options(command: click.Command) -> set[str]:
    """The option names of `command` and of every command below it."""
    names = {k for p in command.params if (k := option_key(p))}
    for sub in _subcommands(command).values():
        names |= _options(sub)
    return names


def default_map(root: click.Group, settings: list[Setting], invoked: str | None) -> dict[str, Any]:
    """click's `default_map` for the root: for the command `invoked` (a name of the root's,
    or every command when None), each command a table names, and each command below them,
    its parameters' defaults from `settings`. Raises InputError for an unknown table or
    key or a bad value (loading the commands a key at the top could be for only when the
    invoked one has no such option)."""
    for setting in settings:
        if setting.scope and setting.scope[0] not in _subcommands_names(root):
            raise InputError(
                f"{setting.source}: [{'.'.join(setting.scope)}]: no such command "
                f"(key {setting.key})"
            )
    top = [s for s in settings if not s.scope]
    tree: dict[str, Any] = {}
    # The invoked command's tree, and every one a table names (so that each is checked).
    named = {s.scope[0] for s in settings if s.scope}
    names = sorted({invoked, *named} - {None}) if invoked else sorted(_subcommands_names(root))
    used: set[str] = set()
    for name in names:
        command = root.get_command(click.Context(root), name)
        if command is None:
            continue
        tree[name] = _defaults(command, (name,), settings, {s.key: s for s in top}, used)
        used |= _options(command)
    unknown = [s for s in top if s.key not in used]
    if unknown:
        everything = {k for p in root.params if (k := option_key(p))} | {
            k for c in _subcommands(root).values() for k in _options(c)
        }
        for setting in unknown:
            if setting.key not in everything:
                raise InputError(f"{setting.source}: {setting.key}: no command has this option")
    return tree


def _subcommands_names(root: click.Group) -> set[str]:
    return set(root.list_commands(click.Context(root)))


def _defaults(
    command: click.Command,
    scope: tuple[str, ...],
    settings: list[Setting],
    inherited: dict[str, Setting],
    used: set[str],
) -> dict[str, Any]:
    own = {s.key: s for s in settings if s.scope == scope}
    subs = _subcommands(command)
    for setting in settings:
        deeper = setting.scope[: len(scope)] == scope and len(setting.scope) > len(scope)
        if deeper and setting.scope[len(scope)] not in subs:
            raise InputError(
                f"{setting.source}: [{'.'.join(setting.scope)}]: no such command "
                f"(key {setting.key})"
            )
    here = _options(command)
    for setting in own.values():
        if setting.key not in here:
            raise InputError(
                f"{setting.source}: {setting.name}: `provenance {' '.join(scope)}` has no "
                f"option --{setting.key}"
            )
    merged = {**inherited, **own}
    out: dict[str, Any] = {}
    context = click.Context(command)
    for param in command.params:
        key = option_key(param)
        if key is None or key not in merged or param.name is None:
            continue
        setting = merged[key]
        out[param.name] = _checked(param, setting, context)
    for name, sub in subs.items():
        out[name] = _defaults(sub, (*scope, name), settings, merged, used)
    return out


def _checked(param: click.Parameter, setting: Setting, context: click.Context) -> Any:
    """The setting's value as the option takes it; InputError naming the file and the key
    when the option refuses it."""
    value = setting.value
    where = f"{setting.source}: {setting.name}"
    if param.multiple and isinstance(value, str):
        value = [value]
    if isinstance(param, click.Option) and param.is_flag and not isinstance(value, bool):
        raise InputError(f"{where}: --{setting.key} is a flag: true or false, not {value!r}")
    if isinstance(value, list) and not param.multiple and param.nargs == 1:
        raise InputError(f"{where}: --{setting.key} takes one value, not a list")
    if isinstance(value, dict | list) and any(isinstance(v, dict | list) for v in value):
        raise InputError(f"{where}: {value!r} is not a value --{setting.key} takes")
    try:
        param.type_cast_value(context, value)
    except click.BadParameter as exc:
        raise InputError(f"{where}: {exc.format_message()}") from exc
    return value


# --- provenance config ------------------------------------------------------------------------


@click.group("config")
def config_group() -> None:
    """The configuration files: what they set, and from where."""


@config_group.command("show")
@json_option
@click.pass_context
def config_show(ctx: click.Context, as_json: bool) -> None:
    """The effective configuration: each value the files and the environment give the
    options, and where it came from (a file, or an environment variable, which wins
    over the files).

    Reads $XDG_CONFIG_HOME/provenance/config.toml, then ./provenance.toml (or the file
    `provenance --config FILE` names), and checks every key against the commands.
    """
    root = ctx.find_root()
    assert isinstance(root.command, click.Group)
    paths = root.meta.get("config_files")
    if paths is None:
        paths = files(None)
    settings = read(paths)
    default_map(root.command, settings, None)
    rows = []
    environment = _environment(root.command)
    for setting in sorted(settings, key=lambda s: (s.scope, s.key)):
        overridden = [v for v in environment.get(setting.key, []) if v in os.environ]
        rows.append(
            {
                "key": setting.name,
                "value": setting.value,
                "source": str(setting.source),
                "overridden_by": overridden[0] if overridden else None,
            }
        )
    for key, variables in sorted(environment.items()):
        rows.extend(
            {"key": key, "value": os.environ[v], "source": f"${v}", "overridden_by": None}
            for v in variables
            if v in os.environ
        )
    names = [str(p) for p in paths]
    data = {"files": names, "settings": rows}

    def human() -> None:
        click.echo("files: " + (", ".join(names) if paths else f"none (./{LOCAL}, {user_file()})"))
        for row in rows:
            note = f"  (overridden by ${row['overridden_by']})" if row["overridden_by"] else ""
            click.echo(f"{row['key']} = {row['value']!r}  from {row['source']}{note}")

    emit(as_json, data, human)


def _environment(root: click.Group) -> dict[str, list[str]]:
    """Option name -> the environment variables that set it, over every command."""
    found: dict[str, list[str]] = {}

    def walk(command: click.Command) -> None:
        for param in command.params:
            key = option_key(param)
            variables = param.envvar if isinstance(param.envvar, list | tuple) else [param.envvar]
            for variable in variables:
                if key and isinstance(variable, str) and variable not in found.setdefault(key, []):
                    found[key].append(variable)
        for sub in _subcommands(command).values():
            walk(sub)

    walk(root)
    return {k: v for k, v in found.items() if v}
