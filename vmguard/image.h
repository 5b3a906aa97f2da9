// SPDX-License-Identifier: Apache-2.0
// The guest image: Debian's kernel package (unpacked, never installed) and an
// initramfs that vmguard builds from busybox-static, the kernel modules the
// guest needs, the static guest agent and a generated minimal /etc.
//
// The guest's root is the initramfs. The host's /usr comes in read-only over
// 9p (Debian's /bin, /lib and /sbin are links into it). Nothing else of the
// host does: no /home, /root, /var, /run, /tmp, host keys, /etc/shadow or
// credentials. /etc is built from an allow list of files with no secrets.
#pragma once

#include <string>
#include <vector>

namespace bulkhead::vmguard {

struct ImageInputs {
    std::string kernel_tree;  // an unpacked linux-image-*.deb (boot/vmlinuz-*, lib/modules/*)
    std::string busybox = "/bin/busybox";
    std::string guest_agent;  // the static bulkhead-guest binary
    std::string host_etc = "/etc";
};

struct Image {
    std::string kernel;     // vmlinuz
    std::string initramfs;  // newc cpio
    std::string kernel_version;
};

// The static guest agent: the build tree's copy (tests, the demo), else the
// installed one.
std::string guest_agent_path();

// The modules the guest loads, in order, relative to lib/modules/VER/kernel.
const std::vector<std::string>& guest_modules();

// The files of the host's /etc the guest gets (world-readable, no secrets).
const std::vector<std::string>& etc_allow_list();

// Builds (or reuses, when its inputs did not change) DIR/initramfs-VER.cpio.
// Errors name the missing input and how to get it.
std::string build_image(const ImageInputs& in, const std::string& dir, Image* out);

// Downloads Debian's current linux-image-*-amd64 package with apt-get and
// unpacks it into DIR/kernel (nothing is installed). Empty on success.
std::string fetch_kernel(const std::string& dir, std::string* kernel_tree);

}  // namespace bulkhead::vmguard
