/* Model module: every shipped models/<name>.yaml against its publisher's stated
 * size, hand-computed counts and bytes (KV per token, weights per device),
 * Hugging Face config.json loading equal to the YAML of the same model, and
 * every validation branch with its file:line:col. */
#include "model/model.h"
#include "testutil.h"

#include <glib/gstdio.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

/* Published total (and, for MoE, active) sizes in billions of parameters,
 * kept here independently of the YAML files so a typo in either shows up. */
static const struct {
    const char *name;
    double total_b;
    double active_b; /* 0: dense */
} published[] = {
    {"llama-2-7b", 6.74, 0},      {"llama-2-70b", 68.98, 0},
    {"llama-3-8b", 8.03, 0},      {"llama-3-70b", 70.6, 0},
    {"llama-3.1-405b", 405.9, 0}, {"codellama-34b", 33.7, 0},
    {"qwen-72b", 72.71, 0}, /* Qwen2-72B */
    {"qwen3-8b", 8.2, 0},         {"qwen3-32b", 32.8, 0},
    {"mixtral-8x7b", 46.7, 12.9}, {"qwen3-235b-a22b", 235.1, 22.0},
    {"deepseek-v3", 671.0, 37.0}, /* main model; HF's 685B adds the MTP module */
    {"gpt-oss-120b", 116.8, 5.1}, /* OpenAI model card */
    {"llama-3.1-8b", 8.03, 0},    {"llama-3.1-70b", 70.6, 0},
    {"qwen3-14b", 14.8, 0},       {"mistral-7b", 7.25, 0},
    {"opt-13b", 12.85, 0}, /* the OPT paper says "13B"; its shapes count 12.85B */
    {"opt-66b", 66.0, 0},         {"bloom-176b", 176.247, 0},
    {"qwen3-30b-a3b", 30.5, 3.0}, /* Qwen: "3.3B activated", with the 0.31B input embedding */
    {"gpt-oss-20b", 20.91, 3.61}, /* OpenAI model card */
};

static SvModel *load_ok(const char *name)
{
    GError *error = NULL;
    SvModel *m = sv_model_load(name, &error);
    ck_assert_msg(m != NULL, "load %s: %s", name, error ? error->message : "?");
    return m;
}

static double rel_err(double got, double want)
{
    return fabs(got - want) / want;
}

START_TEST(test_published_sizes)
{
    for (size_t i = 0; i < G_N_ELEMENTS(published); i++) {
        g_autoptr(SvModel) m = load_ok(published[i].name);
        double total = (double)sv_model_param_count(m);
        double want = published[i].total_b * 1e9;
        ck_assert_msg(m->published_params > 0, "%s: no published_params", m->name);
        ck_assert_msg(rel_err(m->published_params, want) < 0.005,
                      "%s: YAML published_params %.4g vs table %.4g", m->name, m->published_params,
                      want);
        ck_assert_msg(rel_err(total, m->published_params) < 0.01,
                      "%s: counted %.5g vs published %.5g (%.2f%%)", m->name, total,
                      m->published_params, 100 * rel_err(total, m->published_params));
        ck_assert_msg(rel_err(total, want) < 0.01, "%s: counted %.5g vs table %.5g", m->name, total,
                      want);
        double active = (double)sv_model_active_param_count(m);
        if (published[i].active_b > 0) {
            ck_assert_msg(rel_err(active, published[i].active_b * 1e9) < 0.03,
                          "%s: active %.4g vs published %.4g (%.2f%%)", m->name, active,
                          published[i].active_b * 1e9,
                          100 * rel_err(active, published[i].active_b * 1e9));
            ck_assert(m->num_experts > 0);
        } else {
            /* A dense model touches everything but the input embedding. */
            ck_assert_int_eq(m->num_experts, 0);
            int64_t input_rows = m->tie_word_embeddings ? 0 : sv_model_embedding_param_count(m);
            ck_assert_int_eq(sv_model_active_param_count(m), sv_model_param_count(m) - input_rows);
        }
    }
}
END_TEST

START_TEST(test_every_shipped_model_is_checked)
{
    g_auto(GStrv) names = sv_data_list("models", ".yaml");
    ck_assert(names != NULL && names[0] != NULL);
    for (char **n = names; *n != NULL; n++) {
        gboolean found = FALSE;
        for (size_t i = 0; i < G_N_ELEMENTS(published); i++)
            found |= strcmp(published[i].name, *n) == 0;
        ck_assert_msg(found, "models/%s.yaml has no entry in the published-size table", *n);
        g_autoptr(SvModel) m = load_ok(*n);
        ck_assert_str_eq(m->name, *n);
    }
}
END_TEST

START_TEST(test_llama3_8b_exact)
{
    g_autoptr(SvModel) m = load_ok("llama-3-8b");
    ck_assert_int_eq(m->attn, SV_ATTN_GQA);
    ck_assert_int_eq(m->dtype, SV_DTYPE_BF16);
    /* Embedding 128256 x 4096; per layer q,o 4096^2 each, k,v 4096x1024 each,
     * MLP 3 x 4096 x 14336, two norms of 4096. */
    ck_assert_int_eq(sv_model_embedding_param_count(m), 525336576);
    ck_assert_int_eq(sv_model_lm_head_param_count(m), 525336576);
    int64_t layer = 2 * 16777216LL + 2 * 4194304LL + 176160768LL + 8192;
    ck_assert_int_eq(sv_model_layer_param_count(m, 0), layer);
    ck_assert_int_eq(sv_model_layer_param_count(m, 31), layer);
    ck_assert_int_eq(sv_model_param_count(m), 8030261248LL); /* the well-known 8,030,261,248 */
    ck_assert(!sv_model_layer_is_moe(m, 0));
    ck_assert(!sv_model_layer_is_windowed(m, 0));
}
END_TEST

START_TEST(test_kv_bytes)
{
    g_autoptr(SvModel) llama = load_ok("llama-3-8b");
    /* 2 (K and V) x 8 heads x 128 x 2 bytes. */
    ck_assert_double_eq(sv_model_kv_bytes_per_token_layer(llama, 1, SV_DTYPE_BF16), 4096.0);
    ck_assert_double_eq(sv_model_kv_bytes_per_token_layer(llama, 8, SV_DTYPE_BF16), 512.0);
    /* tp 16 > 8 KV heads: every rank still holds one whole head. */
    ck_assert_double_eq(sv_model_kv_bytes_per_token_layer(llama, 16, SV_DTYPE_BF16), 512.0);
    ck_assert_double_eq(sv_model_kv_bytes_per_token_layer(llama, 1, SV_DTYPE_FP8), 2048.0);
    /* fp32, tp 2: 2 x 4 heads x 128 x 4 bytes. */
    ck_assert_double_eq(sv_model_kv_bytes_per_token_layer(llama, 2, SV_DTYPE_FP32), 4096.0);

    g_autoptr(SvModel) ds = load_ok("deepseek-v3");
    ck_assert_int_eq(ds->attn, SV_ATTN_MLA);
    /* Latent 512 + rope key 64, bf16, no factor 2, the same on every rank. */
    ck_assert_double_eq(sv_model_kv_bytes_per_token_layer(ds, 1, SV_DTYPE_BF16), 1152.0);
    ck_assert_double_eq(sv_model_kv_bytes_per_token_layer(ds, 8, SV_DTYPE_BF16), 1152.0);
    ck_assert_double_eq(sv_model_kv_bytes_per_token_layer(ds, 16, SV_DTYPE_FP8), 576.0);

    g_autoptr(SvModel) oss = load_ok("gpt-oss-120b");
    /* 2 x 8 heads x 64 x 2 bytes. */
    ck_assert_double_eq(sv_model_kv_bytes_per_token_layer(oss, 1, SV_DTYPE_BF16), 2048.0);
    ck_assert_double_eq(sv_model_kv_bytes_per_token_layer(oss, 4, SV_DTYPE_BF16), 512.0);

    g_autoptr(SvModel) l2 = load_ok("llama-2-7b"); /* MHA: 32 KV heads */
    ck_assert_int_eq(l2->attn, SV_ATTN_MHA);
    ck_assert_double_eq(sv_model_kv_bytes_per_token_layer(l2, 1, SV_DTYPE_FP16), 16384.0);
    ck_assert_double_eq(sv_model_kv_bytes_per_token_layer(l2, 4, SV_DTYPE_FP16), 4096.0);
}
END_TEST

static SvModel *load_text(const char *text, const char *suffix, GError **error)
{
    g_autofree char *path = sv_test_write_tmp(text, suffix);
    SvModel *m = sv_model_load(path, error);
    g_unlink(path);
    return m;
}

static const char tiny_dense[] = "name: tiny\n"
                                 "num_layers: 4\n"
                                 "hidden_size: 64\n"
                                 "num_heads: 4\n"
                                 "num_kv_heads: 2\n"
                                 "head_dim: 16\n"
                                 "intermediate_size: 128\n"
                                 "vocab_size: 1000\n"
                                 "max_position_embeddings: 128\n";

START_TEST(test_weight_bytes_dense)
{
    GError *error = NULL;
    g_autoptr(SvModel) m = load_text(tiny_dense, ".yaml", &error);
    ck_assert_msg(m != NULL, "%s", error ? error->message : "?");
    /* Per layer: q 64x64 = 4096, k+v 2 x 64x32 = 4096, o 4096, MLP 3x64x128 =
     * 24576, norms 2x64 = 128 -> 36992. Embedding = head = 64000, final norm 64. */
    ck_assert_int_eq(sv_model_layer_param_count(m, 0), 36992);
    ck_assert_int_eq(sv_model_param_count(m), 4 * 36992 + 128000 + 64);
    ck_assert_int_eq(sv_model_active_param_count(m), 4 * 36992 + 64000 + 64);
    /* tp 2, pp 2, bf16. A layer per device: norms 128 + (q+o+MLP)/2 = 16384 +
     * one KV head's k,v = 2048 -> 18560. Stage 0: 2 layers + embedding/2 =
     * 69120; stage 1: 2 layers + head/2 + final norm = 69184 (the larger). */
    ck_assert_double_eq(sv_model_weight_bytes_per_device(m, 2, 2, 1, SV_DTYPE_BF16, SV_DTYPE_BF16),
                        69184.0 * 2);
    /* tp 4 > 2 KV heads: k,v of one head stay whole on every rank:
     * 128 + 32768/4 + 2048 = 10368 per layer; 4 layers + 2 x 64000/4 + 64. */
    ck_assert_double_eq(sv_model_weight_bytes_per_device(m, 4, 1, 1, SV_DTYPE_BF16, SV_DTYPE_BF16),
                        (4 * 10368.0 + 32000 + 64) * 2);
    /* tp 1 is the whole model: fp8 covers the linear layers (4 x 36864
     * weights, 1 byte each); norms (4 x 128 + 64), embedding and head
     * (128000) stay bf16. */
    ck_assert_double_eq(sv_model_weight_bytes_per_device(m, 1, 1, 1, SV_DTYPE_FP8, SV_DTYPE_BF16),
                        4 * 36864.0 + (4 * 128 + 64 + 128000.0) * 2);
    ck_assert_double_eq(4 * 36864.0 + 4 * 128 + 64 + 128000, (double)sv_model_param_count(m));
    /* pp 3 over 4 layers: vLLM gives the extra layer to the stage before the
     * last: [0], [1 2], [3]. Stage 2 holds 1 layer + head + norm = 101056. */
    ck_assert_int_eq(sv_model_layers_per_stage(m, 3), 2);
    ck_assert_double_eq(sv_model_weight_bytes_per_device(m, 1, 3, 1, SV_DTYPE_BF16, SV_DTYPE_BF16),
                        101056.0 * 2);
    ck_assert_int_eq(sv_model_layers_per_stage(m, 1), 4);
    ck_assert_int_eq(sv_model_layers_per_stage(m, 4), 1);
}
END_TEST

START_TEST(test_weight_bytes_moe)
{
    g_autofree char *text = g_strconcat(tiny_dense,
                                        "num_experts: 4\n"
                                        "experts_per_token: 2\n"
                                        "moe_intermediate_size: 32\n"
                                        "first_k_dense_layers: 1\n",
                                        NULL);
    GError *error = NULL;
    g_autoptr(SvModel) m = load_text(text, ".yaml", &error);
    ck_assert_msg(m != NULL, "%s", error ? error->message : "?");
    ck_assert(!sv_model_layer_is_moe(m, 0));
    ck_assert(sv_model_layer_is_moe(m, 1));
    /* MoE layer: attention 12288 + norms 128 + router 64x4 = 256 + 4 experts
     * of 3x64x32 = 6144 -> 37248. Layer 0 is dense (36992). */
    ck_assert_int_eq(sv_model_layer_param_count(m, 0), 36992);
    ck_assert_int_eq(sv_model_layer_param_count(m, 3), 37248);
    ck_assert_int_eq(sv_model_param_count(m), 36992 + 3 * 37248 + 128064);
    /* Active: 2 of 4 experts, LM head but not the input embedding. */
    ck_assert_int_eq(sv_model_active_param_count(m), 36992 + 3 * (37248 - 2 * 6144) + 64064);
    /* tp 2, ep 2, fp8 (1 byte) over the linear layers, bf16 for the rest.
     * Dense layer: linear (q+o+MLP)/2 16384 + one KV head 2048 = 18432, norms
     * 128. MoE layer: linear (q+o)/2 4096 + one KV head 2048 + 2 whole
     * experts 12288 = 18432, norms+router 384. Plus embedding/2, head/2 and
     * the final norm in bf16. */
    double plain = 128 + 3 * 384.0 + 32000 + 32000 + 64;
    double want = 18432 + 3 * 18432.0 + plain * 2;
    ck_assert_double_eq(sv_model_weight_bytes_per_device(m, 2, 1, 2, SV_DTYPE_FP8, SV_DTYPE_BF16),
                        want);
    /* ep 1: all 4 experts, each sharded over tp 2: the same bytes. */
    ck_assert_double_eq(sv_model_weight_bytes_per_device(m, 2, 1, 1, SV_DTYPE_FP8, SV_DTYPE_BF16),
                        want);
    /* ep 4 over tp 2: one whole expert per device (6144). */
    ck_assert_double_eq(sv_model_weight_bytes_per_device(m, 2, 1, 4, SV_DTYPE_FP8, SV_DTYPE_BF16),
                        18432 + 3 * (4096 + 2048 + 6144.0) + plain * 2);
    /* Attention data parallelism: 2 ranks of tp 2 each hold the attention,
     * embedding and head split over 2, and ep 4 = tp x dp spreads one whole
     * expert per device: the bytes of ep 4 over tp 2 above. dp 1 is the
     * plain function. */
    ck_assert_double_eq(
        sv_model_weight_bytes_per_device_dp(m, 2, 1, 4, 2, SV_DTYPE_FP8, SV_DTYPE_BF16),
        18432 + 3 * (4096 + 2048 + 6144.0) + plain * 2);
    ck_assert_double_eq(
        sv_model_weight_bytes_per_device_dp(m, 2, 1, 2, 1, SV_DTYPE_FP8, SV_DTYPE_BF16), want);
    /* tp 1, dp 4, ep 4: each device holds the whole attention (q and o
     * 8192, the 4 KV heads 4096) and one expert; bf16 norms, router,
     * embedding and head (128 + 3 x 384 + 128064). */
    double plain1 = 128 + 3 * 384.0 + 128064;
    ck_assert_double_eq(
        sv_model_weight_bytes_per_device_dp(m, 1, 1, 4, 4, SV_DTYPE_FP8, SV_DTYPE_BF16),
        36864 + 3 * (8192 + 4096 + 6144.0) + plain1 * 2);
    /* ep 3 does not divide 4 experts: the busiest device holds 2. */
    ck_assert_double_eq(sv_model_weight_bytes_per_device(m, 1, 1, 3, SV_DTYPE_FP8, SV_DTYPE_BF16),
                        36864 + 3 * (8192 + 4096 + 2 * 6144.0) + plain1 * 2);
    /* Unquantized (weights in the activation dtype): every tensor 2 bytes. */
    ck_assert_double_eq(sv_model_weight_bytes_per_device(m, 1, 1, 3, SV_DTYPE_BF16, SV_DTYPE_BF16),
                        (36992 + 3 * (384 + 8192 + 4096 + 2 * 6144.0) + 128064) * 2);
}
END_TEST

START_TEST(test_shipped_weight_bytes)
{
    /* Llama-3-70B bf16 on tp 8: about 141 GB / 8 (+ replicated norms). */
    g_autoptr(SvModel) m = load_ok("llama-3-70b");
    double total = (double)sv_model_param_count(m) * 2;
    double per = sv_model_weight_bytes_per_device(m, 8, 1, 1, SV_DTYPE_BF16, SV_DTYPE_BF16);
    ck_assert(per > total / 8 && per < total / 8 * 1.001);
    /* DeepSeek-V3 fp8 on 8 devices with ep 8: about 671 GB / 8 plus the
     * replicated MLA down-projections. */
    g_autoptr(SvModel) ds = load_ok("deepseek-v3");
    double ds_per = sv_model_weight_bytes_per_device(ds, 8, 1, 8, SV_DTYPE_FP8, SV_DTYPE_BF16);
    ck_assert_msg(ds_per > 84e9 && ds_per < 88e9, "deepseek-v3 per device %.4g", ds_per);
    /* With attention DP (dp 8, tp 1) every device holds the whole
     * attention, dense layers, shared experts, embedding and head (about
     * 15B of the 671B) and 1/8 of the routed experts. */
    double ds_dp = sv_model_weight_bytes_per_device_dp(ds, 1, 1, 8, 8, SV_DTYPE_FP8, SV_DTYPE_BF16);
    ck_assert_msg(ds_dp > ds_per + 10e9 && ds_dp < ds_per + 16e9, "dp 8: %.4g", ds_dp);
}
END_TEST

START_TEST(test_gpt_oss_shape)
{
    g_autoptr(SvModel) m = load_ok("gpt-oss-120b");
    ck_assert(m->attn_sinks && m->router_bias && m->expert_bias && m->qkv_bias && m->o_bias);
    ck_assert(sv_model_layer_is_windowed(m, 0));
    ck_assert(!sv_model_layer_is_windowed(m, 1));
    ck_assert(sv_model_layer_is_windowed(m, 34));
    ck_assert(!sv_model_layer_is_windowed(m, 35));
    /* One layer: q 2880x4096 + o 4096x2880 + k,v 2 x 2880x512 + biases
     * (4096 + 1024 + 2880) + sinks 64 + router 2880x128 + 128 + 128 experts x
     * (3 x 2880 x 2880 + 2x2880 + 2880) + norms 2 x 2880. */
    int64_t attn = 2 * 2880LL * 4096 + 2 * 2880LL * 512 + 4096 + 1024 + 2880 + 64;
    int64_t moe = 2880LL * 128 + 128 + 128 * (3 * 2880LL * 2880 + 3 * 2880);
    ck_assert_int_eq(sv_model_layer_param_count(m, 7), attn + moe + 2 * 2880);
}
END_TEST

/* gpt-oss-120b under quantization fp4: its MXFP4 covers the routed experts
 * only (quantization_scope: experts), 0.5 byte a weight plus one e8m0 scale
 * byte per 32; everything else stays bf16. By hand: expert matrices 36
 * layers x 128 x 3 x 2880 x 2880 = 114,661,785,600 weights at 17/32 byte =
 * 60,914,073,600 bytes. The rest, 2,167,371,072 parameters at 2 bytes: per
 * layer attention 2 x 2880 x 4096 + 2 x 2880 x 512 + biases 4096 + 1024 +
 * 2880 + sinks 64 = 26,550,144, router 368,768, norms 5,760, expert biases
 * 128 x 8640 = 1,105,920 (36 x 28,030,592 = 1,009,101,312), plus embedding
 * and LM head 2 x 201088 x 2880 = 1,158,266,880 and the final norm 2880.
 * Total 65,248,815,744 bytes = 60.77 GiB; the gpt-oss model card lists a
 * 60.8 GiB checkpoint. The old count (every weight at 0.5 byte) was 58.41
 * GB. */
START_TEST(test_gpt_oss_mxfp4_bytes)
{
    g_autoptr(SvModel) m = load_ok("gpt-oss-120b");
    ck_assert_int_eq(m->quant_scope, SV_QUANT_SCOPE_EXPERTS);
    ck_assert_double_eq(m->routing_skew, 1.0); /* fit-routing.sh, read from the file */
    ck_assert_double_eq(sv_weight_bytes_per_param(SV_DTYPE_FP4), 0.53125);
    ck_assert_double_eq(sv_weight_bytes_per_param(SV_DTYPE_FP8), 1.0);
    ck_assert_double_eq(sv_weight_bytes_per_param(SV_DTYPE_INT4), 0.515625);
    ck_assert_int_eq(36LL * (26550144 + 368768 + 5760 + 1105920), 1009101312);
    ck_assert_int_eq(1009101312LL + 1158266880 + 2880 + 114661785600LL, sv_model_param_count(m));
    ck_assert_double_eq(sv_model_weight_bytes_per_device(m, 1, 1, 1, SV_DTYPE_FP4, SV_DTYPE_BF16),
                        65248815744.0);
    /* TP 2 (ep 1): every expert sliced in two, attention and vocab split,
     * the 8 KV heads 4 a rank; the replicated router, norms and o bias
     * (377,408 a layer) whole: 57,330,892,800 expert weights at 17/32 and
     * 1,090,480,320 others at 2 bytes. */
    ck_assert_double_eq(sv_model_weight_bytes_per_device(m, 2, 1, 1, SV_DTYPE_FP4, SV_DTYPE_BF16),
                        57330892800.0 * 17 / 32 + 1090480320.0 * 2);
    /* Served unquantized, everything is bf16. */
    ck_assert_double_eq(sv_model_weight_bytes_per_device(m, 1, 1, 1, SV_DTYPE_BF16, SV_DTYPE_BF16),
                        2.0 * sv_model_param_count(m));
    /* The same model with the default scope (linear) would put attention in
     * fp4 too: its 36 x 26,542,080 attention matrices move to 17/32 byte. */
    g_autoptr(SvModel) lin = sv_model_copy(m);
    lin->quant_scope = SV_QUANT_SCOPE_LINEAR;
    ck_assert_double_eq(sv_model_weight_bytes_per_device(lin, 1, 1, 1, SV_DTYPE_FP4, SV_DTYPE_BF16),
                        65248815744.0 - 36 * 26542080.0 * (2 - 17.0 / 32));
}
END_TEST

/* The Hugging Face loader takes the scope from quantization_config. */
START_TEST(test_hf_quant_scope)
{
    g_autofree char *dir = sv_test_path("data/hf/gpt-oss-120b");
    GError *error = NULL;
    g_autoptr(SvModel) oss = sv_model_load(dir, &error);
    ck_assert_msg(oss != NULL, "%s", error ? error->message : "?");
    ck_assert_int_eq(oss->quant_scope, SV_QUANT_SCOPE_EXPERTS);
    g_autofree char *ds_dir = sv_test_path("data/hf/DeepSeek-V3");
    g_autoptr(SvModel) ds = sv_model_load(ds_dir, &error);
    ck_assert_msg(ds != NULL, "%s", error ? error->message : "?");
    ck_assert_int_eq(ds->quant_scope, SV_QUANT_SCOPE_LINEAR);
    g_autoptr(SvModel) yaml = load_ok("deepseek-v3");
    ck_assert_int_eq(yaml->quant_scope, SV_QUANT_SCOPE_LINEAR);
}
END_TEST

/* Shape fields that must agree between a YAML and the config.json it came from. */
static void assert_same_shape(const SvModel *a, const SvModel *b)
{
#define SAME(f)                                                                                    \
    ck_assert_msg(a->f == b->f, "%s vs %s: " #f " %d vs %d", a->source, b->source, (int)a->f,      \
                  (int)b->f)
    SAME(num_layers);
    SAME(hidden_size);
    SAME(num_heads);
    SAME(num_kv_heads);
    SAME(head_dim);
    SAME(intermediate_size);
    SAME(gated_mlp);
    SAME(vocab_size);
    SAME(tie_word_embeddings);
    SAME(max_position_embeddings);
    SAME(qkv_bias);
    SAME(qk_norm);
    SAME(o_bias);
    SAME(norm);
    SAME(attn);
    SAME(dtype);
    SAME(num_experts);
    SAME(experts_per_token);
    SAME(moe_intermediate_size);
    SAME(num_shared_experts);
    SAME(shared_expert_intermediate_size);
    SAME(first_k_dense_layers);
    SAME(router_bias);
    SAME(expert_bias);
    SAME(q_lora_rank);
    SAME(kv_lora_rank);
    SAME(qk_nope_head_dim);
    SAME(qk_rope_head_dim);
    SAME(v_head_dim);
    SAME(sliding_window);
    SAME(sliding_window_every);
    SAME(attn_sinks);
#undef SAME
    ck_assert_int_eq(sv_model_param_count(a), sv_model_param_count(b));
}

START_TEST(test_hf_equals_yaml)
{
    static const char *const pairs[][2] = {
        {"data/hf/Meta-Llama-3-8B", "llama-3-8b"},
        {"data/hf/Qwen3-8B", "qwen3-8b"},
        {"data/hf/DeepSeek-V3", "deepseek-v3"},
        {"data/hf/gpt-oss-120b", "gpt-oss-120b"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(pairs); i++) {
        g_autofree char *dir = sv_test_path(pairs[i][0]);
        g_autofree char *json = g_build_filename(dir, "config.json", NULL);
        g_autoptr(SvModel) yaml = load_ok(pairs[i][1]);
        g_autoptr(SvModel) by_dir = load_ok(dir);   /* a snapshot directory */
        g_autoptr(SvModel) by_file = load_ok(json); /* the .json itself */
        assert_same_shape(yaml, by_dir);
        assert_same_shape(yaml, by_file);
        GError *error = NULL;
        g_autoptr(SvModel) direct = sv_model_load_hf_json(json, &error);
        ck_assert_msg(direct != NULL, "%s", error ? error->message : "?");
        assert_same_shape(yaml, direct);
        g_autofree char *base = g_path_get_basename(dir);
        ck_assert_str_eq(by_dir->name, base);
    }
}
END_TEST

START_TEST(test_hf_family_switches)
{
    /* Qwen2: q/k/v biases without saying so; its window is off. */
    const char *qwen2 = "{\n"
                        "  \"model_type\": \"qwen2\",\n"
                        "  \"hidden_size\": 64, \"num_attention_heads\": 4,\n"
                        "  \"num_key_value_heads\": 2, \"num_hidden_layers\": 2,\n"
                        "  \"intermediate_size\": 128, \"vocab_size\": 100,\n"
                        "  \"max_position_embeddings\": 256, \"sliding_window\": 131072,\n"
                        "  \"use_sliding_window\": false, \"torch_dtype\": \"float16\"\n"
                        "}\n";
    GError *error = NULL;
    g_autoptr(SvModel) q = load_text(qwen2, ".json", &error);
    ck_assert_msg(q != NULL, "%s", error ? error->message : "?");
    ck_assert(q->qkv_bias && !q->o_bias && !q->qk_norm);
    ck_assert_int_eq(q->sliding_window, 0);
    ck_assert_int_eq(q->head_dim, 16); /* hidden / heads */
    ck_assert_int_eq(q->dtype, SV_DTYPE_FP16);
    ck_assert(!q->tie_word_embeddings);
    /* q,o 2x64x64 + k,v 2x64x32 + biases q 64 + k,v 2x2x16 + MLP 3x64x128 + norms 128. */
    ck_assert_int_eq(sv_model_layer_param_count(q, 0), 8192 + 4096 + 128 + 24576 + 128);

    /* Mistral: the window covers every layer; KV heads default to heads. */
    const char *mistral = "{\"model_type\": \"mistral\", \"hidden_size\": 64,\n"
                          " \"num_attention_heads\": 4, \"num_hidden_layers\": 2,\n"
                          " \"intermediate_size\": 128, \"vocab_size\": 100,\n"
                          " \"max_position_embeddings\": 256, \"sliding_window\": 32,\n"
                          " \"tie_word_embeddings\": true}\n";
    g_autoptr(SvModel) mi = load_text(mistral, ".json", &error);
    ck_assert_msg(mi != NULL, "%s", error ? error->message : "?");
    ck_assert_int_eq(mi->num_kv_heads, 4);
    ck_assert_int_eq(mi->attn, SV_ATTN_MHA);
    ck_assert_int_eq(mi->sliding_window, 32);
    ck_assert(sv_model_layer_is_windowed(mi, 0) && sv_model_layer_is_windowed(mi, 1));
    ck_assert_int_eq(sv_model_lm_head_param_count(mi), 0);

    /* Qwen2-MoE: one shared expert of its own width; model_type from architectures. */
    const char *qmoe = "{\"architectures\": [\"Qwen2MoeForCausalLM\"], \"hidden_size\": 64,\n"
                       " \"num_attention_heads\": 4, \"num_hidden_layers\": 2,\n"
                       " \"intermediate_size\": 128, \"vocab_size\": 100,\n"
                       " \"max_position_embeddings\": 256, \"num_experts\": 8,\n"
                       " \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 32,\n"
                       " \"shared_expert_intermediate_size\": 96, \"decoder_sparse_step\": 1}\n";
    g_autoptr(SvModel) qm = load_text(qmoe, ".json", &error);
    ck_assert_msg(qm != NULL, "%s", error ? error->message : "?");
    ck_assert_int_eq(qm->num_shared_experts, 1);
    ck_assert_int_eq(qm->shared_expert_intermediate_size, 96);
    ck_assert_int_eq(qm->intermediate_size, 0);
    ck_assert(qm->qkv_bias);
}
END_TEST

/* Expect a load to fail in SV_MODEL_ERROR (or another input domain) with a
 * message holding every one of the NULL-terminated fragments. */
static void expect_error(const char *text, const char *suffix, int code, ...)
{
    g_autofree char *path = sv_test_write_tmp(text, suffix);
    GError *error = NULL;
    SvModel *m = sv_model_load(path, &error);
    g_unlink(path);
    ck_assert_msg(m == NULL, "loaded bad model:\n%s", text);
    ck_assert(error != NULL);
    ck_assert_msg(sv_error_is_input(error), "not an input error: %s", error->message);
    if (code >= 0)
        ck_assert_msg(error->domain == SV_MODEL_ERROR && error->code == code,
                      "domain/code %s/%d: %s", g_quark_to_string(error->domain), error->code,
                      error->message);
    ck_assert_msg(g_str_has_prefix(error->message, path), "message lacks the path: %s",
                  error->message);
    va_list ap;
    va_start(ap, code);
    for (const char *frag = va_arg(ap, const char *); frag != NULL;
         frag = va_arg(ap, const char *)) {
        /* "@PATH" stands for the temporary file's path. */
        g_autofree char *want =
            g_str_has_prefix(frag, "@") ? g_strconcat(path, frag + 1, NULL) : g_strdup(frag);
        ck_assert_msg(strstr(error->message, want) != NULL, "'%s' not in: %s", want,
                      error->message);
    }
    va_end(ap);
    g_error_free(error);
}

START_TEST(test_unknown_name)
{
    GError *error = NULL;
    SvModel *m = sv_model_load("llama-3-8", &error);
    ck_assert(m == NULL);
    ck_assert(g_error_matches(error, SV_MODEL_ERROR, SV_ERROR_NOT_FOUND));
    ck_assert_str_eq(error->message, "unknown model 'llama-3-8' (did you mean 'llama-3-8b'?)");
    g_clear_error(&error);
    m = sv_model_load("mixtrl-8x7b", &error);
    ck_assert(m == NULL);
    ck_assert_msg(strstr(error->message, "did you mean 'mixtral-8x7b'") != NULL, "%s",
                  error->message);
    g_clear_error(&error);
    m = sv_model_load("zzzzzzzzzzzz", &error);
    ck_assert(m == NULL && strstr(error->message, "did you mean") == NULL);
    g_clear_error(&error);
    m = sv_model_load("no/such/model.yaml", &error);
    ck_assert(m == NULL);
    ck_assert(g_error_matches(error, SV_MODEL_ERROR, SV_ERROR_NOT_FOUND));
    ck_assert_str_eq(error->message, "no/such/model.yaml: model file not found");
    g_clear_error(&error);
    m = sv_model_load("", &error);
    ck_assert(m == NULL && error != NULL);
    g_clear_error(&error);
    /* A directory without config.json. */
    g_autofree char *dir = sv_test_path("data");
    m = sv_model_load(dir, &error);
    ck_assert(m == NULL && g_error_matches(error, SV_MODEL_ERROR, SV_ERROR_NOT_FOUND));
    g_clear_error(&error);
}
END_TEST

START_TEST(test_yaml_errors)
{
    /* Heads not divisible: the value node of num_kv_heads, line 5 col 15. */
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 64\nnum_heads: 32\nnum_kv_heads: 6\n"
                 "intermediate_size: 8\nvocab_size: 10\nmax_position_embeddings: 8\n",
                 ".yaml", SV_ERROR_INVALID,
                 "@:5:15:", "num_heads (32) is not a multiple of num_kv_heads (6)", NULL);
    /* Zero layers: line 2, col 13. */
    expect_error("name: bad\nnum_layers: 0\nhidden_size: 64\nnum_heads: 4\n"
                 "intermediate_size: 8\nvocab_size: 10\nmax_position_embeddings: 8\n",
                 ".yaml", -1, "@:2:13:", "num_layers", NULL);
    /* Negative heads. */
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 64\nnum_heads: -4\n"
                 "intermediate_size: 8\nvocab_size: 10\nmax_position_embeddings: 8\n",
                 ".yaml", -1, "@:4:12:", "num_heads", NULL);
    /* Missing required key: blamed on the document's map at 1:1. */
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 64\nnum_heads: 4\n"
                 "intermediate_size: 8\nmax_position_embeddings: 8\n",
                 ".yaml", SV_ERROR_INVALID, "@:1:1:", "missing required key 'vocab_size'", NULL);
    /* Unknown key with a suggestion. */
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 64\nnum_head: 4\n"
                 "intermediate_size: 8\nvocab_size: 10\nmax_position_embeddings: 8\n",
                 ".yaml", -1, "@:4:1:", "num_head", "num_heads", NULL);
    /* Not an integer. */
    expect_error("name: bad\nnum_layers: two\nhidden_size: 64\nnum_heads: 4\n"
                 "intermediate_size: 8\nvocab_size: 10\nmax_position_embeddings: 8\n",
                 ".yaml", -1, "@:2:13:", "num_layers", NULL);
    /* Dense model without an MLP width. */
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 64\nnum_heads: 4\n"
                 "vocab_size: 10\nmax_position_embeddings: 8\n",
                 ".yaml", SV_ERROR_INVALID, "@:1:1:", "intermediate_size must be positive", NULL);
    /* head_dim cannot be derived. */
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 60\nnum_heads: 8\n"
                 "intermediate_size: 8\nvocab_size: 10\nmax_position_embeddings: 8\n",
                 ".yaml", SV_ERROR_INVALID, "@:4:12:", "give head_dim explicitly", NULL);
    /* MoE: top-k beyond the expert count, at experts_per_token (line 9). */
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 64\nnum_heads: 4\n"
                 "vocab_size: 10\nmax_position_embeddings: 8\nnum_experts: 4\n"
                 "moe_intermediate_size: 16\nexperts_per_token: 5\n",
                 ".yaml", SV_ERROR_INVALID,
                 "@:9:20:", "experts_per_token (5) must be in 1..num_experts (4)", NULL);
    /* MoE field on a dense model. */
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 64\nnum_heads: 4\n"
                 "intermediate_size: 8\nvocab_size: 10\nmax_position_embeddings: 8\n"
                 "experts_per_token: 2\n",
                 ".yaml", SV_ERROR_INVALID, "@:8:20:", "num_experts is 0", NULL);
    /* MLA without its head dims. */
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 64\nnum_heads: 4\n"
                 "intermediate_size: 8\nvocab_size: 10\nmax_position_embeddings: 8\n"
                 "kv_lora_rank: 16\n",
                 ".yaml", SV_ERROR_INVALID, "@:8:15:", "qk_nope_head_dim", NULL);
    /* Window period without a window. */
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 64\nnum_heads: 4\n"
                 "intermediate_size: 8\nvocab_size: 10\nmax_position_embeddings: 8\n"
                 "sliding_window_every: 2\n",
                 ".yaml", SV_ERROR_INVALID, "@:8:23:", "sliding_window is 0", NULL);
    /* Wrong enum. */
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 64\nnum_heads: 4\n"
                 "intermediate_size: 8\nvocab_size: 10\nmax_position_embeddings: 8\n"
                 "norm: batchnorm\n",
                 ".yaml", -1, "@:8:7:", "norm", NULL);
    /* Absurd sizes are refused, not overflowed. */
    expect_error("name: bad\nnum_layers: 60000000\nhidden_size: 60000000\nnum_heads: 1\n"
                 "intermediate_size: 60000000\nvocab_size: 10\nmax_position_embeddings: 8\n",
                 ".yaml", SV_ERROR_INVALID, "beyond 1e15", NULL);
    /* Not a map at all, and an empty file. */
    expect_error("- 1\n- 2\n", ".yaml", -1, "@:1:1:", NULL);
    expect_error("", ".yaml", -1, NULL);
}
END_TEST

START_TEST(test_hf_errors)
{
    /* Missing required key: reported at the object (1:1). */
    expect_error("{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 64,\n"
                 "  \"num_attention_heads\": 4,\n  \"intermediate_size\": 8,\n"
                 "  \"vocab_size\": 10,\n  \"max_position_embeddings\": 8\n}\n",
                 ".json", SV_ERROR_INVALID, "@:1:1:", "missing required key 'num_hidden_layers'",
                 NULL);
    /* Heads not divisible, at the num_key_value_heads value (line 4, col 26). */
    expect_error("{\n  \"model_type\": \"llama\",\n  \"num_attention_heads\": 32,\n"
                 "  \"num_key_value_heads\": 6,\n  \"hidden_size\": 64,\n"
                 "  \"num_hidden_layers\": 2,\n  \"intermediate_size\": 8,\n"
                 "  \"vocab_size\": 10,\n  \"max_position_embeddings\": 8\n}\n",
                 ".json", SV_ERROR_INVALID, "@:4:26:", "not a multiple of num_kv_heads (6)", NULL);
    /* Unsupported family. */
    expect_error("{\"model_type\": \"gpt2\", \"n_embd\": 768}\n", ".json", SV_ERROR_INVALID,
                 "@:1:16:", "unsupported model_type 'gpt2'", NULL);
    /* JSON syntax error: an input error that names the file. */
    expect_error("{\n  \"model_type\": \"llama\",\n  \"hidden_size\": 64,,\n}\n", ".json", -1,
                 NULL);
    /* Wrong type for a shape. */
    expect_error("{\"model_type\": \"llama\", \"num_hidden_layers\": \"many\"}\n", ".json", -1,
                 "@:1:46:", "num_hidden_layers", NULL);
    /* Every-other-layer MoE cannot be described. */
    expect_error("{\"model_type\": \"qwen2_moe\", \"hidden_size\": 64,\n"
                 " \"num_attention_heads\": 4, \"num_hidden_layers\": 2,\n"
                 " \"intermediate_size\": 128, \"vocab_size\": 100,\n"
                 " \"max_position_embeddings\": 256, \"num_experts\": 8,\n"
                 " \"num_experts_per_tok\": 2, \"moe_intermediate_size\": 32,\n"
                 " \"decoder_sparse_step\": 2}\n",
                 ".json", SV_ERROR_INVALID, "@:6:25:", "decoder_sparse_step 2", NULL);
    /* layer_types of the wrong length. */
    expect_error("{\"model_type\": \"gpt_oss\", \"hidden_size\": 64,\n"
                 " \"num_attention_heads\": 4, \"num_hidden_layers\": 3,\n"
                 " \"intermediate_size\": 32, \"vocab_size\": 100,\n"
                 " \"max_position_embeddings\": 256, \"num_local_experts\": 4,\n"
                 " \"num_experts_per_tok\": 2, \"sliding_window\": 8,\n"
                 " \"layer_types\": [\"sliding_attention\", \"full_attention\"]}\n",
                 ".json", SV_ERROR_INVALID, "@:6:17:", "layer_types has 2 entries", NULL);
    /* mxfp4 quantizes routed experts only: a dense model has none. */
    expect_error("{\"model_type\": \"llama\", \"hidden_size\": 64,\n"
                 " \"num_attention_heads\": 4, \"num_hidden_layers\": 2,\n"
                 " \"intermediate_size\": 128, \"vocab_size\": 100,\n"
                 " \"max_position_embeddings\": 256,\n"
                 " \"quantization_config\": {\"quant_method\": \"mxfp4\"}}\n",
                 ".json", SV_ERROR_INVALID, "@:5:42:", "covers routed experts only", NULL);
    /* Another method that leaves attention unquantized is not modelled. */
    expect_error("{\"model_type\": \"llama\", \"hidden_size\": 64,\n"
                 " \"num_attention_heads\": 4, \"num_hidden_layers\": 2,\n"
                 " \"intermediate_size\": 128, \"vocab_size\": 100,\n"
                 " \"max_position_embeddings\": 256,\n"
                 " \"quantization_config\": {\"quant_method\": \"fp8\",\n"
                 "   \"ignored_layers\": [\"lm_head\", \"model.layers.0.self_attn\"]}}\n",
                 ".json", SV_ERROR_INVALID, "@:6:34:", "not implemented yet", NULL);
    /* models/<name>.yaml: a bad scope name, and experts on a dense model. */
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 64\nnum_heads: 4\n"
                 "intermediate_size: 128\nvocab_size: 100\nmax_position_embeddings: 256\n"
                 "quantization_scope: attention\n",
                 ".yaml", -1, "@:8:21:", "quantization_scope", NULL);
    expect_error("name: bad\nnum_layers: 2\nhidden_size: 64\nnum_heads: 4\n"
                 "intermediate_size: 128\nvocab_size: 100\nmax_position_embeddings: 256\n"
                 "quantization_scope: experts\n",
                 ".yaml", SV_ERROR_INVALID, "@:8:21:", "num_experts is 0", NULL);
}
END_TEST

START_TEST(test_copy)
{
    g_autoptr(SvModel) m = load_ok("deepseek-v3");
    g_autoptr(SvModel) c = sv_model_copy(m);
    ck_assert_ptr_ne(c->name, m->name);
    ck_assert_str_eq(c->name, m->name);
    ck_assert_int_eq(sv_model_param_count(c), sv_model_param_count(m));
    sv_model_free(NULL);
}
END_TEST

Suite *model_suite(void)
{
    Suite *s = suite_create("model");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_published_sizes);
    tcase_add_test(tc, test_every_shipped_model_is_checked);
    tcase_add_test(tc, test_llama3_8b_exact);
    tcase_add_test(tc, test_kv_bytes);
    tcase_add_test(tc, test_weight_bytes_dense);
    tcase_add_test(tc, test_weight_bytes_moe);
    tcase_add_test(tc, test_shipped_weight_bytes);
    tcase_add_test(tc, test_gpt_oss_shape);
    tcase_add_test(tc, test_gpt_oss_mxfp4_bytes);
    tcase_add_test(tc, test_hf_quant_scope);
    tcase_add_test(tc, test_hf_equals_yaml);
    tcase_add_test(tc, test_hf_family_switches);
    tcase_add_test(tc, test_unknown_name);
    tcase_add_test(tc, test_yaml_errors);
    tcase_add_test(tc, test_hf_errors);
    tcase_add_test(tc, test_copy);
    suite_add_tcase(s, tc);
    return s;
}
