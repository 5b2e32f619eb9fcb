/* LLM architecture as the simulator needs it: layer shapes (dense, MoE, MLA,
 * sliding-window), parameter counts and bytes (embedding, LM head and norms
 * included), KV-cache bytes per token. Loaded from models/<name>.yaml or
 * straight from a Hugging Face config.json. The op list of a layer is built by
 * perf/ from these shapes. Fields are public: a model is a plain description. */
#ifndef SV_MODEL_H
#define SV_MODEL_H

#include "core/common.h"

G_BEGIN_DECLS

typedef enum { SV_ATTN_MHA, SV_ATTN_GQA, SV_ATTN_MLA } SvAttnKind;

/* How a MoE layer's routed tokens spread over its experts (engine.moe_load):
 * the share p_e of the routed token slots each expert gets. Uniform gives
 * every expert 1/E; Zipf gives expert e a weight 1/(e + 1)^skew (expert 0
 * the most popular); measured takes one weight per expert, e.g. counted from
 * a router trace. Where each expert sits is vLLM's
 * expert_placement_strategy: linear puts experts [g E/ep, (g+1) E/ep) on
 * expert-parallel rank g, round_robin expert e on rank e mod ep. */
typedef enum { SV_MOE_UNIFORM, SV_MOE_ZIPF, SV_MOE_MEASURED } SvMoeDist;
typedef enum { SV_EXPERT_PLACE_LINEAR, SV_EXPERT_PLACE_ROUND_ROBIN } SvExpertPlacement;
typedef struct {
    SvMoeDist dist;
    gboolean given;              /* dist was stated (engine.moe_load, --moe-load): a uniform
                                  * load then overrides the model's routing_skew */
    double skew;                 /* zipf: exponent s > 0 */
    double *frequencies;         /* measured: one non-negative weight per expert (owned) */
    int num_frequencies;         /* their count, must equal the model's num_experts */
    SvExpertPlacement placement; /* experts on expert-parallel ranks */
} SvMoeLoad;
/* The share of expert @e among @num_experts under @load (shares sum to 1);
 * @load NULL is uniform. Measured frequencies of another length than
 * @num_experts, or all zero, read as uniform (callers check first). */
double sv_moe_load_share(const SvMoeLoad *load, int num_experts, int e);
/* Free what @load owns (not @load itself). */
void sv_moe_load_clear(SvMoeLoad *load);
typedef enum { SV_NORM_RMS, SV_NORM_LAYER } SvNormKind;

/* Which weights a quantized format (engine.quantization) covers, as the
 * checkpoint and vLLM's quantization method say: LINEAR, every linear layer
 * of the transformer blocks (attention projections, dense MLPs, shared and
 * routed experts: fp8, GPTQ, AWQ...); EXPERTS, the routed experts only
 * (gpt-oss's MXFP4, whose Hugging Face quantization_config leaves
 * attention, router, embedding and LM head in bf16, and vLLM's Mxfp4Config,
 * which quantizes FusedMoE layers only). Weights outside the scope, and in
 * either scope the embedding, LM head, router, norms, biases and sinks, stay
 * in the activation dtype. */
typedef enum { SV_QUANT_SCOPE_LINEAR, SV_QUANT_SCOPE_EXPERTS } SvQuantScope;

typedef struct SvModel SvModel;
struct SvModel {
    char *name;                   /* e.g. "llama-3-8b" */
    char *source;                 /* file it came from (for messages) */
    int num_layers;               /* transformer blocks */
    int hidden_size;              /* d_model */
    int num_heads;                /* query heads */
    int num_kv_heads;             /* KV heads (== num_heads for MHA) */
    int head_dim;                 /* per-head dimension of q/k/v */
    int intermediate_size;        /* dense MLP width (per layer, 0 if every layer is MoE) */
    gboolean gated_mlp;           /* SwiGLU-style: gate+up fused (2x width), then down */
    int vocab_size;               /* tokens */
    gboolean tie_word_embeddings; /* LM head shares the embedding matrix */
    int max_position_embeddings;  /* longest context, tokens */
    gboolean qkv_bias;            /* QKV projections carry a bias (Qwen2) */
    gboolean qk_norm;             /* per-head RMSNorm on q and k (Qwen3) */
    gboolean o_bias;              /* output projection has a bias */
    SvNormKind norm;              /* RMSNorm or LayerNorm (LayerNorm has a bias) */
    SvAttnKind attn;              /* derived: MHA, GQA or MLA */
    SvDtype dtype;                /* native weight dtype (torch_dtype) */

    /* Mixture of experts (num_experts == 0: dense model). */
    int num_experts;                     /* routed experts per MoE layer */
    int experts_per_token;               /* top-k */
    int moe_intermediate_size;           /* width of one routed expert */
    int num_shared_experts;              /* always-active experts per MoE layer */
    int shared_expert_intermediate_size; /* width of one shared expert (0 = moe_intermediate_size)
                                          */
    int first_k_dense_layers;            /* leading layers with a dense MLP (DeepSeek) */
    gboolean router_bias;                /* router projection has a bias (gpt-oss) */
    gboolean expert_bias;                /* expert projections carry biases (gpt-oss) */

    /* Multi-head latent attention (DeepSeek V2/V3; kv_lora_rank > 0 means MLA). */
    int q_lora_rank;      /* 0 = no q compression */
    int kv_lora_rank;     /* latent KV width */
    int qk_nope_head_dim; /* non-rotary part of q/k head */
    int qk_rope_head_dim; /* rotary part, shared key */
    int v_head_dim;       /* value head dimension */

    /* Sliding-window attention (gpt-oss alternates full and 128-token window). */
    int sliding_window;       /* tokens; 0 = none */
    int sliding_window_every; /* every n-th layer is windowed (2 = alternate); 0 = all when window>0
                               */
    gboolean attn_sinks;      /* learned per-head sink logits (gpt-oss) */

    double published_params;  /* the size the publisher states, parameters (0 = unknown) */
    double routing_skew;      /* Zipf exponent of the router's expert popularity under serving
                               * load, over experts in a scattered order (sv_moe_load_weights);
                               * 0 = uniform. The default of engine.moe_load. */
    SvQuantScope quant_scope; /* weights a quantized format covers (model key quantization_scope) */
};

/* Load models/<name>.yaml, a YAML path, or a Hugging Face config.json (by
 * extension .json, or a directory holding config.json). Validates that every
 * shape is positive and consistent (heads divide, kv heads divide heads...).
 * Errors in SV_MODEL_ERROR with "FILE:LINE:COL: message"; an unknown name
 * says so and suggests the nearest model. (transfer full) */
SvModel *sv_model_load(const char *name_or_path, GError **error);
/* Load a Hugging Face config.json at @path (used in messages). Keys that do
 * not change shapes are ignored; supported model_type families: llama,
 * mistral, mixtral, qwen2, qwen2_moe, qwen3, qwen3_moe, deepseek_v2,
 * deepseek_v3, gpt_oss. (transfer full) */
SvModel *sv_model_load_hf_json(const char *path, GError **error);
SvModel *sv_model_copy(const SvModel *model);
void sv_model_free(SvModel *model);
G_DEFINE_AUTOPTR_CLEANUP_FUNC(SvModel, sv_model_free)

/* Total parameters (all experts, embedding, LM head unless tied, norms, biases). */
int64_t sv_model_param_count(const SvModel *model);
/* Parameters touched per token: every non-expert weight, the top-k routed and
 * the shared experts, and the LM head; the input embedding (a row gather) is
 * left out, as OpenAI counts gpt-oss's 5.1B. */
int64_t sv_model_active_param_count(const SvModel *model);
/* Parameters of one transformer layer (index matters for MoE/dense mixes). */
int64_t sv_model_layer_param_count(const SvModel *model, int layer);
/* Parameters of embedding and LM head (LM head 0 when tied). */
int64_t sv_model_embedding_param_count(const SvModel *model);
int64_t sv_model_lm_head_param_count(const SvModel *model);

/* KV-cache bytes per token of one layer on one device under tensor parallelism
 * @tp: 2 x max(1, kv_heads/tp) x head_dim x bytes (KV heads are replicated when
 * tp > kv_heads, as vLLM does); MLA: (kv_lora_rank + qk_rope_head_dim) x bytes,
 * replicated on every TP rank. */
double sv_model_kv_bytes_per_token_layer(const SvModel *model, int tp, SvDtype kv_dtype);
/* Bytes per weight of a linear layer stored in @dtype, block scales
 * included: MXFP4 (fp4) adds one e8m0 byte per 32 weights, GPTQ/AWQ int4 one
 * fp16 scale per group of 128; 8- and 16-bit formats add nothing countable. */
double sv_weight_bytes_per_param(SvDtype dtype);
/* Does a plan of @weight_dtype weights and @act_dtype activations quantize
 * @model's routed experts only (quantization_scope: experts, gpt-oss's
 * MXFP4), its attention and dense layers staying in the activation dtype? */
gboolean sv_model_quantizes_experts_only(const SvModel *model, SvDtype weight_dtype,
                                         SvDtype act_dtype);
/* Bytes of weights held by one device of a TP x PP x EP plan (the stage with
 * the most layers; first stage holds the embedding, last the LM head; the
 * largest is returned). Norms, routers and MLA down-projections are
 * replicated; experts are split over @ep (and each expert over tp/ep more
 * ranks when ep < tp, so ep = 1 shards every expert over TP as vLLM does);
 * everything else over @tp, with KV heads replicated past tp = kv_heads.
 * The linear layers inside the model's quant_scope are counted in
 * @weight_dtype with its block scales (sv_weight_bytes_per_param), every
 * other tensor (and every tensor when the two dtypes are equal) in
 * @act_dtype. */
double sv_model_weight_bytes_per_device(const SvModel *model, int tp, int pp, int ep,
                                        SvDtype weight_dtype, SvDtype act_dtype);
/* The same under attention data parallelism: each stage has @dp attention
 * ranks of @tp devices. Attention, dense MLPs, shared experts, embedding
 * and LM head are held by every attention rank, split over its @tp devices;
 * the routed experts are spread over all tp x dp devices of the stage as
 * @ep expert-parallel ranks of (tp x dp) / ep devices each (each expert
 * sliced that many ways), so @ep must divide tp x dp. dp = 1 is
 * sv_model_weight_bytes_per_device(). */
double sv_model_weight_bytes_per_device_dp(const SvModel *model, int tp, int pp, int ep, int dp,
                                           SvDtype weight_dtype, SvDtype act_dtype);
/* Number of layers on the stage that has the most (ceil(num_layers / pp)). */
int sv_model_layers_per_stage(const SvModel *model, int pp);
/* Is layer @layer an MoE layer? */
gboolean sv_model_layer_is_moe(const SvModel *model, int layer);
/* Each of @model's experts' share of its routed token slots under @load
 * (shares sum to 1), into @w (num_experts entries). @load NULL, or uniform
 * and not given, takes the model's routing_skew: Zipf weights 1/(r + 1)^s by
 * popularity rank r, rank r sitting on expert (r x stride) mod E with stride
 * the first integer from 0.618 E that is coprime to E, so that the popular
 * experts are spread over the expert ids (and so over expert-parallel ranks)
 * as a trained router's are, not packed at the low ids as dist zipf packs
 * them. */
void sv_moe_load_weights(const SvMoeLoad *load, const SvModel *model, double *w);
/* The model's routing_skew where it sets @load's weights (@load NULL, or
 * uniform and not given), else 0. */
double sv_moe_load_model_skew(const SvMoeLoad *load, const SvModel *model);

/* Does layer @layer use sliding-window attention? With sliding_window_every
 * = k the windowed layers are 0, k, 2k, ... (gpt-oss: even layers). */
gboolean sv_model_layer_is_windowed(const SvModel *model, int layer);

G_END_DECLS

#endif /* SV_MODEL_H */
