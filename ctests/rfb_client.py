# SPDX-License-Identifier: LGPL-2.1-or-later
"""A minimal RFB (VNC) client for tests, after RFC 6143 and the VeNCrypt extension:
protocol versions 3.3, 3.7 and 3.8; security None, VNC Authentication and VeNCrypt's
X509None, X509Vnc, TLSNone and TLSVnc (Python's ssl); SetPixelFormat, SetEncodings,
FramebufferUpdateRequest, key and pointer events; Raw and DesktopSize rectangles.
Every read is bounded by the connection's timeout."""

import dataclasses
import socket
import ssl
import struct

try:  # cryptography >= 43 keeps DES among the decrepit ciphers
    from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
except ImportError:
    from cryptography.hazmat.primitives.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives.ciphers import Cipher, modes

from server_process import closed_within

# Security types (RFB) and VeNCrypt subtypes, by the names the tests use.
SECURITY = {"none": 1, "vnc": 2, "vencrypt": 19}
VENCRYPT = {"tlsnone": 257, "tlsvnc": 258, "x509none": 260, "x509vnc": 261}
ENCODING_RAW, ENCODING_DESKTOP_SIZE = 0, -223
KEY_R = 0x72  # the keysym of 'r'


class Refused(Exception):
    """The server refused the handshake; the message is its reason. (A scheme the
    server does not offer is an AssertionError: the client gives up.)"""


@dataclasses.dataclass
class PixelFormat:
    bpp: int = 32
    depth: int = 24
    big_endian: bool = False
    true_colour: bool = True
    red_max: int = 255
    green_max: int = 255
    blue_max: int = 255
    red_shift: int = 16
    green_shift: int = 8
    blue_shift: int = 0

    FORMAT = ">BBBBHHHBBB3x"

    def pack(self):
        return struct.pack(self.FORMAT, self.bpp, self.depth, self.big_endian,
                           self.true_colour, self.red_max, self.green_max, self.blue_max,
                           self.red_shift, self.green_shift, self.blue_shift)

    @classmethod
    def unpack(cls, data):
        return cls(*struct.unpack(cls.FORMAT, data))

    def maxes(self):
        return self.red_max, self.green_max, self.blue_max

    def to_rgb(self, data):
        """DATA's pixels as (r, g, b) tuples in this format's units (0..max)."""
        code = {8: "B", 16: "H", 32: "I"}[self.bpp]
        values = (v for (v,) in struct.iter_unpack((">" if self.big_endian else "<") + code,
                                                   data))
        rs, gs, bs = self.red_shift, self.green_shift, self.blue_shift
        rm, gm, bm = self.maxes()
        return [(v >> rs & rm, v >> gs & gm, v >> bs & bm) for v in values]



@dataclasses.dataclass
class Rect:
    x: int
    y: int
    w: int
    h: int
    encoding: int
    pixels: bytes = b""

    def covers(self, x, y):
        return self.x <= x < self.x + self.w and self.y <= y < self.y + self.h


def vnc_response(password, challenge):
    """VNC Authentication's answer: CHALLENGE encrypted with DES, the key PASSWORD's
    first 8 bytes (zero-padded) with each byte's bits reversed."""
    key = bytes(int("{:08b}".format(b)[::-1], 2) for b in password.encode()[:8].ljust(8, b"\0"))
    encryptor = Cipher(TripleDES(key * 3), modes.ECB()).encryptor()
    return encryptor.update(challenge) + encryptor.finalize()


def anon_tls_context():
    """A context for VeNCrypt's TLS* subtypes: anonymous Diffie-Hellman, TLS 1.2 at most
    (TLS 1.3 has no anonymous suites)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.set_ciphers("aNULL:@SECLEVEL=0")
    return context


def x509_tls_context(creds):
    """A context for VeNCrypt's X509* subtypes with the client credentials in CREDS
    (QEMU's layout: ca-cert.pem, client-cert.pem, client-key.pem)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_verify_locations(creds + "/ca-cert.pem")
    context.load_cert_chain(creds + "/client-cert.pem", creds + "/client-key.pem")
    return context


class Client:
    """One connection to 127.0.0.1:PORT. After handshake(): width, height, name and
    the pixel format in use."""

    def __init__(self, port, timeout=30, rcvbuf=None):
        self.sock = socket.socket()
        if rcvbuf:  # before connecting, so that the window is small from the start
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout)
        self.sock.connect(("127.0.0.1", port))
        self.timeout = timeout
        self.offered = []  # the security types (and VeNCrypt subtypes) offered
        self.width = self.height = None
        self.pf = None

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def recv(self, n):
        data = b""
        while len(data) < n:
            chunk = self.sock.recv(n - len(data))
            if not chunk:
                raise EOFError("the server closed after %d of %d bytes" % (len(data), n))
            data += chunk
        return data

    def send(self, data):
        self.sock.sendall(data)

    def u8(self):
        return self.recv(1)[0]

    def u32(self):
        return struct.unpack(">I", self.recv(4))[0]

    def reason(self):
        return self.recv(self.u32()).decode(errors="replace")

    # --- the handshake

    def handshake(self, security="none", version=(3, 8), password=None, tls=None,
                  shared=True):
        """Protocol VERSION, the security scheme SECURITY (a key of SECURITY or
        VENCRYPT: a VeNCrypt subtype wants TLS, an ssl.SSLContext), ClientInit with
        SHARED, ServerInit. Raises Refused if the server says no."""
        self.version(version)
        self.security(security, version, password, tls)
        self.send(bytes([shared]))
        self.width, self.height = struct.unpack(">HH", self.recv(4))
        self.pf = PixelFormat.unpack(self.recv(16))
        self.name = self.recv(self.u32()).decode(errors="replace")
        return self

    def version(self, version):
        greeting = self.recv(12)
        if not greeting.startswith(b"RFB 003."):
            raise AssertionError("not an RFB greeting: %r" % greeting)
        self.send(b"RFB %03d.%03d\n" % version)

    def security(self, security, version, password, tls):
        scheme = "vencrypt" if security in VENCRYPT else security
        if version == (3, 3):  # the server decides
            chosen = self.u32()
            if chosen == 0:
                raise Refused(self.reason())
            self.offered = [chosen]
            if chosen != SECURITY[scheme]:
                raise AssertionError("the server chose security type %d" % chosen)
        else:
            count = self.u8()
            if count == 0:
                raise Refused(self.reason())
            self.offered = list(self.recv(count))
            if SECURITY[scheme] not in self.offered:
                raise AssertionError("security types offered: %s" % self.offered)
            self.send(bytes([SECURITY[scheme]]))
        if scheme == "vencrypt":
            self.vencrypt(security, tls)
        if security in ("vnc", "tlsvnc", "x509vnc"):
            self.send(vnc_response(password, self.recv(16)))
        elif version != (3, 8):  # before 3.8 None has no SecurityResult
            return
        if self.u32() != 0:
            raise Refused(self.reason() if version == (3, 8) else "authentication failed")

    def vencrypt(self, subtype, tls):
        major, minor = self.recv(2)
        if (major, minor) != (0, 2):
            raise AssertionError("VeNCrypt version %d.%d" % (major, minor))
        self.send(b"\0\2")
        if self.u8() != 0:
            raise Refused("VeNCrypt 0.2 refused")
        count = self.u8()
        subtypes = list(struct.unpack(">%dI" % count, self.recv(4 * count)))
        self.offered.append(subtypes)
        if VENCRYPT[subtype] not in subtypes:
            raise AssertionError("VeNCrypt subtypes offered: %s" % subtypes)
        self.send(struct.pack(">I", VENCRYPT[subtype]))
        if self.u8() != 1:
            raise Refused("VeNCrypt subtype %s refused" % subtype)
        self.sock = tls.wrap_socket(self.sock, server_hostname="127.0.0.1")

    # --- client messages

    def set_pixel_format(self, pf):
        self.send(b"\0\0\0\0" + pf.pack())
        self.pf = pf

    def set_encodings(self, *encodings):
        self.send(struct.pack(">BxH%di" % len(encodings), 2, len(encodings), *encodings))

    def update_request(self, incremental=False, x=0, y=0, w=None, h=None):
        w = self.width if w is None else w
        h = self.height if h is None else h
        self.send(struct.pack(">BBHHHH", 3, incremental, x, y, w, h))

    def key(self, keysym):
        for down in (1, 0):
            self.send(struct.pack(">BBxxI", 4, down, keysym))

    def click(self, x, y):
        """Button 1 pressed and released at X, Y."""
        for mask in (1, 0):
            self.send(struct.pack(">BBHH", 5, mask, x, y))

    # --- server messages

    def read_update(self):
        """The rectangles of the next FramebufferUpdate (other messages skipped);
        a DesktopSize rectangle changes width and height."""
        while True:
            kind = self.u8()
            if kind == 0:
                break
            if kind == 1:  # SetColourMapEntries
                _, _, count = struct.unpack(">BHH", self.recv(5))
                self.recv(6 * count)
            elif kind == 3:  # ServerCutText
                self.recv(3)
                self.recv(self.u32())
            elif kind != 2:  # not a Bell either
                raise AssertionError("unknown server message type %d" % kind)
        _, count = struct.unpack(">BH", self.recv(3))
        rects = []
        for _ in range(count):
            rect = Rect(*struct.unpack(">HHHHi", self.recv(12)))
            if rect.encoding == ENCODING_RAW:
                rect.pixels = self.recv(rect.w * rect.h * self.pf.bpp // 8)
            elif rect.encoding == ENCODING_DESKTOP_SIZE:
                self.width, self.height = rect.w, rect.h
            else:
                raise AssertionError("rectangle in encoding %d, not asked for" % rect.encoding)
            rects.append(rect)
        return rects

    def read_frame(self):
        """A whole frame after a non-incremental request: the rows of (r, g, b) in the
        pixel format's units, filled from Raw rectangles until every pixel came."""
        frame = [[None] * self.width for _ in range(self.height)]
        missing = self.width * self.height
        while missing:
            for rect in self.read_update():
                if rect.encoding != ENCODING_RAW:
                    continue
                if rect.x + rect.w > self.width or rect.y + rect.h > self.height:
                    raise AssertionError("%s lies outside %dx%d" % (rect, self.width,
                                                                   self.height))
                pixels = self.pf.to_rgb(rect.pixels)
                for row in range(rect.h):
                    line = frame[rect.y + row]
                    missing -= line[rect.x:rect.x + rect.w].count(None)
                    line[rect.x:rect.x + rect.w] = pixels[row * rect.w:(row + 1) * rect.w]
        return frame

    def closed_within(self, seconds):
        """Whether the server closes the connection within SECONDS."""
        return closed_within(self.sock, seconds)
