"""Transfer's use cases: what its routes and consumers do."""
