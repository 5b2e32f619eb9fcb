#!/usr/bin/env python3
"""Error analysis of the GEMM leave-one-model-out check (issue 3).

servesim's own figure is the `gemm | leave-one-model-out` row of
validation/ops/RESULTS.md (`servesim calibrate --validate`). This script
re-implements that protocol and the GEMM lookup of src/perf/table.c in plain
Python (no third-party modules) so that the held-out errors can be broken
down: by held-out model, op (qkv, o, gate+up, down), tensor-parallel
degree, M range, and where the held-out shape sits in the training data
(a shape another model shares, bracketed by training shapes in every
quadrant of (log N, log K), or outside them), each with the median signed
error (bias). It also splits the errors of shapes no other model shares
into a per-line bias and the rest (the sawtooth along M), and with --nested
repeats the choice between lookup variants inside the training models only
(nested leave-one-model-out). Its overall figures must equal servesim's
(printed first; a mismatch means this copy of the lookup has drifted).

Usage: python3 validation/ops/gemm-breakdown.py [--lookup new|old]
           [--nested] [DEVICE...]   (default: every device with Vidur GEMMs)
"""
import bisect
import csv
import glob
import math
import os
import sys
from collections import defaultdict

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..'))
# Peak fp16 FLOP/s and memory bytes/s of hwprofiles/<device>.yaml.
PEAK = {'a100-sxm-80g': (312e12, 2039e9), 'h100-sxm': (989e12, 3350e9), 'a40': (149.7e12, 696e9)}
OPS = ['qkv', 'o', 'up', 'down']
N_WEIGHT = 3.0      # table.c GEMM_N_WEIGHT
HALF = 0.25         # table.c GEMM_TREND_HALF
NEAR_K = 0.35       # table.c GEMM_NEAR_K
KNOTS = 24          # table.h SV_GEMM_KNOTS
TOL = 0.02          # thinning tolerance of the shipped tables


def load(dev):
    """GEMM observations of calib-vidur.c: (model, tp, op, m, n, k, t_s)."""
    obs = []
    pattern = f'{ROOT}/hwprofiles/calibration/{dev}/vidur/compute/*/mlp.csv'
    cols = ['attn_pre_proj', 'attn_post_proj', 'mlp_up_proj', 'mlp_down_proj']
    for f in sorted(glob.glob(pattern)):
        model = os.path.basename(os.path.dirname(f))
        for r in csv.DictReader(open(f)):
            q, kv, h = float(r['n_head']), float(r['n_kv_head']), float(r['n_embd'])
            inter, m = float(r['n_expanded_embd']), float(r['num_tokens'])
            tp = float(r['num_tensor_parallel_workers'])
            g = 2.0 if r['use_gated_mlp'].lower() in ('true', '1') else 1.0
            hd, qd, kvd, i_d = h / q, max(1, q / tp), max(1, kv / tp), inter / tp
            shapes = [((qd + 2 * kvd) * hd, h), (h, qd * hd), (g * i_d, h), (h, i_d)]
            for i, (n, k) in enumerate(shapes):
                t = float(r[f'time_stats.{cols[i]}.median']) * 1e-3
                obs.append((model, int(tp), OPS[i], m, n, k, t))
    return obs


def roof(dev, m, n, k):
    pf, bw = PEAK[dev]
    return max(2 * m * n * k / pf, (n * k + m * (n + k)) * 2 / bw)


def thin(xs, ts):
    """calib-build.c curve_thin: Douglas-Peucker on (log M, log t)."""
    n = len(xs)
    if n < 3:
        return xs, ts
    tx = [math.log(x) for x in xs]
    y = [math.log(t) for t in ts]
    keep = [False] * n
    keep[0] = keep[-1] = True
    stack = [(0, n - 1)]
    while stack:
        lo, hi = stack.pop()
        best, worst = -1, 1.0
        for i in range(lo + 1, hi):
            a = (tx[i] - tx[lo]) / (tx[hi] - tx[lo])
            d = abs(y[i] - (y[lo] + a * (y[hi] - y[lo]))) / math.log1p(TOL + 1e-6 / ts[i])
            if d > worst:
                worst, best = d, i
        if best >= 0:
            keep[best] = True
            stack += [(lo, best), (best, hi)]
    return [x for x, kk in zip(xs, keep) if kk], [t for t, kk in zip(ts, keep) if kk]


class Line:
    """One (n, k) line: sv_table_curve and the trend of table.c."""

    def __init__(self, dev, n, k, pts):
        self.dev, self.n, self.k = dev, n, k
        xs = sorted(pts)
        self.x, self.t = thin(xs, [pts[x] for x in xs])
        self.tx = [math.log(x) for x in self.x]
        self.lt = [math.log(t) for t in self.t]
        self.lu = [math.log(roof(dev, x, n, k)) - lt for x, lt in zip(self.x, self.lt)]
        cum = [0.0]
        for i in range(1, len(self.x)):
            cum.append(cum[-1] + 0.5 * (self.tx[i] - self.tx[i - 1]) * (self.lu[i] + self.lu[i - 1]))
        self.cum = cum
        self.tail = self.trend(1e9)

    def logu(self, m):
        """(log u, exact time or None)."""
        x, n = self.x, len(self.x)
        if m <= x[0] or n == 1:
            return self.lu[0], (self.t[0] if m == x[0] else None)
        if m >= x[-1]:
            return self.lu[-1], (self.t[-1] if m == x[-1] else None)
        i = bisect.bisect_right(x, m) - 1
        if x[i] == m:
            return self.lu[i], self.t[i]
        a = (math.log(m) - self.tx[i]) / (self.tx[i + 1] - self.tx[i])
        return math.log(roof(self.dev, m, self.n, self.k)) - (self.lt[i] + a * (self.lt[i + 1] - self.lt[i])), None

    def integral(self, v):
        i = max(0, min(bisect.bisect_right(self.tx, v) - 1, len(self.tx) - 2))
        dx, span = v - self.tx[i], self.tx[i + 1] - self.tx[i]
        y = self.lu[i] + (self.lu[i + 1] - self.lu[i]) * dx / span
        return self.cum[i] + 0.5 * dx * (self.lu[i] + y)

    def trend(self, v):
        lo, hi = self.tx[0], self.tx[-1]
        if len(self.x) == 1 or hi <= lo:
            return self.lu[0]
        if hi - lo <= 2 * HALF:
            return self.cum[-1] / (hi - lo)
        c = min(max(v, lo + HALF), hi - HALF)
        return (self.integral(c + HALF) - self.integral(c - HALF)) / (2 * HALF)

    def held(self, m, new):
        """log u at m, the trend held above the line's largest M (new)."""
        if new and m > self.x[-1]:
            return self.tail
        return self.logu(m)[0]


def build(dev, obs):
    s = defaultdict(lambda: defaultdict(list))
    for (_, _, _, m, n, k, t) in obs:
        s[(n, k)][m].append(t)
    return {nk: Line(dev, nk[0], nk[1], {m: sum(v) / len(v) for m, v in d.items()})
            for nk, d in s.items()}


def quadrants(table, n, k):
    best, dist = [None] * 4, [0.0] * 4
    for (ln, lk) in sorted(table):
        dn, dk = math.log(n / ln), math.log(k / lk)
        q = (2 if dn >= 0 else 0) + (1 if dk >= 0 else 0)
        d = math.hypot(N_WEIGHT * dn, dk)
        if best[q] is None or d < dist[q]:
            best[q], dist[q] = (ln, lk), d
    ws = [(best[q], 1 / dist[q]) for q in range(4) if best[q] is not None]
    s = sum(w for _, w in ws)
    return [(l, w / s) for l, w in ws]


class Lookup:
    """table.c sv_table_gemm_bind + sv_table_gemm; far_beta None = old lookup
    (no held trend, no same-n sawtooth); same=False: held trend only."""

    def __init__(self, far_beta=0.6, same=True):
        self.new, self.far_beta, self.same, self.binds = far_beta is not None, far_beta, same, {}

    def bind(self, table, n, k):
        key = (id(table), n, k)
        if key not in self.binds:
            b = quadrants(table, n, k)
            same, trend = None, None
            cands = [(abs(math.log(k / l[1])), l) for l in sorted(table) if l[0] == n and l[1] != k]
            if self.new and self.same and cands:
                dk, l = min(cands)
                same = (l, 1.0 if dk < NEAR_K else self.far_beta)
                trend = [sum(w * table[q].trend(j * 2 * HALF) for q, w in b) -
                         same[1] * table[l].trend(j * 2 * HALF) for j in range(KNOTS)]
            self.binds[key] = (b, same, trend)
        return self.binds[key]

    def __call__(self, dev, table, n, k, m):
        if (n, k) in table:
            line = table[(n, k)]
            lu, exact = line.logu(m)
            if self.new and m > line.x[-1]:
                return roof(dev, m, n, k) / math.exp(line.tail)
            return exact if exact is not None else roof(dev, m, n, k) / math.exp(lu)
        b, same, trend = self.bind(table, n, k)
        if same is None:
            lu = sum(w * table[q].held(m, self.new) for q, w in b)
        else:
            x = math.log(m) / (2 * HALF)
            j = min(max(int(math.floor(x)), 0), KNOTS - 2)
            a = min(max(x - j, 0.0), 1.0)
            lu = trend[j] + a * (trend[j + 1] - trend[j]) + same[1] * table[same[0]].held(m, True)
        return roof(dev, m, n, k) / math.exp(lu)


def pct(errs, p):
    e = sorted(errs)
    return e[(len(e) - 1) // 2] if p == 50 else e[math.ceil(p / 100 * len(e)) - 1]


def place(table, n, k):
    if (n, k) in table:
        return 'shared with a training model'
    if len(quadrants(table, n, k)) == 4:
        return 'bracketed in (N, K)'
    ns, ks = [l[0] for l in table], [l[1] for l in table]
    out = ('N' if not min(ns) <= n <= max(ns) else '') + ('K' if not min(ks) <= k <= max(ks) else '')
    return 'outside: a quadrant empty' + (f' ({out} out of range)' if out else '')


M_ORDER = ['M < 16', '16-127', '128-511', '512-2047', '2048-8191', '>= 8192']


def m_range(m):
    for hi, name in [(16, 'M < 16'), (128, '16-127'), (512, '128-511'), (2048, '512-2047'),
                     (8192, '2048-8191')]:
        if m < hi:
            return name
    return '>= 8192'


def lomo(dev, obs, lookup):
    """Rows (model, tp, op, n, k, m, t, predicted, place) of every held-out point."""
    rows = []
    for g in sorted(set(o[0] for o in obs)):
        table = build(dev, [o for o in obs if o[0] != g])
        merged, info = defaultdict(list), {}
        for (model, tp, op, m, n, k, t) in (o for o in obs if o[0] == g):
            merged[(n, k, m)].append(t)
            info.setdefault((n, k, m), (model, tp, op))
        for (n, k, m), ts in merged.items():
            t = sum(ts) / len(ts)
            model, tp, op = info[(n, k, m)]
            rows.append((model, tp, op, n, k, m, t, lookup(dev, table, n, k, m), place(table, n, k)))
    return rows


def table_by(rows, key, title):
    groups = defaultdict(list)
    for r in rows:
        groups[key(r)].append(r[7] / r[6] - 1)
    big = sum(1 for r in rows if abs(r[7] / r[6] - 1) > 0.10)
    print(f'\n{title}\n\n| group | points | median | p90 | median signed | share of errors > 10 % |')
    print('|---|---|---|---|---|---|')
    for g in sorted(groups, key=lambda g: (M_ORDER.index(g) if g in M_ORDER else -1, g)):
        s = groups[g]
        a = [abs(x) for x in s]
        print(f'| {g} | {len(s)} | {100 * pct(a, 50):.1f} % | {100 * pct(a, 90):.1f} % | '
              f'{100 * sorted(s)[(len(s) - 1) // 2]:+.1f} % | '
              f'{100 * sum(1 for x in a if x > 0.10) / max(big, 1):.0f} % |')


def decompose(rows):
    lines = defaultdict(list)
    for r in rows:
        if r[8] != 'shared with a training model':
            lines[(r[0], r[3], r[4])].append(math.log(r[7] / r[6]))
    tot, bias, rest = [], [], []
    for es in lines.values():
        b = sorted(es)[len(es) // 2]
        for e in es:
            tot.append(abs(math.exp(e) - 1))
            bias.append(abs(math.exp(b) - 1))
            rest.append(abs(math.exp(e - b) - 1))
    print('\nShapes no training model shares: error = per-line bias (median log error of the'
          ' held-out line) + the rest (sawtooth along M)\n')
    print('| part | points | median | p90 |\n|---|---|---|---|')
    for name, v in [('total', tot), ('per-line bias', bias), ('rest (sawtooth)', rest)]:
        print(f'| {name} | {len(v)} | {100 * pct(v, 50):.1f} % | {100 * pct(v, 90):.1f} % |')


VARIANTS = {'held trend only': dict(same=False), 'same-n far 0.6': dict(far_beta=0.6),
            'same-n far 0.8': dict(far_beta=0.8), 'same-n far 1': dict(far_beta=1.0)}


def nested(dev, obs):
    errs, chosen = [], []
    for g in sorted(set(o[0] for o in obs)):
        inner = [o for o in obs if o[0] != g]
        best = None
        for name, args in VARIANTS.items():
            e = [abs(r[7] / r[6] - 1) for r in lomo(dev, inner, Lookup(**args))]
            if best is None or pct(e, 90) < best[0] - 1e-12:
                best = (pct(e, 90), name)
        chosen.append(best[1])
        look, table = Lookup(**VARIANTS[best[1]]), build(dev, inner)
        test = defaultdict(list)
        for o in obs:
            if o[0] == g:
                test[(o[4], o[5], o[3])].append(o[6])
        for (n, k, m), ts in test.items():
            errs.append(abs(look(dev, table, n, k, m) / (sum(ts) / len(ts)) - 1))
    print(f'\nNested leave-one-model-out (variant chosen by p90 inside the training models):'
          f' median {100 * pct(errs, 50):.1f} %, p90 {100 * pct(errs, 90):.1f} %; chosen: '
          + ', '.join(chosen))


def main(argv):
    new, do_nested, devs = True, False, []
    args = iter(argv)
    for a in args:
        if a == '--lookup':
            new = next(args) == 'new'
        elif a == '--nested':
            do_nested = True
        else:
            devs.append(a)
    for dev in devs or sorted(PEAK):
        obs = load(dev)
        rows = lomo(dev, obs, Lookup() if new else Lookup(far_beta=None))
        e = [abs(r[7] / r[6] - 1) for r in rows]
        print(f'## {dev} ({"new" if new else "old"} lookup): {len(e)} points, median '
              f'{100 * pct(e, 50):.1f} %, p90 {100 * pct(e, 90):.1f} %')
        table_by(rows, lambda r: r[0], 'By held-out model')
        table_by(rows, lambda r: {'qkv': 'qkv (N = q+2kv heads, K = hidden)',
                                  'o': 'o_proj (N = hidden, K = q heads)',
                                  'up': 'gate+up (N = 2 x inter, K = hidden)',
                                  'down': 'down (N = hidden, K = inter)'}[r[2]], 'By op')
        table_by(rows, lambda r: f'TP {r[1]}', 'By tensor-parallel degree')
        table_by(rows, lambda r: m_range(r[5]), 'By M')
        table_by(rows, lambda r: r[8], 'By place of the held-out (N, K) in the training data')
        decompose(rows)
        if do_nested:
            nested(dev, obs)
        print()


if __name__ == '__main__':
    main(sys.argv[1:])
