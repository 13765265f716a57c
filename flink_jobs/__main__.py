"""`python -m flink_jobs` runs the confidence-state job (same as `roadwatch run flink`)."""

from flink_jobs.confidence_state import main

main()
