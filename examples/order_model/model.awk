# examples/order_model/model.awk — the paper's latency model (§3.2.2) against
# one measured run of the total-order layer.  Input: the run's hN.stats and
# hN.rec files (examples/order_model/run_one.sh); a host's own messages are
# left out (the model is about messages received from the network).
# Prints one line of name=value pairs (times in microseconds):
#   n p q r EU EV EUlt EVlt EWgt Te Tc Ta  — the model's inputs, with
#     q = P(U > T), r = P(V > T), EUlt = E[U | U <= T], EVlt = E[V | V <= T],
#     EWgt = E[W | W > T] over delayed messages (the paper's E[W]_T^inf)
#   Lc_eq1   = p E[U] + (1-p) E[V]                   (eq. 1, this run's U, V)
#   L_eq2    = eq. 2 as printed in the paper
#   L_eq2c   = eq. 2 with the delayed, speculated case as this protocol runs
#              it: the late smaller message waits its own window T, so the
#              delivery that stands comes at min(V, W + T), not W + Ta + Te + Tc
#   L_meas   = measured mean latency (reception -> the delivery that stood)
#   lhs rhs  = the two sides of inequality 3 (speculation wins iff lhs >= rhs)
#   rollbacks, spec = speculative deliveries undone / made, all hosts
FNR == 1 { host = FILENAME; sub(/.*\/h/, "", host); sub(/\..*/, "", host); host = host - 1 }
FILENAME ~ /\.stats$/ {
  for (i = 1; i < NF; i++) {
    if ($i == "window_us") T = $(i + 1)
    if ($i == "te_ns") te += $(i + 1); if ($i == "tc_ns") tc += $(i + 1); if ($i == "ta_ns") ta += $(i + 1)
    if ($i == "spec") spec += $(i + 1); if ($i == "spec_committed") specc += $(i + 1)
    if ($i == "aborts") ab += $(i + 1); if ($i == "undone") und += $(i + 1)
  }
  next
}
/^#/ { next }
FILENAME ~ /\.rec$/ && $2 != host {
  n++; st = $4 / 1000; lat = $5 / 1000; w = $7 / 1000; imm = $9
  L += lat
  if (imm) { nu++; U[nu] = st } else { nv++; V[nv] = st; W[nv] = w }
}
END {
  if (!n) { print "model.awk: no records" > "/dev/stderr"; exit 1 }
  Te = spec ? te / spec / 1000 : 0; Tc = specc ? tc / specc / 1000 : 0; Ta = ab ? ta / ab / 1000 : 0
  p = nu / n
  su = 0; cu = 0; sul = 0; qn = 0
  for (i = 1; i <= nu; i++) { su += U[i]; if (U[i] > T) qn++; else { sul += U[i]; cu++ } }
  sv = 0; cv = 0; svl = 0; rn = 0; swg = 0; cwg = 0; corr = 0
  for (i = 1; i <= nv; i++) {
    sv += V[i]
    if (V[i] > T) { rn++; c = W[i] + T; corr += (V[i] < c ? V[i] : c) } else { svl += V[i]; cv++ }
    if (W[i] > T) { swg += W[i]; cwg++ }
  }
  q = nu ? qn / nu : 0; r = nv ? rn / nv : 0
  EU = nu ? su / nu : 0; EV = nv ? sv / nv : 0
  EUlt = cu ? sul / cu : 0; EVlt = cv ? svl / cv : 0
  EWgt = cwg ? swg / cwg : T
  Ecorr = rn ? corr / rn : 0
  Lc = p * EU + (1 - p) * EV
  L2 = p * ((1 - q) * EUlt + q * (T + Te + Tc)) + (1 - p) * ((1 - r) * EVlt + r * (EWgt + Ta + Te + Tc))
  L2c = p * ((1 - q) * EUlt + q * (T + Te + Tc)) + (1 - p) * ((1 - r) * EVlt + r * Ecorr)
  # inequality 3 with conditional means: E[U]_T^inf = E[U | U > T]
  sug = 0; for (i = 1; i <= nu; i++) if (U[i] > T) sug += U[i]
  svg = 0; for (i = 1; i <= nv; i++) if (V[i] > T) svg += V[i]
  EUgt = qn ? sug / qn : 0; EVgt = rn ? svg / rn : 0
  lhs = p * q * EUgt + (1 - p) * r * (EVgt - EWgt)
  rhs = p * q * (T + Te + Tc) + (1 - p) * r * (Ta + Te + Tc)
  printf "T=%g n=%d p=%.3f q=%.3f r=%.3f EU=%.1f EV=%.1f EUlt=%.1f EVlt=%.1f EWgt=%.1f Te=%.3f Tc=%.3f Ta=%.3f Lc_eq1=%.1f L_eq2=%.1f L_eq2c=%.1f L_meas=%.1f lhs=%.1f rhs=%.1f spec=%d rollbacks=%d undone=%d\n",
    T, n, p, q, r, EU, EV, EUlt, EVlt, EWgt, Te, Tc, Ta, Lc, L2, L2c, L / n, lhs, rhs, spec, ab, und
}
