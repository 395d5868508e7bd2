"""Alembic environment for two databases: the resident database and the data-key store.

Flask-Migrate's multi-database layout: every revision has one upgrade/downgrade function per
database (`upgrade_()` for the resident database, `upgrade_keystore()` for the key store), and
each database keeps its own alembic_version row. Both databases are migrated in one run: one
transaction is opened on each, every revision runs, then the key store commits FIRST and the
resident database second. A revision that moves data out of the resident database into the key
store (0003) is therefore safe if the second commit fails: the keys are already in the key store
and still in the resident database, and running the upgrade again finishes the move (the copy
skips what is already there).

A revision reaches the other database's connection through
``context.config.attributes["connections"]`` (bind name -> Connection, in its open transaction).
"""

import logging
from logging.config import fileConfig

from alembic import context
from flask import current_app

config = context.config

# Configure logging from alembic.ini only when nothing else did (the `cardservice db` command):
# inside an app or a test run that set up logging, replacing its handlers and levels would
# silence it. Existing loggers stay enabled either way.
if not logging.getLogger().handlers:
    fileConfig(config.config_file_name, disable_existing_loggers=False)
logger = logging.getLogger("alembic.env")

target_db = current_app.extensions["migrate"].db
# The key store first: its transaction commits before the resident database's (see above).
KEYSTORE = "keystore"
bind_names = [KEYSTORE, ""]


def get_engine(bind_key=None):
    return target_db.engines[bind_key or None]


def get_engine_url(bind_key=None):
    return get_engine(bind_key).url.render_as_string(hide_password=False).replace("%", "%%")


config.set_main_option("sqlalchemy.url", get_engine_url())
config.set_section_option(KEYSTORE, "sqlalchemy.url", get_engine_url(KEYSTORE))


def get_metadata(bind):
    return target_db.metadatas[bind or None]


def run_migrations_offline():
    """Offline (--sql) mode: one SQL script per database, `<bind>.sql` (`.sql` for the resident
    database). Revisions that move data between the databases need a live connection and
    refuse to run here."""
    engines = {
        KEYSTORE: config.get_section_option(KEYSTORE, "sqlalchemy.url"),
        "": config.get_main_option("sqlalchemy.url"),
    }
    for name, url in engines.items():
        logger.info("Migrating database %s", name or "<resident>")
        with open(f"{name}.sql", "w") as buffer:
            context.configure(
                url=url,
                output_buffer=buffer,
                target_metadata=get_metadata(name),
                literal_binds=True,
            )
            with context.begin_transaction():
                context.run_migrations(engine_name=name)


def run_migrations_online():
    def process_revision_directives(context, revision, directives):
        # No empty revision from an autogenerate that found nothing in either database.
        if getattr(config.cmd_opts, "autogenerate", False):
            script = directives[0]
            if all(ops.is_empty() for ops in script.upgrade_ops_list):
                directives[:] = []
                logger.info("No changes in schema detected.")

    conf_args = dict(current_app.extensions["migrate"].configure_args)
    if conf_args.get("process_revision_directives") is None:
        conf_args["process_revision_directives"] = process_revision_directives

    records = {}
    try:
        for name in bind_names:
            connection = get_engine(name).connect()
            records[name] = (connection, connection.begin())
        config.attributes["connections"] = {name: rec[0] for name, rec in records.items()}
        for name in bind_names:
            logger.info("Migrating database %s", name or "<resident>")
            context.configure(
                connection=records[name][0],
                upgrade_token=f"{name}_upgrades",
                downgrade_token=f"{name}_downgrades",
                target_metadata=get_metadata(name),
                **conf_args,
            )
            context.run_migrations(engine_name=name)
        for name in bind_names:  # key store first, resident database second
            records[name][1].commit()
    except BaseException:
        for _connection, transaction in records.values():
            if transaction.is_active:
                transaction.rollback()
        raise
    finally:
        config.attributes.pop("connections", None)
        for connection, _ in records.values():
            connection.close()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
