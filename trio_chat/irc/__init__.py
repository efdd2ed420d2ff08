"""The IRC door: RFC 1459/2812 and IRCv3 clients in the same rooms as everyone else."""
