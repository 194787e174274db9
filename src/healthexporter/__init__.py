"""healthexporter: project-health metrics from GitHub, served as OpenMetrics for Prometheus."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("healthexporter")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0"
