"""Servers that share rooms through Redis (``trio-chat serve --redis URL``).

wire (sans-IO: events to stream fields and back), mirror (other servers'
members in this hub), registry (the Redis keys and scripts), redis (the
RedisBackplane: its connection, publisher, reader and heartbeat).
"""
