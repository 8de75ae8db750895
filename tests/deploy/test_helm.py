"""The Helm chart (deploy/helm/meetbridge): strict lint and rendering for the documented values,
and the rendered Deployment run by ``podman kube play`` far enough to answer /healthz.

No Kubernetes cluster runs here; Helm is built from its Go module once and cached
(tests/deploy/helm.sh).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import yaml  # type: ignore[import-untyped]

from meetbridge.crypto import generate_master_key
from tests.deploy import podman
from tests.support.ports import free_port
from tests.support.requirements import require

pytestmark = pytest.mark.slow

CHART = podman.ROOT / "deploy" / "helm" / "meetbridge"
EXAMPLES = sorted((CHART / "examples").glob("*.yaml"))


@pytest.fixture(scope="module")
def helm() -> str:
    require(shutil.which("go") is not None, "Go (to build Helm)")
    return podman.script(podman.HERE / "helm.sh", timeout=1800)


def _helm(helm: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([helm, *args], capture_output=True, text=True, timeout=120, check=False)


def _render(helm: str, *values: Path, **settings: str) -> list[dict[str, Any]]:
    args = ["template", "mb", str(CHART)]
    for path in values:
        args += ["-f", str(path)]
    for key, value in settings.items():
        args += ["--set-string", f"{key}={value}"]
    rendered = _helm(helm, *args)
    assert rendered.returncode == 0, rendered.stderr
    return [doc for doc in yaml.safe_load_all(rendered.stdout) if doc]


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda path: path.stem)
def test_the_chart_lints_strictly_and_renders_for_each_documented_example(
    helm: str, example: Path
) -> None:
    linted = _helm(helm, "lint", "--strict", str(CHART), "-f", str(example))
    assert linted.returncode == 0, linted.stdout + linted.stderr
    documents = {doc["kind"]: doc for doc in _render(helm, example)}
    assert {"Deployment", "Service", "Ingress", "Job"} <= documents.keys()
    values = yaml.safe_load(example.read_text())
    deployment = documents["Deployment"]
    assert deployment["spec"]["replicas"] == values["replicaCount"]
    pod = deployment["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    env = {item["name"]: item.get("value") for item in container["env"]}
    assert env["MEETBRIDGE_PUBLIC_URL"] == values["publicUrl"]
    secrets = ("TOKEN", "SECRET_KEY", "API_SECRET", "PASSWORD")
    assert not [n for n in env if n.endswith(secrets)], "a secret as a variable, not a file"
    job = documents["Job"]
    assert job["metadata"]["annotations"]["helm.sh/hook"] == "pre-install,pre-upgrade"
    assert job["spec"]["template"]["spec"]["containers"][0]["args"][0] == "migrate"
    assert ("Secret" in documents) == (not values["secrets"].get("existingSecret"))
    host = values["publicUrl"].removeprefix("https://")
    assert documents["Ingress"]["spec"]["rules"][0]["host"] == host


def test_missing_required_values_are_named(helm: str) -> None:
    rendered = _helm(helm, "template", "mb", str(CHART))
    assert rendered.returncode != 0
    assert "secrets.secretKey is required (or secrets.existingSecret)" in rendered.stderr
    several = _helm(helm, "template", "mb", str(CHART), "-f", str(EXAMPLES[0]),
                    "--set", "database.url=")  # fmt: skip
    assert "replicaCount above 1 needs PostgreSQL: set database.url" in several.stderr


@pytest.fixture
def kube_pod(tmp_path: Path, meetbridge_image: str, helm: str) -> Iterator[tuple[str, int]]:
    """The chart's Deployment and Secret for one replica on SQLite, as podman runs them."""
    port = free_port()
    documents = _render(
        helm,
        **{
            "replicaCount": "1",
            "image.repository": meetbridge_image.rsplit(":", 1)[0],
            "image.tag": meetbridge_image.rsplit(":", 1)[1],
            "image.pullPolicy": "Never",
            "service.port": str(port),
            "publicUrl": f"http://127.0.0.1:{port}",
            "mattermost.url": "http://127.0.0.1:9",
            "secrets.secretKey": base64.b64encode(generate_master_key()).decode(),
            "secrets.mattermostToken": "not-used-here",
            "secrets.metricsToken": "a-metrics-token-of-some-length",
        },
    )
    by_kind = {doc["kind"]: doc for doc in documents}
    secret = by_kind["Secret"]
    name = secret["metadata"]["name"]
    # podman kube play reads a Secret volume from a podman secret holding the Secret's YAML;
    # podman 4.3 writes its `data` values to the files as they are (not base64-decoded).
    secret_file = tmp_path / "secret.json"
    secret_file.write_bytes(
        orjson.dumps({**secret, "data": secret["stringData"], "stringData": {}})
    )
    podman.podman("secret", "rm", name, check=False)
    podman.podman("secret", "create", name, str(secret_file))
    deployment_file = tmp_path / "deployment.yaml"
    deployment_file.write_text(yaml.safe_dump(by_kind["Deployment"]))
    try:
        played = podman.podman("kube", "play", "--replace", str(deployment_file), check=False)
        assert played.returncode == 0, played.stderr
        yield played.stdout, port
    finally:
        podman.podman("kube", "down", str(deployment_file), check=False)
        podman.podman("secret", "rm", name, check=False)


def test_the_rendered_deployment_runs_under_podman_kube_play_and_answers_healthz(
    kube_pod: tuple[str, int],
) -> None:
    """The pod has a network namespace of its own: /healthz is asked from inside it, by the
    image's own HEALTHCHECK command and by a plain HTTP request."""
    _, port = kube_pod
    names = podman.podman("ps", "--format", "{{.Names}}").stdout.split()
    (name,) = [n for n in names if n.startswith("mb-meetbridge-pod") and "infra" not in n]
    deadline = time.monotonic() + 90
    while podman.podman(
        "exec", name, "python3", "-m", "meetbridge.healthcheck", check=False
    ).returncode:
        assert time.monotonic() < deadline, podman.logs(name)[-3000:]
        time.sleep(0.5)
    body = podman.podman(
        "exec", name, "python3", "-c",
        f"import urllib.request as u; print(u.urlopen('http://127.0.0.1:{port}/healthz').read().decode())",
    ).stdout  # fmt: skip
    assert orjson.loads(body) == {"status": "ok", "database": "ok"}
    assert podman.podman("exec", name, "id", "-u").stdout.strip() == "10001"
    touched = podman.podman("exec", name, "touch", "/opt/tampered", check=False)
    assert "Read-only file system" in touched.stderr  # the chart's readOnlyRootFilesystem
