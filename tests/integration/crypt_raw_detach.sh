#!/usr/bin/env bash
# crypt detached while the kernel still holds raw-view twins (raw=LIST):
# the twins' lower lookup references and the lower handles opened through
# them go back at the detach (crypt's instance teardown), not at unmount.
# Measured with the volume's lower_inodes and lower_handles (status
# --json): 20 files looked up only by a raw-view process, one of them held
# open by it across the detach. Before the fix, both figures stayed where
# they were until unmount.
. "$(dirname "$0")/lib.sh"
it_init

it_tmpdir base
lower=$base/lower mnt=$base/mnt
mkdir "$lower" "$mnt"
head -c 32 /dev/urandom >"$base/key"
IT_LOG=$base/daemon.log
# raw-view tools: comm is the executable's name
cp /usr/bin/stat "$base/rawstat"
cp /bin/bash "$base/rawsh"
opts="crypt:keyfile=$base/key,raw=rawstat+rawsh"
"$FSFILTER" crypt init "$lower" --keyfile "$base/key" -q || it_fail "crypt init"

it_mount "$lower" "$mnt" --filter "$opts"
for i in $(seq 20); do printf 'file %s\n' "$i" >"$mnt/f$i"; done
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"

# a fresh mount: the kernel has no node of the files yet
it_mount "$lower" "$mnt" --filter "$opts"
vol() {
	"$FSFILTER" status "$mnt" --json |
		python3 -c "import json,sys; print(json.load(sys.stdin)['volume']['$1'])"
}
i0=$(vol lower_inodes) h0=$(vol lower_handles)
"$base/rawstat" -c %s "$mnt"/f* >"$base/sizes" || it_fail "raw stat"
(($(wc -l <"$base/sizes") == 20)) || it_fail "raw stat of 20 files"
# a raw-view process holds f1 open until told to stop
it_bg "$base/rawsh" -c 'exec 3<"$1"; : >"$2.open"; while [[ ! -e $2 ]]; do sleep 0.1; done' \
	rawsh "$mnt/f1" "$base/stop"
holder=$IT_BG
for ((i = 0; i < 200; i++)); do [[ -e $base/stop.open ]] && break; sleep 0.05; done
[[ -e $base/stop.open ]] || it_fail "the raw holder did not open f1"
i1=$(vol lower_inodes) h1=$(vol lower_handles)
((i1 >= i0 + 20)) || it_fail "the twins hold no lower inodes: $i0 -> $i1"
((h1 >= h0 + 1)) || it_fail "the raw open holds no lower handle: $h0 -> $h1"

"$FSFILTER" detach "$mnt" crypt || it_fail "detach crypt"
i2=$(vol lower_inodes) h2=$(vol lower_handles)
it_log "lower inodes $i0 -> $i1 -> $i2 after detach, handles $h0 -> $h1 -> $h2"
((i2 <= i1 - 20)) || it_fail "the twins' lower inodes stayed after the detach: $i1 -> $i2"
((h2 <= h1 - 1)) || it_fail "the raw handle stayed open below after the detach: $h1 -> $h2"

# the twins are dead ids now: the held handle's close and the kernel's
# forgets reach the manager, which completes them; the volume goes on
: >"$base/stop"
it_wait_pid "$holder" 10 || true
it_bg_forget "$holder"
[[ -n $(ls "$mnt") ]] || it_fail "listing after the detach"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exited with $?"
it_log "ok"
