"""make traces-local (deploy/traces-local/run.py): Phoenix comes from an exactly pinned
requirements file kept out of the project's lock, and the endpoint it prints is the one
the local network's services read to export their spans."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from rescue_localnet.network import LocalNetwork
from rescue_localnet.services import SERVICES

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy/traces-local/run.py"


def runner():
    spec = importlib.util.spec_from_file_location("traces_local_run", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_committed_requirements_pin_every_package_exactly_and_phoenix_as_compiled():
    pins = runner().pinned()
    requested = (ROOT / "deploy/traces-local/requirements.in").read_text(encoding="utf-8")
    assert f"arize-phoenix=={pins['arize-phoenix']}" in requested
    assert {"opentelemetry-proto", "uvicorn"} <= pins.keys()


def test_phoenix_stays_out_of_the_project_lock():
    assert 'name = "arize-phoenix"' not in (ROOT / "uv.lock").read_text(encoding="utf-8")


@pytest.mark.parametrize("line", ["arize-phoenix>=20", "uvicorn", "httpx==0.28.*", "a==1,<2"])
def test_a_line_without_an_exact_pin_is_refused(tmp_path, line):
    requirements = tmp_path / "requirements.txt"
    requirements.write_text(f"# compiled\nwrapt==2.5.2\n{line}\n", encoding="utf-8")
    with pytest.raises(ValueError, match="not an exact pin"):
        runner().pinned(requirements)


def test_phoenix_listens_and_keeps_its_spans_where_asked(tmp_path):
    env = runner().phoenix_env("127.0.0.1:16006", 14317, tmp_path)
    assert (env["PHOENIX_HOST"], env["PHOENIX_PORT"], env["PHOENIX_GRPC_PORT"]) == (
        "127.0.0.1",
        "16006",
        "14317",
    )
    assert env["PHOENIX_WORKING_DIR"] == str(tmp_path)
    assert env["PHOENIX_TELEMETRY_ENABLED"] == "false"


def test_a_listen_address_without_a_port_is_refused():
    with pytest.raises(ValueError, match="host:port"):
        runner().endpoint("127.0.0.1")


def test_every_service_of_the_local_network_gets_the_printed_traces_endpoint(tmp_path, monkeypatch):
    printed = runner().endpoint("127.0.0.1:16006")
    assert printed == "http://127.0.0.1:16006/v1/traces"
    # As `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=… python -m rescue_localnet up` sets it.
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", printed)
    net = LocalNetwork(data_dir=tmp_path)
    for name in SERVICES:
        env = net.env_for(name)
        assert env["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"] == printed
        assert env["OTEL_SERVICE_NAME"] == name
