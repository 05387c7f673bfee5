/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VncFramebuffer: the test pattern and its dirty tiles.
 *
 * The picture is a stack of layers computed per pixel, so that any rectangle can be
 * redrawn alone: colour bars over the top two thirds and red, green, blue and grey
 * ramps below; a black box with white text (the time, or the size when frozen) in the
 * middle of the bars; an orange square bouncing around; and the dots pointer clicks
 * left, on top. An animation step redraws the box and the square's old and new places
 * only, so a client is sent those tiles and nothing else. */

#include "vnc-framebuffer.h"

#include <stdio.h>
#include <string.h>

/* Dots kept for redrawing; past this the oldest ones are forgotten (they stay drawn
 * until something else is drawn over them). */
#define MAX_DOTS 4096
#define DOT_RADIUS 3
#define TEXT_MAX 16

typedef struct {
    int x, y, w, h;
} Rect;

typedef struct {
    int x, y;
} Point;

struct VncFramebuffer {
    int width, height;
    int base_width, base_height; /* the size given at creation */
    gboolean frozen;
    uint32_t *pixels;

    int tiles_x, tiles_y;
    guint64 *tile_serial;
    guint64 serial;

    char text[TEXT_MAX];
    int square_x, square_y, square_dx, square_dy;
    GArray *dots; /* of Point, oldest first */

    VncFramebufferChanged changed;
    gpointer opaque;
};

/* ---- Glyphs: 5x7, one byte a row, the leftmost pixel in bit 4. ---- */

static const uint8_t digit_glyphs[10][7] = {
    { 0x0E, 0x11, 0x13, 0x15, 0x19, 0x11, 0x0E }, { 0x04, 0x0C, 0x04, 0x04, 0x04, 0x04, 0x0E },
    { 0x0E, 0x11, 0x01, 0x02, 0x04, 0x08, 0x1F }, { 0x1F, 0x02, 0x04, 0x02, 0x01, 0x11, 0x0E },
    { 0x02, 0x06, 0x0A, 0x12, 0x1F, 0x02, 0x02 }, { 0x1F, 0x10, 0x1E, 0x01, 0x01, 0x11, 0x0E },
    { 0x06, 0x08, 0x10, 0x1E, 0x11, 0x11, 0x0E }, { 0x1F, 0x01, 0x02, 0x04, 0x08, 0x08, 0x08 },
    { 0x0E, 0x11, 0x11, 0x0E, 0x11, 0x11, 0x0E }, { 0x0E, 0x11, 0x11, 0x0F, 0x01, 0x02, 0x0C },
};
static const uint8_t colon_glyph[7] = { 0x00, 0x0C, 0x0C, 0x00, 0x0C, 0x0C, 0x00 };
static const uint8_t times_glyph[7] = { 0x00, 0x00, 0x11, 0x0A, 0x04, 0x0A, 0x11 };

/* The glyph of C (digits, ':' and 'x'); NULL draws a space. */
static const uint8_t *glyph(char c)
{
    return c >= '0' && c <= '9' ? digit_glyphs[c - '0'] : c == ':' ? colon_glyph : c == 'x' ? times_glyph : NULL;
}

/* ---- Geometry ---- */

static Rect rect_intersect(Rect a, Rect b)
{
    int x0 = MAX(a.x, b.x), y0 = MAX(a.y, b.y);
    int x1 = MIN(a.x + a.w, b.x + b.w), y1 = MIN(a.y + a.h, b.y + b.h);
    return x1 > x0 && y1 > y0 ? (Rect){ x0, y0, x1 - x0, y1 - y0 } : (Rect){ 0, 0, 0, 0 };
}

static Rect rect_union(Rect a, Rect b)
{
    int x0 = MIN(a.x, b.x), y0 = MIN(a.y, b.y);
    int x1 = MAX(a.x + a.w, b.x + b.w), y1 = MAX(a.y + a.h, b.y + b.h);
    return (Rect){ x0, y0, x1 - x0, y1 - y0 };
}

static gboolean rect_contains(Rect r, int x, int y)
{
    return x >= r.x && x < r.x + r.w && y >= r.y && y < r.y + r.h;
}

/* Text and square grow with the picture. */
static int scale(const VncFramebuffer *fb)
{
    return CLAMP(MIN(fb->width, fb->height) / 100, 1, 8);
}

static int bars_height(const VncFramebuffer *fb)
{
    return fb->height * 2 / 3;
}

static Rect text_box(const VncFramebuffer *fb)
{
    int s = scale(fb), len = strlen(fb->text);
    int w = len * 6 * s - s + 4 * s, h = 7 * s + 4 * s;
    return (Rect){ (fb->width - w) / 2, (bars_height(fb) - h) / 2, w, h };
}

static int square_side(const VncFramebuffer *fb)
{
    return MAX(4, MIN(fb->width, fb->height) / 10);
}

static Rect square(const VncFramebuffer *fb)
{
    int side = square_side(fb);
    return (Rect){ fb->square_x, fb->square_y, side, side };
}

static Rect dot_rect(Point p)
{
    return (Rect){ p.x - DOT_RADIUS, p.y - DOT_RADIUS, 2 * DOT_RADIUS + 1, 2 * DOT_RADIUS + 1 };
}

/* ---- Drawing ---- */

static uint32_t background(const VncFramebuffer *fb, int x, int y)
{
    /* 75% bars: white, yellow, cyan, green, magenta, red, blue, black. */
    static const uint32_t bars[8] = { 0xC0C0C0, 0xC0C000, 0x00C0C0, 0x00C000,
                                      0xC000C0, 0xC00000, 0x0000C0, 0x000000 };
    int top = bars_height(fb);
    if (y < top) {
        return bars[(int64_t)x * 8 / fb->width];
    }
    uint32_t v = fb->width > 1 ? (uint32_t)((int64_t)x * 255 / (fb->width - 1)) : 0;
    switch ((y - top) * 4 / (fb->height - top)) {
    case 0:
        return v << 16;
    case 1:
        return v << 8;
    case 2:
        return v;
    default:
        return v * 0x010101;
    }
}

static gboolean text_pixel(const VncFramebuffer *fb, Rect box, int x, int y)
{
    int s = scale(fb);
    int tx = x - box.x - 2 * s, ty = (y - box.y - 2 * s) / s;
    if (tx < 0 || y - box.y - 2 * s < 0 || ty >= 7) {
        return FALSE;
    }
    size_t index = tx / (6 * s);
    int gx = tx % (6 * s) / s;
    const uint8_t *g = index < strlen(fb->text) ? glyph(fb->text[index]) : NULL;
    return g && gx < 5 && (g[ty] & (0x10 >> gx));
}

/* Redraws AREA from the layers, and stamps its tiles. */
static void render(VncFramebuffer *fb, Rect area)
{
    area = rect_intersect(area, (Rect){ 0, 0, fb->width, fb->height });
    if (!area.w) {
        return;
    }
    Rect box = text_box(fb), sq = square(fb);
    for (int y = area.y; y < area.y + area.h; y++) {
        uint32_t *row = fb->pixels + (size_t)y * fb->width;
        for (int x = area.x; x < area.x + area.w; x++) {
            row[x] = rect_contains(sq, x, y) ? 0xFF8000
                   : rect_contains(box, x, y) ? (text_pixel(fb, box, x, y) ? 0xFFFFFF : 0x000000)
                   : background(fb, x, y);
        }
    }
    for (guint i = 0; i < fb->dots->len; i++) {
        Point p = g_array_index(fb->dots, Point, i);
        Rect outer = rect_intersect(dot_rect(p), area);
        for (int y = outer.y; y < outer.y + outer.h; y++) {
            for (int x = outer.x; x < outer.x + outer.w; x++) {
                gboolean rim = ABS(x - p.x) == DOT_RADIUS || ABS(y - p.y) == DOT_RADIUS;
                fb->pixels[(size_t)y * fb->width + x] = rim ? 0x000000 : 0xFFFFFF;
            }
        }
    }
    fb->serial++;
    for (int ty = area.y / VNC_FRAMEBUFFER_TILE; ty <= (area.y + area.h - 1) / VNC_FRAMEBUFFER_TILE; ty++) {
        for (int tx = area.x / VNC_FRAMEBUFFER_TILE; tx <= (area.x + area.w - 1) / VNC_FRAMEBUFFER_TILE; tx++) {
            fb->tile_serial[ty * fb->tiles_x + tx] = fb->serial;
        }
    }
}

static void notify(VncFramebuffer *fb)
{
    if (fb->changed) {
        fb->changed(fb->opaque);
    }
}

static void set_text(VncFramebuffer *fb)
{
    if (fb->frozen) {
        snprintf(fb->text, sizeof(fb->text), "%dx%d", fb->width, fb->height);
    } else {
        g_autoptr(GDateTime) now = g_date_time_new_now_local();
        snprintf(fb->text, sizeof(fb->text), "%02d:%02d:%02d", g_date_time_get_hour(now),
                 g_date_time_get_minute(now), g_date_time_get_second(now));
    }
}

/* Sets the size, with everything in its first place, and draws it all. */
static void set_size(VncFramebuffer *fb, int width, int height)
{
    fb->width = width;
    fb->height = height;
    fb->pixels = g_renew(uint32_t, fb->pixels, (size_t)width * height);
    fb->tiles_x = (width + VNC_FRAMEBUFFER_TILE - 1) / VNC_FRAMEBUFFER_TILE;
    fb->tiles_y = (height + VNC_FRAMEBUFFER_TILE - 1) / VNC_FRAMEBUFFER_TILE;
    fb->tile_serial = g_renew(guint64, fb->tile_serial, (size_t)fb->tiles_x * fb->tiles_y);
    g_array_set_size(fb->dots, 0);
    int step = MAX(1, square_side(fb) / 12);
    fb->square_x = fb->square_y = 0;
    fb->square_dx = fb->square_dy = step;
    set_text(fb);
    render(fb, (Rect){ 0, 0, width, height });
}

VncFramebuffer *vnc_framebuffer_new(int width, int height, gboolean frozen)
{
    g_return_val_if_fail(width >= VNC_FRAMEBUFFER_MIN_SIZE && width <= VNC_FRAMEBUFFER_MAX_SIZE, NULL);
    g_return_val_if_fail(height >= VNC_FRAMEBUFFER_MIN_SIZE && height <= VNC_FRAMEBUFFER_MAX_SIZE, NULL);
    VncFramebuffer *fb = g_new0(VncFramebuffer, 1);
    fb->base_width = width;
    fb->base_height = height;
    fb->frozen = frozen;
    fb->dots = g_array_new(FALSE, FALSE, sizeof(Point));
    set_size(fb, width, height);
    return fb;
}

void vnc_framebuffer_free(VncFramebuffer *fb)
{
    if (fb) {
        g_free(fb->pixels);
        g_free(fb->tile_serial);
        g_array_unref(fb->dots);
        g_free(fb);
    }
}

void vnc_framebuffer_set_changed_func(VncFramebuffer *fb, VncFramebufferChanged func, gpointer opaque)
{
    fb->changed = func;
    fb->opaque = opaque;
}

int vnc_framebuffer_get_width(const VncFramebuffer *fb)
{
    return fb->width;
}

int vnc_framebuffer_get_height(const VncFramebuffer *fb)
{
    return fb->height;
}

const uint32_t *vnc_framebuffer_get_row(const VncFramebuffer *fb, int y)
{
    return fb->pixels + (size_t)y * fb->width;
}

int vnc_framebuffer_get_tiles_x(const VncFramebuffer *fb)
{
    return fb->tiles_x;
}

int vnc_framebuffer_get_tiles_y(const VncFramebuffer *fb)
{
    return fb->tiles_y;
}

guint64 vnc_framebuffer_get_tile_serial(const VncFramebuffer *fb, int tx, int ty)
{
    return fb->tile_serial[ty * fb->tiles_x + tx];
}

guint64 vnc_framebuffer_get_serial(const VncFramebuffer *fb)
{
    return fb->serial;
}

void vnc_framebuffer_tick(VncFramebuffer *fb)
{
    if (fb->frozen) {
        return;
    }
    char old[TEXT_MAX];
    memcpy(old, fb->text, sizeof(old));
    set_text(fb);
    if (strcmp(old, fb->text)) {
        render(fb, text_box(fb));
    }
    Rect before = square(fb);
    int side = square_side(fb);
    fb->square_x += fb->square_dx;
    fb->square_y += fb->square_dy;
    if (fb->square_x < 0 || fb->square_x + side > fb->width) {
        fb->square_dx = -fb->square_dx;
        fb->square_x = CLAMP(fb->square_x, 0, fb->width - side);
    }
    if (fb->square_y < 0 || fb->square_y + side > fb->height) {
        fb->square_dy = -fb->square_dy;
        fb->square_y = CLAMP(fb->square_y, 0, fb->height - side);
    }
    render(fb, rect_union(before, square(fb)));
    notify(fb);
}

void vnc_framebuffer_add_dot(VncFramebuffer *fb, int x, int y)
{
    if (x < 0 || y < 0 || x >= fb->width || y >= fb->height) {
        return;
    }
    if (fb->dots->len == MAX_DOTS) {
        g_array_remove_index(fb->dots, 0);
    }
    Point p = { x, y };
    g_array_append_val(fb->dots, p);
    render(fb, dot_rect(p));
    notify(fb);
}

void vnc_framebuffer_toggle_size(VncFramebuffer *fb)
{
    int width = fb->base_width, height = fb->base_height;
    if (fb->width == fb->base_width && fb->height == fb->base_height) {
        width = MAX(VNC_FRAMEBUFFER_MIN_SIZE, width / 2);
        height = MAX(VNC_FRAMEBUFFER_MIN_SIZE, height / 2);
    }
    if (width != fb->width || height != fb->height) {
        set_size(fb, width, height);
        notify(fb);
    }
}

gboolean vnc_framebuffer_write_ppm(const VncFramebuffer *fb, const char *filename, GError **errp)
{
    g_autofree char *header = g_strdup_printf("P6\n%d %d\n255\n", fb->width, fb->height);
    size_t hlen = strlen(header), npixels = (size_t)fb->width * fb->height;
    g_autofree uint8_t *data = g_malloc(hlen + 3 * npixels);
    memcpy(data, header, hlen);
    uint8_t *p = data + hlen;
    for (size_t i = 0; i < npixels; i++) {
        uint32_t v = fb->pixels[i];
        *p++ = v >> 16;
        *p++ = v >> 8;
        *p++ = v;
    }
    return g_file_set_contents(filename, (const char *)data, hlen + 3 * npixels, errp);
}
