/* Per-component RNG streams (see rng.h). */
#include "core/rng.h"

static uint64_t splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

gsl_rng *sv_rng_new(uint64_t seed, uint32_t stream_id)
{
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    SV_ASSERT(rng != NULL, "gsl_rng_alloc failed");
    uint64_t mixed = splitmix64(seed ^ splitmix64((uint64_t)stream_id + 0x5eed));
    /* mt19937 treats seed 0 as 4357; keep it non-zero and 32-bit clean. */
    unsigned long s = (unsigned long)(mixed & 0xffffffffUL);
    gsl_rng_set(rng, s == 0 ? 1 : s);
    return rng;
}
