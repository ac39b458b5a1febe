"""`python -m search.gazetteer [--dir DIR]`: fetch the gazetteer's pinned sources
(the same as `python -m rescue_divisions`, which `make setup` runs)."""

from rescue_divisions.fetch import main

raise SystemExit(main())
