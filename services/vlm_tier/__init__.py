"""VLM tiers fast → power → precision: escalation on low confidence, circuit breakers, failover downward."""
