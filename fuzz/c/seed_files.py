# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes a C fuzz target's seeds: each (name, mode, stream) becomes a file holding the
mode byte then the stream, in the directory given on the command line, else
fuzz/seeds/TARGET beside this script's directory."""

import os
import sys


def write_seeds(target, seeds):
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(os.path.abspath(__file__)), "..", "seeds", target)
    os.makedirs(out, exist_ok=True)
    for name, mode, stream in seeds:
        with open(os.path.join(out, name), "wb") as f:
            f.write(bytes([mode]) + stream)
