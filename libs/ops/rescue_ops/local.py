"""The local network's supervisor (``make run``), through its files.

``rescue_localnet.supervisor`` watches ``<data>/control/`` for requests and
writes ``<data>/supervisor.json``; this side writes a request atomically and
waits for the answer, so the tool needs nothing of the supervisor's code (and
installs without it). ``--data-dir`` or ``RESCUE_OPS_LOCALNET_DIR``; default
``var/localnet`` (from the repository's root, as ``make ops`` runs).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

from rescue_ops.config import ConfigError

DATA_DIR_ENV = "RESCUE_OPS_LOCALNET_DIR"
DEFAULT_DATA_DIR = Path("var/localnet")
STATE_FILE = "supervisor.json"
CONTROL_DIR = "control"
TARGETS = ("intake", "search", "transfer", "referral", "followup", "summary", "broker", "postgres")


def data_dir(option: Path | None) -> Path:
    return Path(option or os.environ.get(DATA_DIR_ENV) or DEFAULT_DATA_DIR)


def supervisor_state(directory: Path) -> dict[str, Any]:
    """The running supervisor's state; ConfigError when none runs on ``directory``."""
    path = directory / STATE_FILE
    try:
        state = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(
            f"no local network runs on {directory} (no {path}): start it with make run, "
            f"or name its data folder with --data-dir or {DATA_DIR_ENV}"
        ) from None
    except ValueError as exc:
        raise ConfigError(f"{path} is unreadable: {exc}") from None
    pid = state.get("pid")
    if not isinstance(pid, int) or not _alive(pid):
        raise ConfigError(f"the supervisor of {directory} (pid {pid}) is not running any more")
    return state


def request(directory: Path, action: str, target: str, timeout: float) -> dict[str, Any]:
    """Ask the supervisor to ``action`` ``target`` and wait for its answer
    (``{"ok", "message"}``); a timeout answers ok False."""
    supervisor_state(directory)
    control = directory / CONTROL_DIR
    request_id = f"{int(time.time() * 1000)}-{uuid.uuid4().hex[:8]}"
    body = {"id": request_id, "action": action, "target": target}
    temporary = control / f".{request_id}.tmp"
    temporary.write_text(json.dumps(body))
    os.replace(temporary, control / f"{request_id}.json")  # whole, or not at all
    answer_file = control / f"{request_id}.done"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if answer_file.exists():
            try:
                answer = json.loads(answer_file.read_text())
            except ValueError:
                time.sleep(0.05)
                continue
            answer_file.unlink(missing_ok=True)
            return answer
        time.sleep(0.1)
    return {
        "id": request_id,
        "ok": False,
        "message": f"no answer from the supervisor within {timeout:g}s "
        f"(see {directory / 'logs' / 'supervisor.log'})",
    }


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
