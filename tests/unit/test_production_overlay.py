"""The rendered overlays as they would run: sign-in through the identity provider in
production (and the egress for it, nothing more), the ways in (Ingress, TLS, rate
limits) and the station directory as configuration. Rendered with `kubectl
kustomize` (offline); the schemas are test_manifest_schemas.py's."""

from __future__ import annotations

import asyncio
import ipaddress
import re
import shutil
import subprocess
import time
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import jwt
import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from rescue_ops import stations as station_file

from followup.settings import FollowupSettings
from intake.settings import IntakeSettings
from referral.settings import ReferralSettings
from rescue_chassis.auth import JwksVerifier, verifier_for
from rescue_chassis.network import load_network
from rescue_chassis.oidc import JwksCache
from rescue_chassis.problems import Problem
from rescue_chassis.settings import ServiceSettings, load_settings
from rescue_console.settings import ConsoleSettings
from search.settings import SearchSettings
from summary.settings import SummarySettings
from transfer.settings import TransferSettings

ROOT = Path(__file__).resolve().parents[2]
KUBECTL = shutil.which("kubectl")
OVERLAYS = ("dev", "production")
SETTINGS: dict[str, type[ServiceSettings]] = {
    "intake": IntakeSettings,
    "search": SearchSettings,
    "transfer": TransferSettings,
    "referral": ReferralSettings,
    "followup": FollowupSettings,
    "summary": SummarySettings,
}
SERVICES = tuple(SETTINGS)
CONSOLE = "console"
APPS = (*SERVICES, CONSOLE)
NGINX = "nginx.ingress.kubernetes.io/"
# Public addresses no pod but the summary (the national system, over 443) may reach.
ELSEWHERE = ("1.1.1.1", "8.8.8.8", "198.51.100.7", "203.0.113.11")

needs_kubectl = pytest.mark.skipif(KUBECTL is None, reason="kubectl (kustomize) not installed")


# ------------------------------------------------------------------ helpers ---


def render_dir(overlay_dir: Path) -> tuple[dict[str, Any], ...]:
    result = subprocess.run(
        [KUBECTL, "kustomize", str(overlay_dir)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return tuple(doc for doc in yaml.safe_load_all(result.stdout) if doc)


@cache
def render(overlay: str) -> tuple[dict[str, Any], ...]:
    return render_dir(ROOT / "deploy/k8s/overlays" / overlay)


def of_kind(docs, kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


def selector_matches(selector: dict[str, Any], labels: dict[str, str]) -> bool:
    if not selector.get("matchLabels", {}).items() <= labels.items():
        return False
    for expression in selector.get("matchExpressions", []):
        key, values = expression["key"], expression.get("values", [])
        holds = {
            "In": labels.get(key) in values,
            "NotIn": labels.get(key) not in values,
            "Exists": key in labels,
            "DoesNotExist": key not in labels,
        }[expression["operator"]]
        if not holds:
            return False
    return True


def pod_labels(docs, app: str) -> dict[str, str]:
    return of_kind(docs, "Deployment")[app]["spec"]["template"]["metadata"]["labels"]


def settings_of(docs, app: str) -> dict[str, str]:
    """What the app's container gets from its ConfigMap."""
    (container,) = of_kind(docs, "Deployment")[app]["spec"]["template"]["spec"]["containers"]
    (ref,) = container["envFrom"]
    return of_kind(docs, "ConfigMap")[ref["configMapRef"]["name"]]["data"]


def egress_policies(docs, labels: dict[str, str]) -> list[dict[str, Any]]:
    return [
        p
        for p in of_kind(docs, "NetworkPolicy").values()
        if "Egress" in p["spec"]["policyTypes"]
        and selector_matches(p["spec"]["podSelector"], labels)
    ]


def may_reach(docs, labels: dict[str, str], address: str, port: int) -> bool:
    """Whether the policies let a pod with these labels open address:port outside the
    cluster (NetworkPolicy semantics: allowed if any rule of any selecting policy allows)."""
    policies = egress_policies(docs, labels)
    if not policies:
        return True  # no egress policy selects the pod: it may go anywhere
    ip = ipaddress.ip_address(address)
    for policy in policies:
        for rule in policy["spec"].get("egress", []):
            ports = rule.get("ports")
            if ports and not any(p.get("port") == port for p in ports):
                continue
            if not rule.get("to"):
                return True  # no peers: every destination
            for peer in rule["to"]:
                block = peer.get("ipBlock")
                if (
                    block
                    and ip in ipaddress.ip_network(block["cidr"])
                    and not any(ip in ipaddress.ip_network(e) for e in block.get("except", []))
                ):
                    return True
    return False


def identity_provider(docs) -> tuple[str, int]:
    """The provider's address and port, as the production overlay gives them."""
    (rule,) = of_kind(docs, "NetworkPolicy")["identity-provider-egress"]["spec"]["egress"]
    (peer,) = rule["to"]
    (port,) = rule["ports"]
    network = ipaddress.ip_network(peer["ipBlock"]["cidr"])
    return str(network.network_address), port["port"]


# ---------------------------------------------------- sign-in (production) ---


@needs_kubectl
@pytest.mark.parametrize("svc", SERVICES)
def test_every_service_verifies_the_identity_providers_tokens_only(svc, monkeypatch):
    data = settings_of(render("production"), svc)
    settings_class = SETTINGS[svc]
    prefix = settings_class.model_config["env_prefix"]
    for name in [*data, f"{prefix}JWT_SECRET"]:
        monkeypatch.delenv(name, raising=False)
    for name, value in data.items():
        if name.startswith((prefix, "RESCUE_")):
            monkeypatch.setenv(name, value)
    # The Secrets' values; no jwt-secret: with OIDC the services must not need one.
    monkeypatch.setenv(f"{prefix}DATABASE_URL", f"postgresql://{svc}:pw@rescue-pg-rw/{svc}")
    monkeypatch.setenv(f"{prefix}KAFKA_SASL_PASSWORD", "from-the-kafkauser-secret")
    settings = load_settings(settings_class)

    assert settings.environment == "production"
    assert settings.oidc_enabled
    issuer = settings.oidc_issuer
    assert issuer.startswith("https://") and settings.token_issuer == issuer
    assert settings.jwks_url.startswith(issuer + "/")  # the keys come from the provider's host
    assert settings.jwt_audience == "rescue-network"
    verifier = verifier_for(settings)
    assert isinstance(verifier, JwksVerifier)

    # A Keycloak access token signed with the realm's key is accepted ...
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    jwk = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True) | {"kid": "realm-1", "use": "sig"}
    fetched = []

    def provider(request: httpx.Request) -> httpx.Response:
        fetched.append(str(request.url))
        return httpx.Response(200, json={"keys": [jwk]})

    verifier.oidc.keys = JwksCache(
        issuer=settings.oidc_issuer,
        jwks_url=settings.jwks_url,
        transport=httpx.MockTransport(provider),
    )
    now = int(time.time())
    claims = {
        "iss": issuer,
        "aud": ["rescue-network", "account"],
        "sub": "f3b1c2d4",
        "iat": now,
        "exp": now + 300,
        "typ": "Bearer",
        "station_id": "gushi",
        "resource_access": {"rescue-network": {"roles": ["station_staff"]}},
    }
    token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": "realm-1"})
    principal = asyncio.run(verifier.verify(token))
    assert (principal.station_id, set(principal.roles)) == ("gushi", {"station_staff"})
    assert fetched == [settings.jwks_url]

    # ... a token made with a shared secret, or for another audience, is not.
    shared = jwt.encode(claims, "the-jwt-secret-in-rescue-intake-secrets", algorithm="HS256")
    other = jwt.encode(
        claims | {"aud": "account"}, key, algorithm="RS256", headers={"kid": "realm-1"}
    )
    for refused in (shared, other):
        with pytest.raises(Problem) as caught:
            asyncio.run(verifier.verify(refused))
        assert caught.value.status == 401


@needs_kubectl
def test_the_console_signs_in_through_the_same_provider(monkeypatch):
    docs = render("production")
    data = settings_of(docs, CONSOLE)
    for name, value in data.items():
        if name.startswith("CONSOLE_"):
            monkeypatch.setenv(name, value)
    monkeypatch.delenv("CONSOLE_DEV_JWT_SECRET", raising=False)
    console = ConsoleSettings()
    intake = settings_of(docs, "intake")

    assert console.dev_jwt_secret is None  # no development sign-in in production
    assert console.oidc_issuer == intake["INTAKE_OIDC_ISSUER"]
    assert console.oidc_audience == intake["INTAKE_JWT_AUDIENCE"]
    assert console.oidc_roles_claim == intake["INTAKE_JWT_ROLES_CLAIM"]
    assert str(console.public_url).startswith("https://")


@needs_kubectl
def test_the_identity_provider_is_the_only_address_outside_that_the_apps_reach():
    docs = render("production")
    address, port = identity_provider(docs)
    cidr = of_kind(docs, "NetworkPolicy")["identity-provider-egress"]["spec"]["egress"][0]
    assert ipaddress.ip_network(cidr["to"][0]["ipBlock"]["cidr"]).prefixlen >= 24
    assert port == 443
    for app in APPS:
        labels = pod_labels(docs, app)
        assert egress_policies(docs, labels), f"{app} may reach anything"
        assert may_reach(docs, labels, address, port), f"{app} cannot reach the provider"
        assert not may_reach(docs, labels, address, 80), app
        # DNS, to find the provider (and the in-cluster services)
        assert any(
            {p["port"] for p in rule.get("ports", [])} >= {53}
            for policy in egress_policies(docs, labels)
            for rule in policy["spec"]["egress"]
        ), app
    # Not the whole internet: only the summary reaches other public addresses (the
    # national system, 443), a rule of its own.
    reaching = {
        app
        for app in APPS
        for elsewhere in ELSEWHERE
        for p in (80, 443, 8080)
        if may_reach(docs, pod_labels(docs, app), elsewhere, p)
    }
    assert reaching == {"summary"}
    assert not may_reach(docs, pod_labels(docs, "summary"), ELSEWHERE[0], 80)


def test_an_open_egress_rule_would_be_caught():
    labels = {"app.kubernetes.io/component": "backend"}
    policy = {
        "kind": "NetworkPolicy",
        "metadata": {"name": "too-wide"},
        "spec": {
            "podSelector": {
                "matchExpressions": [
                    {"key": "app.kubernetes.io/component", "operator": "In", "values": ["backend"]}
                ]
            },
            "policyTypes": ["Egress"],
            "egress": [{"ports": [{"protocol": "TCP", "port": 443}]}],
        },
    }
    assert may_reach([policy], labels, "8.8.8.8", 443)
    policy["spec"]["egress"] = [
        {"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["8.8.8.0/24"]}}]}
    ]
    assert may_reach([policy], labels, "1.1.1.1", 22)
    assert not may_reach([policy], labels, "8.8.8.8", 22)


# ------------------------------------------------------ ingress, rate limits ---


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_ingress_serves_tls_for_every_host(overlay):
    ingresses = of_kind(render(overlay), "Ingress")
    assert {"api", "api-internal", CONSOLE} <= ingresses.keys()
    for name, ingress in ingresses.items():
        spec, annotations = ingress["spec"], ingress["metadata"]["annotations"]
        assert spec["ingressClassName"] == "nginx", name
        hosts = {rule["host"] for rule in spec["rules"]}
        covered = {host for tls in spec["tls"] for host in tls["hosts"]}
        assert hosts <= covered, f"{name}: {hosts - covered} without TLS"
        assert all(tls["secretName"] for tls in spec["tls"]), name
        if name != "api-internal":  # it denies everything; api's certificate covers it
            assert annotations["cert-manager.io/cluster-issuer"], name
            assert annotations[NGINX + "force-ssl-redirect"] == "true", name


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_the_api_host_routes_each_service_under_its_name(overlay):
    docs = render(overlay)
    ingresses = of_kind(docs, "Ingress")
    services = of_kind(docs, "Service")
    api = ingresses["api"]
    rewrite = api["metadata"]["annotations"][NGINX + "rewrite-target"]
    paths = api["spec"]["rules"][0]["http"]["paths"]
    routed = {}
    for svc in SERVICES:
        for request, upstream in ((f"/{svc}/persons/1", "/persons/1"), (f"/{svc}", "/")):
            (hit,) = [p for p in paths if re.fullmatch(p["path"], request)]
            backend = hit["backend"]["service"]
            assert backend["name"] == svc
            groups = re.fullmatch(hit["path"], request).groups()
            assert re.sub(r"\$(\d)", lambda m, g=groups: g[int(m[1]) - 1], rewrite) == upstream
            port_names = {p["name"] for p in services[svc]["spec"]["ports"]}
            assert backend["port"]["name"] in port_names
            routed[svc] = True
    assert set(routed) == set(SERVICES)
    # /metrics (no token) stays inside: the longer regex wins and is denied to everyone
    (internal,) = ingresses["api-internal"]["spec"]["rules"][0]["http"]["paths"]
    deny = ingresses["api-internal"]["metadata"]["annotations"][NGINX + "denylist-source-range"]
    assert set(deny.split(",")) == {"0.0.0.0/0", "::/0"}
    assert len(internal["path"]) > max(len(p["path"]) for p in paths)
    for svc in SERVICES:
        assert re.match(internal["path"], f"/{svc}/metrics")
        assert re.match(internal["path"], f"/{svc}//metrics")
        assert not re.match(internal["path"], f"/{svc}/persons")
    # the photo links the police open are served there too
    for svc in ("intake", "referral"):
        link = urlsplit(settings_of(docs, svc)["RESCUE_PHOTO_LINK_BASE_URL"])
        assert link.scheme == "https" and link.netloc == api["spec"]["rules"][0]["host"]
        assert link.path == "/intake"


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_rate_limits_per_client_address_at_the_ingress(overlay):
    ingresses = of_kind(render(overlay), "Ingress")
    for name in ("api", CONSOLE):
        annotations = ingresses[name]["metadata"]["annotations"]
        for key in ("limit-rps", "limit-connections", "limit-burst-multiplier"):
            assert int(annotations[NGINX + key]) > 0, f"{name}: {key}"


@needs_kubectl
def test_the_services_own_limits_are_a_second_line_per_replica():
    docs = render("production")
    api = of_kind(docs, "Ingress")["api"]["metadata"]["annotations"]
    per_address = int(api[NGINX + "limit-rps"])
    burst_at_ingress = per_address * int(api[NGINX + "limit-burst-multiplier"])
    default = ServiceSettings.model_fields
    for svc in SERVICES:
        data = settings_of(docs, svc)
        rate = float(data[f"{svc.upper()}_RATE_LIMIT_PER_SECOND"])
        burst = int(data[f"{svc.upper()}_RATE_LIMIT_BURST"])
        # never tighter than what the ingress lets one client send (that is the first
        # line), tighter than the benchmarks' generous default (it binds for callers
        # that do not come through the ingress: the console's calls)
        assert per_address <= rate < default["rate_limit_per_second"].default, svc
        assert burst_at_ingress <= burst < default["rate_limit_burst"].default, svc


# -------------------------------------------------------- station directory ---


@needs_kubectl
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_app_reads_the_station_directory_from_the_configmap(overlay):
    docs = render(overlay)
    config_map = of_kind(docs, "ConfigMap")["rescue-stations"]
    shipped = (ROOT / "deploy/k8s/base/stations/network.yaml").read_text("utf-8")
    assert config_map["data"]["network.yaml"] == shipped
    assert not station_file.check(yaml.safe_load(shipped)["stations"])
    for app in APPS:
        pod = of_kind(docs, "Deployment")[app]["spec"]["template"]["spec"]
        (container,) = pod["containers"]
        path = Path(settings_of(docs, app)[f"{app.upper()}_NETWORK_FILE"])
        volumes = {v["name"]: v for v in pod["volumes"]}
        (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == str(path.parent)]
        # a whole directory: a subPath mount never sees the ConfigMap's updates
        assert "subPath" not in mount and mount.get("readOnly") is True, app
        assert volumes[mount["name"]]["configMap"]["name"] == "rescue-stations", app
        assert path.name in config_map["data"], app


@needs_kubectl
def test_a_station_is_added_by_configuration_alone(tmp_path):
    """As README "Adding a station" says: the stations file, then an apply. Only the
    ConfigMap changes: the same images, the same pod templates (no rollout); the
    running services re-read the mounted file (test_station_directory_config.py)."""
    shutil.copytree(ROOT / "deploy", tmp_path / "deploy")
    stations = tmp_path / "deploy/k8s/base/stations/network.yaml"
    new = {
        "id": "huangchuan",
        "name": "潢川县救助管理站",
        "kind": "satellite",
        "province": "河南省",
        "city": "信阳市",
        "admin_code": "411526",
    }
    production = tmp_path / "deploy/k8s/overlays/production"
    before = render_dir(production)
    station_file.write(station_file.add(station_file.read(stations), new))
    after = render_dir(production)

    def changed(docs_a, docs_b):
        a = {(d["kind"], d["metadata"]["name"]): d for d in docs_a}
        b = {(d["kind"], d["metadata"]["name"]): d for d in docs_b}
        assert a.keys() == b.keys()
        return {key for key in a if a[key] != b[key]}

    assert changed(before, after) == {("ConfigMap", "rescue-stations")}
    text = of_kind(after, "ConfigMap")["rescue-stations"]["data"]["network.yaml"]
    (tmp_path / "mounted.yaml").write_text(text, "utf-8")
    station = load_network(str(tmp_path / "mounted.yaml")).station("huangchuan")
    assert station is not None and station.admin_code == "411526"
