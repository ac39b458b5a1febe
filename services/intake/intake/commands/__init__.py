"""Intake's use cases: what a route or a consumer asks, run on a unit of work."""
