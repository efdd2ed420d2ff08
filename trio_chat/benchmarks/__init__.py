"""What ``trio-chat bench`` runs beside the server, shipped inside the package.

- ``loadgen.c``: the C load generator (one epoll loop for the receivers, a
  thread that sends on schedule); ``trio-chat bench`` compiles it into the
  user's cache directory when a C compiler exists (:func:`trio_chat.tools.bench_servers.c_loadgen`).
- ``threaded_original.py``: the teaching chat trio_chat grew out of, the
  benchmark's baseline (run as ``python -m trio_chat.benchmarks.threaded_original PORT``).

They are package data, found with :mod:`importlib.resources`, so an installed
wheel benchmarks exactly as a checkout does.
"""
