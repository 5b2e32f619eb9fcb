/* Model-derived GEMM shapes (see shapes.h). */
#include "shapes.h"

#include <errno.h>
#include <string.h>

gboolean probe_shapes_tp_ok(const SvModel *m, int tp)
{
    if (tp < 1 || m->num_heads % tp != 0)
        return FALSE;
    if (m->kv_lora_rank <= 0 && m->num_kv_heads % tp != 0 && tp % m->num_kv_heads != 0)
        return FALSE;
    if (m->intermediate_size % tp != 0 || m->moe_intermediate_size % tp != 0)
        return FALSE;
    return TRUE;
}

static void add(GArray *out, const SvModel *m, int tp, const char *op, const char *part, int64_t n,
                int64_t k)
{
    ProbeShape s = {0};
    g_strlcpy(s.model, m->name, sizeof s.model);
    s.tp = tp;
    g_strlcpy(s.op, op, sizeof s.op);
    g_strlcpy(s.part, part, sizeof s.part);
    s.n = n;
    s.k = k;
    g_array_append_val(out, s);
}

void probe_shapes_for_model(const SvModel *m, int tp, GArray *out)
{
    int64_t h = m->hidden_size;
    int64_t q_heads = m->num_heads / tp;
    int64_t gate = m->gated_mlp ? 2 : 1;
    if (m->kv_lora_rank > 0) {
        /* MLA, as the predictor's push_qkv: q_a and kv_a replicated, q_b and
         * kv_b column-split; o_proj reduces over heads x v_head_dim. */
        int64_t qk_head = m->qk_nope_head_dim + m->qk_rope_head_dim;
        if (m->q_lora_rank > 0) {
            add(out, m, tp, "qkv_proj", "q_a", m->q_lora_rank, h);
            add(out, m, tp, "qkv_proj", "q_b", q_heads * qk_head, m->q_lora_rank);
        } else {
            add(out, m, tp, "qkv_proj", "q", q_heads * qk_head, h);
        }
        add(out, m, tp, "qkv_proj", "kv_a", m->kv_lora_rank + m->qk_rope_head_dim, h);
        add(out, m, tp, "qkv_proj", "kv_b", q_heads * (m->qk_nope_head_dim + m->v_head_dim),
            m->kv_lora_rank);
        add(out, m, tp, "o_proj", "", h, q_heads * m->v_head_dim);
    } else {
        /* KV heads are replicated once TP exceeds them (vLLM). */
        int64_t kv_heads = m->num_kv_heads >= tp ? m->num_kv_heads / tp : 1;
        add(out, m, tp, "qkv_proj", "", (q_heads + 2 * kv_heads) * m->head_dim, h);
        add(out, m, tp, "o_proj", "", h, q_heads * m->head_dim);
    }
    gboolean dense_layers = m->num_experts == 0 || m->first_k_dense_layers > 0;
    if (dense_layers && m->intermediate_size > 0) {
        int64_t inter = m->intermediate_size / tp;
        add(out, m, tp, "mlp_up", "", gate * inter, h);
        add(out, m, tp, "mlp_down", "", h, inter);
    }
    if (m->num_experts > 0) {
        int64_t inter = m->moe_intermediate_size / tp;
        add(out, m, tp, "moe_router", "", m->num_experts, h);
        add(out, m, tp, "moe_experts", "up", gate * inter, h);
        add(out, m, tp, "moe_experts", "down", h, inter);
        if (m->num_shared_experts > 0) {
            int64_t w = m->shared_expert_intermediate_size > 0 ? m->shared_expert_intermediate_size
                                                               : m->moe_intermediate_size;
            int64_t shared = (int64_t)m->num_shared_experts * w / tp;
            /* The predictor runs shared experts as a dense MLP of this width. */
            add(out, m, tp, "mlp_up", "shared", gate * shared, h);
            add(out, m, tp, "mlp_down", "shared", h, shared);
        }
    }
    /* The LM head's vocabulary is split over TP (padded up). */
    add(out, m, tp, "lm_head", "", (m->vocab_size + tp - 1) / tp, h);
}

void probe_shapes_write(FILE *f, const char *model, const char *source, const GArray *shapes)
{
    fprintf(f, "# GEMM shapes of %s on one device per tensor-parallel degree:\n", model);
    fprintf(f, "# Y[M,N] = X[M,K] W[N,K]^T, M = tokens in the batch (swept by the probe).\n");
    fprintf(f, "# Written by probe-shapes from %s; regenerate, do not edit.\n", source);
    fprintf(f, "model,tp,op,part,n,k\n");
    for (guint i = 0; i < shapes->len; i++) {
        const ProbeShape *s = &g_array_index(shapes, ProbeShape, i);
        fprintf(f, "%s,%d,%s,%s,%" G_GINT64_FORMAT ",%" G_GINT64_FORMAT "\n", s->model, s->tp,
                s->op, s->part, (gint64)s->n, (gint64)s->k);
    }
}

static gboolean bad(GError **error, const char *path, int line, int col, const char *msg,
                    const char *cell)
{
    g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT, "%s:%d:%d: %s '%s'", path, line, col, msg,
                cell);
    return FALSE;
}

static gboolean parse_size(const char *cell, int64_t lo, int64_t *out)
{
    gint64 v;
    if (!g_ascii_string_to_signed(cell, 10, lo, (gint64)1 << 40, &v, NULL))
        return FALSE;
    *out = v;
    return TRUE;
}

static gboolean parse_row(const char *path, int line, char *text, GArray *out, GError **error)
{
    g_auto(GStrv) cells = g_strsplit(text, ",", -1);
    int ncell = (int)g_strv_length(cells);
    int col = 1;
    if (ncell != 6)
        return bad(error, path, line, 1, "expected 6 cells (model,tp,op,part,n,k) in", text);
    ProbeShape s = {0};
    int64_t v;
    for (int i = 0; i < 6; i++) {
        const char *c = cells[i];
        switch (i) {
        case 0:
            if (*c == '\0' || strlen(c) >= sizeof s.model)
                return bad(error, path, line, col, "bad model name", c);
            g_strlcpy(s.model, c, sizeof s.model);
            break;
        case 1:
            if (!parse_size(c, 1, &v) || v > 1024)
                return bad(error, path, line, col, "tp must be an integer in [1, 1024], got", c);
            s.tp = (int)v;
            break;
        case 2:
            if (*c == '\0' || strlen(c) >= sizeof s.op)
                return bad(error, path, line, col, "bad op name", c);
            g_strlcpy(s.op, c, sizeof s.op);
            break;
        case 3:
            if (strlen(c) >= sizeof s.part)
                return bad(error, path, line, col, "bad part name", c);
            g_strlcpy(s.part, c, sizeof s.part);
            break;
        case 4:
        case 5:
            if (!parse_size(c, 1, &v))
                return bad(error, path, line, col,
                           i == 4 ? "n must be a positive integer, got"
                                  : "k must be a positive integer, got",
                           c);
            if (i == 4)
                s.n = v;
            else
                s.k = v;
            break;
        }
        col += (int)strlen(c) + 1;
    }
    g_array_append_val(out, s);
    return TRUE;
}

GArray *probe_shapes_read(const char *path, GError **error)
{
    g_autofree char *text = NULL;
    g_autoptr(GError) local = NULL;
    if (!g_file_get_contents(path, &text, NULL, &local)) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT, "%s: cannot read: %s", path,
                    local->message);
        return NULL;
    }
    g_autoptr(GArray) out = g_array_new(FALSE, TRUE, sizeof(ProbeShape));
    g_auto(GStrv) lines = g_strsplit(text, "\n", -1);
    gboolean header = FALSE;
    for (int i = 0; lines[i] != NULL; i++) {
        char *l = lines[i];
        size_t len = strlen(l);
        if (len > 0 && l[len - 1] == '\r')
            l[len - 1] = '\0';
        if (l[0] == '\0' || l[0] == '#')
            continue;
        if (!header) {
            if (strcmp(l, "model,tp,op,part,n,k") != 0) {
                bad(error, path, i + 1, 1, "expected the header 'model,tp,op,part,n,k', got", l);
                return NULL;
            }
            header = TRUE;
            continue;
        }
        if (!parse_row(path, i + 1, l, out, error))
            return NULL;
    }
    if (!header) {
        g_set_error(error, PROBE_ERROR, PROBE_ERROR_INPUT, "%s: no header row", path);
        return NULL;
    }
    return g_steal_pointer(&out);
}
