"""Where GitHub's APIs live for a configured base URL (no I/O; shared by config and client)."""

from __future__ import annotations


def derive_graphql_url(api_url: str) -> str:
    """GitHub's GraphQL endpoint for a REST base URL.

    github.com: ``https://api.github.com/graphql``; GitHub Enterprise Server ("GraphQL API
    for Enterprise Server"): ``https://HOST/api/v3`` → ``https://HOST/api/graphql``; anything
    else (the simulator): ``{api_url}/graphql``.
    """
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"
