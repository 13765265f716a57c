"""Kafka plumbing shared by every service: topic names, admin helpers, producer/consumer builders."""
