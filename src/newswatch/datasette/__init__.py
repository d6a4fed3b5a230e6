"""Datasette metadata shipped with newswatch: ``datasette newswatch.db --metadata METADATA``."""

from pathlib import Path

METADATA = Path(__file__).with_name("metadata.yml")
"""Table descriptions and canned queries for a database named newswatch.db or newswatch-demo.db."""
