/* On-disk layout of the tree index; shared by the reader and the writer only. */
#pragma once

#include <stdint.h>

#include "layerfs/digest.h"

#define LF_TREE_MAGIC "LFTREE\0\1"
#define LF_TREE_VERSION 1
/* Private flag: a directory that no tar entry named, only implied as a parent. */
#define LF_TREE_IMPLICIT (1u << 16)
#define LF_TREE_KNOWN_FLAGS \
	(LF_TREE_WHITEOUT | LF_TREE_OPAQUE | LF_TREE_HAS_OBJECT | LF_TREE_IMPLICIT)

/*
 * File: header, then the body in this order, each section 8-byte aligned:
 *   inodes[n_inodes], dirents[n_dirents], xattrs[n_xattrs], objects[n_objects], strtab.
 * All integers little-endian. body_sha256 covers every byte after the header.
 */
struct lf_tree_header {
	char magic[8];
	uint32_t version;
	uint32_t flags;
	uint32_t n_inodes;
	uint32_t n_dirents;
	uint32_t n_xattrs;
	uint32_t n_objects;
	uint64_t strtab_size;
	uint64_t file_size;
	uint8_t body_sha256[LF_DIGEST_LEN];
};

struct lf_tree_disk_inode {
	uint32_t mode, uid, gid, nlink;
	uint64_t size;
	uint64_t rdev;
	int64_t mtime_sec;
	uint32_t mtime_nsec;
	uint32_t flags;
	uint32_t xattr_start, xattr_count;
	/* directory: first dirent, count; symlink: strtab offset, length; file: object index */
	uint32_t a, b;
};

struct lf_tree_disk_dirent {
	uint32_t name_off; /* strtab offset of a NUL-terminated name */
	uint32_t name_len;
	uint32_t ino;
};

struct lf_tree_disk_xattr {
	uint32_t name_off, name_len; /* NUL-terminated in strtab */
	uint32_t value_off, value_len;
};

_Static_assert(sizeof(struct lf_tree_header) == 80, "header layout");
_Static_assert(sizeof(struct lf_tree_disk_inode) == 64, "inode layout");
_Static_assert(sizeof(struct lf_tree_disk_dirent) == 12, "dirent layout");
_Static_assert(sizeof(struct lf_tree_disk_xattr) == 16, "xattr layout");

static inline uint64_t lf_tree_align8(uint64_t v)
{
	return (v + 7) & ~(uint64_t)7;
}

/* Section offsets, computed from the counts; all relative to the start of the file. */
struct lf_tree_layout {
	uint64_t inodes, dirents, xattrs, objects, strtab, end;
};

static inline void lf_tree_layout_compute(uint64_t n_inodes, uint64_t n_dirents, uint64_t n_xattrs,
					  uint64_t n_objects, uint64_t strtab_size,
					  struct lf_tree_layout *l)
{
	l->inodes = sizeof(struct lf_tree_header);
	l->dirents = lf_tree_align8(l->inodes + n_inodes * sizeof(struct lf_tree_disk_inode));
	l->xattrs = lf_tree_align8(l->dirents + n_dirents * sizeof(struct lf_tree_disk_dirent));
	l->objects = lf_tree_align8(l->xattrs + n_xattrs * sizeof(struct lf_tree_disk_xattr));
	l->strtab = l->objects + n_objects * LF_DIGEST_LEN;
	l->end = l->strtab + strtab_size;
}

struct lf_tree;
/* Flags of an inode including the private ones (LF_TREE_IMPLICIT); 0 when out of range. */
uint32_t lf_tree_raw_flags(const struct lf_tree *t, uint32_t ino);
