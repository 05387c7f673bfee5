# SPDX-License-Identifier: LGPL-2.1-or-later
"""qio-nbd against real NBD clients, printing TAP: qemu-img, qemu-io, nbdinfo and
nbdcopy over TLS (x509 from examples/secure-console-certs.sh, PSK from psktool), over
plaintext TCP and a UNIX socket, a LUKS image's payload, many clients at once; then the
server's defences, driven by a hand-written client over raw sockets.

Usage: nbd-server-interop.py QIO_NBD CERTS_SCRIPT

Given qemu-nbd as QIO_NBD, the same cases run against it (the stand-in they were
proven on): where qemu-nbd differs by design the case is skipped, and where QEMU 10
answers another error number than the protocol asks for, its own is expected.
NBD_INTEROP_ONLY=TEXT in the environment runs only the cases whose names contain TEXT.
"""

import contextlib
import filecmp
import functools
import json
import os
import random
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

from interop_tap import Skip, check, eventually, finish, run_cases
import nbd_server
from server_process import closed_within
from nbd_server import (CA_TEMPLATE, CLIENT_TEMPLATE, SERVER_TEMPLATE, Server, Spec,
                        is_qemu_nbd)

QIO_NBD, CERTS_SCRIPT = sys.argv[1:3]
QEMU = is_qemu_nbd(QIO_NBD)  # the stand-in
WORK = tempfile.mkdtemp(prefix="qio-nbd-interop-")
PKI = os.path.join(WORK, "pki")
TIMEOUT = 60  # seconds for any one program or socket read
MIB = 1 << 20
NAME = "disk"
PASSPHRASE = b"nbd interop passphrase"
# Random bytes 40-64 MiB long: a multiple of 512, never a power of two.
SIZE = 40 * MIB + random.randrange(1, 48 * 1024) * 512

# The protocol's numbers (examples/nbd/nbd-proto.h).
NBDMAGIC, IHAVEOPT, REP_MAGIC = 0x4E42444D41474943, 0x49484156454F5054, 0x0003E889045565A9
REQUEST_MAGIC, SIMPLE_REPLY_MAGIC = 0x25609513, 0x67446698
FLAG_FIXED_NEWSTYLE, FLAG_NO_ZEROES = 1, 2
OPT_EXPORT_NAME, OPT_ABORT, OPT_LIST, OPT_STARTTLS, OPT_INFO, OPT_GO = 1, 2, 3, 5, 6, 7
OPT_STRUCTURED_REPLY = 8
REP_ACK, REP_SERVER, REP_INFO = 1, 2, 3
REP_ERR_UNSUP, REP_ERR_INVALID, REP_ERR_TLS_REQD = (1 << 31) | 1, (1 << 31) | 3, (1 << 31) | 5
FLAG_READ_ONLY = 1 << 1
CMD_READ, CMD_WRITE, CMD_DISC, CMD_FLUSH, CMD_TRIM, CMD_WRITE_ZEROES = 0, 1, 2, 3, 4, 6
EPERM, EINVAL, ENOSPC, ENOMEM, EOVERFLOW = 1, 22, 28, 12, 75
MAX_STRING, MAX_BUFFER = 4096, 32 * MIB


def path(name):
    return os.path.join(WORK, name)


def run(*argv, ok=True, timeout=TIMEOUT):
    """ARGV's (returncode, stdout and stderr text); with OK, a failure raises."""
    proc = subprocess.run(argv, capture_output=True, timeout=timeout)
    out = (proc.stdout + proc.stderr).decode(errors="replace")
    if ok and proc.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (" ".join(argv), proc.returncode, out))
    return proc.returncode, out


def write_file(name, data):
    with open(path(name), "wb") as f:
        f.write(data)
    return path(name)


def read_file(name):
    with open(name, "rb") as f:
        return f.read()


def make_credentials():
    """examples/secure-console-certs.sh's set (server, client, mallory: ECDSA keys); RSA
    twins of the server and client for QEMU's programs, which want certificates that
    permit key encipherment; a client of another CA; a client without a certificate;
    PSK keys for alice (and a wrong one); the authz list file."""
    subprocess.run(["sh", CERTS_SCRIPT, PKI], check=True, timeout=TIMEOUT)
    issue = functools.partial(nbd_server.issue, PKI)
    issue("server-rsa", "server", SERVER_TEMPLATE, key_type="rsa")
    issue("client-rsa", "client", CLIENT_TEMPLATE % "console-user", key_type="rsa")
    issue("other-ca", "ca", CA_TEMPLATE % "another CA", ca=None)
    issue("other", "client", CLIENT_TEMPLATE % "console-user", ca="other-ca")
    os.makedirs(creds("nocert"))
    shutil.copy(creds("ca/ca-cert.pem"), creds("nocert"))
    for name in ("psk", "psk-wrong"):
        os.makedirs(creds(name))
        run("psktool", "-u", "alice", "-p", os.path.join(creds(name), "keys.psk"))
    write_file("authz.json", json.dumps({"policy": "deny", "rules": [
        {"match": "C=GB,O=qio demo,CN=console-user", "policy": "allow",
         "format": "exact"}]}).encode())


def creds(name):
    return os.path.join(PKI, name)


# --- servers

SERVERS = 0


def fresh_image(data=None):
    """A new copy of BASE (or DATA) for one server to serve."""
    global SERVERS
    SERVERS += 1
    return write_file("image-%d.raw" % SERVERS, read_file(BASE) if data is None else data)


def serve(image=None, **settings):
    """QIO_NBD serving IMAGE (a fresh copy of BASE) with SETTINGS (nbd_server.Spec's
    fields), listening once the `with` body starts."""
    image = image or fresh_image()
    return Server(QIO_NBD, Spec(image=image, name=NAME, **settings),
                  path("server-%d.log" % SERVERS))


def serve_tls(**settings):
    return serve(tls="x509", creds=creds("server-rsa" if QEMU else "server"), **settings)


def only_qio(reason):
    if QEMU:
        raise Skip("qemu-nbd " + reason)


def errors(expected, qemu_says):
    """The error numbers a request may get: EXPECTED (a set), what the protocol asks
    for; the stand-in's own if that differs (QEMU_SAYS)."""
    return qemu_says if QEMU else expected


# --- peers

QEMU_CLIENT = ("x509", "client-rsa")  # QEMU's certificate checks want an RSA key


def qemu_source(srv, client=QEMU_CLIENT, psk_user="alice"):
    """qemu-img/qemu-io arguments opening SRV's export through the nbd driver, with
    CLIENT's credentials (kind, directory under PKI) or none."""
    where = ("server.type=unix,server.path=" + srv.spec.unix if srv.spec.unix
             else "host=127.0.0.1,port=%d" % srv.port)
    opts = "driver=nbd,%s,export=%s" % (where, NAME)
    if not client:
        return ["--image-opts", opts]
    kind, name = client
    obj = "tls-creds-%s,id=tls0,dir=%s,endpoint=client" % (kind, creds(name))
    obj += ",username=" + psk_user if kind == "psk" else ""
    return ["--object", obj, "--image-opts", opts + ",tls-creds=tls0"]


def uri(srv, client="client", psk=None):
    """SRV's export as a libnbd URI: TLS with CLIENT's certificates or the PSK file
    PSK, or plaintext if CLIENT is None."""
    if srv.spec.unix:
        return "nbd+unix:///%s?socket=%s" % (NAME, srv.spec.unix)
    if psk:
        return "nbds://alice@127.0.0.1:%d/%s?tls-psk-file=%s" % (
            srv.port, NAME, os.path.join(creds(psk), "keys.psk"))
    if client is None:
        return "nbd://127.0.0.1:%d/%s" % (srv.port, NAME)
    return "nbds://127.0.0.1:%d/%s?tls-certificates=%s" % (srv.port, NAME, creds(client))


def qemu_io(srv, *commands, client=QEMU_CLIENT):
    """The output of qemu-io running COMMANDS on SRV's export; raises on a failure."""
    argv = ["qemu-io", *qemu_source(srv, client)]
    for command in commands:
        argv += ["-c", command]
    _, out = run(*argv)
    check("fail" not in out.lower(), "qemu-io %s: %s" % (commands, out))
    return out


def virtual_size(srv, client=QEMU_CLIENT):
    _, out = run("qemu-img", "info", *qemu_source(srv, client))
    return out


def nbdinfo_json(target):
    _, out = run("nbdinfo", "--json", target)
    return json.loads(out)["exports"][0]


def assert_refused(srv, target, what):
    """nbdinfo on TARGET fails, and SRV goes on serving."""
    rc, out = run("nbdinfo", target, ok=False)
    check(rc != 0, "%s was let in: %s" % (what, out))
    assert_serving(srv)


def assert_same(a, b, what):
    check(filecmp.cmp(a, b, shallow=False), "%s: %s and %s differ" % (what, a, b))


# --- a hand-driven client over raw sockets

def tls_context(name="client"):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(os.path.join(creds(name), "ca-cert.pem"))
    context.load_cert_chain(os.path.join(creds(name), "client-cert.pem"),
                            os.path.join(creds(name), "client-key.pem"))
    return context


def client_hello():
    """The first TLS record a client sends (a ClientHello), made by Python's ssl."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = tls_context().wrap_bio(incoming, outgoing, server_hostname="127.0.0.1")
    with contextlib.suppress(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def option_bytes(opt, data=b"", length=None):
    return struct.pack(">QII", IHAVEOPT, opt, len(data) if length is None else length) + data


def name_data(name=NAME.encode(), length=None):
    """The data of NBD_OPT_GO/INFO: the name (its length field LENGTH if given), no
    information requests."""
    return struct.pack(">I", len(name) if length is None else length) + name + b"\0\0"


def request_bytes(cmd, offset, length, handle=1, flags=0):
    return struct.pack(">IHHQQI", REQUEST_MAGIC, flags, cmd, handle, offset, length)


CLIENT_FLAGS = struct.pack(">I", FLAG_FIXED_NEWSTYLE | FLAG_NO_ZEROES)


class Raw:
    """One connection to SRV, every read bounded by TIMEOUT."""

    def __init__(self, srv, timeout=TIMEOUT):
        self.srv = srv
        if srv.spec.unix:
            self.sock = socket.socket(socket.AF_UNIX)
            self.sock.settimeout(timeout)
            self.sock.connect(srv.spec.unix)
        else:
            self.sock = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
        self.handle = 0

    def close(self):
        self.sock.close()

    def recv(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("the server closed after %d of %d bytes" % (len(data), n))
            data += chunk
        return data

    def greet(self):
        """Reads the greeting and answers it; returns the handshake flags."""
        magic, opts, flags = struct.unpack(">QQH", self.recv(18))
        check(magic == NBDMAGIC and opts == IHAVEOPT, "greeting %x %x" % (magic, opts))
        check(flags & FLAG_FIXED_NEWSTYLE, "not fixed newstyle: %#x" % flags)
        self.sock.sendall(CLIENT_FLAGS)
        return flags

    def reply(self, opt):
        """The next option reply to OPT: (type, data)."""
        magic, got, kind, length = struct.unpack(">QIII", self.recv(20))
        check(magic == REP_MAGIC and got == opt, "reply %x to option %d" % (magic, got))
        return kind, self.recv(length)

    def option(self, opt, data=b""):
        """Sends OPT; returns its first reply's type."""
        self.sock.sendall(option_bytes(opt, data))
        return self.reply(opt)[0]

    def starttls(self, name="client"):
        check(self.option(OPT_STARTTLS) == REP_ACK, "STARTTLS refused")
        self.sock = tls_context(name).wrap_socket(self.sock, server_hostname="127.0.0.1")

    def go(self, data=None, opt=OPT_GO):
        """NBD_OPT_GO (or INFO) with DATA (our export's): (final reply type, size,
        transmission flags)."""
        self.sock.sendall(option_bytes(opt, name_data() if data is None else data))
        size = flags = None
        while True:
            kind, data = self.reply(opt)
            if kind == REP_INFO and data[:2] == b"\0\0":
                size, flags = struct.unpack(">QH", data[2:12])
            elif kind != REP_INFO:
                return kind, size, flags

    def negotiate(self):
        """Greeting, STARTTLS if the server has x509, GO: the export's (size, flags)."""
        self.greet()
        if self.srv.spec.tls:
            self.starttls()
        kind, size, flags = self.go()
        check(kind == REP_ACK, "NBD_OPT_GO answered %#x" % kind)
        return size, flags

    def request(self, cmd, offset, length, data=b""):
        """One request with simple replies: (error, data read)."""
        self.handle += 1
        self.sock.sendall(request_bytes(cmd, offset, length, self.handle) + data)
        magic, error, handle = struct.unpack(">IIQ", self.recv(16))
        check(magic == SIMPLE_REPLY_MAGIC and handle == self.handle,
              "reply %#x for handle %d" % (magic, handle))
        return error, self.recv(length) if cmd == CMD_READ and error == 0 else b""

    def closed_within(self, seconds):
        """Whether the server closes the connection within SECONDS."""
        return closed_within(self.sock, seconds)


def assert_serving(srv):
    """SRV is up and a new client reads the export's first 4 KiB."""
    check(srv.proc.poll() is None, "the server exited %s: %s" % (srv.proc.returncode, srv.log()))
    if srv.spec.tls == "psk":  # Python's ssl has no PSK before 3.13
        check(nbdinfo_json(uri(srv, psk="psk"))["export-size"] > 0, "nbdinfo")
        return
    conn = Raw(srv)
    try:
        conn.negotiate()
        error, data = conn.request(CMD_READ, 0, 4096)
        check(error == 0 and len(data) == 4096, "READ after the fact: error %d" % error)
        if not srv.spec.luks_key:
            check(data == read_file(srv.spec.image)[:4096], "READ returned other data")
    finally:
        conn.close()


# --- cases with real clients

def qemu_img_info():
    with serve_tls() as srv:
        out = virtual_size(srv)
        check("(%d bytes)" % SIZE in out, "qemu-img info does not show %d bytes: %s" % (SIZE, out))


def qemu_img_convert(server, client):
    """qemu-img convert copies the export to a raw file identical to the served one."""
    with server() as srv:
        out = path("converted.raw")
        run("qemu-img", "convert", *qemu_source(srv, client), "-O", "raw", out)
        assert_same(out, srv.spec.image, "qemu-img convert's copy")


def expected_after_write(image, offset, length, byte):
    data = bytearray(read_file(image))
    data[offset:offset + length] = bytes([byte]) * length
    return bytes(data)


def qemu_io_write():
    """qemu-io writes a pattern, reads it back; the served file changed there only."""
    offset, length = 3 * MIB + 7 * 512 + 100, 65536 + 4000
    with serve_tls() as srv:
        expected = expected_after_write(srv.spec.image, offset, length, 0xAB)
        qemu_io(srv, "write -P 0xab %d %d" % (offset, length),
                "read -P 0xab %d %d" % (offset, length))
        check(read_file(srv.spec.image) == expected, "the served file differs outside the write")


def qemu_io_readonly():
    with serve_tls(readonly=True) as srv:
        before = read_file(srv.spec.image)
        rc, out = run("qemu-io", *qemu_source(srv), "-c", "write -P 0xab 0 4096", ok=False)
        check(rc != 0 or "fail" in out.lower(), "the write passed: " + out)
        check(any(s in out for s in ("read-only", "Read-only", "not permitted",
                                     "Permission denied")),
              "qemu-io's failure is not about a read-only export: " + out)
        check(read_file(srv.spec.image) == before, "the read-only file changed")
        assert_serving(srv)


def nbdinfo_tls():
    with serve_tls(readonly=True) as srv:
        _, out = run("nbdinfo", uri(srv))
        check("export-size: %d" % SIZE in out and "is_read_only: true" in out,
              "nbdinfo's size or read-only flag: " + out)
        info = nbdinfo_json(uri(srv))
        check(info["export-name"] == NAME and info["export-size"] == SIZE
              and info["is_read_only"] is True, "nbdinfo --json: %s" % info)
    with serve_tls() as srv:
        check(nbdinfo_json(uri(srv))["is_read_only"] is False, "writable export shown read-only")


def nbdcopy_both_ways(server, target):
    """nbdcopy copies the whole export to a file, then a new file into the export."""
    with server() as srv:
        out = path("nbdcopy.raw")
        run("nbdcopy", target(srv), out)
        assert_same(out, srv.spec.image, "nbdcopy's copy")
        incoming = write_file("incoming.raw", os.urandom(SIZE))
        run("nbdcopy", incoming, target(srv))
        srv.stop()
        assert_same(incoming, srv.spec.image, "the export after nbdcopy into it")


def plaintext_client_refused():
    with serve_tls() as srv:
        assert_refused(srv, uri(srv, client=None), "a plaintext client")


def no_certificate_refused():
    with serve_tls() as srv:
        assert_refused(srv, uri(srv, "nocert"), "a client without a certificate")


def other_ca_refused():
    with serve_tls() as srv:
        assert_refused(srv, uri(srv, "other"), "a client certificate from another CA")


def authz_list():
    with serve_tls(authz=path("authz.json")) as srv:
        assert_refused(srv, uri(srv, "mallory"), "CN=mallory, not on the authz list")
        check(nbdinfo_json(uri(srv))["export-size"] == SIZE, "console-user not let in")


def psk():
    with serve(tls="psk", creds=creds("psk")) as srv:
        out = virtual_size(srv, client=("psk", "psk"))
        check("(%d bytes)" % SIZE in out, "qemu-img info over PSK: " + out)
        check(nbdinfo_json(uri(srv, psk="psk"))["export-size"] == SIZE, "nbdinfo over PSK")
        assert_refused(srv, uri(srv, psk="psk-wrong"), "the wrong PSK")


def unix_socket():
    def server():
        return serve(unix=path("nbd.sock"))

    nbdcopy_both_ways(server, uri)
    with server() as srv:
        check(nbdinfo_json(uri(srv))["export-size"] == SIZE, "nbdinfo over a UNIX socket")
        assert_serving(srv)


# --- LUKS

def luks_image():
    """A 32 MiB LUKS image (passphrase PASSPHRASE) holding 0x5a in its first MiB and
    0xa5 in 64 KiB at 5 MiB."""
    image = path("luks-%d.img" % random.randrange(1 << 30))
    secret = "secret,id=sec0,data=" + PASSPHRASE.decode()
    run("qemu-img", "create", "-f", "luks", "--object", secret,
        "-o", "key-secret=sec0,iter-time=10", image, "32M")
    run("qemu-io", "--object", secret, "--image-opts",
        "driver=luks,key-secret=sec0,file.filename=" + image,
        "-c", "write -P 0x5a 0 1M", "-c", "write -P 0xa5 5M 64k")
    return image


def serve_luks(passphrase=PASSPHRASE):
    return serve_tls(image=luks_image(), luks_key=write_file("luks-key", passphrase))


def luks_read():
    with serve_luks() as srv:
        out = path("luks-plain.raw")
        run("qemu-img", "convert", *qemu_source(srv), "-O", "raw", out)
        data = read_file(out)
        check(len(data) == 32 * MIB, "the payload is %d bytes, not 32 MiB" % len(data))
        check(data[:MIB] == b"\x5a" * MIB and data[5 * MIB:5 * MIB + 65536] == b"\xa5" * 65536,
              "the payload does not hold qemu-io's patterns")


def luks_write():
    """Through the server, a write not aligned to sectors; qemu-io reads it from the
    image itself."""
    offset, length = 2 * MIB + 100, 5000
    with serve_luks() as srv:
        qemu_io(srv, "write -P 0x3c %d %d" % (offset, length))
    _, out = run("qemu-io", "--object", "secret,id=sec0,data=" + PASSPHRASE.decode(),
                 "--image-opts", "driver=luks,key-secret=sec0,file.filename=" + srv.spec.image,
                 "-c", "read -P 0x3c %d %d" % (offset, length), "-c", "read -P 0x5a 0 1M")
    check("fail" not in out.lower(), "qemu-io reading the image: " + out)


def luks_wrong_passphrase():
    srv = serve_luks(b"not the passphrase")
    try:
        rc = srv.proc.wait(TIMEOUT)
        check(rc != 0 and srv.log().strip(), "exit %d, log %r" % (rc, srv.log()))
    finally:
        srv.stop()


def unservable_files():
    """A directory, a FIFO and a missing path are refused at start, each with its reason
    (a FIFO at once, not after waiting for a writer)."""
    if QEMU:
        raise Skip("qemu-nbd's messages differ")
    fifo = path("fifo")
    os.mkfifo(fifo)
    for target, readonly, reason in ((WORK, [], "Is a directory"),
                                     (WORK, ["-r"], "not a regular file or a block device"),
                                     (fifo, [], "not a regular file or a block device"),
                                     (fifo, ["-r"], "not a regular file or a block device"),
                                     (path("missing"), [], "No such file or directory")):
        proc = subprocess.run([QIO_NBD, "-p", "0", *readonly, target], capture_output=True,
                              timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        err = proc.stderr.decode(errors="replace")
        check(proc.returncode == 1 and reason in err,
              "%s %s: exit %d, %r" % (target, readonly, proc.returncode, err))


# --- many clients

def parallel_clients():
    """8 clients at once (4 nbdcopy, 4 qemu-img convert) each copy the whole export."""
    with serve_tls() as srv:
        procs = []
        for i in range(8):
            out = path("parallel-%d.raw" % i)
            argv = (["nbdcopy", uri(srv), out] if i % 2 else
                    ["qemu-img", "convert", *qemu_source(srv), "-O", "raw", out])
            procs.append((argv, out, subprocess.Popen(argv, stdout=subprocess.PIPE,
                                                      stderr=subprocess.STDOUT)))
        for argv, out, proc in procs:
            text = finish(proc, 3 * TIMEOUT)[0].decode(errors="replace")
            check(proc.returncode == 0, "%s exited %d: %s" % (argv[0], proc.returncode, text))
            assert_same(out, srv.spec.image, argv[0] + "'s copy")
            os.unlink(out)


# --- defences, over raw sockets

def peak_memory_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))


def huge_option(tls):
    """An option announcing 0x7fffffff bytes is refused at once, before STARTTLS and
    after: the connection closes without the server waiting for (or allocating) them."""
    with (serve_tls if tls else serve)() as srv:
        for after_starttls in ([False, True] if tls else [False]):
            peak = peak_memory_kib(srv.proc.pid)
            conn = Raw(srv)
            conn.greet()
            if after_starttls:
                conn.starttls()
            conn.sock.sendall(option_bytes(OPT_GO, name_data(), length=0x7FFFFFFF))
            check(conn.closed_within(5), "the connection stayed open")
            conn.close()
            grown = peak_memory_kib(srv.proc.pid) - peak
            check(grown < 64 * 1024, "the server's peak memory grew by %d KiB" % grown)
            assert_serving(srv)


def long_names(tls):
    """NBD_OPT_GO and INFO with a name longer than 4096 bytes, or a name length past
    the option's end: NBD_REP_ERR_INVALID (or a close), and the server goes on."""
    bad = [name_data(b"x" * (MAX_STRING + 1)), name_data(b"x" * 5000),
           name_data(length=0xFFFFFFF0), name_data(length=MAX_STRING + 1)]
    with (serve_tls if tls else serve)() as srv:
        for data in bad:
            for opt in (OPT_GO, OPT_INFO):
                conn = Raw(srv)
                conn.greet()
                if tls:
                    conn.starttls()
                try:
                    kind = conn.go(data, opt)[0]
                except EOFError:
                    kind = None
                check(kind in (REP_ERR_INVALID, None),
                      "option %d, name length field %d: reply %#x"
                      % (opt, struct.unpack(">I", data[:4])[0], kind))
                if kind is not None:  # still negotiating: our export is there
                    check(conn.go()[0] == REP_ACK, "GO after the refusal")
                conn.close()
        assert_serving(srv)


def tls_required():
    """With TLS configured, options before STARTTLS get NBD_REP_ERR_TLS_REQD; ABORT
    ends the connection; EXPORT_NAME closes it."""
    with serve_tls() as srv:
        conn = Raw(srv)
        conn.greet()
        for opt, data in [(OPT_LIST, b""), (OPT_GO, name_data()), (OPT_INFO, name_data()),
                          (OPT_STRUCTURED_REPLY, b""), (0x1234, b"abc")]:
            kind = conn.option(opt, data)
            check(kind == REP_ERR_TLS_REQD, "option %d before STARTTLS: %#x" % (opt, kind))
        conn.sock.sendall(option_bytes(OPT_ABORT))
        with contextlib.suppress(EOFError):  # a reply is optional; QEMU's is TLS_REQD
            kind = conn.reply(OPT_ABORT)[0]
            check(kind in (REP_ACK, REP_ERR_TLS_REQD), "ABORT answered %#x" % kind)
        check(conn.closed_within(5), "ABORT did not end the connection")
        conn.close()
        conn = Raw(srv)
        conn.greet()
        conn.sock.sendall(option_bytes(OPT_EXPORT_NAME, NAME.encode()))
        check(conn.closed_within(5), "EXPORT_NAME before STARTTLS did not close")
        conn.close()
        assert_serving(srv)


def unknown_option(tls):
    with (serve_tls if tls else serve)() as srv:
        conn = Raw(srv)
        conn.greet()
        if tls:
            conn.starttls()
        kind = conn.option(0x1234, b"abc")
        check(kind == REP_ERR_UNSUP, "an unknown option answered %#x" % kind)
        check(conn.go()[0] == REP_ACK, "GO after an unknown option")
        error, _ = conn.request(CMD_READ, 0, 512)
        check(error == 0, "READ: error %d" % error)
        conn.close()


LIMIT = 2  # the --handshake-limit of these cases, in seconds


def assert_closed_at_deadline(started, conn, what):
    closed = conn.closed_within(12 - (time.monotonic() - started))
    elapsed = time.monotonic() - started
    check(closed and 1.5 <= elapsed <= 8,
          "%s: %s after %.1f s (limit %d s)" % (what, "closed" if closed else "open",
                                                elapsed, LIMIT))


def handshake_limit(tls):
    """A silent client is closed at the deadline; a client in transmission is not."""
    with (serve_tls if tls else serve)(handshake_limit=LIMIT) as srv:
        started = time.monotonic()
        idle = Raw(srv)
        idle.recv(18)
        assert_closed_at_deadline(started, idle, "a silent client")
        idle.close()
        conn = Raw(srv)
        conn.negotiate()
        time.sleep(LIMIT + 1.5)
        error, _ = conn.request(CMD_READ, 0, 4096)
        check(error == 0, "READ after waiting in transmission: error %d" % error)
        conn.close()


def dribble(tls):
    """A valid negotiation sent a byte every 0.5 s is closed at the deadline: the limit
    covers the whole negotiation, not only TLS."""
    transcript = CLIENT_FLAGS + (option_bytes(OPT_STARTTLS) + client_hello() if tls
                                 else option_bytes(OPT_GO, name_data()))
    check(len(transcript) * 0.5 > 3 * LIMIT, "transcript too short to outlast the limit")
    with (serve_tls if tls else serve)(handshake_limit=LIMIT) as srv:
        started = time.monotonic()
        conn = Raw(srv)
        conn.recv(18)
        for byte in transcript:
            try:
                conn.sock.sendall(bytes([byte]))
            except OSError:
                break  # closed
            if conn.closed_within(0.5):
                break
        assert_closed_at_deadline(started, conn, "a dribbling client")
        conn.close()
        assert_serving(srv)


def max_clients():
    """With -e 3, a fourth connection is closed at once; the three work on; a slot
    freed serves the next client."""
    only_qio("stops accepting past --shared (the connection waits in the backlog)")
    with serve_tls(max_clients=3) as srv:
        conns = [Raw(srv) for _ in range(3)]
        for conn in conns:
            conn.greet()
        fourth = Raw(srv)
        check(fourth.closed_within(2), "the fourth connection was not closed")
        fourth.close()
        for conn in conns:
            conn.starttls()
            check(conn.go()[0] == REP_ACK, "GO on one of the three")
            check(conn.request(CMD_READ, 0, 4096)[0] == 0, "READ on one of the three")
        conns.pop().close()
        # The server notices the close in its own time.
        eventually(lambda: assert_serving(srv), 5, "the freed slot did not serve a client")
        for conn in conns:
            conn.close()


def vanishing_clients(tls):
    """Clients that close after each byte of a valid transcript (for TLS, through the
    ClientHello) leave the server serving."""
    if tls:
        hello = client_hello()
        prefix = CLIENT_FLAGS + option_bytes(OPT_STARTTLS)
        cuts = [(prefix + hello)[:k] for k in range(len(prefix) + 1)]
        cuts += [prefix + hello[:k] for k in range(1, len(hello) + 1, 11)]
    else:
        transcript = (CLIENT_FLAGS + option_bytes(OPT_LIST) + option_bytes(OPT_GO, name_data())
                      + request_bytes(CMD_READ, 0, 512) + request_bytes(CMD_DISC, 0, 0, 2))
        cuts = [transcript[:k] for k in range(len(transcript) + 1)]
    with (serve_tls if tls else serve)() as srv:
        for cut in cuts:
            conn = Raw(srv)
            conn.recv(18)
            conn.sock.sendall(cut)
            conn.close()
        if tls:  # and at each step after the TLS handshake
            for step in range(3):
                conn = Raw(srv)
                conn.greet()
                conn.starttls()
                if step >= 1:
                    conn.go()
                if step >= 2:
                    conn.sock.sendall(request_bytes(CMD_READ, 0, 65536))
                conn.close()
        assert_serving(srv)


def out_of_bounds():
    """Requests past the end or over 32 MiB, or of an unknown command, get the
    protocol's errors; the connection and the server go on."""
    with serve() as srv:
        conn = Raw(srv)
        size, _ = conn.negotiate()
        check(size == SIZE, "size %s" % size)
        for cmd, offset, length, data, allowed in [
            (CMD_READ, size - 512, 1024, b"", {EINVAL}),
            (CMD_READ, size + 4096, 512, b"", {EINVAL}),
            (CMD_READ, (1 << 64) - 512, 1024, b"", {EINVAL}),
            # QEMU 10 answers a write past the end EINVAL.
            (CMD_WRITE, size - 512, 1024, b"\1" * 1024, errors({ENOSPC}, {EINVAL})),
            (CMD_WRITE_ZEROES, size - 512, 1024, b"", errors({ENOSPC}, {EINVAL})),
            (CMD_TRIM, size - 512, 1024, b"", {EINVAL}),
            (CMD_READ, 0, MAX_BUFFER + 4096, b"", {EINVAL, ENOMEM, EOVERFLOW}),
            (42, 0, 512, b"", {EINVAL}),  # an unknown command
        ]:
            error, _ = conn.request(cmd, offset, length, data)
            check(error in allowed, "command %d at %d length %d: error %d, not %s"
                  % (cmd, offset, length, error, allowed))
        error, data = conn.request(CMD_READ, size - 512, 512)
        check(error == 0 and data == read_file(srv.spec.image)[-512:], "the last sector")
        conn.close()
        srv_image = read_file(srv.spec.image)
        check(srv_image == read_file(BASE), "a refused request changed the file")
        assert_serving(srv)


def readonly_requests():
    with serve(readonly=True) as srv:
        conn = Raw(srv)
        _, flags = conn.negotiate()
        check(flags & FLAG_READ_ONLY, "transmission flags %#x lack READ_ONLY" % flags)
        for cmd, data in [(CMD_WRITE, b"\1" * 4096), (CMD_TRIM, b""), (CMD_WRITE_ZEROES, b"")]:
            error, _ = conn.request(cmd, 0, 4096, data)
            # QEMU 10 answers what it does not advertise EINVAL.
            check(error in errors({EPERM}, {EINVAL}),
                  "command %d on a read-only export: error %d" % (cmd, error))
        for cmd in (CMD_READ, CMD_FLUSH):
            error, _ = conn.request(cmd, 0, 4096 if cmd == CMD_READ else 0)
            check(error == 0, "command %d on a read-only export: error %d" % (cmd, error))
        conn.close()
        check(read_file(srv.spec.image) == read_file(BASE), "the read-only file changed")


def plain_and_tls(name, case):
    return [(name + " (plaintext)", lambda: case(False)), (name + " (TLS)", lambda: case(True))]


CASES = [
    ("qemu-img info over TLS shows the virtual size", qemu_img_info),
    ("qemu-img convert over TLS copies the export byte for byte",
     lambda: qemu_img_convert(serve_tls, QEMU_CLIENT)),
    ("qemu-io write then read over TLS changes the file there only", qemu_io_write),
    ("qemu-io write to a read-only (-r) export fails, the file unchanged", qemu_io_readonly),
    ("nbdinfo over TLS: size, read-only flag, --json", nbdinfo_tls),
    ("nbdcopy over TLS: the export to a file and a file into the export",
     lambda: nbdcopy_both_ways(serve_tls, uri)),
    ("refused: a plaintext client of a TLS server", plaintext_client_refused),
    ("refused: a client without a certificate", no_certificate_refused),
    ("refused: a client certificate another CA signed", other_ca_refused),
    ("--tls-authz: CN=mallory refused, CN=console-user let in", authz_list),
    ("PSK: qemu-img and nbdinfo let in, the wrong key refused", psk),
    ("plaintext server: qemu-img convert", lambda: qemu_img_convert(serve, None)),
    ("plaintext server: nbdcopy both ways",
     lambda: nbdcopy_both_ways(serve, lambda srv: uri(srv, client=None))),
    ("UNIX socket (-k): nbdcopy both ways, nbdinfo", unix_socket),
    ("LUKS over TLS: qemu-img convert reads the plaintext", luks_read),
    ("LUKS: an unaligned write through the server, read back by qemu-io", luks_write),
    ("LUKS: the wrong passphrase ends the server with an error", luks_wrong_passphrase),
    ("a directory, a FIFO or a missing file is refused at start", unservable_files),
    ("8 clients at once over TLS", parallel_clients),
    *plain_and_tls("an option of 0x7fffffff bytes closes at once", huge_option),
    *plain_and_tls("names over 4096 bytes get NBD_REP_ERR_INVALID", long_names),
    ("before STARTTLS: TLS_REQD, ABORT, EXPORT_NAME closes", tls_required),
    *plain_and_tls("an unknown option gets NBD_REP_ERR_UNSUP", unknown_option),
    *plain_and_tls("--handshake-limit closes a silent client, not a transmitting one",
                   handshake_limit),
    *plain_and_tls("--handshake-limit closes a dribbling negotiation", dribble),
    ("-e 3: the fourth connection is closed at once", max_clients),
    *plain_and_tls("clients vanishing at every step of the negotiation", vanishing_clients),
    ("requests out of bounds or over 32 MiB get error replies", out_of_bounds),
    ("WRITE, TRIM, WRITE_ZEROES on a read-only export: EPERM", readonly_requests),
]

try:
    make_credentials()
    BASE = write_file("base.raw", os.urandom(SIZE))
    only = os.environ.get("NBD_INTEROP_ONLY")  # a substring of the names to run
    status = run_cases([case for case in CASES if not only or only in case[0]])
finally:
    shutil.rmtree(WORK)
sys.exit(status)
