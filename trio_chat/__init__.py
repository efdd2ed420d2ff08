"""trio_chat: a multi-user chat server and terminal client on Trio."""

__version__ = "0.1.0"

# The teaching chat's port, kept: where the server listens and the client connects.
DEFAULT_PORT = 5000
# The web page's port (trio-chat serve --web-port).
DEFAULT_WEB_PORT = 8080
