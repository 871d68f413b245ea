"""OmniRoute: a local interception and routing proxy for AI coding agents."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("omniroute")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
