"""Ports for the servers started here: never from the kernel's ephemeral range, which
outgoing connections take their local ports from, and never handed out twice."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from bot import server
from bot.server import free_port


def test_ports_are_below_the_ephemeral_range_and_distinct() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(10000 <= port < low for port in ports)


def test_a_port_someone_listens_on_is_not_handed_out(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        busy = taken.getsockname()[1]
        monkeypatch.setattr(server, "_handed_out", set())
        monkeypatch.setattr(server, "_listening_ports", lambda: range(busy, busy + 1))
        with pytest.raises(server.ServerError, match="no free TCP port"):
            free_port()
