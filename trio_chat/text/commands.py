"""The text protocol's commands after the name step: each one service call, worded back.

A :class:`Commands` belongs to one session. It keeps what only the text
protocol has: the user's *current room* (plain lines go there; ``/join``
moves them) and the ``/history`` cursor of that room. Everything else is a
call on the :class:`~trio_chat.core.service.ChatService`; a refusal it
raises reaches the session, which words it as a ``! `` line.
"""

from __future__ import annotations

from trio_chat.core.clients import Arrival, Client
from trio_chat.core.events import Error, Notice, Past, Reason, departure
from trio_chat.core.hub import LOBBY
from trio_chat.core.service import ChatService
from trio_chat.core.store import Entry
from trio_chat.text.grammar import (
    Ban,
    Bans,
    Command,
    EchoSetting,
    Help,
    Invalid,
    Kick,
    Me,
    Mute,
    NewPassword,
    Nick,
    Oper,
    PrivateMessage,
    Register,
    Rooms,
    Say,
    Topic,
    Unban,
    Unregister,
    Who,
    help_lines,
)

# Rooms listed by /rooms.
ROOMS_LISTED = 100

REGISTERED = (
    "{name} is registered to you now: next time, send /login {name} PASSWORD instead of your name"
)

AccountCommand = Register | NewPassword | Unregister | Oper | Kick | Ban | Unban | Bans | Mute


class Commands:
    """One text user's commands.

    Args:
        service: where every request goes.
        client: the connection's standing with the service.
    """

    # Names listed on one line of /who; longer lists take several lines.
    NAMES_PER_LINE = 50

    __slots__ = ("_history_before", "client", "room", "service")

    def __init__(self, service: ChatService, client: Client) -> None:
        self.service = service
        self.client = client
        # The room plain lines go to (the text protocol has one current room).
        self.room = LOBBY
        # /history shows messages older than this id; None: the latest first.
        self._history_before: int | None = None

    def _tell(self, event: Notice | Error | Past) -> None:
        self.service.tell(self.client, event)

    def slow_down(self) -> str:
        flood = self.client.flood
        rate = flood.rate if flood is not None else 0
        return f"slow down: over {rate:g} lines a second; lines are delayed"

    # --- rooms and history --------------------------------------------------

    async def join(self, raw: str) -> None:
        """``/join ROOM``: move from the current room to another."""
        arrival = await self.service.enter(self.client, raw)
        if arrival.already:
            self._tell(Notice(f"You are already in {arrival.room.name}"))
            return
        # Nothing awaited since the room was entered: one step for the others too.
        self.service.part(self.client, self.room, f"went to {arrival.room.name}")
        self.show_room(arrival)

    def show_room(self, arrival: Arrival, *, announce: bool = True) -> None:
        """Tell the user where they are now, and replay the room's history."""
        room = arrival.room
        self.room = room.name
        self._history_before = None
        if announce:
            self._list_names(f"Now in {room.name}", self.service.members(room.name))
        if room.topic:
            self._tell(Notice(f"Topic of {room.name}: {room.topic}"))
        entries = arrival.entries
        if entries:
            self._replay(f"Last {_count(len(entries))} in {room.name}:", entries)

    async def older(self, count: int) -> None:
        """``/history [N]``: the latest messages first, then further back each time."""
        room, before = self.room, self._history_before
        entries = await self.service.read_history(room, count, before=before, client=self.client)
        if room != self.room:
            return  # moved on meanwhile
        if not entries:
            self._tell(Notice(f"No older messages in {room}"))
            return
        self._history_before = entries[0].seq
        if before is None:
            self._replay(f"Last {_count(len(entries))} in {room}:", entries)
        else:
            self._replay(f"{_count(len(entries))} before, in {room}:", entries)

    def _replay(self, title: str, entries: list[Entry]) -> None:
        # Queued in one step: the service keeps a replay far below the outbox's bound.
        self._tell(Notice(title))
        for entry in entries:
            self._tell(Past(entry.event))
        self._tell(Notice("End of history"))

    def _list_names(self, title: str, names: list[str]) -> None:
        """``*** TITLE (N): a, b, c`` on one line, or over several for a crowd."""
        if len(names) <= self.NAMES_PER_LINE:
            self._tell(Notice(f"{title} ({len(names)}): {', '.join(names)}"))
            return
        self._tell(Notice(f"{title} ({len(names)}):"))
        for start in range(0, len(names), self.NAMES_PER_LINE):
            self._tell(Notice("  " + ", ".join(names[start : start + self.NAMES_PER_LINE])))

    # --- everything else ------------------------------------------------------

    def handle(self, command: Command) -> None:
        """A command that needs no waiting (the session handles the others)."""
        service, client = self.service, self.client
        match command:
            case Say(text):
                service.say(client, self.room, text)
            case Me(text):
                service.act(client, self.room, text)
            case PrivateMessage(target, text):
                service.private(client, target, text)
            case Nick(new):
                service.rename(client, new)
            case Who(everyone=True):
                self._list_names("Online", service.members(client=client))
            case Who():
                self._list_names(f"In {self.room}", service.members(self.room, client=client))
            case Rooms():
                self._list_rooms()
            case Topic(None):
                topic = service.topic(self.room)
                self._tell(
                    Notice(
                        f"Topic of {self.room}: {topic}" if topic else f"No topic in {self.room}"
                    )
                )
            case Topic(str(topic)):
                service.set_topic(client, self.room, topic)
            case EchoSetting(on):
                service.set_echo(client, on)
                self._tell(Notice(f"echo {'on' if on else 'off'}"))
            case Help():
                for line in help_lines(operator=client.named().operator):
                    self._tell(Notice(line))
            case Invalid(reason):
                self._tell(Error(reason))
            case _:  # Quit, Join, HistoryRequest and account commands: the session
                raise AssertionError(command)

    def _list_rooms(self) -> None:
        rooms = self.service.rooms(client=self.client)
        self._tell(Notice(f"Rooms ({len(rooms)}):"))
        for room in rooms[:ROOMS_LISTED]:
            about = f": {room.topic}" if room.topic else ""
            self._tell(Notice(f"  {room.name} ({len(room.members)}){about}"))
        if len(rooms) > ROOMS_LISTED:
            self._tell(Notice(f"  ... and {len(rooms) - ROOMS_LISTED} more"))

    async def moderate(self, command: AccountCommand) -> None:
        """An account or operator command, through the service's moderation."""
        moderation, client = self.service.moderation, self.client
        name = client.named().name
        match command:
            case Register(password):
                await moderation.register(client, password)
                self._tell(Notice(REGISTERED.format(name=name)))
            case NewPassword(password):
                await moderation.change_password(client, password)
                self._tell(Notice(f"the password of {name} is changed"))
            case Unregister():
                await moderation.unregister(client)
                self._tell(Notice(f"{name} is not registered any more"))
            case Oper(password):
                if moderation.oper(client, password):
                    self._tell(Notice("You are an operator now: /help lists your commands"))
                else:
                    self._tell(Notice("You are an operator already"))
            case Kick(target, reason):
                kicked = moderation.kick(client, target, reason)
                if not kicked.seen:
                    why = departure(Reason.KICKED, reason.strip(), name)
                    self._tell(Notice(f"{kicked.name} was {why}"))
            case Ban(target, seconds):
                await moderation.ban(client, target, seconds)
            case Unban(target):
                await moderation.unban(client, target)
            case Bans():
                self._list_bans()
            case Mute(target, on):
                outcome = moderation.mute(client, target, on)
                if not outcome.changed:
                    state = "muted" if on else "not muted"
                    self._tell(Notice(f"{outcome.name} is {state}"))

    def _list_bans(self) -> None:
        bans = self.service.moderation.bans(self.client)
        if not bans:
            self._tell(Notice("No bans"))
            return
        self._tell(Notice(f"Bans ({len(bans)}):"))
        for entry in bans:
            self._tell(Notice(f"  {entry.shown} ({entry.kind}) {entry.term()}, by {entry.by}"))


def _count(n: int) -> str:
    return "1 message" if n == 1 else f"{n} messages"
