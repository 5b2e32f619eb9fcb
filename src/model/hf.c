/* Hugging Face config.json -> SvModel. HF configs carry dozens of keys that do
 * not change the shapes (token ids, rope settings, dropout), so unknown keys
 * are ignored here, unlike in models/<name>.yaml; the keys that do matter are read
 * under every spelling the supported families use, and a missing required one
 * is reported at the JSON object's file:line:col. */
#include "model/model-private.h"

#include <string.h>

/* Families whose config.json this loader understands: a pre-norm decoder with
 * RMSNorm and a SwiGLU MLP, plus the family switches below. Anything else is
 * refused rather than guessed at. */
static const char *const supported_types[] = {
    "llama",     "mistral",     "mixtral",     "qwen2",   "qwen2_moe", "qwen3",
    "qwen3_moe", "deepseek_v2", "deepseek_v3", "gpt_oss", NULL,
};

/* architectures[0] -> model_type, for configs that omit model_type. */
static const struct {
    const char *arch;
    const char *type;
} arch_types[] = {
    {"LlamaForCausalLM", "llama"},
    {"MistralForCausalLM", "mistral"},
    {"MixtralForCausalLM", "mixtral"},
    {"Qwen2ForCausalLM", "qwen2"},
    {"Qwen2MoeForCausalLM", "qwen2_moe"},
    {"Qwen3ForCausalLM", "qwen3"},
    {"Qwen3MoeForCausalLM", "qwen3_moe"},
    {"DeepseekV2ForCausalLM", "deepseek_v2"},
    {"DeepseekV3ForCausalLM", "deepseek_v3"},
    {"GptOssForCausalLM", "gpt_oss"},
};

typedef struct {
    const SvYDoc *doc;
    const SvYNode *root;
    GHashTable *marks; /* SvModel field name -> node it came from */
} HfCtx;

/* The value node of the first of @keys present and not null. */
static const SvYNode *find_key(const HfCtx *c, const char *const *keys, const char **which)
{
    for (const char *const *k = keys; *k != NULL; k++) {
        const SvYNode *n = sv_ynode_get(c->root, *k);
        if (n != NULL && !(n->kind == SV_YNODE_SCALAR && n->is_null)) {
            if (which != NULL)
                *which = *k;
            return n;
        }
    }
    return NULL;
}

/* Read an integer under any of @keys into @out (left alone when absent).
 * *present tells whether one was there. */
static gboolean read_int(const HfCtx *c, const char *field, const char *const *keys, int min,
                         gboolean required, int *out, gboolean *present, GError **error)
{
    const char *which = NULL;
    const SvYNode *n = find_key(c, keys, &which);
    if (present != NULL)
        *present = n != NULL;
    if (n == NULL) {
        if (required)
            return sv_ydoc_error(c->doc, c->root, error, SV_ERROR_INVALID,
                                 "missing required key '%s' in Hugging Face config", keys[0]);
        return TRUE;
    }
    g_hash_table_insert(c->marks, (gpointer)field, (gpointer)n);
    return sv_ynode_int(c->doc, n, which, min, 1 << 26, out, error);
}

static gboolean read_bool(const HfCtx *c, const char *key, gboolean *out, GError **error)
{
    const char *keys[] = {key, NULL};
    const SvYNode *n = find_key(c, keys, NULL);
    if (n == NULL)
        return TRUE;
    return sv_ynode_bool(c->doc, n, key, out, error);
}

static gboolean read_dtype(const HfCtx *c, SvModel *m, GError **error)
{
    const char *keys[] = {"torch_dtype", "dtype", NULL};
    const char *which = NULL;
    const SvYNode *n = find_key(c, keys, &which);
    if (n != NULL) {
        static const char *const names[] = {"float32", "bfloat16", "float16", "fp32",
                                            "bf16",    "fp16",     "half",    NULL};
        static const SvDtype values[] = {SV_DTYPE_FP32, SV_DTYPE_BF16, SV_DTYPE_FP16, SV_DTYPE_FP32,
                                         SV_DTYPE_BF16, SV_DTYPE_FP16, SV_DTYPE_FP16};
        int index = 0;
        if (!sv_ynode_enum(c->doc, n, which, names, &index, error))
            return FALSE;
        m->dtype = values[index];
        g_hash_table_insert(c->marks, (gpointer) "dtype", (gpointer)n);
    }
    /* A checkpoint shipped in block FP8 (DeepSeek-V3) keeps torch_dtype
     * bfloat16 for the non-quantized tensors; its weights are FP8. MXFP4
     * (gpt-oss) covers only the experts, so the native dtype stays bf16. */
    const SvYNode *q = sv_ynode_get(c->root, "quantization_config");
    const SvYNode *method = q != NULL ? sv_ynode_get(q, "quant_method") : NULL;
    gboolean named = method != NULL && method->kind == SV_YNODE_SCALAR && method->value != NULL;
    if (named && g_ascii_strcasecmp(method->value, "fp8") == 0)
        m->dtype = SV_DTYPE_FP8;
    if (named && g_ascii_strcasecmp(method->value, "mxfp4") == 0) {
        /* vLLM's Mxfp4Config quantizes the fused MoE layers only and runs
         * every linear layer unquantized, as gpt-oss's modules_to_not_convert
         * (self_attn, router, embedding, LM head) says; a model without
         * experts is refused by the shared validator at this node. */
        m->quant_scope = SV_QUANT_SCOPE_EXPERTS;
        g_hash_table_insert(c->marks, (gpointer) "quantization_scope", (gpointer)method);
        return TRUE;
    }
    /* Other methods cover every linear layer unless their ignore list
     * leaves attention out, a split SvModel cannot describe. */
    const char *const lists[] = {"modules_to_not_convert", "ignored_layers", "ignore"};
    for (size_t i = 0; q != NULL && i < G_N_ELEMENTS(lists); i++) {
        const SvYNode *l = sv_ynode_get(q, lists[i]);
        if (l == NULL || l->kind != SV_YNODE_SEQ)
            continue;
        for (guint j = 0; j < l->items->len; j++) {
            const SvYNode *it = g_ptr_array_index(l->items, j);
            if (it->kind == SV_YNODE_SCALAR && it->value != NULL &&
                strstr(it->value, "self_attn") != NULL)
                return sv_ydoc_error(c->doc, it, error, SV_ERROR_INVALID,
                                     "quantization_config.%s leaves '%s' unquantized: "
                                     "attention left out of %s quantization is not implemented "
                                     "yet (only mxfp4 leaves it out, quantizing the experts)",
                                     lists[i], it->value, named ? method->value : "non-mxfp4");
        }
    }
    return TRUE;
}

static gboolean resolve_type(const HfCtx *c, const char **type, GError **error)
{
    const SvYNode *n = sv_ynode_get(c->root, "model_type");
    if (n != NULL) {
        const char *text = NULL;
        if (!sv_ynode_string(c->doc, n, "model_type", &text, error))
            return FALSE;
        for (const char *const *t = supported_types; *t != NULL; t++)
            if (strcmp(*t, text) == 0) {
                *type = *t;
                return TRUE;
            }
        g_autofree char *list = g_strjoinv(", ", (char **)supported_types);
        return sv_ydoc_error(c->doc, n, error, SV_ERROR_INVALID,
                             "unsupported model_type '%s' (supported: %s)", text, list);
    }
    const SvYNode *archs = sv_ynode_get(c->root, "architectures");
    if (archs != NULL && archs->kind == SV_YNODE_SEQ && archs->items->len > 0) {
        const SvYNode *a = g_ptr_array_index(archs->items, 0);
        for (size_t i = 0; a->value != NULL && i < G_N_ELEMENTS(arch_types); i++)
            if (strcmp(arch_types[i].arch, a->value) == 0) {
                *type = arch_types[i].type;
                return TRUE;
            }
        return sv_ydoc_error(c->doc, a, error, SV_ERROR_INVALID,
                             "unsupported architecture '%s' and no model_type",
                             a->value != NULL ? a->value : "?");
    }
    return sv_ydoc_error(c->doc, c->root, error, SV_ERROR_INVALID,
                         "missing required key 'model_type' in Hugging Face config");
}

/* gpt-oss lists every layer's attention kind; SvModel describes the
 * repeating pattern "window on layers 0, k, 2k, ...". */
static gboolean read_layer_types(const HfCtx *c, SvModel *m, GError **error)
{
    const SvYNode *lt = sv_ynode_get(c->root, "layer_types");
    if (lt == NULL || (lt->kind == SV_YNODE_SCALAR && lt->is_null))
        return TRUE;
    if (!sv_ynode_expect_seq(c->doc, lt, "layer_types", error))
        return FALSE;
    if ((int)lt->items->len != m->num_layers)
        return sv_ydoc_error(c->doc, lt, error, SV_ERROR_INVALID,
                             "layer_types has %u entries but num_hidden_layers is %d",
                             lt->items->len, m->num_layers);
    int first_full = -1, windowed = 0;
    for (guint i = 0; i < lt->items->len; i++) {
        const SvYNode *it = g_ptr_array_index(lt->items, i);
        const char *text = NULL;
        if (!sv_ynode_string(c->doc, it, "layer_types", &text, error))
            return FALSE;
        if (strcmp(text, "sliding_attention") == 0)
            windowed++;
        else if (strcmp(text, "full_attention") == 0) {
            if (first_full < 0)
                first_full = (int)i;
        } else
            return sv_ydoc_error(c->doc, it, error, SV_ERROR_INVALID,
                                 "unknown layer type '%s' (expected sliding_attention or "
                                 "full_attention)",
                                 text);
    }
    if (windowed == 0) {
        m->sliding_window = 0;
        return TRUE;
    }
    if (m->sliding_window <= 0)
        return sv_ydoc_error(c->doc, lt, error, SV_ERROR_INVALID,
                             "layer_types has sliding_attention layers but sliding_window is "
                             "not set");
    if (first_full < 0) {
        m->sliding_window_every = 0; /* every layer windowed */
        return TRUE;
    }
    int every = first_full + 1;
    for (guint i = 0; i < lt->items->len; i++) {
        const SvYNode *it = g_ptr_array_index(lt->items, i);
        gboolean want = (int)i % every == 0;
        gboolean is = strcmp(it->value, "sliding_attention") == 0;
        if (want != is || every < 2)
            return sv_ydoc_error(c->doc, lt, error, SV_ERROR_INVALID,
                                 "layer_types pattern is not supported: windowed layers must "
                                 "be 0, k, 2k, ... for some k");
    }
    m->sliding_window_every = every;
    g_hash_table_insert(c->marks, (gpointer) "sliding_window_every", (gpointer)lt);
    return TRUE;
}

static gboolean check_uniform_moe(const HfCtx *c, GError **error)
{
    /* Layouts SvModel cannot describe: MoE on every k-th layer only, or an
     * explicit list of dense layers. */
    const char *const freq_keys[] = {"decoder_sparse_step", "moe_layer_freq", NULL};
    for (const char *const *k = freq_keys; *k != NULL; k++) {
        const SvYNode *n = sv_ynode_get(c->root, *k);
        int v = 1;
        if (n == NULL || (n->kind == SV_YNODE_SCALAR && n->is_null))
            continue;
        if (!sv_ynode_int(c->doc, n, *k, 0, 1 << 20, &v, error))
            return FALSE;
        if (v != 1)
            return sv_ydoc_error(c->doc, n, error, SV_ERROR_INVALID,
                                 "%s %d is not supported (only every layer MoE after the "
                                 "leading dense ones)",
                                 *k, v);
    }
    const SvYNode *only = sv_ynode_get(c->root, "mlp_only_layers");
    if (only != NULL && only->kind == SV_YNODE_SEQ && only->items->len > 0)
        return sv_ydoc_error(c->doc, only, error, SV_ERROR_INVALID,
                             "mlp_only_layers is not supported");
    return TRUE;
}

static char *model_name_for(const char *path)
{
    g_autofree char *base = g_path_get_basename(path);
    if (strcmp(base, "config.json") == 0) {
        g_autofree char *dir = g_path_get_dirname(path);
        char *name = g_path_get_basename(dir);
        if (strcmp(name, ".") != 0 && strcmp(name, "/") != 0)
            return name;
        g_free(name);
    }
    char *dot = strrchr(base, '.');
    if (dot != NULL && dot != base)
        *dot = '\0';
    return g_strdup(base);
}

SvModel *sv_model_load_hf_json(const char *path, GError **error)
{
    g_return_val_if_fail(path != NULL, NULL);
    g_autoptr(SvYDoc) doc = sv_ydoc_load_file(path, SV_MODEL_ERROR, error);
    if (doc == NULL)
        return NULL;
    if (doc->root == NULL) {
        sv_ydoc_error(doc, NULL, error, SV_ERROR_INVALID, "empty Hugging Face config");
        return NULL;
    }
    if (!sv_ynode_expect_map(doc, doc->root, "Hugging Face config", error))
        return NULL;

    g_autoptr(GHashTable) marks = g_hash_table_new(g_str_hash, g_str_equal);
    HfCtx ctx = {doc, doc->root, marks};
    HfCtx *c = &ctx;
    g_autoptr(SvModel) m = sv__model_new_defaults();

    const char *type = NULL;
    if (!resolve_type(c, &type, error))
        return NULL;

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})
    gboolean head_dim_given = FALSE, inter_given = FALSE, moe_inter_given = FALSE;
    if (!read_int(c, "num_layers", KEYS("num_hidden_layers"), 1, TRUE, &m->num_layers, NULL,
                  error) ||
        !read_int(c, "hidden_size", KEYS("hidden_size"), 1, TRUE, &m->hidden_size, NULL, error) ||
        !read_int(c, "num_heads", KEYS("num_attention_heads"), 1, TRUE, &m->num_heads, NULL,
                  error) ||
        !read_int(c, "num_kv_heads", KEYS("num_key_value_heads"), 1, FALSE, &m->num_kv_heads, NULL,
                  error) ||
        !read_int(c, "head_dim", KEYS("head_dim"), 1, FALSE, &m->head_dim, &head_dim_given,
                  error) ||
        !read_int(c, "intermediate_size", KEYS("intermediate_size"), 0, FALSE,
                  &m->intermediate_size, &inter_given, error) ||
        !read_int(c, "vocab_size", KEYS("vocab_size"), 1, TRUE, &m->vocab_size, NULL, error) ||
        !read_int(c, "max_position_embeddings", KEYS("max_position_embeddings"), 1, TRUE,
                  &m->max_position_embeddings, NULL, error) ||
        !read_int(c, "num_experts", KEYS("num_local_experts", "num_experts", "n_routed_experts"), 0,
                  FALSE, &m->num_experts, NULL, error) ||
        !read_int(c, "experts_per_token", KEYS("num_experts_per_tok", "experts_per_token"), 0,
                  FALSE, &m->experts_per_token, NULL, error) ||
        !read_int(c, "moe_intermediate_size", KEYS("moe_intermediate_size"), 0, FALSE,
                  &m->moe_intermediate_size, &moe_inter_given, error) ||
        !read_int(c, "num_shared_experts", KEYS("n_shared_experts"), 0, FALSE,
                  &m->num_shared_experts, NULL, error) ||
        !read_int(c, "shared_expert_intermediate_size", KEYS("shared_expert_intermediate_size"), 0,
                  FALSE, &m->shared_expert_intermediate_size, NULL, error) ||
        !read_int(c, "first_k_dense_layers", KEYS("first_k_dense_replace"), 0, FALSE,
                  &m->first_k_dense_layers, NULL, error) ||
        !read_int(c, "q_lora_rank", KEYS("q_lora_rank"), 0, FALSE, &m->q_lora_rank, NULL, error) ||
        !read_int(c, "kv_lora_rank", KEYS("kv_lora_rank"), 0, FALSE, &m->kv_lora_rank, NULL,
                  error) ||
        !read_int(c, "qk_nope_head_dim", KEYS("qk_nope_head_dim"), 0, FALSE, &m->qk_nope_head_dim,
                  NULL, error) ||
        !read_int(c, "qk_rope_head_dim", KEYS("qk_rope_head_dim"), 0, FALSE, &m->qk_rope_head_dim,
                  NULL, error) ||
        !read_int(c, "v_head_dim", KEYS("v_head_dim"), 0, FALSE, &m->v_head_dim, NULL, error) ||
        !read_int(c, "sliding_window", KEYS("sliding_window"), 0, FALSE, &m->sliding_window, NULL,
                  error) ||
        !read_bool(c, "tie_word_embeddings", &m->tie_word_embeddings, error) ||
        !read_dtype(c, m, error))
        return NULL;
#undef KEYS

    /* Attention biases: Qwen2 always has q/k/v biases (its config does not
     * say so); others state attention_bias, which covers o_proj too. */
    gboolean attention_bias = FALSE;
    if (!read_bool(c, "attention_bias", &attention_bias, error))
        return NULL;
    gboolean qwen2 = strcmp(type, "qwen2") == 0 || strcmp(type, "qwen2_moe") == 0;
    m->qkv_bias = attention_bias || qwen2;
    m->o_bias = attention_bias;
    m->qk_norm = g_str_has_prefix(type, "qwen3");

    /* Sliding window: Qwen configs carry a window with use_sliding_window
     * false; Mistral's applies to every layer; gpt-oss lists its layers. */
    gboolean use_window = TRUE;
    if (!read_bool(c, "use_sliding_window", &use_window, error))
        return NULL;
    if (!use_window)
        m->sliding_window = 0;
    if (!read_layer_types(c, m, error))
        return NULL;

    if (m->num_experts > 0) {
        if (!check_uniform_moe(c, error))
            return NULL;
        /* Mixtral and gpt-oss give the expert width as intermediate_size. */
        if (!moe_inter_given) {
            m->moe_intermediate_size = m->intermediate_size;
            g_hash_table_insert(marks, (gpointer) "moe_intermediate_size",
                                g_hash_table_lookup(marks, "intermediate_size"));
        }
        /* Qwen2-MoE has one shared expert of its own width. */
        if (m->shared_expert_intermediate_size > 0 && m->num_shared_experts == 0)
            m->num_shared_experts = 1;
        /* With no dense layers, intermediate_size describes nothing that
         * exists (Qwen3-MoE keeps the dense width of its sibling there). */
        if (m->first_k_dense_layers == 0)
            m->intermediate_size = 0;
    } else if (!inter_given) {
        sv_ydoc_error(doc, doc->root, error, SV_ERROR_INVALID,
                      "missing required key 'intermediate_size' in Hugging Face config");
        return NULL;
    }
    if (strcmp(type, "gpt_oss") == 0) {
        m->attn_sinks = TRUE;
        m->router_bias = TRUE;
        m->expert_bias = TRUE;
    }
    if (strcmp(type, "deepseek_v3") == 0 && m->num_experts > 0) {
        /* noaux_tc routing keeps a per-expert score-correction bias. */
        const SvYNode *t = sv_ynode_get(doc->root, "topk_method");
        m->router_bias = t != NULL && t->value != NULL && strcmp(t->value, "noaux_tc") == 0;
    }
    /* MLA's head_dim is derived from its parts (transformers writes
     * qk_rope_head_dim there, which is not the q/k head width). */
    if (m->kv_lora_rank > 0)
        head_dim_given = FALSE;

    if (!sv__model_finish(m, doc, doc->root, marks, head_dim_given, error))
        return NULL;
    m->name = model_name_for(path);
    m->source = g_strdup(path);
    return g_steal_pointer(&m);
}
