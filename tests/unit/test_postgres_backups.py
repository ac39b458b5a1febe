"""CloudNativePG backups in both rendered overlays (issue 31): every Cluster archives
its WAL through the Barman Cloud plugin to an ObjectStore with a retention policy and
credentials from a Secret of secret.example.yaml's shape, and has a ScheduledBackup;
the recovery example recovers from that store without archiving into it. All of it
validated with test_manifest_schemas' checks, which must also refuse broken copies."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from test_manifest_schemas import K8S, OVERLAYS, manifest_errors, needs_kubectl, of_kind, render

PLUGIN = "barman-cloud.cloudnative-pg.io"
POSTGRES = K8S / "base/postgres"
RECOVERY_EXAMPLE = POSTGRES / "recovery.example.yaml"
SECRET_EXAMPLE = K8S / "secret.example.yaml"
DIGEST = re.compile(r"^[^@:]+:[^@]+@sha256:[0-9a-f]{64}$")


def wal_archiver(cluster: dict) -> dict:
    (archiver,) = [p for p in cluster["spec"].get("plugins", []) if p.get("isWALArchiver")]
    return archiver


def example_secrets() -> dict[str, dict]:
    docs = yaml.safe_load_all(SECRET_EXAMPLE.read_text(encoding="utf-8"))
    return {doc["metadata"]["name"]: doc for doc in docs if doc}


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_cluster_archives_its_wal_to_an_object_store(overlay):
    docs = render(overlay)
    clusters = of_kind(docs, "Cluster")
    stores = of_kind(docs, "ObjectStore")
    assert clusters
    for name, cluster in clusters.items():
        archiver = wal_archiver(cluster)
        assert archiver["name"] == PLUGIN, name
        assert archiver.get("enabled", True), name
        store = stores[archiver["parameters"]["barmanObjectName"]]
        assert manifest_errors(store) == []
        assert manifest_errors(cluster) == []
        assert "backup" not in cluster["spec"], "the in-tree barmanObjectStore is deprecated"
        configuration = store["spec"]["configuration"]
        assert configuration["destinationPath"].startswith("s3://")
        assert configuration["wal"]["compression"] and configuration["data"]["compression"]
        assert re.fullmatch(r"[1-9][0-9]*[dwm]", store["spec"]["retentionPolicy"])

        # the credentials: keys of one Secret whose shape secret.example.yaml shows
        secrets = example_secrets()
        for ref in configuration["s3Credentials"].values():
            assert ref["key"] in secrets[ref["name"]]["stringData"], ref
            assert secrets[ref["name"]]["stringData"][ref["key"]] == "REPLACE_ME"


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_cluster_has_a_nightly_scheduled_backup(overlay):
    docs = render(overlay)
    scheduled = of_kind(docs, "ScheduledBackup").values()
    for name in of_kind(docs, "Cluster"):
        (backup,) = [b for b in scheduled if b["spec"]["cluster"]["name"] == name]
        assert manifest_errors(backup) == []
        spec = backup["spec"]
        assert spec["method"] == "plugin" and spec["pluginConfiguration"]["name"] == PLUGIN
        assert spec["immediate"] is True, "WAL alone cannot be replayed: a base backup at once"
        assert not spec.get("suspend", False)
        seconds, minutes, hours, day, month, weekday = spec["schedule"].split()
        assert (day, month, weekday) == ("*", "*", "*"), "at least one base backup a day"
        assert all(field.isdigit() for field in (seconds, minutes, hours)), spec["schedule"]


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_recovery_example_is_not_applied_with_the_overlay(overlay):
    docs = render(overlay)
    assert "rescue-pg-restore" not in of_kind(docs, "Cluster")
    assert "postgres-restore-ingress" not in of_kind(docs, "NetworkPolicy")


@needs_kubectl
def test_the_recovery_example_recovers_from_the_object_store_without_archiving():
    docs = render("production")
    (origin,) = of_kind(docs, "Cluster").values()
    example = [doc for doc in yaml.safe_load_all(RECOVERY_EXAMPLE.read_text()) if doc]
    for doc in example:
        assert manifest_errors(doc) == [], doc["metadata"]["name"]
    (recovered,) = [doc for doc in example if doc["kind"] == "Cluster"]
    (policy,) = [doc for doc in example if doc["kind"] == "NetworkPolicy"]
    spec = recovered["spec"]
    source = spec["bootstrap"]["recovery"]["source"]
    (external,) = [c for c in spec["externalClusters"] if c["name"] == source]
    assert external["plugin"]["name"] == PLUGIN
    parameters = external["plugin"]["parameters"]
    assert parameters["barmanObjectName"] == wal_archiver(origin)["parameters"]["barmanObjectName"]
    assert parameters["serverName"] == origin["metadata"]["name"]
    assert not any(p.get("isWALArchiver") for p in spec.get("plugins", [])), (
        "a recovered cluster must not archive into the origin's WAL"
    )
    assert spec["imageName"] == origin["spec"]["imageName"], "same PostgreSQL major"
    assert spec["bootstrap"]["recovery"]["recoveryTarget"]["targetTime"]
    assert policy["spec"]["podSelector"]["matchLabels"] == {
        "cnpg.io/cluster": recovered["metadata"]["name"]
    }


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_postgres_images_are_pinned_by_digest(overlay):
    for cluster in of_kind(render(overlay), "Cluster").values():
        assert DIGEST.match(cluster["spec"]["imageName"]), cluster["spec"]["imageName"]


@needs_kubectl
@pytest.mark.parametrize(
    ("kind", "breakage", "mentions"),
    [
        ("ScheduledBackup", lambda s: s.update(schedule="0 18 * * *"), "schedule"),  # 5 fields
        ("ScheduledBackup", lambda s: s.update(method="barman"), "method"),
        ("ScheduledBackup", lambda s: s.pop("cluster"), "cluster"),
        ("ScheduledBackup", lambda s: s.update(retentionPolicy="30d"), "retentionPolicy"),
        ("ObjectStore", lambda s: s.update(retentionPolicy="30 days"), "retentionPolicy"),
        ("ObjectStore", lambda s: s["configuration"]["wal"].update(compression="zip"), "zip"),
        ("ObjectStore", lambda s: s["configuration"].pop("destinationPath"), "destinationPath"),
        (
            "ObjectStore",
            lambda s: s["configuration"]["s3Credentials"]["accessKeyId"].pop("key"),
            "key",
        ),
        ("Cluster", lambda s: s["plugins"][0].update(isWalArchiver=True), "isWalArchiver"),
        ("Cluster", lambda s: s["plugins"][0].pop("name"), "name"),
    ],
    ids=[
        "five-field-cron",
        "unknown-method",
        "no-cluster",
        "retention-on-the-schedule",
        "retention-in-words",
        "unknown-compression",
        "no-destination",
        "secret-ref-without-key",
        "misspelt-plugin-field",
        "plugin-without-name",
    ],
)
def test_broken_backup_resources_are_rejected(kind, breakage, mentions):
    docs = render("dev")
    broken = copy.deepcopy(next(iter(of_kind(docs, kind).values())))
    assert manifest_errors(broken) == []
    breakage(broken["spec"])
    errors = manifest_errors(broken)
    assert any(mentions in error for error in errors), errors
