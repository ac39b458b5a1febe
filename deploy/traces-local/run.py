"""A trace backend for the local network (`make run`): Arize Phoenix, receiving OTLP.

    python deploy/traces-local/run.py [--listen 127.0.0.1:6006] [--grpc-port 4317]
                                      [--data-dir var/tools/phoenix-data] [--install-only]

Installs Phoenix into its own venv (var/tools/phoenix) from the pinned
deploy/traces-local/requirements.txt, again whenever that file changes, then runs
``phoenix serve`` in the foreground: its UI and API on ``--listen``, OTLP/HTTP at
``/v1/traces`` there, spans kept in SQLite under ``--data-dir``. The network sends its
spans there when started with OTEL_EXPORTER_OTLP_TRACES_ENDPOINT (printed below).
docs/runbook.md, "Traces on the local network".
"""

# Phoenix is under the Elastic License 2.0: fine for this local ops tool; never a dependency
# of the project nor in its images.

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = ROOT / "deploy/traces-local/requirements.txt"
VENV = ROOT / "var/tools/phoenix"
PHOENIX = "arize-phoenix"


def pinned(requirements: Path = REQUIREMENTS) -> dict[str, str]:
    """Package -> exact version of the requirements file; refuses any unpinned line."""
    pins: dict[str, str] = {}
    for raw in requirements.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not version.strip() or any(c in version for c in "<>=!~*,;"):
            raise ValueError(f"{requirements.name}: not an exact pin: {raw!r}")
        pins[name.strip().lower()] = version.strip()
    return pins


def endpoint(listen: str) -> str:
    """The value of OTEL_EXPORTER_OTLP_TRACES_ENDPOINT for Phoenix on ``listen``."""
    host, _, port = listen.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"--listen is host:port, not {listen!r}")
    return f"http://{host}:{port}/v1/traces"


def phoenix_env(listen: str, grpc_port: int, data_dir: Path) -> dict[str, str]:
    host, _, port = listen.rpartition(":")
    return {
        **os.environ,
        "PHOENIX_HOST": host,
        "PHOENIX_PORT": port,
        "PHOENIX_GRPC_PORT": str(grpc_port),
        "PHOENIX_WORKING_DIR": str(data_dir),
        # Nothing leaves the machine: no usage telemetry, no fonts or scripts from CDNs.
        "PHOENIX_TELEMETRY_ENABLED": "false",
        "PHOENIX_ALLOW_EXTERNAL_RESOURCES": "false",
    }


def install(venv: Path = VENV, requirements: Path = REQUIREMENTS) -> Path:
    """The venv's ``phoenix``, (re)installed when the requirements file changed."""
    pinned(requirements)  # an unpinned line stops here, before anything is installed
    stamp = venv / ".requirements.sha256"
    digest = hashlib.sha256(requirements.read_bytes()).hexdigest()
    if not (stamp.exists() and stamp.read_text().strip() == digest):
        # uv as the repository's setup has it: on PATH, or a module of the system Python
        uv = [shutil.which("uv")] if shutil.which("uv") else ["python3", "-m", "uv"]
        if not (venv / "bin/python").exists():
            subprocess.run([*uv, "venv", "-q", "--python", "3.11", str(venv)], check=True)
        subprocess.run(
            [*uv, "pip", "sync", "-q", "--python", str(venv / "bin/python"), str(requirements)],
            check=True,
        )
        stamp.write_text(digest + "\n")
    return venv / "bin/phoenix"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="run.py", description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:6006", help="UI, API and OTLP/HTTP")
    parser.add_argument("--grpc-port", type=int, default=4317, help="OTLP/gRPC (unused here)")
    parser.add_argument("--data-dir", type=Path, default=ROOT / "var/tools/phoenix-data")
    parser.add_argument("--install-only", action="store_true")
    args = parser.parse_args(argv)
    otlp = endpoint(args.listen)
    phoenix = install()
    if args.install_only:
        print(phoenix)
        return 0
    args.data_dir.mkdir(parents=True, exist_ok=True)
    print(
        f"Phoenix {pinned()[PHOENIX]}: UI http://{args.listen}/  (spans in {args.data_dir})\n"
        "  send the local network's spans here:\n"
        f"    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={otlp} make run\n"
        f"    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT={otlp} python -m rescue_localnet up --free-ports\n"
        f"  spans with an error: curl 'http://{args.listen}/v1/projects/default/spans"
        "?limit=100' (status_code ERROR)\n",
        flush=True,
    )
    env = phoenix_env(args.listen, args.grpc_port, args.data_dir.resolve())
    os.execve(phoenix, [str(phoenix), "serve"], env)


if __name__ == "__main__":
    sys.exit(main())
