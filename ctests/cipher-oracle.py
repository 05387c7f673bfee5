#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""qio's AES against outside implementations, through libqio's C API (ctypes).

`openssl enc` checks AES-CBC and AES-CTR, and pyca/cryptography (OpenSSL's EVP, since
`openssl enc` refuses XTS) checks AES-XTS, on random keys, IVs and data of random
lengths, on every qio backend that has the pair. Usage: cipher-oracle.py LIBQIO. TAP.
"""

import ctypes
import os
import subprocess
import sys

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

ROUNDS = 12
BACKENDS = {"builtin": 1, "nettle": 2, "gnutls": 3}
ALGS = {128: 0, 192: 1, 256: 2}
MODES = {"cbc": 1, "xts": 2, "ctr": 3}

lib = ctypes.CDLL(sys.argv[1])
lib.qcrypto_cipher_new_with_backend.restype = ctypes.c_void_p
lib.qcrypto_cipher_new_with_backend.argtypes = [
    ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_void_p]
lib.qcrypto_backend_supports_cipher.argtypes = [ctypes.c_int] * 3
lib.qcrypto_cipher_setiv.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t,
                                     ctypes.c_void_p]
lib.qcrypto_cipher_encrypt.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_void_p,
                                       ctypes.c_size_t, ctypes.c_void_p]
lib.qcrypto_cipher_free.argtypes = [ctypes.c_void_p]


def qio_encrypt(backend, bits, mode, key, iv, data):
    """DATA encrypted by qio, or None when BACKEND lacks the pair."""
    alg, mode_value = ALGS[bits], MODES[mode]
    if not lib.qcrypto_backend_supports_cipher(BACKENDS[backend], alg, mode_value):
        return None
    cipher = lib.qcrypto_cipher_new_with_backend(alg, mode_value, key, len(key),
                                                 BACKENDS[backend], None)
    assert cipher, "qcrypto_cipher_new_with_backend failed"
    try:
        out = ctypes.create_string_buffer(len(data))
        assert lib.qcrypto_cipher_setiv(cipher, iv, len(iv), None) == 0
        assert lib.qcrypto_cipher_encrypt(cipher, data, out, len(data), None) == 0
        return out.raw
    finally:
        lib.qcrypto_cipher_free(cipher)


def openssl_encrypt(bits, mode, key, iv, data):
    return subprocess.run(
        ["openssl", "enc", f"-aes-{bits}-{mode}", "-nopad", "-K", key.hex(), "-iv", iv.hex()],
        input=data, stdout=subprocess.PIPE, check=True).stdout


def xts_encrypt(key, iv, data):
    encryptor = Cipher(algorithms.AES(key), modes.XTS(iv)).encryptor()
    return encryptor.update(data) + encryptor.finalize()


def main():
    cases = [(bits, mode) for mode in ("cbc", "ctr") for bits in (128, 192, 256)]
    cases += [(bits, "xts") for bits in (128, 256)]
    print(f"1..{len(cases)}")
    for number, (bits, mode) in enumerate(cases, 1):
        checked = set()
        for _ in range(ROUNDS):
            key = os.urandom(bits // 8 * (2 if mode == "xts" else 1))
            iv = os.urandom(16)
            blocks = int.from_bytes(os.urandom(2), "little") % 300 + 1
            data = os.urandom(16 * blocks)
            if mode == "xts":
                expected = xts_encrypt(key, iv, data)
            else:
                expected = openssl_encrypt(bits, mode, key, iv, data)
            for backend in BACKENDS:
                got = qio_encrypt(backend, bits, mode, key, iv, data)
                if got is None:
                    continue
                checked.add(backend)
                if got != expected:
                    print(f"not ok {number} aes-{bits}-{mode}: {backend} differs "
                          f"(key {key.hex()} iv {iv.hex()} {len(data)} bytes)")
                    return 1
        print(f"ok {number} aes-{bits}-{mode} on {', '.join(sorted(checked))}")
    return 0


sys.exit(main())
