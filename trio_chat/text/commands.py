"""The text protocol's commands after the name step: each one service call, worded back.

A :class:`Commands` belongs to one session. It keeps what only the text
protocol has: the user's *current room* (plain lines go there; ``/join``
moves them) and the ``/history`` cursor of that room. Everything else is a
call on the :class:`~trio_chat.core.service.ChatService`; a refusal it
raises reaches the session, which words it as a ``! `` line.
"""

from __future__ import annotations

from trio_chat.core.clients import Arrival, Client
from trio_chat.core.events import Error, Notice, Past
from trio_chat.core.hub import LOBBY
from trio_chat.core.phrases import Phrase
from trio_chat.core.service import ChatService
from trio_chat.core.store import Entry
from trio_chat.i18n import N_, Words
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
from trio_chat.text.wording import ENGLISH, ban_term, language_words, languages_line

# Rooms listed by /rooms.
ROOMS_LISTED = 100

REGISTERED = N_(
    "{name} is registered to you now: next time, send /login {name} PASSWORD instead of your name"
)

AccountCommand = Register | NewPassword | Unregister | Oper | Kick | Ban | Unban | Bans | Mute


class Commands:
    """One text user's commands.

    Args:
        service: where every request goes.
        client: the connection's standing with the service.
        words: the user's language (``words``, which the session may change).
    """

    # Names listed on one line of /who; longer lists take several lines.
    NAMES_PER_LINE = 50

    __slots__ = ("_history_before", "client", "room", "service", "words")

    def __init__(self, service: ChatService, client: Client, words: Words = ENGLISH) -> None:
        self.service = service
        self.client = client
        self.words = words
        # The room plain lines go to (the text protocol has one current room).
        self.room = LOBBY
        # /history shows messages older than this id; None: the latest first.
        self._history_before: int | None = None

    def _tell(self, event: Notice | Error | Past) -> None:
        self.service.tell(self.client, event)

    def slow_down(self) -> str:
        flood = self.client.flood
        rate = flood.rate if flood is not None else 0
        _, shown = self.words, f"{rate:g}"
        return _("slow down: over {rate} lines a second; lines are delayed", rate=shown)

    def lang(self, tag: str) -> Words | None:
        """``/lang [LANG]``: list the languages, or speak another from now on.

        Returns the new words (the caller gives the member the encoder of that
        language), or None when nothing changed."""
        if not tag:
            self._tell(Notice(languages_line(self.words)))
            return None
        words, said = language_words(self.words, tag)
        if words is None:
            self._tell(Error(said))
            return None
        self.words = words
        self._tell(Notice(said))
        return words

    async def nick(self, new: str) -> None:
        """``/nick NAME``: waits while other servers are asked (this session only)."""
        await self.service.rename(self.client, new)

    # --- rooms and history --------------------------------------------------

    async def join(self, raw: str) -> None:
        """``/join ROOM``: move from the current room to another."""
        arrival = await self.service.enter(self.client, raw)
        _ = self.words
        if arrival.already:
            self._tell(Notice(_("You are already in {room}", room=arrival.room.name)))
            return
        # Nothing awaited since the room was entered: one step for the others too
        # (each of them reads it in their own language).
        went = Phrase(N_("went to {room}"), room=arrival.room.name)
        self.service.part(self.client, self.room, went)
        self.show_room(arrival)

    def show_room(self, arrival: Arrival, *, announce: bool = True) -> None:
        """Tell the user where they are now, and replay the room's history."""
        room, _ = arrival.room, self.words
        self.room = room.name
        self._history_before = None
        if announce:
            self._list_names(_("Now in {room}", room=room.name), self.service.members(room.name))
        if room.topic:
            self._tell(Notice(_("Topic of {room}: {topic}", room=room.name, topic=room.topic)))
        entries = arrival.entries
        if entries:
            self._replay(self._last(len(entries), room.name), entries)

    async def older(self, count: int) -> None:
        """``/history [N]``: the latest messages first, then further back each time."""
        room, before = self.room, self._history_before
        entries = await self.service.read_history(room, count, before=before, client=self.client)
        if room != self.room:
            return  # moved on meanwhile
        _ = self.words
        if not entries:
            self._tell(Notice(_("No older messages in {room}", room=room)))
            return
        self._history_before = entries[0].seq
        if before is None:
            self._replay(self._last(len(entries), room), entries)
        else:
            title = _.ngettext(
                "{n} message before, in {room}:",
                "{n} messages before, in {room}:",
                len(entries),
                room=room,
            )
            self._replay(title, entries)

    def _last(self, n: int, room: str) -> str:
        return self.words.ngettext(
            "Last {n} message in {room}:", "Last {n} messages in {room}:", n, room=room
        )

    def _replay(self, title: str, entries: list[Entry]) -> None:
        # Queued in one step: the service keeps a replay far below the outbox's bound.
        self._tell(Notice(title))
        for entry in entries:
            self._tell(Past(entry.event))
        _ = self.words
        self._tell(Notice(_("End of history")))

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
        service, client, _ = self.service, self.client, self.words
        match command:
            case Say(text):
                service.say(client, self.room, text)
            case Me(text):
                service.act(client, self.room, text)
            case PrivateMessage(target, text):
                service.private(client, target, text)
            case Who(everyone=True):
                self._list_names(_("Online"), service.members(client=client))
            case Who():
                names = service.members(self.room, client=client)
                self._list_names(_("In {room}", room=self.room), names)
            case Rooms():
                self._list_rooms()
            case Topic(None):
                topic = service.topic(self.room)
                if topic:
                    self._tell(Notice(_("Topic of {room}: {topic}", room=self.room, topic=topic)))
                else:
                    self._tell(Notice(_("No topic in {room}", room=self.room)))
            case Topic(str(topic)):
                service.set_topic(client, self.room, topic)
            case EchoSetting(on):
                service.set_echo(client, on)
                self._tell(Notice(_("echo on") if on else _("echo off")))
            case Help():
                for line in help_lines(_, operator=client.named().operator):
                    self._tell(Notice(line))
            case Invalid(reason):
                self._tell(Error(reason))
            case _:  # Quit, Join, Nick, HistoryRequest and account commands: the session
                raise AssertionError(command)

    def _list_rooms(self) -> None:
        rooms, _ = self.service.rooms(client=self.client), self.words
        self._tell(Notice(_("Rooms ({n}):", n=len(rooms))))
        for room in rooms[:ROOMS_LISTED]:
            about = f": {room.topic}" if room.topic else ""
            self._tell(Notice(f"  {room.name} ({len(room.members)}){about}"))
        if len(rooms) > ROOMS_LISTED:
            self._tell(Notice("  " + _("... and {n} more", n=len(rooms) - ROOMS_LISTED)))

    async def moderate(self, command: AccountCommand) -> None:
        """An account or operator command, through the service's moderation."""
        moderation, client, _ = self.service.moderation, self.client, self.words
        name = client.named().name
        match command:
            case Register(password):
                await moderation.register(client, password)
                self._tell(Notice(_(REGISTERED, name=name)))
            case NewPassword(password):
                await moderation.change_password(client, password)
                self._tell(Notice(_("the password of {name} is changed", name=name)))
            case Unregister():
                await moderation.unregister(client)
                self._tell(Notice(_("{name} is not registered any more", name=name)))
            case Oper(password):
                if moderation.oper(client, password):
                    self._tell(Notice(_("You are an operator now: /help lists your commands")))
                else:
                    self._tell(Notice(_("You are an operator already")))
            case Kick(target, reason):
                kicked = moderation.kick(client, target, reason)
                if not kicked.seen:
                    self._tell(Notice(_kicked(_, kicked.name, name, reason.strip())))
            case Ban(target, seconds):
                await moderation.ban(client, target, seconds)
            case Unban(target):
                await moderation.unban(client, target)
            case Bans():
                self._list_bans()
            case Mute(target, on):
                outcome = moderation.mute(client, target, on)
                if not outcome.changed:
                    state = N_("{name} is muted") if on else N_("{name} is not muted")
                    self._tell(Notice(_(state, name=outcome.name)))

    def _list_bans(self) -> None:
        bans, _ = self.service.moderation.bans(self.client), self.words
        if not bans:
            self._tell(Notice(_("No bans")))
            return
        self._tell(Notice(_("Bans ({n}):", n=len(bans))))
        kinds = {"name": _("name"), "address": _("address")}
        for entry in bans:
            term = ban_term(_, entry.stamp())
            line = _(
                "{target} ({kind}) {term}, by {by}",
                target=entry.shown,
                kind=kinds.get(entry.kind, entry.kind),
                term=term,
                by=entry.by,
            )
            self._tell(Notice("  " + line))


def _kicked(_: Words, name: str, by: str, reason: str) -> str:
    if reason:
        return _("{name} was kicked by {by}: {reason}", name=name, by=by, reason=reason)
    return _("{name} was kicked by {by}", name=name, by=by)
