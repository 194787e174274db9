# healthexporter as a container: a builder stage installs the project into a virtual environment,
# the final stage copies that environment alone onto the same slim Python base. The image runs as
# uid 10001, keeps its SQLite store on the /var/lib/healthexporter volume and writes nothing
# else, so `--read-only` works. It holds no secret: the GitHub token comes from the environment
# or a mounted secret file at run time (see docs/container.md).
#
# BASE_IMAGE is the registry's python:3.11-slim-bookworm for everyone who can pull it; CI, which
# reaches no registry, passes a bookworm image made from Debian's packages
# (deploy/container/make-base-image.sh). Both stages use the same base, so the environment's
# interpreter path (/usr/local/bin/python3 or /usr/bin/python3) is the same in both.
ARG BASE_IMAGE=python:3.11-slim-bookworm

FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore
RUN python3 -m venv /opt/healthexporter
# Only what the wheel is built from (.dockerignore keeps the rest of the tree out).
COPY pyproject.toml README.md /src/
COPY src/ /src/src/
# pip_cert is an optional build secret: a CA bundle for networks whose TLS to PyPI passes an
# intercepting proxy. It is mounted for this one step and never lands in a layer.
RUN --mount=type=secret,id=pip_cert,required=false \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && /opt/healthexporter/bin/pip install /src \
    && /opt/healthexporter/bin/pip uninstall --yes pip setuptools \
    && /opt/healthexporter/bin/healthexporter --version

FROM ${BASE_IMAGE}
# No .pyc is written at run time (the root filesystem may be read-only; the builder already
# compiled them), and log lines leave at once.
ENV PATH=/opt/healthexporter/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN groupadd --gid 10001 healthexporter \
    && useradd --uid 10001 --gid 10001 --no-create-home \
       --home-dir /var/lib/healthexporter --shell /usr/sbin/nologin healthexporter \
    && mkdir -p /etc/healthexporter /var/lib/healthexporter \
    && chown 10001:10001 /var/lib/healthexporter
COPY --from=builder /opt/healthexporter /opt/healthexporter

# Labels last: a new revision rebuilds only these layers.
ARG VERSION=0.1.0
ARG REVISION=""
ARG SOURCE_URL=""
LABEL org.opencontainers.image.title="healthexporter" \
      org.opencontainers.image.description="Project-health metrics (first response, contributors, risk, velocity, releases) from GitHub, served as OpenMetrics for Prometheus" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE_URL}"

USER 10001:10001
WORKDIR /var/lib/healthexporter
VOLUME ["/var/lib/healthexporter"]
EXPOSE 9935

# Slim images have no curl: the check is the environment's own Python. It follows
# web.listen_address's default; an image run with TLS or another port needs its own check.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["python3", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:9935/-/healthy', timeout=4)"]

ENTRYPOINT ["healthexporter"]
CMD ["serve", "--config.file", "/etc/healthexporter/config.yaml"]
