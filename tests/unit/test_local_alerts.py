"""make alerts-local (deploy/prometheus/local_alerts.py): the Prometheus configuration it
writes scrapes the six services (and the console) where the local network on a data
folder runs them, and loads the repository's alert rules; promtool accepts it."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from rescue_localnet.network import CONSOLE_PORT
from rescue_localnet.services import DEFAULT_PORTS, SERVICES

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "deploy/prometheus/local_alerts.py"
RULE_FILES = sorted((ROOT / "deploy/prometheus/rules").glob("*.yml"))
SIX = {"intake", "search", "transfer", "referral", "followup", "summary"}


def generator():
    spec = importlib.util.spec_from_file_location("local_alerts", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def scraped(path: Path) -> dict[str, list[str]]:
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    return {
        job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
        for job in config["scrape_configs"]
    }


def a_running_network(data_dir: Path, ports: dict[str, int], apps: dict[str, int]) -> None:
    """The parts of supervisor.json the generator reads, as a supervisor writes them."""
    state = {"pid": 1, "ports": ports, "auth": "secret", "apps": apps, "targets": {}}
    (data_dir / "supervisor.json").write_text(json.dumps(state), encoding="utf-8")


def test_the_six_services_are_scraped_where_the_network_on_the_folder_runs_them(tmp_path):
    assert set(SERVICES) == SIX
    ports = {name: 40100 + i for i, name in enumerate(SERVICES)}  # as --free-ports picks
    a_running_network(tmp_path, ports, apps={})
    path = generator().write_config(tmp_path)
    assert path == tmp_path / "prometheus/prometheus.yml"
    assert scraped(path) == {name: [f"127.0.0.1:{port}"] for name, port in ports.items()}


def test_the_console_is_scraped_when_the_network_runs_it(tmp_path):
    ports = dict(DEFAULT_PORTS)
    a_running_network(tmp_path, ports, apps={"issuer": 8099, "console": 8111})
    assert scraped(generator().write_config(tmp_path))["console"] == ["127.0.0.1:8111"]


def test_without_a_running_network_the_default_ports_as_in_local_yml(tmp_path):
    written = scraped(generator().write_config(tmp_path))
    expected = DEFAULT_PORTS | {"console": CONSOLE_PORT}
    assert written == {name: [f"127.0.0.1:{port}"] for name, port in expected.items()}
    assert written == scraped(ROOT / "deploy/prometheus/local.yml")


def test_the_rules_are_loaded_and_evaluated_often(tmp_path):
    config = generator().config(tmp_path)
    assert config["global"]["evaluation_interval"] == config["global"]["scrape_interval"] == "5s"
    (pattern,) = config["rule_files"]
    assert sorted(Path(pattern).parent.glob(Path(pattern).name)) == RULE_FILES


def test_promtool_accepts_the_configuration_and_its_rules(tmp_path):
    promtool = shutil.which("promtool")
    if promtool is None:
        message = "promtool not installed (make setup-promtool: Debian's prometheus package)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    # written from another folder: the rules are found whatever the working directory
    path = generator().write_config(tmp_path)
    result = subprocess.run(
        [promtool, "check", "config", str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    for rules in RULE_FILES:
        assert f"Checking {rules}" in result.stdout
    assert "SUCCESS: 1 rule files found" in result.stdout
