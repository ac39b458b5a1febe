"""``python -m rescue_console serve [--host H] [--port P]``."""

from __future__ import annotations

import argparse
import sys

import uvicorn

from rescue_console.app import create_app
from rescue_console.settings import ConsoleSettings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rescue_console", description="The station console.")
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="serve the console over HTTP")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8100)
    args = parser.parse_args(argv)
    settings = ConsoleSettings()  # fails fast on a missing service URL
    uvicorn.run(create_app(settings), host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
