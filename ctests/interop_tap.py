# SPDX-License-Identifier: LGPL-2.1-or-later
"""What the interop drivers share: running named cases as a TAP stream."""

import subprocess
import sys
import time


class Failure(Exception):
    """A case's check that did not hold."""


class Skip(Exception):
    """A case that does not apply here; its message says why."""


def check(condition, what):
    if not condition:
        raise Failure(what)


def eventually(attempt, seconds, what):
    """Calls ATTEMPT until it returns without a connection error or a failed check,
    for at most SECONDS; then WHAT is the failure."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return attempt()
        except (EOFError, OSError, AssertionError, Failure):
            check(time.monotonic() < deadline, what)
            time.sleep(0.2)


def run_cases(cases):
    """Runs each (name, function) in CASES, printing TAP; every failure is reported
    and the next case runs. Returns the exit status: 1 if any case failed."""
    print("1..%d" % len(cases))
    failures = 0
    for number, (name, run) in enumerate(cases, 1):
        try:
            run()
            print("ok %d - %s" % (number, name))
        except Skip as e:
            print("ok %d - %s # SKIP %s" % (number, name, e))
        except Exception as e:  # a failure ends its case only
            failures += 1
            print("not ok %d - %s" % (number, name))
            for line in str(e).splitlines() or [repr(e)]:
                print("# " + line)
            # meson shows a failed test's stderr, not its TAP stream.
            print("%s: %s" % (name, e), file=sys.stderr)
        sys.stdout.flush()
    return 1 if failures else 0


def finish(proc, timeout):
    """PROC's remaining (stdout, stderr) once it has ended, killed after TIMEOUT
    seconds."""
    try:
        return proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.communicate()
