/*
 * The payload's seccomp deny-list, as libseccomp rules. This file is compiled into the build
 * tool seccomp-gen, which writes the resulting BPF program into seccomp-filter.h for fsrun;
 * fsrun itself loads the finished program (security.c) and does not link libseccomp.
 */
#include <errno.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>

#include "layerfs/macro.h"
#include "seccomp-rules.h"

#define BIT64(n) (UINT64_C(1) << (n))

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

/* Adds a rule failing `name` with err; a name libseccomp does not know is skipped. */
static int deny(scmp_filter_ctx ctx, const char *name, int err, unsigned int n_cmp,
		const struct scmp_arg_cmp *cmp)
{
	int nr;

	/*
	 * For a call that exists on only some of the filter's arches (vm86 on x86 but not on
	 * x86_64) libseccomp returns a pseudo number and seccomp_rule_add() adds it where it exists.
	 */
	nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR)
		return 0;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ERRNO(err), nr, n_cmp, cmp);
}

/*
 * personality() changes that weaken the payload (ADDR_NO_RANDOMIZE, READ_IMPLIES_EXEC, ...)
 * are denied; only 0, PER_LINUX32, UNAME26, both, and 0xffffffff (the query) pass. libseccomp
 * allows one comparison per argument in a rule and rules are ORed, so "not one of these" is
 * built from masked equalities over the low 32 bits (the kernel truncates to unsigned int):
 * an odd value is denied if any bit 1..31 is clear (it is not 0xffffffff); an even value is
 * denied if any bit but 3 (PER_LINUX32) and 17 (UNAME26) is set.
 */
static int deny_personality(scmp_filter_ctx ctx)
{
	struct scmp_arg_cmp cmp;
	int bit, r;

	for (bit = 1; bit < 32; bit++) {
		cmp = SCMP_A0_64(SCMP_CMP_MASKED_EQ, 1 | BIT64(bit), 1);
		r = deny(ctx, "personality", EPERM, 1, &cmp);
		if (r < 0)
			return r;
		if (bit == 3 || bit == 17)
			continue;
		cmp = SCMP_A0_64(SCMP_CMP_MASKED_EQ, 1 | BIT64(bit), BIT64(bit));
		r = deny(ctx, "personality", EPERM, 1, &cmp);
		if (r < 0)
			return r;
	}
	return 0;
}

int fsrun_seccomp_build(scmp_filter_ctx *ret)
{
	/*
	 * Kernel interfaces a container has no business touching, whatever caps it holds; one
	 * string rather than an array so the list reads like the header comment.
	 */
	static const char deny_always[] =
		"kexec_load kexec_file_load open_by_handle_at name_to_handle_at init_module "
		"finit_module delete_module iopl ioperm swapon swapoff syslog acct add_key keyctl "
		"request_key bpf userfaultfd perf_event_open lookup_dcookie nfsservctl quotactl reboot "
		"settimeofday clock_settime clock_settime64 clock_adjtime clock_adjtime64 adjtimex "
		"stime vm86 vm86old uselib _sysctl fanotify_init mount umount umount2 pivot_root "
		"move_mount fsopen fsmount fspick open_tree";
	static const unsigned long tty_ioctls[] = { TIOCSTI, TIOCLINUX };
	static const uint32_t compat_arches[] = { SCMP_ARCH_X86, SCMP_ARCH_X32 };
	_cleanup_(seccomp_releasep) scmp_filter_ctx ctx = NULL;
	struct scmp_arg_cmp cmp;
	unsigned int clone_flags_arg = 0;
	char names[sizeof(deny_always)], *name, *save;
	uint32_t arch;
	size_t i;
	int r;

	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx)
		return -ENOMEM;
	r = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (r < 0)
		return r;

	/*
	 * An x86_64 kernel also runs i386 and x32 binaries, whose syscalls carry their own
	 * numbers (and AUDIT_ARCH); without their arches the filter would kill them outright.
	 */
	arch = seccomp_arch_native();
	for (i = 0; arch == SCMP_ARCH_X86_64 && i < ARRAY_SIZE(compat_arches); i++) {
		r = seccomp_arch_add(ctx, compat_arches[i]);
		if (r < 0 && r != -EEXIST)
			return r;
	}
	/* clone()'s flags come first everywhere but s390, where the stack pointer does. */
	if (arch == SCMP_ARCH_S390 || arch == SCMP_ARCH_S390X)
		clone_flags_arg = 1;

	memcpy(names, deny_always, sizeof(names));
	for (name = strtok_r(names, " ", &save); name; name = strtok_r(NULL, " ", &save)) {
		r = deny(ctx, name, EPERM, 0, NULL);
		if (r < 0)
			return r;
	}

	r = deny_personality(ctx);
	if (r < 0)
		return r;

	/*
	 * A new user namespace hands the payload a full set of caps over it and exposes kernel
	 * code meant for root. unshare() and clone() are matched on the flag; clone3() passes
	 * its flags in memory seccomp cannot read, so it fails with ENOSYS and libc falls back
	 * to clone().
	 */
	cmp = SCMP_A0_64(SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
	r = deny(ctx, "unshare", EPERM, 1, &cmp);
	if (r < 0)
		return r;
	cmp = SCMP_CMP64(clone_flags_arg, SCMP_CMP_MASKED_EQ, CLONE_NEWUSER, CLONE_NEWUSER);
	r = deny(ctx, "clone", EPERM, 1, &cmp);
	if (r < 0)
		return r;
	r = deny(ctx, "clone3", ENOSYS, 0, NULL);
	if (r < 0)
		return r;

	/*
	 * TIOCSTI pushes input into a terminal the payload shares with the host and TIOCLINUX
	 * can do the same on a virtual console. The kernel reads the request as an unsigned int,
	 * so compare the low 32 bits alone: junk or sign extension above them cannot slip past.
	 */
	for (i = 0; i < ARRAY_SIZE(tty_ioctls); i++) {
		cmp = SCMP_A1_64(SCMP_CMP_MASKED_EQ, 0xffffffffu, tty_ioctls[i]);
		r = deny(ctx, "ioctl", EPERM, 1, &cmp);
		if (r < 0)
			return r;
	}

	*ret = TAKE_PTR(ctx);
	return 0;
}
