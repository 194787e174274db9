"""The configuration wired for real: GitHub App authentication and Enterprise Server URLs,
end to end against the simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from healthexporter import runtime
from healthexporter.config import parse_config
from healthexporter.simulator.generate import generate
from healthexporter.simulator.rest import AppConfig

from .conftest import simulator


def _key_pair(tmp_path: Path) -> tuple[Path, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = tmp_path / "app.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public.decode()


def test_github_app_installation_on_an_enterprise_server(tmp_path: Path) -> None:
    private_key, public_key = _key_pair(tmp_path)
    app = AppConfig(app_id=4242, public_key_pem=public_key, installation_ids=frozenset({77}))
    # tokens=set(): only tokens the simulator minted for the app installation are accepted
    with simulator(generate("small"), app=app, tokens=set()) as server:
        config = parse_config(
            f"""
github:
  api_url: {server.url}/api/v3
  app: {{id: 4242, installation_id: 77, private_key_file: {private_key}}}
projects:
  acme: {{repositories: [acme/widgets]}}
storage: {{path: {tmp_path / "store.db"}}}
"""
        )
        built = runtime.build(config)
        try:
            repositories, _ = runtime.targets(config)
            [report] = built.syncer.sync_all(repositories)
            assert report.ok, report.errors
            assert len(built.store.items("acme/widgets")) == 30
        finally:
            built.close()
        stats = server.stats()
        assert stats["operations"]["POST /app/installations/{installation_id}/access_tokens"] == 1
        assert stats["requests"]["graphql"] > 0


def test_wrong_app_key_is_a_clear_unauthorized_error(tmp_path: Path) -> None:
    _, public_key = _key_pair(tmp_path / "..")  # the simulator knows another key
    other_key, _ = _key_pair(tmp_path)
    app = AppConfig(app_id=1, public_key_pem=public_key)
    with simulator(generate("small"), app=app, tokens=set()) as server:
        config = parse_config(
            f"github: {{api_url: '{server.url}', app: {{id: 1, installation_id: 1, private_key_file: {other_key}}}}}\n"
            f"projects: {{acme: {{repositories: [acme/widgets]}}}}\nstorage: {{path: {tmp_path / 's.db'}}}\n"
        )
        built = runtime.build(config)
        try:
            [report] = built.syncer.sync_all(runtime.targets(config)[0])
        finally:
            built.close()
        assert not report.ok
        assert report.error_reason == "unauthorized"


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_logging_setup(fmt: str, capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        runtime.setup_logging("info", fmt)
        logging.getLogger("healthexporter.test").info("hello %s", "world")
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    err = capsys.readouterr().err
    assert "hello world" in err
    if fmt == "json":
        assert err.strip().startswith("{") and '"level": "info"' in err
