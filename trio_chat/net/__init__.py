"""Networking every stream frontend shares: listeners, TLS, connections."""
