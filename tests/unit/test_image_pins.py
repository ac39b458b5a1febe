"""Images by digest (deploy/images.py, make pin-images): every third-party image the
deployment references is pinned by digest, with where the digest came from in
deploy/images.digests, or listed in deploy/images.allow with the reason; pinning
rewrites the references and both lists, offline here with a stand-in registry."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DIGEST = "sha256:" + "ab" * 32


def tool(root: Path = ROOT):
    spec = importlib.util.spec_from_file_location("images", ROOT / "deploy/images.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass looks its module up
    spec.loader.exec_module(module)
    module.ROOT, module.ALLOW = root, root / "deploy/images.allow"
    module.DIGESTS = root / "deploy/images.digests"
    return module


def test_every_third_party_image_is_pinned_or_allowed_with_a_reason():
    images = tool()
    found = images.references()
    third_party = {r.ref for r in found if not r.own}
    # what the deployment pulls: the broker, Postgres, observability, the base images
    for name in ("apache/kafka:", "pgvector/pgvector:", "prom/prometheus:", "python:3.11"):
        assert any(ref.startswith(name) for ref in third_party), name
    assert any(r.path.name == "service.Dockerfile" for r in found if not r.own)
    assert any("k8s" in r.path.parts for r in found if not r.own)
    assert images.problems() == []
    for ref, reason in images.allowed().items():
        assert len(reason) > 10, f"{ref}: say why it is not pinned"


def test_every_digest_says_where_it_came_from():
    images = tool()
    pinned = {r.ref for r in images.references() if not r.own and r.pinned}
    assert any(ref.startswith("apache/kafka:3.9.1@sha256:") for ref in pinned)
    sources = images.provenance()
    assert pinned <= set(sources)
    for ref in pinned:
        name = ref.partition("@")[0]
        # the tag stays beside the digest, for people and for update tools
        assert ":" in name.rsplit("/", 1)[-1], f"{ref}: keep the tag"
        if not sources[ref].startswith("registry "):
            # pinned by hand: two public sources that agree, never one
            assert len(sources[ref].split(" ; ")) >= 2, f"{ref}: name two sources"


def test_only_the_images_built_here_are_exempt():
    images = tool()
    own = {r.ref.split(":")[0] for r in images.references() if r.own}
    assert own, "the services' images are references too"
    assert all(ref.startswith(("rescue/", "rescue-")) for ref in own), own


@pytest.fixture
def copy(tmp_path) -> Path:
    """The deployment's files, to pin without touching the repository."""
    for path in tool().files() + [ROOT / "deploy/images.allow", ROOT / "deploy/images.digests"]:
        target = tmp_path / path.relative_to(ROOT)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, target)
    return tmp_path


def unpin(root: Path, prefix: str) -> str:
    """The copy as before its reference starting with `prefix` was pinned: tag only, with
    an allowance instead of a provenance line. Returns that reference."""
    images = tool(root)
    (ref,) = {r.ref for r in images.references() if r.ref.startswith(prefix)}
    bare = ref.partition("@")[0]
    for path in images.files():
        path.write_text(path.read_text().replace(ref, bare))
    for name, kept in (("digests", ref), ("allow", bare)):
        path = root / f"deploy/images.{name}"
        lines = path.read_text().splitlines(keepends=True)
        path.write_text("".join(line for line in lines if not line.startswith(kept + " ")))
    allow = root / "deploy/images.allow"
    allow.write_text(allow.read_text() + f"{bare} not pinned in this test's copy\n")
    return bare


def test_an_unpinned_image_without_a_reason_is_caught(copy):
    images = tool(copy)
    python = unpin(copy, "python:3.11")
    allow = copy / "deploy/images.allow"
    kept = [line for line in allow.read_text().splitlines() if not line.startswith(python)]
    allow.write_text("\n".join(kept) + "\n")
    assert [p for p in images.problems() if python in p and "not pinned" in p]
    # and an allowance nothing needs any more
    allow.write_text(allow.read_text() + "busybox:1.36 for nothing at all\n")
    assert [p for p in images.problems() if "busybox:1.36" in p]


def test_a_pin_without_its_provenance_is_caught(copy):
    images = tool(copy)
    digests = copy / "deploy/images.digests"
    kept = [
        line for line in digests.read_text().splitlines() if not line.startswith("grafana/loki")
    ]
    digests.write_text("\n".join(kept) + "\n")
    assert [p for p in images.problems() if "grafana/loki:3.7.4@" in p and "came from" in p]
    # and a line no reference uses any more
    digests.write_text(digests.read_text() + f"busybox:1.36@{DIGEST} nowhere ; at all\n")
    assert [p for p in images.problems() if "busybox:1.36" in p]


def test_pinning_writes_the_digest_beside_the_tag_and_empties_the_list(copy, monkeypatch):
    images = tool(copy)
    collector = unpin(copy, "otel/opentelemetry-collector-contrib:")
    python, postgres = unpin(copy, "python:3.11"), unpin(copy, "ghcr.io/cloudnative-pg/")
    asked = []
    monkeypatch.setattr(images, "resolve", lambda ref: asked.append(ref) or DIGEST)
    assert images.pin() == 0
    assert sorted(asked) == sorted([collector, python, postgres])
    compose = (copy / "docker-compose.yml").read_text()
    assert f"image: {collector}@{DIGEST}\n" in compose
    assert "image: apache/kafka:3.9.1@sha256:4ceccc577f03" in compose, "pinned already"
    k8s = (copy / "deploy/k8s/base/monitoring/otel-collector/collector.yaml").read_text()
    assert f"image: {collector}@{DIGEST}\n" in k8s
    dockerfile = (copy / "deploy/docker/service.Dockerfile").read_text()
    assert f"ARG PYTHON_IMAGE={python}@{DIGEST}\n" in dockerfile
    cluster = (copy / "deploy/k8s/base/postgres/cluster.yaml").read_text()
    assert f"imageName: {postgres}@{DIGEST}\n" in cluster
    assert "FROM ${PYTHON_IMAGE} AS builder" in dockerfile
    assert images.allowed() == {}
    # each new pin says which registry it came from
    sources = images.provenance()
    docker_hub = "registry registry-1.docker.io, make pin-images "
    assert all(sources[f"{ref}@{DIGEST}"].startswith(docker_hub) for ref in (collector, python))
    assert sources[f"{postgres}@{DIGEST}"].startswith("registry ghcr.io")
    assert images.problems() == []
    assert all(r.pinned for r in images.references() if not r.own)
    # pinned references are left alone the next time
    asked.clear()
    assert images.pin() == 0 and asked == []


def test_an_image_the_registry_does_not_resolve_stays_allowed(copy, monkeypatch):
    images = tool(copy)
    postgres = unpin(copy, "ghcr.io/cloudnative-pg/")
    unpin(copy, "python:3.11")

    def registry(ref):
        if ref.startswith("ghcr.io/"):
            raise RuntimeError(f"{ref}: HTTP 503")
        return DIGEST

    monkeypatch.setattr(images, "resolve", registry)
    assert images.pin() == 1  # the CloudNativePG image, on ghcr.io
    assert set(images.allowed()) == {postgres}
    assert f"{postgres}@" not in (copy / "deploy/images.digests").read_text()
    assert images.problems() == []


@pytest.mark.parametrize(
    ("ref", "expected"),
    [
        ("python:3.11-slim", ("registry-1.docker.io", "library/python", "3.11-slim")),
        ("prom/prometheus:v3.5.0", ("registry-1.docker.io", "prom/prometheus", "v3.5.0")),
        ("ghcr.io/astral-sh/uv:0.13.8", ("ghcr.io", "astral-sh/uv", "0.13.8")),
        ("quay.io/strimzi/kafka:0.45.0", ("quay.io", "strimzi/kafka", "0.45.0")),
        ("localhost:5000/x/y", ("localhost:5000", "x/y", "latest")),
    ],
)
def test_references_are_read_as_docker_reads_them(ref, expected):
    assert tool().split(ref) == expected
