"""The web door: the chat page over HTTP and its WebSocket (see PROTOCOL.md)."""
