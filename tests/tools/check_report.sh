#!/bin/sh
# check_report.sh - runs a planted_bugs program under a memory checker and
# passes only if the checker reported exactly what was planted.
#
#   check_report.sh valgrind SUPPRESSIONS ERRORS -- PROGRAM ARGS...
#       Runs PROGRAM under Valgrind's memcheck. ERRORS is the number of
#       invalid accesses planted (0 for a clean run). Valgrind prints each
#       distinct place once and counts repeats, so a non-clean run must end
#       with "ERROR SUMMARY: ERRORS errors from 2 contexts", the two being
#       the read in plant_use_after_free and the write in plant_overflow.
#   check_report.sh asan BUG -- PROGRAM ARGS...
#       PROGRAM is built with AddressSanitizer. BUG clean: it must exit 0
#       with no sanitizer report. BUG use-after-free / overflow: it must
#       die with ASan's report of a READ / WRITE of size 1 in the planted
#       function.
# Exit status: 0 pass, 1 fail, 77 skipped (no OpenCL device).
set -u

log=$(mktemp)
trap 'rm -f "$log"' EXIT

fail() {
    cat "$log"
    echo "check_report: FAIL: $*" >&2
    exit 1
}

# Whether the line after a line matching $1 matches $2.
followed_by() {
    awk -v first="$1" -v second="$2" '
        found && $0 ~ second { ok = 1 }
        { found = ($0 ~ first) }
        END { exit ok ? 0 : 1 }' "$log"
}

tool=$1
shift
case $tool in
valgrind)
    suppressions=$1 errors=$2
    shift 3 # the suppressions, the count and --
    valgrind --suppressions="$suppressions" --error-exitcode=99 \
        --leak-check=no --num-callers=30 "$@" >"$log" 2>&1
    status=$?
    [ $status -eq 77 ] && { cat "$log"; exit 77; }
    if [ "$errors" -eq 0 ]; then
        [ $status -eq 0 ] || fail "exit status $status, expected 0"
        grep -q "ERROR SUMMARY: 0 errors" "$log" || fail "Valgrind reported errors"
    else
        [ $status -eq 99 ] || fail "exit status $status: Valgrind found no error"
        grep -q "ERROR SUMMARY: $errors errors from 2 contexts" "$log" ||
            fail "expected $errors errors in 2 contexts (the planted ones)"
        followed_by "Invalid read of size 1" "plant_use_after_free" ||
            fail "no invalid read reported in plant_use_after_free"
        followed_by "Invalid write of size 1" "plant_overflow" ||
            fail "no invalid write reported in plant_overflow"
    fi
    ;;
asan)
    bug=$1
    shift 2 # the bug and --
    "$@" >"$log" 2>&1
    status=$?
    [ $status -eq 77 ] && { cat "$log"; exit 77; }
    case $bug in
    clean)
        [ $status -eq 0 ] || fail "exit status $status, expected 0"
        if grep -q "Sanitizer\|runtime error" "$log"; then
            fail "a sanitizer reported something"
        fi
        ;;
    use-after-free | overflow)
        access=READ function=plant_use_after_free
        if [ "$bug" = overflow ]; then
            access=WRITE function=plant_overflow
        fi
        [ $status -ne 0 ] || fail "exit status 0: ASan did not stop the program"
        grep -q "ERROR: AddressSanitizer: use-after-poison" "$log" ||
            fail "no ASan report of a poisoned access"
        followed_by "^$access of size 1 at " "#0 .* in $function " ||
            fail "the report does not name the $access in $function"
        ;;
    *)
        fail "unknown bug $bug"
        ;;
    esac
    ;;
*)
    fail "unknown tool $tool"
    ;;
esac
cat "$log"
echo "check_report: the $tool report is as planted"
