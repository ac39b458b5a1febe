"""``make fuzz``: Schemathesis against every service's OpenAPI document (issue 9).

Starts the local network on free ports (embedded Postgres, tansu, the five
services), mints a center-station token with every role that opens most
endpoints, and runs ``st run <service>/openapi.json`` for each service with a
bounded number of examples per operation and a time budget, so the whole run
stays within about ten minutes on two cores. Not collected by pytest (no
``test_`` prefix).

Every check runs (``--checks all``) and every failure fails the run: no 5xx,
every answer as documented (status, content type, headers, body schema), auth
enforced, 405 with ``Allow``, every request the schema forbids refused (ST201:
booleans, numbers and dates are strict) and every request it allows accepted
(ST202; a 422 for a rule beyond the schema, such as "no such person has been
admitted", is this API's design and is configured as expected in
schemathesis.toml beside this file).

    python tests/fuzz/run_schemathesis.py [--services intake,search] [--examples 25]
        [--seconds 90] [--seed 1]

Prints per service: operations tested, failures by kind, and PASS/FAIL; exits 1 on
any gating failure. Reports (JSON, and Schemathesis's own output) are kept in
``var/fuzz/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

SERVICES = ("intake", "search", "transfer", "referral", "followup")
ROLES = [
    "station_staff",
    "station_lead",
    "center_coordinator",
    "search_specialist",
    "auditor",
    "ops",
    "admin",
]
CONFIG = Path(__file__).with_name("schemathesis.toml")
OUT = ROOT / "var" / "fuzz"


def out(line: str = "") -> None:
    print(line, flush=True)


def start_network(data_dir: Path, services: list[str]):
    from rescue_localnet.network import LocalNetwork

    net = LocalNetwork.on_free_ports(data_dir)
    net.start_infrastructure()
    net.prepare_services()
    net.services = {name: net.services[name] for name in services}
    net.migrate()
    net.start_services()
    return net


def fuzz(name: str, url: str, token: str, args) -> dict:
    report = OUT / f"{name}.json"
    log = OUT / f"{name}.txt"
    report.unlink(missing_ok=True)
    command = [
        sys.executable,
        "-c",
        "from schemathesis.cli import schemathesis; schemathesis()",
        "--config-file",
        str(CONFIG),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--header",
        f"Authorization: Bearer {token}",
        "--max-examples",
        str(args.examples),
        "--max-time",
        str(args.seconds),
        "--seed",
        str(args.seed),
        "--workers",
        "1",
        "--request-timeout",
        "30",
        # search builds its gazetteer (every village) on the first place it reads:
        # seconds, and more on a busy machine; every other answer is far quicker.
        "--max-response-time",
        "25",
        "--continue-on-failure",
        "--report",
        "json",
        "--report-json-path",
        str(report),
    ]
    started = time.monotonic()
    with open(log, "w") as text:
        finished = subprocess.run(
            command, stdout=text, stderr=subprocess.STDOUT, env={**os.environ, "NO_COLOR": "1"}
        )
    elapsed = time.monotonic() - started
    if not report.exists():
        return {"error": f"schemathesis exited {finished.returncode}, no report (see {log})"}
    data = json.loads(report.read_text())
    data["elapsed"] = elapsed
    return data


def summarise(name: str, data: dict) -> bool:
    if "error" in data:
        out(f"{name}: FAIL ({data['error']})")
        return False
    operations = data["operations"]
    cases = data["test_cases"]
    gating = data["failures"]
    errors = data.get("errors") or []
    ok = not gating and not errors and operations["tested"] > 0
    out(
        f"{name}: {operations['tested']}/{operations['total']} operations tested, "
        f"{cases['generated']} requests in {data['elapsed']:.0f} s — {'PASS' if ok else 'FAIL'}"
    )
    for failure in gating:
        out(
            f"  ✗ {failure['code']} {failure['title']}: {failure['count']} — "
            + ", ".join(failure["operations"][:6])
        )
    for error in errors[:5]:
        out(f"  ✗ error: {json.dumps(error, ensure_ascii=False)[:300]}")
    if not gating:
        out("  no failures of any kind")
    return ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--services", default=",".join(SERVICES))
    parser.add_argument("--examples", type=int, default=25, help="per operation and phase")
    parser.add_argument("--seconds", type=int, default=90, help="time budget per service")
    parser.add_argument("--seed", type=int, default=1, help="try others: a seed finds its own")
    args = parser.parse_args()
    services = [s.strip() for s in args.services.split(",") if s.strip()]
    OUT.mkdir(parents=True, exist_ok=True)

    results: dict[str, bool] = {}
    with tempfile.TemporaryDirectory(prefix="rescue-fuzz-") as tmp:
        out(f"starting the local network ({', '.join(services)}) …")
        net = start_network(Path(tmp), services)
        try:
            token = net.token("center", ROLES, subject="fuzzer")
            for name in services:
                url = net.services[name].url
                out(
                    f"fuzzing {name} ({url}/openapi.json; ≤{args.examples} examples "
                    f"per operation, ≤{args.seconds} s) …"
                )
                results[name] = summarise(name, fuzz(name, url, token, args))
        finally:
            for name in services:  # the services' logs, for the 5xx tracebacks
                log = Path(tmp) / "logs" / f"{name}.log"
                if log.exists():
                    (OUT / f"{name}.service.log").write_bytes(log.read_bytes())
            net.down()
    passed = all(results.values()) and len(results) == len(services)
    out()
    out(f"reports: {OUT.relative_to(ROOT)}/<service>.json, .txt, .service.log")
    out(
        "schemathesis: "
        + ", ".join(f"{n} {'PASS' if ok else 'FAIL'}" for n, ok in results.items())
        + f" — {'PASS' if passed else 'FAIL'}"
    )
    return 0 if passed else 1


if __name__ == "__main__":
    sys.exit(main())
