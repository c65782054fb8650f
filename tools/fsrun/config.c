/*
 * The process to run, from the image config and the command line, with docker's rules:
 * --entrypoint replaces Entrypoint and drops the image's Cmd; CMD after the image replaces
 * Cmd; Env entries come first and -e/--env-file entries override them by name.
 */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/macro.h"
#include "fsrun.h"

struct strv {
	char **v;
	size_t n, cap;
};

static int strv_push(struct strv *s, const char *str)
{
	char *copy = strdup(str);

	if (!copy)
		return -ENOMEM;
	if (s->n + 2 > s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 8;
		char **nv = realloc(s->v, ncap * sizeof(*nv));
		if (!nv) {
			free(copy);
			return -ENOMEM;
		}
		s->v = nv;
		s->cap = ncap;
	}
	s->v[s->n++] = copy;
	s->v[s->n] = NULL;
	return 0;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/* Appends a JSON array of strings (or a lone string, as some writers emit). */
static int push_json(struct strv *s, json_t *a, const char *what)
{
	size_t i;
	json_t *e;

	if (!a || json_is_null(a))
		return 0;
	if (json_is_string(a))
		return strv_push(s, json_string_value(a));
	if (!json_is_array(a))
		return fsrun_invalid("the image config's %s is not a list of strings", what);
	json_array_foreach(a, i, e)
	{
		if (!json_is_string(e))
			return fsrun_invalid("the image config's %s is not a list of strings",
					     what);
		if (strv_push(s, json_string_value(e)) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* Sets "K=V" in env, replacing an entry of the same name. "K" alone takes fsrun's own
 * value of K, or is dropped when fsrun has none. */
static int env_set(struct strv *env, const char *kv)
{
	const char *eq = strchr(kv, '=');
	_cleanup_free_ char *owned = NULL;
	size_t klen;

	if (!eq) {
		const char *v = getenv(kv);
		if (!v)
			return 0;
		owned = malloc(strlen(kv) + strlen(v) + 2);
		if (!owned)
			return -ENOMEM;
		sprintf(owned, "%s=%s", kv, v);
		kv = owned;
		eq = strchr(kv, '=');
	}
	klen = eq - kv;
	if (klen == 0)
		return fsrun_invalid("environment entry '%s' has no name", kv);
	for (size_t i = 0; i < env->n; i++) {
		if (strncmp(env->v[i], kv, klen) == 0 && env->v[i][klen] == '=') {
			char *copy = strdup(kv);
			if (!copy)
				return -ENOMEM;
			free(env->v[i]);
			env->v[i] = copy;
			return 0;
		}
	}
	return strv_push(env, kv);
}

static bool env_has(char **env, const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, len) == 0 && env[i][len] == '=')
			return true;
	return false;
}

int fsrun_env_defaults(char ***env, const char *home)
{
	struct strv s = { .v = *env };
	int r = 0;

	while (s.v && s.v[s.n])
		s.n++;
	s.cap = s.n + 1;
	if (!env_has(s.v, "PATH"))
		r = strv_push(&s,
			      "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	if (r == 0 && !env_has(s.v, "HOME")) {
		_cleanup_free_ char *h = malloc(strlen(home && *home ? home : "/") + 6);
		if (!h)
			return -ENOMEM;
		sprintf(h, "HOME=%s", home && *home ? home : "/");
		r = strv_push(&s, h);
	}
	*env = s.v;
	return r;
}

int fsrun_env_file_load(struct fsrun_opts *o, const char *path)
{
	FILE *f = fopen(path, "re");
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int r = 0;

	if (!f)
		return fsrun_err(-errno, "cannot open env file '%s'", path);
	while ((len = getline(&line, &cap, f)) >= 0) {
		char *p = line, **nv;
		while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			line[--len] = 0;
		while (*p == ' ' || *p == '\t')
			p++;
		if (!*p || *p == '#')
			continue;
		nv = realloc(o->env, (o->n_env + 1) * sizeof(*nv));
		if (!nv || !(nv[o->n_env] = strdup(p))) {
			if (nv)
				o->env = nv;
			r = -ENOMEM;
			break;
		}
		o->env = nv;
		o->n_env++;
	}
	free(line);
	fclose(f);
	return r;
}

int fsrun_proc_build(const char *config_json, const struct fsrun_opts *o, struct fsrun_proc *ret)
{
	struct strv argv = {}, env = {};
	const char *cwd = NULL, *user = NULL;
	json_t *root = NULL, *cfg = NULL;
	json_error_t jerr;
	int r = 0;

	if (config_json) {
		root = json_loads(config_json, 0, &jerr);
		if (!json_is_object(root)) {
			json_decref(root);
			return fsrun_invalid("the image config is not a JSON object");
		}
		cfg = json_object_get(root, "config");
		if (cfg && !json_is_object(cfg))
			cfg = NULL;
	}
	if (o->entrypoint_set) {
		if (*o->entrypoint)
			r = strv_push(&argv, o->entrypoint);
	} else if (cfg) {
		r = push_json(&argv, json_object_get(cfg, "Entrypoint"), "Entrypoint");
	}
	if (r == 0 && o->cmd && o->cmd[0]) {
		for (size_t i = 0; r == 0 && o->cmd[i]; i++)
			r = strv_push(&argv, o->cmd[i]);
	} else if (r == 0 && cfg && !o->entrypoint_set) {
		r = push_json(&argv, json_object_get(cfg, "Cmd"), "Cmd");
	}
	if (r == 0 && argv.n == 0)
		r = fsrun_invalid("no command given and the image has no Entrypoint or Cmd");

	if (r == 0 && cfg) {
		struct strv img = {};
		r = push_json(&img, json_object_get(cfg, "Env"), "Env");
		for (size_t i = 0; r == 0 && i < img.n; i++)
			if (strchr(img.v[i], '='))
				r = env_set(&env, img.v[i]);
		strv_free(img.v);
		json_t *w = json_object_get(cfg, "WorkingDir");
		if (json_is_string(w) && *json_string_value(w))
			cwd = json_string_value(w);
		json_t *u = json_object_get(cfg, "User");
		if (json_is_string(u) && *json_string_value(u))
			user = json_string_value(u);
	}
	for (size_t i = 0; r == 0 && i < o->n_env; i++)
		r = env_set(&env, o->env[i]);
	if (o->workdir)
		cwd = o->workdir;
	if (o->user)
		user = o->user;
	if (r == 0 && cwd && cwd[0] != '/')
		r = fsrun_invalid("working directory '%s' is not an absolute path", cwd);
	if (r == 0 && !env.v && !(env.v = calloc(1, sizeof(*env.v))))
		r = -ENOMEM;
	if (r == 0) {
		ret->argv = argv.v;
		ret->env = env.v;
		ret->cwd = strdup(cwd ? cwd : "/");
		ret->user = user ? strdup(user) : NULL;
		if (!ret->cwd || (user && !ret->user))
			r = -ENOMEM;
		argv.v = env.v = NULL;
	}
	json_decref(root);
	strv_free(argv.v);
	strv_free(env.v);
	return r;
}

void fsrun_proc_done(struct fsrun_proc *p)
{
	strv_free(p->argv);
	strv_free(p->env);
	free(p->cwd);
	free(p->user);
	*p = (struct fsrun_proc){};
}
