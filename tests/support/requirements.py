"""Skipping when a real component is missing, except in CI where that is a failure."""

from __future__ import annotations

import os

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def require(condition: bool, what: str) -> None:
    """Skip (or, under CI=true, fail) a test whose real component is missing."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{what} is required under CI=true but is missing", pytrace=False)
    pytest.skip(f"{what} is missing")
