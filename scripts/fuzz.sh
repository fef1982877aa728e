#!/usr/bin/env bash
# Fuzzes what comes from outside (the openflow decoders, the switch's packet
# parser and editor, the flow text syntax) with cargo-fuzz (libFuzzer).
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]
#
# SECONDS per target (default 600); TARGETs default to every target in
# openflow/fuzz (decode_message, framer, decode_match, decode_actions,
# packet_actions: the switch's frame parser and editor, flow_text: the
# ovs-ofctl flow syntax).
# Targets run one after another, each as a single libFuzzer process (no
# -jobs/-workers: the machine is small and shared). Before fuzzing, the seed
# corpora are (re)generated from openflow::samples into openflow/fuzz/corpus/.
#
# At the end a summary prints each target's libFuzzer "#N DONE" stats line
# (executions, cov, ft, corpus, exec/s) and its executions. Exits non-zero if
# any target crashed or failed an assertion; the reproducer's path under
# openflow/fuzz/artifacts/<target>/ is printed.
#
# The toolchain is stable: RUSTC_BOOTSTRAP=1 lets cargo-fuzz use -Z flags.
# Environment:
#   FUZZ_SANITIZER  address (default) | none   (openflow has no unsafe code;
#                   none roughly doubles exec/s)
#   FUZZ_ARGS       extra libFuzzer flags, e.g. "-max_len=8192"
#   FUZZ_VERBOSE=1  stream libFuzzer's whole output (always kept in the log)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
fuzz_dir=$root/openflow/fuzz
log_dir=$fuzz_dir/target/fuzz-logs

secs=${1:-600}
[[ $# -gt 0 ]] && shift
if ! [[ $secs =~ ^[0-9]+$ ]] || [[ $secs -eq 0 ]]; then
    echo "usage: $0 [SECONDS] [TARGET...]" >&2
    exit 2
fi
export RUSTC_BOOTSTRAP=1
sanitizer=${FUZZ_SANITIZER:-address}
# shellcheck disable=SC2206
extra=(${FUZZ_ARGS:-})

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
echo "== $(cargo fuzz --version), $(rustc --version) (RUSTC_BOOTSTRAP=1)"

cd "$fuzz_dir"
if [[ $# -gt 0 ]]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "== seed corpora from openflow::samples"
cargo run --quiet --example gen_seeds -- "$fuzz_dir/corpus"

mkdir -p "$log_dir"
declare -A status done_line execs rate corpus_n artifact
failed=0
for t in "${targets[@]}"; do
    echo "== cargo fuzz build $t (sanitizer: $sanitizer)"
    cargo fuzz build --sanitizer "$sanitizer" "$t"
    log=$log_dir/$t.log
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "== fuzzing $t for ${secs}s (log: ${log#"$root"/})"
    rc=0
    # The corpus directory is read for seeds and receives new inputs.
    cmd=(cargo fuzz run --sanitizer "$sanitizer" "$t" "corpus/$t" --
        -max_total_time="$secs" -print_final_stats=1 "${extra[@]}")
    echo "   ${cmd[*]}"
    if [[ ${FUZZ_VERBOSE:-0} == 1 ]]; then
        "${cmd[@]}" 2>&1 | tee "$log" || rc=${PIPESTATUS[0]}
    else
        "${cmd[@]}" >"$log" 2>&1 || rc=$?
    fi
    done_line[$t]=$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -n1 || true)
    execs[$t]=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
    rate[$t]=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n1)
    corpus_n[$t]=$(find "corpus/$t" -type f | wc -l)
    if [[ $rc -eq 0 ]]; then
        status[$t]=ok
    else
        status[$t]="FAILED (exit $rc)"
        failed=1
        artifact[$t]=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -n1)
        # The panic / sanitizer report, then cargo-fuzz's epilogue (failing
        # input, its Debug form, reproduce and minimise commands).
        first=$(grep -n -m1 -E "panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|^==[0-9]+== ?ERROR" "$log" | cut -d: -f1 || true)
        if [[ -n $first ]]; then
            tail -n +"$first" "$log" | head -n 30 | cut -c1-300 || true
        fi
        sed -n '/^Failing input:/,/^─/p' "$log" | head -n 30 | cut -c1-300 || true
    fi
    echo "   ${status[$t]}: ${done_line[$t]:-no DONE line, see log}"
done

echo
echo "== summary (${secs}s per target, sanitizer $sanitizer)"
for t in "${targets[@]}"; do
    printf '%-16s %-18s executions: %-12s exec/s: %-8s corpus files: %s\n' \
        "$t" "${status[$t]}" "${execs[$t]:-?}" "${rate[$t]:-?}" "${corpus_n[$t]}"
    printf '%-16s %s\n' "" "${done_line[$t]:-(no DONE line: see $log_dir/$t.log)}"
    if [[ -n ${artifact[$t]:-} ]]; then
        printf '%-16s artifact: %s\n' "" "openflow/fuzz/${artifact[$t]#"$fuzz_dir"/}"
        printf '%-16s reproduce: (cd openflow/fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run %s %s)\n' \
            "" "$t" "${artifact[$t]#"$fuzz_dir"/}"
    fi
done
exit $failed
