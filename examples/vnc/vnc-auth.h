/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VNC Authentication (RFC 6143 7.2.2): the server sends 16 random bytes, the client
 * returns them encrypted with DES-ECB under the password, and the server compares.
 * The key is the password's first 8 bytes, zero-padded, each byte's bits in reverse
 * order (the quirk of the original implementation that every client follows). */

#ifndef QIO_VNC_AUTH_H
#define QIO_VNC_AUTH_H

#include <qio.h>

#define VNC_AUTH_CHALLENGE_LEN 16
/* Only this many bytes of a password count. */
#define VNC_AUTH_PASSWORD_MAX 8

/* Fills CHALLENGE with fresh random bytes. */
gboolean vnc_auth_challenge(uint8_t challenge[VNC_AUTH_CHALLENGE_LEN], GError **errp);

/* Computes the response a client knowing PASSWORD gives to CHALLENGE. */
gboolean vnc_auth_response(const char *password, const uint8_t challenge[VNC_AUTH_CHALLENGE_LEN],
                           uint8_t response[VNC_AUTH_CHALLENGE_LEN], GError **errp);

/* Checks a client's RESPONSE to CHALLENGE in constant time: 1 if it matches PASSWORD,
 * 0 if not, -1 with ERRP set if the cipher failed. */
int vnc_auth_check(const char *password, const uint8_t challenge[VNC_AUTH_CHALLENGE_LEN],
                   const uint8_t response[VNC_AUTH_CHALLENGE_LEN], GError **errp);

#endif
