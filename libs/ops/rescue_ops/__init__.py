"""The on-call engineer's command line (``python -m rescue_ops``, ``rescue-ops``).

It talks to the six services over HTTP only (the health and ops endpoints)
and edits the network's stations file; it imports nothing of the services, so
it installs alone (httpx, PyYAML, pyjwt).
"""

from __future__ import annotations

# A copy (this package installs alone): tests/unit/test_service_lists.py keeps it equal.
SERVICES = ("intake", "search", "transfer", "referral", "followup", "summary")
DEFAULT_PORTS = dict(zip(SERVICES, range(8101, 8107), strict=True))
DEFAULT_URLS = {name: f"http://127.0.0.1:{port}" for name, port in DEFAULT_PORTS.items()}
