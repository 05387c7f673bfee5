# SPDX-License-Identifier: LGPL-2.1-or-later
"""One NBD server to test or time: qio-nbd, or qemu-nbd given the same settings (the
reference, and the stand-in the tests were proven against). Shared by
ctests/nbd-server-interop.py and bench/bench-nbd.py."""

import dataclasses
import json
import os
import shutil
import subprocess
import time

from server_process import ServerProcess, free_port, listening

START_TIMEOUT = 30  # seconds for a server to listen (a LUKS unlock takes ~1 s of them)


@dataclasses.dataclass
class Spec:
    """What a server serves, and how. Both implementations take every field."""
    image: str
    name: str = "disk"
    tls: str | None = None          # None (plaintext), "x509" or "psk"
    creds: str | None = None        # the credentials' directory, QEMU's layout
    authz: str | None = None        # a QAuthZ list file (JSON)
    priority: str | None = None     # a gnutls priority string
    luks_key: str | None = None     # a file holding the LUKS passphrase: IMAGE is LUKS
    readonly: bool = False
    unix: str | None = None         # a UNIX socket path instead of 127.0.0.1:PORT
    max_clients: int = 100
    handshake_limit: int | None = None


def qio_nbd_argv(program, spec, port):
    argv = [program, "-x", spec.name, "-e", str(spec.max_clients)]
    argv += ["-k", spec.unix] if spec.unix else ["-b", "127.0.0.1", "-p", str(port)]
    if spec.tls:
        argv += ["--tls-creds" if spec.tls == "x509" else "--tls-creds-psk", spec.creds]
    for flag, value in [("--tls-authz", spec.authz), ("--tls-priority", spec.priority),
                        ("--luks-secret", spec.luks_key),
                        ("--handshake-limit", spec.handshake_limit)]:
        if value is not None:
            argv += [flag, str(value)]
    return argv + (["-r"] if spec.readonly else []) + [spec.image]


def qemu_nbd_argv(program, spec, port):
    argv = [program, "--persistent", "-x", spec.name, "--shared=%d" % spec.max_clients]
    argv += ["-k", spec.unix] if spec.unix else ["-b", "127.0.0.1", "-p", str(port)]
    if spec.tls:
        creds = "tls-creds-%s,id=tls0,dir=%s,endpoint=server" % (spec.tls, spec.creds)
        creds += ",verify-peer=on" if spec.tls == "x509" else ""
        creds += ",priority=" + spec.priority if spec.priority else ""
        argv += ["--object", creds, "--tls-creds", "tls0"]
    if spec.authz:
        # qemu-nbd 10.0 lists authz-list-file but refuses to create one (QAPI knows
        # it as authz-listfile): the file's rules go in as an authz-list object.
        with open(spec.authz) as f:
            rules = json.load(f)
        argv += ["--object", json.dumps({"qom-type": "authz-list", "id": "authz0", **rules}),
                 "--tls-authz", "authz0"]
    if spec.handshake_limit is not None:
        argv += ["--handshake-limit=%d" % spec.handshake_limit]
    argv += ["-r"] if spec.readonly else []
    if spec.luks_key:
        return argv + ["--object", "secret,id=sec0,file=" + spec.luks_key, "--image-opts",
                       "driver=luks,key-secret=sec0,file.filename=" + spec.image]
    return argv + ["-f", "raw", spec.image]


def is_qemu_nbd(program):
    return os.path.basename(program) == "qemu-nbd"


def server_argv(program, spec, port):
    """PROGRAM's command line serving SPEC on PORT: qemu-nbd's if PROGRAM is named so."""
    return (qemu_nbd_argv if is_qemu_nbd(program) else qio_nbd_argv)(program, spec, port)


# certtool templates: a CA, a client (its CN to fill in), the server of 127.0.0.1.
CA_TEMPLATE = 'cn = "%s"\nca\ncert_signing_key\n'
CLIENT_TEMPLATE = ('country = GB\norganization = "qio demo"\ncn = "%s"\ntls_www_client\n'
                   'signing_key\nencryption_key\n')
SERVER_TEMPLATE = ('organization = "qio demo"\ncn = "localhost"\ndns_name = "localhost"\n'
                   'ip_address = "127.0.0.1"\ntls_www_server\nsigning_key\nencryption_key\n')


def issue(pki, subdir, role, template, ca="ca", key_type="ecdsa"):
    """certtool's PKI/SUBDIR/ROLE-key.pem and ROLE-cert.pem for TEMPLATE, signed by
    PKI/CA (self-signed if CA is None), beside PKI/ca/ca-cert.pem (the CA of
    examples/secure-console-certs.sh). QEMU's programs refuse a certificate whose key
    usage does not permit key encipherment, which an ECDSA key cannot: give them
    KEY_TYPE "rsa"."""
    out = os.path.join(pki, subdir)
    os.makedirs(out, exist_ok=True)
    key, cert, info = ("%s/%s-%s.pem" % (out, role, kind) for kind in ("key", "cert", "info"))
    with open(info, "w") as f:
        f.write(template + "expiration_days = 1\n")
    signer = (["--generate-self-signed"] if ca is None else
              ["--generate-certificate",
               "--load-ca-certificate", os.path.join(pki, ca, "ca-cert.pem"),
               "--load-ca-privkey", os.path.join(pki, ca, "ca-key.pem")])
    for argv in (["--generate-privkey", "--key-type=" + key_type, "--outfile", key],
                 signer + ["--load-privkey", key, "--template", info, "--outfile", cert]):
        subprocess.run(["certtool", *argv], check=True, capture_output=True, timeout=60)
    os.unlink(info)
    if role != "ca":
        shutil.copy(os.path.join(pki, "ca", "ca-cert.pem"), out)


class Server(ServerProcess):
    """PROGRAM serving SPEC on a fresh port, its stderr in LOG; a context manager that
    kills it on exit."""

    def __init__(self, program, spec, log):
        self.spec, self.port, self.log_path = spec, free_port(), log
        self.argv = server_argv(program, spec, self.port)
        with open(log, "wb") as err:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err)

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while not (os.path.exists(self.spec.unix) if self.spec.unix
                   else listening(self.port)):
            if self.proc.poll() is not None:
                raise AssertionError("%s exited %d: %s" % (" ".join(self.argv),
                                                          self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise AssertionError("%s did not listen within %d s"
                                     % (" ".join(self.argv), START_TIMEOUT))
            time.sleep(0.05)
        return self
