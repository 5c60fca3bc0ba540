"""Shared fixtures. Services start on 127.0.0.1 with free ports and stop when the session ends.

Fixture modules live in tests/fixtures/, one per service, registered here.
"""

pytest_plugins = ["tests.fixtures.storage", "tests.fixtures.graph", "tests.fixtures.store",
                  "tests.fixtures.pipeline", "tests.fixtures.api"]
