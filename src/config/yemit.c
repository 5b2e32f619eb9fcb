/* Writing an SvYDoc back out as block-style YAML. The plan search edits a
 * study's tree with --set-style overrides and writes the winner as best.yaml,
 * which must load back into the same tree: scalars keep their quoting (a
 * quoted "8" stays a string), plain text that YAML would read otherwise is
 * double-quoted, and nulls stay null. Comments and key styles of the
 * original are not kept. */
#include "config/ynode.h"

#include <string.h>

/* Can @s be written as a plain scalar in block context and read back as the
 * same text? Conservative: anything unusual is quoted. */
static gboolean plain_safe(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || s[0] == ' ' || s[n - 1] == ' ')
        return FALSE;
    if (strchr("-?:,[]{}#&*!|>'\"%@`", s[0]) != NULL) {
        /* "-1" and "-0.5" are numbers, safe; "- x" or "-" is not. */
        if (!(s[0] == '-' && n > 1 && (g_ascii_isdigit(s[1]) || s[1] == '.')))
            return FALSE;
    }
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        if (c < 0x20 || c == 0x7f)
            return FALSE;
        if (c == ':' && (p[1] == ' ' || p[1] == '\0'))
            return FALSE;
        if (c == '#' && p > s && p[-1] == ' ')
            return FALSE;
    }
    return TRUE;
}

static void emit_quoted(GString *out, const char *s)
{
    g_string_append_c(out, '"');
    for (const char *p = s; *p; p++) {
        unsigned char c = (unsigned char)*p;
        switch (c) {
        case '"':
            g_string_append(out, "\\\"");
            break;
        case '\\':
            g_string_append(out, "\\\\");
            break;
        case '\n':
            g_string_append(out, "\\n");
            break;
        case '\t':
            g_string_append(out, "\\t");
            break;
        case '\r':
            g_string_append(out, "\\r");
            break;
        default:
            if (c < 0x20 || c == 0x7f)
                g_string_append_printf(out, "\\x%02x", c);
            else
                g_string_append_c(out, (char)c);
        }
    }
    g_string_append_c(out, '"');
}

static void emit_scalar(GString *out, const SvYNode *node)
{
    if (node->is_null) {
        g_string_append(out, "null");
        return;
    }
    const char *v = node->value != NULL ? node->value : "";
    /* A quoted scalar is a string whatever its text; a plain one is written
     * plain so that numbers and booleans stay what they were. */
    if (!node->quoted && plain_safe(v))
        g_string_append(out, v);
    else
        emit_quoted(out, v);
}

static gboolean all_scalars(const SvYNode *seq)
{
    for (guint i = 0; i < seq->items->len; i++)
        if (((const SvYNode *)g_ptr_array_index(seq->items, i))->kind != SV_YNODE_SCALAR)
            return FALSE;
    return TRUE;
}

static void indent(GString *out, int level)
{
    for (int i = 0; i < level; i++)
        g_string_append(out, "  ");
}

static void emit_node(GString *out, const SvYNode *node, int level);

/* The value after "key:" or "- ": a scalar, flow collection or an empty one
 * stays on the line; a block collection starts on the next. */
static void emit_value(GString *out, const SvYNode *node, int level)
{
    if (node->kind == SV_YNODE_SCALAR) {
        g_string_append_c(out, ' ');
        emit_scalar(out, node);
        g_string_append_c(out, '\n');
    } else if (node->items->len == 0) {
        g_string_append(out, node->kind == SV_YNODE_MAP ? " {}\n" : " []\n");
    } else if (node->kind == SV_YNODE_SEQ && all_scalars(node)) {
        g_string_append(out, " [");
        for (guint i = 0; i < node->items->len; i++) {
            if (i > 0)
                g_string_append(out, ", ");
            emit_scalar(out, g_ptr_array_index(node->items, i));
        }
        g_string_append(out, "]\n");
    } else {
        g_string_append_c(out, '\n');
        emit_node(out, node, level + 1);
    }
}

/* A block map or sequence at @level. */
static void emit_node(GString *out, const SvYNode *node, int level)
{
    if (node->kind == SV_YNODE_MAP) {
        for (guint i = 0; i < node->keys->len; i++) {
            indent(out, level);
            emit_scalar(out, g_ptr_array_index(node->keys, i));
            g_string_append_c(out, ':');
            emit_value(out, g_ptr_array_index(node->items, i), level);
        }
        return;
    }
    for (guint i = 0; i < node->items->len; i++) {
        const SvYNode *item = g_ptr_array_index(node->items, i);
        indent(out, level);
        g_string_append_c(out, '-');
        if (item->kind == SV_YNODE_MAP && item->items->len > 0) {
            /* "- first: v" then the other keys aligned under it. */
            g_autoptr(GString) sub = g_string_new(NULL);
            emit_node(sub, item, level + 1);
            g_string_append_c(out, ' ');
            g_string_append(out, sub->str + 2 * (level + 1));
        } else {
            emit_value(out, item, level);
        }
    }
}

char *sv_ydoc_emit(const SvYDoc *doc, const char *const *skip_keys)
{
    g_return_val_if_fail(doc != NULL, NULL);
    GString *out = g_string_new(NULL);
    const SvYNode *root = doc->root;
    if (root == NULL) {
        g_string_append(out, "null\n");
    } else if (root->kind == SV_YNODE_SCALAR) {
        emit_scalar(out, root);
        g_string_append_c(out, '\n');
    } else if (root->kind == SV_YNODE_MAP) {
        for (guint i = 0; i < root->keys->len; i++) {
            const SvYNode *key = g_ptr_array_index(root->keys, i);
            if (skip_keys != NULL && key->value != NULL &&
                g_strv_contains((const char *const *)skip_keys, key->value))
                continue;
            emit_scalar(out, key);
            g_string_append_c(out, ':');
            emit_value(out, g_ptr_array_index(root->items, i), 0);
        }
    } else if (root->items->len == 0) {
        g_string_append(out, "[]\n");
    } else {
        emit_node(out, root, 0);
    }
    return g_string_free(out, FALSE);
}
