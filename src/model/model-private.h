/* Internals shared by the two model loaders: models/<name>.yaml (model.c) and
 * Hugging Face config.json (hf.c). Both fill an SvModel and remember, per
 * field, the YAML/JSON node it came from, so that one validator can point
 * every complaint at the right file:line:col whichever format was read. */
#ifndef SV_MODEL_PRIVATE_H
#define SV_MODEL_PRIVATE_H

#include "config/ynode.h"
#include "model/model.h"

G_BEGIN_DECLS

/* A fresh model with the defaults both loaders share (gated MLP, RMSNorm,
 * bf16, everything optional zero). (transfer full) */
SvModel *sv__model_new_defaults(void);

/* Fill the derived fields (head_dim default, attention kind) and check that
 * the shapes are positive and consistent. @marks maps an SvModel field name
 * ("num_kv_heads") to the node it was read from (transfer none); a field
 * absent from @marks is blamed on @root. @head_dim_given: head_dim was set
 * explicitly (otherwise it is derived). Errors in SV_MODEL_ERROR/INVALID. */
gboolean sv__model_finish(SvModel *model, const SvYDoc *doc, const SvYNode *root, GHashTable *marks,
                          gboolean head_dim_given, GError **error);

G_END_DECLS

#endif /* SV_MODEL_PRIVATE_H */
