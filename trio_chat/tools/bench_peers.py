"""The C IRC servers ``trio-chat bench --peer`` starts beside trio_chat, from their configs.

ngIRCd and InspIRCd (Debian's packages, if installed) get a configuration of
their own in the scenario's temporary directory: loopback only, no per-address
or connection limits, no flood penalties (``MaxPenaltyTime = 0``;
``fakelag="no"``), no DNS or ident lookups, big send queues, so that they are
measured on the same load as trio_chat's IRC door (the ``-irc`` scenarios).
"""

from __future__ import annotations

import shutil

from trio_chat.tools.bench_servers import Target

NGIRCD_CONF = """\
[Global]
Name = bench.local
Info = trio-chat bench
Listen = 127.0.0.1
Ports = {ircport}
[Limits]
MaxConnections = 0
MaxConnectionsIP = 0
MaxJoins = 0
MaxNickLength = 16
MaxPenaltyTime = 0
PingTimeout = 600
PongTimeout = 600
[Options]
DNS = no
Ident = no
PAM = no
"""

INSPIRCD_CONF = """\
<server name="bench.local" description="trio-chat bench" network="bench">
<admin name="bench" nick="bench" email="bench@localhost">
<bind address="127.0.0.1" port="{ircport}" type="clients">
<connect allow="*" timeout="60" pingfreq="600" hardsendq="16777216" softsendq="1048576"
         recvq="65536" localmax="100000" globalmax="100000" threshold="1000000"
         commandrate="100000000" fakelag="no" resolvehostnames="no" useident="no"
         maxconnwarn="no" limit="1000000">
<channels users="100000" opers="100000">
<limits maxnick="30">
<performance softlimit="30000" somaxconn="4096">
<dns server="127.0.0.1" timeout="1">
<log method="file" type="* -USERINPUT -USEROUTPUT" level="none" target="{tmp}/inspircd.log">
<security hideserver="" userstats="Pu" flatlinks="no" hidesplits="no" maxtargets="20">
"""

PEERS = {
    "ngircd": (["ngircd", "--nodaemon", "--config", "{tmp}/peer.conf"], NGIRCD_CONF),
    "inspircd": (
        ["inspircd", "--nofork", "--nopid", "--runasroot", "--config", "{tmp}/peer.conf"],
        INSPIRCD_CONF,
    ),
}


def peer_target(name: str) -> Target:
    """``ngircd`` or ``inspircd``, started per scenario on its IRC port."""
    command, conf = PEERS[name]
    if shutil.which(command[0]) is None and shutil.which(command[0], path="/usr/sbin") is None:
        raise SystemExit(f"--peer {name}: {command[0]} is not installed")
    program = shutil.which(command[0]) or shutil.which(command[0], path="/usr/sbin") or command[0]
    return Target(name, [program, *command[1:]], files={"peer.conf": conf}, irc_only=True)
