"""``python -m <service> serve | migrate | revision``: the same for every service."""

from __future__ import annotations

import argparse
import os
import sys

import uvicorn

from rescue_chassis import migrations
from rescue_chassis.app import ServiceDefinition, create_app
from rescue_chassis.crypto import KeyConfigurationError
from rescue_chassis.settings import SettingsError, check_database_url, env_name, load_settings

EXIT_SETTINGS = 2  # a setting is wrong: restarting will not help


def main(definition: ServiceDefinition, argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {definition.name}")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the service")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    commands.add_parser("migrate", help="apply database migrations")
    revision = commands.add_parser("revision", help="autogenerate a migration")
    revision.add_argument("-m", "--message", required=True)
    args = parser.parse_args(argv)

    try:  # one line naming the variable, not pydantic's traceback (issue 22)
        settings = load_settings(definition.settings_class)
        if args.command == "serve":
            app = create_app(definition, settings)
        owner_url = _owner_url(definition)
    except (SettingsError, KeyConfigurationError) as error:
        print(f"{definition.name} cannot start: {error}", file=sys.stderr)
        return EXIT_SETTINGS
    if args.command == "migrate":
        # The owner migrates and grants the service's role what it uses; without an
        # owner URL (a scratch database) the service's role migrates its own tables.
        if owner_url:
            migrations.upgrade(definition.migrations_dir, owner_url)
            migrations.grant_runtime_role(owner_url, settings.database_url)
        else:
            migrations.upgrade(definition.migrations_dir, settings.database_url)
    elif args.command == "revision":
        migrations.revision(
            definition.migrations_dir, owner_url or settings.database_url, args.message
        )
    else:
        uvicorn.run(
            app,
            host=args.host,
            port=args.port,
            http="httptools",  # the C parser (a chassis dependency), not h11
            loop="uvloop",  # libuv's loop (a chassis dependency), not asyncio's
            log_config=None,
            access_log=False,
            timeout_graceful_shutdown=5,
        )
    return 0


def _owner_url(definition: ServiceDefinition) -> str | None:
    """``<SERVICE>_OWNER_DATABASE_URL``: the role that owns the tables and migrates."""
    name = env_name(definition.settings_class, "owner_database_url")
    url = os.environ.get(name)
    try:
        return check_database_url(url) if url else None
    except ValueError as error:
        raise SettingsError(f"{name} {error}") from None
