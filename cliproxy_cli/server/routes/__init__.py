"""Inbound routes, one module per API family."""
