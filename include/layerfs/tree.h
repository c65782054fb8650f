/*
 * The tree index (DESIGN.md §3): one immutable binary format for layer trees and merged
 * stacks, mmap'd read-only and checked by a sha256 of its body when opened.
 *
 * Inodes are numbered 0..n-1; inode 0 is the root directory. Hard links share one inode, so
 * the index is a true inode number and nlink is true. Directory entries of one directory are
 * contiguous and sorted bytewise by name. Whiteouts and opaque directories (layer trees only;
 * a merged tree has them resolved) are inode flags, never device nodes.
 *
 * A reader is immutable after open, so any number of threads may use it without locks.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "layerfs/digest.h"
#include "layerfs/err.h"

#define LF_TREE_ROOT 0u
#define LF_TREE_NONE UINT32_MAX

enum lf_tree_flags {
	LF_TREE_WHITEOUT = 1u << 0, /* this name deletes the same name in lower layers */
	LF_TREE_OPAQUE = 1u << 1, /* directory hides lower layers' contents */
	LF_TREE_HAS_OBJECT = 1u << 2, /* regular file whose bytes are the object */
};

/* Plain metadata of one inode. */
struct lf_tree_stat {
	uint32_t mode; /* type and permission bits, as st_mode; 0 for a whiteout */
	uint32_t uid;
	uint32_t gid;
	uint32_t nlink;
	uint64_t size; /* regular files: bytes; symlinks: target length */
	uint64_t rdev; /* character and block devices */
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t flags; /* enum lf_tree_flags */
};

/* ---- reader (tree-format.c) ---- */

struct lf_tree;

/*
 * Maps a tree file read-only and verifies its header, checksum and every internal offset
 * (-EBADMSG when anything is off). The reader keeps its own reference to the mapping.
 */
int lf_tree_open_at(int dirfd, const char *path, struct lf_tree **ret);
int lf_tree_open_fd(int fd, struct lf_tree **ret);
/* Verifies and copies a buffer (tests, fuzzing). */
int lf_tree_open_mem(const void *buf, size_t len, struct lf_tree **ret);
struct lf_tree *lf_tree_ref(struct lf_tree *t);
void lf_tree_unref(struct lf_tree *t);

uint32_t lf_tree_n_inodes(const struct lf_tree *t);
/* sha256 of the body: identifies the tree's content. */
void lf_tree_content_digest(const struct lf_tree *t, struct lf_digest *ret);

/* -EINVAL if ino is out of range. */
int lf_tree_stat(const struct lf_tree *t, uint32_t ino, struct lf_tree_stat *ret);

/* Looks up a name (len bytes, not NUL-terminated) in directory dir: binary search. */
int lf_tree_lookup(const struct lf_tree *t, uint32_t dir, const char *name, size_t len,
		   uint32_t *ret_ino);
/* Resolves a relative "a/b/c" path from the root without following symlinks; "" is the root. */
int lf_tree_lookup_path(const struct lf_tree *t, const char *path, uint32_t *ret_ino);

/* Number of entries in directory dir (0 for non-directories). */
uint32_t lf_tree_dir_count(const struct lf_tree *t, uint32_t dir);
/*
 * Entry idx (0-based, sorted by name) of directory dir. *ret_name points into the mapping
 * and is NUL-terminated.
 */
int lf_tree_dir_entry(const struct lf_tree *t, uint32_t dir, uint32_t idx, const char **ret_name,
		      size_t *ret_len, uint32_t *ret_ino);

/* Symlink target (NUL-terminated, in the mapping); -EINVAL if not a symlink. */
int lf_tree_readlink(const struct lf_tree *t, uint32_t ino, const char **ret, size_t *ret_len);
/* The object holding a regular file's bytes; -ENODATA for an empty file without one. */
int lf_tree_object(const struct lf_tree *t, uint32_t ino, struct lf_digest *ret);

uint32_t lf_tree_xattr_count(const struct lf_tree *t, uint32_t ino);
int lf_tree_xattr(const struct lf_tree *t, uint32_t ino, uint32_t idx, const char **ret_name,
		  const void **ret_value, size_t *ret_len);
/* -ENODATA when the inode has no such attribute. */
int lf_tree_getxattr(const struct lf_tree *t, uint32_t ino, const char *name,
		     const void **ret_value, size_t *ret_len);

/* The sorted, unique table of every object the tree references (what gc and df read). */
size_t lf_tree_n_objects(const struct lf_tree *t);
const struct lf_digest *lf_tree_object_at(const struct lf_tree *t, size_t idx);
/* Sum of the sizes of the regular files that reference objects, counting each inode once. */
uint64_t lf_tree_content_bytes(const struct lf_tree *t);

/* ---- builder (tree-build.c): a mutable tree, written once to the format ---- */

struct lf_tb;
struct lf_tb_node;

/* A new tree holding only a root directory (0755, 0:0, mtime 0). */
int lf_tb_new(struct lf_tb **ret);
void lf_tb_free(struct lf_tb *tb);

struct lf_tb_node *lf_tb_root(struct lf_tb *tb);

/*
 * Adds or replaces the entry at path ("a/b/c", components already validated: no "", ".",
 * "..", leading '/'). Missing parents are created as implicit directories (0755, 0:0) whose
 * metadata a later explicit entry sets. A parent that exists and is not a directory gives
 * -ENOTDIR (a symlink is never followed). An existing directory given a directory keeps its
 * children and takes the new metadata; anything else is replaced (and unlinked from its
 * hard-link group). st->nlink is ignored: it is computed when written.
 * *ret_node (optional) is valid until the node is replaced or the tree is freed.
 */
int lf_tb_add(struct lf_tb *tb, const char *path, const struct lf_tree_stat *st,
	      struct lf_tb_node **ret_node);
/* Adds a whiteout for path (a layer-tree record; flags LF_TREE_WHITEOUT, mode 0). */
int lf_tb_add_whiteout(struct lf_tb *tb, const char *path);
/* Marks the directory at path opaque, creating it as implicit when missing. */
int lf_tb_set_opaque(struct lf_tb *tb, const char *path);
/*
 * Makes path a hard link to the existing non-directory at target. -ENOENT when target does
 * not exist (yet), -EPERM when it is a directory or a whiteout.
 */
int lf_tb_link(struct lf_tb *tb, const char *path, const char *target);
/* Removes path and everything below it; -ENOENT when absent. */
int lf_tb_remove(struct lf_tb *tb, const char *path);
/* Finds the node at path, or -ENOENT. */
int lf_tb_find(struct lf_tb *tb, const char *path, struct lf_tb_node **ret);

void lf_tb_node_stat(const struct lf_tb_node *n, struct lf_tree_stat *ret);
void lf_tb_node_set_object(struct lf_tb_node *n, const struct lf_digest *d, uint64_t size);
int lf_tb_node_set_symlink(struct lf_tb_node *n, const char *target, size_t len);
/* Adds or replaces one extended attribute. */
int lf_tb_node_set_xattr(struct lf_tb_node *n, const char *name, const void *value, size_t len);

/*
 * Applies a layer tree on top of tb as a union would show it: whiteouts delete, opaque
 * directories hide what is below, a directory over a directory merges, anything else replaces.
 * Hard-link groups of the layer stay groups. The result keeps no whiteouts or opaque flags.
 */
int lf_tb_apply(struct lf_tb *tb, const struct lf_tree *layer);

/* Serializes to fd (from offset 0; the fd is truncated). */
int lf_tb_write_fd(struct lf_tb *tb, int fd);
/* Serializes to a malloc'd buffer. */
int lf_tb_write_mem(struct lf_tb *tb, void **ret_buf, size_t *ret_len);
/* Writes "<name>" under dirfd atomically (staging name, fsync, rename, fsync dir), mode 0444. */
int lf_tb_write_at(struct lf_tb *tb, int dirfd, const char *name);

/* ---- merge (tree-merge.c) ---- */

/*
 * Flattens layers[0] (bottom) .. layers[n-1] (top) into one merged tree file
 * merged/<chainid-hex>.tree of the store, or opens it when already cached.
 */
struct lf_store;
int lf_tree_merged_open(struct lf_store *s, const struct lf_digest *diff_ids, size_t n,
			struct lf_tree **ret, struct lf_err *err);
