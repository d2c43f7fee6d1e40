"""One way to print a listing: a table for people, ``--json`` for machines."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, is_dataclass
from datetime import datetime
from typing import Any

import click

from shared.monitor.reports import text_table


def jsonable(obj: Any) -> Any:
    """Dataclasses, dicts, lists and datetimes as plain JSON values."""
    if is_dataclass(obj):
        return jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {k: jsonable(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [jsonable(v) for v in obj]
    if isinstance(obj, datetime):
        return obj.isoformat()
    return obj


def echo_json(value: Any) -> None:
    """Print ``value`` as indented JSON."""
    click.echo(json.dumps(jsonable(value), indent=2, default=str))


@dataclass(frozen=True)
class Table:
    """A listing's columns: ``row`` turns one item into its cells."""

    headers: list[str]
    row: Callable[[Any], list[Any]]

    def render(self, items: Sequence[Any]) -> str:
        return text_table([self.row(i) for i in items], self.headers)


def show(
    items: Any,
    as_json: bool,
    table: Table | Callable[[Any], None],
    *,
    empty: str | None = None,
    data: Any = None,
) -> None:
    """Print a command's result: ``--json`` prints ``data`` (default: ``items``) as JSON;
    otherwise ``empty`` when there are no items, else ``table`` (a :class:`Table`, or a
    function that prints the items itself)."""
    if as_json:
        echo_json(items if data is None else data)
    elif empty is not None and not items:
        click.echo(empty)
    elif isinstance(table, Table):
        click.echo(table.render(items))
    else:
        table(items)
