"""The package version: one place, read by the build (pyproject) and the CLI."""

__version__ = "0.1.0"
