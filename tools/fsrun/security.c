/* Capabilities, seccomp, fd hygiene and prctl steps run just before execve() of the payload. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "security.h"

#define BIT64(n) (UINT64_C(1) << (n))

static void cap_freep(cap_t *c)
{
	if (*c)
		cap_free(*c);
}

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

uint64_t fsrun_caps_default(void)
{
	return BIT64(CAP_CHOWN) | BIT64(CAP_DAC_OVERRIDE) | BIT64(CAP_FSETID) | BIT64(CAP_FOWNER) |
	       BIT64(CAP_MKNOD) | BIT64(CAP_NET_RAW) | BIT64(CAP_SETGID) | BIT64(CAP_SETUID) |
	       BIT64(CAP_SETFCAP) | BIT64(CAP_SETPCAP) | BIT64(CAP_NET_BIND_SERVICE) |
	       BIT64(CAP_SYS_CHROOT) | BIT64(CAP_KILL) | BIT64(CAP_AUDIT_WRITE);
}

/* Parses name[0..len) (not NUL-terminated: it may be one item of a comma-separated list). */
static int caps_parse_n(const char *name, size_t len, uint64_t *ret_mask)
{
	char buf[64] = "cap_";
	size_t off = 0, i;
	cap_value_t v;

	if (len == 3 && strncasecmp(name, "all", 3) == 0) {
		*ret_mask = FSRUN_CAP_ALL;
		return 0;
	}
	/* libcap only knows the "cap_" spelling; accept the bare one Docker users type too. */
	if (len >= 4 && strncasecmp(name, "cap_", 4) == 0)
		off = 4;
	if (len - off == 0 || len - off >= sizeof(buf) - 4)
		return -EINVAL;
	/*
	 * cap_from_name() stops at the first character that cannot be in a name and ignores the
	 * rest ("cap_chown1" is CAP_CHOWN) and takes numbers, so only letters and '_' get this far.
	 */
	for (i = off; i < len; i++) {
		if (!isalpha((unsigned char)name[i]) && name[i] != '_')
			return -EINVAL;
		buf[4 + i - off] = tolower((unsigned char)name[i]);
	}
	buf[4 + len - off] = '\0';
	if (cap_from_name(buf, &v) < 0 || v < 0 || v > 63)
		return -EINVAL;
	*ret_mask = BIT64(v);
	return 0;
}

int fsrun_caps_parse(const char *name, uint64_t *ret_mask)
{
	if (!name)
		return -EINVAL;
	return caps_parse_n(name, strlen(name), ret_mask);
}

/* ORs the caps of a comma-separated list into *mask; "ALL" sets *all instead. */
static int caps_parse_list(const char *list, uint64_t *mask, bool *all)
{
	const char *p = list, *end;
	uint64_t m;
	size_t len;
	int r;

	while (p && *p) {
		len = strcspn(p, ",");
		end = p + len;
		if (len > 0) {
			r = caps_parse_n(p, len, &m);
			if (r < 0)
				return r;
			if (m == FSRUN_CAP_ALL)
				*all = true;
			else
				*mask |= m;
		}
		p = *end ? end + 1 : end;
	}
	return 0;
}

int fsrun_caps_adjust(uint64_t *mask, const char *add, const char *drop)
{
	uint64_t add_mask = 0, drop_mask = 0;
	bool add_all = false, drop_all = false;
	int r;

	r = caps_parse_list(add, &add_mask, &add_all);
	if (r < 0)
		return r;
	r = caps_parse_list(drop, &drop_mask, &drop_all);
	if (r < 0)
		return r;

	/* Docker's precedence, so that "--cap-drop ALL --cap-add X" means "only X". */
	if (add_all)
		*mask = FSRUN_CAP_ALL & ~drop_mask;
	else if (drop_all)
		*mask = add_mask;
	else
		*mask = (*mask & ~drop_mask) | add_mask;
	return 0;
}

/* The highest capability the running kernel knows, at most 63 (the ABI has 64 bits). */
static int cap_last_cap(void)
{
	char buf[16], *end;
	ssize_t n = -1;
	long v;
	int fd;

	fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		n = read(fd, buf, sizeof(buf) - 1);
		close(fd);
	}
	if (n > 0) {
		buf[n] = '\0';
		v = strtol(buf, &end, 10);
		if (end != buf && (*end == '\n' || *end == '\0') && v >= 0)
			return MIN(v, 63);
	}
	/* No /proc in this root: libcap probed PR_CAPBSET_READ when it was loaded. */
	return MIN(cap_max_bits() - 1, 63);
}

int fsrun_caps_apply(uint64_t keep)
{
	/* Inheritable stays empty, as in docker since CVE-2022-24769: with it, file capabilities
	 * of a binary in the image could grant more than the bounding set suggests. */
	static const cap_flag_t sets[] = { CAP_PERMITTED, CAP_EFFECTIVE };
	_cleanup_(cap_freep) cap_t cur = NULL;
	_cleanup_(cap_freep) cap_t want = NULL;
	cap_flag_value_t v;
	cap_value_t c;
	size_t i;
	int last, r;

	last = cap_last_cap();
	if (last < 63)
		keep &= BIT64(last + 1) - 1;

	cur = cap_get_proc();
	if (!cur)
		return negative_errno();

	/*
	 * Refuse before changing anything to promise a cap we cannot deliver: one missing from
	 * permitted can never be regained, one missing from the bounding set is lost at execve.
	 * Meanwhile prepare effective = permitted: setuid() away from root cleared effective
	 * (permitted survived thanks to PR_SET_KEEPCAPS), and dropping from the bounding set
	 * below needs CAP_SETPCAP in effective. The final capset lowers it again.
	 */
	for (c = 0; c <= last; c++) {
		if (cap_get_flag(cur, c, CAP_PERMITTED, &v) < 0 ||
		    cap_set_flag(cur, CAP_EFFECTIVE, 1, &c, v) < 0)
			return negative_errno();
		if ((keep & BIT64(c)) && (v != CAP_SET || cap_get_bound(c) != 1))
			return -EPERM;
	}

	/*
	 * Ambient caps survive execve of a non-setuid program even for a non-root uid; none are
	 * wanted. Clearing needs no privilege, so do it first.
	 */
	if (cap_reset_ambient() < 0)
		return negative_errno();
	if (cap_set_proc(cur) < 0)
		return negative_errno();

	/*
	 * The bounding set caps what execve of a setuid-root or file-capability binary can grant,
	 * so the payload cannot climb back above `keep` through one. Caps already gone are
	 * skipped: PR_CAPBSET_DROP wants CAP_SETPCAP even when it would change nothing.
	 */
	for (c = 0; c <= last; c++) {
		if (keep & BIT64(c))
			continue;
		r = cap_get_bound(c);
		if (r < 0)
			return negative_errno();
		if (r == 1 && cap_drop_bound(c) < 0)
			return negative_errno();
	}

	/*
	 * Finally permitted and effective become exactly `keep`, inheritable empty. Allowed:
	 * keep is a subset of the old permitted and of the new bounding set (checked above).
	 */
	want = cap_init();
	if (!want)
		return negative_errno();
	for (c = 0; c <= last; c++) {
		if (!(keep & BIT64(c)))
			continue;
		for (i = 0; i < ARRAY_SIZE(sets); i++)
			if (cap_set_flag(want, sets[i], 1, &c, CAP_SET) < 0)
				return negative_errno();
	}
	if (cap_set_proc(want) < 0)
		return negative_errno();
	return 0;
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

int fsrun_seccomp_load(void)
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
	/*
	 * Loading a filter unprivileged needs no_new_privs; set it at load so a filter is never
	 * in place without it. Raw return codes make seccomp_load() report the kernel's errno.
	 */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 1);
	if (r < 0)
		return r;
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

	return seccomp_load(ctx);
}

static bool fd_is_kept(int fd, const int *keep, int n_keep)
{
	int i;

	for (i = 0; i < n_keep; i++)
		if (keep[i] == fd)
			return true;
	return false;
}

/* Closes [first, ~0U] around the kept fds with one close_range() per gap. */
static int close_fds_range(int first, const int *keep, int n_keep)
{
#ifdef __NR_close_range
	unsigned int lo = first;
	long next;
	int i;

	for (;;) {
		/* The lowest kept fd at or above lo ends the next gap. */
		next = -1;
		for (i = 0; i < n_keep; i++)
			if (keep[i] >= 0 && (unsigned int)keep[i] >= lo &&
			    (next < 0 || keep[i] < next))
				next = keep[i];
		if (next < 0)
			return syscall(__NR_close_range, lo, ~0U, 0) < 0 ? -errno : 0;
		if (next > lo && syscall(__NR_close_range, lo, (unsigned int)next - 1, 0) < 0)
			return -errno;
		lo = next + 1;
	}
#else
	return -ENOSYS;
#endif
}

static int close_fds_walk(int first, const int *keep, int n_keep)
{
	_cleanup_(closedirp) DIR *d = NULL;
	struct dirent *de;
	char *end;
	long fd;

	d = opendir("/proc/self/fd");
	if (!d)
		return -errno;
	/* Closing entries while reading the directory is fine: each read lists what is open. */
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (!de)
			return errno > 0 ? -errno : 0;
		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		fd = strtol(de->d_name, &end, 10);
		if (*end || fd < first || fd > INT_MAX || fd == dirfd(d) ||
		    fd_is_kept(fd, keep, n_keep))
			continue;
		close(fd);
	}
}

int fsrun_close_fds_from(int first, const int *keep, int n_keep)
{
	int r;

	if (first < 0 || n_keep < 0 || (n_keep > 0 && !keep))
		return -EINVAL;
	/*
	 * Whatever the launcher inherited or opened without O_CLOEXEC must not reach the payload.
	 * close_range() (Linux 5.9) does it in a few calls; an older kernel says ENOSYS and an
	 * outer seccomp profile may say EPERM, then walk /proc/self/fd.
	 */
	r = close_fds_range(first, keep, n_keep);
	if (r == -ENOSYS || r == -EPERM)
		r = close_fds_walk(first, keep, n_keep);
	return r;
}

int fsrun_no_new_privs(void)
{
	/* From here execve() can never raise privileges: setuid bits and file caps are ignored. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	return 0;
}

int fsrun_set_dumpable(bool dumpable)
{
	/*
	 * A non-dumpable process cannot be ptrace-attached by the payload's uid and its
	 * /proc/<pid> files stay root-owned, which protects the launcher while it still holds
	 * host fds. execve() of a normal binary makes it dumpable again.
	 */
	if (prctl(PR_SET_DUMPABLE, dumpable ? 1 : 0, 0, 0, 0) < 0)
		return -errno;
	return 0;
}
