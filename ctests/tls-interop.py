#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""qio's TLS channel against real TLS programs, over 127.0.0.1, printing TAP.

qio server (interop-peer server) <- gnutls-cli, openssl s_client, Python's ssl;
qio client (interop-peer client) -> gnutls-serv, openssl s_server. For x509 with
and without a client certificate on TLS 1.3 and 1.2, PSK from the same keys.psk, and
anonymous DH; every verification failure must fail the connection, and where qio
verifies, with QEMU's message.

usage: tls-interop.py TLS-INTEROP-CERTS INTEROP-PEER
"""

import os
import select
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time

from interop_tap import Failure, check, finish, run_cases

TIMEOUT = 20  # seconds for any one program or connection
TLS12 = "NORMAL:-VERS-ALL:+VERS-TLS1.2"
TLS13 = "NORMAL:-VERS-ALL:+VERS-TLS1.3"
TLS11 = "NORMAL:-VERS-ALL:+VERS-TLS1.1"  # refused by qio's default priority
PSK_KX = ":+ECDHE-PSK:+DHE-PSK:+PSK"  # the PSK key exchanges, off in gnutls's NORMAL
# Lines of text (s_server -rev reverses lines), together over one TLS record.
PAYLOAD = b"".join(b"line %05d of the qio interop payload\n" % i for i in range(600))
CLIENT_DN = "C=UK,CN=qio-client"


def read_until(proc, wanted, deadline):
    """Reads PROC's stdout until WANTED appears or it ends; returns all it read."""
    out = b""
    fd = proc.stdout.fileno()
    while wanted not in out:
        left = deadline - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            break
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        out += chunk
    return out


def stop(proc):
    """Ends PROC (killed if it is still running) and returns the rest of its output."""
    return finish(proc, TIMEOUT)[0] or b""


class Interop:
    def __init__(self, certs, peer, workdir):
        self.peer = peer
        self.dir = workdir
        subprocess.run([certs, workdir], check=True, timeout=TIMEOUT)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def psk_key(self, sub="psk"):
        with open(self.path(sub, "keys.psk")) as f:
            return f.read().strip().split(":")[1]

    # -- qio as the server -------------------------------------------------------

    def qio_server(self, *args):
        proc = subprocess.Popen([self.peer, "server", *args], stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        line = read_until(proc, b"\n", time.monotonic() + TIMEOUT)
        check(line.startswith(b"port "), "qio server did not listen: %r" % line)
        return proc, int(line.split()[1])

    def against_qio_server(self, server_args, client, expect_qio, client_ok):
        """Runs CLIENT(port) against a qio server; checks that the qio server's output
        contains EXPECT_QIO and whether the client managed the echo."""
        proc, port = self.qio_server(*server_args)
        try:
            echoed, client_out = client(port)
        finally:
            qio_out = stop(proc).decode(errors="replace")
        check(expect_qio in qio_out, "qio server said %r, expected %r" % (qio_out, expect_qio))
        check(echoed == client_ok, "client %s the echo: %s" %
              ("failed" if client_ok else "managed", client_out))

    def interactive(self, argv, port):
        """Runs a line-oriented TLS client: sends PAYLOAD once connected and waits for
        its echo, then closes standard input."""
        proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        try:
            proc.stdin.write(PAYLOAD)
            proc.stdin.flush()
        except BrokenPipeError:
            pass
        out = read_until(proc, PAYLOAD, time.monotonic() + TIMEOUT)
        out += stop(proc)  # closes standard input: the client ends the session
        return PAYLOAD in out, out.decode(errors="replace")[-2000:]

    def gnutls_cli(self, priority, ca=None, cert=None, psk=None, anon=False):
        def client(port):
            argv = ["gnutls-cli", "--port", str(port), "--priority", priority]
            if ca:
                argv += ["--x509cafile", self.path(ca, "ca-cert.pem"),
                         "--verify-hostname", "localhost"]
            if cert:
                argv += ["--x509certfile", self.path(cert, "client-cert.pem"),
                         "--x509keyfile", self.path(cert, "client-key.pem")]
            if psk:
                argv += ["--pskusername", "qemu", "--pskkey", self.psk_key(psk)]
            if anon or psk:
                argv += ["--insecure"]
            return self.interactive(argv + ["127.0.0.1"], port)
        return client

    def s_client(self, version, ca=None, cert=None, psk=None, anon=False):
        def client(port):
            argv = ["openssl", "s_client", "-connect", "127.0.0.1:%d" % port, version,
                    "-nocommands", "-verify_return_error"]
            if ca:
                argv += ["-CAfile", self.path(ca, "ca-cert.pem"),
                         "-verify_hostname", "localhost"]
            if cert:
                argv += ["-cert", self.path(cert, "client-cert.pem"),
                         "-key", self.path(cert, "client-key.pem")]
            if psk:
                argv += ["-psk", self.psk_key(psk), "-psk_identity", "qemu"]
            if anon:
                argv += ["-cipher", "aNULL:@SECLEVEL=0"]
            return self.interactive(argv, port)
        return client

    def python_client(self, version, ca=None, cert=None, anon=False):
        def client(port):
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            ctx.minimum_version = ctx.maximum_version = version
            if anon:
                ctx.check_hostname = False
                ctx.verify_mode = ssl.CERT_NONE
                ctx.set_ciphers("aNULL:@SECLEVEL=0")
            else:
                ctx.load_verify_locations(self.path(ca, "ca-cert.pem"))
            if cert:
                ctx.load_cert_chain(self.path(cert, "client-cert.pem"),
                                    self.path(cert, "client-key.pem"))
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw, \
                        ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                    tls.sendall(PAYLOAD)
                    got = b""
                    while len(got) < len(PAYLOAD):
                        chunk = tls.recv(65536)
                        if not chunk:
                            break
                        got += chunk
                    if got == PAYLOAD:
                        tls.unwrap()
                    return got == PAYLOAD, "echoed %d of %d bytes" % (len(got), len(PAYLOAD))
            except (OSError, ssl.SSLError) as e:
                return False, repr(e)
        return client

    # -- qio as the client -------------------------------------------------------

    def qio_client(self, port, *args):
        proc = subprocess.run([self.peer, "client", "--port", str(port), *args],
                              input=PAYLOAD, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=TIMEOUT)
        return proc.returncode, proc.stdout

    def start_server(self, argv, ready):
        """Starts a peer server whose ARGV ends in a port number; returns it and the
        port once its output shows READY (another port is tried if this one is
        taken)."""
        for _ in range(5):
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            proc = subprocess.Popen([a.replace("@PORT@", str(port)) for a in argv],
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=subprocess.STDOUT)
            out = read_until(proc, ready, time.monotonic() + TIMEOUT)
            if ready in out:
                return proc, port
            stop(proc)
        raise Failure("%s did not start: %r" % (argv[0], out))

    def gnutls_serv(self, priority, sub=None, client_cert=None, psk=None):
        argv = ["gnutls-serv", "--echo", "--port", "@PORT@", "--priority", priority]
        if sub:
            argv += ["--x509certfile", self.path(sub, "server-cert.pem"),
                     "--x509keyfile", self.path(sub, "server-key.pem")]
        if client_cert:
            argv += ["--require-client-cert", "--x509cafile", self.path("server", "ca-cert.pem")]
        else:
            argv += ["--disable-client-cert"]
        if psk:
            argv += ["--pskpasswd", self.path(psk, "keys.psk")]
        return lambda: self.start_server(argv, b"done")

    def s_server(self, version, sub=None, client_cert=None, psk=None, anon=False):
        argv = ["openssl", "s_server", "-accept", "127.0.0.1:@PORT@", version, "-rev",
                "-naccept", "1"]
        if sub:
            argv += ["-cert", self.path(sub, "server-cert.pem"),
                     "-key", self.path(sub, "server-key.pem")]
        else:
            argv += ["-nocert"]
        if client_cert:
            argv += ["-Verify", "1", "-verify_return_error",
                     "-CAfile", self.path("server", "ca-cert.pem")]
        if psk:
            argv += ["-psk", self.psk_key(psk), "-psk_identity", "qemu"]
        if anon:
            argv += ["-cipher", "aNULL:@SECLEVEL=0"]
        return lambda: self.start_server(argv, b"ACCEPT")

    def against_peer_server(self, server, qio_args, expect, reply):
        """Runs the qio client against SERVER; checks its output has EXPECT and, when
        REPLY is not None, that the server sent back REPLY."""
        proc, port = server()
        try:
            rc, out = self.qio_client(port, *qio_args)
        finally:
            proc.kill()
            stop(proc)
        text = out.decode(errors="replace")
        check(expect in text, "qio client said %r, expected %r" % (text[-2000:], expect))
        if reply is None:
            check(rc != 0, "qio client succeeded: %r" % text[-2000:])
        else:
            check(rc == 0 and out.endswith(b"reply " + reply),
                  "qio client (exit %d) got %r" % (rc, text[-2000:]))


def reversed_lines(data):
    return b"".join(line[::-1] + b"\n" for line in data.split(b"\n")[:-1])


def cases(t):
    """Every case as (name, function)."""
    ok_peer = "handshake ok peer=" + CLIENT_DN
    x509_server = ["--dir", t.path("server")]
    allow = ["--allow", CLIENT_DN]
    failed = "handshake failed: "
    tls_failed = failed + "TLS handshake failed: "
    v13, v12 = ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2

    def srv(args, client, expect, client_ok=True):
        return lambda: t.against_qio_server(args, client, expect, client_ok)

    def cli(server, args, expect="handshake ok", reply=PAYLOAD):
        return lambda: t.against_peer_server(server, args, expect, reply)

    x509_client = ["--dir", t.path("client"), "--hostname", "localhost"]
    nocert_client = ["--dir", t.path("ca-only"), "--hostname", "localhost"]
    rev = reversed_lines(PAYLOAD)
    psk = ["--creds", "psk", "--dir", t.path("psk")]
    anon = ["--creds", "anon"]
    return [
        # qio server, x509, client certificate checked against an authz list
        ("server x509 TLS1.3 <- gnutls-cli with client cert",
         srv(x509_server + allow, t.gnutls_cli(TLS13, "server", "client"), ok_peer)),
        ("server x509 TLS1.2 <- gnutls-cli with client cert",
         srv(x509_server + allow + ["--priority", TLS12],
             t.gnutls_cli(TLS12, "server", "client"), ok_peer)),
        ("server x509 TLS1.3 <- s_client with client cert",
         srv(x509_server + allow, t.s_client("-tls1_3", "server", "client"), ok_peer)),
        ("server x509 TLS1.2 <- s_client with client cert",
         srv(x509_server + allow, t.s_client("-tls1_2", "server", "client"), ok_peer)),
        ("server x509 TLS1.3 <- Python ssl with client cert",
         srv(x509_server + allow, t.python_client(v13, "server", "client"), ok_peer)),
        ("server x509 TLS1.2 <- Python ssl with client cert",
         srv(x509_server + allow, t.python_client(v12, "server", "client"), ok_peer)),
        ("server x509 RSA-2048 TLS1.2 <- s_client with client cert",
         srv(["--dir", t.path("server-rsa")] + allow,
             t.s_client("-tls1_2", "server", "client"), ok_peer)),
        # qio server not verifying clients: no client certificate needed
        ("server x509 no-verify TLS1.3 <- gnutls-cli without client cert",
         srv(x509_server + ["--no-verify"], t.gnutls_cli(TLS13, "server"), "handshake ok\n")),
        ("server x509 no-verify TLS1.2 <- s_client without client cert",
         srv(x509_server + ["--no-verify"], t.s_client("-tls1_2", "server"), "handshake ok\n")),
        ("server x509 no-verify TLS1.3 <- Python ssl without client cert",
         srv(x509_server + ["--no-verify"], t.python_client(v13, "server"), "handshake ok\n")),
        # TLS 1.0 and 1.1 only when the application's priority asks for them
        ("server x509 default priority refuses gnutls-cli TLS1.1",
         srv(x509_server + ["--no-verify"], t.gnutls_cli(TLS11, "server"), tls_failed, False)),
        ("server x509 priority NORMAL <- gnutls-cli TLS1.1",
         srv(x509_server + ["--no-verify", "--priority", "NORMAL"], t.gnutls_cli(TLS11, "server"),
             "handshake ok\n")),
        # qio's verification failures, with QEMU's messages
        ("server x509 refuses gnutls-cli without client cert",
         srv(x509_server, t.gnutls_cli(TLS13, "server"),
             failed + "Verify failed: No certificate was found.", False)),
        ("server x509 refuses s_client without client cert",
         srv(x509_server, t.s_client("-tls1_2", "server"),
             failed + "Verify failed: No certificate was found.", False)),
        ("server x509 refuses Python ssl without client cert",
         srv(x509_server, t.python_client(v13, "server"),
             failed + "Verify failed: No certificate was found.", False)),
        ("server x509 refuses a client cert from an unknown CA",
         srv(x509_server, t.gnutls_cli(TLS13, "server", "rogue"),
             failed + "The certificate hasn't got a known issuer", False)),
        ("server x509 authz denies the client's DN",
         srv(x509_server + ["--allow", "C=UK,CN=someone-else"],
             t.s_client("-tls1_3", "server", "client"),
             failed + "TLS x509 authz check for %s is denied" % CLIENT_DN, False)),
        # the peers' verification failures end qio's handshake too
        ("server x509 refused by gnutls-cli trusting another CA",
         srv(x509_server + ["--no-verify"], t.gnutls_cli(TLS13, "rogue"), tls_failed, False)),
        ("server x509 refused by s_client trusting another CA",
         srv(x509_server + ["--no-verify"], t.s_client("-tls1_2", "rogue"), tls_failed, False)),
        ("server x509 refused by Python ssl trusting another CA",
         srv(x509_server + ["--no-verify"], t.python_client(v13, "rogue"), tls_failed, False)),
        # PSK, keys.psk shared with the peer
        ("server psk TLS1.3 <- gnutls-cli",
         srv(psk, t.gnutls_cli(TLS13 + PSK_KX, psk="psk"), "handshake ok\n")),
        # gnutls-cli 3.7.9 crashes after a TLS 1.2 (EC)DHE-PSK handshake, with
        # gnutls-serv too: plain PSK here, s_client below takes ECDHE-PSK.
        ("server psk TLS1.2 <- gnutls-cli",
         srv(psk, t.gnutls_cli(TLS12 + ":-KX-ALL:+PSK", psk="psk"), "handshake ok\n")),
        ("server psk TLS1.3 <- s_client", srv(psk, t.s_client("-tls1_3", psk="psk"), "handshake ok\n")),
        ("server psk TLS1.2 <- s_client", srv(psk, t.s_client("-tls1_2", psk="psk"), "handshake ok\n")),
        ("server psk refuses gnutls-cli with another key",
         srv(psk, t.gnutls_cli(TLS13 + PSK_KX, psk="psk-wrong"), tls_failed, False)),
        # anonymous DH (TLS 1.2 only, as TLS 1.3 has no anonymous key exchange)
        ("server anon <- gnutls-cli",
         srv(anon, t.gnutls_cli("NORMAL:+ANON-DH:+ANON-ECDH", anon=True), "handshake ok\n")),
        ("server anon <- s_client", srv(anon, t.s_client("-tls1_2", anon=True), "handshake ok\n")),
        ("server anon <- Python ssl", srv(anon, t.python_client(v12, anon=True), "handshake ok\n")),
        # qio client, x509
        ("client x509 TLS1.3 -> gnutls-serv requiring a client cert",
         cli(t.gnutls_serv(TLS13, "server", client_cert=True), x509_client)),
        ("client x509 TLS1.2 -> gnutls-serv requiring a client cert",
         cli(t.gnutls_serv(TLS12, "server", client_cert=True), x509_client)),
        ("client x509 TLS1.3 -> s_server requiring a client cert",
         cli(t.s_server("-tls1_3", "server", client_cert=True), x509_client, reply=rev)),
        ("client x509 TLS1.2 -> s_server requiring a client cert",
         cli(t.s_server("-tls1_2", "server", client_cert=True), x509_client, reply=rev)),
        ("client x509 RSA-2048 TLS1.2 -> gnutls-serv",
         cli(t.gnutls_serv(TLS12, "server-rsa"), nocert_client)),
        ("client x509 TLS1.3 -> gnutls-serv without client cert",
         cli(t.gnutls_serv(TLS13, "server"), nocert_client)),
        ("client x509 TLS1.2 -> s_server without client cert",
         cli(t.s_server("-tls1_2", "server"), nocert_client, reply=rev)),
        ("client x509 without cert refused by gnutls-serv requiring one",
         cli(t.gnutls_serv(TLS12, "server", client_cert=True), nocert_client, tls_failed, None)),
        ("client x509 without cert refused by s_server requiring one",
         cli(t.s_server("-tls1_2", "server", client_cert=True), nocert_client, tls_failed, None)),
        ("client x509 default priority refuses gnutls-serv TLS1.1",
         cli(t.gnutls_serv(TLS11, "server"), nocert_client, tls_failed, None)),
        ("client x509 priority NORMAL -> gnutls-serv TLS1.1",
         cli(t.gnutls_serv(TLS11, "server"), nocert_client + ["--priority", "NORMAL"])),
        # qio's verification of the server, with QEMU's messages
        ("client x509 refuses a server cert for another hostname",
         cli(t.gnutls_serv(TLS13, "server"), ["--dir", t.path("ca-only"), "--hostname", "wrong.example"],
             failed + "Certificate does not match the hostname wrong.example", None)),
        ("client x509 refuses a server cert from an unknown CA",
         cli(t.s_server("-tls1_3", "rogue"), nocert_client,
             failed + "The certificate hasn't got a known issuer", None)),
        ("client x509 refuses an expired server cert",
         cli(t.gnutls_serv(TLS13, "expired"), nocert_client,
             failed + "The certificate is not trusted", None)),
        # PSK
        ("client psk TLS1.3 -> gnutls-serv", cli(t.gnutls_serv(TLS13 + PSK_KX, psk="psk"), psk)),
        ("client psk TLS1.2 -> gnutls-serv", cli(t.gnutls_serv(TLS12 + PSK_KX, psk="psk"), psk)),
        ("client psk TLS1.3 -> s_server", cli(t.s_server("-tls1_3", psk="psk"), psk, reply=rev)),
        ("client psk TLS1.2 -> s_server", cli(t.s_server("-tls1_2", psk="psk"), psk, reply=rev)),
        ("client psk with another key refused by s_server",
         cli(t.s_server("-tls1_2", psk="psk-wrong"), psk, tls_failed, None)),
        # anonymous DH
        ("client anon -> gnutls-serv", cli(t.gnutls_serv("NORMAL:+ANON-DH"), anon)),
        ("client anon -> s_server", cli(t.s_server("-tls1_2", anon=True), anon, reply=rev)),
    ]


def main():
    certs, peer = sys.argv[1:3]
    for tool in ("gnutls-cli", "gnutls-serv", "openssl"):
        if not shutil.which(tool):
            print("Bail out! %s is not installed: run scripts/setup.sh" % tool)
            return 1
    workdir = tempfile.mkdtemp(prefix="qio-tls-interop-")
    try:
        all_cases = cases(Interop(certs, peer, workdir))
        return run_cases(all_cases)
    finally:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    sys.exit(main())
