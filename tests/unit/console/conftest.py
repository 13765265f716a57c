from tests.console_tables import client, filled

__all__ = ["client", "filled"]
