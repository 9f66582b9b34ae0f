from __future__ import annotations

from alembic import context

from retail_sync.persistence.db import create_db_engine
from retail_sync.persistence.tables import metadata

config = context.config


def run_migrations_online() -> None:
    engine = create_db_engine(config.attributes["database_url"])
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=metadata,
            render_as_batch=connection.dialect.name == "sqlite",  # SQLite alters tables by copy
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run `retail-sync db upgrade`")
run_migrations_online()
