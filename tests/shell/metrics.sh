#!/bin/bash
# metrics: GET /metrics (frontend/metrics.c) scraped and parsed with
# Prometheus' own Python parser (python3-prometheus-client); admins only;
# counters move after requests, store answers (200, 206, 304) and a real
# deployment (the agent in node mode); labels are route patterns, never
# a URL: hostile URLs (quotes, newlines) add no series and break nothing.
. "$(dirname "$0")/../lib.sh"
. "$TOP/tests/pipold_lib.sh"
PY=/usr/bin/python3	# Debian's, where python3-prometheus-client is

cat > "$T/prom.py" <<'EOF'
# prom.py FILE [NAME [LABEL=VALUE...]]: parse FILE with
# prometheus_client (exit 1 if it cannot); with NAME, print the value
# of the one sample that matches (exit 3 if none or several); without,
# check every histogram (buckets rise, +Inf is the count) and print
# the number of samples.
import sys
from prometheus_client.parser import text_string_to_metric_families
try:
    fams = list(text_string_to_metric_families(open(sys.argv[1]).read()))
except Exception as e:
    print("parse error: %s" % e, file=sys.stderr)
    sys.exit(1)
samples = [s for f in fams for s in f.samples]
if len(sys.argv) > 2:
    want = dict(a.split("=", 1) for a in sys.argv[3:])
    got = [s for s in samples if s.name == sys.argv[2] and
           all(s.labels.get(k) == v for k, v in want.items())]
    if len(got) != 1:
        sys.exit(3)
    v = got[0].value
    print(int(v) if v == int(v) else v)
    sys.exit(0)
for f in fams:
    if f.type != "histogram":
        continue
    by = {}
    for s in f.samples:
        key = tuple(sorted((k, v) for k, v in s.labels.items() if k != "le"))
        by.setdefault(key, {"b": [], "count": None})
        if s.name.endswith("_bucket"):
            by[key]["b"].append((float(s.labels["le"]), s.value))
        elif s.name.endswith("_count"):
            by[key]["count"] = s.value
    for key, h in by.items():
        b = sorted(h["b"])
        if any(b[i][1] > b[i + 1][1] for i in range(len(b) - 1)) or \
           b[-1][0] != float("inf") or b[-1][1] != h["count"]:
            print("bad histogram %s %s" % (f.name, key), file=sys.stderr)
            sys.exit(2)
print(len(samples))
EOF
scrape() { curl -s -o "$T/m.$1" -w '%{http_code}' -H "Authorization: Bearer $adm" "$U/metrics"; }
prom() { "$PY" "$T/prom.py" "$@"; }
# every sample line in the strict shape of the text format
strict() { grep -v '^#' "$1" | grep -cvE '^[a-z_]+(\{([a-z_]+="([^"\\]|\\.)*",?)+\})? -?[0-9.e+]+$'; }

check "pipold starts" start_pipold
adm=$(new_user root1 --admin) al=$(new_user alice)

equal "admin: 200" "$(scrape 0)" 200
equal "the text format's content type" \
    "$(curl -s -o /dev/null -w '%{content_type}' -H "Authorization: Bearer $adm" "$U/metrics")" \
    "text/plain; version=0.0.4; charset=utf-8"
n0=$(prom "$T/m.0") && ok "it parses ($n0 samples)" || notok "it parses"
equal "every line in the strict format" "$(strict "$T/m.0")" 0
equal "a user: 403" "$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $al" "$U/metrics")" 403
equal "no token: 401" "$(curl -s -o /dev/null -w '%{http_code}' "$U/metrics")" 401
equal "pool size" "$(prom "$T/m.0" pipol_db_pool_max)" 32
p=$(prom "$T/m.0" pipol_db_pool_connections state=in_use)
[ "${p:-0}" -ge 1 ] && ok "pool: the scrape's own connection in use ($p)" || notok "pool: in use ($p)"

# requests, by route pattern
h0=$(prom "$T/m.0" pipol_http_request_duration_seconds_count "route=GET /health" || echo 0)
for _ in 1 2 3; do curl -s "$U/health" > /dev/null; done
scrape 1 > /dev/null
equal "three GET /health counted" "$(prom "$T/m.1" pipol_http_request_duration_seconds_count "route=GET /health")" $((h0 + 3))
equal "... each in the +Inf bucket" "$(prom "$T/m.1" pipol_http_request_duration_seconds_bucket "route=GET /health" le=+Inf)" $((h0 + 3))
m0=$(prom "$T/m.1" pipol_http_request_duration_seconds_count "route=GET /metrics")
[ "${m0:-0}" -ge 2 ] && ok "the scrapes themselves counted ($m0)" || notok "the scrapes counted ($m0)"

# hostile URLs: quotes, newlines, a lot of them; never a label
curl -s -o /dev/null -H "Authorization: Bearer $adm" "$U/api/nodes/a%22b%0Ac%5C"
curl -s -o /dev/null "$U/nope%22%0A%7Bx%3D%221%22%7D"
curl -s -o /dev/null "$U/chunks/%22%0A"
scrape 2 > /dev/null
n2=$(prom "$T/m.2") && ok "parses after hostile URLs" || notok "parses after hostile URLs"
equal "... strict format" "$(strict "$T/m.2")" 0
grep -qE 'a"b|nope|x=' "$T/m.2" && notok "no URL in any label" || ok "no URL in any label"
[ "$(prom "$T/m.2" pipol_http_request_duration_seconds_count route=none)" -ge 2 ] &&
    ok "unmatched URLs counted as route=none" || notok "unmatched URLs counted as route=none"
for i in $(seq 40); do
	curl -s -o /dev/null "$U/x$i%22$RANDOM"
	curl -s -o /dev/null -H "Authorization: Bearer $adm" "$U/api/nodes/n$i%0A"
done
scrape 3 > /dev/null
equal "80 more distinct URLs: no new series" "$(prom "$T/m.3")" "$n2"

# a deployment: the agent in node mode fetches from the store
as "$adm" node add n1 --mac 52:54:00:00:03:01 --profile virtual > /dev/null
mkdisk "$T/d" 9000001
"$P" image create os --from "$T/d" > /dev/null && "$P" image validate os:1 > /dev/null &&
    "$P" image promote os:1 > /dev/null
s200=$(prom "$T/m.3" pipol_store_responses_total code=200)
sb=$(prom "$T/m.3" pipol_store_sent_bytes_total)
as "$al" deploy -n n1 -i os > /dev/null
tok=
for _ in $(seq 100); do
	tok=$(curl -s "$U/boot/52:54:00:00:03:01" | grep -o 'pipol\.token=[0-9a-f]*' | cut -d= -f2)
	[ -n "$tok" ] && break; sleep 0.1
done
scrape 4 > /dev/null
equal "a deployment pending or booting" "$(sql "select state from deployments")" booting
equal "... pipol_deployments{state=booting} 1" "$(prom "$T/m.4" pipol_deployments state=booting)" 1
equal "alice's reservation running" "$(prom "$T/m.4" pipol_reservations state=running)" 1
printf 'BOOT_IMAGE=vmlinuz pipol.server=%s pipol.token=%s\n' "$U" "$tok" > "$T/cmdline"
"$A" --cmdline "$T/cmdline" --target "$T/t1" 2> "$T/agent.err"
same "the agent wrote the disk" "$T/d" "$T/t1"
scrape 5 > /dev/null
equal "pipol_deployments{state=rebooting} 1" "$(prom "$T/m.5" pipol_deployments state=rebooting)" 1
equal "no booting left (no series)" "$(prom "$T/m.5" pipol_deployments state=booting || echo none)" none
equal "agent bytes written" "$(prom "$T/m.5" pipol_agent_written_bytes_total)" 9000001
equal "one write phase ended" "$(prom "$T/m.5" pipol_agent_writes_total)" 1
equal "... its bytes" "$(prom "$T/m.5" pipol_agent_write_bytes_total)" 9000001
ws=$(prom "$T/m.5" pipol_agent_write_seconds_total)
"$PY" -c "import sys; sys.exit(0 if 0 <= float('$ws') < 600 else 1)" &&
    ok "... its seconds ($ws)" || notok "... its seconds ($ws)"
fb=$(prom "$T/m.5" pipol_agent_fetched_bytes_total)
[ "${fb:-0}" -gt 0 ] && ok "agent bytes fetched ($fb)" || notok "agent bytes fetched ($fb)"
s200b=$(prom "$T/m.5" pipol_store_responses_total code=200)
[ "$s200b" -gt "$s200" ] && ok "store 200s counted ($s200 -> $s200b)" || notok "store 200s counted ($s200 -> $s200b)"
sb2=$(prom "$T/m.5" pipol_store_sent_bytes_total)
[ "$sb2" -gt "$sb" ] && ok "store bytes counted ($sb -> $sb2)" || notok "store bytes counted"
st=$(prom "$T/m.5" pipol_http_request_duration_seconds_count route=store)
[ "${st:-0}" -gt 0 ] && ok "store requests timed ($st)" || notok "store requests timed"

# a cache's revalidation (304) and a range (206), exactly one each
ch=$(ls "$PIPOL_STATE/store/chunks" | head -1)
etag="\"${ch%%.*}\""
c304=$(prom "$T/m.5" pipol_store_responses_total code=304)
c206=$(prom "$T/m.5" pipol_store_responses_total code=206)
equal "If-None-Match: 304" "$(curl -s -o /dev/null -w '%{http_code}' -H "If-None-Match: $etag" "$U/chunks/$ch")" 304
equal "Range: 206" "$(curl -s -o /dev/null -w '%{http_code}' -r 0-9 "$U/chunks/$ch")" 206
scrape 6 > /dev/null
equal "one more 304" "$(prom "$T/m.6" pipol_store_responses_total code=304)" $((c304 + 1))
equal "one more 206" "$(prom "$T/m.6" pipol_store_responses_total code=206)" $((c206 + 1))
equal "the range's 10 bytes" "$(prom "$T/m.6" pipol_store_sent_bytes_total)" $((sb2 + 10))
prom "$T/m.6" > /dev/null && ok "histograms consistent" || notok "histograms consistent"
stop_pipold
