# SPDX-License-Identifier: LGPL-2.1-or-later
"""qio-vnc-demo seen through a real browser, printing TAP: noVNC (Debian's novnc
package, vnc_lite.html) in headless Chromium, driven over the DevTools protocol, reads
the demo's websocket port; its canvas must equal, pixel for pixel, the frame that the
demo dumped (--freeze --dump-frame). Over ws with security None and with VNC
Authentication (and a wrong password refused), over wss with a client certificate
(and a client without one, or over plain ws, refused).

Usage: vnc-novnc.py QIO_VNC_DEMO CERTS_SCRIPT

QIO_VNC_DEMO may be a qemu-system-x86_64 unpacked by `dpkg -x` into some ROOT (the
stand-in these cases were first proven on): its libraries and firmware are then taken
from ROOT, the stopped guest's screen (QMP screendump) is the frame to see.
VNC_NOVNC_SCREENSHOT=FILE in the environment writes a PNG of noVNC showing the demo
(not frozen) to FILE. VNC_NOVNC_ONLY=TEXT runs only the cases whose names contain TEXT.

How Chromium is made to present a client certificate (the facts were measured on
Chromium 156): its NSS database ($HOME/.pki/nssdb, HOME private to the test) holds
the test CA, trusted, and the client's certificate and key; the profile's preferences
auto-select that certificate for https://127.0.0.1:WSPORT (the content setting that
the AutoSelectCertificateForUrls policy fills, here per profile, with no file under
/etc). Chromium offers a certificate on a WebSocket handshake only once one was
chosen for the origin, so the browser first loads https://127.0.0.1:WSPORT/ itself
(whatever the server answers); vnc_lite.html picks wss only on a page served over
https, so the page comes from an https server with the test server's certificate.
"""

import asyncio
import base64
import contextlib
import dataclasses
import http.server
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time

import websockets

from interop_tap import Failure, check, run_cases
from server_process import free_port, listening

DEMO, CERTS_SCRIPT = sys.argv[1:3]
QEMU = os.path.basename(DEMO).startswith("qemu-system")  # the stand-in
NOVNC = "/usr/share/novnc"
CHROMIUM = "/usr/bin/chromium"
WORK = tempfile.mkdtemp(prefix="qio-vnc-novnc-")
PKI = os.path.join(WORK, "pki")
TIMEOUT = 30      # seconds for a program to start, a page to connect, a frame to show
PASSWORD = "s3cr3t!!"  # VNC Authentication uses 8 characters at most
SIZE = (800, 600)  # the demo's


def path(name):
    return os.path.join(WORK, name)


def write_file(name, data):
    with open(path(name), "wb") as f:
        f.write(data)
    return path(name)


def run(*argv):
    subprocess.run(argv, check=True, capture_output=True, timeout=TIMEOUT)


def wait_until(probe, what, timeout=TIMEOUT, interval=0.1):
    """PROBE()'s first true value, polled until TIMEOUT seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise Failure("no %s within %d s" % (what, timeout))
        time.sleep(interval)


def read_ppm(name):
    """A binary PPM's (width, height, RGB bytes)."""
    with open(name, "rb") as f:
        data = f.read()
    m = re.match(rb"P6\s+(\d+)\s+(\d+)\s+255\s", data)
    check(m, "%s is not an 8-bit binary PPM" % name)
    width, height = int(m[1]), int(m[2])
    pixels = data[m.end():m.end() + width * height * 3]
    check(len(pixels) == width * height * 3, "%s is cut short" % name)
    return width, height, pixels


def creds(name):
    return os.path.join(PKI, name)


def make_credentials():
    """examples/secure-console-certs.sh's CA, server and client (RSA for QEMU, which
    wants certificates that permit key encipherment); the client's certificate and
    key as PKCS#12 for Chromium's NSS database."""
    run("sh", CERTS_SCRIPT, PKI, "rsa" if QEMU else "ecdsa")
    client = creds("client")
    run("certtool", "--to-p12", "--p12-name", "console-user", "--password", "p12",
        "--load-privkey", os.path.join(client, "client-key.pem"),
        "--load-certificate", os.path.join(client, "client-cert.pem"),
        "--outder", "--outfile", path("client.p12"))


# --- the VNC server: qio-vnc-demo or QEMU

@dataclasses.dataclass
class Spec:
    tls: bool = False                # wss with client certificates required
    password: str | None = None      # VNC Authentication
    freeze: bool = True              # a static picture, dumped as the frame to see


class VncServer:
    """DEMO serving SPEC on fresh ports, its output in a log; a context manager that
    kills it on exit. .ws_port is the websocket port, .frame the dumped PPM."""

    def __init__(self, spec, name):
        self.spec, self.name = spec, name
        self.vnc_port, self.ws_port = free_port(), free_port()
        self.frame, self.log_path = path(name + ".ppm"), path(name + ".log")
        self.argv, env = (self.qemu_argv if QEMU else self.demo_argv)()
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=env)

    def demo_argv(self):
        spec = self.spec
        argv = [DEMO, "--listen", "127.0.0.1:%d" % self.vnc_port,
                "--websocket", "127.0.0.1:%d" % self.ws_port,
                "--size", "%dx%d" % SIZE, "--dump-frame", self.frame]
        argv += ["--freeze"] if spec.freeze else []
        argv += ["--tls-creds", creds("server")] if spec.tls else []
        if spec.password:
            argv += ["--password-file", write_file(self.name + ".pw",
                                                   spec.password.encode() + b"\n")]
        return argv, None

    def qemu_argv(self):
        """qemu-system-x86_64 (from ROOT/usr/bin) with its stopped guest's screen."""
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(DEMO))))
        share = os.path.join(root, "usr/share")
        libs = [os.path.join(root, d) for d in ("usr/lib/x86_64-linux-gnu",
                                                "lib/x86_64-linux-gnu")]
        env = dict(os.environ, LD_LIBRARY_PATH=":".join(libs))
        self.qmp = path(self.name + ".qmp")
        vnc = "127.0.0.1:%d,websocket=%d" % (self.vnc_port - 5900, self.ws_port)
        argv = [DEMO, "-machine", "pc", "-vga", "std", "-S", "-display", "none",
                "-qmp", "unix:%s,server=on,wait=off" % self.qmp]
        for firmware in ("qemu", "seabios", "ipxe/qemu"):
            argv += ["-L", os.path.join(share, firmware)]
        if self.spec.tls:
            argv += ["-object", "tls-creds-x509,id=tls0,endpoint=server,verify-peer=on,"
                     "dir=" + creds("server")]
            vnc += ",tls-creds=tls0"
        vnc += ",password=on" if self.spec.password else ""
        return argv + ["-vnc", vnc], env

    def qmp_commands(self, *commands):
        with socket.socket(socket.AF_UNIX) as s:
            s.settimeout(TIMEOUT)
            s.connect(self.qmp)
            f = s.makefile("rw")
            f.readline()  # the greeting
            for command in [{"execute": "qmp_capabilities"}, *commands]:
                f.write(json.dumps(command) + "\n")
                f.flush()
                while "event" in (reply := json.loads(f.readline())):
                    pass
                check("return" in reply, "QMP %s: %s" % (command, reply))

    def ready(self):
        if self.proc.poll() is not None:
            raise Failure("%s exited %d: %s" % (" ".join(self.argv), self.proc.returncode,
                                                self.log()))
        # The demo dumps its frame at start; QEMU's comes through QMP.
        return listening(self.ws_port) and os.path.exists(self.qmp if QEMU else self.frame)

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def __enter__(self):
        try:
            wait_until(self.ready, "listening " + " ".join(self.argv))
            if QEMU:
                commands = [{"execute": "screendump", "arguments": {"filename": self.frame}}]
                if self.spec.password:
                    commands.append({"execute": "change-vnc-password",
                                     "arguments": {"password": self.spec.password}})
                self.qmp_commands(*commands)
            return self
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        self.proc.wait()


# --- the page: noVNC's files over http or https

class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=NOVNC, **kwargs)

    def log_message(self, *args):
        pass


@contextlib.contextmanager
def novnc_server(tls):
    """The URL of noVNC's directory, served from a thread (over https with the test
    server's certificate if TLS)."""
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), QuietHandler)
    httpd.daemon_threads = True
    scheme = "http"
    if tls:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(os.path.join(creds("server"), "server-cert.pem"),
                            os.path.join(creds("server"), "server-key.pem"))
        httpd.socket = ctx.wrap_socket(httpd.socket, server_side=True)
        scheme = "https"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield "%s://127.0.0.1:%d" % (scheme, httpd.server_address[1])
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(TIMEOUT)


# --- the browser

class Browser:
    """Headless Chromium with a fresh profile and HOME, showing one page, driven over
    the DevTools protocol (a synchronous face on websockets' asyncio client). With
    CLIENT_CERT, its NSS database holds the client's certificate and key, and it
    picks that certificate by itself for https://127.0.0.1:CERT_PORT."""

    def __init__(self, client_cert=False, cert_port=None):
        self.home = tempfile.mkdtemp(prefix="home-", dir=WORK)
        self.loop = asyncio.new_event_loop()
        self.proc = self.ws = None
        self.next_id, self.console = 0, []
        self.nssdb(client_cert)
        profile = os.path.join(self.home, "profile")
        if cert_port:
            self.auto_select_certificate(profile, cert_port)
        self.log_path = os.path.join(self.home, "chromium.log")
        argv = [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--password-store=basic",
                "--user-data-dir=" + profile,
                "--remote-debugging-port=0", "about:blank"]
        env = dict(os.environ, HOME=self.home, XDG_CONFIG_HOME=self.home + "/.config",
                   XDG_CACHE_HOME=self.home + "/.cache")
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=log, env=env, start_new_session=True)

    def nssdb(self, client_cert):
        """$HOME/.pki/nssdb: the test CA, trusted for TLS servers; the client."""
        db = "sql:" + os.path.join(self.home, ".pki", "nssdb")
        os.makedirs(db[4:])
        run("certutil", "-N", "-d", db, "--empty-password")
        run("certutil", "-A", "-d", db, "-n", "qio demo CA", "-t", "CT,C,C",
            "-i", os.path.join(creds("ca"), "ca-cert.pem"))
        if client_cert:
            run("pk12util", "-d", db, "-i", path("client.p12"), "-W", "p12")

    @staticmethod
    def auto_select_certificate(profile, port):
        """The profile's preference that AutoSelectCertificateForUrls would set: the
        certificate issued by the test CA, for https://127.0.0.1:PORT."""
        os.makedirs(os.path.join(profile, "Default"))
        setting = {"filters": [{"ISSUER": {"CN": "qio demo CA"}}]}
        prefs = {"profile": {"content_settings": {"exceptions": {"auto_select_certificate": {
            "https://127.0.0.1:%d,*" % port: {"setting": setting}}}}}}
        with open(os.path.join(profile, "Default", "Preferences"), "w") as f:
            json.dump(prefs, f)

    def chromium_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    @staticmethod
    async def _connect(url):
        # Made inside the loop: websockets' connect() binds the loop it sees.
        return await websockets.connect(url, max_size=None, ping_interval=None)

    def _run(self, coroutine, timeout=TIMEOUT):
        return self.loop.run_until_complete(asyncio.wait_for(coroutine, timeout))

    def __enter__(self):
        try:
            def devtools_url():
                if self.proc.poll() is not None:
                    raise Failure("chromium exited %d: %s" % (self.proc.returncode,
                                                              self.chromium_log()))
                m = re.search(r"DevTools listening on (ws://\S+)", self.chromium_log())
                return m and m[1]
            url = wait_until(devtools_url, "DevTools endpoint from chromium")
            self.ws = self._run(self._connect(url))
            target = self.call("Target.createTarget", url="about:blank")["targetId"]
            self.session = self.call("Target.attachToTarget", targetId=target,
                                     flatten=True)["sessionId"]
            self.call("Runtime.enable", session=self.session)
            self.page("Emulation.setDeviceMetricsOverride", width=900, height=700,
                      deviceScaleFactor=1, mobile=False)
            return self
        except BaseException:
            self.__exit__()
            raise

    def __exit__(self, *exc):
        if self.ws:
            with contextlib.suppress(Exception):
                self._run(self.ws.close(), 5)
        if self.proc:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
        self.loop.close()
        shutil.rmtree(self.home, ignore_errors=True)

    def call(self, method, session=None, timeout=TIMEOUT, **params):
        """METHOD's result; console messages that arrive meanwhile are kept."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        deadline = time.monotonic() + timeout
        self._run(self.ws.send(json.dumps(message)))
        while True:
            reply = json.loads(self._run(self.ws.recv(), deadline - time.monotonic()))
            if reply.get("id") == self.next_id:
                if "error" in reply:
                    raise Failure("%s: %s" % (method, reply["error"]))
                return reply["result"]
            if reply.get("method") == "Runtime.consoleAPICalled":
                args = reply["params"]["args"]
                self.console.append(" ".join(str(a.get("value", a.get("description")))
                                             for a in args))

    def page(self, method, **params):
        return self.call(method, session=self.session, **params)

    def navigate(self, url, timeout=TIMEOUT):
        result = self.call("Page.navigate", self.session, timeout, url=url)
        check("errorText" not in result, "loading %s: %s" % (url, result.get("errorText")))

    def evaluate(self, expression):
        result = self.page("Runtime.evaluate", expression=expression, returnByValue=True)
        check("exceptionDetails" not in result, "%s: %s" % (expression, result))
        return result["result"].get("value")

    def screenshot(self):
        return base64.b64decode(self.page("Page.captureScreenshot", format="png")["data"])


# --- what noVNC shows

# vnc_lite.html's status line, its canvas's size and the size shown (1:1 unscaled).
STATE_JS = """JSON.stringify({status: document.getElementById('status')?.textContent ?? '',
    canvas: (c => c && [c.width, c.height])(document.querySelector('#screen canvas')),
    shown: (c => c && [c.clientWidth, c.clientHeight])(
        document.querySelector('#screen canvas'))})"""

# The canvas's pixels as base64 RGB (noVNC draws them opaque).
PIXELS_JS = """(() => {
    const c = document.querySelector('#screen canvas');
    const rgba = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
    const rgb = new Uint8Array(rgba.length / 4 * 3);
    for (let i = 0, j = 0; i < rgba.length; i += 4) {
        rgb[j++] = rgba[i]; rgb[j++] = rgba[i + 1]; rgb[j++] = rgba[i + 2];
    }
    let text = '';
    for (let i = 0; i < rgb.length; i += 0x8000)
        text += String.fromCharCode.apply(null, rgb.subarray(i, i + 0x8000));
    return btoa(text);
})()"""

CONNECTED = "Connected to "
FAILED = ("Something went wrong, connection is closed", "Disconnected")


def novnc_url(base, server, password=None):
    """vnc_lite.html on BASE for SERVER's websocket port, at the resource "/" (QEMU
    answers 404 to vnc_lite's default /websockify). No scale=: vnc_lite takes its
    value as a string, and "false" would scale."""
    url = "%s/vnc_lite.html?host=127.0.0.1&port=%d&path=" % (base, server.ws_port)
    return url + ("&password=" + password if password else "")


def novnc_state(browser):
    return json.loads(browser.evaluate(STATE_JS))


def canvas_pixels(browser):
    return base64.b64decode(browser.evaluate(PIXELS_JS))


def connect(browser, server, connected=True):
    """noVNC's state once it has connected to SERVER or failed, as CONNECTED says."""
    state = wait_until(lambda: (lambda s: (s["status"].startswith(CONNECTED) or
                                           s["status"] in FAILED) and s)(novnc_state(browser)),
                       "connection or failure in noVNC", interval=0.2)
    check(state["status"].startswith(CONNECTED) == connected,
          "noVNC says %r; its console: %s; the server's log: %s" % (
              state["status"], browser.console[-5:], server.log()[-2000:]))
    return state


def differences(pixels, expected, width):
    """How PIXELS differ from EXPECTED (RGB rows WIDTH wide), in words."""
    wrong = [i // 3 for i in range(0, len(expected), 3)
             if pixels[i:i + 3] != expected[i:i + 3]]
    at = wrong[0] * 3
    return "%d of %d pixels differ, the first at (%d, %d): %s, not %s" % (
        len(wrong), len(expected) // 3, wrong[0] % width, wrong[0] // width,
        pixels[at:at + 3].hex(), expected[at:at + 3].hex())


def expect_frame(browser, server):
    """noVNC connects and its canvas comes to equal SERVER's dumped frame."""
    connect(browser, server)
    width, height, expected = read_ppm(server.frame)
    seen = ["nothing"]

    def same():
        state = novnc_state(browser)
        if state["canvas"] != [width, height] or state["shown"] != [width, height]:
            seen[0] = "a canvas of %s shown as %s for a %dx%d frame" % (
                state["canvas"], state["shown"], width, height)
            return False
        pixels = canvas_pixels(browser)
        seen[0] = "" if pixels == expected else differences(pixels, expected, width)
        return not seen[0]
    try:
        wait_until(same, "canvas equal to the frame", interval=0.5)
    except Failure as e:
        raise Failure("%s: %s" % (e, seen[0])) from None


def expect_refused(browser, server):
    """noVNC fails and shows no frame."""
    state = connect(browser, server, connected=False)
    check(not state["canvas"] or canvas_pixels(browser) != read_ppm(server.frame)[2],
          "noVNC shows the frame though it failed")


# --- cases

def show_ws(spec, password=None, connected=True):
    """vnc_lite.html served over http (so it speaks ws) with PASSWORD, on SPEC's
    server; returns noVNC's console."""
    with VncServer(spec, "ws") as server, novnc_server(tls=False) as base, \
            Browser() as browser:
        browser.navigate(novnc_url(base, server, password))
        (expect_frame if connected else expect_refused)(browser, server)
        return browser.console


def show_wss(client_cert):
    """vnc_lite.html served over https (so it speaks wss) on a server that requires
    client certificates; the browser holds one if CLIENT_CERT."""
    with VncServer(Spec(tls=True), "wss") as server, novnc_server(tls=True) as base, \
            Browser(client_cert, cert_port=server.ws_port) as browser:
        # Chromium chooses the origin's certificate on this load, not on a WebSocket
        # handshake; the server's answer to a plain GET does not matter.
        with contextlib.suppress(Failure, TimeoutError):
            browser.navigate("https://127.0.0.1:%d/" % server.ws_port, timeout=10)
        browser.navigate(novnc_url(base, server))
        (expect_frame if client_cert else expect_refused)(browser, server)


def case_ws_on_tls_server():
    """With client certificates required, a plain ws client is refused too (QEMU's
    websocket port speaks only wss then)."""
    show_ws(Spec(tls=True), connected=False)


def case_wrong_password():
    console = show_ws(Spec(password=PASSWORD), "wrong!", connected=False)
    check(any("Security negotiation failed" in line for line in console),
          "noVNC's console tells no security failure: %s" % console)


def case_screenshot():
    """noVNC on the live demo, whose picture moves; a PNG of the page goes to
    $VNC_NOVNC_SCREENSHOT."""
    with VncServer(Spec(freeze=False), "live") as server, \
            novnc_server(tls=False) as base, Browser() as browser:
        browser.navigate(novnc_url(base, server))
        connect(browser, server)
        time.sleep(2)
        if not QEMU:  # QEMU's stopped guest shows a still picture
            before = canvas_pixels(browser)
            wait_until(lambda: canvas_pixels(browser) != before, "change on the canvas",
                       timeout=5, interval=0.5)
        png = browser.screenshot()
        check(png.startswith(b"\x89PNG"), "Page.captureScreenshot gave no PNG")
        if os.environ.get("VNC_NOVNC_SCREENSHOT"):
            with open(os.environ["VNC_NOVNC_SCREENSHOT"], "wb") as f:
                f.write(png)


CASES = [
    ("ws, security None: canvas == frame", lambda: show_ws(Spec())),
    ("ws, VNC Authentication: canvas == frame",
     lambda: show_ws(Spec(password=PASSWORD), PASSWORD)),
    ("ws, VNC Authentication with a wrong password: refused", case_wrong_password),
    ("wss with a client certificate: canvas == frame", lambda: show_wss(True)),
    ("wss without a client certificate: refused", lambda: show_wss(False)),
    ("ws to a server requiring client certificates: refused", case_ws_on_tls_server),
    ("noVNC on the live demo, screenshot", case_screenshot),
]


def main():
    only = os.environ.get("VNC_NOVNC_ONLY", "")
    try:
        make_credentials()
        return run_cases([(name, run) for name, run in CASES if only in name])
    finally:
        shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
