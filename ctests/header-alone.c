/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* <qio.h> must compile on its own, first and alone, with -Wall -Wextra -Werror; this
 * file is built as C11 and (as header-alone.cc) as C++. */
#include <qio.h>

int main(void)
{
    g_autoptr(QCryptoHash) hash = NULL;
    g_autoptr(QCryptoHmac) hmac = NULL;
    (void)hash;
    (void)hmac;
    return QIO_MAJOR_VERSION >= 0 ? 0 : 1;
}
