import pytest

from testing.support import clear_run_cache


@pytest.fixture(autouse=True)
def _empty_run_cache():
    """Oracle prices and throttle counters live in the run's cache: no test sees another's."""
    clear_run_cache()
    yield
    clear_run_cache()
