# SPDX-License-Identifier: LGPL-2.1-or-later
"""One VNC server to test: qio-vnc-demo (examples/vnc), or QEMU's own VNC server
given the same settings, the stand-in the tests were proven against. QEMU is any
qemu-system-* binary; one unpacked from Debian packages into ROOT/usr/bin finds its
firmware in ROOT/usr/share and its libraries in ROOT/usr/lib and ROOT/lib. It runs a
stopped guest (-S), so its picture, the firmware's placeholder, never changes."""

import dataclasses
import json
import os
import random
import socket
import subprocess
import time

from server_process import ServerProcess, listening

START_TIMEOUT = 30  # seconds for a server to listen


@dataclasses.dataclass
class Spec:
    """What a server offers. Both implementations take every field, except that QEMU
    knows no size, handshake limit or maximum of clients."""
    tls: str | None = None          # None, "x509" (client certificates required) or "anon"
    creds: str | None = None        # the x509 credentials' directory, QEMU's layout
    password: str | None = None     # VNC Authentication's password
    authz: str | None = None        # a QAuthZ list file (JSON) for the client DN
    size: tuple | None = None       # (width, height)
    freeze: bool = True
    handshake_limit: int | None = None
    max_clients: int | None = None


def is_qemu(program):
    return os.path.basename(program).startswith("qemu-system")


def free_display_port():
    """A free port 5900+N, 10 <= N < 100: gvnccapture takes display numbers only."""
    for n in random.sample(range(10, 100), 90):
        port = 5900 + n
        if listening(port):
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise AssertionError("no free port 5910-5999")


def write_private(path, text):
    with open(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
        f.write(text)
    return path


class Server(ServerProcess):
    """PROGRAM serving SPEC on a fresh port 59NN, its files (log, frame, password)
    in WORKDIR; a context manager that kills it on exit. frame() is the picture
    clients must show: (width, height, RGB bytes)."""

    def __init__(self, program, spec, workdir):
        self.program, self.spec, self.port = program, spec, free_display_port()
        self.qemu = is_qemu(program)
        self.dir = workdir
        self.log_path = self.file("server.log")
        env = dict(os.environ)
        if self.qemu:
            self.argv = self.qemu_argv(env)
        else:
            self.argv = self.qio_argv()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=env)

    def file(self, name):
        return os.path.join(self.dir, "%d-%s" % (self.port, name))

    def qio_argv(self):
        spec = self.spec
        argv = [self.program, "--listen", "127.0.0.1:%d" % self.port,
                "--dump-frame", self.file("frame.ppm")]
        if spec.tls == "x509":
            argv += ["--tls-creds", spec.creds]
        elif spec.tls == "anon":
            argv += ["--tls-anon"]
        if spec.password is not None:
            argv += ["--password-file", write_private(self.file("password"),
                                                      spec.password + "\n")]
        for flag, value in [("--tls-authz", spec.authz),
                            ("--size", spec.size and "%dx%d" % spec.size),
                            ("--handshake-limit", spec.handshake_limit),
                            ("--max-clients", spec.max_clients)]:
            if value is not None:
                argv += [flag, str(value)]
        return argv + (["--freeze"] if spec.freeze else [])

    def qemu_argv(self, env):
        spec = self.spec
        root = os.path.abspath(os.path.join(os.path.dirname(self.program), "../.."))
        libs = [os.path.join(root, d, "x86_64-linux-gnu") for d in ("usr/lib", "lib")]
        env["LD_LIBRARY_PATH"] = ":".join(libs + [env.get("LD_LIBRARY_PATH", "")])
        argv = [self.program]
        for firmware in ("usr/share/seabios", "usr/share/qemu"):
            if os.path.isdir(os.path.join(root, firmware)):
                argv += ["-L", os.path.join(root, firmware)]
        self.qmp_path = self.file("qmp.sock")
        argv += ["-machine", "pc", "-vga", "std", "-S", "-display", "none", "-nodefaults",
                 "-qmp", "unix:%s,server=on,wait=off" % self.qmp_path]
        vnc = "127.0.0.1:%d" % (self.port - 5900)
        if spec.tls:
            creds = ("tls-creds-x509,id=tls0,dir=%s,endpoint=server,verify-peer=on"
                     % spec.creds if spec.tls == "x509"
                     else "tls-creds-anon,id=tls0,endpoint=server")
            argv += ["-object", creds]
            vnc += ",tls-creds=tls0"
        if spec.authz:
            # QEMU 7.2 lists authz-list-file but refuses to create one (QAPI knows it
            # as authz-listfile): the file's rules go in as an authz-list object.
            with open(spec.authz) as f:
                rules = json.load(f)
            argv += ["-object", json.dumps({"qom-type": "authz-list", "id": "authz0", **rules})]
            vnc += ",tls-authz=authz0"
        if spec.password is not None:
            vnc += ",password=on"
        return argv + ["-vnc", vnc]

    def qmp(self, command, **arguments):
        """QEMU's answer to the QMP COMMAND."""
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(START_TIMEOUT)
            s.connect(self.qmp_path)
            f = s.makefile("rw")
            f.readline()  # the greeting
            for message in ({"execute": "qmp_capabilities"},
                            {"execute": command, "arguments": arguments}):
                f.write(json.dumps(message) + "\n")
                f.flush()
                while "event" in (reply := json.loads(f.readline())):
                    pass
                if "error" in reply:
                    raise AssertionError("QMP %s: %s" % (message["execute"], reply["error"]))
            return reply["return"]

    def wait_ready(self):
        deadline = time.monotonic() + START_TIMEOUT
        while not listening(self.port) or self.qemu and not os.path.exists(self.qmp_path):
            if self.proc.poll() is not None:
                raise AssertionError("%s exited %d: %s" % (" ".join(self.argv),
                                                          self.proc.returncode, self.log()))
            if time.monotonic() > deadline:
                raise AssertionError("%s did not listen within %d s"
                                     % (" ".join(self.argv), START_TIMEOUT))
            time.sleep(0.05)
        if self.qemu and self.spec.password is not None:
            self.qmp("change-vnc-password", password=self.spec.password)
        return self

    def frame(self):
        """The picture as a binary PPM holds it: (width, height, RGB bytes); QEMU's
        from a screendump."""
        path = self.file("frame.ppm")
        if self.qemu:
            self.qmp("screendump", filename=path)
        return read_ppm(path)


def read_ppm(path):
    """A binary PPM (P6, maxval 255): (width, height, RGB bytes)."""
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:  # magic, width, height, maxval; comments skipped
        while data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.index(b"\n", pos)
            continue
        end = pos
        while not data[end:end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    magic, width, height, maxval = fields[0], *map(int, fields[1:])
    if magic != b"P6" or maxval != 255:
        raise AssertionError("%s: not a P6 PPM of maxval 255" % path)
    pixels = data[pos + 1:pos + 1 + 3 * width * height]
    if len(pixels) != 3 * width * height:
        raise AssertionError("%s: %d bytes of pixels for %dx%d" % (path, len(pixels),
                                                                 width, height))
    return width, height, pixels
