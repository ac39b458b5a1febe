"""`python -m rescue_divisions [--dir DIR] [--codes-only]`: fetch the gazetteer's
pinned sources and cache the administrative codes (what `make setup` runs)."""

from rescue_divisions.fetch import main

raise SystemExit(main())
