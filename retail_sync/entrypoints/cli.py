"""The `retail-sync` command. Each subcommand is a thin shell over the library.

click (already a Celery dependency) does the parsing; later areas add their groups (demo, sandbox, setup,
exceptions, replay, reconcile).
"""
from __future__ import annotations

import json
import sys

import click

from config.settings import get_settings


def _settings():
    try:
        return get_settings()
    except Exception as exc:  # pydantic's ValidationError names the variable and the reason
        raise click.ClickException(f"invalid settings: {exc}") from None


@click.group()
def main() -> None:
    """retail-sync: keeps WooCommerce, the ERP and the WMS in step."""


@main.group()
def db() -> None:
    """The SQL state store."""


@db.command("upgrade")
@click.option("--revision", default="head", show_default=True)
def db_upgrade(revision: str) -> None:
    """Create or migrate the state store to the latest schema."""
    from retail_sync.persistence.migrate import upgrade

    settings = _settings()
    upgrade(settings.database_url, revision)
    click.echo(f"database upgraded to {revision}")


@db.command("heads")
def db_heads() -> None:
    """Print the migration heads (there must be exactly one)."""
    from retail_sync.persistence.migrate import heads

    found = heads()
    click.echo("\n".join(found))
    if len(found) != 1:
        sys.exit(1)


@main.command()
def status() -> None:
    """Inbox by status and open exceptions, as JSON."""
    from retail_sync.bootstrap import bootstrap
    from retail_sync.persistence.exception_store import count_open
    from retail_sync.persistence.inbox import count_by_status

    services = bootstrap(_settings())
    with services.uow() as uow:
        report = {"inbox": count_by_status(uow.conn), "open_exceptions": count_open(uow.conn)}
    click.echo(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
