"""Fixtures that start real things, shared by every test package."""

pytest_plugins = [
    "tests.fixtures.servers",
    "tests.fixtures.postgres",
    "tests.fixtures.cluster",
    "tests.fixtures.helm",
    "tests.fixtures.registry",
    "tests.fixtures.tls_servers",
    "tests.fixtures.kubectl",
    "tests.fixtures.dashboard",
    "tests.fixtures.actionlint",
    "tests.fixtures.otlp",
    "tests.fixtures.temporal",
]
