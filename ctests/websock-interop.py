#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""qio's websocket channel against real programs over 127.0.0.1, printing TAP.

qio server (interop-peer server --websock, an echo) <- Python `websockets` over ws://
and wss://, and <- a headless Chromium page; qio client (interop-peer client --websock)
-> a Python `websockets` echo server over ws:// and wss://. Payloads of 0, 125, 126,
65535, 65536 bytes and 1 MiB, ping/pong, close, and the server's refusals.

usage: websock-interop.py TLS-INTEROP-CERTS INTEROP-PEER
"""

import asyncio
import os
import shutil
import ssl
import subprocess
import sys
import tempfile

import websockets

from interop_tap import check, finish, run_cases

TIMEOUT = 30  # seconds for any one program or exchange
SIZES = [0, 125, 126, 65535, 65536, 1 << 20]


def pattern(size, seed):
    return bytes((i * 31 + seed) & 0xFF for i in range(size))


def echo_summary():
    """The line the qio echo server ends with after every size and RESULT:PASS: the
    byte count and the last 32 bytes, unprintable ones as '.'."""
    stream = b"".join(pattern(size, seed) for seed, size in enumerate(SIZES)) + b"RESULT:PASS"
    tail = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in stream[-32:])
    return "eof bytes=%d tail=%s\n" % (len(stream), tail)


class QioServer:
    """interop-peer as a websocket echo server, started with ARGS."""

    def __init__(self, peer, args):
        self.proc = subprocess.Popen([peer, "server", "--websock", *args],
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        line = self.proc.stdout.readline().decode()
        check(line.startswith("port "), "qio server did not listen: %r" % line)
        self.port = int(line.split()[1])

    def finish(self):
        """Its whole output once it has ended (killed after TIMEOUT)."""
        return finish(self.proc, TIMEOUT)[0].decode(errors="replace")


async def echo_round_trips(ws):
    """Sends each of SIZES as one message and gathers its echo, whatever the frames."""
    for seed, size in enumerate(SIZES):
        data = pattern(size, seed)
        await ws.send(data)
        got = b""
        while len(got) < size:
            got += await asyncio.wait_for(ws.recv(), TIMEOUT)
        check(got == data, "%d bytes came back different" % size)


class Interop:
    def __init__(self, certs, peer, workdir):
        self.peer = peer
        self.dir = workdir
        subprocess.run([certs, workdir], check=True, timeout=TIMEOUT)

    def path(self, *parts):
        return os.path.join(self.dir, *parts)

    def client_ssl(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.load_verify_locations(self.path("server", "ca-cert.pem"))
        return ctx

    def server_ssl(self):
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.path("server", "server-cert.pem"),
                            self.path("server", "server-key.pem"))
        return ctx

    def python_client(self, tls):
        """Python's websockets against a qio server: every size, ping, close."""
        args = ["--dir", self.path("server"), "--no-verify"] if tls else ["--creds", "none"]
        server = QioServer(self.peer, args)

        async def run():
            scheme = "wss" if tls else "ws"
            async with websockets.connect(
                    "%s://localhost:%d/" % (scheme, server.port), subprotocols=["binary"],
                    max_size=None, ssl=self.client_ssl() if tls else None,
                    open_timeout=TIMEOUT, close_timeout=TIMEOUT) as ws:
                check(ws.subprotocol == "binary", "subprotocol %r" % ws.subprotocol)
                await echo_round_trips(ws)
                await asyncio.wait_for(await ws.ping(b"are you there"), TIMEOUT)
                await ws.send(b"RESULT:PASS")
                check(await asyncio.wait_for(ws.recv(), TIMEOUT) == b"RESULT:PASS", "last echo")
            check(ws.close_code == 1000, "close code %r" % ws.close_code)

        try:
            asyncio.run(run())
        finally:
            out = server.finish()
        check("websock ok protocol=binary" in out, out)
        check(echo_summary() in out, "qio server said %r" % out)

    def python_refused(self, path, subprotocols, status):
        """A request the qio server refuses: Python sees STATUS."""
        server = QioServer(self.peer, ["--creds", "none"])

        async def run():
            try:
                async with websockets.connect("ws://127.0.0.1:%d%s" % (server.port, path),
                                              subprotocols=subprotocols, open_timeout=TIMEOUT):
                    pass
            except websockets.exceptions.InvalidStatusCode as e:
                return e.status_code
            return None

        try:
            got = asyncio.run(run())
        finally:
            out = server.finish()
        check(got == status, "status %r, expected %r" % (got, status))
        check("websock failed: " in out, out)

    def python_text_frame(self):
        """A text message: the qio server closes with 1003."""
        server = QioServer(self.peer, ["--creds", "none"])

        async def run():
            async with websockets.connect("ws://127.0.0.1:%d/" % server.port,
                                          open_timeout=TIMEOUT) as ws:
                await ws.send("text")
                try:
                    await asyncio.wait_for(ws.recv(), TIMEOUT)
                except websockets.exceptions.ConnectionClosed:
                    pass
            return ws.close_code

        try:
            code = asyncio.run(run())
        finally:
            out = server.finish()
        check(code == 1003, "close code %r" % code)
        check("io failed: websocket: only binary frames are supported, not text" in out, out)

    def python_server(self, tls):
        """A qio client against Python's websockets echo server."""
        payload = pattern(3 << 20, 7)
        close_codes = []

        async def echo(ws, _path=None):
            async for message in ws:
                await ws.send(message)
            close_codes.append(ws.close_code)

        async def run():
            async with websockets.serve(echo, "127.0.0.1", 0, subprotocols=["binary"],
                                        max_size=None,
                                        ssl=self.server_ssl() if tls else None) as server:
                port = server.sockets[0].getsockname()[1]
                args = (["--dir", self.path("ca-only"), "--hostname", "localhost"] if tls
                        else ["--creds", "none"])
                proc = await asyncio.create_subprocess_exec(
                    self.peer, "client", "--websock", "--port", str(port), *args,
                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
                out, _ = await asyncio.wait_for(proc.communicate(payload), TIMEOUT)
                return proc.returncode, out

        rc, out = asyncio.run(run())
        check(b"websock ok protocol=binary" in out, out[:500])
        check(rc == 0 and out.endswith(b"reply " + payload), "qio client (exit %d) got %r"
              % (rc, out[:500]))
        check(close_codes == [1000], "the qio client closed with %r" % close_codes)

    def chromium(self):
        """A headless Chromium page echoing through the qio server."""
        browser = shutil.which("chromium")
        check(browser, "chromium is not installed: run scripts/setup.sh")
        server = QioServer(self.peer, ["--creds", "none"])
        page = self.path("page.html")
        with open(page, "w") as f:
            f.write(CHROMIUM_PAGE % {"port": server.port, "sizes": SIZES})
        profile = tempfile.mkdtemp(prefix="qio-chromium-", dir=self.dir)
        proc = subprocess.Popen(
            [browser, "--headless", "--no-sandbox", "--disable-gpu",
             "--disable-background-networking", "--disable-component-update",
             "--disable-sync", "--no-first-run", "--user-data-dir=" + profile,
             "file://" + page],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            out = server.finish()
        finally:
            proc.kill()
            proc.wait()
        check("websock ok protocol=binary" in out, out)
        check(echo_summary() in out, "qio server said %r" % out)


# Sends each size as one binary message and checks its echo (which may come back in
# several messages), then sends RESULT:PASS or RESULT:FAIL and closes after its echo.
CHROMIUM_PAGE = """<!DOCTYPE html><script>
const sizes = %(sizes)s;
const ws = new WebSocket("ws://127.0.0.1:%(port)d/", ["binary"]);
ws.binaryType = "arraybuffer";
let index = -1, expected = null, got = [], gotLength = 0, failed = null, last = false;
function pattern(n, seed) {
  const a = new Uint8Array(n);
  for (let i = 0; i < n; i++) a[i] = (i * 31 + seed) & 255;
  return a;
}
function next() {
  for (index++; index < sizes.length && sizes[index] === 0; index++) {
    ws.send(new Uint8Array(0));
  }
  if (index < sizes.length) {
    expected = pattern(sizes[index], index);
  } else {
    expected = new TextEncoder().encode(failed ? "RESULT:FAIL " + failed : "RESULT:PASS");
    last = true;
  }
  got = []; gotLength = 0;
  ws.send(expected);
}
ws.onopen = () => {
  if (ws.protocol !== "binary") failed = "protocol " + ws.protocol;
  next();
};
ws.onmessage = (event) => {
  const chunk = new Uint8Array(event.data);
  got.push(chunk); gotLength += chunk.length;
  if (gotLength < expected.length) return;
  const all = new Uint8Array(gotLength);
  let at = 0;
  for (const c of got) { all.set(c, at); at += c.length; }
  if (all.length !== expected.length || all.some((b, i) => b !== expected[i])) {
    failed = failed || ("echo of " + expected.length + " bytes differs");
  }
  if (last) ws.close(1000); else next();
};
</script>
"""


def main():
    certs, peer = sys.argv[1:3]
    workdir = tempfile.mkdtemp(prefix="qio-websock-interop-")
    try:
        t = Interop(certs, peer, workdir)
        cases = [
            ("server ws <- Python websockets: sizes, ping, close", lambda: t.python_client(False)),
            ("server wss <- Python websockets: sizes, ping, close", lambda: t.python_client(True)),
            ("server refuses another path with 404", lambda: t.python_refused("/nope", ["binary"], 404)),
            ("server refuses a subprotocol list without binary with 400",
             lambda: t.python_refused("/", ["chat"], 400)),
            ("server closes a text message with 1003", t.python_text_frame),
            ("client ws -> Python websockets echo server", lambda: t.python_server(False)),
            ("client wss -> Python websockets echo server", lambda: t.python_server(True)),
            ("server ws <- headless Chromium page", t.chromium),
        ]
        return run_cases(cases)
    finally:
        shutil.rmtree(workdir)


if __name__ == "__main__":
    sys.exit(main())
