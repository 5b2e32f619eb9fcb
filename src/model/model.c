/* Model architectures: loading models/<name>.yaml, the shared validation of
 * shapes, and the arithmetic everything else builds on (parameter counts,
 * weight bytes per device under TP/PP/EP, KV bytes per token). Counts follow
 * the tensors a Hugging Face checkpoint holds, so they can be checked against
 * the sizes publishers state; the Hugging Face config.json loader is hf.c. */
#include "model/model-private.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

/* ---------------------------------------------------------------------- */
/* Construction, copy, free                                                */

SvModel *sv__model_new_defaults(void)
{
    SvModel *m = g_new0(SvModel, 1);
    m->gated_mlp = TRUE;
    m->norm = SV_NORM_RMS;
    m->dtype = SV_DTYPE_BF16;
    return m;
}

SvModel *sv_model_copy(const SvModel *model)
{
    g_return_val_if_fail(model != NULL, NULL);
    SvModel *m = g_new(SvModel, 1);
    *m = *model;
    m->name = g_strdup(model->name);
    m->source = g_strdup(model->source);
    return m;
}

void sv_model_free(SvModel *model)
{
    if (model == NULL)
        return;
    g_free(model->name);
    g_free(model->source);
    g_free(model);
}

/* ---------------------------------------------------------------------- */
/* Validation shared by both loaders                                       */

static const SvYNode *mark_of(GHashTable *marks, const SvYNode *root, const char *field)
{
    const SvYNode *n = marks != NULL ? g_hash_table_lookup(marks, field) : NULL;
    return n != NULL ? n : root;
}

/* A floating-point estimate of the total, used only to refuse models whose
 * int64 counts could overflow (no real model comes near 1e15). */
static double approx_params(const SvModel *m)
{
    double h = m->hidden_size, layers = m->num_layers;
    double attn = 4.0 * h * (double)m->num_heads * MAX(m->head_dim, 1) +
                  h * (double)m->kv_lora_rank + h * (double)m->q_lora_rank +
                  (double)m->num_heads * (m->kv_lora_rank + m->q_lora_rank) *
                      (double)(m->qk_nope_head_dim + m->qk_rope_head_dim + m->v_head_dim);
    double mlp = 3.0 * h * (double)m->intermediate_size +
                 3.0 * h * (double)m->moe_intermediate_size *
                     (double)(m->num_experts + m->num_shared_experts) +
                 3.0 * h * (double)m->shared_expert_intermediate_size * m->num_shared_experts;
    return layers * (attn + mlp) + 2.0 * h * (double)m->vocab_size;
}

gboolean sv__model_finish(SvModel *m, const SvYDoc *doc, const SvYNode *root, GHashTable *marks,
                          gboolean head_dim_given, GError **error)
{
#define BAD(field, ...)                                                                            \
    sv_ydoc_error(doc, mark_of(marks, root, field), error, SV_ERROR_INVALID, __VA_ARGS__)
    gboolean mla = m->kv_lora_rank > 0;

    if (m->num_kv_heads == 0)
        m->num_kv_heads = m->num_heads;
    if (m->num_kv_heads > m->num_heads)
        return BAD("num_kv_heads", "num_kv_heads (%d) exceeds num_heads (%d)", m->num_kv_heads,
                   m->num_heads);
    if (m->num_heads % m->num_kv_heads != 0)
        return BAD("num_kv_heads", "num_heads (%d) is not a multiple of num_kv_heads (%d)",
                   m->num_heads, m->num_kv_heads);

    if (mla) {
        if (m->qk_nope_head_dim <= 0 || m->qk_rope_head_dim <= 0 || m->v_head_dim <= 0)
            return BAD("kv_lora_rank",
                       "multi-head latent attention (kv_lora_rank %d) needs positive "
                       "qk_nope_head_dim, qk_rope_head_dim and v_head_dim",
                       m->kv_lora_rank);
        int qk = m->qk_nope_head_dim + m->qk_rope_head_dim;
        if (head_dim_given && m->head_dim != qk)
            return BAD("head_dim",
                       "head_dim (%d) must equal qk_nope_head_dim + qk_rope_head_dim (%d) "
                       "under multi-head latent attention",
                       m->head_dim, qk);
        m->head_dim = qk;
    } else {
        const char *mla_only[] = {"q_lora_rank", "qk_nope_head_dim", "qk_rope_head_dim",
                                  "v_head_dim"};
        int mla_vals[] = {m->q_lora_rank, m->qk_nope_head_dim, m->qk_rope_head_dim, m->v_head_dim};
        for (size_t i = 0; i < G_N_ELEMENTS(mla_only); i++)
            if (mla_vals[i] != 0)
                return BAD(mla_only[i], "%s is set but kv_lora_rank is 0 (no latent attention)",
                           mla_only[i]);
        if (!head_dim_given) {
            if (m->hidden_size % m->num_heads != 0)
                return BAD("num_heads",
                           "hidden_size (%d) is not a multiple of num_heads (%d): give "
                           "head_dim explicitly",
                           m->hidden_size, m->num_heads);
            m->head_dim = m->hidden_size / m->num_heads;
        }
    }
    m->attn = mla ? SV_ATTN_MLA : m->num_kv_heads == m->num_heads ? SV_ATTN_MHA : SV_ATTN_GQA;

    if (m->num_experts > 0) {
        if (m->experts_per_token < 1 || m->experts_per_token > m->num_experts)
            return BAD("experts_per_token", "experts_per_token (%d) must be in 1..num_experts (%d)",
                       m->experts_per_token, m->num_experts);
        if (m->moe_intermediate_size <= 0)
            return BAD("moe_intermediate_size",
                       "moe_intermediate_size must be positive for a mixture-of-experts model");
        if (m->first_k_dense_layers > m->num_layers)
            return BAD("first_k_dense_layers", "first_k_dense_layers (%d) exceeds num_layers (%d)",
                       m->first_k_dense_layers, m->num_layers);
        if (m->shared_expert_intermediate_size > 0 && m->num_shared_experts == 0)
            return BAD("shared_expert_intermediate_size",
                       "shared_expert_intermediate_size is set but num_shared_experts is 0");
        if (m->routing_skew > 10)
            return BAD("routing_skew",
                       "routing_skew (%g) must be at most 10 (0 = uniform routing; 1 is a "
                       "strongly skewed router)",
                       m->routing_skew);
    } else {
        const char *moe_only[] = {"experts_per_token", "moe_intermediate_size",
                                  "num_shared_experts", "shared_expert_intermediate_size",
                                  "first_k_dense_layers"};
        int moe_vals[] = {m->experts_per_token, m->moe_intermediate_size, m->num_shared_experts,
                          m->shared_expert_intermediate_size, m->first_k_dense_layers};
        for (size_t i = 0; i < G_N_ELEMENTS(moe_only); i++)
            if (moe_vals[i] != 0)
                return BAD(moe_only[i], "%s is set but num_experts is 0 (a dense model)",
                           moe_only[i]);
        if (m->routing_skew != 0)
            return BAD("routing_skew", "routing_skew is set but num_experts is 0 (a dense model)");
        if (m->router_bias || m->expert_bias)
            return BAD(m->router_bias ? "router_bias" : "expert_bias",
                       "%s is set but num_experts is 0 (a dense model)",
                       m->router_bias ? "router_bias" : "expert_bias");
    }
    gboolean has_dense = m->num_experts == 0 || m->first_k_dense_layers > 0;
    if (has_dense && m->intermediate_size <= 0)
        return BAD("intermediate_size", "intermediate_size must be positive: %s",
                   m->num_experts == 0 ? "the model has dense MLP layers"
                                       : "first_k_dense_layers have a dense MLP");

    if (m->sliding_window_every > 0 && m->sliding_window == 0)
        return BAD("sliding_window_every", "sliding_window_every is set but sliding_window is 0");
    if (m->sliding_window_every > m->num_layers)
        return BAD("sliding_window_every", "sliding_window_every (%d) exceeds num_layers (%d)",
                   m->sliding_window_every, m->num_layers);

    if (m->quant_scope == SV_QUANT_SCOPE_EXPERTS && m->num_experts == 0)
        return BAD("quantization_scope",
                   "the quantized format covers routed experts only (quantization_scope "
                   "experts, as mxfp4) but num_experts is 0 (a dense model's quantized weights "
                   "are its linear layers: linear)");

    if (approx_params(m) > 1e15)
        return BAD("num_layers", "model shapes give about %.3g parameters, beyond 1e15",
                   approx_params(m));
    return TRUE;
#undef BAD
}

/* ---------------------------------------------------------------------- */
/* models/<name>.yaml                                                      */

typedef enum { F_INT, F_BOOL, F_DOUBLE, F_NORM, F_DTYPE, F_QSCOPE, F_NAME, F_TEXT } FieldKind;

typedef struct {
    const char *key;
    FieldKind kind;
    size_t offset;
    int min;
    gboolean required;
} FieldSpec;

/* Upper bound for any one shape: keeps every product in int64 (with the
 * 1e15 total check) and catches typos with extra digits. */
#define SHAPE_MAX (1 << 26)

#define INT_F(k, mn, req)                                                                          \
    {                                                                                              \
#k, F_INT, offsetof(SvModel, k), mn, req                                                   \
    }
#define BOOL_F(k)                                                                                  \
    {                                                                                              \
#k, F_BOOL, offsetof(SvModel, k), 0, FALSE                                                 \
    }

static const FieldSpec yaml_fields[] = {
    {"name", F_NAME, 0, 0, FALSE},
    {"source", F_TEXT, 0, 0, FALSE},
    {"description", F_TEXT, 0, 0, FALSE},
    INT_F(num_layers, 1, TRUE),
    INT_F(hidden_size, 1, TRUE),
    INT_F(num_heads, 1, TRUE),
    INT_F(num_kv_heads, 1, FALSE),
    INT_F(head_dim, 1, FALSE),
    INT_F(intermediate_size, 0, FALSE),
    BOOL_F(gated_mlp),
    INT_F(vocab_size, 1, TRUE),
    BOOL_F(tie_word_embeddings),
    INT_F(max_position_embeddings, 1, TRUE),
    BOOL_F(qkv_bias),
    BOOL_F(qk_norm),
    BOOL_F(o_bias),
    {"norm", F_NORM, offsetof(SvModel, norm), 0, FALSE},
    {"dtype", F_DTYPE, offsetof(SvModel, dtype), 0, FALSE},
    INT_F(num_experts, 0, FALSE),
    INT_F(experts_per_token, 0, FALSE),
    INT_F(moe_intermediate_size, 0, FALSE),
    INT_F(num_shared_experts, 0, FALSE),
    INT_F(shared_expert_intermediate_size, 0, FALSE),
    INT_F(first_k_dense_layers, 0, FALSE),
    BOOL_F(router_bias),
    BOOL_F(expert_bias),
    INT_F(q_lora_rank, 0, FALSE),
    INT_F(kv_lora_rank, 0, FALSE),
    INT_F(qk_nope_head_dim, 0, FALSE),
    INT_F(qk_rope_head_dim, 0, FALSE),
    INT_F(v_head_dim, 0, FALSE),
    INT_F(sliding_window, 0, FALSE),
    INT_F(sliding_window_every, 0, FALSE),
    BOOL_F(attn_sinks),
    {"published_params", F_DOUBLE, offsetof(SvModel, published_params), 0, FALSE},
    {"routing_skew", F_DOUBLE, offsetof(SvModel, routing_skew), 0, FALSE},
    {"quantization_scope", F_QSCOPE, offsetof(SvModel, quant_scope), 0, FALSE},
};

static const char *const norm_names[] = {"rmsnorm", "layernorm", NULL};
static const char *const qscope_names[] = {"linear", "experts", NULL}; /* SvQuantScope order */
static const char *const dtype_names[] = {"float32", "bfloat16", "float16", "fp8",
                                          "int8",    "fp4",      "int4",    NULL};
_Static_assert(G_N_ELEMENTS(dtype_names) == SV_DTYPE_COUNT + 1, "dtype names match SvDtype");

static SvModel *load_yaml(const char *path, GError **error)
{
    g_autoptr(SvYDoc) doc = sv_ydoc_load_file(path, SV_MODEL_ERROR, error);
    if (doc == NULL)
        return NULL;
    if (doc->root == NULL) {
        sv_ydoc_error(doc, NULL, error, SV_ERROR_INVALID, "empty model file");
        return NULL;
    }
    if (!sv_ynode_expect_map(doc, doc->root, "model", error))
        return NULL;

    const char *valid[G_N_ELEMENTS(yaml_fields) + 1];
    for (size_t i = 0; i < G_N_ELEMENTS(yaml_fields); i++)
        valid[i] = yaml_fields[i].key;
    valid[G_N_ELEMENTS(yaml_fields)] = NULL;
    if (!sv_ynode_check_keys(doc, doc->root, "model", valid, error))
        return NULL;

    g_autoptr(SvModel) m = sv__model_new_defaults();
    g_autoptr(GHashTable) marks = g_hash_table_new(g_str_hash, g_str_equal);
    for (size_t i = 0; i < G_N_ELEMENTS(yaml_fields); i++) {
        const FieldSpec *f = &yaml_fields[i];
        SvYNode *node = sv_ynode_get(doc->root, f->key);
        if (node == NULL) {
            if (f->required) {
                sv_ydoc_error(doc, doc->root, error, SV_ERROR_INVALID,
                              "missing required key '%s' in model", f->key);
                return NULL;
            }
            continue;
        }
        g_hash_table_insert(marks, (gpointer)f->key, node);
        char *field = (char *)m + f->offset;
        gboolean ok = TRUE;
        const char *text = NULL;
        int index = 0;
        switch (f->kind) {
        case F_INT:
            ok = sv_ynode_int(doc, node, f->key, f->min, SHAPE_MAX, (int *)(void *)field, error);
            break;
        case F_BOOL:
            ok = sv_ynode_bool(doc, node, f->key, (gboolean *)(void *)field, error);
            break;
        case F_DOUBLE:
            ok = sv_ynode_double(doc, node, f->key, 0.0, 1e15, (double *)(void *)field, error);
            break;
        case F_NORM:
            ok = sv_ynode_enum(doc, node, f->key, norm_names, &index, error);
            m->norm = (SvNormKind)index;
            break;
        case F_DTYPE:
            ok = sv_ynode_enum(doc, node, f->key, dtype_names, &index, error);
            m->dtype = (SvDtype)index;
            break;
        case F_QSCOPE:
            ok = sv_ynode_enum(doc, node, f->key, qscope_names, &index, error);
            m->quant_scope = (SvQuantScope)index;
            break;
        case F_NAME:
            ok = sv_ynode_string(doc, node, f->key, &text, error);
            if (ok)
                m->name = g_strdup(text);
            break;
        case F_TEXT:
            ok = sv_ynode_string(doc, node, f->key, &text, error);
            break;
        }
        if (!ok)
            return NULL;
    }
    gboolean head_dim_given = sv_ynode_get(doc->root, "head_dim") != NULL;
    if (!sv__model_finish(m, doc, doc->root, marks, head_dim_given, error))
        return NULL;
    if (m->name == NULL) {
        g_autofree char *base = g_path_get_basename(path);
        char *dot = strrchr(base, '.');
        if (dot != NULL)
            *dot = '\0';
        m->name = g_strdup(base);
    }
    m->source = g_strdup(path);
    return g_steal_pointer(&m);
}

/* ---------------------------------------------------------------------- */
/* Entry point                                                             */

static gboolean is_hf_path(const char *path)
{
    return g_str_has_suffix(path, ".json");
}

SvModel *sv_model_load(const char *name_or_path, GError **error)
{
    g_return_val_if_fail(name_or_path != NULL, NULL);
    g_return_val_if_fail(error == NULL || *error == NULL, NULL);

    if (*name_or_path == '\0') {
        g_set_error(error, SV_MODEL_ERROR, SV_ERROR_INVALID, "empty model name");
        return NULL;
    }
    /* A Hugging Face snapshot directory: read its config.json. */
    if (g_file_test(name_or_path, G_FILE_TEST_IS_DIR)) {
        g_autofree char *cfg = g_build_filename(name_or_path, "config.json", NULL);
        if (!g_file_test(cfg, G_FILE_TEST_IS_REGULAR)) {
            g_set_error(error, SV_MODEL_ERROR, SV_ERROR_NOT_FOUND,
                        "%s: directory has no config.json", name_or_path);
            return NULL;
        }
        return sv_model_load_hf_json(cfg, error);
    }

    g_autofree char *path = sv_data_find("models", name_or_path, ".yaml", NULL);
    if (path == NULL) {
        gboolean looks_like_path =
            strchr(name_or_path, '/') != NULL || g_str_has_suffix(name_or_path, ".yaml") ||
            g_str_has_suffix(name_or_path, ".yml") || is_hf_path(name_or_path);
        if (looks_like_path) {
            g_set_error(error, SV_MODEL_ERROR, SV_ERROR_NOT_FOUND, "%s: model file not found",
                        name_or_path);
            return NULL;
        }
        g_auto(GStrv) names = sv_data_list("models", ".yaml");
        const char *near = sv_nearest(name_or_path, (const char *const *)names);
        if (near != NULL)
            g_set_error(error, SV_MODEL_ERROR, SV_ERROR_NOT_FOUND,
                        "unknown model '%s' (did you mean '%s'?)", name_or_path, near);
        else
            g_set_error(error, SV_MODEL_ERROR, SV_ERROR_NOT_FOUND,
                        "unknown model '%s' (servesim list models shows the known ones)",
                        name_or_path);
        return NULL;
    }
    if (is_hf_path(path))
        return sv_model_load_hf_json(path, error);
    return load_yaml(path, error);
}

/* ---------------------------------------------------------------------- */
/* Parameter arithmetic                                                    */

/* One layer's parameters, grouped by how tensor/expert parallelism splits
 * them, so counting and per-device bytes share one source of truth. */
typedef struct {
    int64_t replicated;  /* every TP rank holds all of it (norms, router, MLA down-projections) */
    int64_t tp_split;    /* divided over TP ranks (q, o, dense MLP, shared experts) */
    int64_t kv_per_head; /* k and v projections per KV head (replicated when tp > kv heads) */
    int64_t expert_one;  /* one routed expert */
    int64_t num_experts; /* routed experts in this layer (0 for a dense layer) */
    int64_t expert_k;    /* routed experts a token visits */
    /* The linear-layer weight matrices inside each group above (what a
     * quantized format can cover); the rest of a group is norms, biases,
     * the router and sinks, which stay in the activation dtype. */
    int64_t lin_replicated;  /* MLA q_a and kv_a projections */
    int64_t lin_tp_split;    /* q, kv_b, o, dense MLP and shared expert matrices */
    int64_t lin_kv_per_head; /* k and v matrices per KV head */
    int64_t lin_expert_one;  /* one routed expert's matrices */
} LayerParts;

static int64_t norm_params(const SvModel *m, int64_t width)
{
    return m->norm == SV_NORM_LAYER ? 2 * width : width; /* LayerNorm adds a bias */
}

gboolean sv_model_layer_is_moe(const SvModel *model, int layer)
{
    g_return_val_if_fail(model != NULL, FALSE);
    return model->num_experts > 0 && layer >= model->first_k_dense_layers;
}

static LayerParts layer_parts(const SvModel *m, int layer)
{
    LayerParts p = {0};
    int64_t h = m->hidden_size, heads = m->num_heads;
    int mlp_mats = m->gated_mlp ? 3 : 2;

    p.replicated += 2 * norm_params(m, h); /* pre-attention and pre-MLP norms */

    if (m->kv_lora_rank > 0) {
        int64_t qk = m->qk_nope_head_dim + m->qk_rope_head_dim;
        if (m->q_lora_rank > 0) {
            /* q_a_proj and its norm are small and replicated (vLLM ReplicatedLinear);
             * q_b_proj is column-parallel. */
            p.replicated += h * m->q_lora_rank + norm_params(m, m->q_lora_rank);
            p.lin_replicated += h * m->q_lora_rank;
            p.tp_split += (int64_t)m->q_lora_rank * heads * qk;
        } else {
            p.tp_split += h * heads * qk;
        }
        /* kv_a_proj_with_mqa produces the shared latent plus the rope key. */
        p.replicated +=
            h * (m->kv_lora_rank + m->qk_rope_head_dim) + norm_params(m, m->kv_lora_rank);
        p.lin_replicated += h * (m->kv_lora_rank + m->qk_rope_head_dim);
        p.tp_split += (int64_t)m->kv_lora_rank * heads * (m->qk_nope_head_dim + m->v_head_dim);
        p.tp_split += heads * m->v_head_dim * h; /* o_proj */
        p.lin_tp_split = p.tp_split;
    } else {
        int64_t hd = m->head_dim;
        p.tp_split += h * heads * hd + heads * hd * h; /* q_proj, o_proj */
        p.kv_per_head = 2 * h * hd;                    /* k_proj, v_proj */
        p.lin_tp_split = p.tp_split;
        p.lin_kv_per_head = p.kv_per_head;
        if (m->qkv_bias) {
            p.tp_split += heads * hd;
            p.kv_per_head += 2 * hd;
        }
        if (m->qk_norm)
            p.replicated += 2 * hd; /* one RMSNorm of head_dim for q, one for k */
    }
    if (m->o_bias)
        p.replicated += h; /* row-parallel bias: added once, held whole */
    if (m->attn_sinks)
        p.tp_split += heads; /* one learned sink logit per query head */

    if (sv_model_layer_is_moe(m, layer)) {
        int64_t mi = m->moe_intermediate_size;
        p.replicated += h * m->num_experts + (m->router_bias ? m->num_experts : 0);
        p.expert_one = mlp_mats * h * mi;
        p.lin_expert_one = p.expert_one;
        if (m->expert_bias)
            p.expert_one += (m->gated_mlp ? 2 * mi : mi) + h;
        p.num_experts = m->num_experts;
        p.expert_k = m->experts_per_token;
        int64_t si =
            m->shared_expert_intermediate_size > 0 ? m->shared_expert_intermediate_size : mi;
        p.tp_split += (int64_t)m->num_shared_experts * mlp_mats * h * si;
        p.lin_tp_split += (int64_t)m->num_shared_experts * mlp_mats * h * si;
    } else {
        p.tp_split += mlp_mats * h * (int64_t)m->intermediate_size;
        p.lin_tp_split += mlp_mats * h * (int64_t)m->intermediate_size;
    }
    return p;
}

int64_t sv_model_layer_param_count(const SvModel *model, int layer)
{
    g_return_val_if_fail(model != NULL, 0);
    g_return_val_if_fail(layer >= 0 && layer < model->num_layers, 0);
    LayerParts p = layer_parts(model, layer);
    return p.replicated + p.tp_split + p.kv_per_head * model->num_kv_heads +
           p.expert_one * p.num_experts;
}

int64_t sv_model_embedding_param_count(const SvModel *model)
{
    g_return_val_if_fail(model != NULL, 0);
    return (int64_t)model->vocab_size * model->hidden_size;
}

int64_t sv_model_lm_head_param_count(const SvModel *model)
{
    g_return_val_if_fail(model != NULL, 0);
    return model->tie_word_embeddings ? 0 : (int64_t)model->vocab_size * model->hidden_size;
}

int64_t sv_model_param_count(const SvModel *model)
{
    g_return_val_if_fail(model != NULL, 0);
    int64_t total = sv_model_embedding_param_count(model) + sv_model_lm_head_param_count(model) +
                    norm_params(model, model->hidden_size); /* final norm */
    for (int l = 0; l < model->num_layers; l++)
        total += sv_model_layer_param_count(model, l);
    return total;
}

int64_t sv_model_active_param_count(const SvModel *model)
{
    g_return_val_if_fail(model != NULL, 0);
    /* The input embedding is a row gather, not a matrix a token multiplies
     * through, so it is not counted as active; the LM head is (and when the
     * two are tied the shared matrix is counted once, as the head). This is
     * the convention behind OpenAI's 5.1B for gpt-oss-120b; Mistral's 12.9B
     * for Mixtral also counts the input embedding (0.13B, 1 % of it). */
    int64_t total =
        (int64_t)model->vocab_size * model->hidden_size + norm_params(model, model->hidden_size);
    for (int l = 0; l < model->num_layers; l++) {
        LayerParts p = layer_parts(model, l);
        total += p.replicated + p.tp_split + p.kv_per_head * model->num_kv_heads +
                 p.expert_one * p.expert_k;
    }
    return total;
}

/* ---------------------------------------------------------------------- */
/* Bytes                                                                   */

/* The first integer from 0.618 n that is coprime to n: a stride that walks
 * every residue mod n, spreading consecutive ranks far apart. */
static int scatter_stride(int n)
{
    int s = MAX((int)(0.618 * n), 1);
    for (;; s++) {
        int a = s, b = n;
        while (b != 0) {
            int t = a % b;
            a = b;
            b = t;
        }
        if (a == 1)
            return s;
    }
}

static void load_weights(const SvMoeLoad *load, double model_skew, int E, double *w)
{
    double total = 0;
    if (model_skew > 0) {
        int stride = scatter_stride(E);
        for (int r = 0; r < E; r++)
            total += w[(int)((long long)r * stride % E)] = pow(r + 1.0, -model_skew);
    } else {
        for (int e = 0; e < E; e++) {
            if (load == NULL || load->dist == SV_MOE_UNIFORM)
                w[e] = 1.0;
            else if (load->dist == SV_MOE_ZIPF)
                w[e] = pow(e + 1.0, -load->skew);
            else if (load->num_frequencies == E)
                w[e] = load->frequencies[e];
            else
                w[e] = 1.0; /* callers check the count first */
            total += w[e];
        }
    }
    for (int e = 0; e < E; e++)
        w[e] = total > 0 ? w[e] / total : 1.0 / E;
}

double sv_moe_load_share(const SvMoeLoad *load, int num_experts, int e)
{
    g_return_val_if_fail(num_experts > 0 && e >= 0 && e < num_experts, 0.0);
    g_autofree double *w = g_new(double, num_experts);
    load_weights(load, 0, num_experts, w);
    return w[e];
}

double sv_moe_load_model_skew(const SvMoeLoad *load, const SvModel *model)
{
    g_return_val_if_fail(model != NULL, 0.0);
    gboolean model_default = load == NULL || (load->dist == SV_MOE_UNIFORM && !load->given);
    return model->num_experts > 0 && model_default ? model->routing_skew : 0.0;
}

void sv_moe_load_weights(const SvMoeLoad *load, const SvModel *model, double *w)
{
    g_return_if_fail(model != NULL && model->num_experts > 0 && w != NULL);
    load_weights(load, sv_moe_load_model_skew(load, model), model->num_experts, w);
}

void sv_moe_load_clear(SvMoeLoad *load)
{
    if (load == NULL)
        return;
    g_clear_pointer(&load->frequencies, g_free);
    load->num_frequencies = 0;
}

static int ceil_div(int a, int b)
{
    return (a + b - 1) / b;
}

double sv_model_kv_bytes_per_token_layer(const SvModel *model, int tp, SvDtype kv_dtype)
{
    g_return_val_if_fail(model != NULL, 0.0);
    g_return_val_if_fail(tp >= 1, 0.0);
    double bytes = sv_dtype_bytes(kv_dtype);
    if (model->attn == SV_ATTN_MLA)
        /* The compressed latent and the shared rope key, the same on every rank. */
        return (double)(model->kv_lora_rank + model->qk_rope_head_dim) * bytes;
    /* Each rank holds its share of KV heads; past tp == kv_heads every rank
     * still needs one whole head (vLLM replicates them). */
    int heads = MAX(1, ceil_div(model->num_kv_heads, tp));
    return 2.0 * heads * model->head_dim * bytes;
}

int sv_model_layers_per_stage(const SvModel *model, int pp)
{
    g_return_val_if_fail(model != NULL, 0);
    g_return_val_if_fail(pp >= 1, 0);
    return ceil_div(model->num_layers, pp);
}

/* Layers of pipeline stage @stage, split as vLLM's get_pp_indices does: an
 * even share each, and the remainder goes one layer apiece to the stages
 * just before the last (the last stage already carries the LM head). */
static void stage_layers(int num_layers, int pp, int stage, int *first, int *count)
{
    int base = num_layers / pp, extra = num_layers % pp;
    int start = 0;
    for (int s = 0; s <= stage; s++) {
        int n = base + ((s >= pp - 1 - extra && s < pp - 1) ? 1 : 0);
        if (s == stage) {
            *first = start;
            *count = n;
            return;
        }
        start += n;
    }
}

double sv_weight_bytes_per_param(SvDtype dtype)
{
    /* Block scales that are real bytes: MXFP4 (OCP MX) keeps one e8m0 byte
     * per 32 weights, +1/32 byte a weight or +6.25 % of the 4-bit bytes; the
     * NVFP4 checkpoints servesim's fp4 also stands for keep an fp8 scale per
     * 16 (+1/16), so they are under-counted by 3 % of their 4-bit bytes.
     * GPTQ and AWQ int4 keep an fp16 scale per group of 128 (their default
     * group_size): +2/128 byte (AWQ's 4-bit zero points, +0.4 %, are left
     * out). Block fp8 (DeepSeek V3, Qwen3 FP8) keeps one fp32 scale per 128 x
     * 128 block, 4/16384 = 0.024 % of its bytes, and per-tensor or
     * per-channel fp8/int8 scales less: not counted. */
    double bytes = sv_dtype_bytes(dtype);
    if (dtype == SV_DTYPE_FP4)
        return bytes + 1.0 / 32;
    if (dtype == SV_DTYPE_INT4)
        return bytes + 2.0 / 128;
    return bytes;
}

gboolean sv_model_quantizes_experts_only(const SvModel *model, SvDtype weight_dtype,
                                         SvDtype act_dtype)
{
    g_return_val_if_fail(model != NULL, FALSE);
    return weight_dtype != act_dtype && model->quant_scope == SV_QUANT_SCOPE_EXPERTS;
}

double sv_model_weight_bytes_per_device(const SvModel *model, int tp, int pp, int ep,
                                        SvDtype weight_dtype, SvDtype act_dtype)
{
    return sv_model_weight_bytes_per_device_dp(model, tp, pp, ep, 1, weight_dtype, act_dtype);
}

double sv_model_weight_bytes_per_device_dp(const SvModel *model, int tp, int pp, int ep, int dp,
                                           SvDtype weight_dtype, SvDtype act_dtype)
{
    g_return_val_if_fail(model != NULL, 0.0);
    g_return_val_if_fail(tp >= 1 && pp >= 1 && ep >= 1 && dp >= 1, 0.0);
    /* Two tallies: parameters in the quantized format and the rest. An
     * unquantized plan (equal dtypes) puts everything in the second. */
    gboolean quantized = weight_dtype != act_dtype;
    gboolean dense_in_scope = quantized && model->quant_scope == SV_QUANT_SCOPE_LINEAR;
    /* Experts are spread over the EP ranks; when they are fewer than the
     * tp x dp devices of a stage, each expert is also sharded over the
     * remaining tp x dp / ep devices (vLLM shards every expert over TP when
     * EP is off, ep == 1, dp == 1). */
    int stage_devices = tp * dp;
    double expert_share = ep >= stage_devices ? 1.0 : (double)ep / stage_devices;
    int kv_heads_local = MAX(1, ceil_div(model->num_kv_heads, tp));
    double best = 0.0, wq = sv_weight_bytes_per_param(weight_dtype);
    double wa = sv_dtype_bytes(act_dtype);
    for (int s = 0; s < pp; s++) {
        int first = 0, count = 0;
        stage_layers(model->num_layers, pp, s, &first, &count);
        double params = 0.0, qparams = 0.0;
        for (int l = first; l < first + count; l++) {
            LayerParts p = layer_parts(model, l);
            double dense = (double)p.replicated + (double)p.tp_split / tp +
                           (double)p.kv_per_head * kv_heads_local;
            double dense_lin = (double)p.lin_replicated + (double)p.lin_tp_split / tp +
                               (double)p.lin_kv_per_head * kv_heads_local;
            if (!dense_in_scope)
                dense_lin = 0;
            params += dense - dense_lin;
            qparams += dense_lin;
            if (p.num_experts > 0) {
                double held = ceil_div((int)p.num_experts, ep) * expert_share;
                double lin = quantized ? (double)p.lin_expert_one : 0.0;
                params += ((double)p.expert_one - lin) * held;
                qparams += lin * held;
            }
        }
        double vocab_rows = (double)model->vocab_size * model->hidden_size / tp;
        if (s == 0 || (model->tie_word_embeddings && s == pp - 1))
            params += vocab_rows; /* embedding (a tied head needs its own copy on the last stage) */
        if (s == pp - 1) {
            if (!model->tie_word_embeddings)
                params += vocab_rows;
            params += norm_params(model, model->hidden_size);
        }
        best = MAX(best, params * wa + qparams * wq);
    }
    return best;
}

gboolean sv_model_layer_is_windowed(const SvModel *model, int layer)
{
    g_return_val_if_fail(model != NULL, FALSE);
    if (model->sliding_window <= 0)
        return FALSE;
    return model->sliding_window_every <= 0 || layer % model->sliding_window_every == 0;
}
