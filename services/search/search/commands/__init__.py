"""Search's use cases: what its routes and consumers ask of it, one function each."""
