# Print the scalar at a dotted key path (e.g. ttft_s.p90) of a pretty-printed
# JSON document as servesim writes it (one "key" : value per line; objects
# and arrays open at the end of a line and close on a line of their own).
BEGIN { n = split(key, want, "."); depth = 0 }
{
  line = $0
  if (match(line, /^[ \t]*"[^"]*"[ \t]*:/)) {
    k = substr(line, RSTART, RLENGTH); sub(/^[ \t]*"/, "", k); sub(/"[ \t]*:$/, "", k)
    rest = substr(line, RSTART + RLENGTH)
    path[depth + 1] = k
    if (rest ~ /[\{\[][ \t]*$/) { depth++; next }
    if (depth + 1 == n) {
      full = 1
      for (i = 1; i <= n; i++) if (path[i] != want[i]) full = 0
      if (full) { v = rest; gsub(/[ \t,"]/, "", v); print v; exit }
    }
    next
  }
  if (line ~ /^[ \t]*[\{\[][ \t]*$/) { if (NR > 1) { depth++; path[depth] = "#" } ; next }
  if (line ~ /^[ \t]*[\]\}]/) depth--
}
