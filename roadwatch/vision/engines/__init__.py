"""Model engines behind one interface; converters to the canonical `Detection` live with each engine."""
