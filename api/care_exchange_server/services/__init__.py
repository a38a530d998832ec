"""The rules of the exchange, with no HTTP: callers own the transaction, services only flush."""
