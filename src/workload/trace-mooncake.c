/* Mooncake trace rows: the JSON Lines format of the Mooncake FAST'25
 * traces (traces/mooncake_*.jsonl), one request object per line, parsed a
 * line at a time for trace.c's reader:
 *   {"timestamp": 0, "input_length": 6758, "output_length": 500, "hash_ids": [0, 1, ...]}
 * timestamp is in milliseconds; hash_ids name the prompt's 512-token blocks,
 * equal ids at equal positions meaning shared content (workload
 * hash_block_tokens says how many tokens one id covers). A small dedicated
 * parser, not a general JSON library: the objects are flat, and it reports
 * every mistake at its exact line and column. */
#include "workload/trace-private.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* The parser's position. */
typedef struct {
    const char *path;
    const char *line; /* start of the current line */
    const char *end;  /* end of the current line (before any \r\n) */
    const char *p;    /* next character */
    int lineno;       /* 1-based */
} Cur;

enum { KEY_TIMESTAMP, KEY_INPUT, KEY_OUTPUT, KEY_HASH_IDS, KEY_COUNT };
static const char *const key_names[] = {"timestamp", "input_length", "output_length", "hash_ids",
                                        NULL};

G_GNUC_PRINTF(4, 5)
static gboolean fail(GError **error, const Cur *c, const char *at, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    /* Lines are checked as UTF-8 first, so characters can be counted. */
    long col = g_utf8_strlen(c->line, at - c->line) + 1;
    g_set_error(error, SV_TRACE_ERROR, SV_ERROR_PARSE, "%s:%d:%ld: %s", c->path, c->lineno, col,
                msg);
    return FALSE;
}

static void skip_ws(Cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* What sits at the cursor, for messages: "'x'" or "the end of the line".
 * (transfer full) */
static char *what_is_here(const Cur *c)
{
    if (c->p >= c->end)
        return g_strdup("the end of the line");
    return g_strdup_printf("'%.*s'", (int)(g_utf8_next_char(c->p) - c->p), c->p);
}

static gboolean expect_char(Cur *c, char want, const char *context, GError **error)
{
    skip_ws(c);
    if (c->p < c->end && *c->p == want) {
        c->p++;
        return TRUE;
    }
    g_autofree char *here = what_is_here(c);
    return fail(error, c, c->p, "expected '%c' %s, found %s", want, context, here);
}

/* A JSON number at the cursor: [start, end) of its text, and whether it has
 * a fraction or exponent. */
static gboolean scan_number(Cur *c, const char **start, gboolean *integral, const char *what,
                            GError **error)
{
    skip_ws(c);
    const char *s = c->p, *q = c->p;
    if (q < c->end && *q == '-')
        q++;
    const char *digits = q;
    while (q < c->end && g_ascii_isdigit(*q))
        q++;
    gboolean ok = q > digits && !(q - digits > 1 && *digits == '0');
    *integral = TRUE;
    if (ok && q < c->end && *q == '.') {
        *integral = FALSE;
        const char *f = ++q;
        while (q < c->end && g_ascii_isdigit(*q))
            q++;
        ok = q > f;
    }
    if (ok && q < c->end && (*q == 'e' || *q == 'E')) {
        *integral = FALSE;
        q++;
        if (q < c->end && (*q == '+' || *q == '-'))
            q++;
        const char *e = q;
        while (q < c->end && g_ascii_isdigit(*q))
            q++;
        ok = q > e;
    }
    if (!ok) {
        const char *t = s;
        while (t < c->end && *t != ',' && *t != '}' && *t != ']' && *t != ' ')
            t++;
        return fail(error, c, s, "%s is not a number: '%.*s'", what, (int)(t - s), s);
    }
    *start = s;
    c->p = q;
    return TRUE;
}

/* A token count: a JSON integer in [1, 2^31). */
static gboolean parse_length(Cur *c, const char *what, int32_t *out, GError **error)
{
    const char *s;
    gboolean integral;
    if (!scan_number(c, &s, &integral, what, error))
        return FALSE;
    int len = (int)(c->p - s);
    if (!integral)
        return fail(error, c, s, "%s is not an integer: '%.*s'", what, len, s);
    if (*s == '-')
        return fail(error, c, s, "%s is negative (%.*s); lengths are >= 1 token", what, len, s);
    if (len > 10 || g_ascii_strtoll(s, NULL, 10) > INT32_MAX)
        return fail(error, c, s, "%s is too large (%.*s tokens)", what, len, s);
    int64_t v = g_ascii_strtoll(s, NULL, 10);
    if (v == 0)
        return fail(error, c, s, "%s is 0; lengths are >= 1 token", what);
    *out = (int32_t)v;
    return TRUE;
}

/* timestamp: milliseconds, >= 0, finite; integers convert exactly. */
static gboolean parse_timestamp(Cur *c, SvTimeNs *out, GError **error)
{
    const char *s;
    gboolean integral;
    if (!scan_number(c, &s, &integral, "timestamp", error))
        return FALSE;
    int len = (int)(c->p - s);
    char buf[64];
    if (len >= (int)sizeof(buf))
        return fail(error, c, s, "timestamp is too large");
    memcpy(buf, s, (size_t)len);
    buf[len] = '\0';
    double ms = g_ascii_strtod(buf, NULL);
    if (*s == '-' && ms != 0)
        return fail(error, c, s, "timestamp is negative (%s ms)", buf);
    if (!isfinite(ms) || ms > 9.0e12) /* int64 nanoseconds hold 292 years */
        return fail(error, c, s, "timestamp is too large (%s ms)", buf);
    *out =
        integral ? (SvTimeNs)g_ascii_strtoll(buf, NULL, 10) * 1000000 : (SvTimeNs)llround(ms * 1e6);
    return TRUE;
}

/* hash_ids: a JSON array of integers (any sign, 64-bit). */
static gboolean parse_hash_ids(Cur *c, GArray *ids, GError **error)
{
    if (!expect_char(c, '[', "to open the hash_ids list", error))
        return FALSE;
    skip_ws(c);
    if (c->p < c->end && *c->p == ']') {
        c->p++;
        return TRUE;
    }
    for (;;) {
        const char *s;
        gboolean integral;
        if (!scan_number(c, &s, &integral, "hash_ids entry", error))
            return FALSE;
        int len = (int)(c->p - s);
        char *endp = NULL;
        errno = 0;
        int64_t v = g_ascii_strtoll(s, &endp, 10);
        if (!integral || errno == ERANGE)
            return fail(error, c, s, "hash_ids entry is not a 64-bit integer: '%.*s'", len, s);
        g_array_append_val(ids, v);
        skip_ws(c);
        if (c->p < c->end && *c->p == ']') {
            c->p++;
            return TRUE;
        }
        if (!expect_char(c, ',', "or ']' in hash_ids", error))
            return FALSE;
    }
}

/* A key: a JSON string without escapes (none of the valid keys has one). */
static gboolean parse_key(Cur *c, int *key, const char **at, GError **error)
{
    skip_ws(c);
    *at = c->p;
    if (c->p >= c->end || *c->p != '"') {
        g_autofree char *here = what_is_here(c);
        return fail(error, c, c->p, "expected a key in double quotes, found %s", here);
    }
    const char *s = ++c->p;
    while (c->p < c->end && *c->p != '"' && *c->p != '\\')
        c->p++;
    if (c->p >= c->end || *c->p != '"')
        return fail(error, c, *at,
                    "unknown key (valid: timestamp, input_length, output_length, "
                    "hash_ids)");
    g_autofree char *name = g_strndup(s, (gsize)(c->p - s));
    c->p++;
    for (int k = 0; k < KEY_COUNT; k++) {
        if (strcmp(name, key_names[k]) == 0) {
            *key = k;
            return TRUE;
        }
    }
    const char *near = sv_nearest(name, key_names);
    if (near != NULL)
        return fail(error, c, *at, "unknown key '%s' (did you mean '%s'?)", name, near);
    return fail(error, c, *at,
                "unknown key '%s' (valid: timestamp, input_length, output_length, hash_ids)", name);
}

/* One request object filling @row and @ids. */
static gboolean parse_object(Cur *c, SvRequestSpec *row, GArray *ids, gboolean *has_ids,
                             GError **error)
{
    const char *open = c->p;
    if (!expect_char(c, '{', "(each line is one JSON object)", error))
        return FALSE;
    gboolean seen[KEY_COUNT] = {FALSE};
    skip_ws(c);
    if (c->p < c->end && *c->p == '}')
        return fail(error, c, open,
                    "empty object: a request needs timestamp, input_length and "
                    "output_length");
    for (;;) {
        int key = 0;
        const char *at;
        if (!parse_key(c, &key, &at, error))
            return FALSE;
        if (seen[key])
            return fail(error, c, at, "key '%s' appears twice", key_names[key]);
        seen[key] = TRUE;
        if (!expect_char(c, ':', "after the key", error))
            return FALSE;
        gboolean ok = TRUE;
        switch (key) {
        case KEY_TIMESTAMP:
            ok = parse_timestamp(c, &row->arrival_ns, error);
            break;
        case KEY_INPUT:
            ok = parse_length(c, "input_length", &row->input_tokens, error);
            break;
        case KEY_OUTPUT:
            ok = parse_length(c, "output_length", &row->output_tokens, error);
            break;
        case KEY_HASH_IDS:
            ok = parse_hash_ids(c, ids, error);
            *has_ids = TRUE;
            break;
        }
        if (!ok)
            return FALSE;
        skip_ws(c);
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            break;
        }
        if (!expect_char(c, ',', "or '}' after a value", error))
            return FALSE;
    }
    skip_ws(c);
    if (c->p < c->end)
        return fail(error, c, c->p, "text after the object's closing '}'");
    for (int k = 0; k < KEY_HASH_IDS; k++)
        if (!seen[k])
            return fail(error, c, open,
                        "missing key '%s' (required: timestamp, input_length, "
                        "output_length)",
                        key_names[k]);
    return TRUE;
}

gboolean sv__trace_mooncake_row(const SvTraceLine *l, SvRequestSpec *row, GArray *ids,
                                gboolean *has_ids, GError **error)
{
    Cur c = {.path = l->path, .line = l->line, .end = l->end, .p = l->line, .lineno = l->lineno};
    *has_ids = FALSE; /* rows without hash_ids share nothing */
    skip_ws(&c);
    return parse_object(&c, row, ids, has_ids, error);
}
