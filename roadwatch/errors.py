"""The few typed errors roadwatch raises. Poison input becomes a dead letter, never an exception loop."""


class RoadwatchError(Exception):
    """Root of every error roadwatch raises on purpose."""


class ConfigError(RoadwatchError):
    """A setting is missing or malformed."""


class StackError(RoadwatchError):
    """The local Kafka stack could not be resolved, started, reached or stopped."""


class AuthenticationError(ConfigError):
    """Kafka refused the client's credentials (a SASL login failed): a setting to fix, not a retry."""


class InvalidInputError(RoadwatchError):
    """An input (file, URI, record) is unusable; carries a short machine-readable reason."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class BackendError(RoadwatchError):
    """A model backend failed; `transient` says whether a retry may help."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class CircuitOpenError(RoadwatchError):
    """A call was refused because the tier's circuit breaker is open."""


class BulkheadFullError(RoadwatchError):
    """A call was refused because the tier already has its maximum calls in flight."""


class StuckError(RoadwatchError):
    """A Kafka client stopped making progress in a way only a fresh client mends: the service exits with
    `serving.STUCK_EXIT_CODE` for its supervisor to restart it."""


class TransactionStuckError(StuckError):
    """A Kafka transactional call outlived its timeout (librdkafka can block past it when the group
    coordinator went away); the service exits so that its supervisor starts a fresh producer."""


class ConsumerStuckError(StuckError):
    """A consumer stayed out of its group (revoked, never assigned again) past `rejoin_timeout_s`."""
