# SPDX-License-Identifier: LGPL-2.1-or-later
"""Times `nbdcopy --connections=1 --no-extents URI null:` of a whole export over TLS 1.3
restricted to AES-128-GCM, served by qio-nbd and by qemu-nbd, taking turns; first a
raw file, then the decrypted payload of a LUKS image. Prints the median seconds of
each server and the ratio qemu-nbd / qio-nbd (above 1: qio-nbd is faster).

Usage: bench-nbd.py [--size 1G] [--rounds 5] [--dir /dev/shm] [--qemu-nbd qemu-nbd]
                    QIO_NBD [CERTS_SCRIPT]

Given qemu-nbd as QIO_NBD, both columns are qemu-nbd's (a dry run). The files live in
--dir (tmpfs by default) and are read once before the first round, so the disk does
not count; nbdcopy throws the data away. No figure is checked.
"""

import argparse
import os
import shutil
import socket
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # nothing written into the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "ctests"))
from nbd_server import SERVER_TEMPLATE, Server, Spec, issue  # noqa: E402

PRIORITY = "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+AES-128-GCM"
PASSPHRASE = "qio-bench"
TIMEOUT = 600  # seconds for one copy


def size_arg(text):
    """A size in bytes, with an optional K, M or G suffix (powers of 1024)."""
    units = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    if text[-1:].upper() in units:
        return int(text[:-1]) * units[text[-1].upper()]
    return int(text)


def run(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=TIMEOUT)


def make_images(work, size):
    """SIZE random bytes in raw.img, and a LUKS image with a SIZE-byte payload (its
    key in luks.key), both read once into the page cache."""
    raw, luks, key = (os.path.join(work, n) for n in ("raw.img", "luks.img", "luks.key"))
    with open("/dev/urandom", "rb") as src, open(raw, "wb") as dst:
        for _ in range(0, size, 1 << 20):
            dst.write(src.read(1 << 20))
    with open(key, "w") as f:
        f.write(PASSPHRASE)
    secret = "secret,id=sec0,data=" + PASSPHRASE
    run("qemu-img", "convert", "-f", "raw", "-O", "luks", "--object", secret,
        "-o", "key-secret=sec0,iter-time=10", raw, luks)
    for name in (raw, luks):
        with open(name, "rb") as f:
            while f.read(1 << 24):
                pass
    return raw, luks, key


def negotiated_cipher(srv, client):
    """The TLS version and cipher a STARTTLS to SRV agrees on (Python's ssl), to show
    that the priority string took hold."""
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
        sock.recv(18, socket.MSG_WAITALL)
        sock.sendall(struct.pack(">IQII", 3, 0x49484156454F5054, 5, 0))  # STARTTLS
        sock.recv(20, socket.MSG_WAITALL)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.load_verify_locations(os.path.join(client, "ca-cert.pem"))
        context.load_cert_chain(os.path.join(client, "client-cert.pem"),
                                os.path.join(client, "client-key.pem"))
        with context.wrap_socket(sock, server_hostname="127.0.0.1") as tls:
            return "%s %s" % (tls.version(), tls.cipher()[0])


def copy_seconds(srv, client):
    uri = "nbds://127.0.0.1:%d/%s?tls-certificates=%s" % (srv.port, srv.spec.name, client)
    start = time.monotonic()
    run("nbdcopy", "--connections=1", "--no-extents", uri, "null:")
    return time.monotonic() - start


def measure(programs, spec_of, rounds, client, logdir):
    """Each program in PROGRAMS serving spec_of(), both up at once; ROUNDS copies from
    each, the order reversed every other round. Returns {program: [seconds]}."""
    times = {p: [] for p in programs}
    servers = [Server(p, spec_of(), os.path.join(logdir, "server-%d.log" % i))
               for i, p in enumerate(programs)]
    try:
        for srv in servers:
            srv.wait_ready()
            print("# %s: %s" % (srv.argv[0], negotiated_cipher(srv, client)), file=sys.stderr)
        for r in range(rounds):
            for srv in (servers if r % 2 == 0 else servers[::-1]):
                times[srv.argv[0]].append(copy_seconds(srv, client))
            print("# round %d: %s" % (r + 1, ", ".join(
                "%s %.2f s" % (p, times[p][-1]) for p in programs)), file=sys.stderr)
    finally:
        for srv in servers:
            srv.stop()
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("qio_nbd")
    parser.add_argument("certs_script", nargs="?", default=os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "examples", "secure-console-certs.sh"))
    parser.add_argument("--size", type=size_arg, default=1 << 30)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--dir", default="/dev/shm")
    parser.add_argument("--qemu-nbd", default="qemu-nbd")
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="qio-bench-nbd-", dir=args.dir)
    try:
        pki = os.path.join(work, "pki")
        subprocess.run(["sh", args.certs_script, pki], check=True, timeout=60)
        # The same RSA server certificate for both: qemu-nbd refuses the script's ECDSA one.
        issue(pki, "server-rsa", "server", SERVER_TEMPLATE, key_type="rsa")
        client = os.path.join(pki, "client")
        raw, luks, key = make_images(work, args.size)
        tls = dict(name="bench", tls="x509", creds=os.path.join(pki, "server-rsa"),
                   priority=PRIORITY, readonly=True)
        programs = [args.qemu_nbd, args.qio_nbd]
        if args.qemu_nbd == args.qio_nbd:  # a dry run: the same program twice
            programs = [args.qemu_nbd, os.path.abspath(shutil.which(args.qio_nbd))]
        print("nbdcopy of %d MiB over TLS 1.3 AES-128-GCM, median of %d rounds, load %s"
              % (args.size >> 20, args.rounds, open("/proc/loadavg").read().split()[0]))
        print()
        print("| export | qemu-nbd s | qio-nbd s | qemu-nbd MB/s | qio-nbd MB/s "
              "| qemu-nbd / qio-nbd |")
        print("|---|--:|--:|--:|--:|--:|")
        for label, spec_of in [
            ("raw file", lambda: Spec(image=raw, **tls)),
            ("LUKS payload", lambda: Spec(image=luks, luks_key=key, **tls)),
        ]:
            times = measure(programs, spec_of, args.rounds, client, work)
            qemu, qio = (statistics.median(times[p]) for p in programs)
            print("| %s | %.2f | %.2f | %.0f | %.0f | %.2f |" % (
                label, qemu, qio, args.size / qemu / 1e6, args.size / qio / 1e6, qemu / qio))
            sys.stdout.flush()
    finally:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
