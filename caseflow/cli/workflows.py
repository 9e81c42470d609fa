"""``caseflow workflows list|check|diagram``: these work without starting the app."""
from __future__ import annotations

import sys
from pathlib import Path

import click

from caseflow.workflow.engine import default_workflows_dir
from caseflow.workflow.validation import load_directory


def _folder(path: str | None) -> Path:
    import os

    return Path(path or os.environ.get("CASEFLOW_WORKFLOWS_DIR") or default_workflows_dir())


@click.group("workflows")
def workflows_group() -> None:
    """Inspect, validate and draw the workflow definitions."""


@workflows_group.command("check")
@click.option("--dir", "folder", type=click.Path(file_okay=False), help="Folder of YAML definitions.")
def check_command(folder: str | None) -> None:
    """Validate every definition; print each problem as FILE: YAML.PATH: message."""
    defs, problems = load_directory(_folder(folder))
    for p in problems:
        click.echo(str(p), err=True)
    if problems:
        click.echo(f"{len(problems)} problem(s) found", err=True)
        sys.exit(1)
    click.echo(f"{len(defs)} workflow definition(s) OK")


@workflows_group.command("list")
@click.option("--dir", "folder", type=click.Path(file_okay=False))
def list_command(folder: str | None) -> None:
    """List the definitions with version, item type, states and triggers."""
    defs, problems = load_directory(_folder(folder))
    for d in defs:
        click.echo(f"{d.name} v{d.version} ({d.item}): {len(d.states)} states, "
                   f"{len({t.trigger for t in d.transitions})} triggers — {d.title.get('zh', '')}")
    for p in problems:
        click.echo(str(p), err=True)
    if problems:
        sys.exit(1)


@workflows_group.command("diagram")
@click.argument("name")
@click.option("--version", type=int, help="Definition version (default: latest).")
@click.option("--format", "fmt", type=click.Choice(["auto", "svg", "mermaid"]), default="auto")
@click.option("-o", "--output", type=click.Path(dir_okay=False), help="File to write (default: stdout).")
@click.option("--dir", "folder", type=click.Path(file_okay=False))
def diagram_command(name: str, version: int | None, fmt: str, output: str | None, folder: str | None) -> None:
    """Draw workflow NAME as SVG (with Graphviz) or Mermaid text."""
    from caseflow.workflow.diagram import render

    defs, problems = load_directory(_folder(folder))
    if problems:
        raise click.ClickException("definitions are invalid; run `caseflow workflows check`")
    matching = [d for d in defs if d.name == name and (version is None or d.version == version)]
    if not matching:
        raise click.ClickException(f"no workflow {name!r}" + (f" version {version}" if version else ""))
    d = max(matching, key=lambda x: x.version)
    kind, text = render(d, fmt)
    if output:
        Path(output).write_text(text, "utf-8")
        click.echo(f"wrote {kind} diagram of {d.name} v{d.version} to {output}", err=True)
    else:
        click.echo(text)
