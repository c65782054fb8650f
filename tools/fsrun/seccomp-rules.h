/* The payload's seccomp rules (seccomp-rules.c), for the build tool seccomp-gen. */
#pragma once

#include <seccomp.h>

/*
 * A libseccomp filter (default allow) denying, with EPERM, the syscalls a container has no
 * business making: kexec, modules, keyrings, bpf, perf, userfaultfd, mount and the new mount
 * API, pivot_root, swap, clocks, reboot, weakening personality() flags, new user namespaces
 * (unshare/clone with CLONE_NEWUSER; clone3 gets ENOSYS so libc falls back to clone), and the
 * TIOCSTI/TIOCLINUX ioctls. For the native arch plus, on x86_64, i386 and x32.
 */
int fsrun_seccomp_build(scmp_filter_ctx *ret);
