/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Writes the credentials of the TLS interop tests (tls-interop.py) into DIR, each
 * subdirectory laid out as a qio credentials directory that the outside programs can
 * also be pointed at:
 *
 *   server/      ca-cert.pem, server-cert.pem + server-key.pem (localhost, 127.0.0.1)
 *   server-rsa/  the same with an RSA-2048 key
 *   client/      ca-cert.pem, client-cert.pem + client-key.pem (C=UK,CN=qio-client)
 *   ca-only/     ca-cert.pem: a client without a certificate
 *   rogue/       a second CA and a server and client it signed: trusted by nobody
 *   expired/     ca-cert.pem, a server certificate that expired an hour ago
 *   psk/         keys.psk: "qemu:KEY"; psk-wrong/ the same user with another key
 *
 * Keys are made fresh on every run and nothing has a fixed date. */

#include "qio-test-x509.h"

#include <errno.h>
#include <glib/gstdio.h>

/* Writes CA's certificate and, unless LEAF_NAME is NULL, LEAF as
 * DIR/SUB/LEAF_NAME-cert.pem and its key as LEAF_NAME-key.pem. */
static void write_dir(const char *dir, const char *sub, const QIOTestCert *ca,
                      const char *leaf_name, const QIOTestCert *leaf)
{
    g_autofree char *path = g_build_filename(dir, sub, NULL);
    if (g_mkdir_with_parents(path, 0700) < 0) {
        g_error("cannot create %s: %s", path, g_strerror(errno));
    }
    qio_test_write(path, "ca-cert.pem", qio_test_cert_pem(ca));
    if (leaf_name) {
        g_autofree char *cert_name = g_strdup_printf("%s-cert.pem", leaf_name);
        g_autofree char *key_name = g_strdup_printf("%s-key.pem", leaf_name);
        g_autofree char *key = qio_test_cert_key_pem(leaf, NULL);
        qio_test_write(path, cert_name, qio_test_cert_pem(leaf));
        qio_test_write(path, key_name, key);
    }
}

/* Writes DIR/SUB/keys.psk for user "qemu" with a fresh 32-byte key. */
static void write_psk(const char *dir, const char *sub)
{
    g_autofree char *path = g_build_filename(dir, sub, NULL);
    if (g_mkdir_with_parents(path, 0700) < 0) {
        g_error("cannot create %s: %s", path, g_strerror(errno));
    }
    g_autoptr(GString) line = g_string_new("qemu:");
    for (int i = 0; i < 32; i++) {
        g_string_append_printf(line, "%02x", g_random_int_range(0, 256));
    }
    g_string_append_c(line, '\n');
    qio_test_write(path, "keys.psk", line->str);
}

static QIOTestCert *server_cert(const QIOTestCert *ca, unsigned int rsa_bits, int start, int end)
{
    QIOTestCertReq req = QIO_TEST_LEAF_REQ("localhost", QIO_TEST_KP_SERVER);
    req.dns[0] = "localhost";
    req.ips[0] = "127.0.0.1";
    req.rsa_bits = rsa_bits;
    req.start_hours = start;
    req.end_hours = end;
    return qio_test_cert_new(&req, ca);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        g_printerr("usage: %s DIR\n", argv[0]);
        return 2;
    }
    const char *dir = argv[1];
    QIOTestCertReq ca_req = QIO_TEST_CA_REQ("qio interop CA");
    QIOTestCertReq rogue_req = QIO_TEST_CA_REQ("qio rogue CA");
    QIOTestCertReq client_req = QIO_TEST_LEAF_REQ("qio-client", QIO_TEST_KP_CLIENT);
    g_autoptr(QIOTestCert) ca = qio_test_cert_new(&ca_req, NULL);
    g_autoptr(QIOTestCert) rogue = qio_test_cert_new(&rogue_req, NULL);

    g_autoptr(QIOTestCert) server = server_cert(ca, 0, -1, 24);
    g_autoptr(QIOTestCert) server_rsa = server_cert(ca, 2048, -1, 24);
    g_autoptr(QIOTestCert) expired = server_cert(ca, 0, -48, -1);
    g_autoptr(QIOTestCert) rogue_server = server_cert(rogue, 0, -1, 24);
    g_autoptr(QIOTestCert) client = qio_test_cert_new(&client_req, ca);
    g_autoptr(QIOTestCert) rogue_client = qio_test_cert_new(&client_req, rogue);

    write_dir(dir, "server", ca, "server", server);
    write_dir(dir, "server-rsa", ca, "server", server_rsa);
    write_dir(dir, "client", ca, "client", client);
    write_dir(dir, "ca-only", ca, NULL, NULL);
    write_dir(dir, "rogue", rogue, "server", rogue_server);
    write_dir(dir, "rogue", rogue, "client", rogue_client);
    write_dir(dir, "expired", ca, "server", expired);
    write_psk(dir, "psk");
    write_psk(dir, "psk-wrong");
    return 0;
}
