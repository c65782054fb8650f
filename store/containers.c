/*
 * Containers at rest: containers/<id>/{upper,work,config.json}, created in a stage under
 * tmp/ and renamed into place whole, and the flock'ed leases in run/ that say which are
 * mounted and where.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layerfs/container.h"
#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "layerfs/util.h"

#define CONFIG_MAX (1u << 20)

static bool is_hex_id(const char *s)
{
	if (strlen(s) != LF_CONTAINER_ID_LEN)
		return false;
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

void lf_container_free(struct lf_container *c)
{
	if (!c)
		return;
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	if (c->stage_name && c->stage_fd >= 0) {
		/* Never committed: nothing of it may stay. */
		int tmp_fd = openat(c->stage_fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (tmp_fd >= 0) {
			lf_rm_rf_at(tmp_fd, c->stage_name);
			close(tmp_fd);
		}
	}
	if (c->stage_fd >= 0)
		close(c->stage_fd);
	free(c->stage_name);
	free(c->name);
	free(c->ref);
	free(c->diff_ids);
	free(c);
}

DEFINE_FREEP(struct lf_container, lf_container_free)

static struct lf_container *container_new(void)
{
	struct lf_container *c = calloc(1, sizeof(*c));

	if (c)
		c->dir_fd = c->stage_fd = -1;
	return c;
}

static json_t *to_json(const struct lf_container *c)
{
	char buf[LF_DIGEST_STR_MAX];
	json_t *o = json_object(), *ids = json_array();

	if (!o || !ids) {
		json_decref(o);
		json_decref(ids);
		return NULL;
	}
	for (size_t i = 0; i < c->n_layers; i++)
		json_array_append_new(ids, json_string(lf_digest_format(&c->diff_ids[i], buf)));
	json_object_set_new(o, "id", json_string(c->id));
	json_object_set_new(o, "name", json_string(c->name));
	json_object_set_new(o, "image", json_string(lf_digest_format(&c->image, buf)));
	json_object_set_new(o, "ref", c->ref ? json_string(c->ref) : json_null());
	json_object_set_new(o, "diffIds", ids);
	json_object_set_new(o, "chainId", json_string(lf_digest_format(&c->chain_id, buf)));
	json_object_set_new(o, "created", json_string(c->created));
	json_object_set_new(o, "readOnly", json_boolean(c->read_only));
	return o;
}

static int from_json(const char *text, size_t len, struct lf_container *c)
{
	_cleanup_(json_decrefp) json_t *o = json_loadb(text, len, 0, NULL);
	const char *id, *name, *image, *chain, *created;
	json_t *ref, *ids, *v;
	size_t i;

	if (!o || !json_is_object(o))
		return -EBADMSG;
	id = json_string_value(json_object_get(o, "id"));
	name = json_string_value(json_object_get(o, "name"));
	image = json_string_value(json_object_get(o, "image"));
	chain = json_string_value(json_object_get(o, "chainId"));
	created = json_string_value(json_object_get(o, "created"));
	ref = json_object_get(o, "ref");
	ids = json_object_get(o, "diffIds");
	if (!id || !is_hex_id(id) || !name || !lf_container_name_is_valid(name) || !image ||
	    !chain || !json_is_array(ids) || json_array_size(ids) == 0 ||
	    json_array_size(ids) > 4096)
		return -EBADMSG;
	memcpy(c->id, id, sizeof(c->id));
	c->name = strdup(name);
	c->ref = json_is_string(ref) ? strdup(json_string_value(ref)) : NULL;
	c->n_layers = json_array_size(ids);
	c->diff_ids = calloc(c->n_layers, sizeof(*c->diff_ids));
	if (!c->name || !c->diff_ids || (json_is_string(ref) && !c->ref))
		return -ENOMEM;
	if (lf_digest_parse(image, &c->image) < 0 || lf_digest_parse(chain, &c->chain_id) < 0)
		return -EBADMSG;
	json_array_foreach(ids, i, v)
	{
		if (!json_is_string(v) ||
		    lf_digest_parse(json_string_value(v), &c->diff_ids[i]) < 0)
			return -EBADMSG;
	}
	snprintf(c->created, sizeof(c->created), "%s", created ? created : "");
	c->read_only = json_is_true(json_object_get(o, "readOnly"));
	return 0;
}

static int write_config(const struct lf_container *c)
{
	_cleanup_(json_decrefp) json_t *o = to_json(c);
	_cleanup_free_ char *text = NULL;

	if (!o)
		return -ENOMEM;
	text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
	if (!text)
		return -ENOMEM;
	return lf_write_file_atomic_at(c->dir_fd, "config.json", text, strlen(text), 0644);
}

int lf_container_load(struct lf_store *s, const char *id, struct lf_container **ret)
{
	_cleanup_(lf_container_freep) struct lf_container *c = NULL;
	_cleanup_free_ char *text = NULL;
	size_t len;
	int r;

	if (!is_hex_id(id))
		return -ENOENT;
	c = container_new();
	if (!c)
		return -ENOMEM;
	c->dir_fd = openat(s->containers_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dir_fd < 0)
		return -errno;
	r = lf_read_file_at(c->dir_fd, "config.json", CONFIG_MAX, &text, &len);
	if (r < 0)
		return r == -ENOENT ? -EBADMSG : r;
	r = from_json(text, len, c);
	if (r < 0)
		return r;
	if (strcmp(c->id, id) != 0)
		return -EBADMSG;
	*ret = TAKE_PTR(c);
	return 0;
}

static int cmp_created(const void *a, const void *b)
{
	const struct lf_container *x = *(struct lf_container *const *)a;
	const struct lf_container *y = *(struct lf_container *const *)b;
	int c = strcmp(x->created, y->created);

	return c ? c : strcmp(x->name, y->name);
}

void lf_container_list_free(struct lf_container **list, size_t n)
{
	if (!list)
		return;
	for (size_t i = 0; i < n; i++)
		lf_container_free(list[i]);
	free(list);
}

int lf_container_list(struct lf_store *s, struct lf_container ***ret, size_t *ret_n)
{
	struct lf_container **list = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	fd = openat(s->containers_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		struct lf_container *c;
		if (!is_hex_id(de->d_name))
			continue;
		if (lf_container_load(s, de->d_name, &c) < 0)
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 16;
			struct lf_container **nl = realloc(list, ncap * sizeof(*list));
			if (!nl) {
				lf_container_free(c);
				r = -ENOMEM;
				break;
			}
			list = nl;
			cap = ncap;
		}
		list[n++] = c;
	}
	closedir(d);
	if (r < 0) {
		lf_container_list_free(list, n);
		return r;
	}
	if (n)
		qsort(list, n, sizeof(*list), cmp_created);
	*ret = list;
	*ret_n = n;
	return 0;
}

int lf_container_lookup(struct lf_store *s, const char *name_or_id, struct lf_container **ret,
			struct lf_err *err)
{
	struct lf_container **list = NULL, *found = NULL;
	size_t n = 0, matches = 0, plen = strlen(name_or_id);
	int r;

	r = lf_container_list(s, &list, &n);
	if (r < 0)
		return lf_err_set(err, r, "cannot list containers: %s", strerror(-r));
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(list[i]->name, name_or_id)) {
			found = list[i];
			matches = 1;
			break;
		}
	}
	if (!found && plen > 0 && plen <= LF_CONTAINER_ID_LEN) {
		for (size_t i = 0; i < n; i++) {
			if (!strncmp(list[i]->id, name_or_id, plen)) {
				found = list[i];
				matches++;
			}
		}
	}
	if (matches == 1) {
		for (size_t i = 0; i < n; i++)
			if (list[i] == found)
				list[i] = NULL;
	}
	lf_container_list_free(list, n);
	if (matches == 0)
		return lf_err_set(err, -ENOENT, "no container '%s'; see 'layerfs ps'", name_or_id);
	if (matches > 1) {
		return lf_err_set(err, -EINVAL,
				  "'%s' matches several containers; give more of the id",
				  name_or_id);
	}
	*ret = found;
	return 0;
}

static bool name_taken(struct lf_store *s, const char *name)
{
	struct lf_container **list = NULL;
	size_t n = 0;
	bool taken = false;

	if (lf_container_list(s, &list, &n) < 0)
		return false;
	for (size_t i = 0; i < n && !taken; i++)
		taken = !strcmp(list[i]->name, name);
	lf_container_list_free(list, n);
	return taken;
}

/* "docker.io/library/busybox:1.36" -> "busybox" */
static void image_name(const char *ref, char *out, size_t size)
{
	const char *p = ref ? strrchr(ref, '/') : NULL, *colon;
	size_t n = 0;

	p = p ? p + 1 : ref;
	if (!p || !*p) {
		snprintf(out, size, "container");
		return;
	}
	colon = strchr(p, ':');
	for (const char *q = p; *q && q != colon && strchr(q, '@') != q && n + 1 < size && n < 64;
	     q++) {
		char c = *q;
		bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			  (c >= '0' && c <= '9') || (n > 0 && (c == '_' || c == '.' || c == '-'));
		if (ok)
			out[n++] = c;
	}
	out[n] = 0;
	if (n == 0)
		snprintf(out, size, "container");
}

int lf_container_stage(struct lf_store *s, const struct lf_container_spec *spec,
		       struct lf_container **ret, struct lf_err *err)
{
	_cleanup_(lf_container_freep) struct lf_container *c = NULL;
	char hex[33], hex2[33], base[80];
	struct tm tm;
	time_t now;
	int r;

	if (spec->n_layers == 0)
		return lf_err_set(err, -EINVAL, "an image without layers cannot be mounted");
	if (spec->name && !lf_container_name_is_valid(spec->name))
		return lf_err_set(err, -EINVAL,
				  "invalid container name '%s': use letters, digits, '_', '.', '-'",
				  spec->name);
	if (spec->name && name_taken(s, spec->name))
		return lf_err_set(err, -EEXIST, "a container named '%s' exists already",
				  spec->name);
	c = container_new();
	if (!c)
		return -ENOMEM;
	if ((r = lf_random_hex(hex)) < 0 || (r = lf_random_hex(hex2)) < 0)
		return lf_err_set(err, r, "no randomness for a container id");
	snprintf(c->id, sizeof(c->id), "%s%s", hex, hex2);
	if (spec->name) {
		c->name = strdup(spec->name);
	} else {
		image_name(spec->ref, base, sizeof(base));
		for (int tries = 0; tries < 16; tries++) {
			char rnd[33];
			free(c->name);
			if (lf_random_hex(rnd) < 0)
				memcpy(rnd, c->id + 32, 6);
			c->name = lf_strdup_printf("%s-%.6s", base, rnd);
			if (!c->name || !name_taken(s, c->name))
				break;
		}
	}
	c->ref = spec->ref ? strdup(spec->ref) : NULL;
	c->diff_ids = calloc(spec->n_layers, sizeof(*c->diff_ids));
	if (!c->name || (spec->ref && !c->ref) || !c->diff_ids)
		return -ENOMEM;
	memcpy(c->diff_ids, spec->diff_ids, spec->n_layers * sizeof(*c->diff_ids));
	c->n_layers = spec->n_layers;
	c->image = *spec->image;
	lf_chain_id(c->diff_ids, c->n_layers, &c->chain_id);
	c->read_only = spec->read_only;
	now = time(NULL);
	gmtime_r(&now, &tm);
	strftime(c->created, sizeof(c->created), "%Y-%m-%dT%H:%M:%SZ", &tm);

	r = lf_store_mkstage(s, &c->stage_name, &c->stage_fd);
	if (r < 0)
		return lf_err_set(err, r, "cannot make a staging directory: %s", strerror(-r));
	if (mkdirat(c->stage_fd, c->id, 0700) < 0)
		return lf_err_set(err, -errno, "cannot create the container: %m");
	c->dir_fd = openat(c->stage_fd, c->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->dir_fd < 0)
		return lf_err_set(err, -errno, "cannot open the container: %m");
	if (mkdirat(c->dir_fd, "upper", 0755) < 0 || mkdirat(c->dir_fd, "work", 0700) < 0)
		return lf_err_set(err, -errno, "cannot create the container's directories: %m");
	r = write_config(c);
	if (r < 0)
		return lf_err_set(err, r, "cannot write the container's config: %s", strerror(-r));
	*ret = TAKE_PTR(c);
	return 0;
}

int lf_container_commit(struct lf_store *s, struct lf_container *c, struct lf_err *err)
{
	char path[128];
	int lock_fd, r;

	if (!c->stage_name)
		return 0;
	r = lf_store_meta_lock(s, &lock_fd);
	if (r < 0)
		return lf_err_set(err, r, "cannot lock the store: %s", strerror(-r));
	if (name_taken(s, c->name)) {
		close(lock_fd);
		return lf_err_set(err, -EEXIST, "a container named '%s' exists already", c->name);
	}
	snprintf(path, sizeof(path), "%s/%s", c->stage_name, c->id);
	if (renameat(s->tmp_fd, path, s->containers_fd, c->id) < 0) {
		r = -errno;
		close(lock_fd);
		return lf_err_set(err, r, "cannot publish the container: %s", strerror(-r));
	}
	lf_fsync_dir_at(s->containers_fd, ".");
	close(lock_fd);
	lf_rm_rf_at(s->tmp_fd, c->stage_name);
	free(c->stage_name);
	c->stage_name = NULL;
	close(c->stage_fd);
	c->stage_fd = -1;
	return 0;
}

int lf_container_create(struct lf_store *s, const struct lf_container_spec *spec,
			struct lf_container **ret, struct lf_err *err)
{
	struct lf_container *c;
	int r;

	r = lf_container_stage(s, spec, &c, err);
	if (r < 0)
		return r;
	r = lf_container_commit(s, c, err);
	if (r < 0) {
		lf_container_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

int lf_container_open_dirs(struct lf_container *c, int *ret_upper, int *ret_work)
{
	int u, w;

	u = openat(c->dir_fd, "upper", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (u < 0)
		return -errno;
	w = openat(c->dir_fd, "work", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (w < 0) {
		int r = -errno;
		close(u);
		return r;
	}
	*ret_upper = u;
	*ret_work = w;
	return 0;
}

/* ---- leases ---- */

static void lease_name(const char *id, char out[LF_CONTAINER_ID_LEN + 8])
{
	snprintf(out, LF_CONTAINER_ID_LEN + 8, "%s.lease", id);
}

int lf_container_lease_take(struct lf_store *s, const char *id, const char *mountpoint, int *ret_fd)
{
	_cleanup_(json_decrefp) json_t *o = NULL;
	_cleanup_free_ char *text = NULL;
	char name[LF_CONTAINER_ID_LEN + 8];
	int fd, r;

	lease_name(id, name);
	fd = openat(s->run_fd, name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	/* A query holds a shared lock for an instant: retry before calling it busy. */
	for (int i = 0;; i++) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			break;
		if (errno != EWOULDBLOCK || i >= 50) {
			r = errno == EWOULDBLOCK ? -EBUSY : -errno;
			close(fd);
			return r;
		}
		usleep(10000);
	}
	o = json_pack("{s:s, s:i}", "mountpoint", mountpoint, "pid", (int)getpid());
	text = o ? json_dumps(o, JSON_COMPACT) : NULL;
	if (!text || ftruncate(fd, 0) < 0 || lf_write_full(fd, text, strlen(text)) < 0 ||
	    lf_write_full(fd, "\n", 1) < 0) {
		r = text ? negative_errno() : -ENOMEM;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

void lf_container_lease_drop(struct lf_store *s, const char *id, int fd)
{
	char name[LF_CONTAINER_ID_LEN + 8];

	if (fd < 0)
		return;
	lease_name(id, name);
	unlinkat(s->run_fd, name, 0);
	close(fd);
}

int lf_container_lease_query(struct lf_store *s, const char *id, bool *ret_held,
			     char **ret_mountpoint)
{
	char name[LF_CONTAINER_ID_LEN + 8], buf[8192];
	json_t *o;
	ssize_t n;
	int fd;

	if (ret_mountpoint)
		*ret_mountpoint = NULL;
	lease_name(id, name);
	fd = openat(s->run_fd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if (errno != ENOENT)
			return -errno;
		*ret_held = false;
		return 0;
	}
	if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
		close(fd);
		*ret_held = false;
		return 0;
	}
	if (errno != EWOULDBLOCK) {
		int r = -errno;
		close(fd);
		return r;
	}
	*ret_held = true;
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	close(fd);
	if (n > 0 && ret_mountpoint) {
		o = json_loadb(buf, n, 0, NULL);
		const char *mp = json_string_value(json_object_get(o, "mountpoint"));
		if (mp)
			*ret_mountpoint = strdup(mp);
		json_decref(o);
	}
	return 0;
}

int lf_container_remove(struct lf_store *s, struct lf_container *c, struct lf_err *err)
{
	char gone[LF_CONTAINER_ID_LEN + 16];
	_cleanup_free_ char *mp = NULL;
	bool held;
	int fd, r;

	/* Holding the lease keeps a mount from starting while the container goes away. */
	r = lf_container_lease_take(s, c->id, "", &fd);
	if (r == -EBUSY) {
		lf_container_lease_query(s, c->id, &held, &mp);
		return lf_err_set(err, -EBUSY,
				  "container '%s' is mounted at '%s'; unmount it first", c->name,
				  mp ? mp : "?");
	}
	if (r < 0)
		return lf_err_set(err, r, "cannot lock container '%s': %s", c->name, strerror(-r));
	/* Rename first, so a removal cut short leaves no half container behind. */
	snprintf(gone, sizeof(gone), "rm-%s", c->id);
	if (renameat(s->containers_fd, c->id, s->tmp_fd, gone) < 0) {
		r = -errno;
		lf_container_lease_drop(s, c->id, fd);
		return lf_err_set(err, r, "cannot remove container '%s': %s", c->name,
				  strerror(-r));
	}
	r = lf_rm_rf_at(s->tmp_fd, gone);
	lf_container_lease_drop(s, c->id, fd);
	if (r < 0)
		return lf_err_set(err, r, "container '%s' removed, but not all of its files: %s",
				  c->name, strerror(-r));
	return 0;
}
