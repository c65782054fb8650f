/*
 * The node table: every inode the kernel holds (by lookup count) or the union uses (open
 * handles, children), found again by its identity so that one file keeps one node id.
 * All functions here run under u->lock.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "union.h"

static size_t hash64(uint64_t x, size_t size)
{
	x ^= x >> 33;
	x *= UINT64_C(0xff51afd7ed558ccd);
	x ^= x >> 33;
	return x & (size - 1);
}

static size_t lower_slot(const struct lf_union *u, uint32_t lower)
{
	return hash64(lower, u->tab_size);
}

static size_t upper_slot(const struct lf_union *u, dev_t dev, ino_t ino)
{
	return hash64((uint64_t)ino * 31 + dev, u->tab_size);
}

static int grow(struct lf_union *u)
{
	size_t nsize = u->tab_size ? u->tab_size * 2 : 1024;
	struct lf_node **nl = calloc(nsize, sizeof(*nl)), **nu = calloc(nsize, sizeof(*nu));
	struct lf_node **ol = u->lower_tab, **ou = u->upper_tab;
	size_t osize = u->tab_size;

	if (!nl || !nu) {
		free(nl);
		free(nu);
		return -ENOMEM;
	}
	u->lower_tab = nl;
	u->upper_tab = nu;
	u->tab_size = nsize;
	for (size_t i = 0; i < osize; i++) {
		for (struct lf_node *n = ol[i], *next; n; n = next) {
			size_t s = lower_slot(u, n->lower);
			next = n->next_lower;
			n->next_lower = nl[s];
			nl[s] = n;
		}
		for (struct lf_node *n = ou[i], *next; n; n = next) {
			size_t s = upper_slot(u, n->udev, n->uino);
			next = n->next_upper;
			n->next_upper = nu[s];
			nu[s] = n;
		}
	}
	free(ol);
	free(ou);
	return 0;
}

struct lf_node *lf_node_find_lower(struct lf_union *u, uint32_t lower, struct lf_node *parent,
				   const char *name)
{
	if (!u->tab_size)
		return NULL;
	for (struct lf_node *n = u->lower_tab[lower_slot(u, lower)]; n; n = n->next_lower) {
		if (n->lower != lower)
			continue;
		if (n->lower_shared && (n->parent != parent || strcmp(n->name, name) != 0))
			continue;
		return n;
	}
	return NULL;
}

struct lf_node *lf_node_find_upper(struct lf_union *u, dev_t dev, ino_t ino)
{
	if (!u->tab_size)
		return NULL;
	for (struct lf_node *n = u->upper_tab[upper_slot(u, dev, ino)]; n; n = n->next_upper)
		if (n->udev == dev && n->uino == ino)
			return n;
	return NULL;
}

static int maybe_grow(struct lf_union *u)
{
	if (u->n_lower + u->n_upper + 1 < u->tab_size)
		return 0;
	return grow(u);
}

void lf_node_hash_lower(struct lf_union *u, struct lf_node *n)
{
	size_t s;

	if (n->hashed_lower || maybe_grow(u) < 0)
		return; /* an unhashed node still works, it is just not shared */
	s = lower_slot(u, n->lower);
	n->next_lower = u->lower_tab[s];
	u->lower_tab[s] = n;
	n->hashed_lower = true;
	u->n_lower++;
}

void lf_node_unhash_lower(struct lf_union *u, struct lf_node *n)
{
	struct lf_node **p;

	if (!n->hashed_lower)
		return;
	for (p = &u->lower_tab[lower_slot(u, n->lower)]; *p; p = &(*p)->next_lower) {
		if (*p == n) {
			*p = n->next_lower;
			break;
		}
	}
	n->next_lower = NULL;
	n->hashed_lower = false;
	u->n_lower--;
}

void lf_node_hash_upper(struct lf_union *u, struct lf_node *n)
{
	size_t s;

	if (n->hashed_upper || maybe_grow(u) < 0)
		return;
	s = upper_slot(u, n->udev, n->uino);
	n->next_upper = u->upper_tab[s];
	u->upper_tab[s] = n;
	n->hashed_upper = true;
	u->n_upper++;
}

void lf_node_unhash_upper(struct lf_union *u, struct lf_node *n)
{
	struct lf_node **p;

	if (!n->hashed_upper)
		return;
	for (p = &u->upper_tab[upper_slot(u, n->udev, n->uino)]; *p; p = &(*p)->next_upper) {
		if (*p == n) {
			*p = n->next_upper;
			break;
		}
	}
	n->next_upper = NULL;
	n->hashed_upper = false;
	u->n_upper--;
}

int lf_node_new(struct lf_union *u, struct lf_node *parent, const char *name, struct lf_node **ret)
{
	struct lf_node *n = calloc(1, sizeof(*n));

	if (!n)
		return -ENOMEM;
	n->name = strdup(name ? name : "");
	if (!n->name) {
		free(n);
		return -ENOMEM;
	}
	n->lower = n->origin = LF_TREE_NONE;
	n->upper_fd = -1;
	n->parent = parent;
	if (parent) {
		parent->refs++;
		n->all_next = u->all;
		if (u->all)
			u->all->all_prev = n;
		u->all = n;
	}
	*ret = n;
	return 0;
}

void lf_node_ref_locked(struct lf_node *n)
{
	n->refs++;
}

static void node_free(struct lf_union *u, struct lf_node *n)
{
	while (n && n != u->root && n->nlookup == 0 && n->refs == 0) {
		struct lf_node *parent = n->parent;
		lf_node_unhash_lower(u, n);
		lf_node_unhash_upper(u, n);
		if (n->upper_fd >= 0)
			close(n->upper_fd);
		if (n->all_prev)
			n->all_prev->all_next = n->all_next;
		else if (u->all == n)
			u->all = n->all_next;
		if (n->all_next)
			n->all_next->all_prev = n->all_prev;
		free(n->name);
		free(n);
		n = parent;
		if (n)
			n->refs--;
	}
}

void lf_node_unref_locked(struct lf_union *u, struct lf_node *n)
{
	if (!n)
		return;
	n->refs--;
	node_free(u, n);
}

void lf_union_forget(struct lf_union *u, struct lf_node *n, uint64_t nlookup)
{
	pthread_mutex_lock(&u->lock);
	n->nlookup = nlookup > n->nlookup ? 0 : n->nlookup - nlookup;
	node_free(u, n);
	pthread_mutex_unlock(&u->lock);
}

void lf_union_ref(struct lf_union *u, struct lf_node *n)
{
	pthread_mutex_lock(&u->lock);
	n->refs++;
	pthread_mutex_unlock(&u->lock);
}

void lf_union_unref(struct lf_union *u, struct lf_node *n)
{
	pthread_mutex_lock(&u->lock);
	lf_node_unref_locked(u, n);
	pthread_mutex_unlock(&u->lock);
}

int lf_node_move(struct lf_union *u, struct lf_node *n, struct lf_node *parent, const char *name)
{
	char *nn = strdup(name);
	struct lf_node *old = n->parent;
	bool rehash = n->hashed_lower;

	if (!nn)
		return -ENOMEM;
	if (rehash)
		lf_node_unhash_lower(u, n);
	free(n->name);
	n->name = nn;
	parent->refs++;
	n->parent = parent;
	if (rehash)
		lf_node_hash_lower(u, n);
	if (old)
		lf_node_unref_locked(u, old);
	return 0;
}

void lf_node_detach(struct lf_union *u, struct lf_node *n)
{
	struct lf_node *old = n->parent;

	/* A lower-only node without a name cannot be found again nor copied up. */
	lf_node_unhash_lower(u, n);
	n->parent = NULL;
	if (old)
		lf_node_unref_locked(u, old);
}
