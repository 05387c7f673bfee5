/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include "qio-test-x509.h"

#include <arpa/inet.h>
#include <string.h>
#include <glib/gstdio.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <gnutls/x509-ext.h>
#include <time.h>

struct QIOTestCert {
    gnutls_x509_crt_t crt;
    gnutls_x509_privkey_t key;
    char *pem;
};

static void ok(int rc)
{
    if (rc < 0) {
        g_error("gnutls: %s", gnutls_strerror(rc));
    }
}

static char *take(gnutls_datum_t *datum)
{
    char *text = g_strndup((const char *)datum->data, datum->size);
    gnutls_free(datum->data);
    return text;
}

/* Adds the extension OID with DER content, critical or not. */
static void add_extension(gnutls_x509_crt_t crt, const char *oid, gnutls_datum_t *der, gboolean critical)
{
    ok(gnutls_x509_crt_set_extension_by_oid(crt, oid, der->data, der->size, critical));
    gnutls_free(der->data);
}

QIOTestCert *qio_test_cert_new(const QIOTestCertReq *req, const QIOTestCert *issuer)
{
    static guint32 serial = 1;
    QIOTestCert *cert = g_new0(QIOTestCert, 1);
    ok(gnutls_x509_privkey_init(&cert->key));
    if (req->rsa_bits) {
        ok(gnutls_x509_privkey_generate(cert->key, GNUTLS_PK_RSA, req->rsa_bits, 0));
    } else {
        ok(gnutls_x509_privkey_generate(cert->key, GNUTLS_PK_ECDSA,
                                        GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0));
    }
    ok(gnutls_x509_crt_init(&cert->crt));
    gnutls_x509_crt_t crt = cert->crt;
    ok(gnutls_x509_crt_set_version(crt, 3));
    guint32 be = GUINT32_TO_BE(g_atomic_int_add(&serial, 1));
    ok(gnutls_x509_crt_set_serial(crt, &be, sizeof(be)));
    time_t now = time(NULL);
    ok(gnutls_x509_crt_set_activation_time(crt, now + req->start_hours * 3600));
    ok(gnutls_x509_crt_set_expiration_time(crt, now + req->end_hours * 3600));
    if (req->country) {
        ok(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COUNTRY_NAME, 0, req->country,
                                         strlen(req->country)));
    }
    ok(gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0, req->cn, strlen(req->cn)));
    ok(gnutls_x509_crt_set_key(crt, cert->key));

    gnutls_datum_t der;
    if (req->bc_enable) {
        ok(gnutls_x509_ext_export_basic_constraints(req->bc_ca, -1, &der));
        add_extension(crt, "2.5.29.19", &der, req->bc_critical);
    }
    if (req->ku_enable) {
        ok(gnutls_x509_ext_export_key_usage(req->ku_value, &der));
        add_extension(crt, "2.5.29.15", &der, req->ku_critical);
    }
    if (req->kp_enable) {
        gnutls_x509_key_purposes_t purposes;
        ok(gnutls_x509_key_purpose_init(&purposes));
        ok(gnutls_x509_key_purpose_set(purposes, req->kp_oid1));
        if (req->kp_oid2) {
            ok(gnutls_x509_key_purpose_set(purposes, req->kp_oid2));
        }
        ok(gnutls_x509_ext_export_key_purposes(purposes, &der));
        gnutls_x509_key_purpose_deinit(purposes);
        add_extension(crt, "2.5.29.37", &der, req->kp_critical);
    }
    for (int i = 0; req->dns[i]; i++) {
        ok(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_DNSNAME, req->dns[i],
                                                strlen(req->dns[i]), GNUTLS_FSAN_APPEND));
    }
    for (int i = 0; req->ips[i]; i++) {
        guint8 addr[16];
        gboolean v6 = strchr(req->ips[i], ':') != NULL;
        g_assert_cmpint(inet_pton(v6 ? AF_INET6 : AF_INET, req->ips[i], addr), ==, 1);
        ok(gnutls_x509_crt_set_subject_alt_name(crt, GNUTLS_SAN_IPADDRESS, addr, v6 ? 16 : 4,
                                                GNUTLS_FSAN_APPEND));
    }
    ok(gnutls_x509_crt_set_subject_key_id(crt, (const unsigned char *)&be, sizeof(be)));
    if (issuer) {
        size_t size = 0;
        unsigned char id[64];
        size = sizeof(id);
        if (gnutls_x509_crt_get_subject_key_id(issuer->crt, id, &size, NULL) >= 0) {
            ok(gnutls_x509_crt_set_authority_key_id(crt, id, size));
        }
    }
    ok(gnutls_x509_crt_sign2(crt, issuer ? issuer->crt : crt, issuer ? issuer->key : cert->key,
                             GNUTLS_DIG_SHA256, 0));
    gnutls_datum_t out;
    ok(gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &out));
    cert->pem = take(&out);
    return cert;
}

void qio_test_cert_free(QIOTestCert *cert)
{
    if (cert) {
        gnutls_x509_crt_deinit(cert->crt);
        gnutls_x509_privkey_deinit(cert->key);
        g_free(cert->pem);
        g_free(cert);
    }
}

const char *qio_test_cert_pem(const QIOTestCert *cert)
{
    return cert->pem;
}

size_t qio_test_cert_fingerprint(const QIOTestCert *cert, const char *digest, guint8 *out,
                                 size_t size)
{
    ok(gnutls_x509_crt_get_fingerprint(cert->crt, gnutls_digest_get_id(digest), out, &size));
    return size;
}

char *qio_test_cert_key_pem(const QIOTestCert *cert, const char *password)
{
    gnutls_datum_t out;
    if (password) {
        ok(gnutls_x509_privkey_export2_pkcs8(cert->key, GNUTLS_X509_FMT_PEM, password,
                                             GNUTLS_PKCS_PBES2_AES_256, &out));
    } else {
        ok(gnutls_x509_privkey_export2(cert->key, GNUTLS_X509_FMT_PEM, &out));
    }
    return take(&out);
}

void qio_test_write(const char *dir, const char *name, const char *content)
{
    g_autofree char *path = g_build_filename(dir, name, NULL);
    g_autoptr(GError) error = NULL;
    g_assert_true(g_file_set_contents(path, content, -1, &error));
}

void qio_test_dir_remove(char *dir)
{
    g_autoptr(GDir) d = g_dir_open(dir, 0, NULL);
    for (const char *name; d && (name = g_dir_read_name(d));) {
        g_autofree char *path = g_build_filename(dir, name, NULL);
        g_unlink(path);
    }
    g_rmdir(dir);
    g_free(dir);
}
