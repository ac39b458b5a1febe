"""``python -m summary serve | migrate | revision``, and ``rebuild``: the read model
cleared and replayed from the beginning of every topic, in this process."""

import asyncio
import sys

from rescue_chassis.cli import main


def _rebuild() -> int:
    from rescue_chassis.app import build_runtime
    from rescue_chassis.commands import UnitOfWork
    from rescue_chassis.settings import SettingsError, load_settings
    from summary import rebuild
    from summary.app import service
    from summary.commands.rebuilds import StartRebuild, start_rebuild

    try:
        settings = load_settings(service.settings_class)
    except SettingsError as error:
        print(f"summary cannot start: {error}", file=sys.stderr)
        return 2

    async def go() -> str:
        runtime = build_runtime(service, settings)
        try:
            async with runtime.sessions() as session:
                view = await start_rebuild(StartRebuild(), UnitOfWork(session, runtime))
                await session.commit()
            await rebuild.run(runtime, view.id)
            async with runtime.sessions() as session:
                from summary.tables import Rebuild

                row = await session.get(Rebuild, view.id)
                return (
                    f"rebuild {row.id}: {row.status}, {row.records_read} records, {row.facts} facts"
                )
        finally:
            await runtime.engine.dispose()

    print(asyncio.run(go()))
    return 0


if len(sys.argv) > 1 and sys.argv[1] == "rebuild":
    sys.exit(_rebuild())

from summary.app import service  # noqa: E402

sys.exit(main(service))
