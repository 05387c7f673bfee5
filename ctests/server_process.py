# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the server-driving tests share: free ports, waiting for a listener without
connecting, a server process that a `with` block stops, and watching a connection
close."""

import signal
import socket
import ssl
import subprocess
import time


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(port):
    """Whether a socket listens on 127.0.0.1:PORT (read from /proc: a probing
    connection would count as a client)."""
    with open("/proc/net/tcp") as f:
        for line in f.readlines()[1:]:
            local, state = line.split()[1], line.split()[3]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                return True
    return False


def closed_within(sock, seconds):
    """Whether the peer of SOCK closes the connection (end of file or reset) within
    SECONDS, whatever it sends first. SOCK's timeout is restored."""
    previous = sock.gettimeout()
    deadline = time.monotonic() + seconds
    try:
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(65536):
                return True
    except (ConnectionResetError, BrokenPipeError, ssl.SSLError):
        return True
    except TimeoutError:
        pass
    finally:
        sock.settimeout(previous)
    return False


class ServerProcess:
    """A server started as self.proc, its output in self.log_path; a subclass says
    when it is ready (wait_ready). As a context manager it is stopped on exit."""

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def stop(self):
        """SIGTERM, then SIGKILL after 5 s; returns the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait()

    def __enter__(self):
        try:
            return self.wait_ready()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc):
        self.stop()
