/* A YAML (or JSON) document loaded into a small tree whose every node keeps
 * its file:line:col, so that every loader (study config, model, hwprofile,
 * Hugging Face config.json) reports bad input at its exact place. Typed
 * getters validate and report; check_keys rejects unknown keys with the
 * nearest valid one. --set overrides edit the tree before it is read. */
#ifndef SV_YNODE_H
#define SV_YNODE_H

#include "core/common.h"

G_BEGIN_DECLS

typedef enum {
    SV_YNODE_SCALAR,
    SV_YNODE_MAP,
    SV_YNODE_SEQ,
} SvYNodeKind;

typedef struct SvYNode SvYNode;
struct SvYNode {
    SvYNodeKind kind;
    char *value;      /* scalar text; NULL for maps and sequences */
    gboolean quoted;  /* scalar was quoted: "1" is a string, not a number */
    gboolean is_null; /* plain scalar ~, null, or empty */
    int line, col;    /* 1-based mark of the node's first character */
    const char
        *origin;      /* overrides "FILE:LINE:COL" in messages, e.g. "--set a.b=1" (owned by doc) */
    GPtrArray *keys;  /* map: scalar key nodes (SvYNode*), in file order */
    GPtrArray *items; /* map: values parallel to keys; seq: the items */
};

typedef struct SvYDoc SvYDoc;
struct SvYDoc {
    char *path;     /* as given by the caller, used in messages */
    SvYNode *root;  /* NULL for an empty document */
    GPtrArray *all; /* every node and origin string, owned, freed with the doc */
};

/* Parse a YAML (1.1, which also reads JSON) file. Errors: G_FILE_ERROR for a
 * missing/unreadable file ("PATH: No such file"), SV_CONFIG_ERROR/PARSE for a
 * syntax error ("PATH:LINE:COL: message"); anchors/aliases and multiple
 * documents are rejected. @domain is the error domain used for messages about
 * the content. (transfer full) */
SvYDoc *sv_ydoc_load_file(const char *path, GQuark domain, GError **error);
/* Files (or pipes) longer than this are refused: no study, model or
 * profile comes near it, and /dev/zero would otherwise never end. */
#define SV_YDOC_MAX_BYTES (64 << 20)
/* Same from memory; @name is used as the path in messages. (transfer full) */
SvYDoc *sv_ydoc_load_string(const char *text, gssize len, const char *name, GQuark domain,
                            GError **error);
void sv_ydoc_free(SvYDoc *doc);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvYDoc, sv_ydoc_free)

/* Set @error to "FILE:LINE:COL: <fmt>" at @node (or "FILE: <fmt>" when @node
 * is NULL), in the doc's domain with @code. Always returns FALSE. */
gboolean sv_ydoc_error(const SvYDoc *doc, const SvYNode *node, GError **error, SvErrorCode code,
                       const char *fmt, ...) G_GNUC_PRINTF(5, 6);

/* Map lookup: the value node for @key, or NULL when absent (or @map is not a
 * map). (transfer none) */
SvYNode *sv_ynode_get(const SvYNode *map, const char *key);
/* The key node of @key in @map, for error marks. (transfer none) */
SvYNode *sv_ynode_key(const SvYNode *map, const char *key);

/* Require @node to be a map / sequence; error names @what ("pool", "cluster"). */
gboolean sv_ynode_expect_map(const SvYDoc *doc, const SvYNode *node, const char *what,
                             GError **error);
gboolean sv_ynode_expect_seq(const SvYDoc *doc, const SvYNode *node, const char *what,
                             GError **error);

/* Every key of @map must be in @valid (NULL-terminated); otherwise
 * "FILE:L:C: unknown key 'maxnum_seqs' in engine (did you mean 'max_num_seqs'?)".
 * @where names the map in the message. Duplicate keys are also errors. */
gboolean sv_ynode_check_keys(const SvYDoc *doc, const SvYNode *map, const char *where,
                             const char *const *valid, GError **error);

/* Typed scalar readers. Each fails on a non-scalar, a null, text that is not
 * entirely the type, NaN/inf, or a value outside [min, max], with a message
 * naming @key and the expected type/range. Integers accept 1e6-style text
 * when it is integral. */
gboolean sv_ynode_int64(const SvYDoc *doc, const SvYNode *node, const char *key, int64_t min,
                        int64_t max, int64_t *out, GError **error);
gboolean sv_ynode_int(const SvYDoc *doc, const SvYNode *node, const char *key, int min, int max,
                      int *out, GError **error);
gboolean sv_ynode_double(const SvYDoc *doc, const SvYNode *node, const char *key, double min,
                         double max, double *out, GError **error);
/* A number with one message per violated bound, for quantities whose limits
 * read better apart ("must be greater than 0" for a zero bandwidth rather
 * than "between 0 and 1e+06"): above 0 when @positive, then at least @min
 * and at most @max. */
gboolean sv_ynode_bounded(const SvYDoc *doc, const SvYNode *node, const char *key,
                          gboolean positive, double min, double max, double *out, GError **error);
gboolean sv_ynode_bool(const SvYDoc *doc, const SvYNode *node, const char *key, gboolean *out,
                       GError **error);
/* A non-empty string scalar. (transfer none: owned by the doc) */
gboolean sv_ynode_string(const SvYDoc *doc, const SvYNode *node, const char *key, const char **out,
                         GError **error);
/* One of @names (NULL-terminated); *out is its index. Error lists the valid
 * names and the nearest one. */
gboolean sv_ynode_enum(const SvYDoc *doc, const SvYNode *node, const char *key,
                       const char *const *names, int *out, GError **error);

/* Apply an override "a.b.c=value" (a sequence index is a number: a.pools.0.replicas).
 * The value is parsed as a YAML flow scalar, sequence or map ("[1,2]").
 * Missing intermediate maps are created; error (SV_CONFIG_ERROR/PARSE) for text
 * without '=' or an empty path, or a path through a scalar or an index past the
 * end of a sequence. Nodes it creates report their origin as "--set TEXT". */
gboolean sv_ydoc_set(SvYDoc *doc, const char *assignment, GError **error);

/* Write @doc as block-style YAML that loads back into the same tree (config/
 * yemit.c): quoted scalars stay quoted, plain ones plain unless YAML would
 * read their text otherwise. Top-level keys named in @skip_keys
 * (NULL-terminated, or NULL) are left out. Comments are not kept.
 * (transfer full) */
char *sv_ydoc_emit(const SvYDoc *doc, const char *const *skip_keys);

G_END_DECLS

#endif /* SV_YNODE_H */
