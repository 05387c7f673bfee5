/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* header-alone.c, compiled as C++17. */
#include "header-alone.c"
