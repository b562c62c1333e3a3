"""The remote command tests drive the real server of tests/service."""

from tests.service.conftest import client_for, parties, server  # noqa: F401
