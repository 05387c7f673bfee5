/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VNC Authentication: DES-ECB over the challenge with QEMU's vnc_munge_des_rfb_key. */

#include "vnc-auth.h"

#include <string.h>

/* Zeroes secrets in a way the compiler cannot drop as a dead store. */
static void wipe(void *buf, size_t len)
{
    volatile uint8_t *p = buf;
    while (len--) {
        *p++ = 0;
    }
}

gboolean vnc_auth_challenge(uint8_t challenge[VNC_AUTH_CHALLENGE_LEN], GError **errp)
{
    return qcrypto_random_bytes(challenge, VNC_AUTH_CHALLENGE_LEN, errp) == 0;
}

gboolean vnc_auth_response(const char *password, const uint8_t challenge[VNC_AUTH_CHALLENGE_LEN],
                           uint8_t response[VNC_AUTH_CHALLENGE_LEN], GError **errp)
{
    uint8_t key[VNC_AUTH_PASSWORD_MAX] = { 0 };
    memcpy(key, password, MIN(strlen(password), sizeof(key)));
    for (size_t i = 0; i < sizeof(key); i++) {
        /* Reverse the bits: the original VNC's DES took its key that way round. */
        uint8_t r = key[i];
        r = (r & 0xf0) >> 4 | (r & 0x0f) << 4;
        r = (r & 0xcc) >> 2 | (r & 0x33) << 2;
        r = (r & 0xaa) >> 1 | (r & 0x55) << 1;
        key[i] = r;
    }
    QCryptoCipher *cipher = qcrypto_cipher_new(QCRYPTO_CIPHER_ALGO_DES, QCRYPTO_CIPHER_MODE_ECB, key, sizeof(key), errp);
    wipe(key, sizeof(key));
    if (!cipher) {
        return FALSE;
    }
    int ret = qcrypto_cipher_encrypt(cipher, challenge, response, VNC_AUTH_CHALLENGE_LEN, errp);
    qcrypto_cipher_free(cipher);
    return ret == 0;
}

int vnc_auth_check(const char *password, const uint8_t challenge[VNC_AUTH_CHALLENGE_LEN],
                   const uint8_t response[VNC_AUTH_CHALLENGE_LEN], GError **errp)
{
    uint8_t expected[VNC_AUTH_CHALLENGE_LEN];
    if (!vnc_auth_response(password, challenge, expected, errp)) {
        return -1;
    }
    uint8_t diff = 0;
    for (size_t i = 0; i < sizeof(expected); i++) {
        diff |= expected[i] ^ response[i];
    }
    wipe(expected, sizeof(expected));
    return diff == 0;
}
