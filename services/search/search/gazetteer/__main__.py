"""`python -m search.gazetteer [--dir DIR]`: fetch the gazetteer's pinned sources
(what `make setup` runs)."""

from search.gazetteer.fetch import main

raise SystemExit(main())
