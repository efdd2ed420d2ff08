"""The load generator's IRC clients: the same clients, speaking IRC (RFC 2812).

``python -m trio_chat.tools.loadgen --irc --port IRC_PORT`` drives the IRC door
with the epoll loop of :mod:`.loadgen`. Each client registers with ``NICK`` and
``USER`` and, at the ``001``, joins ``#lobby`` (IRC users start in no channel); it counts as
registered once the ``366`` (end of NAMES) of its JOIN arrives. Its lines go out
as ``PRIVMSG #lobby :m ...`` and come back to the others as
``:nick!user@host PRIVMSG #lobby :m ...``; the server's ``PING`` is answered.
Without ``echo-message`` a client does not hear its own messages, so the
expected deliveries are the same as for the text protocol.
"""

from __future__ import annotations

from trio_chat.tools.loadgen import Client, LoadGenerator

CHANNEL = b"#lobby"


class IrcLoadGenerator(LoadGenerator):
    """Every client an IRC user in ``#lobby`` on the IRC port."""

    mark, sync_end = b" :m ", b" :sync"

    def greet(self, client: Client) -> None:
        name = client.name
        self.send(client, b"NICK %s\r\nUSER %s 0 * :%s\r\n" % (name, name, name))

    def say(self, client: Client, line: bytes) -> None:
        self.send(client, b"PRIVMSG %s :%s\r\n" % (CHANNEL, line.rstrip(b"\n")))

    def is_welcome(self, line: bytes) -> bool:
        # ":server 366 nick #lobby :End of /NAMES list": in the channel, with its members.
        return line.startswith(b":") and b" 366 " in line

    def line(self, client: Client, line: bytes, now: int) -> None:
        line = line.removesuffix(b"\r")
        if line.startswith(b"PING "):
            self.send(client, b"PONG " + line[5:] + b"\r\n")
            return
        if not client.welcomed and line.startswith(b":") and b" 001 " in line:
            # Joined once registered: InspIRCd refuses a JOIN before its 001.
            self.send(client, b"JOIN %s\r\n" % CHANNEL)
        super().line(client, line, now)
