"""The alert rules (deploy/prometheus/rules/), held to promtool, the runbook and the code.

- ``promtool check rules`` and ``promtool test rules`` (deploy/prometheus/tests/:
  every alert firing and not firing); promtool itself is fed a broken rule and a
  wrong expectation, so a check that accepts everything cannot pass. Without
  promtool the tests skip, except in CI (``CI=true``), where they fail:
  ``make test`` installs it (``make setup-promtool``).
- Every symptom of docs/runbook.md has an alert, every alert links a section of
  it, and each section's **Alerts:** line names exactly the alerts linking to it.
- Every metric and label an alert queries is one the code exposes.
- The Kubernetes PrometheusRule is the rules file, as make prometheus-rule writes it.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import re
import shutil
import subprocess
from functools import cache
from pathlib import Path

import pytest
import yaml
from prometheus_client import GC_COLLECTOR, PLATFORM_COLLECTOR, PROCESS_COLLECTOR

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy/prometheus"
RULE_FILES = sorted((PROMETHEUS / "rules").glob("*.yml"))
RULE_TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
PROMETHEUS_RULE = ROOT / "deploy/k8s/base/monitoring/prometheus-rules.yaml"
RUNBOOK = ROOT / "docs/runbook.md"
SEVERITIES = {"critical", "warning", "info"}

# Runbook sections that are procedures or reference, not symptoms: no alert leads there.
PROCEDURES = {
    "before-you-start",
    "alerts",
    "audit-anchors",
    "adding-a-station",
    "rotating-the-jwt-secret",
    "logs-and-traces",
    "the-local-network-make-run",
}

# ------------------------------------------------------------- promtool ---


@pytest.fixture(scope="module")
def promtool() -> str:
    found = shutil.which("promtool")
    if found is None:
        message = "promtool not installed (make setup-promtool: Debian's prometheus package)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_rules_pass_promtool_check(promtool):
    result = run(promtool, "check", "rules", *RULE_FILES)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(alerts())} rules found" in result.stdout


def test_the_rules_pass_their_promtool_unit_tests(promtool):
    assert RULE_TESTS
    result = run(promtool, "test", "rules", *RULE_TESTS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("SUCCESS") + result.stderr.count("SUCCESS") == len(RULE_TESTS)


def test_promtool_refuses_a_broken_rule_and_a_wrong_expectation(promtool, tmp_path):
    broken = yaml.safe_load(RULE_FILES[0].read_text(encoding="utf-8"))
    broken["groups"][0]["rules"][0]["expr"] = "rate(rescue_outbox_backlog) > "
    (tmp_path / "broken.yml").write_text(yaml.safe_dump(broken), encoding="utf-8")
    assert run(promtool, "check", "rules", tmp_path / "broken.yml").returncode != 0

    # the broker alert's test, expecting silence where the alert fires
    suite = yaml.safe_load((PROMETHEUS / "tests/availability.test.yml").read_text("utf-8"))
    suite["rule_files"] = [str(path) for path in RULE_FILES]
    (case,) = [c for c in suite["tests"] if "broker" in c["name"]]
    for check in case["alert_rule_test"]:
        check["exp_alerts"] = []
    suite["tests"] = [case]
    (tmp_path / "wrong.test.yml").write_text(yaml.safe_dump(suite), encoding="utf-8")
    result = run(promtool, "test", "rules", tmp_path / "wrong.test.yml")
    assert result.returncode != 0
    assert "RescueBrokerUnreachable" in result.stdout + result.stderr


def test_prometheus_loads_the_rules(promtool):
    result = run(promtool, "check", "config", PROMETHEUS / "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    for path in RULE_FILES:
        assert path.name in result.stdout
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    volumes = compose["services"]["prometheus"]["volumes"]
    assert "./deploy/prometheus/rules:/etc/prometheus/rules:ro" in volumes


def test_the_local_prometheus_scrapes_make_run_with_the_same_rules(promtool):
    from rescue_localnet.network import CONSOLE_PORT
    from rescue_localnet.services import DEFAULT_PORTS

    local = PROMETHEUS / "local.yml"
    result = run(promtool, "check", "config", local)
    assert result.returncode == 0, result.stdout + result.stderr
    config = yaml.safe_load(local.read_text(encoding="utf-8"))
    assert config["rule_files"] == ["rules/*.yml"]
    targets = {
        job["job_name"]: [t for static in job["static_configs"] for t in static["targets"]]
        for job in config["scrape_configs"]
    }
    ports = DEFAULT_PORTS | {"console": CONSOLE_PORT}
    assert targets == {name: [f"127.0.0.1:{port}"] for name, port in ports.items()}


# ---------------------------------------------------------------- rules ---


def groups() -> list[dict]:
    found: list[dict] = []
    for path in RULE_FILES:
        found.extend(yaml.safe_load(path.read_text(encoding="utf-8"))["groups"])
    return found


def alerts() -> dict[str, dict]:
    rules = [rule for group in groups() for rule in group["rules"]]
    named = {rule["alert"]: rule for rule in rules if "alert" in rule}
    assert len(named) == len(rules), "one rule per alert name, and no recording rules"
    return named


def test_every_alert_waits_has_a_severity_and_says_what_happened():
    for name, rule in alerts().items():
        assert re.fullmatch(r"\d+[smh]", rule.get("for", "")), f"{name}: no `for`"
        assert rule["labels"]["severity"] in SEVERITIES, name
        notes = rule["annotations"]
        assert set(notes) == {"summary", "description", "runbook_url"}, name
        assert len(notes["summary"]) <= 100, f"{name}: a summary is one short line"
        assert notes["description"].endswith("."), f"{name}: sentences, not fragments"


# -------------------------------------------------------------- runbook ---


def anchor(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def runbook_sections() -> dict[str, str]:
    """Anchor of each ## and ### section: its text up to the next heading."""
    sections: dict[str, str] = {}
    current = None
    in_code = False
    for line in RUNBOOK.read_text(encoding="utf-8").splitlines():
        in_code ^= line.startswith("```")
        heading = re.match(r"(##+) (.+)", line) if not in_code else None
        if heading:
            current = anchor(heading.group(2))
            sections[current] = ""
        elif current:
            sections[current] += line + "\n"
    return sections


def linked_section(rule: dict) -> str:
    url = rule["annotations"]["runbook_url"]
    path, _, section = url.partition("#")
    assert path == "docs/runbook.md", url
    return section


def test_every_alert_links_a_runbook_section():
    sections = runbook_sections()
    for name, rule in alerts().items():
        assert linked_section(rule) in sections, f"{name}: {rule['annotations']['runbook_url']}"


def test_every_runbook_symptom_has_the_alerts_its_section_names():
    sections = runbook_sections()
    top = {
        anchor(m)
        for m in re.findall(r"^## (.+)$", RUNBOOK.read_text(encoding="utf-8"), re.MULTILINE)
    }
    assert PROCEDURES <= top, sorted(PROCEDURES - top)
    linking: dict[str, set[str]] = {}
    for name, rule in alerts().items():
        linking.setdefault(linked_section(rule), set()).add(name)
    for section in sorted(top - PROCEDURES):
        named = re.search(r"^\*\*Alerts:\*\* (.+)$", sections[section], re.MULTILINE)
        assert named, (
            f"runbook #{section}: a symptom gets an **Alerts:** line (and an alert linking "
            "it); a procedure goes into PROCEDURES here"
        )
        listed = set(re.findall(r"`(\w+)`", named.group(1)))
        assert listed, f"runbook #{section}: names no alert"
        assert listed == linking.get(section, set()), section
    assert set(linking) <= top - PROCEDURES, "alerts link symptoms, not procedures"

    # the table of every alert in the Alerts section
    table = set(re.findall(r"^\| `(\w+)` \|", sections["alerts"], re.MULTILINE))
    assert table == set(alerts())


# ------------------------------------------------------------- the code ---

_CHASSIS = re.compile(
    r"\b(Counter|Histogram|Gauge|CounterMetricFamily|GaugeMetricFamily)\(\s*"
    r'"(rescue_\w+)",.*?(?:labels=)?\[([^\]]*)\]',
    re.DOTALL,
)
_SUFFIXES = {
    "Counter": ("_total",),
    "CounterMetricFamily": ("_total",),
    "Histogram": ("_bucket", "_sum", "_count"),
}


@cache
def exposed() -> dict[str, set[str]]:
    """Every series name the services and the console expose, with its labels,
    read from the code that exposes it."""
    series: dict[str, set[str]] = {}
    sources = [ROOT / "libs/chassis/rescue_chassis/metrics.py"]
    sources.append(ROOT / "apps/console/rescue_console/telemetry.py")
    for path in sources:
        text = path.read_text(encoding="utf-8")
        for kind, name, labels in _CHASSIS.findall(text):
            label_set = set(re.findall(r'"(\w+)"', labels))
            for suffix in _SUFFIXES.get(kind, ("",)):
                series[name + suffix] = label_set | ({"le"} if suffix == "_bucket" else set())
        for name in re.findall(r'_gauge\(\s*"(rescue_\w+)"', text):
            series[name] = {"service"}
    work = [importlib.import_module("rescue_chassis.metrics").stale_values_metric(None)]
    for path in sorted(ROOT.glob("services/*/*/metrics.py")):
        module = importlib.import_module(f"{path.parent.name}.metrics")
        work.extend(module.WORK_METRICS)
    for metric in work:
        name = metric.name if metric.kind != "counter" else metric.name.removesuffix("_total")
        name += "_total" if metric.kind == "counter" else ""
        series[name] = {"service", *metric.labels}
    for collector in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        for family in collector.collect():
            for sample in family.samples:
                series.setdefault(sample.name, set()).update(sample.labels)
    return series


# Prometheus' own series about each target, and the labels every scrape adds
SCRAPE_SERIES = {"up": set()}
SCRAPE_LABELS = {"job", "instance"}
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and", "or"}
_KEYWORDS |= {"unless", "bool", "offset"}
_GROUPING = r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)"


def promql_names(expr: str) -> tuple[set[str], set[str]]:
    """(series names, label names) an expression uses. Not a parser: strings, label
    matchers, ranges, offsets, groupings and numbers are taken out; what remains is
    functions (followed by "("), keywords and series names."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    labels: set[str] = set()
    for body in re.findall(r"\{([^}]*)\}", text):
        labels |= set(re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", body))
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]|\boffset\s+\w+", " ", text)
    for body in re.findall(_GROUPING, text):
        labels |= {label.strip() for label in body.split(",") if label.strip()}
    text = re.sub(_GROUPING, " ", text)
    text = re.sub(r"(?<![\w.])\d+(?:\.\d+)?(?:[eE][+-]?\d+)?", " ", text)
    names = {
        name
        for name, call in re.findall(r"([A-Za-z_:][\w:]*)(\s*\()?", text)
        if not call and name not in _KEYWORDS
    }
    return names, labels


def expression_problems(expr: str, series: dict[str, set[str]]) -> list[str]:
    names, labels = promql_names(expr)
    problems = [f"no code exposes {name!r}" for name in sorted(names - series.keys())]
    if not names:
        problems.append("queries no series")
    known = SCRAPE_LABELS.union(*(series.get(name, set()) for name in names))
    problems += [f"label {label!r} is on none of {sorted(names)}" for label in labels - known]
    return problems


def test_every_alert_queries_series_and_labels_the_code_exposes():
    series = exposed() | SCRAPE_SERIES
    # what the code exposes, read right: one of each kind
    assert series["rescue_periodic_failures_total"] == {"service", "sweep"}
    assert series["rescue_http_request_duration_seconds_bucket"] >= {"route", "le"}
    assert series["rescue_partner_deliveries_failed"] == {"service", "agency", "feed"}
    assert series["rescue_admissions_total"] == {"service", "station"}
    assert "process_resident_memory_bytes" in series
    problems = {
        name: found
        for name, rule in alerts().items()
        if (found := expression_problems(rule["expr"], series))
    }
    assert problems == {}


@pytest.mark.parametrize(
    "expr",
    [
        "rescue_outbox_age_seconds > 60",  # not a series of ours
        "max by (station) (rescue_outbox_backlog) > 0",  # no station on it
        'rescue_overdue{statoin="gushi"} > 0',  # label typo
        "vector(1)",  # no series at all
    ],
)
def test_an_alert_on_what_the_code_does_not_expose_is_caught(expr):
    assert expression_problems(expr, exposed() | SCRAPE_SERIES)


# ------------------------------------------------------ promtool tests ---


def test_the_promtool_tests_see_every_alert_fire_and_stay_silent():
    firing: set[str] = set()
    silent: set[str] = set()
    for path in RULE_TESTS:
        suite = yaml.safe_load(path.read_text(encoding="utf-8"))
        assert suite["rule_files"] == [f"../rules/{p.name}" for p in RULE_FILES], path.name
        for case in suite["tests"]:
            for check in case["alert_rule_test"]:
                (firing if check["exp_alerts"] else silent).add(check["alertname"])
    assert firing == set(alerts()), "alerts never seen firing"
    assert silent == set(alerts()), "alerts never seen staying silent"


# ----------------------------------------------------------- Kubernetes ---


def test_the_prometheus_rule_is_the_rules_file_as_generated():
    spec = importlib.util.spec_from_file_location(
        "prometheus_rule", PROMETHEUS / "prometheus_rule.py"
    )
    assert spec and spec.loader
    generator = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generator)
    committed = PROMETHEUS_RULE.read_text(encoding="utf-8")
    assert committed == generator.render(), "run `make prometheus-rule`"
    resource = yaml.safe_load(committed)
    assert resource["kind"] == "PrometheusRule"
    assert resource["spec"]["groups"] == groups()
    kustomization = yaml.safe_load(
        (PROMETHEUS_RULE.parent / "kustomization.yaml").read_text(encoding="utf-8")
    )
    assert PROMETHEUS_RULE.name in kustomization["resources"]
