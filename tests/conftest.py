"""Shared fixtures. Services start on 127.0.0.1 with free ports and stop when the session ends.

Fixture modules live in tests/fixtures/, one per service, registered here.
"""

from hypothesis import HealthCheck, settings

# Property tests hold on any machine: no per-example deadline (Hypothesis's default is 200 ms)
# and no "generation too slow" health check, both of which fail on two busy cores.
settings.register_profile("any-machine", deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("any-machine")

pytest_plugins = ["tests.fixtures.storage", "tests.fixtures.graph", "tests.fixtures.store",
                  "tests.fixtures.pipeline", "tests.fixtures.api"]


def pytest_configure(config: object) -> None:
    """A SIGTERM (a CI timeout, a killed make) unwinds like Ctrl-C, so the session's fixtures
    still stop Azurite, the Graph emulator and the browser they started."""
    import signal

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
