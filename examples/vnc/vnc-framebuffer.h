/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VncFramebuffer: the picture qio-vnc-demo serves, 32-bit XRGB (0x00RRGGBB) pixels in
 * rows of exactly its width, with a drawn test pattern (colour bars, colour ramps, a
 * clock and a moving square; pointer clicks leave dots) and dirty tracking in tiles.
 *
 * Dirty tracking: every change stamps the tiles it touches with a new serial number,
 * larger than any before. A client remembers, per tile, the serial it last sent: a tile
 * is dirty for it while the framebuffer's serial is larger. So any number of clients
 * consume changes at their own pace, and the framebuffer keeps no state per client. */

#ifndef QIO_VNC_FRAMEBUFFER_H
#define QIO_VNC_FRAMEBUFFER_H

#include <glib.h>
#include <stdint.h>

/* The side of a dirty-tracking tile, in pixels. */
#define VNC_FRAMEBUFFER_TILE 64
/* The bounds of either dimension. */
#define VNC_FRAMEBUFFER_MIN_SIZE 16
#define VNC_FRAMEBUFFER_MAX_SIZE 8192

typedef struct VncFramebuffer VncFramebuffer;

/* Called after every change (drawing, a dot, a new size). */
typedef void (*VncFramebufferChanged)(gpointer opaque);

/* A WIDTHxHEIGHT framebuffer with the pattern drawn. FROZEN: the pattern shows the size
 * instead of the time, and vnc_framebuffer_tick() does nothing, so that the same size
 * always draws the same pixels. */
VncFramebuffer *vnc_framebuffer_new(int width, int height, gboolean frozen);
void vnc_framebuffer_free(VncFramebuffer *fb);

void vnc_framebuffer_set_changed_func(VncFramebuffer *fb, VncFramebufferChanged func, gpointer opaque);

int vnc_framebuffer_get_width(const VncFramebuffer *fb);
int vnc_framebuffer_get_height(const VncFramebuffer *fb);
/* Row Y (0 <= Y < height): width pixels, valid until the next change of size. */
const uint32_t *vnc_framebuffer_get_row(const VncFramebuffer *fb, int y);

/* The number of tiles across and down. */
int vnc_framebuffer_get_tiles_x(const VncFramebuffer *fb);
int vnc_framebuffer_get_tiles_y(const VncFramebuffer *fb);
/* The serial of the last change to tile (TX, TY); all serials are above 0. */
guint64 vnc_framebuffer_get_tile_serial(const VncFramebuffer *fb, int tx, int ty);
/* The serial of the last change anywhere. */
guint64 vnc_framebuffer_get_serial(const VncFramebuffer *fb);

/* The next animation step: the square moves, the clock shows the current time. */
void vnc_framebuffer_tick(VncFramebuffer *fb);
/* Leaves a dot centred on (X, Y), clipped to the framebuffer; out-of-range points are
 * ignored. */
void vnc_framebuffer_add_dot(VncFramebuffer *fb, int x, int y);
/* Switches between the size given to vnc_framebuffer_new() and its half (never below
 * the minimum), redrawing the pattern and forgetting the dots. */
void vnc_framebuffer_toggle_size(VncFramebuffer *fb);

/* Writes the framebuffer to FILENAME as a binary PPM (P6, maxval 255). */
gboolean vnc_framebuffer_write_ppm(const VncFramebuffer *fb, const char *filename, GError **errp);

#endif
