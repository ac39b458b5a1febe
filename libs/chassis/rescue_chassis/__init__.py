"""The shared chassis of the five services (the eShop "ServiceDefaults" idea):
app factory, settings, database, auth, problems, telemetry, health and ops."""
