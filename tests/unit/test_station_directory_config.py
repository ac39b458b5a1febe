"""The station directory is configuration: a station added to the file a service is
given (``<SERVICE>_NETWORK_FILE``; in Kubernetes the ConfigMap ``rescue-stations``)
is known without a code change, a rebuild or a restart."""

from __future__ import annotations

import logging
import os
from importlib import resources
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from rescue_ops import stations as station_file

from intake.app import service
from intake.settings import IntakeSettings
from rescue_chassis import network as network_module
from rescue_chassis.app import create_app
from rescue_chassis.auth import mint_token
from rescue_chassis.network import StationKind, load_network
from rescue_console.app import create_app as create_console
from rescue_console.settings import ConsoleSettings

SECRET = "unit-test-stations-secret-" + "s" * 32
HUANGCHUAN = {
    "id": "huangchuan",
    "name": "潢川县救助管理站",
    "kind": "satellite",
    "province": "河南省",
    "city": "信阳市",
    "admin_code": "411526",
}
PACKAGED = resources.files("rescue_chassis").joinpath("network.yaml").read_text("utf-8")


@pytest.fixture
def network_file(tmp_path) -> Path:
    path = tmp_path / "network.yaml"
    path.write_text(PACKAGED, "utf-8")
    return path


def add_huangchuan(path: Path) -> None:
    """As ``rescue-ops stations add`` does it: checked, then written atomically."""
    station_file.write(station_file.add(station_file.read(path), HUANGCHUAN))


@pytest.fixture
def restore_logging():
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    # create_app configured JSON logging for a service process; give pytest its own back.
    root.handlers[:], root.level = handlers, level


def intake_client(network_file: Path | None, recheck_seconds: float) -> TestClient:
    settings = IntakeSettings(
        database_url="postgresql+asyncpg://nobody@/nowhere?host=/nonexistent",
        kafka_bootstrap_servers="127.0.0.1:1",
        jwt_secret=SECRET,
        network_file=str(network_file) if network_file else None,
        network_recheck_seconds=recheck_seconds,
    )
    # No `with`: the lifespan (relay, consumer) does not start; nothing connects.
    return TestClient(create_app(service, settings), raise_server_exceptions=False)


def admit_at(client: TestClient, station_id: str):
    # An invalid admission: 403 if the station is unknown, else 422 naming the field,
    # both before any database is touched.
    token = mint_token(
        secret=SECRET, subject="worker-1", station_id=station_id, roles=["station_staff"]
    )
    return client.post(
        "/persons",
        headers={"Authorization": f"Bearer {token}"},
        json={"arrival_route": "by_balloon", "sex": "male"},
    )


def test_a_station_added_to_the_configured_file_is_known_to_the_running_service(
    network_file, restore_logging
):
    client = intake_client(network_file, recheck_seconds=0)
    refused = admit_at(client, "huangchuan")
    assert refused.status_code == 403
    assert "huangchuan" in refused.json()["detail"]

    add_huangchuan(network_file)  # no code, no image, no restart

    answered = admit_at(client, "huangchuan")
    assert answered.status_code == 422, answered.text
    assert [e["field"] for e in answered.json()["errors"]] == ["arrival_route"]
    station = client.app.state.runtime.network.station("huangchuan")
    assert station.name == "潢川县救助管理站" and station.kind is StationKind.SATELLITE


def test_without_the_setting_the_packaged_file_is_read_and_never_rechecked(restore_logging):
    client = intake_client(None, recheck_seconds=0)
    network = client.app.state.runtime.network
    assert network.source is None
    assert {"center", "gushi"} <= network.stations.keys()
    assert admit_at(client, "gushi").status_code == 422
    assert network.reload() is False


def test_a_change_is_looked_for_at_most_every_recheck_interval(network_file, monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(network_module.time, "monotonic", lambda: clock[0])
    network = load_network(str(network_file), recheck_seconds=30)
    add_huangchuan(network_file)

    clock[0] += 29
    assert network.station("huangchuan") is None  # not looked at yet
    clock[0] += 1
    assert network.station("huangchuan") is not None


def test_a_broken_file_keeps_the_stations_known_until_it_is_fixed(network_file, caplog):
    network = load_network(str(network_file), recheck_seconds=3600)
    before = network.stations

    network_file.write_text("stations:\n  - {id: gushi, kind: satellite}\n", "utf-8")
    with caplog.at_level(logging.ERROR, logger="rescue_chassis.network"):
        assert network.reload() is False
    assert network.stations is before
    assert "not reloaded" in caplog.text

    network_file.write_text(PACKAGED, "utf-8")
    add_huangchuan(network_file)
    assert network.reload() is True
    assert network.station("huangchuan") is not None and network.center.id == "center"


def test_a_file_that_disappears_for_a_moment_changes_nothing(network_file):
    network = load_network(str(network_file), recheck_seconds=3600)
    network_file.unlink()
    assert network.reload() is False
    assert network.station("gushi") is not None


def test_a_configmap_update_is_seen_though_it_keeps_the_modification_time(tmp_path):
    # The kubelet's layout: network.yaml -> ..data/network.yaml, ..data -> a versioned
    # directory; an update writes a new directory and swaps the ..data link.
    mount = tmp_path / "stations"
    first, second = mount / "..2026_12_01", mount / "..2026_12_02"
    for version in (first, second):
        version.mkdir(parents=True)
        (version / "network.yaml").write_text(PACKAGED, "utf-8")
    add_huangchuan(second / "network.yaml")
    stamp = (first / "network.yaml").stat().st_mtime_ns
    os.utime(second / "network.yaml", ns=(stamp, stamp))
    (mount / "..data").symlink_to(first.name)
    (mount / "network.yaml").symlink_to("..data/network.yaml")
    network = load_network(str(mount / "network.yaml"), recheck_seconds=3600)
    assert network.station("huangchuan") is None

    (mount / "..data_tmp").symlink_to(second.name)
    os.replace(mount / "..data_tmp", mount / "..data")

    assert network.reload() is True
    assert network.station("huangchuan") is not None


def test_the_console_knows_a_station_added_to_its_file(network_file, restore_logging):
    settings = ConsoleSettings(
        intake_url="http://intake",
        search_url="http://search",
        transfer_url="http://transfer",
        referral_url="http://referral",
        followup_url="http://followup",
        dev_jwt_secret=SECRET,
        network_file=str(network_file),
    )
    with TestClient(create_console(settings)) as client:
        network = client.app.state.console.network
        assert "huangchuan" not in network.stations
        add_huangchuan(network_file)
        assert network.reload() is True
        assert "huangchuan" in network.stations
