/* Internals shared by the files of hw/: the power-model part of a
 * profile's power: section is read by hw-power.c, the rest by hw.c. */
#ifndef SV_HW_PRIVATE_H
#define SV_HW_PRIVATE_H

#include "config/ynode.h"
#include "hw/hw.h"

G_BEGIN_DECLS

/* Read the active-power model and clock keys of @power (the profile's
 * power: map, already checked for unknown keys; idle_w and max_w already
 * in @hw) into @hw, with the defaults of hwprofiles/README.md for those
 * absent. Errors: SV_HW_ERROR at the value. */
gboolean sv__hw_read_power_model(const SvYDoc *doc, const SvYNode *power, SvHw *hw, GError **error);

G_END_DECLS

#endif /* SV_HW_PRIVATE_H */
