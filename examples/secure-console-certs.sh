#!/bin/sh
# Makes fresh x509 credentials for secure-console with gnutls' certtool, in QEMU's
# directory layout (keys stay in DIR; everything is valid for one day). KEYTYPE is
# ecdsa (the default) or rsa: QEMU's programs (qemu-nbd, qemu-img) insist that a
# certificate permits key encipherment, which only an RSA key can.
#
#   secure-console-certs.sh DIR [KEYTYPE]
#
#
#   DIR/ca/       ca-cert.pem, ca-key.pem                        (CN=qio demo CA)
#   DIR/server/   ca-cert.pem, server-cert.pem, server-key.pem   (localhost, 127.0.0.1)
#   DIR/client/   ca-cert.pem, client-cert.pem, client-key.pem   (C=GB,O=qio demo,CN=console-user)
#   DIR/mallory/  the same for CN=mallory: a valid certificate the server does not let in
set -eu
dir=$1 keytype=${2:-ecdsa}
mkdir -p "$dir/ca"
chmod 700 "$dir"

# certify SUBDIR ROLE TEMPLATE: a key and a certificate from the CA, written as
# DIR/SUBDIR/ROLE-key.pem and ROLE-cert.pem beside the CA's certificate.
certify() {
    out="$dir/$1"
    mkdir -p "$out"
    printf '%s\nexpiration_days = 1\n' "$3" > "$out/$2.info"
    certtool --generate-privkey --key-type="$keytype" --outfile "$out/$2-key.pem" 2>/dev/null
    certtool --generate-certificate --load-privkey "$out/$2-key.pem" \
        --load-ca-certificate "$dir/ca/ca-cert.pem" --load-ca-privkey "$dir/ca/ca-key.pem" \
        --template "$out/$2.info" --outfile "$out/$2-cert.pem" 2>/dev/null
    rm "$out/$2.info"
    [ "$1" = ca ] || cp "$dir/ca/ca-cert.pem" "$out/ca-cert.pem"
}

printf 'cn = "qio demo CA"\nca\ncert_signing_key\nexpiration_days = 1\n' > "$dir/ca/ca.info"
certtool --generate-privkey --key-type="$keytype" --outfile "$dir/ca/ca-key.pem" 2>/dev/null
certtool --generate-self-signed --load-privkey "$dir/ca/ca-key.pem" \
    --template "$dir/ca/ca.info" --outfile "$dir/ca/ca-cert.pem" 2>/dev/null
rm "$dir/ca/ca.info"

certify server server 'organization = "qio demo"
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
signing_key
encryption_key'

for user in client:console-user mallory:mallory; do
    certify "${user%%:*}" client "country = GB
organization = \"qio demo\"
cn = \"${user#*:}\"
tls_www_client
signing_key
encryption_key"
done
