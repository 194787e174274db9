"""The deployment files (deploy/kubernetes, deploy/compose) are valid and say what we mean.

How each part is checked, and against what:

- Kustomize: the real thing, `kubectl kustomize` (kustomize v5 is built into kubectl, which this
  machine's image ships). Every kustomization is rendered; nothing is re-implemented here.
- Core Kubernetes kinds: the Kubernetes OpenAPI schemas as JSON schemas, strict (unknown fields
  are errors), from the `kubernetes-validate` package (offline, one set per Kubernetes minor).
- ServiceMonitor, PrometheusRule: the pydantic models that `cloudcoil-models-prometheus-operator`
  generates from the prometheus-operator CRDs' OpenAPI schemas. Those models ignore unknown keys
  and coerce ("yes" → true), so an object must also survive a round trip unchanged.
- GrafanaDashboard: no registry package ships grafana-operator's CRD, so GRAFANA_DASHBOARD_SCHEMA
  below is a hand-written, closed subset of its v1beta1 openAPIV3Schema (v5): the fields we use
  with their types and patterns, every other spec field listed by name.
- Compose: the `compose-spec` package (bindings of the Rust `compose_spec` crate) parses the file
  strictly: unknown keys, bad durations, ports and types are errors. It does no interpolation and
  no YAML merge keys, which Compose applies before validating, so the test does both first. It
  does not check cross-references either; the structural tests below do.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml
from cloudcoil.models.prometheus_operator import v1 as prometheus_operator
from compose_spec import PyCompose

from healthexporter.config import parse_config

REPOSITORY = Path(__file__).resolve().parents[1]
KUBERNETES = REPOSITORY / "deploy" / "kubernetes"
COMPOSE = REPOSITORY / "deploy" / "compose"
RULES_SOURCE = REPOSITORY / "deploy" / "prometheus" / "prometheusrule.yaml"
RULES_FILE = REPOSITORY / "deploy" / "prometheus" / "rules.yml"
DASHBOARDS = REPOSITORY / "dashboards"

KUSTOMIZATIONS = ["base", "overlays/sharded", "overlays/github-app"]
# The oldest Kubernetes minor we claim (StatefulSet ordinals and restricted Pod Security are
# long stable) and the newest the schema package has.
KUBERNETES_VERSIONS = ["1.30.0", kubernetes_validate.latest_version()]
CUSTOM_KINDS = {"ServiceMonitor", "PrometheusRule", "GrafanaDashboard"}

Object = dict[str, Any]


# ── Kustomize ─────────────────────────────────────────────────────────────────────────────


def _kustomize_command() -> list[str]:
    if shutil.which("kustomize"):
        return ["kustomize", "build"]
    if shutil.which("kubectl"):
        return ["kubectl", "kustomize"]
    if os.environ.get("CI"):
        pytest.fail("neither kubectl nor kustomize is installed")
    pytest.skip("neither kubectl nor kustomize is installed")


def kustomize(directory: Path) -> list[Object]:
    result = subprocess.run(
        [*_kustomize_command(), str(directory)],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return [document for document in yaml.safe_load_all(result.stdout) if document]


_rendered: dict[str, list[Object]] = {}


def rendered(name: str) -> list[Object]:
    if name not in _rendered:
        _rendered[name] = kustomize(KUBERNETES / name)
    return _rendered[name]


def only(objects: list[Object], kind: str, name: str | None = None) -> Object:
    found = [
        o for o in objects if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(found) == 1, f"expected one {kind} {name or ''}, found {len(found)}"
    return found[0]


def containers(pod_spec: Object) -> Iterator[Object]:
    yield from pod_spec.get("initContainers", [])
    yield from pod_spec["containers"]


def statefulset(name: str) -> Object:
    return only(rendered(name), "StatefulSet")


def exporter_container(name: str) -> Object:
    [container] = [
        c
        for c in statefulset(name)["spec"]["template"]["spec"]["containers"]
        if c["name"] == "healthexporter"
    ]
    return container


def configmap_for_volume(name: str, volume_name: str) -> Object:
    pod = statefulset(name)["spec"]["template"]["spec"]
    [volume] = [v for v in pod["volumes"] if v["name"] == volume_name]
    return only(rendered(name), "ConfigMap", volume["configMap"]["name"])


# ── Kubernetes: schemas ───────────────────────────────────────────────────────────────────


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_core_objects_match_the_kubernetes_schemas(name: str, version: str) -> None:
    core = [o for o in rendered(name) if o["kind"] not in CUSTOM_KINDS]
    assert {o["kind"] for o in core} >= {"ServiceAccount", "ConfigMap", "Service", "StatefulSet"}
    for obj in core:
        kubernetes_validate.validate(obj, version, strict=True)


def test_the_kubernetes_schemas_catch_an_unknown_field() -> None:
    broken = json.loads(json.dumps(statefulset("base")))
    broken["spec"]["template"]["spec"]["containers"][0]["securityContexts"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def _check_prometheus_operator(obj: Object) -> None:
    model = {"ServiceMonitor": prometheus_operator.ServiceMonitor}.get(
        obj["kind"], prometheus_operator.PrometheusRule
    )
    parsed = model.model_validate(obj)
    # The models drop unknown keys and coerce types: a changed round trip is an error.
    assert parsed.model_dump(by_alias=True, exclude_unset=True, mode="json") == obj


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_prometheus_operator_objects_match_their_crds(name: str) -> None:
    objects = [o for o in rendered(name) if o["kind"] in {"ServiceMonitor", "PrometheusRule"}]
    assert any(o["kind"] == "ServiceMonitor" for o in objects)
    for obj in objects:
        _check_prometheus_operator(obj)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "endpoints", 0, "intervall"), "1m"),  # unknown field
        (("spec", "endpoints", 0, "interval"), "1 minute"),  # not a Prometheus duration
        (("spec", "endpoints", 0, "honorLabels"), "yes"),  # coerced to a boolean
    ],
)
def test_the_crd_models_catch_mistakes(path: tuple[str | int, ...], value: str) -> None:
    broken = json.loads(json.dumps(only(rendered("base"), "ServiceMonitor")))
    target = broken
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises((AssertionError, ValueError)):
        _check_prometheus_operator(broken)


_DURATION = r"^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$"  # Go's time.ParseDuration
_LABEL_SELECTOR: Object = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "matchLabels": {"type": "object", "additionalProperties": {"type": "string"}},
        "matchExpressions": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["key", "operator"],
                "properties": {
                    "key": {"type": "string"},
                    "operator": {"type": "string"},
                    "values": {"type": "array", "items": {"type": "string"}},
                },
            },
        },
    },
}
# grafana-operator v5, grafanadashboards.grafana.integreatly.org v1beta1 (hand-written subset:
# no registry package ships the CRD). The spec fields we do not use are listed, untyped, so a
# misspelt field is still an error.
GRAFANA_DASHBOARD_SCHEMA: Object = {
    "type": "object",
    "required": ["apiVersion", "kind", "metadata", "spec"],
    "additionalProperties": False,
    "properties": {
        "apiVersion": {"const": "grafana.integreatly.org/v1beta1"},
        "kind": {"const": "GrafanaDashboard"},
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        },
        "spec": {
            "type": "object",
            "required": ["instanceSelector"],
            "additionalProperties": False,
            "properties": {
                "instanceSelector": _LABEL_SELECTOR,
                "folder": {"type": "string"},
                "resyncPeriod": {"type": "string", "pattern": _DURATION},
                "allowCrossNamespaceImport": {"type": "boolean"},
                "configMapRef": {
                    "type": "object",
                    "required": ["key"],
                    "additionalProperties": False,
                    "properties": {
                        "key": {"type": "string"},
                        "name": {"type": "string"},
                        "optional": {"type": "boolean"},
                    },
                },
                "json": {"type": "string"},
                **{
                    field: {}
                    for field in [
                        "contentCacheDuration",
                        "datasources",
                        "envFrom",
                        "envs",
                        "folderRef",
                        "folderUID",
                        "grafanaCom",
                        "gzipJson",
                        "jsonnet",
                        "jsonnetLib",
                        "plugins",
                        "suspend",
                        "uid",
                        "url",
                        "urlAuthorization",
                    ]
                },
            },
        },
    },
}


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_grafana_dashboards_match_the_crd_subset(name: str) -> None:
    for obj in rendered(name):
        if obj["kind"] == "GrafanaDashboard":
            jsonschema.validate(obj, GRAFANA_DASHBOARD_SCHEMA)


# ── Kubernetes: what the manifests mean ───────────────────────────────────────────────────


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_pods_meet_the_restricted_pod_security_standard(name: str) -> None:
    pod = statefulset(name)["spec"]["template"]["spec"]
    context = pod["securityContext"]
    assert context["runAsNonRoot"] is True
    assert context["runAsUser"] == 10001
    assert context["fsGroup"] == 10001
    assert context["seccompProfile"] == {"type": "RuntimeDefault"}
    assert not any(pod.get(key) for key in ("hostNetwork", "hostPID", "hostIPC"))
    assert pod["automountServiceAccountToken"] is False
    assert only(rendered(name), "ServiceAccount")["automountServiceAccountToken"] is False
    for volume in pod["volumes"]:
        assert "hostPath" not in volume
    for container in containers(pod):
        security = container["securityContext"]
        assert security["allowPrivilegeEscalation"] is False
        assert security["capabilities"] == {"drop": ["ALL"]}
        assert security["readOnlyRootFilesystem"] is True
        assert security.get("privileged", False) is False
        assert security.get("runAsNonRoot", True) is True
        assert security.get("seccompProfile", {"type": "RuntimeDefault"}) == {
            "type": "RuntimeDefault"
        }
        resources = container["resources"]
        for kind in ("requests", "limits"):
            assert set(resources[kind]) >= {"cpu", "memory"}, (container["name"], kind)


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_writable_paths_are_volumes(name: str) -> None:
    sts = statefulset(name)
    mounts = {m["mountPath"]: m["name"] for m in exporter_container(name)["volumeMounts"]}
    volumes = {v["name"]: v for v in sts["spec"]["template"]["spec"]["volumes"]}
    claims = {c["metadata"]["name"] for c in sts["spec"]["volumeClaimTemplates"]}
    assert mounts["/var/lib/healthexporter"] in claims
    assert "emptyDir" in volumes[mounts["/tmp"]]
    assert "configMap" in volumes[mounts["/etc/healthexporter"]]


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_ports_probes_and_services(name: str) -> None:
    objects = rendered(name)
    sts = statefulset(name)
    container = exporter_container(name)
    assert container["ports"] == [
        {"name": "http-metrics", "containerPort": 9935, "protocol": "TCP"}
    ]
    assert container["livenessProbe"]["httpGet"] == {"path": "/-/healthy", "port": "http-metrics"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/-/ready", "port": "http-metrics"}

    pod_labels = sts["spec"]["template"]["metadata"]["labels"]
    assert sts["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    services = {s["metadata"]["name"]: s for s in objects if s["kind"] == "Service"}
    headless = services[sts["spec"]["serviceName"]]
    assert headless["spec"]["clusterIP"] == "None"
    for service in services.values():
        assert service["spec"]["selector"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        assert [p["targetPort"] for p in service["spec"]["ports"]] == ["http-metrics"]

    monitor = only(objects, "ServiceMonitor")
    selected = [
        s
        for s in services.values()
        if monitor["spec"]["selector"]["matchLabels"].items() <= s["metadata"]["labels"].items()
    ]
    assert len(selected) == 1, "the ServiceMonitor must select exactly one Service"
    assert selected[0]["spec"].get("clusterIP") != "None"
    service_ports = {p["name"] for p in selected[0]["spec"]["ports"]}
    for endpoint in monitor["spec"]["endpoints"]:
        assert endpoint["port"] in service_ports
        assert endpoint["path"] == "/metrics"


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_the_configuration_is_valid_and_fits_the_pod(name: str, tmp_path: Path) -> None:
    container = exporter_container(name)
    assert container["command"] == ["healthexporter"]
    assert container["args"][:2] == ["serve", "--config.file=/etc/healthexporter/config.yaml"]
    text = configmap_for_volume(name, "config")["data"]["config.yaml"]

    # The paths in it are the pod's; point them at stand-ins so the loader's checks
    # (the store's directory exists, the App key is readable) run here.
    (tmp_path / "data").mkdir()
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "private-key.pem").write_text("stand-in\n")
    local = text.replace("/var/lib/healthexporter/", f"{tmp_path}/data/").replace(
        "/etc/healthexporter-github-app/", f"{tmp_path}/app/"
    )
    config = parse_config(local, "config.yaml", base_dir=tmp_path)
    assert config.storage.path.parent == tmp_path / "data"
    assert config.web.listen_address == ":9935"

    env = {e["name"]: e for e in container.get("env", [])}
    if name.endswith("github-app"):
        assert config.github.app is not None
        assert "GITHUB_TOKEN" not in env
        pod = statefulset(name)["spec"]["template"]["spec"]
        [volume] = [v for v in pod["volumes"] if "secret" in v]
        assert volume["secret"]["secretName"] == "healthexporter-github-app"
        [mount] = [m for m in container["volumeMounts"] if m["name"] == volume["name"]]
        assert mount["readOnly"] is True
        key_path = f"{mount['mountPath']}/{volume['secret']['items'][0]['path']}"
        assert f"private_key_file: {key_path}" in text
    else:
        assert config.github.token_env == "GITHUB_TOKEN"
        assert env["GITHUB_TOKEN"]["valueFrom"] == {
            "secretKeyRef": {"name": "healthexporter-github", "key": "token"}
        }


def test_base_runs_one_unsharded_pod() -> None:
    sts = statefulset("base")
    assert sts["spec"]["replicas"] == 1
    assert not [a for a in exporter_container("base")["args"] if "shard" in a]


def test_sharded_overlay_shards_by_pod_ordinal() -> None:
    sts = statefulset("overlays/sharded")
    args = exporter_container("overlays/sharded")["args"]
    # The shard comes from the pod ordinal: --total-shards without --shard.
    assert f"--total-shards={sts['spec']['replicas']}" in args
    assert sts["spec"]["replicas"] == 3
    assert not [a for a in args if a.startswith("--shard")]
    # Each shard has its own store, and shards start together (readiness waits for a sync).
    assert sts["spec"]["volumeClaimTemplates"]
    assert sts["spec"]["podManagementPolicy"] == "Parallel"
    # Nothing else differs from the base but the replicas, args and affinity.
    base = json.loads(json.dumps(statefulset("base")))
    sharded = json.loads(json.dumps(sts))
    for spec in (base, sharded):
        spec["spec"].pop("replicas")
        spec["spec"]["template"]["spec"].pop("affinity", None)
        spec["spec"]["template"]["spec"]["containers"][0].pop("args")
    assert base == sharded


# ── Kubernetes: the generated copies of the rules and dashboards ──────────────────────────


def _generator() -> Any:
    import importlib.util

    spec = importlib.util.spec_from_file_location("generate", KUBERNETES / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_generated_copies_are_up_to_date() -> None:
    expected = _generator().render(REPOSITORY)
    generated = KUBERNETES / "base" / "generated"
    on_disk = {
        str(path.relative_to(generated)): path.read_bytes()
        for path in generated.rglob("*")
        if path.is_file()
    }
    assert sorted(on_disk) == sorted(expected), "run: python deploy/kubernetes/generate.py"
    for relative, content in expected.items():
        assert on_disk[relative] == content, (
            f"{relative} is stale: run deploy/kubernetes/generate.py"
        )


@pytest.mark.skipif(not RULES_SOURCE.is_file(), reason=f"{RULES_SOURCE} does not exist yet")
@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_the_prometheus_rule_is_deployed(name: str) -> None:
    rule = only(rendered(name), "PrometheusRule")
    source = yaml.safe_load(RULES_SOURCE.read_text())
    assert rule["spec"] == source["spec"]


@pytest.mark.skipif(not list(DASHBOARDS.glob("*.json")), reason="dashboards/ has no JSON yet")
@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_every_dashboard_is_deployed(name: str) -> None:
    objects = rendered(name)
    dashboards = [o for o in objects if o["kind"] == "GrafanaDashboard"]
    deployed = {}
    for dashboard in dashboards:
        reference = dashboard["spec"]["configMapRef"]
        configmap = only(objects, "ConfigMap", reference["name"])
        deployed[reference["key"]] = json.loads(configmap["data"][reference["key"]])
    assert deployed == {
        path.name: json.loads(path.read_text()) for path in DASHBOARDS.glob("*.json")
    }


def test_the_generator_names_dashboards_as_kubernetes_wants() -> None:
    name = _generator().dashboard_name
    assert name("project") == "healthexporter-dashboard-project"
    assert name("healthexporter-exporter") == "healthexporter-exporter"
    assert name("My_Dashboard") == "healthexporter-dashboard-my-dashboard"


# ── Compose ───────────────────────────────────────────────────────────────────────────────

_INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)"
    r"(?:(?P<operator>:?[-?+])(?P<argument>[^}]*))?\})"
)


def interpolate(text: str, environment: dict[str, str]) -> str:
    """Compose's variable interpolation (compose-spec, "Interpolation"), the forms we use."""

    def substitute(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        name, operator, argument = match["name"], match["operator"], match["argument"]
        value = environment.get(name)
        unset = value is None or (operator is not None and operator.startswith(":") and not value)
        if operator in ("-", ":-"):
            return argument if unset else str(value)
        if operator in ("?", ":?"):
            if unset:
                raise ValueError(f"{name}: {argument}")
            return str(value)
        if operator in ("+", ":+"):
            return "" if unset else argument
        return value or ""

    return _INTERPOLATION.sub(substitute, text)


def compose(environment: dict[str, str] | None = None) -> Object:
    text = interpolate((COMPOSE / "compose.yaml").read_text(), environment or {})
    # PyYAML resolves YAML merge keys (<<), as Compose does before validating.
    data: Object = yaml.safe_load(text)
    PyCompose.from_json(json.dumps(data))  # raises ValueError on anything off-spec
    return data


def test_interpolation_follows_compose() -> None:
    assert interpolate("${A:-x} ${A-x} ${B:-x} ${B-x} $$A", {"B": ""}) == "x x x  $A"
    with pytest.raises(ValueError, match="A: needed"):
        interpolate("${A:?needed}", {})


@pytest.mark.parametrize("environment", [{}, {"GITHUB_TOKEN": "t", "HEALTHEXPORTER_IMAGE": "x:1"}])
def test_compose_file_matches_the_compose_spec(environment: dict[str, str]) -> None:
    data = compose(environment)
    assert set(data["services"]) == {
        "healthexporter",
        "healthexporter-demo",
        "simulator",
        "prometheus",
        "grafana",
    }


def test_the_compose_spec_parser_catches_mistakes() -> None:
    with pytest.raises(ValueError, match="imagee"):
        PyCompose.from_json(json.dumps({"services": {"a": {"image": "x", "imagee": "y"}}}))
    with pytest.raises(ValueError, match="duration"):
        PyCompose.from_json(
            json.dumps({"services": {"a": {"image": "x", "healthcheck": {"interval": "3 days"}}}})
        )


def _profile_services(data: Object, profile: str) -> dict[str, Object]:
    """The services `docker compose --profile PROFILE up` starts."""
    return {
        name: service
        for name, service in data["services"].items()
        if "profiles" not in service or profile in service["profiles"]
    }


def test_compose_references_resolve() -> None:
    data = compose()
    for name, service in data["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith((".", "/")):
                path = (COMPOSE / source).resolve()
                if path == RULES_FILE and not RULES_FILE.exists():
                    continue  # written by another change; Prometheus needs it at `up`
                assert path.exists(), f"{name}: {source} does not exist"
            else:
                assert source in data["volumes"], f"{name}: volume {source} is not declared"
        if "build" in service:
            context = (COMPOSE / service["build"]["context"]).resolve()
            dockerfile = context / service["build"]["dockerfile"]
            assert dockerfile.is_file(), f"{name}: {dockerfile} does not exist"
            ignore = dockerfile.with_name(dockerfile.name + ".dockerignore")
            assert ignore.is_file(), f"{name}: the repository's .dockerignore would apply"
        for config in service.get("configs", []):
            assert (COMPOSE / data["configs"][config["source"]]["file"]).is_file()
        for dependency in service.get("depends_on", {}):
            needed = data["services"][dependency]
            # A dependency must start in every profile its dependant starts in.
            assert "profiles" not in needed or set(service.get("profiles", [])) <= set(
                needed["profiles"]
            ), f"{name} → {dependency}"
    declared = set(data["volumes"])
    used = {
        volume.split(":")[0] for service in data["services"].values()
        for volume in service.get("volumes", [])
    }  # fmt: skip
    assert declared <= used, f"unused volumes: {declared - used}"


def test_dot_env_makes_github_the_default_profile() -> None:
    lines = [
        line
        for line in (COMPOSE / ".env").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines == ["COMPOSE_PROFILES=github"]


@pytest.mark.parametrize(
    ("profile", "exporter", "token"),
    [("github", "healthexporter", "from-the-host"), ("demo", "healthexporter-demo", "demo")],
)
def test_each_profile_runs_one_exporter_that_prometheus_scrapes(
    profile: str, exporter: str, token: str, tmp_path: Path
) -> None:
    data = compose({"GITHUB_TOKEN": "from-the-host"})
    services = _profile_services(data, profile)
    exporters = [s for s in services.values() if "healthexporter.simulator" not in str(s)]
    exporters = [s for s in exporters if s.get("entrypoint") == ["healthexporter"]]
    assert exporters == [services[exporter]]
    service = services[exporter]
    assert service["environment"]["GITHUB_TOKEN"] == token
    assert "healthexporter" in service["networks"]["default"]["aliases"]
    assert service["ports"] == ["9935:9935"]
    assert {"prometheus", "grafana"} <= set(services)
    # The same hardening as the Kubernetes pod.
    assert service["user"] == "10001:10001"
    assert service["read_only"] is True
    assert service["cap_drop"] == ["ALL"]
    assert "/tmp" in service["tmpfs"]
    assert "/var/lib/healthexporter" in [v.split(":")[1] for v in service["volumes"]]

    [config] = service["configs"]
    assert config["target"] == "/etc/healthexporter/config.yaml"
    assert service["command"] == ["serve", f"--config.file={config['target']}"]
    text = (COMPOSE / data["configs"][config["source"]]["file"]).read_text()
    (tmp_path / "data").mkdir()
    parsed = parse_config(text.replace("/var/lib/healthexporter/", f"{tmp_path}/data/"))
    assert parsed.github.token_env == "GITHUB_TOKEN"
    if profile == "demo":
        simulator = services["simulator"]["command"]
        port = simulator[simulator.index("--port") + 1]
        assert simulator[simulator.index("--host") + 1] == "0.0.0.0"
        assert parsed.github.api_url == f"http://simulator:{port}"
    else:
        assert parsed.github.api_url == "https://api.github.com"


def test_prometheus_scrapes_the_exporter_and_loads_the_rules() -> None:
    data = compose()
    prometheus = data["services"]["prometheus"]
    mounts = dict(v.split(":")[:2] for v in prometheus["volumes"])
    config_path = COMPOSE / next(
        k for k, v in mounts.items() if v == "/etc/prometheus/prometheus.yml"
    )
    config = yaml.safe_load(config_path.read_text())
    targets = [
        target
        for job in config["scrape_configs"]
        for static in job.get("static_configs", [])
        for target in static["targets"]
    ]
    assert "healthexporter:9935" in targets
    rules_target = mounts["../prometheus/rules.yml"]
    assert any(Path(rules_target).match(pattern) for pattern in config["rule_files"])

    if shutil.which("promtool"):
        result = subprocess.run(
            ["promtool", "check", "config", "--syntax-only", str(config_path)],
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_grafana_is_provisioned_with_prometheus_and_the_dashboards() -> None:
    data = compose()
    grafana = data["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    provisioning = COMPOSE / next(k for k, v in mounts.items() if v == "/etc/grafana/provisioning")
    [datasource] = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())[
        "datasources"
    ]
    assert datasource["type"] == "prometheus"
    assert datasource["url"] == "http://prometheus:9090"
    assert "9090:9090" in data["services"]["prometheus"]["ports"]
    [provider] = yaml.safe_load((provisioning / "dashboards" / "healthexporter.yaml").read_text())[
        "providers"
    ]
    dashboards_source = next(k for k, v in mounts.items() if v == provider["options"]["path"])
    assert (COMPOSE / dashboards_source).resolve() == DASHBOARDS
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home.startswith(provider["options"]["path"] + "/")
    if list(DASHBOARDS.glob("*.json")):
        assert (DASHBOARDS / Path(home).name).is_file(), "the home dashboard is not in dashboards/"
