"""Flink jobs. `confidence_state` keeps per-source state; its logic is the pure `state_machine.step`."""
