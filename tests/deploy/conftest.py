"""The images the deployment tests run, built once per session from the locally made base."""

from __future__ import annotations

import pytest

from tests.deploy import podman
from tests.support.requirements import require


@pytest.fixture(scope="session")
def base_image() -> str:
    require(podman.available(), "podman and mmdebstrap, as root (make deploy-deps)")
    return podman.base_image()


@pytest.fixture(scope="session")
def meetbridge_image(base_image: str) -> str:
    return podman.meetbridge_image(base_image)
