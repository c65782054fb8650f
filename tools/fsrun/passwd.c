/*
 * Users and groups as the image defines them. getpwnam() would read the host's databases
 * (and load NSS modules); the image's own /etc/passwd and /etc/group are parsed instead,
 * opened with RESOLVE_IN_ROOT so a symlink in the image cannot point the read at the host.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "fsrun.h"

/* Splits a colon-separated line into at most max fields (in place); returns the count. */
static size_t split(char *line, char **f, size_t max)
{
	size_t n = 0;

	while (n < max) {
		f[n++] = line;
		line = strchr(line, ':');
		if (!line)
			break;
		*line++ = 0;
	}
	return n;
}

static bool parse_id(const char *s, unsigned *ret)
{
	char *end;
	unsigned long v;

	if (!*s || *s < '0' || *s > '9')
		return false;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || v >= UINT32_MAX)
		return false;
	*ret = v;
	return true;
}

static FILE *open_db(int rootfd, const char *path)
{
	int fd = fsrun_open_in_root(rootfd, path, O_RDONLY, 0);
	FILE *f;

	if (fd < 0)
		return NULL;
	f = fdopen(fd, "re");
	if (!f)
		close(fd);
	return f;
}

/* Finds a passwd entry by name (or by uid when name is NULL). */
static int find_passwd(int rootfd, const char *name, uid_t uid, struct fsrun_user *u)
{
	FILE *f = open_db(rootfd, "/etc/passwd");
	char *line = NULL, *fl[7];
	size_t cap = 0;
	ssize_t len;
	int r = -ENOENT;

	if (!f)
		return -ENOENT;
	while (r == -ENOENT && (len = getline(&line, &cap, f)) >= 0) {
		unsigned id, gid;
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = 0;
		if (split(line, fl, 7) < 7 || !parse_id(fl[2], &id) || !parse_id(fl[3], &gid))
			continue;
		if (name ? strcmp(fl[0], name) != 0 : id != uid)
			continue;
		u->uid = id;
		u->gid = gid;
		snprintf(u->home, sizeof(u->home), "%s", fl[5]);
		r = 0;
	}
	free(line);
	fclose(f);
	return r;
}

/* Resolves a group name to its gid, and collects the supplementary groups of user. */
static int scan_groups(int rootfd, const char *group, gid_t *ret_gid, const char *user,
		       struct fsrun_user *u)
{
	FILE *f = open_db(rootfd, "/etc/group");
	char *line = NULL, *fl[4];
	size_t cap = 0;
	ssize_t len;
	int r = group ? -ENOENT : 0;

	if (!f)
		return r;
	while ((len = getline(&line, &cap, f)) >= 0) {
		unsigned gid;
		if (len > 0 && line[len - 1] == '\n')
			line[len - 1] = 0;
		if (split(line, fl, 4) < 4 || !parse_id(fl[2], &gid))
			continue;
		if (group && r == -ENOENT && strcmp(fl[0], group) == 0) {
			*ret_gid = gid;
			r = 0;
		}
		if (!user)
			continue;
		for (char *save = NULL, *m = strtok_r(fl[3], ",", &save); m;
		     m = strtok_r(NULL, ",", &save)) {
			if (strcmp(m, user) == 0 && u->n_groups < ARRAY_SIZE(u->groups)) {
				u->groups[u->n_groups++] = gid;
				break;
			}
		}
	}
	free(line);
	fclose(f);
	return r;
}

int fsrun_user_resolve(int rootfd, const char *spec, struct fsrun_user *ret)
{
	struct fsrun_user u = { .uid = 0, .gid = 0 };
	_cleanup_free_ char *copy = strdup(spec ? spec : "0");
	char *group, *name = NULL;
	unsigned id;
	int r;

	if (!copy)
		return -ENOMEM;
	group = strchr(copy, ':');
	if (group)
		*group++ = 0;
	if (parse_id(copy, &id)) {
		/* A numeric uid needs no entry, but takes its group and home from one. */
		if (find_passwd(rootfd, NULL, id, &u) < 0) {
			u.uid = id;
			u.gid = 0;
		}
	} else {
		r = find_passwd(rootfd, copy, 0, &u);
		if (r < 0)
			return fsrun_err(0, "user '%s' is not in the image's /etc/passwd", copy), r;
		name = copy;
	}
	if (group && *group) {
		gid_t gid;
		if (parse_id(group, &id)) {
			u.gid = id;
			group = NULL;
		}
		r = scan_groups(rootfd, group, &gid, name, &u);
		if (r < 0)
			return fsrun_err(0, "group '%s' is not in the image's /etc/group", group),
			       r;
		if (group)
			u.gid = gid;
	} else if (name) {
		scan_groups(rootfd, NULL, NULL, name, &u);
	}
	*ret = u;
	return 0;
}
