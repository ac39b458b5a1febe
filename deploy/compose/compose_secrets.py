"""The secret files of production compose (docker-compose.prod.yml), new and random.

    python deploy/compose/compose_secrets.py /etc/rescue-network/secrets     # make compose-secrets

Writes every secret the prod file declares that the folder does not have yet (an
existing file is never replaced: the lookup keys cannot rotate, and a database keeps
the passwords it was initialised with): database URLs with random hex passwords, each
service's data keys (rescue_chassis.crypto), the photo-link key, the Postgres
superuser's and Grafana's passwords. The folder is made 0700, the files 0444 (the
containers' users read them through their mounts). Prints the names, never a value.
"""

from __future__ import annotations

import argparse
import secrets
import sys
from datetime import UTC, datetime
from pathlib import Path

import yaml

from rescue_chassis.crypto import generate_key

ROOT = Path(__file__).resolve().parents[2]
PROD = ROOT / "docker-compose.prod.yml"


class _ComposeLoader(yaml.SafeLoader):
    """Reads compose's own tags (!override, !reset) as their plain values."""


for _tag in ("!override", "!reset"):
    _ComposeLoader.add_constructor(
        _tag,
        lambda loader, node: (
            loader.construct_sequence(node)
            if isinstance(node, yaml.SequenceNode)
            else loader.construct_mapping(node)
            if isinstance(node, yaml.MappingNode)
            else loader.construct_scalar(node)
        ),
    )


def declared() -> list[str]:
    """The secrets' names, as the prod file mounts them from the folder."""
    prod = yaml.load(PROD.read_text(encoding="utf-8"), Loader=_ComposeLoader)  # noqa: S506
    return sorted(prod["secrets"])


def _password() -> str:
    return secrets.token_hex(24)  # URL-safe: it goes inside a database URL


def value_of(name: str, kid: str) -> str:
    """A new value for the secret ``name``; ``kid`` names this deployment's first data key."""
    for suffix, role in (("_owner_database_url", "{}_owner"), ("_database_url", "{}")):
        if name.endswith(suffix):
            service = name.removesuffix(suffix)
            user = role.format(service)
            return f"postgresql+asyncpg://{user}:{_password()}@postgres:5432/{service}"
    if name.endswith("_data_keys"):
        return f"{kid}:{generate_key()}"
    if name.endswith("_data_key_current"):
        return kid
    if name.endswith("_lookup_key"):
        return generate_key()
    if name in ("postgres_password", "grafana_admin_password"):
        return _password()
    if name == "photo_link_key":
        return secrets.token_hex(32)
    raise ValueError(f"no generator for the secret {name!r}: add one to {__file__}")


def write(folder: Path, *, kid: str | None = None) -> list[str]:
    """Writes the missing secrets into ``folder``; returns the names written."""
    kid = kid or "k" + datetime.now(UTC).strftime("%Y%m")
    folder.mkdir(parents=True, exist_ok=True)
    folder.chmod(0o700)
    written = []
    for name in declared():
        path = folder / name
        if path.exists():
            continue
        path.write_text(value_of(name, kid), encoding="utf-8")
        path.chmod(0o444)
        written.append(name)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="compose_secrets.py", description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path, help="RESCUE_SECRETS_DIR of production.env")
    args = parser.parse_args(argv)
    written = write(args.folder)
    kept = len(declared()) - len(written)
    for name in written:
        print(f"wrote {args.folder / name}")
    print(f"{len(written)} written, {kept} kept as they were, in {args.folder}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
