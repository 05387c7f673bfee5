#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""The secure-console example end to end over 127.0.0.1, printing TAP: both ends,
credentials from examples/secure-console-certs.sh (certtool), the console a command or
a UNIX socket, with and without a websocket, and the refusals.

usage: secure-console-test.py SECURE-CONSOLE CERTS-SCRIPT
"""

import os
import socket
import subprocess
import sys
import tempfile
import threading

from interop_tap import check, finish, run_cases

TIMEOUT = 30  # seconds for any one program
USER_DN = "C=GB,O=qio demo,CN=console-user"
LINE = b"hello from the other side\n"


class Server:
    """secure-console server --once with ARGS, on an ephemeral port."""

    def __init__(self, console, creds, args):
        self.proc = subprocess.Popen(
            [console, "server", "--listen", "127.0.0.1:0", "--creds", creds, "--once", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = self.proc.stdout.readline().decode()
        check(line.startswith("listening on 127.0.0.1:"), "server did not listen: %r" % line)
        self.address = line.split()[2]

    def log(self):
        """What it logged, once its one session ended (killed after TIMEOUT)."""
        return finish(self.proc, TIMEOUT)[1].decode(errors="replace")


class Case:
    def __init__(self, console, pki):
        self.console, self.pki = console, pki

    def server(self, *args):
        return Server(self.console, os.path.join(self.pki, "server"), list(args))

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
        ])


if __name__ == "__main__":
    sys.exit(main())
