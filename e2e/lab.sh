#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# The kernel lab: boots Debian's own kernel (with `bpf` in its LSM list) under
# QEMU software emulation, shares the host's / read-only over 9p, chroots into
# an overlay of it, and runs e2e/guest.sh there. The host has no BPF LSM, so
# this is the only place the enforcement path runs for real.
# The recipe and its measurements: /work/shared/kernel-lab.md.
#
#   e2e/lab.sh [--build-dir DIR] [--mode test|demo|bench] [--filter GLOB]
#              [--timeout SECONDS] [--keep] [--rebuild]
#
# Prints one line per case (PASS/FAIL/SKIP) and a last line
# "N passed, M failed[, K skipped]"; exits non-zero when a case failed or the
# VM produced no results (timeout, panic, broken guest).
set -euo pipefail

usage() {
    cat <<'EOF'
usage: e2e/lab.sh [options]
  --build-dir DIR    CMake build directory (default: build); the lab is cached
                     in DIR/lab, bulkhead is DIR/userspace/bulkhead
  --mode MODE        test (default): run e2e/cases/*.case
                     demo: run e2e/demo.sh (a misbehaving agent, contained)
                     bench: run bench/lab/bench.sh (overhead, bare vs loaded)
  --filter GLOB      test mode: run only cases whose file stem or NAME match
  --timeout SECONDS  kill QEMU after this long (default 1200, env LAB_TIMEOUT)
  --keep             after the run, open a shell in the guest (needs a
                     terminal; no timeout) and keep the initramfs staging tree
  --rebuild          prepare the lab again (kernel, initramfs) from scratch
environment: LAB_TIMEOUT (as --timeout), LAB_APPEND (extra kernel arguments),
  LAB_DAEMON_ARGS (extra arguments for every `bulkhead daemon` in the guest)
EOF
}

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=build
mode=test
filter='*'
timeout_s=${LAB_TIMEOUT:-1200}
keep=0
rebuild=0

while (($#)); do
    case $1 in
        --build-dir) build_dir=${2:?--build-dir needs a value}; shift 2 ;;
        --build-dir=*) build_dir=${1#*=}; shift ;;
        --mode) mode=${2:?--mode needs a value}; shift 2 ;;
        --mode=*) mode=${1#*=}; shift ;;
        --filter) filter=${2:?--filter needs a value}; shift 2 ;;
        --filter=*) filter=${1#*=}; shift ;;
        --timeout) timeout_s=${2:?--timeout needs a value}; shift 2 ;;
        --timeout=*) timeout_s=${1#*=}; shift ;;
        --keep) keep=1; shift ;;
        --rebuild) rebuild=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "lab: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
    esac
done

case $mode in test|demo|bench) ;; *) echo "lab: unknown mode '$mode'" >&2; exit 2 ;; esac
[[ $timeout_s =~ ^[0-9]+$ ]] || { echo "lab: --timeout wants seconds" >&2; exit 2; }

log() { printf 'lab: %s\n' "$*" >&2; }
die() { printf 'lab: error: %s\n' "$*" >&2; exit 1; }

[[ $build_dir = /* ]] || build_dir=$repo/$build_dir
mkdir -p "$build_dir"
build_dir=$(cd "$build_dir" && pwd -P)
repo=$(cd "$repo" && pwd -P)
lab=$build_dir/lab
out=$lab/out

# The guest mounts tmpfs over these (secrets must live on tmpfs, and the 9p
# share is read-only), so the repo and the build dir must not be below them.
for p in "$repo" "$build_dir"; do
    for hidden in /tmp /run /root /home /var/log /proc /sys /dev; do
        [[ $p == "$hidden" || $p == "$hidden"/* ]] &&
            die "$p is below $hidden, which the guest covers with a fresh mount; use a build dir elsewhere"
    done
done

for tool in qemu-system-x86_64 cpio gzip dpkg apt-get timeout; do
    command -v "$tool" >/dev/null || die "'$tool' not found (apt-get install qemu-system-x86 cpio)"
done
busybox=/bin/busybox
[[ -x $busybox ]] && "$busybox" --list >/dev/null 2>&1 || die "$busybox missing (apt-get install busybox-static)"
file -L "$busybox" 2>/dev/null | grep -q dynamic && die "$busybox is dynamically linked; install busybox-static"

# ---------------------------------------------------------------------------
# Kernel: Debian's package, unpacked (never installed) into $lab/kernel.

# Modules, in load order, relative to /lib/modules/<ver>/kernel. The package
# ships no modules.dep (depmod runs at install), so the order is fixed here.
modules=(
    drivers/virtio/virtio_ring.ko
    drivers/virtio/virtio.ko
    drivers/virtio/virtio_pci_legacy_dev.ko
    drivers/virtio/virtio_pci_modern_dev.ko
    drivers/virtio/virtio_pci.ko
    fs/netfs/netfs.ko
    fs/fscache/fscache.ko
    net/9p/9pnet.ko
    net/9p/9pnet_virtio.ko
    fs/9p/9p.ko
    fs/overlayfs/overlay.ko
)

kernel_pkg() {
    # linux-image-amd64 is the metapackage; it depends on the current
    # linux-image-6.1.0-NN-amd64.
    apt-cache depends linux-image-amd64 2>/dev/null |
        awk '/Depends: linux-image-[0-9]/ { print $2; exit }'
}

prepare_kernel() {
    local kdir=$lab/kernel pkg dl
    if ((rebuild)); then rm -rf "$kdir"; fi
    if compgen -G "$kdir/boot/vmlinuz-*" >/dev/null; then return; fi
    pkg=$(kernel_pkg)
    if [[ -z $pkg ]]; then
        log "apt knows no linux-image-amd64; running apt-get update"
        apt-get update -qq >&2 || true
        pkg=$(kernel_pkg)
    fi
    [[ -n $pkg ]] || die "cannot find the kernel package linux-image-amd64 depends on"
    dl=$lab/dl
    rm -rf "$dl" "$kdir.tmp"
    mkdir -p "$dl" "$kdir.tmp"
    log "downloading $pkg"
    if ! (cd "$dl" && apt-get download "$pkg" >&2 2>"$dl/apt.err"); then
        log "download failed; running apt-get update and retrying"
        apt-get update -qq >&2 || true
        pkg=$(kernel_pkg)
        (cd "$dl" && apt-get download "$pkg" >&2) || die "apt-get download $pkg failed"
    fi
    dpkg -x "$dl"/"$pkg"_*.deb "$kdir.tmp"
    rm -rf "$dl"
    mv "$kdir.tmp" "$kdir"
    log "unpacked $pkg into $kdir"
}

# ---------------------------------------------------------------------------
# Initramfs: busybox, the modules, /init and /stage2 (below). /init mounts the
# shares, builds the overlay root, mounts the API filesystems in it and
# switch_roots into it; /stage2 then runs e2e/guest.sh there. Parameters come
# from out/params.sh, written per run.

init_script() {
    cat <<'INIT'
#!/bin/busybox sh
# Generated by e2e/lab.sh. PID 1 of the lab guest.
export PATH=/bin
busybox mount -t proc proc /proc
busybox mount -t sysfs sysfs /sys
busybox mount -t devtmpfs devtmpfs /dev 2>/dev/null
exec </dev/console >/dev/console 2>&1

fail() {
    echo "lab-guest: FATAL: $*"
    [ -d /results ] && echo "$*" >/results/fatal 2>/dev/null
    sync
    poweroff -f
}

for m in $(cat /modules.list); do
    insmod "/modules/$(basename "$m")" || fail "insmod $m failed"
done

mkdir -p /lower /rw /newroot /results
m9p="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$m9p" results /results || fail "cannot mount the results share"
[ -f /results/params.sh ] || fail "no params.sh in the results share"
. /results/params.sh

mount -t 9p -o "$m9p,ro,cache=loose" host /lower || fail "cannot mount the host share"
mount -t tmpfs -o mode=0755 tmpfs /rw
mkdir -p /rw/upper /rw/work
mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /newroot ||
    fail "cannot mount the overlay root"

r=/newroot
mount -t proc proc $r/proc
mount -t sysfs sysfs $r/sys
mount -t devtmpfs devtmpfs $r/dev
mkdir -p $r/dev/pts $r/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666 devpts $r/dev/pts
mount -t tmpfs tmpfs $r/dev/shm
for d in /tmp /run /var/log /root /home; do
    mkdir -p $r$d
    mount -t tmpfs -o mode=0755 tmpfs $r$d
done
chmod 1777 $r/tmp
chmod 0700 $r/root
mount -t securityfs securityfs $r/sys/kernel/security
mount -t bpf -o mode=0700 bpf $r/sys/fs/bpf
mount -t cgroup2 -o nsdelegate cgroup2 $r/sys/fs/cgroup
mount -t tracefs tracefs $r/sys/kernel/tracing 2>/dev/null || true
mount -t debugfs debugfs $r/sys/kernel/debug 2>/dev/null || true
# The writable results share at the same absolute path as on the host.
mkdir -p "$r$LAB_OUT"
mount --move /results "$r$LAB_OUT" || fail "cannot move the results share into the root"

# Stage 2 runs with the overlay as the namespace's real root (switch_root,
# not chroot: a chrooted process may not create user namespaces, and the
# bind-mount attack cases need them). It and busybox live in the overlay.
mkdir -p $r/.lab
cp /bin/busybox $r/.lab/busybox
cp /stage2 $r/.lab/init
umount /proc /sys 2>/dev/null
exec switch_root $r /.lab/busybox sh /.lab/init "$LAB_OUT"
INIT
}

stage2_script() {
    cat <<'STAGE2'
#!/.lab/busybox sh
# Generated by e2e/lab.sh. PID 1 after switch_root into the overlay root.
B=/.lab/busybox
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
. "$1/params.sh"
echo "lab-guest: up $($B cut -d' ' -f1 /proc/uptime)s after boot; lsm=$($B cat /sys/kernel/security/lsm)"
$B env -i PATH=$PATH HOME=/root TERM=dumb LANG=C.UTF-8 LAB_MODE="$LAB_MODE" LAB_FILTER="$LAB_FILTER" \
    LAB_OUT="$LAB_OUT" LAB_REPO="$LAB_REPO" LAB_BUILD_DIR="$LAB_BUILD_DIR" \
    LAB_DAEMON_ARGS="$LAB_DAEMON_ARGS" /bin/bash -c 'cd "$LAB_REPO" && exec /bin/bash e2e/guest.sh "$LAB_MODE"'
rc=$?
echo "$rc" >"$LAB_OUT/guest.rc"
if [ "$LAB_KEEP" = 1 ]; then
    echo "lab-guest: --keep: shell in the guest; exit it to power off"
    $B env -i PATH=$PATH HOME=/root TERM=linux LANG=C.UTF-8 $B setsid -c /bin/bash -l </dev/ttyS0 >/dev/ttyS0 2>&1
fi
$B sync
$B umount "$LAB_OUT" 2>/dev/null
echo "lab-guest: done (guest.sh exit $rc), powering off"
$B poweroff -f
STAGE2
}

prepare_initramfs() {
    local kdir=$lab/kernel kver moddir stage want have
    kver=$(basename "$(echo "$kdir"/lib/modules/*)")
    moddir=$kdir/lib/modules/$kver/kernel
    want=$( { init_script; stage2_script; printf '%s\n' "${modules[@]}" "$kver"; sha256sum "$busybox"; } | sha256sum | cut -c1-16)
    have=$(cat "$lab/initramfs.stamp" 2>/dev/null || true)
    if ((rebuild == 0)) && [[ $want == "$have" && -f $lab/initramfs.cpio.gz ]]; then return; fi
    stage=$lab/initramfs.d
    rm -rf "$stage"
    mkdir -p "$stage"/{bin,dev,proc,sys,modules,lower,rw,newroot,results}
    cp "$busybox" "$stage/bin/busybox"
    # Links made on the host with the guest's busybox (same binary, static).
    for applet in $("$busybox" --list); do
        [[ $applet == busybox ]] || ln -s busybox "$stage/bin/$applet"
    done
    : >"$stage/modules.list"
    for m in "${modules[@]}"; do
        [[ -f $moddir/$m ]] || die "module $m missing in $moddir"
        cp "$moddir/$m" "$stage/modules/"
        echo "$m" >>"$stage/modules.list"
    done
    init_script >"$stage/init"
    stage2_script >"$stage/stage2"
    chmod 0755 "$stage/init" "$stage/stage2"
    (cd "$stage" && find . -print0 | cpio --null -o -H newc --quiet | gzip -1) >"$lab/initramfs.cpio.gz.tmp"
    mv "$lab/initramfs.cpio.gz.tmp" "$lab/initramfs.cpio.gz"
    ((keep)) || rm -rf "$stage"
    echo "$want" >"$lab/initramfs.stamp"
    log "built $lab/initramfs.cpio.gz (kernel $kver)"
}

mkdir -p "$lab"
prepare_kernel
prepare_initramfs
vmlinuz=$(echo "$lab"/kernel/boot/vmlinuz-*)

# ---------------------------------------------------------------------------
# One boot per invocation.

rm -rf "$out"
mkdir -p "$out"
{
    printf 'LAB_MODE=%q\n' "$mode"
    printf 'LAB_FILTER=%q\n' "$filter"
    printf 'LAB_OUT=%q\n' "$out"
    printf 'LAB_REPO=%q\n' "$repo"
    printf 'LAB_BUILD_DIR=%q\n' "$build_dir"
    printf 'LAB_KEEP=%q\n' "$keep"
    printf 'LAB_DAEMON_ARGS=%q\n' "${LAB_DAEMON_ARGS:-}"
} >"$out/params.sh"

console=$lab/console.log
qemu=(
    qemu-system-x86_64
    -accel tcg,thread=multi -smp 2 -cpu max -m 2048
    -nographic -no-reboot -nic none
    -kernel "$vmlinuz" -initrd "$lab/initramfs.cpio.gz"
    -virtfs local,path=/,mount_tag=host,security_model=none,readonly=on,multidevs=remap
    -virtfs "local,path=$out,mount_tag=results,security_model=none,multidevs=remap"
    -append "console=ttyS0 quiet lsm=lockdown,capability,landlock,bpf panic=-1${LAB_APPEND:+ $LAB_APPEND}"
)

log "booting $(basename "$vmlinuz") (mode=$mode, timeout=${timeout_s}s, console: $console)"
start=$(date +%s)
qemu_rc=0
if ((keep)) && [[ -t 0 ]]; then
    "${qemu[@]}" 2>&1 | tee "$console" || qemu_rc=${PIPESTATUS[0]}
else
    # -k: if QEMU ignores SIGTERM, SIGKILL it 10 s later. stdin from
    # /dev/null so QEMU never puts a terminal into raw mode.
    timeout -k 10 "$timeout_s" "${qemu[@]}" </dev/null 2>&1 | tee "$console" ||
        qemu_rc=${PIPESTATUS[0]}
fi
elapsed=$(($(date +%s) - start))
printf '\n'
log "VM ran ${elapsed}s (QEMU exit $qemu_rc)"

# ---------------------------------------------------------------------------
# Results. The guest writes out/results.txt (one PASS/FAIL/SKIP line per case)
# and out/guest.rc; anything else is a failed run.

run_failure=
if ((qemu_rc == 124 || qemu_rc == 137)); then
    run_failure="VM timed out after ${timeout_s}s and was killed (see $console)"
elif grep -q 'Kernel panic' "$console"; then
    run_failure="guest kernel panic: $(grep -m1 -o 'Kernel panic.*' "$console" | tr -d '\r')"
elif [[ -f $out/fatal ]]; then
    run_failure="guest setup failed: $(cat "$out/fatal")"
elif [[ ! -f $out/guest.rc ]]; then
    run_failure="VM exited (QEMU exit $qemu_rc) without results (see $console)"
elif [[ ! -f $out/results.txt ]]; then
    run_failure="guest.sh exited $(cat "$out/guest.rc") without writing results (see $console)"
fi

if [[ $mode == bench && -f $out/bench.txt ]]; then
    echo "==== bench (median ns/op; compare ratios only; raw numbers in $out/bench.json) ===="
    cat "$out/bench.txt"
fi
passed=0 failed=0 skipped=0
echo "==== lab results ($mode) ===="
if [[ -f $out/results.txt ]]; then
    while IFS= read -r line; do
        case $line in
            PASS\ *) passed=$((passed + 1)) ;;
            FAIL\ *) failed=$((failed + 1)) ;;
            SKIP\ *) skipped=$((skipped + 1)) ;;
            *) continue ;;
        esac
        printf '%s\n' "$line"
    done <"$out/results.txt"
fi
if [[ -n $run_failure ]]; then
    printf 'FAIL lab-run: %s\n' "$run_failure"
    failed=$((failed + 1))
elif [[ $(cat "$out/guest.rc") != 0 ]] && ((failed == 0)); then
    printf 'FAIL lab-run: guest.sh exited %s\n' "$(cat "$out/guest.rc")"
    failed=$((failed + 1))
fi
summary="$passed passed, $failed failed"
((skipped)) && summary+=", $skipped skipped"
echo "$summary"
((failed == 0))
