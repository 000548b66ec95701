#!/usr/bin/env python3
"""Round-trip time of one byte over loopback TCP between two processes.

Measures what a 1-client pgbench transaction costs before any database work: the client
sends, the server wakes, answers, the client wakes. Run it plain (the server blocks in
recv) and with `spin` (the server polls without sleeping) to see how much of the round trip
is the wake-up of a sleeping CPU:

    python3 scripts/loopback-pingpong.py          # both sides block
    python3 scripts/loopback-pingpong.py spin     # the answering side never sleeps
"""
import os
import socket
import sys
import time

ROUND_TRIPS = 20_000


def main() -> None:
    spin = len(sys.argv) > 1 and sys.argv[1] == "spin"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    port = listener.getsockname()[1]
    if os.fork() == 0:
        client = socket.create_connection(("127.0.0.1", port))
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        start = time.perf_counter()
        for _ in range(ROUND_TRIPS):
            client.sendall(b"x")
            client.recv(1)
        elapsed = time.perf_counter() - start
        mode = "spinning" if spin else "blocking"
        print(f"{elapsed / ROUND_TRIPS * 1e6:.1f} µs per round trip ({mode} server)")
        os._exit(0)
    server, _ = listener.accept()
    server.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    server.setblocking(not spin)
    while True:
        try:
            data = server.recv(1)
        except BlockingIOError:
            continue
        if not data:
            break
        server.sendall(data)
    os.wait()


if __name__ == "__main__":
    main()
