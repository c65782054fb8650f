/* fd and path helpers. Every fd returned is O_CLOEXEC. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Reads exactly len bytes (-EIO on early EOF), or writes them all. */
int lf_read_full(int fd, void *buf, size_t len);
int lf_write_full(int fd, const void *buf, size_t len);
/* pread/pwrite that loop over short counts; pread returns the count read (short at EOF). */
ssize_t lf_pread_full(int fd, void *buf, size_t len, off_t off);

/* Reads a whole file (at most max bytes, else -EFBIG) into a NUL-terminated malloc'd buffer. */
int lf_read_file_at(int dirfd, const char *path, size_t max, char **ret_buf, size_t *ret_len);
/* Writes a file atomically: "<name>.tmp.<pid>" then fsync and rename; fsyncs the directory. */
int lf_write_file_atomic_at(int dirfd, const char *name, const void *buf, size_t len, mode_t mode);

/* Creates a directory and its parents (like mkdir -p), relative to dirfd. */
int lf_mkdir_p_at(int dirfd, const char *path, mode_t mode);
/* Opens a directory beneath dirfd with RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS semantics. */
int lf_open_dir_beneath(int dirfd, const char *path, int *ret_fd);
/* Removes a tree (like rm -rf), relative to dirfd; a missing path is not an error. */
int lf_rm_rf_at(int dirfd, const char *path);
/* fsync of a directory by fd or path. */
int lf_fsync_dir_at(int dirfd, const char *path);

/* Returns a malloc'd string like asprintf, or NULL on ENOMEM. */
char *lf_strdup_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Formats a byte count with binary units ("1.5 MiB") into buf. */
const char *lf_format_bytes(uint64_t bytes, char *buf, size_t len);

/* 16 random bytes as 32 lowercase hex characters (plus NUL). */
int lf_random_hex(char out[33]);

/* True when s is a single safe path component: not empty, not "." or "..", no '/'. */
bool lf_name_is_valid(const char *s, size_t len);

/* Parses a whole decimal int in [0, INT_MAX]; -EINVAL for anything else. */
int lf_parse_int(const char *s, int *ret);
