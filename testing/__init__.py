"""Test doubles and their fixtures, for the test suite and bench scripts only.

Not a Django app and not in ``INSTALLED_APPS``; production code never imports it
(``core/tests/test_layout.py`` checks). ``http_server`` is the local HTTP server
they share; ``icp_server`` answers like an IC replica, ``exchange_server`` like
Coinbase, Kraken, Binance and CoinGecko (answers built from ``fixtures/exchanges``).
"""
