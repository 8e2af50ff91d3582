#!/usr/bin/env bash
# Path confinement: with input_roots and output_roots set, inputs and
# outputs that resolve outside them (directly, through `..`, through a
# symlink) are refused with a clear error; paths inside work, including
# output directories created on the way (mode 0750).
. "$(dirname "$0")/lib.sh"

mkdir -p "$T/in/sub" "$T/out" "$T/elsewhere"
gen_clip "$T/in/sub/a.mp4"
cp "$T/in/sub/a.mp4" "$T/elsewhere/b.mp4"
ln -s "$T/elsewhere/b.mp4" "$T/in/abs-link.mp4"
ln -s ../elsewhere/b.mp4 "$T/in/rel-link.mp4"
ln -s sub/a.mp4 "$T/in/inner-link.mp4"
ln -s "$T/elsewhere" "$T/out/escape"

start_daemon --input-roots "$T/in" --output-roots "$T/out"

ok_id=$(enqueue "$T/in/sub/a.mp4" "$T/out/new/deeper")
inner=$(enqueue "$T/in/inner-link.mp4" "$T/out/inner")
outside=$(enqueue "$T/elsewhere/b.mp4" "$T/out/x1")
dotdot=$(enqueue "$T/in/../elsewhere/b.mp4" "$T/out/x2")
abslink=$(enqueue "$T/in/abs-link.mp4" "$T/out/x3")
rellink=$(enqueue "$T/in/rel-link.mp4" "$T/out/x4")
out_outside=$(enqueue "$T/in/sub/a.mp4" "$T/elsewhere/o1")
out_dotdot=$(enqueue "$T/in/sub/a.mp4" "$T/out/../elsewhere/o2")
out_link=$(enqueue "$T/in/sub/a.mp4" "$T/out/escape/o3")

for id in $ok_id $inner $outside $dotdot $abslink $rellink $out_outside \
    $out_dotdot $out_link; do
    wait_terminal "$id" 20 || fail "job $id not terminal"
done
expect_eq "input inside the root: DONE" \
    "$(q "SELECT status, frames_written FROM jobs WHERE id=$ok_id")" "DONE|5"
expect_eq "new output dirs are 0750" "$(stat -c %a "$T/out/new/deeper")" 750
expect_eq "symlink that stays inside: DONE" "$(job_field "$inner" status)" DONE
for id in $outside $dotdot $abslink $rellink; do
    expect_match "input job $id refused" \
        "$(q "SELECT status, last_error FROM jobs WHERE id=$id")" \
        '^FAILED\|open .*: outside input_roots$'
done
for id in $out_outside $out_dotdot $out_link; do
    expect_match "output job $id refused" \
        "$(q "SELECT status, last_error FROM jobs WHERE id=$id")" \
        '^FAILED\|output_dir .*: outside output_roots$'
done
check "nothing written outside the output root" \
    test -z "$(find "$T/elsewhere" -name '*.jpg' -o -name 'o[123]')"
check "daemon alive" daemon_alive
stop_daemon
finish
