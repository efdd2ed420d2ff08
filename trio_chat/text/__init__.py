"""The line protocol frontend: a sans-IO codec and the session on top of it."""
