#!/usr/bin/env python3
# ws_client.py URL [options] -- a WebSocket client for the console tests
# (RFC 6455 by hand, as a browser speaks it: masked frames), so that
# each rule of the handshake and the framing can be broken on purpose.
#   --cookie SECRET   the session cookie (pipol_session)
#   --token TOKEN     a bearer token instead
#   --origin ORIGIN   an Origin header ("-": none)
#   --version V       Sec-WebSocket-Version (13)
#   --key KEY         Sec-WebSocket-Key (a random one)
#   --send TEXT       a binary frame of TEXT (\r for CR), after the
#                     handshake; repeatable, in order
#   --ping TEXT       a ping with TEXT
#   --unmasked TEXT   a frame of TEXT without a mask (a protocol error)
#   --seconds N       how long to read (2)
# stderr, one line each: "status NNN", "accept ok|bad" on a 101, then
# "pong TEXT" and "close CODE" as they come; stdout: the data frames'
# payload. Exit 0 when the handshake answered 101.
import base64, hashlib, os, socket, struct, sys, time, urllib.parse

args = sys.argv[1:]
url = urllib.parse.urlsplit(args.pop(0))
opt = {"origin": f"http://{url.netloc}", "version": "13",
       "key": base64.b64encode(os.urandom(16)).decode(), "seconds": "2"}
frames = []
while args:
    a = args.pop(0)[2:]
    v = args.pop(0)
    if a in ("send", "ping", "unmasked"):
        frames.append((a, v.replace("\\r", "\r").encode()))
    else:
        opt[a] = v

def frame(op, data, mask=True):
    h = bytes([0x80 | op])
    n = len(data)
    m = 0x80 if mask else 0
    if n < 126:
        h += bytes([m | n])
    elif n < 65536:
        h += bytes([m | 126]) + struct.pack(">H", n)
    else:
        h += bytes([m | 127]) + struct.pack(">Q", n)
    if not mask:
        return h + data
    k = os.urandom(4)
    return h + k + bytes(b ^ k[i & 3] for i, b in enumerate(data))

s = socket.create_connection((url.hostname, url.port or 80), timeout=5)
req = [f"GET {url.path} HTTP/1.1", f"Host: {url.netloc}", "Upgrade: websocket",
       "Connection: Upgrade", f"Sec-WebSocket-Key: {opt['key']}",
       f"Sec-WebSocket-Version: {opt['version']}"]
if opt["origin"] != "-":
    req.append(f"Origin: {opt['origin']}")
if "cookie" in opt:
    req.append(f"Cookie: pipol_session={opt['cookie']}")
if "token" in opt:
    req.append(f"Authorization: Bearer {opt['token']}")
s.sendall(("\r\n".join(req) + "\r\n\r\n").encode())
buf = b""
while b"\r\n\r\n" not in buf:
    b = s.recv(4096)
    if not b:
        break
    buf += b
head, _, rest = buf.partition(b"\r\n\r\n")
lines = head.decode(errors="replace").split("\r\n")
status = lines[0].split()[1] if len(lines[0].split()) > 1 else "none"
print("status", status, file=sys.stderr)
if status != "101":
    s.settimeout(1)
    try:
        rest += s.recv(4096)
    except OSError:
        pass
    print(rest.decode(errors="replace"), file=sys.stderr)
    sys.exit(1)
hdrs = {l.split(":", 1)[0].lower(): l.split(":", 1)[1].strip() for l in lines[1:] if ":" in l}
want = base64.b64encode(hashlib.sha1((opt["key"] + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
print("accept", "ok" if hdrs.get("sec-websocket-accept") == want else "bad", file=sys.stderr)
for kind, data in frames:
    if kind == "send":
        s.sendall(frame(0x2, data))
    elif kind == "ping":
        s.sendall(frame(0x9, data))
    else:
        s.sendall(frame(0x2, data, mask=False))
    time.sleep(0.2)
end = time.time() + float(opt["seconds"])
s.settimeout(0.2)
while time.time() < end:
    try:
        b = s.recv(65536)
    except socket.timeout:
        continue
    except OSError:
        break
    if not b:
        break
    rest += b
    while len(rest) >= 2:	# server frames: unmasked
        op, n, h = rest[0] & 0x0f, rest[1] & 0x7f, 2
        if n == 126:
            if len(rest) < 4: break
            n, h = struct.unpack(">H", rest[2:4])[0], 4
        elif n == 127:
            if len(rest) < 10: break
            n, h = struct.unpack(">Q", rest[2:10])[0], 10
        if len(rest) < h + n:
            break
        data, rest = rest[h:h + n], rest[h + n:]
        if op in (1, 2, 0):
            sys.stdout.buffer.write(data)
            sys.stdout.flush()
        elif op == 0xa:
            print("pong", data.decode(errors="replace"), file=sys.stderr)
        elif op == 0x8:
            print("close", struct.unpack(">H", data[:2])[0] if len(data) >= 2 else "-", file=sys.stderr)
sys.exit(0)
