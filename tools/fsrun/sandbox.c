/*
 * The container's root, built by its init inside the new namespaces, before pivot_root:
 *
 *   /dev      tmpfs with null zero full random urandom tty bound from the host (a user
 *             namespace cannot mknod), devpts (newinstance) for ptmx, shm, and the fd links
 *   /proc     a fresh proc of the new pid namespace; the OCI masked paths hidden, the kernel
 *             knobs read-only
 *   /sys      the host's, bound recursively read-only
 *   /tmp      tmpfs
 *   /etc/hosts, /etc/hostname, /etc/resolv.conf   generated files bound over the image's
 *   binds and tmpfs mounts the user asked for
 *
 * Every target is resolved with RESOLVE_IN_ROOT against the new root and mounted through its
 * /proc/self/fd path, so a symlink in the image (/etc/resolv.conf -> ../../../tmp/x) lands
 * inside the root, never on the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "layerfs/util.h"
#include "fsrun.h"

static void vsay(int r, const char *fmt, va_list ap)
{
	fputs("fsrun: ", stderr);
	vfprintf(stderr, fmt, ap);
	if (r < 0)
		fprintf(stderr, ": %s", strerror(-r));
	fputc('\n', stderr);
}

int fsrun_err(int r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(r, fmt, ap);
	va_end(ap);
	return r;
}

int fsrun_invalid(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsay(0, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

int fsrun_open_in_root(int rootfd, const char *path, int flags, mode_t mode)
{
	struct open_how how = {
		.flags = flags | O_CLOEXEC,
		.mode = (flags & O_CREAT) ? mode : 0,
		.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
	};
	long fd = syscall(SYS_openat2, rootfd, path, &how, sizeof(how));

	return fd < 0 ? -errno : (int)fd;
}

static void fdpath(int fd, char buf[32])
{
	snprintf(buf, 32, "/proc/self/fd/%d", fd);
}

/*
 * Opens (O_PATH) the mount target path inside the root, creating it when missing: a
 * directory when dir, else an empty file. Missing parents are created as directories.
 */
static int target_at(int rootfd, const char *path, bool dir, int *ret_fd)
{
	_cleanup_free_ char *copy = strdup(path);
	char *slash;
	int fd, r;

	if (!copy)
		return -ENOMEM;
	fd = fsrun_open_in_root(rootfd, path, O_PATH, 0);
	if (fd >= 0) {
		*ret_fd = fd;
		return 0;
	}
	if (fd != -ENOENT)
		return fd;
	/* Create the parents, one component at a time, each resolved inside the root. */
	for (char *p = copy + 1; (slash = strchr(p, '/')); p = slash + 1) {
		*slash = 0;
		r = fsrun_open_in_root(rootfd, copy, O_PATH | O_DIRECTORY, 0);
		if (r == -ENOENT) {
			char *base = strrchr(copy, '/');
			int pfd;
			*base = 0;
			pfd = fsrun_open_in_root(rootfd, *copy ? copy : "/", O_PATH | O_DIRECTORY,
						 0);
			*base = '/';
			if (pfd < 0)
				return pfd;
			r = mkdirat(pfd, base + 1, 0755) < 0 && errno != EEXIST ? -errno : 0;
			close(pfd);
		} else if (r >= 0) {
			close(r);
			r = 0;
		}
		*slash = '/';
		if (r < 0)
			return r;
	}
	slash = strrchr(copy, '/');
	*slash = 0;
	int pfd = fsrun_open_in_root(rootfd, *copy ? copy : "/", O_PATH | O_DIRECTORY, 0);
	if (pfd < 0)
		return pfd;
	if (dir) {
		r = mkdirat(pfd, slash + 1, 0755) < 0 && errno != EEXIST ? -errno : 0;
	} else {
		int ffd = openat(pfd, slash + 1, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
		r = ffd < 0 ? -errno : 0;
		if (ffd >= 0)
			close(ffd);
	}
	close(pfd);
	if (r < 0)
		return r;
	fd = fsrun_open_in_root(rootfd, path, O_PATH, 0);
	if (fd < 0)
		return fd;
	*ret_fd = fd;
	return 0;
}

/* mount(2) onto an O_PATH fd. */
static int mount_on(const char *src, int fd, const char *type, unsigned long flags,
		    const char *data)
{
	char p[32];

	fdpath(fd, p);
	return mount(src, p, type, flags, data) < 0 ? -errno : 0;
}

/* Makes the mount at fd (and every mount under it) read-only. */
static int make_ro(int fd)
{
	struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };

	if (syscall(SYS_mount_setattr, fd, "", AT_EMPTY_PATH | AT_RECURSIVE, &attr, sizeof(attr)) <
	    0)
		return -errno;
	return 0;
}

/* Reopens a path after something was mounted on it: the fd then names the new mount. */
static int reopen(int rootfd, const char *path, int *fd)
{
	int nfd = fsrun_open_in_root(rootfd, path, O_PATH, 0);

	if (nfd < 0)
		return nfd;
	close(*fd);
	*fd = nfd;
	return 0;
}

/* Checks with statvfs that a mount meant to be read-only is. */
static int verify_ro(int rootfd, const char *path)
{
	struct statvfs sv;
	int fd = fsrun_open_in_root(rootfd, path, O_PATH, 0), r = 0;

	if (fd < 0)
		return fsrun_err(fd, "cannot check '%s'", path);
	if (fstatvfs(fd, &sv) < 0)
		r = -errno;
	else if (!(sv.f_flag & ST_RDONLY))
		r = -EROFS;
	close(fd);
	return r < 0 ? fsrun_err(r, "'%s' did not become read-only", path) : 0;
}

/* Binds a host path (src) onto dst inside the root, creating dst like src. */
static int bind_host(int rootfd, const char *src, const char *dst, bool ro)
{
	struct stat st;
	int fd, r;

	if (stat(src, &st) < 0)
		return fsrun_err(-errno, "cannot bind '%s'", src);
	r = target_at(rootfd, dst, S_ISDIR(st.st_mode), &fd);
	if (r < 0)
		return fsrun_err(r, "cannot make the mount point '%s'", dst);
	r = mount_on(src, fd, NULL, MS_BIND | MS_REC, NULL);
	if (r == 0 && ro && (r = reopen(rootfd, dst, &fd)) == 0)
		r = make_ro(fd);
	close(fd);
	if (r < 0)
		return fsrun_err(r, "cannot bind '%s' on '%s'", src, dst);
	return ro ? verify_ro(rootfd, dst) : 0;
}

static int mount_tmpfs(int rootfd, const char *dst, unsigned long flags, const char *data)
{
	int fd, r;

	r = target_at(rootfd, dst, true, &fd);
	if (r < 0)
		return fsrun_err(r, "cannot make the mount point '%s'", dst);
	r = mount_on("tmpfs", fd, "tmpfs", flags, data);
	close(fd);
	return r < 0 ? fsrun_err(r, "cannot mount a tmpfs on '%s'", dst) : 0;
}

static bool is_null_device(const struct stat *st)
{
	return S_ISCHR(st->st_mode) && major(st->st_rdev) == 1 && minor(st->st_rdev) == 3;
}

static int build_dev(int rootfd)
{
	static const char *const devices[] = { "null", "zero", "full", "random", "urandom", "tty" };
	static const char *const links[][2] = {
		{ "fd", "/proc/self/fd" },	 { "stdin", "/proc/self/fd/0" },
		{ "stdout", "/proc/self/fd/1" }, { "stderr", "/proc/self/fd/2" },
		{ "ptmx", "pts/ptmx" },		 { "core", "/proc/kcore" },
	};
	struct stat st;
	int devfd, r, fd;

	r = mount_tmpfs(rootfd, "/dev", MS_NOSUID | MS_NOEXEC, "mode=0755,size=65536k");
	if (r < 0)
		return r;
	devfd = fsrun_open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY, 0);
	if (devfd < 0)
		return fsrun_err(devfd, "cannot open the new /dev");
	for (size_t i = 0; i < ARRAY_SIZE(devices); i++) {
		char host[32], dst[32];
		snprintf(host, sizeof(host), "/dev/%s", devices[i]);
		snprintf(dst, sizeof(dst), "/dev/%s", devices[i]);
		/* The host's device must be what its name says before it is handed in. */
		if (stat(host, &st) < 0 || !S_ISCHR(st.st_mode)) {
			if (strcmp(devices[i], "tty") == 0)
				continue;
			close(devfd);
			return fsrun_err(-ENODEV, "the host's %s is not a character device", host);
		}
		r = bind_host(rootfd, host, dst, false);
		if (r < 0) {
			close(devfd);
			return r;
		}
	}
	for (size_t i = 0; i < ARRAY_SIZE(links); i++) {
		if (i == 5)
			break; /* /dev/core only where kcore is readable: never */
		if (symlinkat(links[i][1], devfd, links[i][0]) < 0 && errno != EEXIST) {
			r = fsrun_err(-errno, "cannot make /dev/%s", links[i][0]);
			close(devfd);
			return r;
		}
	}
	if (mkdirat(devfd, "pts", 0755) < 0 || mkdirat(devfd, "shm", 01777) < 0) {
		r = fsrun_err(-errno, "cannot populate /dev");
		close(devfd);
		return r;
	}
	close(devfd);
	r = target_at(rootfd, "/dev/pts", true, &fd);
	if (r == 0) {
		r = mount_on("devpts", fd, "devpts", MS_NOSUID | MS_NOEXEC,
			     "newinstance,ptmxmode=0666,mode=0620");
		close(fd);
	}
	if (r < 0)
		return fsrun_err(r, "cannot mount devpts on /dev/pts");
	r = mount_tmpfs(rootfd, "/dev/shm", MS_NOSUID | MS_NODEV | MS_NOEXEC,
			"mode=1777,size=65536k");
	if (r < 0)
		return r;
	/* What masks /proc below must be the null device, not whatever the image put there. */
	fd = fsrun_open_in_root(rootfd, "/dev/null", O_PATH | O_NOFOLLOW, 0);
	if (fd < 0 || fstat(fd, &st) < 0 || !is_null_device(&st)) {
		if (fd >= 0)
			close(fd);
		return fsrun_err(-ENODEV, "/dev/null in the container is not the null device");
	}
	close(fd);
	return 0;
}

/* Hides each directory that exists under an empty read-only tmpfs. */
static int mask_dirs(int rootfd, const char *const *dirs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int fd = fsrun_open_in_root(rootfd, dirs[i], O_PATH | O_NOFOLLOW | O_DIRECTORY, 0);
		int r;
		if (fd < 0)
			continue;
		r = mount_on("tmpfs", fd, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC,
			     "size=0");
		close(fd);
		if (r < 0)
			return fsrun_err(r, "cannot mask '%s'", dirs[i]);
	}
	return 0;
}

static int build_proc(int rootfd)
{
	/* The lists docker and podman use by default. */
	static const char *const masked[] = {
		"/proc/kcore",	    "/proc/keys",	 "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
	};
	static const char *const masked_dirs[] = { "/proc/acpi", "/proc/scsi", "/proc/asound" };
	static const char *const readonly[] = { "/proc/sys", "/proc/sysrq-trigger", "/proc/irq",
						"/proc/bus", "/proc/fs" };
	int fd, r;

	r = target_at(rootfd, "/proc", true, &fd);
	if (r < 0)
		return fsrun_err(r, "cannot make the mount point /proc");
	r = mount_on("proc", fd, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
	close(fd);
	if (r < 0)
		return fsrun_err(r, "cannot mount /proc");
	/* Read-only kernel knobs: bound on themselves, then made read-only. */
	for (size_t i = 0; i < ARRAY_SIZE(readonly); i++) {
		fd = fsrun_open_in_root(rootfd, readonly[i], O_PATH | O_NOFOLLOW, 0);
		if (fd == -ENOENT)
			continue;
		if (fd < 0)
			return fsrun_err(fd, "cannot open '%s'", readonly[i]);
		char p[32];
		fdpath(fd, p);
		r = mount(p, p, NULL, MS_BIND | MS_REC, NULL) < 0 ? -errno : 0;
		if (r == 0)
			r = reopen(rootfd, readonly[i], &fd);
		if (r == 0)
			r = make_ro(fd);
		close(fd);
		if (r < 0)
			return fsrun_err(r, "cannot make '%s' read-only", readonly[i]);
	}
	for (size_t i = 0; i < ARRAY_SIZE(masked); i++) {
		struct stat st;
		fd = fsrun_open_in_root(rootfd, masked[i], O_PATH | O_NOFOLLOW, 0);
		if (fd == -ENOENT)
			continue;
		if (fd < 0)
			return fsrun_err(fd, "cannot open '%s'", masked[i]);
		r = fstat(fd, &st) < 0 ? -errno : 0;
		if (r == 0 && S_ISREG(st.st_mode)) {
			int nfd = fsrun_open_in_root(rootfd, "/dev/null", O_PATH | O_NOFOLLOW, 0);
			char p[32];
			if (nfd < 0) {
				close(fd);
				return fsrun_err(nfd, "cannot open /dev/null");
			}
			fdpath(nfd, p);
			r = mount_on(p, fd, NULL, MS_BIND, NULL);
			close(nfd);
		}
		close(fd);
		if (r < 0)
			return fsrun_err(r, "cannot mask '%s'", masked[i]);
	}
	r = mask_dirs(rootfd, masked_dirs, ARRAY_SIZE(masked_dirs));
	return r < 0 ? r : verify_ro(rootfd, "/proc/sys");
}

static int build_sys(int rootfd)
{
	static const char *const masked_dirs[] = { "/sys/firmware",
						   "/sys/devices/virtual/powercap" };
	int fd, r;

	r = target_at(rootfd, "/sys", true, &fd);
	if (r < 0)
		return fsrun_err(r, "cannot make the mount point /sys");
	r = mount_on("/sys", fd, NULL, MS_BIND | MS_REC, NULL);
	if (r == 0)
		r = reopen(rootfd, "/sys", &fd);
	if (r == 0)
		r = make_ro(fd);
	close(fd);
	if (r < 0)
		return fsrun_err(r, "cannot bind /sys read-only");
	r = verify_ro(rootfd, "/sys");
	/* Firmware tables and power capping knobs are masked, as docker does. */
	return r < 0 ? r : mask_dirs(rootfd, masked_dirs, ARRAY_SIZE(masked_dirs));
}

/*
 * Writes one generated file into the container's fresh /dev tmpfs (nothing on the host to
 * make or clean up) and returns an O_PATH fd on it; the caller binds it and unlinks the name,
 * the bind mount keeps the file.
 */
static int gen_file(int rootfd, const char *name, const char *content, int *ret_fd)
{
	int devfd = fsrun_open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY, 0), fd, r = 0;

	if (devfd < 0)
		return devfd;
	fd = openat(devfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0) {
		r = -errno;
	} else {
		if (lf_write_full(fd, content, strlen(content)) < 0)
			r = -errno;
		close(fd);
	}
	if (r == 0) {
		fd = openat(devfd, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		r = fd < 0 ? -errno : 0;
		if (r == 0)
			*ret_fd = fd;
	}
	if (r < 0)
		unlinkat(devfd, name, 0);
	close(devfd);
	return r;
}

/* The generated /etc files: bound over the image's, or created first (not on a read-only
 * root, where a missing one stays missing). */
static int build_etc(int rootfd, const struct fsrun_sandbox *sb)
{
	static const char *const files[] = { "hosts", "hostname", "resolv.conf" };
	const char *contents[] = { sb->hosts, sb->hostname_file, sb->resolv };

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char src[32], dst[64], tmp[32];
		int fd, gfd = -1, r;
		snprintf(tmp, sizeof(tmp), ".fsrun-%s", files[i]);
		snprintf(dst, sizeof(dst), "/etc/%s", files[i]);
		if (sb->o->read_only) {
			fd = fsrun_open_in_root(rootfd, dst, O_PATH, 0);
			if (fd < 0)
				continue;
		} else {
			r = target_at(rootfd, dst, false, &fd);
			/* A --root whose /etc this container may not write keeps its own. */
			if (r == -EACCES || r == -EROFS || r == -EPERM)
				continue;
			if (r < 0)
				return fsrun_err(r, "cannot make '%s'", dst);
		}
		r = gen_file(rootfd, tmp, contents[i], &gfd);
		if (r < 0) {
			close(fd);
			return fsrun_err(r, "cannot write the container's '%s'", dst);
		}
		fdpath(gfd, src);
		r = mount_on(src, fd, NULL, MS_BIND, NULL);
		close(gfd);
		close(fd);
		int devfd = fsrun_open_in_root(rootfd, "/dev", O_PATH | O_DIRECTORY, 0);
		if (devfd >= 0) {
			unlinkat(devfd, tmp, 0); /* /dev shows only devices; the bind keeps it */
			close(devfd);
		}
		if (r < 0)
			return fsrun_err(r, "cannot bind '%s'", dst);
	}
	return 0;
}

int fsrun_loopback_up(void)
{
	struct ifreq ifr = {};
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), r = 0;

	if (s < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) {
		r = -errno;
	} else {
		ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
		if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0)
			r = -errno;
	}
	close(s);
	return r;
}

int fsrun_sandbox_enter(const struct fsrun_sandbox *sb)
{
	const struct fsrun_opts *o = sb->o;
	int rootfd, r;

	rootfd = open(sb->root, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return fsrun_err(-errno, "cannot open the root '%s'", sb->root);
	/* /tmp first, so a generated file whose name is a symlink into /tmp lands there. */
	r = mount_tmpfs(rootfd, "/tmp", MS_NOSUID | MS_NODEV, "mode=1777");
	if (r == 0)
		r = build_dev(rootfd);
	if (r == 0)
		r = build_proc(rootfd);
	if (r == 0)
		r = build_sys(rootfd);
	if (r == 0)
		r = build_etc(rootfd, sb);
	for (size_t i = 0; r == 0 && i < o->n_mounts; i++) {
		const struct fsrun_mount *m = &o->mounts[i];
		if (m->src)
			r = bind_host(rootfd, m->src, m->dst, m->ro);
		else
			r = mount_tmpfs(rootfd, m->dst, MS_NOSUID | MS_NODEV, "mode=1777");
	}
	if (r == 0 && o->read_only)
		r = verify_ro(rootfd, "/");
	close(rootfd);
	if (r < 0)
		return r;

	/* pivot_root(".", "."): the old root ends up on top of the new one, then goes. */
	if (chdir(sb->root) < 0)
		return fsrun_err(-errno, "cannot enter '%s'", sb->root);
	if (syscall(SYS_pivot_root, ".", ".") < 0)
		return fsrun_err(-errno, "pivot_root");
	if (umount2(".", MNT_DETACH) < 0)
		return fsrun_err(-errno, "cannot detach the old root");
	if (chdir("/") < 0)
		return fsrun_err(-errno, "chdir /");
	if (sethostname(sb->hostname, strlen(sb->hostname)) < 0)
		return fsrun_err(-errno, "cannot set the hostname");
	if (o->net_none && (r = fsrun_loopback_up()) < 0)
		return fsrun_err(r, "cannot bring the loopback interface up");
	return 0;
}
