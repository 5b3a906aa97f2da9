#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# The Debian package, built by CPack from this build directory and taken
# apart without installing it:
#   - its control fields: Depends (from dpkg-shlibdeps) carries the
#     libraries the daemon loads; the config is a conffile;
#   - its files: the binary, the guest agent, the unit, the configs (the
#     host config 0600), the rules;
#   - the unit passes `systemd-analyze verify` with no warning;
#   - the packaged binary runs from the package and its rule set passes the
#     shipped cases.
set -uo pipefail
build=$(realpath "${1:?usage: package_deb.sh BUILD_DIR}")
for tool in cpack dpkg-deb systemd-analyze; do
    command -v "$tool" >/dev/null || { echo "SKIP: needs $tool"; exit 77; }
done
tmp=$(mktemp -d /var/tmp/bulkhead-deb.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

(cd "$build" && cpack -G DEB -B "$tmp/out") >"$tmp/cpack.log" 2>&1 || { cat "$tmp/cpack.log"; fail "cpack failed"; }
deb=$(ls "$tmp"/out/bulkhead_*_amd64.deb 2>/dev/null | head -n1)
[[ -f $deb ]] || { cat "$tmp/cpack.log"; fail "no .deb in $tmp/out"; }
prefix=$(sed -n 's/^CMAKE_INSTALL_PREFIX:PATH=//p' "$build/CMakeCache.txt")
etc=/etc
[[ $prefix == /usr ]] || etc=$prefix/etc
unitdir=/lib/systemd/system
[[ $prefix == /usr ]] || unitdir=$prefix/lib/systemd/system

[[ $(dpkg-deb -f "$deb" Package) == bulkhead ]] || fail "Package is not bulkhead"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libbpf1 libseccomp2 libyaml-cpp0.7 libgrpc++1.51 libsodium23; do
    grep -q "\b$lib\b" <<<"$depends" || fail "Depends lacks $lib: $depends"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles >"$tmp/conffiles" || fail "no conffiles"
[[ $(cat "$tmp/conffiles") == "$etc/bulkhead/bulkhead.yaml" ]] || fail "conffiles: $(cat "$tmp/conffiles")"

dpkg-deb -c "$deb" >"$tmp/contents"
has() {  # has MODE PATH
    grep -qE "^$1 root/root +[0-9]+ [0-9-]+ [0-9:]+ \.$2\$" "$tmp/contents" ||
        fail "the package lacks $2 with mode $1: $(grep -F "$2" "$tmp/contents")"
}
has -rwxr-xr-x "$prefix/sbin/bulkhead"
has -rwxr-xr-x "$prefix/lib/bulkhead/bulkhead-guest"
has -rw-r--r-- "$unitdir/bulkhead.service"
has -rw------- "$etc/bulkhead/bulkhead.yaml"
has -rw-r--r-- "$prefix/share/bulkhead/config/laptop.yaml"
has -rw-r--r-- "$prefix/share/bulkhead/rules/agents.yaml"
if grep -E '\./(usr/)?(include|lib/.*\.a$)' "$tmp/contents" | grep -q .; then
    fail "the package carries build files: $(grep -E '\./(usr/)?include' "$tmp/contents" | head -3)"
fi

dpkg-deb -x "$deb" "$tmp/root"
bin=$tmp/root$prefix/sbin/bulkhead
file_out=$(od -An -c -N4 "$bin" | tr -d ' ')
[[ $file_out == 177ELF ]] || fail "the packaged bulkhead is not an ELF binary"
"$bin" version >"$tmp/version" 2>&1 || fail "the packaged binary does not run: $(cat "$tmp/version")"
grep -q "$(dpkg-deb -f "$deb" Version)" "$tmp/version" || fail "version differs: $(cat "$tmp/version")"
rules=$tmp/root$prefix/share/bulkhead/rules
"$bin" rules test "$rules/agents.yaml" --cases "$rules/agents.cases.yaml" >"$tmp/cases" 2>&1 ||
    { tail -5 "$tmp/cases"; fail "the packaged rules fail their cases"; }
grep -q "\bExecStart=$prefix/sbin/bulkhead daemon --config $etc/bulkhead/bulkhead.yaml\b" \
    "$tmp/root$unitdir/bulkhead.service" || fail "ExecStart does not run the packaged binary on the packaged config"

# verify checks that ExecStart exists: point it at the extracted binary.
mkdir -p "$tmp/units"
sed "s|$prefix/sbin/bulkhead|$bin|" "$tmp/root$unitdir/bulkhead.service" >"$tmp/units/bulkhead.service"
verify=$(systemd-analyze verify "$tmp/units/bulkhead.service" 2>&1)
[[ $? == 0 && -z $verify ]] || fail "systemd-analyze verify: $verify"
exposure=$(systemd-analyze security --offline=yes "$tmp/units/bulkhead.service" 2>/dev/null |
    sed -n 's/.*Overall exposure level for bulkhead.service: \([0-9.]*\).*/\1/p')
size=$(stat -c %s "$deb")
echo "PASS: $(basename "$deb") ($((size / 1024 / 1024)) MiB), $(wc -l <"$tmp/contents") entries," \
    "unit verified (systemd exposure ${exposure:-?}/10: no private mounts, by design)"
