"""The on-call engineer's command line (``python -m rescue_ops``, ``rescue-ops``).

It talks to the five services over HTTP only (the health and ops endpoints)
and edits the network's stations file; it imports nothing of the services, so
it installs alone (httpx, PyYAML, pyjwt).
"""

from __future__ import annotations

SERVICES = ("intake", "search", "transfer", "referral", "followup")
DEFAULT_PORTS = dict(zip(SERVICES, range(8101, 8106), strict=True))
DEFAULT_URLS = {name: f"http://127.0.0.1:{port}" for name, port in DEFAULT_PORTS.items()}
