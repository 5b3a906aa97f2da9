#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Builds the libFuzzer targets (clang, ASan, UBSan) in build/fuzz and runs
# each for a bounded time: FUZZ_SECONDS (default 60) per target, 2 GiB RSS
# and 10 s per input at most. A crash, leak, hang or sanitizer report fails;
# the reproducer is left in build/fuzz/artifacts/.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
out=${BULKHEAD_FUZZ_BUILD:-$repo/build/fuzz}
seconds=${FUZZ_SECONDS:-60}

command -v clang++ >/dev/null || { echo "fuzz: clang++ is missing (scripts/install-deps.sh installs it)"; exit 1; }
CXX=clang++ cmake -S "$here" -B "$out" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$out" -j2 >/dev/null

mkdir -p "$out/artifacts" "$out/corpus/rule_loader" "$out/corpus/condition" "$out/corpus/audit_log"
# Seeds: the shipped rules, Falco's rules when present, and a few conditions.
cp "$repo"/rules/sets/*.yaml "$out/corpus/rule_loader/"
falco="$repo/../shared/data/falco-rules/falco_rules.yaml"
[ -f "$falco" ] && cp "$falco" "$out/corpus/rule_loader/"
cp "$here"/seeds/condition/* "$out/corpus/condition/"
# Valid signed logs from the plain driver (ctest passes it); without it the
# audit corpus starts empty.
if [ -n "${BULKHEAD_AUDIT_SEEDER:-}" ]; then
  "$BULKHEAD_AUDIT_SEEDER" --seeds "$out/corpus/audit_log" "$out/corpus/audit_log" >/dev/null
fi

status=0
for target in rule_loader condition audit_log; do
  echo "fuzz: $target for ${seconds}s"
  if ! "$out/fuzz_$target" -max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -max_len=65536 \
        -artifact_prefix="$out/artifacts/$target-" -print_final_stats=1 "$out/corpus/$target" \
        >"$out/$target.log" 2>&1; then
    echo "fuzz: $target FAILED; last lines of $out/$target.log:"
    tail -40 "$out/$target.log"
    status=1
  else
    grep -E "stat::number_of_executed_units|stat::peak_rss_mb" "$out/$target.log" | sed "s/^/fuzz: $target /"
  fi
done
exit $status
