"""The ops tests drive real swaps on two anvil chains with the swaps app's own fixtures."""

from swaps.tests.conftest import api, chains_ab, swap_env  # noqa: F401 (fixtures)
