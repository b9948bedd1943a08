#!/usr/bin/env python3
# lossy_proxy.py -- an HTTP forwarder for the tests that loses the answer
# of the first request to one path: the request reaches the server and
# takes effect there, then the client's connection is closed without a
# reply (a lost answer, as a cut network leaves it).
#   lossy_proxy.py PORT UPSTREAM PATH LOG
# Listens on 127.0.0.1:PORT, forwards to UPSTREAM (http://HOST:PORT);
# each request is a line in LOG ("drop" for the lost one).
import http.client
import http.server
import sys
import threading
import urllib.parse

port, upstream, lose, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
up = urllib.parse.urlsplit(upstream)
lock = threading.Lock()
lost = [False]


class Forward(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def relay(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        hdr = {k: v for k, v in self.headers.items()
               if k.lower() in ("authorization", "content-type")}
        c = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        c.request(self.command, self.path, body=body, headers=hdr)
        r = c.getresponse()
        data = r.read()
        with lock:
            drop = self.path.split("?")[0] == lose and not lost[0]
            lost[0] = lost[0] or drop
            with open(log, "a") as f:
                f.write("%s %s %s %d\n" % ("drop" if drop else "pass",
                                           self.command, self.path, r.status))
        if drop:
            self.close_connection = True
            self.connection.close()
            return
        self.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() in ("content-type",):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = relay


http.server.ThreadingHTTPServer(("127.0.0.1", port), Forward).serve_forever()
