/* YAML/JSON documents as small trees that remember where each node came from,
 * built from libyaml's event stream. Every error a loader reports names the
 * file, line and column (1-based) of the offending node, or the --set text
 * that created it, so that bad input is fixed in one look. */
#include "config/ynode.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <yaml.h>

/* The public SvYDoc plus what only this file needs: the error domain for
 * content messages and the origin strings of --set overrides. Documents are
 * only ever created here, so the cast from SvYDoc is safe. */
typedef struct {
    SvYDoc pub;
    GQuark domain;
    GPtrArray *strings; /* origin texts ("--set a.b=1"), owned */
} YDoc;

static void node_free(gpointer data)
{
    SvYNode *node = data;
    g_free(node->value);
    if (node->keys != NULL)
        g_ptr_array_free(node->keys, TRUE);
    if (node->items != NULL)
        g_ptr_array_free(node->items, TRUE);
    g_free(node);
}

static YDoc *ydoc_new(const char *path, GQuark domain)
{
    YDoc *doc = g_new0(YDoc, 1);
    doc->pub.path = g_strdup(path);
    doc->pub.all = g_ptr_array_new_with_free_func(node_free);
    doc->domain = domain;
    doc->strings = g_ptr_array_new_with_free_func(g_free);
    return doc;
}

void sv_ydoc_free(SvYDoc *doc)
{
    if (doc == NULL)
        return;
    YDoc *d = (YDoc *)doc;
    g_free(doc->path);
    g_ptr_array_free(doc->all, TRUE);
    g_ptr_array_free(d->strings, TRUE);
    g_free(d);
}

static SvYNode *node_new(YDoc *doc, SvYNodeKind kind, int line, int col, const char *origin)
{
    SvYNode *node = g_new0(SvYNode, 1);
    node->kind = kind;
    node->line = line;
    node->col = col;
    node->origin = origin;
    if (kind == SV_YNODE_MAP)
        node->keys = g_ptr_array_new();
    if (kind != SV_YNODE_SCALAR)
        node->items = g_ptr_array_new();
    g_ptr_array_add(doc->pub.all, node);
    return node;
}

/* "FILE:L:C: " / "ORIGIN: " / "FILE: " prefix of a message about @node. */
static char *where_prefix(const SvYDoc *doc, const SvYNode *node)
{
    if (node != NULL && node->origin != NULL)
        return g_strdup(node->origin);
    if (node != NULL && node->line > 0)
        return g_strdup_printf("%s:%d:%d", doc->path, node->line, node->col);
    return g_strdup(doc->path);
}

static gboolean ydoc_verror(const SvYDoc *doc, const SvYNode *node, GError **error,
                            SvErrorCode code, const char *fmt, va_list ap)
{
    g_autofree char *where = where_prefix(doc, node);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    g_set_error(error, ((const YDoc *)doc)->domain, code, "%s: %s", where, msg);
    return FALSE;
}

gboolean sv_ydoc_error(const SvYDoc *doc, const SvYNode *node, GError **error, SvErrorCode code,
                       const char *fmt, ...)
{
    g_return_val_if_fail(doc != NULL, FALSE);
    va_list ap;
    va_start(ap, fmt);
    ydoc_verror(doc, node, error, code, fmt, ap);
    va_end(ap);
    return FALSE;
}

/* ------------------------------------------------------------------------- */
/* Parsing */

/* 1-based line and column of byte @offset in @text (columns count characters).
 */
static void offset_to_mark(const char *text, size_t len, size_t offset, int *line, int *col)
{
    *line = 1;
    *col = 1;
    for (size_t i = 0; i < offset && i < len; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c == '\n') {
            (*line)++;
            *col = 1;
        } else if ((c & 0xC0) != 0x80) {
            (*col)++;
        }
    }
}

static gboolean is_null_text(const char *s)
{
    return *s == '\0' || strcmp(s, "~") == 0 || strcmp(s, "null") == 0 || strcmp(s, "Null") == 0 ||
           strcmp(s, "NULL") == 0;
}

#define STD_TAG_PREFIX "tag:yaml.org,2002:"

/* What a parse is for: a file (messages "PATH:L:C: ...") or a --set value
 * (messages "--set TEXT: ...", nodes carry that origin). */
typedef struct {
    YDoc *doc;
    const char *origin; /* NULL for a file */
    GQuark domain;
    const char *text;
    size_t len;
} ParseCtx;

static gboolean parse_fail(const ParseCtx *ctx, int line, int col, GError **error, const char *fmt,
                           ...) G_GNUC_PRINTF(5, 6);
static gboolean parse_fail(const ParseCtx *ctx, int line, int col, GError **error, const char *fmt,
                           ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    if (ctx->origin != NULL)
        g_set_error(error, ctx->domain, SV_ERROR_PARSE, "%s: %s", ctx->origin, msg);
    else if (line > 0)
        g_set_error(error, ctx->domain, SV_ERROR_PARSE, "%s:%d:%d: %s", ctx->doc->pub.path, line,
                    col, msg);
    else
        g_set_error(error, ctx->domain, SV_ERROR_PARSE, "%s: %s", ctx->doc->pub.path, msg);
    return FALSE;
}

static gboolean libyaml_fail(const ParseCtx *ctx, const yaml_parser_t *parser, GError **error)
{
    const char *problem = parser->problem ? parser->problem : "invalid YAML";
    if (parser->error == YAML_READER_ERROR) {
        int line, col;
        offset_to_mark(ctx->text, ctx->len, parser->problem_offset, &line, &col);
        return parse_fail(ctx, line, col, error, "%s", problem);
    }
    int line = (int)parser->problem_mark.line + 1, col = (int)parser->problem_mark.column + 1;
    if (parser->context != NULL)
        return parse_fail(ctx, line, col, error, "%s %s (line %d)", problem, parser->context,
                          (int)parser->context_mark.line + 1);
    return parse_fail(ctx, line, col, error, "%s", problem);
}

/* Reject what this tree does not model, at the event's mark. */
static gboolean check_event(const ParseCtx *ctx, const yaml_event_t *ev, GError **error)
{
    int line = (int)ev->start_mark.line + 1, col = (int)ev->start_mark.column + 1;
    const yaml_char_t *anchor = NULL, *tag = NULL;
    switch (ev->type) {
    case YAML_ALIAS_EVENT:
        return parse_fail(ctx, line, col, error,
                          "aliases (*%s) are not supported; write the value out",
                          (const char *)ev->data.alias.anchor);
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_MAPPING_START_EVENT:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        break;
    default:
        return TRUE;
    }
    if (anchor != NULL)
        return parse_fail(ctx, line, col, error, "anchors (&%s) are not supported",
                          (const char *)anchor);
    /* "!" is the non-specific tag (a plain string); tag:yaml.org,2002: are the
     * standard ones (!!str, !!int...). Anything else is an application tag
     * that no loader here understands. */
    if (tag != NULL && strcmp((const char *)tag, "!") != 0 &&
        !g_str_has_prefix((const char *)tag, STD_TAG_PREFIX))
        return parse_fail(ctx, line, col, error, "tag '%s' is not supported", (const char *)tag);
    return TRUE;
}

/* Add @child to the collection on top of the stack. Map entries alternate key
 * and value; keys must be scalars and unique. */
static gboolean attach(const ParseCtx *ctx, GPtrArray *stack, GPtrArray *pending_keys,
                       SvYNode *child, SvYNode **root, GError **error)
{
    if (stack->len == 0) {
        *root = child;
        return TRUE;
    }
    SvYNode *top = g_ptr_array_index(stack, stack->len - 1);
    if (top->kind == SV_YNODE_SEQ) {
        g_ptr_array_add(top->items, child);
        return TRUE;
    }
    SvYNode *key = g_ptr_array_index(pending_keys, stack->len - 1);
    if (key == NULL) {
        if (child->kind != SV_YNODE_SCALAR)
            return parse_fail(ctx, child->line, child->col, error, "mapping keys must be scalars");
        for (guint i = 0; i < top->keys->len; i++) {
            const SvYNode *k = g_ptr_array_index(top->keys, i);
            if (g_strcmp0(k->value, child->value) == 0)
                return parse_fail(ctx, child->line, child->col, error,
                                  "duplicate key '%s' (first at line %d)", child->value, k->line);
        }
        g_ptr_array_index(pending_keys, stack->len - 1) = child;
        return TRUE;
    }
    g_ptr_array_add(top->keys, key);
    g_ptr_array_add(top->items, child);
    g_ptr_array_index(pending_keys, stack->len - 1) = NULL;
    return TRUE;
}

/* Build the tree of the single document in @ctx->text into ctx->doc's node
 * list; *root is NULL when the stream holds no document or only a null. */
static gboolean parse_tree(const ParseCtx *ctx, SvYNode **root, GError **error)
{
    *root = NULL;
    /* NUL bytes and invalid UTF-8 are rejected up front with their position:
     * libyaml would otherwise stop at a NUL or guess another encoding. */
    const char *bad = NULL;
    if (!g_utf8_validate(ctx->text, (gssize)ctx->len, &bad)) {
        int line, col;
        offset_to_mark(ctx->text, ctx->len, (size_t)(bad - ctx->text), &line, &col);
        if (*bad == '\0')
            return parse_fail(ctx, line, col, error, "NUL byte in text (is this a binary file?)");
        return parse_fail(ctx, line, col, error, "invalid UTF-8 (is this a binary file?)");
    }

    yaml_parser_t parser;
    if (!yaml_parser_initialize(&parser))
        return parse_fail(ctx, 0, 0, error, "out of memory");
    yaml_parser_set_input_string(&parser, (const unsigned char *)ctx->text, ctx->len);
    yaml_parser_set_encoding(&parser, YAML_UTF8_ENCODING);

    g_autoptr(GPtrArray) stack = g_ptr_array_new();        /* open collections */
    g_autoptr(GPtrArray) pending_keys = g_ptr_array_new(); /* per open map: key awaiting value */
    gboolean ok = TRUE, done = FALSE;
    int ndocs = 0;
    while (ok && !done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&parser, &ev)) {
            ok = libyaml_fail(ctx, &parser, error);
            break;
        }
        int line = (int)ev.start_mark.line + 1, col = (int)ev.start_mark.column + 1;
        ok = check_event(ctx, &ev, error);
        if (ok) {
            SvYNode *node = NULL;
            switch (ev.type) {
            case YAML_STREAM_END_EVENT:
                done = TRUE;
                break;
            case YAML_DOCUMENT_START_EVENT:
                if (++ndocs > 1)
                    ok = parse_fail(ctx, line, col, error,
                                    "more than one YAML document; put everything in one");
                break;
            case YAML_SCALAR_EVENT: {
                node = node_new(ctx->doc, SV_YNODE_SCALAR, line, col, ctx->origin);
                node->value = g_strndup((const char *)ev.data.scalar.value, ev.data.scalar.length);
                const char *tag = (const char *)ev.data.scalar.tag;
                node->quoted = ev.data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
                               g_strcmp0(tag, STD_TAG_PREFIX "str") == 0 ||
                               g_strcmp0(tag, "!") == 0;
                node->is_null = g_strcmp0(tag, STD_TAG_PREFIX "null") == 0 ||
                                (!node->quoted && is_null_text(node->value));
                ok = attach(ctx, stack, pending_keys, node, root, error);
                break;
            }
            case YAML_MAPPING_START_EVENT:
            case YAML_SEQUENCE_START_EVENT:
                node = node_new(ctx->doc,
                                ev.type == YAML_MAPPING_START_EVENT ? SV_YNODE_MAP : SV_YNODE_SEQ,
                                line, col, ctx->origin);
                ok = attach(ctx, stack, pending_keys, node, root, error);
                g_ptr_array_add(stack, node);
                g_ptr_array_add(pending_keys, NULL);
                break;
            case YAML_MAPPING_END_EVENT:
            case YAML_SEQUENCE_END_EVENT:
                g_ptr_array_set_size(stack, stack->len - 1);
                g_ptr_array_set_size(pending_keys, pending_keys->len - 1);
                break;
            default:
                break;
            }
        }
        yaml_event_delete(&ev);
    }
    yaml_parser_delete(&parser);
    if (!ok) {
        *root = NULL;
        return FALSE;
    }
    /* A document that is only "~" or empty is no document: callers decide. */
    if (*root != NULL && (*root)->kind == SV_YNODE_SCALAR && (*root)->is_null)
        *root = NULL;
    return TRUE;
}

SvYDoc *sv_ydoc_load_string(const char *text, gssize len, const char *name, GQuark domain,
                            GError **error)
{
    g_return_val_if_fail(text != NULL && name != NULL, NULL);
    YDoc *doc = ydoc_new(name, domain);
    ParseCtx ctx = {doc, NULL, domain, text, len < 0 ? strlen(text) : (size_t)len};
    if (!parse_tree(&ctx, &doc->pub.root, error)) {
        sv_ydoc_free(&doc->pub);
        return NULL;
    }
    return &doc->pub;
}

SvYDoc *sv_ydoc_load_file(const char *path, GQuark domain, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    /* Read with stdio rather than g_file_get_contents so the message is
     * "PATH: No such file or directory", path first like every other error. */
    if (g_file_test(path, G_FILE_TEST_IS_DIR)) {
        g_set_error(error, G_FILE_ERROR, G_FILE_ERROR_ISDIR, "%s: is a directory, not a file",
                    path);
        return NULL;
    }
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        int err = errno;
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", path,
                    g_strerror(err));
        return NULL;
    }
    g_autoptr(GString) buf = g_string_new(NULL);
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) {
        g_string_append_len(buf, chunk, (gssize)n);
        /* /dev/zero or a pipe that never ends must not eat all memory. */
        if (buf->len > SV_YDOC_MAX_BYTES) {
            fclose(f);
            g_set_error(error, domain, SV_ERROR_PARSE,
                        "%s: larger than %d MiB: not a YAML or JSON file servesim reads", path,
                        SV_YDOC_MAX_BYTES >> 20);
            return NULL;
        }
    }
    if (ferror(f)) {
        int err = errno;
        fclose(f);
        g_set_error(error, G_FILE_ERROR, g_file_error_from_errno(err), "%s: %s", path,
                    g_strerror(err));
        return NULL;
    }
    fclose(f);
    return sv_ydoc_load_string(buf->str, (gssize)buf->len, path, domain, error);
}

/* ------------------------------------------------------------------------- */
/* Lookup and shape checks */

static int map_index(const SvYNode *map, const char *key)
{
    if (map == NULL || map->kind != SV_YNODE_MAP)
        return -1;
    for (guint i = 0; i < map->keys->len; i++) {
        const SvYNode *k = g_ptr_array_index(map->keys, i);
        if (g_strcmp0(k->value, key) == 0)
            return (int)i;
    }
    return -1;
}

SvYNode *sv_ynode_get(const SvYNode *map, const char *key)
{
    int i = map_index(map, key);
    return i < 0 ? NULL : g_ptr_array_index(map->items, i);
}

SvYNode *sv_ynode_key(const SvYNode *map, const char *key)
{
    int i = map_index(map, key);
    return i < 0 ? NULL : g_ptr_array_index(map->keys, i);
}

/* "a map", "a sequence", "null", "'text'": what a node is, for messages. */
static char *describe(const SvYNode *node)
{
    if (node == NULL)
        return g_strdup("nothing");
    if (node->kind == SV_YNODE_MAP)
        return g_strdup("a map");
    if (node->kind == SV_YNODE_SEQ)
        return g_strdup("a sequence");
    if (node->is_null)
        return g_strdup("null");
    /* Keep messages one line and short. */
    g_autofree char *v = g_strndup(node->value, 60);
    for (char *p = v; *p; p++)
        if (*p == '\n' || *p == '\r' || *p == '\t')
            *p = ' ';
    return g_strdup_printf(node->quoted ? "the string '%s'" : "'%s'", v);
}

gboolean sv_ynode_expect_map(const SvYDoc *doc, const SvYNode *node, const char *what,
                             GError **error)
{
    if (node != NULL && node->kind == SV_YNODE_MAP)
        return TRUE;
    g_autofree char *got = describe(node);
    return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID, "%s must be a map, got %s", what, got);
}

gboolean sv_ynode_expect_seq(const SvYDoc *doc, const SvYNode *node, const char *what,
                             GError **error)
{
    if (node != NULL && node->kind == SV_YNODE_SEQ)
        return TRUE;
    g_autofree char *got = describe(node);
    return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID, "%s must be a sequence, got %s", what,
                         got);
}

gboolean sv_ynode_check_keys(const SvYDoc *doc, const SvYNode *map, const char *where,
                             const char *const *valid, GError **error)
{
    if (!sv_ynode_expect_map(doc, map, where, error))
        return FALSE;
    for (guint i = 0; i < map->keys->len; i++) {
        const SvYNode *k = g_ptr_array_index(map->keys, i);
        for (guint j = 0; j < i; j++) {
            const SvYNode *prev = g_ptr_array_index(map->keys, j);
            if (g_strcmp0(prev->value, k->value) == 0) {
                g_autofree char *first = where_prefix(doc, prev);
                return sv_ydoc_error(doc, k, error, SV_ERROR_INVALID,
                                     "duplicate key '%s' in %s (first at %s)", k->value, where,
                                     first);
            }
        }
        gboolean known = FALSE;
        for (const char *const *v = valid; v != NULL && *v != NULL && !known; v++)
            known = strcmp(*v, k->value) == 0;
        if (known)
            continue;
        const char *near = sv_nearest(k->value, valid);
        if (near != NULL)
            return sv_ydoc_error(doc, k, error, SV_ERROR_INVALID,
                                 "unknown key '%s' in %s (did you mean '%s'?)", k->value, where,
                                 near);
        return sv_ydoc_error(doc, k, error, SV_ERROR_INVALID, "unknown key '%s' in %s", k->value,
                             where);
    }
    return TRUE;
}

/* ------------------------------------------------------------------------- */
/* Typed readers */

/* The node must be a plain, non-null scalar to be read as a number or bool:
 * "8" in quotes is a string by YAML's rules, and silently converting it would
 * hide a mistake. */
static gboolean plain_scalar(const SvYDoc *doc, const SvYNode *node, const char *key,
                             const char *type, GError **error)
{
    g_return_val_if_fail(node != NULL, FALSE);
    if (node->kind == SV_YNODE_SCALAR && !node->is_null && !node->quoted)
        return TRUE;
    g_autofree char *got = describe(node);
    return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID, "%s must be %s, got %s", key, type,
                         got);
}

/* Parse all of @s as a finite double. */
static gboolean parse_double(const char *s, double *out)
{
    /* Decimal only: strtod would also take hex ("0x10"), "nan" and "inf". */
    if (*s == '\0' || strspn(s, "0123456789+-.eE") != strlen(s))
        return FALSE;
    char *end = NULL;
    errno = 0;
    double v = g_ascii_strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return FALSE;
    *out = v;
    return TRUE;
}

static gboolean looks_nonfinite(const char *s)
{
    if (*s == '+' || *s == '-')
        s++;
    if (*s == '.')
        s++;
    return g_ascii_strncasecmp(s, "nan", 3) == 0 || g_ascii_strncasecmp(s, "inf", 3) == 0;
}

gboolean sv_ynode_int64(const SvYDoc *doc, const SvYNode *node, const char *key, int64_t min,
                        int64_t max, int64_t *out, GError **error)
{
    if (!plain_scalar(doc, node, key, "an integer", error))
        return FALSE;
    const char *s = node->value;
    int64_t v = 0;
    gboolean ok = FALSE;
    if (!g_ascii_isspace(*s)) {
        char *end = NULL;
        errno = 0;
        gint64 iv = g_ascii_strtoll(s, &end, 10);
        if (end != s && *end == '\0' && errno == 0) {
            v = iv;
            ok = TRUE;
        }
    }
    if (!ok) {
        /* 1e6 and 2.0 are integers written another way; 1.5 and 1e30 are not. */
        double d;
        if (parse_double(s, &d)) {
            if (d != floor(d))
                return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                                     "%s must be an integer, got %s", key, s);
            if (d < -9.2e18 || d > 9.2e18)
                return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                                     "%s is out of range, got %s", key, s);
            v = (int64_t)d;
            ok = TRUE;
        }
    }
    if (!ok) {
        if (looks_nonfinite(s))
            return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                                 "%s must be a finite integer, got %s", key, s);
        g_autofree char *got = describe(node);
        return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID, "%s must be an integer, got %s",
                             key, got);
    }
    if (v < min || v > max) {
        if (max == G_MAXINT64 || (max == G_MAXINT && min != G_MININT))
            return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                                 "%s must be at least %" G_GINT64_FORMAT ", got %s", key,
                                 (gint64)min, s);
        return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                             "%s must be between %" G_GINT64_FORMAT " and %" G_GINT64_FORMAT
                             ", got %s",
                             key, (gint64)min, (gint64)max, s);
    }
    *out = v;
    return TRUE;
}

gboolean sv_ynode_int(const SvYDoc *doc, const SvYNode *node, const char *key, int min, int max,
                      int *out, GError **error)
{
    int64_t v = 0;
    if (!sv_ynode_int64(doc, node, key, min, max, &v, error))
        return FALSE;
    *out = (int)v;
    return TRUE;
}

gboolean sv_ynode_double(const SvYDoc *doc, const SvYNode *node, const char *key, double min,
                         double max, double *out, GError **error)
{
    if (!plain_scalar(doc, node, key, "a number", error))
        return FALSE;
    double v;
    if (!parse_double(node->value, &v)) {
        if (looks_nonfinite(node->value))
            return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                                 "%s must be a finite number, got %s", key, node->value);
        g_autofree char *got = describe(node);
        return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID, "%s must be a number, got %s", key,
                             got);
    }
    if (v < min || v > max) {
        if (max >= G_MAXDOUBLE)
            return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                                 "%s must be at least %g, got %s", key, min, node->value);
        if (min <= -G_MAXDOUBLE)
            return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                                 "%s must be at most %g, got %s", key, max, node->value);
        return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                             "%s must be between %g and %g, got %s", key, min, max, node->value);
    }
    *out = v;
    return TRUE;
}

gboolean sv_ynode_bounded(const SvYDoc *doc, const SvYNode *node, const char *key,
                          gboolean positive, double min, double max, double *out, GError **error)
{
    double v = 0; /* set when the read succeeds; 0 quiets -O2 flow analysis */
    if (!sv_ynode_double(doc, node, key, -G_MAXDOUBLE, G_MAXDOUBLE, &v, error))
        return FALSE;
    if (positive && v <= 0)
        return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                             "%s must be greater than 0, got %s", key, node->value);
    if (v < min)
        return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID, "%s must be at least %g, got %s",
                             key, min, node->value);
    if (v > max)
        return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID, "%s must be at most %g, got %s",
                             key, max, node->value);
    *out = v;
    return TRUE;
}

gboolean sv_ynode_bool(const SvYDoc *doc, const SvYNode *node, const char *key, gboolean *out,
                       GError **error)
{
    if (!plain_scalar(doc, node, key, "true or false", error))
        return FALSE;
    static const char *const yes[] = {"true", "yes", "on"};
    static const char *const no[] = {"false", "no", "off"};
    for (size_t i = 0; i < G_N_ELEMENTS(yes); i++) {
        if (g_ascii_strcasecmp(node->value, yes[i]) == 0) {
            *out = TRUE;
            return TRUE;
        }
        if (g_ascii_strcasecmp(node->value, no[i]) == 0) {
            *out = FALSE;
            return TRUE;
        }
    }
    g_autofree char *got = describe(node);
    return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID, "%s must be true or false, got %s",
                         key, got);
}

gboolean sv_ynode_string(const SvYDoc *doc, const SvYNode *node, const char *key, const char **out,
                         GError **error)
{
    g_return_val_if_fail(node != NULL, FALSE);
    if (node->kind != SV_YNODE_SCALAR || node->is_null) {
        g_autofree char *got = describe(node);
        return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID, "%s must be a string, got %s", key,
                             got);
    }
    if (node->value[0] == '\0')
        return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID, "%s must not be empty", key);
    *out = node->value;
    return TRUE;
}

gboolean sv_ynode_enum(const SvYDoc *doc, const SvYNode *node, const char *key,
                       const char *const *names, int *out, GError **error)
{
    const char *s;
    if (!sv_ynode_string(doc, node, key, &s, error))
        return FALSE;
    for (int i = 0; names[i] != NULL; i++) {
        if (strcmp(names[i], s) == 0) {
            *out = i;
            return TRUE;
        }
    }
    g_autofree char *list = g_strjoinv(", ", (char **)names);
    const char *near = sv_nearest(s, names);
    if (near != NULL)
        return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID,
                             "unknown %s '%s' (did you mean '%s'?); valid: %s", key, s, near, list);
    return sv_ydoc_error(doc, node, error, SV_ERROR_INVALID, "unknown %s '%s'; valid: %s", key, s,
                         list);
}

/* ------------------------------------------------------------------------- */
/* --set overrides */

static gboolean set_fail(const char *origin, GError **error, const char *fmt, ...)
    G_GNUC_PRINTF(3, 4);
static gboolean set_fail(const char *origin, GError **error, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    g_autofree char *msg = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    g_set_error(error, SV_CONFIG_ERROR, SV_ERROR_PARSE, "%s: %s", origin, msg);
    return FALSE;
}

static gboolean is_index(const char *s, guint *out)
{
    if (*s == '\0' || strlen(s) > 9)
        return FALSE;
    for (const char *p = s; *p; p++)
        if (!g_ascii_isdigit(*p))
            return FALSE;
    *out = (guint)strtoul(s, NULL, 10);
    return TRUE;
}

/* A null placeholder ("engine:" with nothing under it) becomes an empty map
 * so that "engine.x=1" can fill it. */
static void null_to_map(SvYNode *node)
{
    node->kind = SV_YNODE_MAP;
    node->is_null = FALSE;
    node->quoted = FALSE;
    g_clear_pointer(&node->value, g_free);
    node->keys = g_ptr_array_new();
    node->items = g_ptr_array_new();
}

gboolean sv_ydoc_set(SvYDoc *pub, const char *assignment, GError **error)
{
    g_return_val_if_fail(pub != NULL && assignment != NULL, FALSE);
    YDoc *doc = (YDoc *)pub;
    char *origin = g_strdup_printf("--set %s", assignment);
    g_ptr_array_add(doc->strings, origin);

    const char *eq = strchr(assignment, '=');
    if (eq == NULL)
        return set_fail(origin, error, "expected KEY=VALUE (e.g. engine.max_num_seqs=128)");
    g_autofree char *path = g_strndup(assignment, (gsize)(eq - assignment));
    g_strstrip(path);
    if (*path == '\0')
        return set_fail(origin, error, "empty key before '='");
    g_auto(GStrv) parts = g_strsplit(path, ".", -1);
    for (char **p = parts; *p != NULL; p++)
        if (**p == '\0')
            return set_fail(origin, error, "empty component in key '%s'", path);

    /* Parse the value first: nothing changes when it is bad. */
    const char *text = eq + 1;
    ParseCtx ctx = {doc, origin, SV_CONFIG_ERROR, text, strlen(text)};
    SvYNode *value = NULL;
    if (!parse_tree(&ctx, &value, error))
        return FALSE;
    if (value == NULL) { /* "a=" or "a=~": an explicit null */
        value = node_new(doc, SV_YNODE_SCALAR, 0, 0, origin);
        value->value = g_strdup(text);
        value->is_null = TRUE;
    }

    if (pub->root == NULL)
        pub->root = node_new(doc, SV_YNODE_MAP, 0, 0, origin);
    SvYNode *cur = pub->root;
    guint nparts = g_strv_length(parts);
    for (guint i = 0; i < nparts; i++) {
        const char *part = parts[i];
        gboolean last = i + 1 == nparts;
        if (cur->kind == SV_YNODE_SCALAR && cur->is_null)
            null_to_map(cur);
        if (cur->kind == SV_YNODE_SEQ) {
            guint idx;
            if (!is_index(part, &idx))
                return set_fail(origin, error, "'%s' is a sequence: use an index, not '%s'",
                                i == 0 ? "(top level)" : parts[i - 1], part);
            if (idx >= cur->items->len)
                return set_fail(origin, error, "index %u is past the end of '%s' (%u items)", idx,
                                i == 0 ? "(top level)" : parts[i - 1], cur->items->len);
            if (last) {
                g_ptr_array_index(cur->items, idx) = value;
                return TRUE;
            }
            cur = g_ptr_array_index(cur->items, idx);
            continue;
        }
        if (cur->kind != SV_YNODE_MAP)
            return set_fail(origin, error, "cannot set '%s': '%s' is a scalar, not a map", path,
                            i == 0 ? "(top level)" : parts[i - 1]);
        int at = map_index(cur, part);
        if (at < 0) {
            SvYNode *key = node_new(doc, SV_YNODE_SCALAR, 0, 0, origin);
            key->value = g_strdup(part);
            SvYNode *child = last ? value : node_new(doc, SV_YNODE_MAP, 0, 0, origin);
            g_ptr_array_add(cur->keys, key);
            g_ptr_array_add(cur->items, child);
            cur = child;
        } else if (last) {
            g_ptr_array_index(cur->items, at) = value;
        } else {
            cur = g_ptr_array_index(cur->items, at);
        }
    }
    return TRUE;
}
