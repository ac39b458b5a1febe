"""The station console: pages over the five services' public APIs, signed in as the user."""
