/* Capabilities, seccomp, fd hygiene and prctl steps run just before execve() of the payload. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/sched.h>
#include <linux/seccomp.h>
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
#include "seccomp-filter.h"

#define BIT64(n) (UINT64_C(1) << (n))

static void cap_freep(cap_t *c)
{
	if (*c)
		cap_free(*c);
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

/*
 * The filter itself is compiled at build time from seccomp-rules.c (libseccomp) into
 * seccomp-filter.h: building it at run time took a millisecond, a third of a container start.
 */
int fsrun_seccomp_load(void)
{
	struct sock_fprog prog = {
		.len = ARRAY_SIZE(fsrun_seccomp_filter),
		.filter = (struct sock_filter *)fsrun_seccomp_filter,
	};

	/* Unprivileged filters need no_new_privs; it is set here so one never goes without. */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		return -errno;
	return 0;
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
