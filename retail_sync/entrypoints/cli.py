"""The `retail-sync` command. Each subcommand is a thin shell over the library.

click (already a Celery dependency) does the parsing; later areas add their groups (demo, exceptions, replay,
reconcile orders / inventory). A failure the operator can act on (a bad argument, a system that is away or
refuses) is a ClickException: one clear line and a non-zero exit, never a traceback.
"""
from __future__ import annotations

import json
import sys
from contextlib import contextmanager

import click

from config.settings import get_settings
from retail_sync.errors import SyncError, is_transient


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


def _services():
    from retail_sync.bootstrap import bootstrap

    return bootstrap(_settings())


@contextmanager
def _reported(action: str):
    """Our own errors and infrastructure that is away become one line for the operator; a bug keeps its traceback."""
    try:
        yield
    except Exception as exc:
        if isinstance(exc, SyncError) or is_transient(exc):
            raise click.ClickException(f"{action} failed: {type(exc).__name__}: {exc}") from None
        raise


@main.command()
def status() -> None:
    """Inbox, orders and open exceptions from SQL, and each system's breaker and pause, as JSON."""
    from retail_sync.flows.order_view import orders_overview
    from retail_sync.persistence.exception_store import count_open
    from retail_sync.persistence.inbox import count_by_status

    services = _services()
    with _reported("reading the state store"), services.uow() as uow:
        report = {"inbox": count_by_status(uow.conn), "open_exceptions": count_open(uow.conn),
                  **orders_overview(uow.conn, services.clock())}
    report["systems"] = _guard_state(services.guard)
    click.echo(json.dumps(report, indent=2, default=str))


def _guard_state(guard) -> dict:
    """The shared call guard's view per system (breaker, pause, rate); its own failure is reported, not raised,
    so `status` still answers while Redis is away."""
    describe = getattr(guard, "describe", None)
    if describe is None:
        return {}
    try:
        return describe()
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


@main.group()
def setup() -> None:
    """Connect the engine to the systems around it."""


@setup.command("woocommerce")
@click.option("--public-url", required=True,
              help="Where the store reaches this engine, e.g. https://sync.example.com (no query or fragment).")
def setup_woocommerce(public_url: str) -> None:
    """Register (idempotently) the store webhooks the engine needs, signed with WOO_WEBHOOK_SECRET."""
    from retail_sync.flows.setup import register_store_webhooks, store_delivery_url

    try:
        delivery_url = store_delivery_url(public_url)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--public-url") from None
    with _reported("registering the store webhooks"):
        webhooks = register_store_webhooks(_services(), public_url)
    click.echo(f"webhooks deliver to {delivery_url}")
    for webhook in webhooks:
        click.echo(f"{webhook.topic} → webhook {webhook.id} ({webhook.status})")


@main.group()
def reconcile() -> None:
    """Bring the engine's records in line with the systems (run inline, not through the workers)."""


@reconcile.command("catalog")
def reconcile_catalog() -> None:
    """Sync the product bindings (SKU ↔ ERP product ↔ store product) and warehouse stock, then print the counts."""
    from retail_sync.flows.catalog import sync_catalog

    with _reported("the catalog sync"):
        counts = sync_catalog(_services())
    click.echo(json.dumps(counts, indent=2, default=str))


@main.group(invoke_without_command=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--woo-port", default=8081, show_default=True, type=click.IntRange(1, 65535))
@click.option("--erp-port", default=8069, show_default=True, type=click.IntRange(1, 65535))
@click.option("--wms-port", default=8083, show_default=True, type=click.IntRange(1, 65535))
@click.option("--engine-url", default=None, help="Where the WMS posts its events (default: ENGINE_URL).")
@click.option("--seed", "seed_file", type=click.Path(exists=True, dir_okay=False),
              help="Catalog JSON to load into each sandbox that holds no products yet.")
@click.option("--data-dir", type=click.Path(file_okay=False), help="SQLite state (default: RETAIL_SYNC_HOME/sandbox).")
@click.option("--tls", is_flag=True, help="Serve the store over https with a self-signed certificate.")
@click.option("--assume-https", is_flag=True, help="The store is behind TLS termination: accept HTTP Basic.")
@click.option("--wp-safe-urls", is_flag=True, help="Refuse loopback webhook URLs and odd ports, as WordPress does.")
@click.option("--timezone", default="Europe/Berlin", show_default=True, help="The store's site timezone.")
@click.pass_context
def sandbox(ctx: click.Context, host: str, woo_port: int, erp_port: int, wms_port: int, engine_url: str | None,
            seed_file: str | None, data_dir: str | None, tls: bool, assume_https: bool, wp_safe_urls: bool,
            timezone: str) -> None:
    """Run the simulated WooCommerce, ERP and WMS (or `sandbox seed FILE`)."""
    if ctx.invoked_subcommand is not None:
        return
    from retail_sync.sandbox import cli_support

    options = cli_support.options_from(
        _settings(), host=host, woo_port=woo_port, erp_port=erp_port, wms_port=wms_port, engine_url=engine_url,
        data_dir=data_dir, tls=tls, assume_https=assume_https, wp_safe_urls=wp_safe_urls, timezone=timezone)
    try:
        cli_support.serve(options, seed_file, announce=click.echo)
    except (OSError, RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


@sandbox.command("seed")
@click.argument("catalog_file", type=click.Path(exists=True, dir_okay=False))
def sandbox_seed(catalog_file: str) -> None:
    """Post one catalog to all three sandboxes (WOO_URL, ERP_URL, WMS_URL)."""
    from retail_sync.sandbox import cli_support

    try:
        results = cli_support.seed_remote(_settings(), catalog_file)
    except (OSError, RuntimeError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
