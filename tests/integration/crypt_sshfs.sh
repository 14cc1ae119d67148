#!/usr/bin/env bash
# crypt over a remote lower directory: an sshfs mount of a throw-away sshd
# on 127.0.0.1 (own host key, user key, config, port). Init over the
# network, the randomized model (plain and mmap), remount, verify on the
# server side. Skips (77) without sshd/sshfs.
. "$(dirname "$0")/lib.sh"
it_init
[[ -x ${CRYPTMODEL:-} ]] || it_fail "CRYPTMODEL not set"
command -v sshfs >/dev/null && [[ -x /usr/sbin/sshd ]] || it_skip "sshfs / openssh-server not installed"

it_tmpdir base
remote=$base/remote slower=$base/slower mnt=$base/mnt
mkdir "$remote" "$slower" "$mnt"
IT_LOG=$base/daemon.log
ssh-keygen -q -t ed25519 -N '' -f "$base/hostkey" || it_fail "host key"
ssh-keygen -q -t ed25519 -N '' -f "$base/userkey" || it_fail "user key"
cp "$base/userkey.pub" "$base/authorized_keys"
chmod 600 "$base/authorized_keys"
mkdir -p /run/sshd
port=$((20000 + RANDOM % 20000))
cat >"$base/sshd_config" <<CONF
Port $port
ListenAddress 127.0.0.1
HostKey $base/hostkey
AuthorizedKeysFile $base/authorized_keys
PidFile $base/sshd.pid
PermitRootLogin prohibit-password
PasswordAuthentication no
StrictModes no
UsePAM no
Subsystem sftp internal-sftp
CONF
/usr/sbin/sshd -D -f "$base/sshd_config" -E "$base/sshd.log" &
IT_PIDS+=($!)
sshfs_mounted=
cleanup_sshfs() {	# the volume first, then the sshfs under it, then sshd
	local rc=$?
	it_is_mounted "$mnt" && { "$FSFILTER" unmount "$mnt" 2>/dev/null || umount -l "$mnt"; }
	if [[ -n $sshfs_mounted ]] && it_is_mounted "$slower"; then
		fusermount3 -u "$slower" 2>/dev/null || umount -l "$slower"
	fi
	(exit "$rc")
	it_cleanup
}
trap cleanup_sshfs EXIT
for ((i = 0; i < 50; i++)); do
	sshfs "root@127.0.0.1:$remote" "$slower" -o port=$port,IdentityFile="$base/userkey" \
		-o StrictHostKeyChecking=no,UserKnownHostsFile=/dev/null,BatchMode=yes 2>"$base/sshfs.err" && break
	sleep 0.1
done
it_is_mounted "$slower" || it_fail "sshfs did not mount: $(cat "$base/sshfs.err" "$base/sshd.log")"
sshfs_mounted=1

it_crypt_init "$slower" "$base/key"	# over sshfs
[[ -s $remote/.fsfilter-crypt.conf ]] || it_fail "config not on the server"
it_mount "$slower" "$mnt" --filter "crypt:keyfile=$base/key"
timeout 300 "$CRYPTMODEL" model "$mnt/m1" 11 1500 || it_fail "model over sshfs"
timeout 300 "$CRYPTMODEL" model "$mnt/m2" 12 800 mmap || it_fail "mmap model over sshfs"
head -c 300000 /dev/urandom >"$base/ref"
cp "$base/ref" "$mnt/ref"
sha=$(cat "$mnt/m1" "$mnt/m2" | sha256sum)
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10 || it_fail "daemon exit status $?"
[[ -s $remote/m1 && -s $remote/ref ]] || it_fail "files missing on the server"
cmp -s "$base/ref" "$remote/ref" && it_fail "plaintext on the server"
"$FSFILTER" crypt verify "$remote" --keyfile "$base/key" -q || it_fail "verify on the server side"
it_mount "$slower" "$mnt" --filter "crypt:keyfile=$base/key"
cmp "$base/ref" "$mnt/ref" || it_fail "remote file after remount"
[[ $(cat "$mnt/m1" "$mnt/m2" | sha256sum) == "$sha" ]] || it_fail "model files after remount"
it_unmount "$mnt"
it_wait_pid "$IT_PID" 10
it_log "ok"
