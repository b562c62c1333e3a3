"""`provenance demo`: the whole story on an embedded SQLite ledger."""

from __future__ import annotations

from pathlib import Path

import click

from provenance.commands.options import emit, json_option

# --- the demo ----------------------------------------------------------------------------


@click.command("demo")
@click.option(
    "--dir",
    "directory",
    default="demo-run",
    show_default=True,
    type=click.Path(file_okay=False),
    help="Folder for the demo's ledger, keys and signed statements.",
)
@click.option("--fresh", is_flag=True, help="Wipe DIR first if it holds an earlier run.")
@click.option(
    "--service",
    is_flag=True,
    help="Serve the ledger on a loopback port and play each party as a separate client "
    "with its own key; the regulator mirrors and reports.",
)
@json_option
def demo(directory: str, fresh: bool, service: bool, as_json: bool) -> None:
    """Run the whole story on an embedded SQLite ledger, narrating each step.

    Creates DIR/ledger.db with the product catalog, registers parties and keys,
    then follows eight H100s from NVIDIA to a cloud in Singapore: manufacture,
    shipment, receipt, end-use statement, an inspection with nvidia-smi evidence,
    and the chip's verified history. Shows what the ledger refuses, verifies
    everything and prints a receipt. Each step shows the command that does the
    same by hand: pasted in order into an empty folder, they build the same ledger
    with your own keys.
    """
    from rich.console import Console

    from provenance import demo as story

    console = Console(highlight=False, soft_wrap=True)
    styles = {"step": "bold", "cmd": "cyan", "info": "", "warn": "yellow"}
    prefixes = {"step": "\n", "cmd": "  $ ", "info": "    ", "warn": "    ! "}

    def narrate(kind: str, text: str) -> None:
        if not as_json:
            console.print(prefixes[kind] + text, style=styles[kind], markup=False)

    if service:
        from provenance.service import demo as served

        done = served.run(Path(directory), narrate, fresh=fresh)
        emit(
            as_json,
            done.to_json(),
            f"\nledger {done.db} served at {done.url} (stopped): {done.size} entries; "
            f"the regulator's replica: {done.replica}",
        )
        return
    result = story.run(Path(directory), narrate, fresh=fresh, setup=replay_setup())

    def human() -> None:
        click.echo("")
        click.echo(f"ledger {result.db}: {result.size} entries, root {result.root}")
        click.echo(f"the ledger refused {len(result.caught)} bad statements, and wrote nothing")
        receipt = result.directory / "receipt-shipment.txt"
        header = result.receipts["shipment"].splitlines()[0]
        click.echo(f"the shipment's receipt ({header}): {receipt}")
        if result.reports:
            click.echo(f"the regulator's report: {result.reports['regulator']}")
        me = invocation()
        if result.chip:
            click.echo(f"explore it: {me} chip {result.chip['serial']} --db {result.db}")
        click.echo(f"            {me} shipment list --db {result.db}")

    emit(as_json, result.to_json(), human)


def invocation() -> str:
    """How to run this `provenance` from where the user is: `provenance` when that is on
    the PATH and is this one; else the path it was started by (`.venv/bin/provenance`),
    or `python -m provenance` with this interpreter."""
    import os
    import shlex
    import shutil
    import sys

    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    on_path = shutil.which("provenance")
    if started is not None and started.name == "provenance" and started.exists():
        if on_path and Path(on_path).resolve() == started.resolve():
            return "provenance"
        shown = str(started) if started.is_absolute() else os.path.relpath(started)
        return shlex.quote(shown if "/" in shown else f"./{shown}")
    if on_path and Path(on_path).parent.resolve() == Path(sys.executable).parent.resolve():
        return "provenance"
    return f"{shlex.quote(sys.executable)} -m provenance"


def replay_setup() -> list[str]:
    """The commands a replay of the demo needs first so that `provenance`, in any folder,
    is this one: none when it is on the PATH; else the PATH with its folder, or a shell
    function running this interpreter's `-m provenance`."""
    import shlex
    import sys

    me = invocation()
    if me == "provenance":
        return []
    if me.endswith("-m provenance"):
        return [f'provenance() {{ {shlex.quote(sys.executable)} -m provenance "$@"; }}']
    folder = Path(sys.argv[0]).resolve().parent
    return [f'export PATH={shlex.quote(str(folder))}:"$PATH"']
