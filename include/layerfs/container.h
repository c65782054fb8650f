/*
 * Containers: a writable upper over one image, at rest in containers/<id>/{upper,work,
 * config.json} (upper is in the kernel overlayfs format). A live mount holds the lease
 * run/<id>.lease with flock and records its mountpoint there; "mounted" means the lease is
 * locked, so rm, rmi and gc can tell what is in use even after a daemon died.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "layerfs/digest.h"
#include "layerfs/err.h"

struct lf_store;

#define LF_CONTAINER_ID_LEN 64
#define LF_CONTAINER_NAME_MAX 128

struct lf_container {
	char id[LF_CONTAINER_ID_LEN + 1]; /* 64 random hex */
	char *name; /* unique in the store */
	struct lf_digest image; /* manifest digest */
	char *ref; /* "name:tag" it was made from, or NULL */
	size_t n_layers;
	struct lf_digest *diff_ids; /* bottom first */
	struct lf_digest chain_id;
	char created[32]; /* RFC 3339, UTC */
	bool read_only;

	/* Where it lives: containers/<id>, or tmp/<stage>/<id> until committed. */
	int dir_fd;
	char *stage_name;
	int stage_fd; /* holds the stage's flock */
};

struct lf_container_spec {
	const char *name; /* NULL: "<image-name>-<6 hex>" */
	const char *ref; /* may be NULL */
	const struct lf_digest *image;
	const struct lf_digest *diff_ids;
	size_t n_layers;
	bool read_only;
};

/* True for a usable container name: [A-Za-z0-9][A-Za-z0-9_.-]*, at most 128 bytes. */
bool lf_container_name_is_valid(const char *name);

/*
 * Makes a new container under tmp/ (upper/, work/, config.json) that nothing else sees
 * until lf_container_commit() moves it into containers/. -EEXIST (with a message) when the
 * name is taken. Freeing a staged container removes it.
 */
int lf_container_stage(struct lf_store *s, const struct lf_container_spec *spec,
		       struct lf_container **ret, struct lf_err *err);
/* Publishes a staged container; -EEXIST when its name was taken in the meantime. */
int lf_container_commit(struct lf_store *s, struct lf_container *c, struct lf_err *err);
/* Stage + commit. */
int lf_container_create(struct lf_store *s, const struct lf_container_spec *spec,
			struct lf_container **ret, struct lf_err *err);

/* Loads containers/<id>; -ENOENT if absent, -EBADMSG for a damaged config. */
int lf_container_load(struct lf_store *s, const char *id, struct lf_container **ret);
/* Finds a container by exact name, else by unique id prefix (-EINVAL when ambiguous). */
int lf_container_lookup(struct lf_store *s, const char *name_or_id, struct lf_container **ret,
			struct lf_err *err);
/* All containers, sorted by creation time then name. Damaged ones are skipped. */
int lf_container_list(struct lf_store *s, struct lf_container ***ret, size_t *ret_n);
void lf_container_list_free(struct lf_container **list, size_t n);

/* Opens upper/ and work/ (O_RDONLY|O_DIRECTORY|O_CLOEXEC). */
int lf_container_open_dirs(struct lf_container *c, int *ret_upper, int *ret_work);

/* Removes a container that is not mounted (-EBUSY with a message when it is). */
int lf_container_remove(struct lf_store *s, struct lf_container *c, struct lf_err *err);
void lf_container_free(struct lf_container *c);

/*
 * Takes the lease of container id for a mount at mountpoint (absolute); -EBUSY when it is
 * held (the container is mounted). The lease lasts as long as *ret_fd stays open, in this
 * process or the children it is inherited by.
 */
int lf_container_lease_take(struct lf_store *s, const char *id, const char *mountpoint,
			    int *ret_fd);
/* Drops a lease taken by this process and deletes its file (for a mount that failed). */
void lf_container_lease_drop(struct lf_store *s, const char *id, int fd);
/* Whether container id is mounted, and where (*ret_mountpoint optional, owned, NULL when
 * not mounted). */
int lf_container_lease_query(struct lf_store *s, const char *id, bool *ret_held,
			     char **ret_mountpoint);
