#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The secure-console example end to end over 127.0.0.1, printing TAP: both ends,
credentials from examples/secure-console-certs.sh (certtool), the console a command or
a UNIX socket, with and without a websocket, and the refusals.

usage: secure-console-test.py SECURE-CONSOLE CERTS-SCRIPT
"""

import os
import re
import select
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

from interop_tap import check, finish, run_cases

TIMEOUT = 30  # seconds for any one program
USER_DN = "C=GB,O=qio demo,CN=console-user"
LINE = b"hello from the other side\n"
# A TLS handshake record header announcing 512 bytes, then the first 4 of them: a
# ClientHello that never completes.
STALLED_HELLO = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc"


class Server:
    """secure-console server with ARGS, on an ephemeral port."""

    def __init__(self, console, creds, args):
        self.proc = subprocess.Popen(
            [console, "server", "--listen", "127.0.0.1:0", "--creds", creds, *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        check(line.startswith("listening on 127.0.0.1:"), "server did not listen: %r" % line)
        self.address = line.split()[2]
        self.logged = b""

    def wait_log(self, text):
        """Reads the log until TEXT appears in it (at most TIMEOUT seconds)."""
        deadline = time.monotonic() + TIMEOUT
        fd = self.proc.stderr.fileno()
        while text.encode() not in self.logged:
            left = deadline - time.monotonic()
            check(left > 0 and select.select([fd], [], [], left)[0],
                  "server did not log %r: %r" % (text, self.logged))
            data = os.read(fd, 65536)
            check(data, "server ended without logging %r: %r" % (text, self.logged))
            self.logged += data

    def log(self):
        """What it logged, once it ended (killed after TIMEOUT)."""
        return (self.logged + finish(self.proc, TIMEOUT)[1]).decode(errors="replace")

    def stop(self):
        """SIGTERM, as a service manager stops it; then what it logged."""
        self.proc.send_signal(signal.SIGTERM)
        return self.log()


def connect(address):
    """A bare TCP connection to ADDRESS (HOST:PORT), reads bounded by TIMEOUT."""
    host, port = address.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)), timeout=TIMEOUT)
    sock.settimeout(TIMEOUT)
    return sock


def ended(sock):
    """Whether the server ended SOCK's connection (it reads end-of-file or a reset)."""
    try:
        return sock.recv(1) == b""
    except ConnectionResetError:
        return True


class Case:
    def __init__(self, console, pki):
        self.console, self.pki = console, pki

    def server(self, *args, once=True):
        """A server with ARGS, which exits after its first session if ONCE."""
        args = ["--once", *args] if once else list(args)
        return Server(self.console, os.path.join(self.pki, "server"), args)

    def client(self, server, creds, *args, stdin=b""):
        """A client's (exit status, stdout, stderr)."""
        proc = subprocess.run(
            [self.console, "client", "--connect", server.address, "--hostname", "localhost",
             "--creds", os.path.join(self.pki, creds), *args],
            input=stdin, capture_output=True, timeout=TIMEOUT)
        return proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")

    def echo(self, websock):
        """A line through `cat` comes back; each end names what was agreed."""
        ws = ["--websock"] if websock else []
        server = self.server(*ws, "--allow", USER_DN, "--", "cat")
        status, out, err = self.client(server, "client", *ws, stdin=LINE)
        log = server.log()
        check(status == 0 and out == LINE, "client: %d %r %s" % (status, out, err))
        suffix = ", websocket protocol binary" if websock else ""
        check("TLS1.3 AES-256-GCM, client %s%s\n" % (USER_DN, suffix) in log, "server log: " + log)
        check("TLS1.3 AES-256-GCM, server O=qio demo,CN=localhost%s\n" % suffix in err, "client: " + err)
        check(log.endswith("session ended\n") and server.proc.returncode == 0, "server: " + log)

    def half_close(self):
        """The end of the client's input reaches the console, whose last output still
        comes back: a shell runs the script it was sent, then exits."""
        server = self.server("--websock", "--", "sh")
        status, out, err = self.client(server, "client", "--websock",
                                       stdin=b"echo one\nsleep 0.2\necho two\n")
        server.log()
        check(status == 0 and out == b"one\ntwo\n", "client: %d %r %s" % (status, out, err))

    def unix_socket(self):
        """The console is a UNIX socket (a guest's serial port, say): here an echo."""
        path = os.path.join(self.pki, "serial.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(path)
        listener.listen(1)
        listener.settimeout(TIMEOUT)

        def serve():
            conn, _ = listener.accept()
            with conn:
                while data := conn.recv(65536):
                    conn.sendall(data)

        thread = threading.Thread(target=serve)
        thread.start()
        try:
            server = self.server("--unix", path)
            status, out, err = self.client(server, "client", stdin=LINE * 1000)
            server.log()
            check(status == 0 and out == LINE * 1000, "client: %d %d bytes %s" % (status, len(out), err))
        finally:
            thread.join(TIMEOUT)
            listener.close()
            os.unlink(path)

    def measure(self):
        """--measure checks the echo of 8 MiB streamed through and reports the rates."""
        server = self.server("--websock", "--", "cat")
        status, out, err = self.client(server, "client", "--websock", "--measure", "8")
        server.log()
        lines = out.decode().splitlines()
        check(status == 0 and len(lines) == 2, "client: %d %r %s" % (status, out, err))
        check(lines[0].startswith("round trip: 200 x ") and lines[0].endswith(" us each"), lines[0])
        check(lines[1].startswith("throughput: 8 MiB echoed in ") and lines[1].endswith(" each way"),
              lines[1])

    def stalled_handshake(self):
        """A client silent after the start of its ClientHello is dropped once
        --handshake-timeout passes, while the server goes on serving others."""
        server = self.server("--handshake-timeout", "1", "--", "cat", once=False)
        with connect(server.address) as stalled:
            stalled.sendall(STALLED_HELLO)
            status, out, err = self.client(server, "client", stdin=LINE)
            check(status == 0 and out == LINE, "client beside a stalled one: %d %r %s" % (status, out, err))
            check(ended(stalled), "the stalled connection was not dropped")
        log = server.stop()
        check("refused: TLS handshake timed out after 1 s\n" in log, "server log: " + log)

    def dribbled_websocket(self):
        """A client that completes TLS, then sends its websocket request a byte every
        250 ms, is dropped once --handshake-timeout (both handshakes together) passes."""
        server = self.server("--websock", "--handshake-timeout", "1", "--", "cat")
        creds = os.path.join(self.pki, "client")
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(os.path.join(creds, "ca-cert.pem"))
        context.load_cert_chain(os.path.join(creds, "client-cert.pem"), os.path.join(creds, "client-key.pem"))
        request = (b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                   b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
                   b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        with context.wrap_socket(connect(server.address), server_hostname="localhost") as tls:
            for byte in request:
                try:
                    tls.sendall(bytes([byte]))
                except OSError:
                    break  # the server dropped us
                time.sleep(0.25)
            else:
                check(False, "the whole request went out: the server did not time out")
        log = server.log()
        check(re.search(r"refused: websocket handshake timed out after \d+ ms\n", log), "server log: " + log)

    def max_clients(self):
        """Past --max-clients open connections, a new one is closed at once and
        counted in the log; a slot freed by a client that left serves the next one."""
        server = self.server("--max-clients", "1", "--", "cat", once=False)
        first = connect(server.address)
        with connect(server.address) as second:
            check(ended(second), "a connection past the limit was not closed")
        first.close()
        server.wait_log("refused: ")  # the first client's handshake ended
        status, out, err = self.client(server, "client", stdin=LINE)
        check(status == 0 and out == LINE, "client after a freed slot: %d %r %s" % (status, out, err))
        log = server.stop()
        check("refused 1 connection: 1 clients already (--max-clients)\n" in log, "server log: " + log)

    def refused(self, creds, server_log):
        """The server turns the client away: no console output, and the client fails
        on the dropped connection (reset, or ended without a closure alert)."""
        server = self.server("--allow", USER_DN, "--", "cat")
        status, out, err = self.client(server, creds, stdin=LINE)
        log = server.log()
        check(status != 0 and out == b"", "client: %d %r %s" % (status, out, err))
        check("Connection reset by peer" in err or "non-properly terminated" in err, "client: " + err)
        check(server_log in log and server.proc.returncode == 1, "server log: " + log)

    def not_allowed(self):
        """A valid certificate from the right CA whose DN is not on --allow."""
        self.refused("mallory", "refused: TLS x509 authz check for C=GB,O=qio demo,CN=mallory is denied")

    def no_certificate(self):
        """A client that shows no certificate at all."""
        bare = os.path.join(self.pki, "bare")
        os.makedirs(bare, exist_ok=True)
        with open(os.path.join(self.pki, "ca", "ca-cert.pem"), "rb") as src, \
                open(os.path.join(bare, "ca-cert.pem"), "wb") as dst:
            dst.write(src.read())
        self.refused("bare", "refused: Verify failed: No certificate was found.")

    def wrong_hostname(self):
        """The client refuses a server whose certificate names another host."""
        server = self.server("--", "cat")
        status, out, err = self.client(server, "client", "--hostname", "console.example", stdin=LINE)
        server.log()
        check(status != 0 and out == b"", "client: %d %r %s" % (status, out, err))
        check("Certificate does not match the hostname console.example" in err, "client: " + err)


def main():
    console, certs = sys.argv[1:3]
    with tempfile.TemporaryDirectory(prefix="qio-secure-console-") as tmp:
        pki = os.path.join(tmp, "pki")
        subprocess.run(["sh", certs, pki], check=True, timeout=TIMEOUT)
        t = Case(console, pki)
        return run_cases([
            ("TLS: a line echoed through cat", lambda: t.echo(False)),
            ("TLS + websocket: a line echoed through cat", lambda: t.echo(True)),
            ("end of input reaches a shell, its last output comes back", t.half_close),
            ("the console is a UNIX socket", t.unix_socket),
            ("--measure checks 8 MiB of echo", t.measure),
            ("refused: a DN not on --allow", t.not_allowed),
            ("refused: a client without a certificate", t.no_certificate),
            ("refused by the client: the wrong hostname", t.wrong_hostname),
            ("--handshake-timeout drops a stalled TLS handshake", t.stalled_handshake),
            ("--handshake-timeout drops a websocket request dribbled in", t.dribbled_websocket),
            ("--max-clients closes connections past the limit", t.max_clients),
        ])


if __name__ == "__main__":
    sys.exit(main())
