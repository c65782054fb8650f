/*
 * The FUSE session: mount options, the multi-threaded loop, and unmounting (including a mount
 * whose daemon died, which the kernel keeps as "Transport endpoint is not connected").
 */
#include "fuse-ops.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "layerfs/fs.h"
#include "layerfs/log.h"
#include "layerfs/macro.h"
#include "layerfs/util.h"
#include "union.h"

struct lf_fs {
	struct lf_union *u;
	struct fuse_session *se;
	bool mounted;
	bool signals;
};

/* Every upper entry the kernel holds keeps an fd: allow as many as the hard limit does. */
static void raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

int lf_fs_mount(struct lf_tree *merged, int objects_fd, int upper_fd, int work_fd,
		const struct lf_fs_options *o, struct lf_fs **ret, struct lf_err *err)
{
	_cleanup_free_ char *opts = NULL;
	struct lf_lower *lower = NULL;
	struct lf_fs *fs;
	int r;

	fs = calloc(1, sizeof(*fs));
	if (!fs) {
		close(upper_fd);
		close(work_fd);
		return -ENOMEM;
	}
	raise_nofile();
	/* Modes of new files come from the request, already masked by the kernel. */
	umask(0);
	r = lf_lower_new(merged, objects_fd, &lower);
	if (r < 0) {
		close(upper_fd);
		close(work_fd);
		free(fs);
		return lf_err_set(err, r, "cannot open the image's objects: %s", strerror(-r));
	}
	r = lf_union_new(lower, upper_fd, work_fd, o->read_only, &fs->u);
	if (r < 0) {
		free(fs);
		return lf_err_set(err, r, "cannot open the container's upper directory: %s",
				  strerror(-r));
	}

	opts = lf_strdup_printf("fsname=layerfs,subtype=layerfs,default_permissions%s%s%s",
				o->read_only ? ",ro" : "", o->fuse_options ? "," : "",
				o->fuse_options ? o->fuse_options : "");
	if (!opts) {
		lf_fs_free(fs);
		return -ENOMEM;
	}
	char *argv[] = { "layerfs", "-o", opts, o->debug ? "-d" : NULL, NULL };
	struct fuse_args args = FUSE_ARGS_INIT(o->debug ? 4 : 3, argv);

	fs->se = fuse_session_new(&args, &lf_fuse_ops, sizeof(lf_fuse_ops), fs->u);
	fuse_opt_free_args(&args);
	if (!fs->se) {
		lf_fs_free(fs);
		return lf_err_set(err, -EINVAL, "cannot start a FUSE session with options '%s'",
				  opts);
	}
	if (fuse_set_signal_handlers(fs->se) == 0)
		fs->signals = true;
	if (fuse_session_mount(fs->se, o->mountpoint) != 0) {
		lf_fs_free(fs);
		return lf_err_set(
			err, -EIO,
			"cannot mount at '%s' (is it a directory you own, and is /dev/fuse "
			"usable?)",
			o->mountpoint);
	}
	fs->mounted = true;
	*ret = fs;
	return 0;
}

int lf_fs_run(struct lf_fs *fs)
{
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int r;

	if (!cfg)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, 0);
	fuse_loop_cfg_set_max_threads(cfg, 16);
	r = fuse_session_loop_mt(fs->se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return r < 0 ? r : r > 0 ? -EINTR : 0;
}

void lf_fs_free(struct lf_fs *fs)
{
	if (!fs)
		return;
	if (fs->se) {
		if (fs->mounted)
			fuse_session_unmount(fs->se);
		if (fs->signals)
			fuse_remove_signal_handlers(fs->se);
		fuse_session_destroy(fs->se);
	}
	lf_union_free(fs->u);
	free(fs);
}

/* ---- unmounting ---- */

/* Finds the mountinfo line whose mount point is path; returns its fs type (owned). */
static int find_mount(const char *path, char **ret_fstype)
{
	_cleanup_free_ char *line = NULL;
	size_t cap = 0;
	FILE *f;
	int r = -ENOENT;

	f = fopen("/proc/self/mountinfo", "re");
	if (!f)
		return -errno;
	while (getline(&line, &cap, f) > 0) {
		char mp[4096], fstype[256];
		char *sep;
		/* id parent major:minor root mountpoint options ... - fstype source superopts */
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1)
			continue;
		sep = strstr(line, " - ");
		if (!sep || sscanf(sep + 3, "%255s", fstype) != 1)
			continue;
		/* Octal escapes (\040 for a space) as the kernel writes them. */
		for (char *s = mp, *d = mp;; s++, d++) {
			if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] && s[3]) {
				*d = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
				s += 3;
			} else {
				*d = *s;
			}
			if (!*s)
				break;
		}
		if (strcmp(mp, path) != 0)
			continue;
		free(*ret_fstype ? *ret_fstype : NULL);
		*ret_fstype = strdup(fstype);
		r = *ret_fstype ? 0 : -ENOMEM; /* keep going: the last one is on top */
	}
	fclose(f);
	return r;
}

bool lf_fs_is_mounted(const char *mountpoint)
{
	_cleanup_free_ char *type = NULL;

	return find_mount(mountpoint, &type) == 0 && !strcmp(type, "fuse.layerfs");
}

static int run_fusermount(const char *mountpoint, bool lazy)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int devnull = open("/dev/null", O_WRONLY);
		if (devnull >= 0)
			dup2(devnull, STDERR_FILENO);
		if (lazy)
			execlp("fusermount3", "fusermount3", "-u", "-z", "--", mountpoint, NULL);
		else
			execlp("fusermount3", "fusermount3", "-u", "--", mountpoint, NULL);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
		return -ENOENT;
	return -EBUSY;
}

int lf_fs_umount(const char *mountpoint, struct lf_err *err)
{
	_cleanup_free_ char *type = NULL;
	struct stat st;
	bool dead;
	int r;

	r = find_mount(mountpoint, &type);
	if (r < 0 || strcmp(type, "fuse.layerfs") != 0)
		return lf_err_set(err, -EINVAL, "'%s' is not a layerfs mount", mountpoint);
	dead = stat(mountpoint, &st) < 0 && errno == ENOTCONN;
	if (geteuid() == 0) {
		if (umount2(mountpoint, dead ? MNT_DETACH : 0) == 0)
			return 0;
		r = -errno;
		if (r == -EBUSY)
			return lf_err_set(err, r, "'%s' is busy: a process uses files under it",
					  mountpoint);
		if (!dead && umount2(mountpoint, MNT_DETACH) == 0)
			return 0;
		return lf_err_set(err, r, "cannot unmount '%s': %s", mountpoint, strerror(-r));
	}
	r = run_fusermount(mountpoint, dead);
	if (r == -ENOENT)
		return lf_err_set(err, r, "cannot unmount '%s': fusermount3 is not installed",
				  mountpoint);
	if (r < 0)
		return lf_err_set(err, r, "cannot unmount '%s': it is busy or not yours",
				  mountpoint);
	return 0;
}

int lf_fs_canonical_path(const char *path, char **ret)
{
	_cleanup_free_ char *copy = strdup(path), *dir = NULL;
	char *slash, *base, *p;

	if (!copy)
		return -ENOMEM;
	p = realpath(path, NULL);
	if (p) {
		*ret = p;
		return 0;
	}
	if (errno != ENOTCONN && errno != EIO)
		return -errno;
	/* Drop trailing slashes, then split into parent and last component. */
	for (size_t n = strlen(copy); n > 1 && copy[n - 1] == '/'; n--)
		copy[n - 1] = 0;
	slash = strrchr(copy, '/');
	if (!slash) {
		dir = realpath(".", NULL);
		base = copy;
	} else if (slash == copy) {
		dir = strdup("/");
		base = slash + 1;
	} else {
		*slash = 0;
		dir = realpath(copy, NULL);
		base = slash + 1;
	}
	if (!dir)
		return -errno;
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		p = realpath(path, NULL);
		if (!p)
			return -errno;
	} else {
		p = lf_strdup_printf("%s%s%s", dir, strcmp(dir, "/") ? "/" : "", base);
		if (!p)
			return -ENOMEM;
	}
	*ret = p;
	return 0;
}
