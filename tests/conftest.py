"""Shared fixture modules, registered here (the top-level conftest) so every suite can use them."""

pytest_plugins = ["tests.integration.service_fixtures", "tests.e2e.browser"]
