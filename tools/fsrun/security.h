/*
 * The last steps fsrun takes before execve() of the payload: capabilities, the seccomp filter,
 * stray fds, no_new_privs and dumpable. Every function returns 0 or -errno and logs nothing.
 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

/* Capability sets are bit masks: bit N = capability N (CAP_CHOWN = 0 ...). */
#define FSRUN_CAP_ALL UINT64_MAX

/* The OCI/Docker default set: CHOWN DAC_OVERRIDE FSETID FOWNER MKNOD NET_RAW SETGID SETUID
 * SETFCAP SETPCAP NET_BIND_SERVICE SYS_CHROOT KILL AUDIT_WRITE. */
uint64_t fsrun_caps_default(void);
/* Parses "CAP_NET_ADMIN", "net_admin", "NET_ADMIN" (case-insensitive) or "ALL" into a mask;
 * -EINVAL for an unknown name. *ret_mask is written only on success. */
int fsrun_caps_parse(const char *name, uint64_t *ret_mask);
/*
 * Applies --cap-add/--cap-drop lists (comma-separated strings, may be NULL) to *mask, as Docker
 * does: "ALL" in add gives every cap except those dropped; otherwise "ALL" in drop gives only
 * the added ones; otherwise (*mask minus drop) plus add. Empty items are ignored. On -EINVAL
 * (an unknown name) *mask is left unchanged.
 */
int fsrun_caps_adjust(uint64_t *mask, const char *add, const char *drop);
/*
 * Leaves the calling process with exactly `keep` (masked to the caps the kernel knows,
 * /proc/sys/kernel/cap_last_cap) in the bounding, permitted and effective sets, inheritable
 * and ambient sets cleared, securebits untouched. keep == 0 is the rootless case: everything
 * cleared, bounding set emptied. Called after setgroups/setgid/setuid, which the caller does
 * with PR_SET_KEEPCAPS so permitted survives the uid change. Returns 0 or -errno: -EPERM,
 * before anything is changed, when keep holds a cap missing from the permitted or bounding
 * set, and -EPERM from the bounding step when CAP_SETPCAP is not permitted. Acts on the calling
 * thread only (the launcher is single-threaded here). A payload running as a non-root uid
 * loses these caps at execve (no ambient caps), as with Docker.
 */
int fsrun_caps_apply(uint64_t keep);
/*
 * Loads a seccomp deny-list filter (default action ALLOW; listed syscalls fail with EPERM,
 * never kill): kexec_load kexec_file_load open_by_handle_at name_to_handle_at init_module
 * finit_module delete_module iopl ioperm swapon swapoff syslog acct add_key keyctl
 * request_key bpf userfaultfd perf_event_open lookup_dcookie nfsservctl quotactl reboot
 * settimeofday clock_settime clock_adjtime adjtimex stime vm86 vm86old uselib
 * _sysctl personality (only values other than 0, 8 (PER_LINUX32), 0x20000 (UNAME26),
 * 0x20008, 0xffffffff are denied), fanotify_init, mount, umount2, pivot_root, move_mount,
 * fsopen, fsmount, fspick, open_tree, unshare and clone/clone3 with CLONE_NEWUSER (clone3:
 * return ENOSYS for every clone3 so libc falls back to clone, which can be filtered by flag
 * argument), ioctl with request TIOCSTI or TIOCLINUX (match the request argument with
 * SCMP_CMP_MASKED_EQ on the low 32 bits). Also umount, clock_settime64 and clock_adjtime64,
 * the 32-bit x86 spellings of listed calls. Syscalls the running arch does not have are
 * skipped silently (seccomp_syscall_resolve_name returns __NR_SCMP_ERROR). Sets
 * no_new_privs itself (SCMP_FLTATR_CTL_NNP). For the native arch and, on x86_64, also the
 * x86 (32-bit) and x32 arches so a 32-bit payload is filtered too. Returns 0 or -errno.
 */
int fsrun_seccomp_load(void);
/*
 * Closes every fd >= first except those in keep[0..n_keep) (close_range where available,
 * else a /proc/self/fd walk); after it only 0..first-1 and the kept ones are open.
 */
int fsrun_close_fds_from(int first, const int *keep, int n_keep);
/* prctl(PR_SET_NO_NEW_PRIVS, 1) and PR_SET_DUMPABLE 0 helpers: */
int fsrun_no_new_privs(void);
int fsrun_set_dumpable(bool dumpable);
