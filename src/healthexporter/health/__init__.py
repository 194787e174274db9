"""Health maths: pure functions over the domain model. No clock, network or logging here —
``now`` is always a parameter — so every number is tested with literal data."""
