/*
 * A running container's record, for `fsrun exec` and `fsrun stop`: run/fsrun-NAME.json in the
 * store, written by the monitor (the fsrun process that started it) once the payload runs and
 * removed when it ends. It names the monitor and the init by pid and by start time, so a
 * record left by a killed monitor is recognised as stale instead of pointing at whatever
 * process reused the pid.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "layerfs/util.h"
#include "fsrun.h"

char *fsrun_state_path(const char *store_path, const char *name)
{
	return lf_strdup_printf("%s/run/fsrun-%s.json", store_path, name);
}

uint64_t fsrun_proc_starttime(pid_t pid)
{
	char path[64], buf[1024], *p;
	unsigned long long start = 0;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	/* The command name may hold spaces and parentheses: fields start after the last ')'. */
	p = strrchr(buf, ')');
	if (!p)
		return 0;
	/* After ") " come field 3 (state) .. 22 (starttime). */
	if (sscanf(p + 2,
		   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %*u %*u %*d %*d %*d %*d "
		   "%*d %*d %llu",
		   &start) != 1)
		return 0;
	return start;
}

int fsrun_state_save(const char *path, const struct fsrun_state *st)
{
	_cleanup_free_ char *text = NULL, *dir = strdup(path), *base = NULL;
	json_t *env = json_array(), *o;
	int dfd, r;

	if (!dir || !env)
		return -ENOMEM;
	for (size_t i = 0; st->env && st->env[i]; i++)
		json_array_append_new(env, json_string(st->env[i]));
	o = json_pack("{s:I, s:I, s:I, s:I, s:i, s:b, s:b, s:I, s:o, s:s, s:s?}", "init",
		      (json_int_t)st->init, "init_start", (json_int_t)st->init_start, "monitor",
		      (json_int_t)st->monitor, "monitor_start", (json_int_t)st->monitor_start,
		      "ids", (int)st->ids, "net_none", st->net_none, "read_only", st->read_only,
		      "caps", (json_int_t)st->caps, "env", env, "cwd", st->cwd, "user", st->user);
	if (!o)
		return -ENOMEM;
	text = json_dumps(o, JSON_COMPACT);
	json_decref(o);
	if (!text)
		return -ENOMEM;
	char *slash = strrchr(dir, '/');
	*slash = 0;
	base = strdup(slash + 1);
	if (!base)
		return -ENOMEM;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	r = lf_write_file_atomic_at(dfd, base, text, strlen(text), 0644);
	close(dfd);
	return r;
}

static bool alive(pid_t pid, uint64_t start)
{
	return pid > 0 && start != 0 && fsrun_proc_starttime(pid) == start;
}

int fsrun_state_load(const char *path, struct fsrun_state *ret)
{
	struct fsrun_state st = {};
	json_error_t jerr;
	json_t *o, *env, *e;
	json_int_t init, init_start, monitor, monitor_start, caps;
	const char *cwd = NULL, *user = NULL;
	json_t *juser = NULL;
	int ids, net_none, read_only;
	size_t i;

	o = json_load_file(path, 0, &jerr);
	if (!o)
		return access(path, F_OK) < 0 ? -ENOENT : -EBADMSG;
	if (json_unpack(o, "{s:I, s:I, s:I, s:I, s:i, s:b, s:b, s:I, s:o, s:s, s?o}", "init", &init,
			"init_start", &init_start, "monitor", &monitor, "monitor_start",
			&monitor_start, "ids", &ids, "net_none", &net_none, "read_only", &read_only,
			"caps", &caps, "env", &env, "cwd", &cwd, "user", &juser) < 0 ||
	    !json_is_array(env)) {
		json_decref(o);
		return -EBADMSG;
	}
	if (json_is_string(juser))
		user = json_string_value(juser);
	st.init = init;
	st.init_start = init_start;
	st.monitor = monitor;
	st.monitor_start = monitor_start;
	st.ids = ids;
	st.net_none = net_none;
	st.read_only = read_only;
	st.caps = caps;
	st.env = calloc(json_array_size(env) + 1, sizeof(*st.env));
	st.cwd = strdup(cwd);
	st.user = user ? strdup(user) : NULL;
	if (!st.env || !st.cwd || (user && !st.user)) {
		json_decref(o);
		fsrun_state_done(&st);
		return -ENOMEM;
	}
	json_array_foreach(env, i, e)
	{
		if (json_is_string(e) && !(st.env[i] = strdup(json_string_value(e)))) {
			json_decref(o);
			fsrun_state_done(&st);
			return -ENOMEM;
		}
	}
	json_decref(o);
	/* A record whose processes are gone (or are other processes now) is stale. */
	if (!alive(st.init, st.init_start) || !alive(st.monitor, st.monitor_start)) {
		fsrun_state_done(&st);
		return -ESRCH;
	}
	*ret = st;
	return 0;
}

void fsrun_state_done(struct fsrun_state *st)
{
	for (size_t i = 0; st->env && st->env[i]; i++)
		free(st->env[i]);
	free(st->env);
	free(st->cwd);
	free(st->user);
	*st = (struct fsrun_state){};
}
