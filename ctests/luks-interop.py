# SPDX-License-Identifier: LGPL-2.1-or-later
"""LUKS interop: images made by QEMU (qemu-img, qemu-io) and cryptsetup open and
decrypt in qio-luks, and qio-luks's images open in them, with the volume key
cryptsetup reports checked against the payload by pyca/cryptography.

Usage: luks-interop.py QIO_LUKS QCOW2_LUKS_READ
"""

import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from interop_tap import check, run_cases

QIO_LUKS, QCOW2_LUKS_READ = sys.argv[1:3]
WORK = tempfile.mkdtemp(prefix="qio-luks-interop-")
PASSPHRASE = "interop passphrase"
MIB = 1 << 20


def path(name):
    return os.path.join(WORK, name)


def run(*argv, ok=True, stdin=None):
    """ARGV's (returncode, stdout bytes, stderr text); with OK, a failure raises."""
    proc = subprocess.run(argv, input=stdin, capture_output=True, timeout=120)
    if ok and proc.returncode != 0:
        raise AssertionError("%s exited %d: %s" % (" ".join(argv), proc.returncode,
                                                   proc.stderr.decode(errors="replace")))
    return proc.returncode, proc.stdout, proc.stderr.decode(errors="replace")


def qio(*argv, ok=True):
    return run(QIO_LUKS, "--secret", "data=" + PASSPHRASE, *argv, ok=ok)


def key_file():
    name = path("key")
    with open(name, "w") as f:
        f.write(PASSPHRASE)
    return name


def qemu_object(secret=PASSPHRASE, name="sec0"):
    return "secret,id=%s,data=%s" % (name, secret)


def luks_opts(image, secret_id="sec0"):
    return "driver=luks,key-secret=%s,file.filename=%s" % (secret_id, image)


def qemu_io(image, command, secret=PASSPHRASE):
    """Runs one qemu-io command on IMAGE through the luks driver; returns its output."""
    _, out, _ = run("qemu-io", "--object", qemu_object(secret), "--image-opts",
                    luks_opts(image), "-c", command)
    text = out.decode()
    check("Pattern verification failed" not in text and "failed" not in text.lower(),
          "qemu-io %r: %s" % (command, text))
    return text


def pattern_file(name, size, byte):
    with open(path(name), "wb") as f:
        f.write(bytes([byte]) * size)
    return path(name)


def random_file(name, size):
    with open(path(name), "wb") as f:
        f.write(os.urandom(size))
    return path(name)


# (qemu-img create options, qio-luks --cipher, --key-size, --hash) of each cipher set.
VARIANTS = {
    "defaults": ("", "aes-xts-plain64", 512, "sha256"),
    "aes-128-cbc-essiv-sha1": ("cipher-alg=aes-128,cipher-mode=cbc,ivgen-alg=essiv,"
                               "ivgen-hash-alg=sha256,hash-alg=sha1",
                               "aes-cbc-essiv:sha256", 128, "sha1"),
    "aes-256-cbc-plain64-sha512": ("cipher-alg=aes-256,cipher-mode=cbc,ivgen-alg=plain64,"
                                   "hash-alg=sha512", "aes-cbc-plain64", 256, "sha512"),
    "aes-192-xts-plain-sha384": ("cipher-alg=aes-192,cipher-mode=xts,ivgen-alg=plain,"
                                 "hash-alg=sha384", "aes-xts-plain", 384, "sha384"),
    "serpent-256-xts": ("cipher-alg=serpent-256,cipher-mode=xts", "serpent-xts-plain64", 512,
                        "sha256"),
    "twofish-128-cbc-essiv": ("cipher-alg=twofish-128,cipher-mode=cbc,ivgen-alg=essiv",
                              "twofish-cbc-essiv:sha256", 128, "sha256"),
}


def qemu_writes_qio_reads(variant):
    options, _, _, _ = VARIANTS[variant]
    image = path("qemu-%s.luks" % variant)
    create_opts = "key-secret=sec0,iter-time=10" + ("," + options if options else "")
    run("qemu-img", "create", "--object", qemu_object(), "-f", "luks", "-o", create_opts,
        image, "4M")
    qemu_io(image, "write -P 0x5a 0 1M")
    qemu_io(image, "write -P 0xa5 1M 64k")
    _, out, _ = qio("read", image, "0", str(MIB))
    check(out == b"\x5a" * MIB, "the first MiB qemu-io wrote does not read back in qio")
    _, out, _ = qio("read", image, str(MIB), "65536")
    check(out == b"\xa5" * 65536, "the second pattern does not read back in qio")
    _, out, _ = qio("read", image, str(MIB - 100), "200")
    check(out == b"\x5a" * 100 + b"\xa5" * 100, "a read across sectors is wrong")


def qio_writes_qemu_reads(variant):
    _, cipher, bits, hash_alg = VARIANTS[variant]
    raw = pattern_file("plain-%s.raw" % variant, 2 * MIB, 0x3C)
    image = path("qio-%s.luks" % variant)
    qio("--cipher", cipher, "--key-size", str(bits), "--hash", hash_alg, "--iter-time", "10",
        "encrypt", raw, image)
    qemu_io(image, "read -P 0x3c 0 2M")
    run("qemu-img", "compare", "--object", qemu_object(), "--image-opts",
        "driver=raw,file.filename=" + raw, luks_opts(image))


def qemu_amend_adds_key():
    image = path("amend-qemu.luks")
    run("qemu-img", "create", "--object", qemu_object(), "-f", "luks", "-o",
        "key-secret=sec0,iter-time=10", image, "1M")
    run("qemu-img", "amend", "--object", qemu_object(), "--object",
        qemu_object("second", "sec1"), "--image-opts", luks_opts(image), "-o",
        "state=active,new-secret=sec1,iter-time=10")
    rc, _, err = run(QIO_LUKS, "--secret", "data=second", "test-passphrase", image, ok=False)
    check(rc == 0, "qio does not open with the key slot qemu-img added: " + err)
    _, out, _ = qio("dump", image)
    check(out.decode().count("ENABLED") == 2, "dump does not show two key slots")


def qio_adds_key_qemu_opens():
    image = path("amend-qio.luks")
    raw = pattern_file("amend.raw", MIB, 0x77)
    qio("--iter-time", "10", "encrypt", raw, image)
    qio("--new-secret", "data=another", "--iter-time", "10", "add-key", image)
    qemu_io(image, "read -P 0x77 0 1M", secret="another")
    run(QIO_LUKS, "--secret", "data=another", "remove-key", image)
    rc, _, _ = run(QIO_LUKS, "--secret", "data=another", "test-passphrase", image, ok=False)
    check(rc == 1, "the removed passphrase still opens the image")
    qemu_io(image, "read -P 0x77 0 1M")


def volume_key(image, header=None):
    """The volume key `cryptsetup luksDump --dump-volume-key` prints."""
    argv = ["cryptsetup", "luksDump", "--dump-volume-key", "--batch-mode", "--key-file",
            key_file(), image]
    if header:
        argv[2:2] = ["--header", header]
    _, out, _ = run(*argv)
    text = out.decode()
    match = re.search(r"(?:MK|Volume key) dump:\s*((?:[0-9a-f]{2}\s+)+)", text)
    check(match, "no volume key in luksDump's output:\n" + text)
    return bytes.fromhex("".join(match.group(1).split()))


def payload_layout(image, header=None):
    """The payload offset and sector size in bytes `cryptsetup luksDump` reports."""
    _, out, _ = run("cryptsetup", "luksDump", header or image)
    text = out.decode()
    match = re.search(r"Payload offset:\s*(\d+)", text)
    if match:
        return int(match.group(1)) * 512, 512
    segment = text.split("Data segments:")[1]
    offset = re.search(r"offset:\s*(\d+) \[bytes\]", segment)
    sector = re.search(r"sector:\s*(\d+) \[bytes\]", segment)
    return int(offset.group(1)), int(sector.group(1))


def decrypt(key, cipher, data, sector_size=512, first_sector=0):
    """DATA decrypted as dm-crypt does: aes-xts-plain64 or aes-cbc-essiv:sha256, IVs
    counting 512-byte sectors."""
    out = bytearray()
    for i in range(0, len(data), sector_size):
        sector = first_sector + i // 512
        if cipher == "aes-xts-plain64":
            mode = modes.XTS(sector.to_bytes(16, "little"))
        else:
            essiv_key = hashlib.sha256(key).digest()
            enc = Cipher(algorithms.AES(essiv_key), modes.ECB()).encryptor()
            mode = modes.CBC(enc.update(sector.to_bytes(16, "little")))
        dec = Cipher(algorithms.AES(key), mode).decryptor()
        out += dec.update(data[i:i + sector_size]) + dec.finalize()
    return bytes(out)


def cryptsetup_format(image, *extra, header=None, size=8 * MIB):
    random_file(os.path.basename(image), size)
    argv = ["cryptsetup", "luksFormat", "--batch-mode", "--key-file", key_file()]
    if header:
        argv += ["--header", header]
        with open(header, "wb") as f:
            f.truncate(20 * MIB)  # cryptsetup writes into a header file, never grows it
    run(*(argv + list(extra) + [image]))


def cryptsetup_images_open_in_qio(name, cipher, *extra):
    image = path("cs-%s.img" % name)
    # LUKS2's metadata and key slots take 16 MiB by default; 4 MiB of payload follow.
    cryptsetup_format(image, "--cipher", cipher, *extra, size=20 * MIB)
    rc, _, err = run(QIO_LUKS, "-d", key_file(), "test-passphrase", image, ok=False)
    check(rc == 0, "qio does not unlock the cryptsetup image: " + err)
    out_path = path("cs-%s.out" % name)
    run(QIO_LUKS, "-d", key_file(), "decrypt", image, out_path)
    offset, sector_size = payload_layout(image)
    with open(image, "rb") as f:
        f.seek(offset)
        encrypted = f.read()
    with open(out_path, "rb") as f:
        decrypted = f.read()
    check(decrypted == decrypt(volume_key(image), cipher, encrypted, sector_size),
          "qio's plaintext differs from the volume key's")


def luks2_dump_says_version_2():
    image = path("cs-luks2-dump.img")
    cryptsetup_format(image, "--type", "luks2", *ARGON2, size=20 * MIB)
    _, out, _ = run(QIO_LUKS, "dump", image)
    check("Version:       \t2" in out.decode(), "qio-luks dump does not see LUKS2:\n"
          + out.decode())


def qio_images_open_in_cryptsetup():
    raw = random_file("to-cs.raw", MIB)
    image = path("to-cs.luks")
    qio("--iter-time", "10", "encrypt", raw, image)
    _, out, _ = run("cryptsetup", "luksDump", image)
    check("Version:       \t1" in out.decode(), "luksDump does not see LUKS1:\n" + out.decode())
    run("cryptsetup", "open", "--test-passphrase", "--key-file", key_file(), image)
    with open(image, "rb") as f:
        f.seek(payload_layout(image)[0])
        encrypted = f.read()
    with open(raw, "rb") as f:
        check(decrypt(volume_key(image), "aes-xts-plain64", encrypted) == f.read(),
              "the volume key cryptsetup recovers does not decrypt qio's payload")


def detached_cryptsetup_to_qio(luks_type, *extra):
    image = path("detached-cs-%s.img" % luks_type)
    header = path("detached-cs-%s.hdr" % luks_type)
    cryptsetup_format(image, "--type", luks_type, *extra, header=header, size=MIB)
    out_path = path("detached-cs.out")
    run(QIO_LUKS, "-d", key_file(), "--header", header, "decrypt", image, out_path)
    with open(image, "rb") as f:
        encrypted = f.read()
    sector_size = payload_layout(image, header)[1]
    with open(out_path, "rb") as f:
        check(f.read() == decrypt(volume_key(image, header), "aes-xts-plain64", encrypted,
                                  sector_size),
              "qio's plaintext of the detached image differs from the volume key's")


def detached_qio_to_cryptsetup():
    raw = random_file("detached.raw", MIB)
    image, header = path("detached-qio.img"), path("detached-qio.hdr")
    qio("--iter-time", "10", "--header", header, "encrypt", raw, image)
    check(os.path.getsize(image) == MIB, "the detached payload is not the raw file's size")
    run("cryptsetup", "open", "--test-passphrase", "--key-file", key_file(), "--header",
        header, image)
    with open(image, "rb") as f:
        encrypted = f.read()
    with open(raw, "rb") as f:
        check(decrypt(volume_key(image, header), "aes-xts-plain64", encrypted) == f.read(),
              "cryptsetup's volume key does not decrypt qio's detached payload")


def qcow2_with_luks_inside():
    image = path("inside.qcow2")
    run("qemu-img", "create", "--object", qemu_object(), "-f", "qcow2", "-o",
        "encrypt.format=luks,encrypt.key-secret=sec0,encrypt.iter-time=10", image, "4M")
    run("qemu-io", "--object", qemu_object(), "--image-opts",
        "driver=qcow2,encrypt.key-secret=sec0,file.filename=" + image,
        "-c", "write -P 0x6b 65536 65536")
    _, out, _ = run(QCOW2_LUKS_READ, image, PASSPHRASE, "65536", "65536")
    check(out == b"\x6b" * 65536, "the cluster qemu-io wrote does not decrypt")


def command_line_errors():
    """Usage errors exit 2 with a message, failures 1, each saying what went wrong."""
    rc, out, _ = run(QIO_LUKS, "--help")
    for command in ("create", "dump", "test-passphrase", "add-key", "remove-key", "encrypt",
                    "decrypt", "read"):
        check(command in out.decode(), "--help does not describe " + command)
    image = path("cli.luks")
    for argv, status, message in [
        ([], 2, "no command given"),
        (["frobnicate", image], 2, "unknown command 'frobnicate'"),
        (["create", image], 2, "create takes 2 arguments"),
        (["create", image, "12Q"], 2, "SIZE is a number of bytes"),
        (["create", image, "1M"], 1, "A new volume needs a passphrase"),
        (["--secret", "colour=blue", "create", image, "1M"], 1, "Unknown secret property"),
        (["--secret", "data=x", "--cipher", "aes-ofb-plain64", "create", image, "1M"], 1,
         "Unknown mode in cipher 'aes-ofb-plain64'"),
        (["read", image, "0", "1"], 2, "read needs --passphrase-file or --secret"),
        (["--secret", "data=x", "dump", path("missing")], 1, "No such file or directory"),
    ]:
        rc, _, err = run(QIO_LUKS, *argv, ok=False)
        check(rc == status and message in err,
              "%s: exit %d, %r (expected %d, %r)" % (argv, rc, err, status, message))
    qio("--iter-time", "10", "create", image, "1M")
    for argv, message in [
        (["--secret", "data=wrong", "test-passphrase", image],
         "Invalid password, cannot unlock any keyslot"),
        (["--secret", "data=" + PASSPHRASE, "read", image, str(MIB - 10), "11"],
         "go past the payload"),
        (["--secret", "data=" + PASSPHRASE, "remove-key", image],
         "refusing operation"),
    ]:
        rc, _, err = run(QIO_LUKS, *argv, ok=False)
        check(rc == 1 and message in err, "%s: exit %d, %r" % (argv, rc, err))


# Argon2 at a cost a test can pay: 32 MiB, 4 passes.
ARGON2 = ("--pbkdf-memory", "32768", "--pbkdf-force-iterations", "4")
# (name, cipher, cryptsetup options) of each LUKS2 image.
LUKS2 = [
    ("luks2-pbkdf2-xts-512", "aes-xts-plain64",
     ("--pbkdf", "pbkdf2", "--pbkdf-force-iterations", "1000", "--sector-size", "512")),
    ("luks2-argon2i-xts-4096", "aes-xts-plain64",
     ("--pbkdf", "argon2i", "--sector-size", "4096") + ARGON2),
    ("luks2-argon2id-essiv-512", "aes-cbc-essiv:sha256",
     ("--pbkdf", "argon2id", "--key-size", "256", "--sector-size", "512") + ARGON2),
    ("luks2-argon2id-xts-4096", "aes-xts-plain64",
     ("--pbkdf", "argon2id", "--sector-size", "4096") + ARGON2),
]

CASES = [("qio-luks command-line errors", command_line_errors)]
CASES += [("qemu-img/qemu-io %s image read by qio" % v,
           lambda v=v: qemu_writes_qio_reads(v)) for v in VARIANTS]
CASES += [("qio %s image read by qemu-io and qemu-img compare" % v,
           lambda v=v: qio_writes_qemu_reads(v)) for v in VARIANTS]
CASES += [
    ("qemu-img amend adds a key slot that qio opens", qemu_amend_adds_key),
    ("qio add-key adds a key slot that qemu-io opens; remove-key erases it",
     qio_adds_key_qemu_opens),
    ("cryptsetup luks1 aes-xts-plain64 image decrypted by qio",
     lambda: cryptsetup_images_open_in_qio("luks1-xts", "aes-xts-plain64", "--type", "luks1",
                                           "--pbkdf-force-iterations", "1000")),
    ("cryptsetup luks1 aes-cbc-essiv:sha256 image decrypted by qio",
     lambda: cryptsetup_images_open_in_qio("luks1-essiv", "aes-cbc-essiv:sha256",
                                           "--type", "luks1", "--key-size", "256",
                                           "--pbkdf-force-iterations", "1000")),
] + [
    ("cryptsetup %s image decrypted by qio" % name,
     lambda name=name, cipher=cipher, extra=extra: cryptsetup_images_open_in_qio(
         name, cipher, "--type", "luks2", *extra))
    for name, cipher, extra in LUKS2
] + [
    ("qio-luks dump on a LUKS2 image", luks2_dump_says_version_2),
    ("qio's LUKS1 image passes luksDump, --test-passphrase, --dump-volume-key",
     qio_images_open_in_cryptsetup),
    ("cryptsetup --header detached LUKS1 image decrypted by qio",
     lambda: detached_cryptsetup_to_qio("luks1")),
    ("cryptsetup --header detached LUKS2 image decrypted by qio",
     lambda: detached_cryptsetup_to_qio("luks2", "--pbkdf", "argon2id", *ARGON2)),
    ("qio --header detached image opened by cryptsetup", detached_qio_to_cryptsetup),
    ("qcow2 with a LUKS header inside, opened through read callbacks", qcow2_with_luks_inside),
]

try:
    status = run_cases(CASES)
finally:
    shutil.rmtree(WORK)
sys.exit(status)
