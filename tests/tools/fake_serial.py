#!/usr/bin/env python3
# fake_serial.py PATH|tcp:PORT -- a node's serial line for the console
# tests, as QEMU's "-chardev socket,server=on" offers it: a Unix socket
# at PATH (or a TCP port on 127.0.0.1, as ipmi_sim's SOL "tcp:" device
# connects to it), one client at a time. To each client it says "fake-node login: ", then
# echoes every byte it gets (a terminal's echo), a CR as CR LF; a line
# "boot" makes it say "fake-node: booting" (a node talking on its own),
# a line "flood" 5 MiB of "x".
import os, socket, sys

path = sys.argv[1]
if path.startswith("tcp:"):
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", int(path[4:])))
else:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
srv.listen(1)
while True:
    c, _ = srv.accept()
    c.sendall(b"fake-node login: ")
    line = b""
    while True:
        b = c.recv(4096)
        if not b:
            break
        out = b.replace(b"\r", b"\r\n")
        c.sendall(out)
        line += b.replace(b"\n", b"\r")
        while b"\r" in line:
            one, line = line.split(b"\r", 1)
            if one.strip() == b"boot":
                c.sendall(b"fake-node: booting\r\n")
            if one.strip() == b"flood":     # a boot loop's worth
                c.sendall(b"x" * (5 << 20))
    c.close()
