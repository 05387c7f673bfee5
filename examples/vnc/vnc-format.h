/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VncPixelFormat: a client's true-colour pixel format (RFC 6143 7.4), and the
 * conversion of the framebuffer's XRGB pixels into it. Each 8-bit channel scales to
 * the client's maximum as (v * max + 127) / 255, then moves to its shift; pixels of
 * 16 and 32 bits go in the byte order the client asked for. */

#ifndef QIO_VNC_FORMAT_H
#define QIO_VNC_FORMAT_H

#include <glib.h>
#include <stdint.h>

#define VNC_PIXEL_FORMAT_LEN 16

typedef struct {
    uint8_t bpp; /* bits per pixel: 8, 16 or 32 */
    gboolean big_endian;
    gboolean native;     /* 32-bit XRGB in host order: pixels are copied as they are */
    uint32_t lut[3][256]; /* per channel, 8-bit intensity to its bits in place */
} VncPixelFormat;

/* The server's own format on the wire: 32 bits, depth 24, little-endian XRGB. */
extern const uint8_t vnc_pixel_format_server[VNC_PIXEL_FORMAT_LEN];

/* FORMAT from a PIXEL_FORMAT on the wire; FALSE with *WHY set for formats the server
 * does not produce: colour maps, sizes other than 8, 16 and 32 bits, and colour
 * fields reaching past the pixel. */
gboolean vnc_pixel_format_parse(VncPixelFormat *format, const uint8_t wire[VNC_PIXEL_FORMAT_LEN], const char **why);

/* Writes XRGB at P in FORMAT; returns the end. */
uint8_t *vnc_pixel_format_put(const VncPixelFormat *format, uint8_t *p, uint32_t xrgb);

/* Writes the N pixels of SRC, then PAD black ones, at P in FORMAT; returns the end. */
uint8_t *vnc_pixel_format_put_row(const VncPixelFormat *format, uint8_t *p, const uint32_t *src, int n, int pad);

#endif
