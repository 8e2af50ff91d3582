#!/bin/bash
# Test runner behind `make test`: every unit binary in build/tests, the
# same under ASan/UBSan in build/asan, then every integration script,
# each under a timeout.  Prints PASS/FAIL per test and ends with the line
# "N passed, N failed".  Usage: tests/run.sh [PATTERN] runs only the tests
# whose name contains PATTERN.
set -u

cd "$(dirname "$0")/.." || exit 2
pattern=${1:-}
passed=0
failed=0
failed_names=()
out=$(mktemp "${TMPDIR:-/tmp}/fs-run.XXXXXX") || exit 2
trap 'rm -f "$out"' EXIT

# run NAME TIMEOUT_S COMMAND...
run() {
    local name=$1 limit=$2 rc start
    shift 2
    case $name in *"$pattern"*) ;; *) return ;; esac
    start=$SECONDS
    timeout -k 10 "$limit" "$@" </dev/null >"$out" 2>&1
    rc=$?
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        printf 'PASS %s (%d s)\n' "$name" $((SECONDS - start))
    else
        failed=$((failed + 1))
        failed_names+=("$name")
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            printf 'FAIL %s (timed out after %d s)\n' "$name" "$limit"
        else
            printf 'FAIL %s (exit %d, %d s)\n' "$name" "$rc" \
                $((SECONDS - start))
        fi
        # Every failed check first, then the end of the output.
        grep -E '^FAIL |CHECK failed|ERROR: |runtime error' "$out" |
            head -n 30 | sed 's/^/    /'
        echo "    --- last lines:"
        tail -n 25 "$out" | sed 's/^/    /'
    fi
}

is_test_binary() {
    [ -f "$1" ] && [ -x "$1" ] && case $1 in *.d | *.o | *.so) false ;; esac
}

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

for t in build/tests/test_*; do
    is_test_binary "$t" && run "unit/${t##*/}" 60 "$t"
done
for t in build/asan/test_*; do
    is_test_binary "$t" && run "asan/${t##*/}" 60 "$t"
done
for t in tests/integration/t_*.sh; do
    [ -f "$t" ] && run "integration/$(basename "$t" .sh)" 180 bash "$t"
done

if [ "$failed" -gt 0 ]; then
    echo "failed: ${failed_names[*]}"
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
