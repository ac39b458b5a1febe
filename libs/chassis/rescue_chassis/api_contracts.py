"""Every published contract checked against the last release (issue 31).

The events' schemas come from ``rescue_events.schemas``; each service's OpenAPI
document is built here from its app (no database, no broker: the document is
all that is asked). ``rescue_events.compat`` says what counts as breaking.

    python -m rescue_chassis.api_contracts check     # exit 1 on a breaking change
    python -m rescue_chassis.api_contracts release   # commit CONTRACTS_VERSION's snapshot
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from rescue_chassis.app import create_app
from rescue_events import compat, schemas

ROOT = Path(__file__).resolve().parents[3]
SERVICES_DIR = ROOT / "services"
# A document is built without a database or broker: these are never reached.
_NOWHERE = {
    "database_url": "postgresql+asyncpg://nobody@127.0.0.1:1/none",
    "kafka_bootstrap_servers": "127.0.0.1:1",
    "jwt_secret": "openapi-document-only-" + "x" * 32,
    "log_level": "ERROR",
}


def service_names(directory: Path = SERVICES_DIR) -> list[str]:
    """The services of the workspace: ``services/<name>/<name>/app.py``."""
    return sorted(
        p.parent.parent.name
        for p in directory.glob("*/*/app.py")
        if p.parent.name == p.parent.parent.name
    )


def openapi_document(service: str) -> dict[str, Any]:
    definition = importlib.import_module(f"{service}.app").service
    settings = definition.settings_class(**_NOWHERE)
    return create_app(definition, settings).openapi()


def openapi_documents(services: Iterable[str]) -> dict[str, dict[str, Any]]:
    return {name: openapi_document(name) for name in services}


def breaks(
    release: compat.Release | None = None,
    documents: dict[str, dict[str, Any]] | None = None,
) -> list[str]:
    """What the contracts in code break of the last release (empty: compatible);
    ``documents``: the services' OpenAPI documents if built already."""
    release = release or compat.last_release()
    documents = documents or {}
    found = compat.event_breaks(
        release.events,
        schemas.json_schemas(),
        release.topics,
        schemas.event_topics(),
        retired=schemas.retired_topics(),
    )
    present = set(service_names())
    for service, released in sorted(release.openapi.items()):
        if service not in present:
            found.append(f"{service}: the service's API was removed")
            continue
        current = documents.get(service) or openapi_document(service)
        found.extend(compat.openapi_breaks(released, current, service))
    return found


def release(version: str = compat.CONTRACTS_VERSION, directory: Path = compat.RELEASED_DIR):
    """Snapshot the contracts in code as release ``version`` (never rewritten)."""
    compat.write_release(
        directory / version, schemas.rendered(), openapi_documents(service_names())
    )
    return directory / version


def main(argv: list[str]) -> int:
    command = argv[1] if len(argv) > 1 else "check"
    if command == "check":
        last = compat.last_release()
        found = breaks(last)
        for line in found:
            print(line)
        if found:
            print(
                f"{len(found)} breaking change(s) against release {last.version}: keep the "
                "old contract, or raise the version (an event: a new version; an API: "
                "the major of CONTRACTS_VERSION) and run `make contracts-release`"
            )
            return 1
        print(
            f"contracts compatible with release {last.version} (compat.CONTRACTS_VERSION "
            f"{compat.CONTRACTS_VERSION})"
        )
        return 0
    if command == "release":
        print(f"wrote {release()}")
        return 0
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
