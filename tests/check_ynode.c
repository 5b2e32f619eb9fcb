/* Tests of the YAML tree: marks, rejected constructs, typed readers with their
 * messages, unknown-key hints, --set overrides and JSON input. */
#include "config/ynode.h"

#include <glib/gstdio.h>

#include "testutil.h"

static SvYDoc *load(const char *text, GError **error)
{
    return sv_ydoc_load_string(text, -1, "t.yaml", SV_CONFIG_ERROR, error);
}

/* Load @text, expect failure whose message contains @want. */
static void expect_load_error(const char *text, gssize len, const char *want)
{
    GError *error = NULL;
    SvYDoc *doc = sv_ydoc_load_string(text, len, "t.yaml", SV_CONFIG_ERROR, &error);
    ck_assert_ptr_null(doc);
    ck_assert_ptr_nonnull(error);
    ck_assert_msg(strstr(error->message, want) != NULL, "message '%s' lacks '%s'", error->message,
                  want);
    ck_assert_msg(strchr(error->message, '\n') == NULL, "multi-line: %s", error->message);
    g_error_free(error);
}

START_TEST(test_marks)
{
    GError *error = NULL;
    g_autoptr(SvYDoc) doc = load("# study\nengine:\n  max_num_seqs: 128\n  dtype: 'x'\n"
                                 "list: [1, 2]\n",
                                 &error);
    ck_assert_ptr_nonnull(doc);
    ck_assert_int_eq(doc->root->kind, SV_YNODE_MAP);
    SvYNode *engine = sv_ynode_get(doc->root, "engine");
    ck_assert_int_eq(engine->kind, SV_YNODE_MAP);
    ck_assert_int_eq(engine->line, 3); /* a block map starts at its first key */
    ck_assert_int_eq(engine->col, 3);
    SvYNode *k = sv_ynode_key(engine, "max_num_seqs");
    ck_assert_int_eq(k->line, 3);
    ck_assert_int_eq(k->col, 3);
    SvYNode *v = sv_ynode_get(engine, "max_num_seqs");
    ck_assert_str_eq(v->value, "128");
    ck_assert_int_eq(v->line, 3);
    ck_assert_int_eq(v->col, 17);
    ck_assert(!v->quoted);
    SvYNode *d = sv_ynode_get(engine, "dtype");
    ck_assert(d->quoted);
    ck_assert_int_eq(d->col, 10);
    SvYNode *list = sv_ynode_get(doc->root, "list");
    ck_assert_int_eq(list->kind, SV_YNODE_SEQ);
    ck_assert_int_eq(list->items->len, 2);
    ck_assert_int_eq(((SvYNode *)g_ptr_array_index(list->items, 1))->col, 11);
    ck_assert_ptr_null(sv_ynode_get(doc->root, "absent"));
    ck_assert_ptr_null(sv_ynode_get(v, "x")); /* not a map */
}
END_TEST

START_TEST(test_empty_and_null)
{
    GError *error = NULL;
    const char *empties[] = {"", "# only a comment\n", "\n\n", "---\n", "~\n"};
    for (size_t i = 0; i < G_N_ELEMENTS(empties); i++) {
        g_autoptr(SvYDoc) doc = load(empties[i], &error);
        ck_assert_msg(doc != NULL, "'%s': %s", empties[i], error ? error->message : "");
        ck_assert_ptr_null(doc->root);
    }
    g_autoptr(SvYDoc) doc = load("a: ~\nb: null\nc:\nd: 'null'\ne: \"\"\n", &error);
    ck_assert(sv_ynode_get(doc->root, "a")->is_null);
    ck_assert(sv_ynode_get(doc->root, "b")->is_null);
    ck_assert(sv_ynode_get(doc->root, "c")->is_null);
    ck_assert(!sv_ynode_get(doc->root, "d")->is_null);
    ck_assert(!sv_ynode_get(doc->root, "e")->is_null);
}
END_TEST

START_TEST(test_rejects)
{
    expect_load_error("a: [1, 2\n", -1, "t.yaml:");
    expect_load_error("a: 1\n b: 2\n", -1, "t.yaml:2:");
    expect_load_error("a: &x 1\nb: *x\n", -1, "t.yaml:1:4: anchors (&x) are not supported");
    expect_load_error("a: !!str 1\nb: !custom 2\n", -1, "t.yaml:2:4: tag '!custom'");
    expect_load_error("a: 1\n---\nb: 2\n", -1, "t.yaml:2:1: more than one YAML document");
    expect_load_error("a: 1\nb: 2\na: 3\n", -1, "t.yaml:3:1: duplicate key 'a'");
    expect_load_error("? [x]\n: 1\n", -1, "mapping keys must be scalars");
    expect_load_error("a: \xff\xfe\x01\n", -1, "t.yaml:1:4: invalid UTF-8");
    expect_load_error("a: 1\nb: x\0y\n", 11, "t.yaml:2:5: NUL byte");
    /* Assorted binary garbage: an error, never a crash. */
    GRand *rand = g_rand_new_with_seed(7);
    for (int round = 0; round < 200; round++) {
        char buf[64];
        for (size_t i = 0; i < sizeof buf; i++)
            buf[i] = (char)g_rand_int_range(rand, 1, 128); /* ASCII: gets past UTF-8 check */
        GError *error = NULL;
        SvYDoc *doc = sv_ydoc_load_string(buf, sizeof buf, "g.yaml", SV_CONFIG_ERROR, &error);
        ck_assert((doc == NULL) == (error != NULL));
        if (error != NULL)
            ck_assert(g_str_has_prefix(error->message, "g.yaml"));
        g_clear_error(&error);
        sv_ydoc_free(doc);
    }
    g_rand_free(rand);
}
END_TEST

START_TEST(test_control_char)
{
    /* Valid UTF-8 but a control character libyaml refuses: position from its
     * offset. */
    expect_load_error("a: 1\nb: \x01\n", -1, "t.yaml:2:4:");
}
END_TEST

START_TEST(test_file_errors)
{
    GError *error = NULL;
    SvYDoc *doc = sv_ydoc_load_file("/nonexistent/x.yaml", SV_CONFIG_ERROR, &error);
    ck_assert_ptr_null(doc);
    ck_assert(g_error_matches(error, G_FILE_ERROR, G_FILE_ERROR_NOENT));
    ck_assert_str_eq(error->message, "/nonexistent/x.yaml: No such file or directory");
    g_clear_error(&error);
    doc = sv_ydoc_load_file("/tmp", SV_CONFIG_ERROR, &error);
    ck_assert_ptr_null(doc);
    ck_assert(g_str_has_prefix(error->message, "/tmp: "));
    g_clear_error(&error);

    g_autofree char *path = sv_test_write_tmp("x: 1\ny: [\n", ".yaml");
    doc = sv_ydoc_load_file(path, SV_MODEL_ERROR, &error);
    ck_assert_ptr_null(doc);
    ck_assert(g_error_matches(error, SV_MODEL_ERROR, SV_ERROR_PARSE));
    ck_assert(g_str_has_prefix(error->message, path));
    g_clear_error(&error);
    g_unlink(path);
}
END_TEST

START_TEST(test_json)
{
    /* A Hugging Face config.json as published (tabs, "key":value without
     * spaces, nested objects, null, booleans, exponent floats). */
    const char *json = "{\n\t\"architectures\": [\"LlamaForCausalLM\"],\n"
                       "\t\"hidden_size\":4096,\"num_attention_heads\": 32,\n"
                       "  \"rms_norm_eps\": 1e-05,\n"
                       "  \"rope_scaling\": {\"factor\": 8.0, \"rope_type\": \"llama3\"},\n"
                       "  \"tie_word_embeddings\": false,\n"
                       "  \"pad_token_id\": null,\n"
                       "  \"max_position_embeddings\": 131072\n}\n";
    g_autofree char *path = sv_test_write_tmp(json, ".json");
    GError *error = NULL;
    g_autoptr(SvYDoc) doc = sv_ydoc_load_file(path, SV_MODEL_ERROR, &error);
    ck_assert_msg(doc != NULL, "%s", error ? error->message : "");
    int heads = 0, hidden = 0;
    ck_assert(sv_ynode_int(doc, sv_ynode_get(doc->root, "hidden_size"), "hidden_size", 1, G_MAXINT,
                           &hidden, &error));
    ck_assert_int_eq(hidden, 4096);
    ck_assert(sv_ynode_int(doc, sv_ynode_get(doc->root, "num_attention_heads"), "h", 1, 1000,
                           &heads, &error));
    ck_assert_int_eq(heads, 32);
    double eps = 0;
    ck_assert(
        sv_ynode_double(doc, sv_ynode_get(doc->root, "rms_norm_eps"), "eps", 0, 1, &eps, &error));
    ck_assert(eps == 1e-5);
    gboolean tie = TRUE;
    ck_assert(
        sv_ynode_bool(doc, sv_ynode_get(doc->root, "tie_word_embeddings"), "t", &tie, &error));
    ck_assert(!tie);
    ck_assert(sv_ynode_get(doc->root, "pad_token_id")->is_null);
    SvYNode *rope = sv_ynode_get(doc->root, "rope_scaling");
    ck_assert_str_eq(sv_ynode_get(rope, "rope_type")->value, "llama3");
    ck_assert(sv_ynode_get(rope, "rope_type")->quoted);
    /* Line 3 holds "hidden_size":4096 at col 2 (after a tab). */
    SvYNode *k = sv_ynode_key(doc->root, "hidden_size");
    ck_assert_int_eq(k->line, 3);
    ck_assert_int_eq(k->col, 2);
    g_unlink(path);
}
END_TEST

/* Read @text's "v" with @fn; return the error message (or NULL when fine). */
static char *int_msg(const char *text, int64_t min, int64_t max, int64_t *out)
{
    GError *error = NULL;
    g_autoptr(SvYDoc) doc = load(text, &error);
    ck_assert_msg(doc != NULL, "%s", error ? error->message : "");
    if (sv_ynode_int64(doc, sv_ynode_get(doc->root, "v"), "engine.v", min, max, out, &error))
        return NULL;
    char *msg = g_strdup(error->message);
    ck_assert(g_error_matches(error, SV_CONFIG_ERROR, SV_ERROR_INVALID));
    g_error_free(error);
    return msg;
}

START_TEST(test_int)
{
    int64_t v = -1;
    ck_assert_ptr_null(int_msg("v: 42\n", 0, 100, &v));
    ck_assert_int_eq(v, 42);
    ck_assert_ptr_null(int_msg("v: -7\n", -10, 100, &v));
    ck_assert_int_eq(v, -7);
    ck_assert_ptr_null(int_msg("v: 1e6\n", 0, G_MAXINT64, &v));
    ck_assert_int_eq(v, 1000000);
    ck_assert_ptr_null(int_msg("v: 2.0\n", 0, 100, &v));
    ck_assert_int_eq(v, 2);
    ck_assert_ptr_null(int_msg("v: 9223372036854775807\n", 0, G_MAXINT64, &v));
    ck_assert_int_eq(v, G_MAXINT64);

    struct {
        const char *text, *want;
    } bad[] = {
        {"v: 0\n", "t.yaml:1:4: engine.v must be between 1 and 1048576, got 0"},
        {"v: 1.5\n", "t.yaml:1:4: engine.v must be an integer, got 1.5"},
        {"v: 12abc\n", "engine.v must be an integer, got '12abc'"},
        {"v: '12'\n", "engine.v must be an integer, got the string '12'"},
        {"v: nan\n", "engine.v must be a finite integer, got nan"},
        {"v: .inf\n", "engine.v must be a finite integer, got .inf"},
        {"v: -.inf\n", "finite integer"},
        {"v: 1e12\n", "engine.v must be between 1 and 1048576, got 1e12"},
        {"v: 1e30\n", "engine.v is out of range, got 1e30"},
        {"v: 99999999999999999999\n", "out of range"},
        {"v: [1]\n", "engine.v must be an integer, got a sequence"},
        {"v:\n", "engine.v must be an integer, got null"},
        {"v: 0x10\n", "must be an integer"},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        g_autofree char *msg = int_msg(bad[i].text, 1, 1048576, &v);
        ck_assert_msg(msg != NULL, "'%s' accepted", bad[i].text);
        ck_assert_msg(strstr(msg, bad[i].want) != NULL, "'%s' lacks '%s'", msg, bad[i].want);
    }
    g_autofree char *open = int_msg("v: -3\n", 0, G_MAXINT64, &v);
    ck_assert_str_eq(open, "t.yaml:1:4: engine.v must be at least 0, got -3");

    /* int: bounds are the caller's, the same messages. */
    GError *error = NULL;
    g_autoptr(SvYDoc) doc = load("v: 3000000000\nw: 12\n", &error);
    int iv = 0;
    ck_assert(!sv_ynode_int(doc, sv_ynode_get(doc->root, "v"), "v", 0, G_MAXINT, &iv, &error));
    ck_assert_str_eq(error->message, "t.yaml:1:4: v must be at least 0, got 3000000000");
    g_clear_error(&error);
    ck_assert(sv_ynode_int(doc, sv_ynode_get(doc->root, "w"), "w", 0, 20, &iv, &error));
    ck_assert_int_eq(iv, 12);
}
END_TEST

START_TEST(test_double_bool_string_enum)
{
    GError *error = NULL;
    g_autoptr(SvYDoc) doc = load("a: 0.25\nb: 3\nc: .nan\nd: inf\ne: 2e400\nf: 1.5\n"
                                 "t1: yes\nt2: OFF\nt3: True\nt4: maybe\nt5: 'true'\n"
                                 "s1: llama\ns2: ''\ns3: {x: 1}\nn1: vllm-v2\nn2: zzzzzzz\n",
                                 &error);
    ck_assert_msg(doc != NULL, "%s", error ? error->message : "");
    SvYNode *r = doc->root;
    double d = 0;
    ck_assert(sv_ynode_double(doc, sv_ynode_get(r, "a"), "a", 0, 1, &d, &error));
    ck_assert(d == 0.25);
    ck_assert(sv_ynode_double(doc, sv_ynode_get(r, "b"), "b", 0, 10, &d, &error));
    ck_assert(d == 3.0);
    ck_assert(!sv_ynode_double(doc, sv_ynode_get(r, "c"), "x.c", 0, 1, &d, &error));
    ck_assert_str_eq(error->message, "t.yaml:3:4: x.c must be a finite number, got .nan");
    g_clear_error(&error);
    ck_assert(!sv_ynode_double(doc, sv_ynode_get(r, "d"), "x.d", 0, 1, &d, &error));
    ck_assert_str_eq(error->message, "t.yaml:4:4: x.d must be a finite number, got inf");
    g_clear_error(&error);
    ck_assert(!sv_ynode_double(doc, sv_ynode_get(r, "e"), "x.e", 0, 1, &d, &error));
    ck_assert(strstr(error->message, "t.yaml:5:4: x.e must be a number") != NULL);
    g_clear_error(&error);
    ck_assert(!sv_ynode_double(doc, sv_ynode_get(r, "f"), "gpu", 0.01, 1, &d, &error));
    ck_assert_str_eq(error->message, "t.yaml:6:4: gpu must be between 0.01 and 1, got 1.5");
    g_clear_error(&error);
    ck_assert(!sv_ynode_double(doc, sv_ynode_get(r, "f"), "r", 2, G_MAXDOUBLE, &d, &error));
    ck_assert_str_eq(error->message, "t.yaml:6:4: r must be at least 2, got 1.5");
    g_clear_error(&error);

    gboolean b = FALSE;
    ck_assert(sv_ynode_bool(doc, sv_ynode_get(r, "t1"), "t1", &b, &error) && b);
    ck_assert(sv_ynode_bool(doc, sv_ynode_get(r, "t2"), "t2", &b, &error) && !b);
    ck_assert(sv_ynode_bool(doc, sv_ynode_get(r, "t3"), "t3", &b, &error) && b);
    ck_assert(!sv_ynode_bool(doc, sv_ynode_get(r, "t4"), "e.t4", &b, &error));
    ck_assert_str_eq(error->message, "t.yaml:10:5: e.t4 must be true or false, got 'maybe'");
    g_clear_error(&error);
    ck_assert(!sv_ynode_bool(doc, sv_ynode_get(r, "t5"), "t5", &b, &error));
    g_clear_error(&error);

    const char *s = NULL;
    ck_assert(sv_ynode_string(doc, sv_ynode_get(r, "s1"), "s1", &s, &error));
    ck_assert_str_eq(s, "llama");
    ck_assert(!sv_ynode_string(doc, sv_ynode_get(r, "s2"), "s2", &s, &error));
    ck_assert_str_eq(error->message, "t.yaml:13:5: s2 must not be empty");
    g_clear_error(&error);
    ck_assert(!sv_ynode_string(doc, sv_ynode_get(r, "s3"), "s3", &s, &error));
    ck_assert_str_eq(error->message, "t.yaml:14:5: s3 must be a string, got a map");
    g_clear_error(&error);

    static const char *const names[] = {"vllm-v0", "vllm-v1", "orca", NULL};
    int e = -1;
    ck_assert(!sv_ynode_enum(doc, sv_ynode_get(r, "n1"), "scheduler", names, &e, &error));
    ck_assert_str_eq(error->message, "t.yaml:15:5: unknown scheduler 'vllm-v2' (did you mean "
                                     "'vllm-v0'?); valid: vllm-v0, vllm-v1, orca");
    g_clear_error(&error);
    ck_assert(!sv_ynode_enum(doc, sv_ynode_get(r, "n2"), "scheduler", names, &e, &error));
    ck_assert_str_eq(error->message, "t.yaml:16:5: unknown scheduler 'zzzzzzz'; "
                                     "valid: vllm-v0, vllm-v1, orca");
    g_clear_error(&error);
    ck_assert(sv_ynode_enum(doc, sv_ynode_get(r, "s1"), "x",
                            (const char *const[]){"a", "llama", NULL}, &e, &error));
    ck_assert_int_eq(e, 1);
}
END_TEST

START_TEST(test_check_keys)
{
    GError *error = NULL;
    static const char *const valid[] = {"max_num_seqs", "block_size", NULL};
    g_autoptr(SvYDoc) doc = load("engine:\n  block_size: 16\n  maxnum_seqs: 4\n", &error);
    SvYNode *engine = sv_ynode_get(doc->root, "engine");
    ck_assert(!sv_ynode_check_keys(doc, engine, "engine", valid, &error));
    ck_assert_str_eq(error->message, "t.yaml:3:3: unknown key 'maxnum_seqs' in engine (did you "
                                     "mean 'max_num_seqs'?)");
    g_clear_error(&error);

    g_autoptr(SvYDoc) doc2 = load("engine:\n  colour: blue\n", &error);
    ck_assert(
        !sv_ynode_check_keys(doc2, sv_ynode_get(doc2->root, "engine"), "engine", valid, &error));
    ck_assert_str_eq(error->message, "t.yaml:2:3: unknown key 'colour' in engine");
    g_clear_error(&error);

    g_autoptr(SvYDoc) doc3 = load("engine: 5\n", &error);
    ck_assert(
        !sv_ynode_check_keys(doc3, sv_ynode_get(doc3->root, "engine"), "engine", valid, &error));
    ck_assert_str_eq(error->message, "t.yaml:1:9: engine must be a map, got '5'");
    g_clear_error(&error);

    g_autoptr(SvYDoc) ok = load("block_size: 1\nmax_num_seqs: 2\n", &error);
    ck_assert(sv_ynode_check_keys(ok, ok->root, "the study", valid, &error));

    /* Duplicates made by --set into a tree are still caught by check_keys. */
    ck_assert(!sv_ynode_expect_seq(ok, ok->root, "pools", &error));
    ck_assert_str_eq(error->message, "t.yaml:1:1: pools must be a sequence, got a map");
    g_clear_error(&error);
}
END_TEST

START_TEST(test_set)
{
    GError *error = NULL;
    g_autoptr(SvYDoc) doc = load("engine:\n  max_num_seqs: 8\ncluster:\n  pools:\n"
                                 "    - name: a\n      replicas: 1\nempty:\n",
                                 &error);
    ck_assert(sv_ydoc_set(doc, "engine.max_num_seqs=0", &error));
    SvYNode *v = sv_ynode_get(sv_ynode_get(doc->root, "engine"), "max_num_seqs");
    ck_assert_str_eq(v->value, "0");
    ck_assert_str_eq(v->origin, "--set engine.max_num_seqs=0");
    int n = 0;
    ck_assert(!sv_ynode_int(doc, v, "engine.max_num_seqs", 1, 1048576, &n, &error));
    ck_assert_str_eq(error->message, "--set engine.max_num_seqs=0: engine.max_num_seqs must be "
                                     "between 1 and 1048576, got 0");
    g_clear_error(&error);

    /* Flow values, new intermediate maps, sequence indices, null placeholders. */
    ck_assert(sv_ydoc_set(doc, "workload.lengths.input={dist: fixed, value: 5}", &error));
    SvYNode *in =
        sv_ynode_get(sv_ynode_get(sv_ynode_get(doc->root, "workload"), "lengths"), "input");
    ck_assert_int_eq(in->kind, SV_YNODE_MAP);
    ck_assert_str_eq(sv_ynode_get(in, "value")->value, "5");
    ck_assert_str_eq(sv_ynode_key(doc->root, "workload")->origin,
                     "--set workload.lengths.input={dist: fixed, value: 5}");
    ck_assert(sv_ydoc_set(doc, "list=[1,2]", &error));
    ck_assert_int_eq(sv_ynode_get(doc->root, "list")->items->len, 2);
    ck_assert(sv_ydoc_set(doc, "cluster.pools.0.replicas=4", &error));
    SvYNode *pool =
        g_ptr_array_index(sv_ynode_get(sv_ynode_get(doc->root, "cluster"), "pools")->items, 0);
    ck_assert_str_eq(sv_ynode_get(pool, "replicas")->value, "4");
    ck_assert_str_eq(sv_ynode_get(pool, "name")->value, "a");
    ck_assert(sv_ydoc_set(doc, "empty.x=1", &error));
    ck_assert_str_eq(sv_ynode_get(sv_ynode_get(doc->root, "empty"), "x")->value, "1");
    ck_assert(sv_ydoc_set(doc, "model=\"7\"", &error));
    ck_assert(sv_ynode_get(doc->root, "model")->quoted);
    ck_assert(sv_ydoc_set(doc, "cleared=", &error));
    ck_assert(sv_ynode_get(doc->root, "cleared")->is_null);

    struct {
        const char *text, *want;
    } bad[] = {
        {"engine.max_num_seqs", "--set engine.max_num_seqs: expected KEY=VALUE"},
        {"=3", "--set =3: empty key"},
        {"a..b=3", "--set a..b=3: empty component"},
        {"engine.max_num_seqs.x=1", "'max_num_seqs' is a scalar, not a map"},
        {"cluster.pools.5.replicas=1", "index 5 is past the end of 'pools' (1 items)"},
        {"cluster.pools.x=1", "'pools' is a sequence: use an index"},
        {"a=[1, 2", "--set a=[1, 2: "},
        {"a=*x", "--set a=*x: "},
    };
    for (size_t i = 0; i < G_N_ELEMENTS(bad); i++) {
        ck_assert_msg(!sv_ydoc_set(doc, bad[i].text, &error), "'%s' accepted", bad[i].text);
        ck_assert(g_error_matches(error, SV_CONFIG_ERROR, SV_ERROR_PARSE));
        ck_assert_msg(strstr(error->message, bad[i].want) != NULL, "'%s' lacks '%s'",
                      error->message, bad[i].want);
        g_clear_error(&error);
    }

    /* An unknown key created by --set is reported at the --set. */
    ck_assert(sv_ydoc_set(doc, "engine.maxnum_seqs=4", &error));
    static const char *const valid[] = {"max_num_seqs", NULL};
    ck_assert(
        !sv_ynode_check_keys(doc, sv_ynode_get(doc->root, "engine"), "engine", valid, &error));
    ck_assert_str_eq(error->message, "--set engine.maxnum_seqs=4: unknown key 'maxnum_seqs' in "
                                     "engine (did you mean 'max_num_seqs'?)");
    g_clear_error(&error);

    /* --set on an empty document builds the root. */
    g_autoptr(SvYDoc) empty = load("", &error);
    ck_assert(sv_ydoc_set(empty, "seed=3", &error));
    ck_assert_str_eq(sv_ynode_get(empty->root, "seed")->value, "3");
}
END_TEST

START_TEST(test_error_fn)
{
    GError *error = NULL;
    g_autoptr(SvYDoc) doc = sv_ydoc_load_string("a: 1\n", -1, "m.yaml", SV_HW_ERROR, &error);
    sv_ydoc_error(doc, NULL, &error, SV_ERROR_NOT_FOUND, "nothing %d", 5);
    ck_assert(g_error_matches(error, SV_HW_ERROR, SV_ERROR_NOT_FOUND));
    ck_assert_str_eq(error->message, "m.yaml: nothing 5");
    g_clear_error(&error);
    sv_ydoc_error(doc, sv_ynode_get(doc->root, "a"), &error, SV_ERROR_INVALID, "bad");
    ck_assert_str_eq(error->message, "m.yaml:1:4: bad");
    g_clear_error(&error);
}
END_TEST

Suite *ynode_suite(void)
{
    Suite *s = suite_create("ynode");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_marks);
    tcase_add_test(tc, test_empty_and_null);
    tcase_add_test(tc, test_rejects);
    tcase_add_test(tc, test_control_char);
    tcase_add_test(tc, test_file_errors);
    tcase_add_test(tc, test_json);
    tcase_add_test(tc, test_int);
    tcase_add_test(tc, test_double_bool_string_enum);
    tcase_add_test(tc, test_check_keys);
    tcase_add_test(tc, test_set);
    tcase_add_test(tc, test_error_fn);
    suite_add_tcase(s, tc);
    return s;
}
