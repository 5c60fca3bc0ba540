"""Shared fixtures. Services start on 127.0.0.1 with free ports and stop when the session ends.

Fixture modules live in tests/fixtures/, one per service, registered here.
"""

pytest_plugins = ["tests.fixtures.storage", "tests.fixtures.graph", "tests.fixtures.store",
                  "tests.fixtures.pipeline", "tests.fixtures.api"]


def pytest_configure(config: object) -> None:
    """A SIGTERM (a CI timeout, a killed make) unwinds like Ctrl-C, so the session's fixtures
    still stop Azurite, the Graph emulator and the browser they started."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
