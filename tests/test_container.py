"""The container image, built for real (deploy/container/build.sh) and then run.

CI reaches no container registry, so the build uses the Debian-made stand-in base image; the
Dockerfile is the one users build on python:3.11-slim-bookworm. The checks read what the image
says about itself (``podman image inspect``), what its filesystem holds (``podman export``) and
what it does when run as documented: read-only root, the store on a volume, the token from a
secret, the HEALTHCHECK answering, and a sync against the simulator on loopback.

Containers here run with runc (crun refuses this host's cgroup v1/v2 hybrid) and with rlimits
no higher than the host's own, since the sandbox forbids raising them (podman's default is to).
"""

from __future__ import annotations

import json
import os
import re
import resource
import secrets
import subprocess
import tarfile
import time
import tomllib
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from healthexporter.simulator.generate import generate

from .conftest import free_port, simulator

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

ROOT = Path(__file__).parent.parent
IMAGE = "localhost/healthexporter:test"
BUILD_TIMEOUT = 840  # a fresh machine (apt, base image, build) takes about 1.5 minutes
CONFIG_IN_IMAGE = "/etc/healthexporter/config.yaml"
STORE = "/var/lib/healthexporter"
# A value that must not reach any layer: the build runs with it in GITHUB_TOKEN.
CANARY = f"ghp_canary{secrets.token_hex(12)}"
NOW = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)


def podman(
    *args: str, timeout: float = 120, check: bool = True
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["podman", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if check and result.returncode != 0:
        pytest.fail(f"podman {' '.join(args)} exited {result.returncode}:\n{result.stderr}")
    return result


def run_flags() -> list[str]:
    """What ``podman run`` needs on this kind of host (see the module docstring)."""
    nofile = at_most_the_hard_limit(resource.RLIMIT_NOFILE, 8192)
    nproc = at_most_the_hard_limit(resource.RLIMIT_NPROC, 4096)
    return [
        "--runtime=runc",
        f"--ulimit=nofile={nofile}:{nofile}",
        f"--ulimit=nproc={nproc}:{nproc}",
    ]


def at_most_the_hard_limit(limit: int, wanted: int) -> int:
    hard = resource.getrlimit(limit)[1]
    return wanted if hard == resource.RLIM_INFINITY else min(hard, wanted)


@pytest.fixture(scope="module")
def image() -> dict[str, Any]:
    """Builds the image (no skip: a machine that cannot build fails here) and inspects it."""
    started = time.monotonic()
    try:
        build = subprocess.run(
            [str(ROOT / "deploy" / "container" / "build.sh")],
            env={**os.environ, "IMAGE": IMAGE, "GITHUB_TOKEN": CANARY},
            capture_output=True,
            text=True,
            timeout=BUILD_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"deploy/container/build.sh took more than {BUILD_TIMEOUT} s")
    if build.returncode != 0:
        output = (build.stdout + build.stderr)[-6000:]
        pytest.fail(f"deploy/container/build.sh exited {build.returncode}:\n{output}")
    print(f"image built in {time.monotonic() - started:.0f} s")
    inspected: list[dict[str, Any]] = json.loads(podman("image", "inspect", IMAGE).stdout)
    return inspected[0]


def test_image_runs_as_uid_10001_with_the_documented_entrypoint(image: dict[str, Any]) -> None:
    config = image["Config"]
    assert config["User"] == "10001:10001"
    assert config["Entrypoint"] == ["healthexporter"]
    assert config["Cmd"] == ["serve", "--config.file", CONFIG_IN_IMAGE]
    assert config["WorkingDir"] == STORE
    assert set(config["Volumes"]) == {STORE}
    assert set(config["ExposedPorts"]) == {"9935/tcp"}
    assert "PYTHONDONTWRITEBYTECODE=1" in config["Env"]


def test_image_has_a_healthcheck_without_curl(image: dict[str, Any]) -> None:
    check = image["Healthcheck"]
    assert check["Test"][:2] == ["CMD", "python3"]
    assert "http://127.0.0.1:9935/-/healthy" in check["Test"][-1]
    assert check["Interval"] > 0 and check["Timeout"] > 0 and check["Retries"] > 0


def test_image_has_oci_labels(image: dict[str, Any]) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    labels = image["Config"]["Labels"]
    prefix = "org.opencontainers.image."
    assert labels[prefix + "title"] == "healthexporter"
    assert labels[prefix + "description"] == project["description"]
    assert labels[prefix + "version"] == project["version"]
    assert labels[prefix + "licenses"] == project["license"]["text"]
    assert prefix + "source" in labels
    assert prefix + "revision" in labels


def test_image_metadata_holds_no_token(image: dict[str, Any]) -> None:
    names = [entry.split("=", 1)[0] for entry in image["Config"]["Env"]]
    assert not [n for n in names if any(w in n for w in ("TOKEN", "SECRET", "PASSWORD", "KEY"))]
    history = podman("history", "--no-trunc", "--format", "{{.CreatedBy}}", IMAGE).stdout
    assert "GITHUB_TOKEN" not in history
    for text in (json.dumps(image), history):
        assert CANARY not in text


def test_filesystem_holds_the_package_and_the_user_but_no_token(image: dict[str, Any]) -> None:
    container = podman("create", IMAGE).stdout.strip()
    try:
        names: set[str] = set()
        passwd = ""
        canary = CANARY.encode()
        with subprocess.Popen(["podman", "export", container], stdout=subprocess.PIPE) as export:
            assert export.stdout is not None
            with tarfile.open(fileobj=export.stdout, mode="r|") as archive:
                for member in archive:
                    names.add(member.name.removeprefix("./"))
                    if not member.isfile() or member.size > 64 << 20:
                        continue
                    handle = archive.extractfile(member)
                    assert handle is not None
                    content = handle.read()
                    assert canary not in content, member.name
                    if member.name.removeprefix("./") == "etc/passwd":
                        passwd = content.decode()
        assert export.returncode == 0
    finally:
        podman("rm", "--volumes", container)
    sites = {
        n for n in names if re.fullmatch(r"opt/healthexporter/lib/python3\.\d+/site-packages", n)
    }
    assert len(sites) == 1, sites
    site = sites.pop()
    assert f"{site}/healthexporter/cli.py" in names
    assert any(
        n.startswith(f"{site}/healthexporter-") and n.endswith(".dist-info/METADATA") for n in names
    )
    assert "opt/healthexporter/bin/healthexporter" in names
    # The venv carries no installer, and the build context (sources, tests, stores) stayed out.
    assert not any(n.startswith((f"{site}/pip/", "src/", "tests/", ".git/")) for n in names)
    assert not any(n.endswith((".db", ".env")) for n in names)
    assert "healthexporter:x:10001:10001:" in passwd


def test_version_runs(image: dict[str, Any]) -> None:
    version = podman("run", "--rm", *run_flags(), "--network=none", IMAGE, "--version")
    assert (
        version.stdout.strip()
        == f"healthexporter {image['Config']['Labels']['org.opencontainers.image.version']}"
    )


@pytest.fixture
def store_volume() -> Iterator[str]:
    name = f"healthexporter-test-{uuid.uuid4().hex[:12]}"
    podman("volume", "create", name)
    try:
        yield name
    finally:
        podman("volume", "rm", "--force", name, check=False)


def write_config(directory: Path, api_url: str, token: str) -> Path:
    directory.mkdir()
    (directory / "config.yaml").write_text(
        f"github: {{api_url: '{api_url}', {token}, max_retries: 0}}\n"
        "projects: {acme: {repositories: [acme/widgets]}}\n"
        f"storage: {{path: {STORE}/healthexporter.db}}\n"
        "sync: {poll_interval: 1m, jitter: 1s}\n",
        encoding="utf-8",
    )
    directory.chmod(0o755)
    (directory / "config.yaml").chmod(0o644)
    return directory


def wait_for(predicate: Any, what: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out waiting for {what}")


def test_runs_read_only_with_the_store_on_a_volume_and_is_healthy(
    image: dict[str, Any], tmp_path: Path, store_volume: str
) -> None:
    # Its own network namespace: GitHub is unreachable, and 9935 is the image's own port,
    # which is what the HEALTHCHECK asks. No tmpfs either (podman adds /tmp and /run to a
    # read-only root unless told not to; Docker does not): the volume is the only place written.
    config = write_config(tmp_path / "etc", "http://127.0.0.1:9", "token_env: GITHUB_TOKEN")
    name = f"healthexporter-test-{uuid.uuid4().hex[:12]}"
    podman(
        "run", "--detach", "--name", name, *run_flags(), "--network=none",
        "--read-only", "--read-only-tmpfs=false",
        "--volume", f"{config}:/etc/healthexporter:ro",
        "--volume", f"{store_volume}:{STORE}",
        "--env", "GITHUB_TOKEN=run-time-token",
        IMAGE,
    )  # fmt: skip
    try:
        wait_for(lambda: podman("healthcheck", "run", name, check=False).returncode == 0, "healthy")
        assert podman("exec", name, "id", "-u").stdout.strip() == "10001"
        written = podman("exec", name, "ls", STORE).stdout.split()
        assert "healthexporter.db" in written
        for path in ("/opt/healthexporter/probe", "/etc/healthexporter/probe", "/tmp/probe"):
            assert podman("exec", name, "touch", path, check=False).returncode != 0, path
        podman("stop", "--time", "20", name)
        state = json.loads(podman("container", "inspect", name).stdout)[0]["State"]
        assert state["ExitCode"] == 0, podman("logs", name).stderr
    finally:
        podman("rm", "--force", "--volumes", name, check=False)
    mountpoint = json.loads(podman("volume", "inspect", store_volume).stdout)[0]["Mountpoint"]
    assert (Path(mountpoint) / "healthexporter.db").stat().st_uid == 10001


def test_syncs_the_simulator_with_the_token_from_a_secret(
    image: dict[str, Any], tmp_path: Path, store_volume: str
) -> None:
    with simulator(generate("small", now=NOW)) as server:
        config = write_config(tmp_path / "etc", server.url, "token_file: /run/secrets/github_token")
        secret = f"healthexporter-test-{uuid.uuid4().hex[:12]}"
        token_file = tmp_path / "token"
        token_file.write_text("simulator-token\n", encoding="utf-8")
        podman("secret", "create", secret, str(token_file))
        name = f"healthexporter-test-{uuid.uuid4().hex[:12]}"
        port = free_port()
        try:
            # The host's network, so the container reaches the simulator on loopback; a free
            # port instead of 9935, which the host may be using.
            podman(
                "run", "--detach", "--name", name, *run_flags(), "--network=host", "--read-only",
                "--volume", f"{config}:/etc/healthexporter:ro",
                "--volume", f"{store_volume}:{STORE}",
                # podman 4.3 mounts secrets before the read-only root's /run tmpfs: give them
                # their own tmpfs (newer podman and Docker need no such line).
                "--tmpfs", "/run/secrets",
                "--secret", f"{secret},target=github_token,uid=10001,mode=0400",
                IMAGE, "serve", "--config.file", CONFIG_IN_IMAGE,
                "--web.listen-address", f"127.0.0.1:{port}",
            )  # fmt: skip
            wait_for(lambda: synced(port), "a successful sync of acme/widgets")
        finally:
            logs = podman("logs", name, check=False).stderr
            podman("rm", "--force", "--volumes", name, check=False)
            podman("secret", "rm", secret, check=False)
    assert "Traceback" not in logs, logs


def synced(port: int) -> bool:
    try:
        text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    except httpx.HTTPError:
        return False
    return 'healthexporter_sync_up{project="acme",repository="acme/widgets"} 1' in text
