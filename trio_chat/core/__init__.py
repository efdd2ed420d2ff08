"""The chat core: members, names, rooms and rules. No bytes, no sockets, no wording."""
