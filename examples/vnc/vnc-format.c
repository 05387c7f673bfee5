/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VncPixelFormat: table-driven conversion from XRGB to any true-colour format. */

#include "vnc-format.h"

#include <string.h>

const uint8_t vnc_pixel_format_server[VNC_PIXEL_FORMAT_LEN] = {
    32, 24, 0, 1, 0, 255, 0, 255, 0, 255, 16, 8, 0, 0, 0, 0,
};

gboolean vnc_pixel_format_parse(VncPixelFormat *format, const uint8_t wire[VNC_PIXEL_FORMAT_LEN], const char **why)
{
    uint8_t bpp = wire[0];
    uint16_t max[3] = { (uint16_t)(wire[4] << 8 | wire[5]), (uint16_t)(wire[6] << 8 | wire[7]),
                        (uint16_t)(wire[8] << 8 | wire[9]) };
    const uint8_t *shift = wire + 10;
    if (bpp != 8 && bpp != 16 && bpp != 32) {
        *why = "bits per pixel not 8, 16 or 32";
        return FALSE;
    }
    if (!wire[3]) {
        *why = "colour-map pixel formats are not supported";
        return FALSE;
    }
    for (int c = 0; c < 3; c++) {
        if (shift[c] >= bpp || ((uint64_t)max[c] << shift[c]) >> bpp) {
            *why = "a colour field does not fit in the pixel";
            return FALSE;
        }
    }
    format->bpp = bpp;
    format->big_endian = wire[2] != 0;
    format->native = bpp == 32 && format->big_endian == (G_BYTE_ORDER == G_BIG_ENDIAN) && max[0] == 255 &&
                     max[1] == 255 && max[2] == 255 && shift[0] == 16 && shift[1] == 8 && shift[2] == 0;
    for (int c = 0; c < 3; c++) {
        for (uint32_t v = 0; v < 256; v++) {
            format->lut[c][v] = (v * max[c] + 127) / 255 << shift[c];
        }
    }
    return TRUE;
}

uint8_t *vnc_pixel_format_put(const VncPixelFormat *f, uint8_t *p, uint32_t xrgb)
{
    uint32_t v = f->lut[0][xrgb >> 16 & 255] | f->lut[1][xrgb >> 8 & 255] | f->lut[2][xrgb & 255];
    int bytes = f->bpp / 8;
    for (int i = 0; i < bytes; i++) {
        p[f->big_endian ? bytes - 1 - i : i] = v >> (8 * i);
    }
    return p + bytes;
}

uint8_t *vnc_pixel_format_put_row(const VncPixelFormat *f, uint8_t *p, const uint32_t *src, int n, int pad)
{
    size_t bytes = f->bpp / 8;
    if (f->native) {
        memcpy(p, src, n * bytes);
        p += n * bytes;
    } else {
        for (int i = 0; i < n; i++) {
            p = vnc_pixel_format_put(f, p, src[i]);
        }
    }
    memset(p, 0, pad * bytes);
    return p + pad * bytes;
}
