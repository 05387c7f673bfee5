/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Test certificates made at run time with gnutls' x509 API, as QEMU's
 * crypto-tls-x509-helpers do: nothing committed can expire, and every extension's
 * presence and criticality is chosen per certificate. */

#ifndef QIO_TEST_X509_H
#define QIO_TEST_X509_H

#include <glib.h>

/* What a certificate says about itself. Times are hours from now. */
typedef struct {
    const char *country; /* NULL: none */
    const char *cn;
    const char *dns[3];  /* subjectAltName DNS names, NULL-terminated */
    const char *ips[3];  /* subjectAltName IPv4/IPv6 addresses, NULL-terminated */
    gboolean bc_enable, bc_critical, bc_ca;
    gboolean ku_enable, ku_critical;
    unsigned int ku_value; /* QIO_TEST_KU_* */
    gboolean kp_enable, kp_critical;
    const char *kp_oid1, *kp_oid2;
    int start_hours, end_hours;
    unsigned int rsa_bits; /* an RSA key of this size; 0: ECDSA P-256 */
} QIOTestCertReq;

#define QIO_TEST_KU_DIGITAL_SIGNATURE 128
#define QIO_TEST_KU_KEY_CERT_SIGN 4
#define QIO_TEST_KP_SERVER "1.3.6.1.5.5.7.3.1"
#define QIO_TEST_KP_CLIENT "1.3.6.1.5.5.7.3.2"

/* A CA with critical basicConstraints and critical certificate-signing key usage. */
#define QIO_TEST_CA_REQ(name)                                                        \
    { .country = "UK", .cn = (name), .bc_enable = TRUE, .bc_critical = TRUE,         \
      .bc_ca = TRUE, .ku_enable = TRUE, .ku_critical = TRUE,                         \
      .ku_value = QIO_TEST_KU_KEY_CERT_SIGN, .start_hours = -1, .end_hours = 24 }

/* A leaf for a server or a client (KP_OID), every extension critical. */
#define QIO_TEST_LEAF_REQ(name, kp_oid)                                              \
    { .country = "UK", .cn = (name), .bc_enable = TRUE, .bc_critical = TRUE,         \
      .ku_enable = TRUE, .ku_critical = TRUE,                                        \
      .ku_value = QIO_TEST_KU_DIGITAL_SIGNATURE, .kp_enable = TRUE,                  \
      .kp_critical = TRUE, .kp_oid1 = (kp_oid), .start_hours = -1, .end_hours = 24 }

typedef struct QIOTestCert QIOTestCert;

/* The certificate REQ describes with a fresh key, signed by ISSUER (self-signed when
 * NULL). */
QIOTestCert *qio_test_cert_new(const QIOTestCertReq *req, const QIOTestCert *issuer);
void qio_test_cert_free(QIOTestCert *cert);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(QIOTestCert, qio_test_cert_free)

/* The certificate, and its private key (encrypted with PASSWORD unless NULL), as PEM. */
const char *qio_test_cert_pem(const QIOTestCert *cert);
char *qio_test_cert_key_pem(const QIOTestCert *cert, const char *password);

/* The certificate's fingerprint with gnutls' digest DIGEST ("SHA256"), computed by
 * gnutls_x509_crt_get_fingerprint() as an oracle independent of qio: its length. */
size_t qio_test_cert_fingerprint(const QIOTestCert *cert, const char *digest, guint8 *out,
                                 size_t size);

/* Writes CONTENT to DIR/NAME. */
void qio_test_write(const char *dir, const char *name, const char *content);

/* Removes every file in DIR, then DIR, and frees the string. */
void qio_test_dir_remove(char *dir);

#endif /* QIO_TEST_X509_H */
