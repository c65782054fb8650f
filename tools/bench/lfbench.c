/*
 * lfbench: the timed inner loops of tools/bench, in C so that what is measured is the
 * filesystem and not an interpreter. Each subcommand times only its own loop (not the
 * setup around it) and prints one line of key=value pairs, seconds first.
 *
 *   lfbench walk DIR            readdir + lstat of every entry below DIR
 *   lfbench readall DIR         read() every regular file below DIR
 *   lfbench readfile FILE       read() FILE sequentially in 1 MiB chunks
 *   lfbench lookup LIST         stat() each path of LIST (one per line) once
 *   lfbench mkfiles DIR N SIZE  create N files of SIZE bytes in DIR (which must exist)
 *   lfbench append LIST         append one byte to each file of LIST
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "layerfs/macro.h"

#define READ_CHUNK (1024 * 1024)

struct counters {
	uint64_t entries;
	uint64_t files;
	uint64_t bytes;
	uint64_t errors;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}

/* Reads the whole of fd, counting the bytes. Returns 0 or -errno. */
static int drain_fd(int fd, char *buf, struct counters *c)
{
	for (;;) {
		ssize_t n = read(fd, buf, READ_CHUNK);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		c->bytes += (uint64_t)n;
	}
}

/*
 * Walks the directory open as dfd (taking ownership of it): lstat of every entry, and when
 * buf is not NULL a read of every regular file. Returns 0 or -errno on the first hard error.
 */
static int walk_dir(int dfd, char *buf, struct counters *c)
{
	_cleanup_(closedirp) DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;

		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		c->entries++;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			c->errors++;
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			int sub = openat(dirfd(d), de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			int r;

			if (sub < 0) {
				c->errors++;
				continue;
			}
			r = walk_dir(sub, buf, c);
			if (r < 0)
				return r;
		} else if (S_ISREG(st.st_mode) && buf) {
			_cleanup_close_ int fd =
				openat(dirfd(d), de->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);

			c->files++;
			if (fd < 0 || drain_fd(fd, buf, c) < 0)
				c->errors++;
		}
	}
	return errno ? -errno : 0;
}

static int cmd_walk(int argc, char **argv, bool read_files)
{
	_cleanup_free_ char *buf = NULL;
	struct counters c = {};
	double t0, t1;
	int fd, r;

	if (argc != 1)
		return -EINVAL;
	if (read_files) {
		buf = malloc(READ_CHUNK);
		if (!buf)
			return -ENOMEM;
	}
	t0 = now();
	fd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = walk_dir(fd, buf, &c);
	t1 = now();
	if (r < 0)
		return r;
	printf("seconds=%.6f entries=%llu files=%llu bytes=%llu errors=%llu\n", t1 - t0,
	       (unsigned long long)c.entries, (unsigned long long)c.files,
	       (unsigned long long)c.bytes, (unsigned long long)c.errors);
	return 0;
}

static int cmd_readfile(int argc, char **argv)
{
	_cleanup_free_ char *buf = malloc(READ_CHUNK);
	_cleanup_close_ int fd = -1;
	struct counters c = {};
	double t0, t1;
	int r;

	if (argc != 1)
		return -EINVAL;
	if (!buf)
		return -ENOMEM;
	t0 = now();
	fd = open(argv[0], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = drain_fd(fd, buf, &c);
	t1 = now();
	if (r < 0)
		return r;
	printf("seconds=%.6f bytes=%llu mib_per_s=%.1f\n", t1 - t0, (unsigned long long)c.bytes,
	       (double)c.bytes / (1024.0 * 1024.0) / (t1 - t0));
	return 0;
}

struct list {
	char **paths;
	size_t n;
	char *text;
};

static void list_free(struct list *l)
{
	free(l->paths);
	free(l->text);
}

/* Loads a file of paths, one per line, so that the timed loop does no I/O of its own. */
static int list_load(const char *file, struct list *ret)
{
	_cleanup_close_ int fd = open(file, O_RDONLY | O_CLOEXEC);
	_cleanup_free_ char *text = NULL;
	_cleanup_free_ char **paths = NULL;
	struct stat st;
	size_t n = 0, cap = 0, off = 0;

	if (fd < 0 || fstat(fd, &st) < 0)
		return -errno;
	text = malloc((size_t)st.st_size + 1);
	if (!text)
		return -ENOMEM;
	while (off < (size_t)st.st_size) {
		ssize_t k = read(fd, text + off, (size_t)st.st_size - off);

		if (k < 0)
			return -errno;
		if (k == 0)
			break;
		off += (size_t)k;
	}
	text[off] = '\0';
	for (char *p = text, *nl; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			nl = p + strlen(p);
		if (n == cap) {
			char **np;

			cap = cap ? cap * 2 : 1024;
			np = realloc(paths, cap * sizeof(*paths));
			if (!np)
				return -ENOMEM;
			paths = np;
		}
		paths[n++] = p;
		if (!*nl)
			break;
		*nl = '\0';
	}
	ret->paths = TAKE_PTR(paths);
	ret->text = TAKE_PTR(text);
	ret->n = n;
	return 0;
}

static int cmd_lookup(int argc, char **argv)
{
	_cleanup_(list_free) struct list l = {};
	uint64_t found = 0, missing = 0, other = 0;
	double t0, t1;
	int r;

	if (argc != 1)
		return -EINVAL;
	r = list_load(argv[0], &l);
	if (r < 0)
		return r;
	if (l.n == 0)
		return -EINVAL;
	t0 = now();
	for (size_t i = 0; i < l.n; i++) {
		struct stat st;

		if (stat(l.paths[i], &st) == 0)
			found++;
		else if (errno == ENOENT)
			missing++;
		else
			other++;
	}
	t1 = now();
	printf("seconds=%.6f lookups=%zu usec_per_lookup=%.3f found=%llu missing=%llu errors=%llu\n",
	       t1 - t0, l.n, (t1 - t0) * 1e6 / (double)l.n, (unsigned long long)found,
	       (unsigned long long)missing, (unsigned long long)other);
	return 0;
}

static int cmd_mkfiles(int argc, char **argv)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_close_ int dfd = -1;
	unsigned long n, size;
	double t0, t1;

	if (argc != 3)
		return -EINVAL;
	n = strtoul(argv[1], NULL, 10);
	size = strtoul(argv[2], NULL, 10);
	buf = malloc(size + 1);
	if (!buf)
		return -ENOMEM;
	memset(buf, 'x', size);
	t0 = now();
	dfd = open(argv[0], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	for (unsigned long i = 0; i < n; i++) {
		_cleanup_close_ int fd = -1;
		char name[32];

		snprintf(name, sizeof(name), "f%06lu", i);
		fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
		if (fd < 0)
			return -errno;
		if (size && write(fd, buf, size) != (ssize_t)size)
			return -EIO;
	}
	t1 = now();
	printf("seconds=%.6f files=%lu\n", t1 - t0, n);
	return 0;
}

static int cmd_append(int argc, char **argv)
{
	_cleanup_(list_free) struct list l = {};
	double t0, t1;
	int r;

	if (argc != 1)
		return -EINVAL;
	r = list_load(argv[0], &l);
	if (r < 0)
		return r;
	t0 = now();
	for (size_t i = 0; i < l.n; i++) {
		_cleanup_close_ int fd = open(l.paths[i], O_WRONLY | O_APPEND | O_CLOEXEC);

		if (fd < 0)
			return -errno;
		if (write(fd, "+", 1) != 1)
			return -EIO;
	}
	t1 = now();
	printf("seconds=%.6f files=%zu\n", t1 - t0, l.n);
	return 0;
}

int main(int argc, char **argv)
{
	int r;

	if (argc < 2) {
		fprintf(stderr,
			"usage: lfbench walk|readall|readfile|lookup|mkfiles|append ARGS\n");
		return 2;
	}
	if (strcmp(argv[1], "walk") == 0)
		r = cmd_walk(argc - 2, argv + 2, false);
	else if (strcmp(argv[1], "readall") == 0)
		r = cmd_walk(argc - 2, argv + 2, true);
	else if (strcmp(argv[1], "readfile") == 0)
		r = cmd_readfile(argc - 2, argv + 2);
	else if (strcmp(argv[1], "lookup") == 0)
		r = cmd_lookup(argc - 2, argv + 2);
	else if (strcmp(argv[1], "mkfiles") == 0)
		r = cmd_mkfiles(argc - 2, argv + 2);
	else if (strcmp(argv[1], "append") == 0)
		r = cmd_append(argc - 2, argv + 2);
	else
		r = -EINVAL;
	if (r < 0) {
		fprintf(stderr, "lfbench %s: %s\n", argv[1], strerror(-r));
		return 1;
	}
	return 0;
}
