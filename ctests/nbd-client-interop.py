#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""qio-nbd-client against real NBD servers over loopback, printing TAP: qemu-nbd
(qemu-utils), nbdkit and qio's own qio-nbd, plaintext and TLS (x509 credentials from
examples/secure-console-certs.sh, PSK keys from psktool), TCP and UNIX sockets; the
refusals (no TLS, another CA, the wrong name, no such export); and a scripted server
for what those two never do (the oldstyle greeting, no NBD_OPT_GO nor structured
replies, hostile replies).

usage: nbd-client-interop.py QIO_NBD_CLIENT CERTS-SCRIPT QIO_NBD
"""

import os
import random
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time

from interop_tap import check, run_cases
from server_process import free_port

CLIENT, CERTS_SCRIPT, QIO_NBD = sys.argv[1:4]
WORK = tempfile.mkdtemp(prefix="qio-nbd-client-interop-")
TIMEOUT = 120  # seconds for any one program
MIB = 1 << 20
REQUEST = 2 * MIB  # the client's request size: copies end off its boundaries


def path(name):
    return os.path.join(WORK, name)


def client(*args, ok=True):
    """qio-nbd-client ARGS' (returncode, stdout bytes, stderr text); with OK, a
    failure raises."""
    proc = subprocess.run([CLIENT, *args], capture_output=True, timeout=TIMEOUT)
    err = proc.stderr.decode(errors="replace")
    check(not ok or proc.returncode == 0, "qio-nbd-client %s exited %d: %s" % (" ".join(args), proc.returncode, err))
    return proc.returncode, proc.stdout, err


def refused(args, message):
    """qio-nbd-client ARGS fails (exit 1) saying MESSAGE, having printed nothing."""
    rc, out, err = client(*args, ok=False)
    check(rc == 1 and message in err and out == b"",
          "%s: exit %d, %d bytes out, %r (expected 1 and %r)" % (args, rc, len(out), err, message))


def random_file(name, size):
    with open(path(name), "wb") as f:
        f.write(os.urandom(size))
    return path(name)


def read_file(name):
    with open(name, "rb") as f:
        return f.read()


def odd_size(multiple=1):
    """8 to 64 MiB, a multiple of MULTIPLE and never of the request size."""
    size = random.randrange(8 * MIB, 64 * MIB) // multiple * multiple
    return size if size % REQUEST else size + multiple


def make_credentials():
    """x509 credentials from two unrelated CAs, and a PSK file for user alice."""
    for name in ("certs", "other"):
        subprocess.run(["sh", CERTS_SCRIPT, path(name)], check=True, timeout=TIMEOUT)
    os.mkdir(path("psk"))
    subprocess.run(["psktool", "-u", "alice", "-p", path("psk/keys.psk")], check=True,
                   capture_output=True, timeout=TIMEOUT)


class Server:
    """A server process (ARGV) listening on 127.0.0.1:PORT or the UNIX socket SOCK,
    reached at URI (for export NAME); its output goes to a log quoted on failures."""

    def __init__(self, argv, port=None, sock=None, name="", tls=False):
        self.log_path = path("server-%d.log" % time.monotonic_ns())
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdout=log, stderr=log)
        scheme = "nbds" if tls else "nbd"
        quoted = name.replace("%", "%25").replace(" ", "%20")
        if sock:
            self.uri = "%s+unix:///%s?socket=%s" % (scheme, quoted, sock)
            self.address, family = sock, socket.AF_UNIX
        else:
            self.uri = "%s://127.0.0.1:%d/%s" % (scheme, port, quoted)
            self.address, family = ("127.0.0.1", port), socket.AF_INET
        self.wait_listening(family)

    def wait_listening(self, family):
        """Connects until the server answers, for at most 30 seconds."""
        deadline = time.monotonic() + 30
        while True:
            check(self.proc.poll() is None, "the server ended: " + self.log())
            try:
                with socket.socket(family) as s:
                    s.connect(self.address)
                    return
            except OSError:
                check(time.monotonic() < deadline, "the server does not listen: " + self.log())
                time.sleep(0.1)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.proc.kill()
        self.proc.wait(timeout=TIMEOUT)


def qemu_nbd(image, name="exp", tls=None, unix=False, extra=()):
    """qemu-nbd serving IMAGE (raw) as NAME; TLS is "x509", "psk" or None."""
    argv = ["qemu-nbd", "-f", "raw", "-x", name, "--persistent", *extra]
    if tls == "x509":
        # certtool leaves key encipherment out of ECDSA certificates, which QEMU's
        # sanity check of its own certificate insists on; gnutls does not need it.
        argv += ["--object", "tls-creds-x509,id=tls0,dir=%s,endpoint=server,verify-peer=on,sanity-check=off"
                 % path("certs/server"), "--tls-creds", "tls0"]
    elif tls == "psk":
        argv += ["--object", "tls-creds-psk,id=tls0,dir=%s,endpoint=server" % path("psk"), "--tls-creds", "tls0"]
    return listening(argv, ["-k"], ["-b", "127.0.0.1", "-p"], unix, [image], name, tls)


def nbdkit(image, tls=None, unix=False, certs="certs"):
    """nbdkit's file plugin serving IMAGE as the default export; TLS as for qemu_nbd."""
    argv = ["nbdkit", "-f"]
    if tls == "x509":
        argv += ["--tls=require", "--tls-certificates=" + path(certs + "/server")]
    elif tls == "psk":
        argv += ["--tls=require", "--tls-psk=" + path("psk/keys.psk")]
    return listening(argv, ["-U"], ["-i", "127.0.0.1", "-p"], unix, ["file", image], "", tls)


def qio_nbd(image, tls=None, unix=False):
    """qio-nbd serving IMAGE as "exp"; TLS as for qemu_nbd."""
    argv = [QIO_NBD, "-x", "exp"]
    if tls == "x509":
        argv += ["--tls-creds", path("certs/server")]
    elif tls == "psk":
        argv += ["--tls-creds-psk", path("psk")]
    return listening(argv, ["-k"], ["-b", "127.0.0.1", "-p"], unix, [image], "exp", tls)


def listening(argv, unix_opts, tcp_opts, unix, tail, name, tls):
    """A Server for ARGV, on a UNIX socket or a free TCP port, then TAIL."""
    if unix:
        sock = path("nbd-%d.sock" % time.monotonic_ns())
        return Server(argv + unix_opts + [sock] + tail, sock=sock, name=name, tls=bool(tls))
    port = free_port()
    return Server(argv + tcp_opts + [str(port)] + tail, port=port, name=name, tls=bool(tls))


def x509(*args):
    return ["--tls-creds", path("certs/client"), *args]


def psk(*args):
    return ["--tls-creds-psk", path("psk"), "--tls-username", "alice", *args]


def copied(server, creds, source, exact=True):
    """--copy-to from SERVER gives SOURCE's bytes (then zeroes up to a sector, if not
    EXACT: qemu-nbd rounds a raw file's size up to 512); returns the client's log."""
    out = path("copy.out")
    _, _, err = client(*creds, server.uri, "--copy-to", out)
    data, want = read_file(out), read_file(source)
    check(data[:len(want)] == want and (exact and len(data) == len(want) or not data[len(want):].strip(b"\0")),
          "the copy differs from the source (%d and %d bytes)" % (len(data), len(want)))
    return err


def copy_x509_qemu_nbd():
    image = random_file("q.img", odd_size(512))
    with qemu_nbd(image, tls="x509") as server:
        err = copied(server, x509(), image)
    for said in ("tls: TLS1.", "server O=qio demo,CN=localhost", "structured replies: yes", "export: 'exp'",
                 "size: %d bytes" % os.path.getsize(image), "block sizes: minimum 1"):
        check(said in err, "the client does not say %r: %s" % (said, err))


def copy_x509_nbdkit():
    image = random_file("k.img", odd_size())
    with nbdkit(image, tls="x509") as server:
        copied(server, x509(), image)


def qio_nbd_both_ways():
    """The pair qio ships: a copy out over x509, a write in over PSK on a UNIX socket."""
    image = random_file("o.img", odd_size())
    with qio_nbd(image, tls="x509") as server:
        copied(server, x509(), image)
    source = random_file("o-new.img", os.path.getsize(image) // 2)
    with qio_nbd(image, tls="psk", unix=True) as server:
        client(*psk(server.uri, "--write-from", source))
    check(read_file(image)[:os.path.getsize(source)] == read_file(source), "qio-nbd's image lacks the write")


def read_ranges():
    """Odd ranges across requests, the empty one, and one past the end (refused)."""
    image = random_file("r.img", 9 * MIB + 7)
    data = read_file(image)
    with nbdkit(image, tls="x509") as kit, qemu_nbd(image, tls="x509") as qemu:
        for server in (kit, qemu):
            for offset, length in ((12345, 3 * REQUEST + 999), (9 * MIB + 6, 1), (1, 0), (REQUEST - 1, 2)):
                _, out, _ = client(*x509(server.uri, "--read", "%d:%d" % (offset, length)))
                check(out == data[offset:offset + length], "--read %d:%d from %s differs"
                      % (offset, length, server.proc.args[0]))
        refused(x509(kit.uri, "--read", "%d:2" % (len(data) - 1)), "goes past the end of the export")


def list_exports():
    image = random_file("l.img", MIB)
    with qemu_nbd(image, name="my disk", tls="x509", extra=["-D", "the description"]) as server:
        _, out, _ = client(*x509(server.uri, "--list"))
        check(out == b"my disk\tthe description\n", "qemu-nbd's list: %r" % out)
        _, _, err = client(*x509(server.uri))  # the name percent-decoded in the URI
        check("export: 'my disk' (the description)" in err, "no description: " + err)
    with nbdkit(image, unix=True) as server:
        _, out, _ = client(server.uri, "--list")
        check(out == b"\n", "nbdkit's list: %r" % out)


def write_qemu_nbd():
    image = random_file("w.img", odd_size(512) + 3 * MIB)
    source = random_file("w.src", os.path.getsize(image) - 3 * MIB)
    before = read_file(image)
    with qemu_nbd(image, tls="x509") as server:
        client(*x509(server.uri, "--write-from", source))
        _, out, _ = client(*x509(server.uri, "--read", "0:%d" % os.path.getsize(image)))
    want = read_file(source) + before[os.path.getsize(source):]
    check(out == want, "what the client reads back differs from what it wrote")
    check(read_file(image) == want, "the image differs from what the client wrote")


def write_refusals():
    image = random_file("wr.img", MIB)
    with qemu_nbd(image, extra=["-r"]) as server:
        refused([server.uri, "--write-from", image], "the export is read-only")
    with qemu_nbd(image) as server:
        refused([server.uri, "--write-from", random_file("big.src", MIB + 512)], "more than the export's")


def psk_qemu_nbd():
    image = random_file("pq.img", odd_size(512))
    with qemu_nbd(image, tls="psk", unix=True) as server:
        err = copied(server, psk(), image)
    check("tls: TLS1." in err and ", server" not in err, "the client does not say PSK TLS: " + err)


def psk_nbdkit():
    image = random_file("pk.img", odd_size())
    with nbdkit(image, tls="psk") as server:
        copied(server, psk(), image)
        refused(["--tls-creds-psk", path("psk"), "--tls-username", "bob", server.uri], "Username bob not found")


def plaintext():
    image = random_file("p.img", odd_size(512))
    with qemu_nbd(image) as tcp, qemu_nbd(image, unix=True) as unix:
        for server in (tcp, unix):
            err = copied(server, [], image)
            check("tls: no" in err, "the client does not say it is plaintext: " + err)
    with nbdkit(image, unix=True) as server:
        copied(server, [], image)


def x509_with_nbd_scheme():
    """--tls-creds makes nbd:// use TLS too."""
    image = random_file("s.img", MIB)
    with nbdkit(image, tls="x509") as server:
        _, out, err = client(*x509(server.uri.replace("nbds://", "nbd://"), "--read", "0:100"))
        check(out == read_file(image)[:100] and "tls: TLS1." in err, "no TLS with nbd:// and --tls-creds: " + err)


def no_tls_fallback():
    """nbds:// to a plaintext server ends at STARTTLS, and nothing is read."""
    image = random_file("n.img", MIB)
    with qemu_nbd(image) as qemu, nbdkit(image) as kit:
        for server in (qemu, kit):
            uri = server.uri.replace("nbd://", "nbds://")
            refused(x509(uri, "--read", "0:100"), "the server does not offer TLS: the server refused NBD_OPT_STARTTLS")
    with nbdkit(image, tls="x509") as server:
        refused(["--read", "0:100", server.uri.replace("nbds://", "nbd://")], "NBD_REP_ERR_TLS_REQD")


def other_ca():
    image = random_file("o.img", MIB)
    with nbdkit(image, tls="x509", certs="other") as server:
        refused(x509(server.uri, "--read", "0:100"), "TLS handshake: ")


def wrong_hostname():
    image = random_file("h.img", MIB)
    with nbdkit(image, tls="x509") as server:
        refused(x509("--tls-hostname", "wrong.example", server.uri, "--read", "0:100"),
                "does not match the hostname wrong.example")


def no_such_export():
    image = random_file("e.img", MIB)
    with qemu_nbd(image, tls="x509") as server:
        refused(x509(server.uri.replace("/exp", "/nope"), "--read", "0:1"),
                "export 'nope': the server refused NBD_OPT_GO: NBD_REP_ERR_UNKNOWN")


def server_errors():
    """nbdkit's error filter fails every read: the client names the error."""
    sock = path("error.sock")
    argv = ["nbdkit", "-f", "-U", sock, "--filter=error", "memory", "1M", "error-pread=EIO",
            "error-pread-rate=100%"]
    with Server(argv, sock=sock) as server:
        refused([server.uri, "--read", "0:100"],
                "the server failed NBD_CMD_READ (offset 0, 100 bytes): NBD_EIO (Input/output error)")


def command_line_errors():
    """Usage errors exit 2 with a message; --help describes the client."""
    _, out, _ = client("--help")
    for said in ("nbds+unix://", "--tls-creds", "--copy-to", "Exit status"):
        check(said in out.decode(), "--help does not mention " + said)
    for argv, message in [
        ([], "give one URI"),
        (["nbd://a/", "nbd://b/"], "give one URI"),
        (["http://localhost/x"], "the URI must start with"),
        (["nbds://localhost/x"], "asks for TLS"),
        (["nbd://localhost/x?socket=/s"], "takes no ?parameters"),
        (["nbd+unix:///x"], "takes ?socket=PATH"),
        (["nbd://localhost/a%00b"], "valid percent-encoding"),
        (["--read", "5", "nbd://localhost/"], "--read takes OFFSET:LENGTH"),
        (["--list", "--copy-to", "f", "nbd://localhost/"], "go alone"),
        (["--tls-creds", "a", "--tls-creds-psk", "b", "nbd://localhost/"], "exclude each other"),
        (["--tls-username", "u", "nbd://localhost/"], "goes with --tls-creds-psk"),
        (["--frobnicate"], "Unknown option"),
    ]:
        rc, _, err = client(*argv, ok=False)
        check(rc == 2 and message in err, "%s: exit %d, %r (expected 2, %r)" % (argv, rc, err, message))
    refused(["--tls-creds", path("missing"), "nbds://localhost/"], "")


# ---- A scripted server, for what qemu-nbd and nbdkit never do ----

REP_MAGIC, NBD_OPT_EXPORT_NAME, NBD_OPT_GO, NBD_OPT_STRUCTURED_REPLY = 0x3e889045565a9, 1, 7, 8
NBD_REP_ACK, NBD_REP_INFO, NBD_REP_ERR_UNSUP = 1, 3, (1 << 31) + 1
STRUCTURED_MAGIC, BLOCK = 0x668e33ef, 4096


def recv_exact(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return data


def option_reply(option, type_, data=b""):
    return struct.pack(">QIII", REP_MAGIC, option, type_, len(data)) + data


def structured_read(conn, cookie, offset, data):
    """DATA, read at OFFSET, in chunks out of order: its second half, then its first
    (a hole when all zero), then NONE with the DONE flag."""
    half = len(data) // 2
    for at, piece in ((offset + half, data[half:]), (offset, data[:half])):
        if piece.strip(b"\0"):
            conn.sendall(struct.pack(">IHHQIQ", STRUCTURED_MAGIC, 0, 1, cookie, 8 + len(piece), at) + piece)
        elif piece:
            conn.sendall(struct.pack(">IHHQIQI", STRUCTURED_MAGIC, 0, 2, cookie, 12, at, len(piece)))
    conn.sendall(struct.pack(">IHHQI", STRUCTURED_MAGIC, 1, 0, cookie, 0))


def scripted_read(conn, mode, cookie, offset, length, data):
    """The reply to a read in MODE: "blocks" refuses reads off its 4 KiB blocks with
    an NBD_EINVAL error chunk."""
    if mode == "hostile":
        conn.sendall(struct.pack(">IHHQIQ", STRUCTURED_MAGIC, 1, 1, cookie, 8 + length, offset + 1)
                     + data[offset:offset + length])
    elif mode == "overlap":
        half = struct.pack(">IHHQIQ", STRUCTURED_MAGIC, 0, 1, cookie, 8 + length // 2, offset) \
            + data[offset:offset + length // 2]
        conn.sendall(half + half + struct.pack(">IHHQI", STRUCTURED_MAGIC, 1, 0, cookie, 0))
    elif mode == "cookie-0":
        conn.sendall(struct.pack(">IHHQI", STRUCTURED_MAGIC, 1, 0, 0, 0))
    elif mode == "old-server":
        conn.sendall(struct.pack(">IIQ", 0x67446698, 0, cookie) + data[offset:offset + length])
    elif offset % BLOCK or (offset + length) % BLOCK and offset + length != len(data):
        message = b"unaligned read"
        conn.sendall(struct.pack(">IHHQIIH", STRUCTURED_MAGIC, 1, 0x8001, cookie, 6 + len(message), 22,
                                 len(message)) + message)
    else:
        structured_read(conn, cookie, offset, data[offset:offset + length])


def scripted_session(conn, mode, data):
    """One client of the scripted server in MODE: "oldstyle" (its greeting),
    "huge-reply" (an option reply of 16 MiB), "old-server" (no NBD_OPT_GO nor
    structured replies: NBD_OPT_EXPORT_NAME and simple replies), "blocks" (a minimum
    block size of 4 KiB, chunks out of order, holes), "hostile" (a data chunk past
    the range read), "overlap" (a read's first half twice, which the byte count
    would take for all of it) or "cookie-0" (a reply to cookie 0, which no request
    has)."""
    if mode == "oldstyle":
        conn.sendall(b"NBDMAGIC" + struct.pack(">QQI", 0x420281861253, len(data), 1) + bytes(124))
        return
    conn.sendall(b"NBDMAGIC" + b"IHAVEOPT" + struct.pack(">H", 3))
    recv_exact(conn, 4)
    while True:
        _, option, length = struct.unpack(">QII", recv_exact(conn, 16))
        recv_exact(conn, length)
        if mode == "huge-reply":
            conn.sendall(struct.pack(">QIII", REP_MAGIC, option, NBD_REP_ACK, 16 * MIB))
            return
        if option == NBD_OPT_EXPORT_NAME:
            conn.sendall(struct.pack(">QH", len(data), 1))
            break
        if option == NBD_OPT_GO and mode != "old-server":
            conn.sendall(option_reply(option, NBD_REP_INFO, struct.pack(">HQH", 0, len(data), 1))
                         + option_reply(option, NBD_REP_INFO, struct.pack(">HIII", 3, BLOCK, BLOCK, 64 * 1024))
                         + option_reply(option, NBD_REP_ACK))
            break
        ack = option == NBD_OPT_STRUCTURED_REPLY and mode != "old-server"
        conn.sendall(option_reply(option, NBD_REP_ACK if ack else NBD_REP_ERR_UNSUP))
    while True:
        _, _, command, cookie, offset, length = struct.unpack(">IHHQQI", recv_exact(conn, 28))
        if command != 0:  # only reads are expected, then NBD_CMD_DISC
            return
        scripted_read(conn, mode, cookie, offset, length, data)


class ScriptedServer:
    """scripted_session in MODE for each client, on a UNIX socket, from a thread."""

    def __init__(self, mode, data):
        self.sock_path = path("scripted-%s.sock" % mode)
        self.listener = socket.socket(socket.AF_UNIX)
        self.listener.bind(self.sock_path)
        self.listener.listen(4)
        self.listener.settimeout(TIMEOUT)
        self.uri = "nbd+unix:///?socket=" + self.sock_path
        self.thread = threading.Thread(target=self.serve, args=(mode, data), daemon=True)
        self.thread.start()

    def serve(self, mode, data):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # closed, or no client for TIMEOUT seconds
            with conn:
                conn.settimeout(TIMEOUT)
                try:
                    scripted_session(conn, mode, data)
                except (EOFError, OSError):
                    pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.listener.shutdown(socket.SHUT_RDWR)  # wakes accept(), which close() does not
        self.listener.close()
        self.thread.join(TIMEOUT)


def scripted_servers():
    data = os.urandom(5 * MIB + 3)
    with ScriptedServer("old-server", data) as server:
        _, out, err = client(server.uri, "--read", "1:%d" % (len(data) - 1))
        check(out == data[1:], "the read through simple replies differs")
        check("structured replies: no" in err, "the client does not say it has simple replies: " + err)
    holes = data[:MIB] + bytes(2 * MIB) + data[3 * MIB:]
    with ScriptedServer("blocks", holes) as server:
        out = path("blocks.out")
        _, _, err = client(server.uri, "--copy-to", out)
        check(read_file(out) == holes, "the copy through chunks and holes differs")
        check("block sizes: minimum 4096, preferred 4096, maximum 65536" in err, "block sizes: " + err)
        _, out, _ = client(server.uri, "--read", "4097:10000")
        check(out == holes[4097:14097], "an unaligned read is wrong")
    with ScriptedServer("oldstyle", data) as server:
        refused([server.uri], "oldstyle handshake")
    with ScriptedServer("huge-reply", data) as server:
        refused([server.uri], "the server's reply to NBD_OPT_STRUCTURED_REPLY is too long")
    with ScriptedServer("hostile", data) as server:
        refused([server.uri, "--read", "0:%d" % len(data)], "a chunk outside the range asked for")
    with ScriptedServer("overlap", data) as server:
        refused([server.uri, "--read", "0:%d" % len(data)], "chunks that overlap")
    with ScriptedServer("cookie-0", data) as server:
        refused([server.uri, "--read", "0:100"], "a request that is not in flight (cookie 0)")


CASES = [
    ("qio-nbd-client command-line errors", command_line_errors),
    ("--copy-to over x509 TLS from qemu-nbd", copy_x509_qemu_nbd),
    ("--copy-to over x509 TLS from nbdkit", copy_x509_nbdkit),
    ("qio-nbd: --copy-to over x509, --write-from over PSK on a UNIX socket", qio_nbd_both_ways),
    ("--read of odd ranges from nbdkit and qemu-nbd", read_ranges),
    ("--list from qemu-nbd (x509) and nbdkit (UNIX socket)", list_exports),
    ("--write-from into qemu-nbd, read back", write_qemu_nbd),
    ("--write-from refuses a read-only export and a larger file", write_refusals),
    ("PSK TLS with qemu-nbd over a UNIX socket", psk_qemu_nbd),
    ("PSK TLS with nbdkit, and an unknown PSK user", psk_nbdkit),
    ("plaintext over TCP and UNIX sockets", plaintext),
    ("--tls-creds with nbd:// still uses TLS", x509_with_nbd_scheme),
    ("nbds:// to plaintext servers fails without falling back", no_tls_fallback),
    ("a server certificate from another CA is refused", other_ca),
    ("a server certificate for another name is refused", wrong_hostname),
    ("a missing export is a clear error", no_such_export),
    ("nbdkit's error filter: the server's read errors", server_errors),
    ("scripted servers: old, 4 KiB blocks, oldstyle, huge option reply, hostile, overlapping and stray chunks",
     scripted_servers),
]

try:
    make_credentials()
    status = run_cases(CASES)
finally:
    shutil.rmtree(WORK)
sys.exit(status)
