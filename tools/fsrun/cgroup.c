/*
 * --memory, --pids-limit and --cpus: a cgroup of the container's own, made before its init
 * runs anything and removed after it ends.
 *
 *   cgroup v2 (unified /sys/fs/cgroup): root makes /sys/fs/cgroup/fsrun/NAME and enables the
 *   memory, pids and cpu controllers on the way; other users get a child of their own cgroup
 *   when it is delegated to them (writable, controllers enabled), as systemd does for a user
 *   session's scopes.
 *   cgroup v1 (or hybrid, the v1 controllers mounted under /sys/fs/cgroup/<controller>): root
 *   makes fsrun/NAME in each controller's hierarchy.
 * Where neither works the limits are not applied, with a warning saying so.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "layerfs/util.h"
#include "fsrun.h"

#define CG "/sys/fs/cgroup"

int fsrun_parse_size(const char *s, int64_t *ret)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || v <= 0)
		return -EINVAL;
	switch (*end) {
	case 'k':
	case 'K':
		v *= 1024, end++;
		break;
	case 'm':
	case 'M':
		v *= 1024 * 1024, end++;
		break;
	case 'g':
	case 'G':
		v *= 1024.0 * 1024 * 1024, end++;
		break;
	}
	if (*end == 'b' || *end == 'B')
		end++;
	if (*end || v > 9.0e18)
		return -EINVAL;
	*ret = (int64_t)v;
	return 0;
}

static int write_to(const char *dir, const char *file, const char *value)
{
	_cleanup_free_ char *path = lf_strdup_printf("%s/%s", dir, file);
	int fd, r = 0;

	if (!path)
		return -ENOMEM;
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, value, strlen(value)) < 0)
		r = -errno;
	close(fd);
	return r;
}

static int mkdir_ok(const char *path)
{
	return mkdir(path, 0755) < 0 && errno != EEXIST ? -errno : 0;
}

/* The calling process's cgroup v2 path ("0::/a/b" in /proc/self/cgroup). */
static char *own_v2_path(void)
{
	char *buf = NULL, *line, *save = NULL;
	size_t len;

	if (lf_read_file_at(AT_FDCWD, "/proc/self/cgroup", 1 << 16, &buf, &len) < 0)
		return NULL;
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "0::", 3) == 0) {
			char *p = strdup(line + 3);
			free(buf);
			return p;
		}
	}
	free(buf);
	return NULL;
}

static int setup_v2(struct fsrun_cgroup *cg, const char *name, const struct fsrun_limits *l,
		    pid_t pid)
{
	_cleanup_free_ char *own = NULL, *base = NULL;
	char v[64];
	int r;

	if (geteuid() == 0) {
		base = strdup(CG "/fsrun");
		/* The root cgroup may hold processes and still hand controllers down. */
		write_to(CG, "cgroup.subtree_control", "+memory +pids +cpu");
		r = mkdir_ok(base);
		if (r < 0)
			return r;
	} else {
		own = own_v2_path();
		if (!own)
			return -ENOENT;
		base = lf_strdup_printf(CG "%s", own);
	}
	if (!base)
		return -ENOMEM;
	r = write_to(base, "cgroup.subtree_control", "+memory +pids +cpu");
	if (r < 0)
		return r; /* not delegated, or it holds processes itself */
	cg->dirs[0] = lf_strdup_printf("%s/fsrun-%s", base, name);
	if (!cg->dirs[0])
		return -ENOMEM;
	r = mkdir_ok(cg->dirs[0]);
	if (r < 0)
		return r;
	cg->n = 1;
	if (l->memory > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)l->memory);
		if ((r = write_to(cg->dirs[0], "memory.max", v)) < 0)
			return r;
		write_to(cg->dirs[0], "memory.swap.max", "0");
	}
	if (l->pids > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)l->pids);
		if ((r = write_to(cg->dirs[0], "pids.max", v)) < 0)
			return r;
	}
	if (l->cpus > 0) {
		snprintf(v, sizeof(v), "%lld 100000", (long long)(l->cpus * 100000));
		if ((r = write_to(cg->dirs[0], "cpu.max", v)) < 0)
			return r;
	}
	snprintf(v, sizeof(v), "%d", (int)pid);
	return write_to(cg->dirs[0], "cgroup.procs", v);
}

static int setup_v1_one(struct fsrun_cgroup *cg, const char *ctl, const char *name,
			const char *file, const char *value, pid_t pid)
{
	_cleanup_free_ char *top = lf_strdup_printf(CG "/%s/fsrun", ctl);
	char *dir;
	char v[32];
	int r;

	if (!top)
		return -ENOMEM;
	r = mkdir_ok(top);
	if (r < 0)
		return r;
	dir = lf_strdup_printf("%s/%s", top, name);
	if (!dir)
		return -ENOMEM;
	cg->dirs[cg->n++] = dir;
	r = mkdir_ok(dir);
	if (r == 0 && strcmp(ctl, "cpu") == 0)
		r = write_to(dir, "cpu.cfs_period_us", "100000");
	if (r == 0)
		r = write_to(dir, file, value);
	snprintf(v, sizeof(v), "%d", (int)pid);
	if (r == 0)
		r = write_to(dir, "cgroup.procs", v);
	return r;
}

static int setup_v1(struct fsrun_cgroup *cg, const char *name, const struct fsrun_limits *l,
		    pid_t pid)
{
	char v[64];
	int r = 0;

	if (geteuid() != 0)
		return -EPERM;
	if (l->memory > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)l->memory);
		r = setup_v1_one(cg, "memory", name, "memory.limit_in_bytes", v, pid);
	}
	if (r == 0 && l->pids > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)l->pids);
		r = setup_v1_one(cg, "pids", name, "pids.max", v, pid);
	}
	if (r == 0 && l->cpus > 0) {
		snprintf(v, sizeof(v), "%lld", (long long)(l->cpus * 100000));
		r = setup_v1_one(cg, "cpu", name, "cpu.cfs_quota_us", v, pid);
	}
	return r;
}

void fsrun_cgroup_setup(struct fsrun_cgroup *cg, const char *name, const struct fsrun_limits *l,
			pid_t pid)
{
	struct statfs sf;
	int r;

	*cg = (struct fsrun_cgroup){};
	if (l->memory <= 0 && l->pids <= 0 && l->cpus <= 0)
		return;
	if (statfs(CG, &sf) == 0 && sf.f_type == CGROUP2_SUPER_MAGIC)
		r = setup_v2(cg, name, l, pid);
	else
		r = setup_v1(cg, name, l, pid);
	if (r < 0) {
		fsrun_err(r, "warning: --memory/--pids-limit/--cpus not applied (they need root, "
			     "or a cgroup v2 subtree delegated to you)");
		fsrun_cgroup_remove(cg);
	}
}

void fsrun_cgroup_remove(struct fsrun_cgroup *cg)
{
	for (size_t i = 0; i < cg->n; i++) {
		/* The pid namespace's last processes may still be on their way out. */
		for (int t = 0; t < 100 && rmdir(cg->dirs[i]) < 0 && errno == EBUSY; t++)
			nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
		free(cg->dirs[i]);
	}
	*cg = (struct fsrun_cgroup){};
}
