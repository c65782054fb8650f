/*
 * layerfs mount IMAGE MNT [--name NAME] [--read-only] [-f] [-o OPTIONS]
 *
 * Creates (or reuses, by name) a container of IMAGE and mounts it at MNT. Without -f the
 * work happens in a child that becomes the daemon; the parent waits on a pipe and exits 0
 * only once the mount is up, or with the child's error. A new container lives in tmp/ until
 * the mount works, so a failed mount leaves neither a mount nor a container behind.
 *
 * --fuse-fd N serves a mount that the caller already made at MNT with the /dev/fuse fd N it
 * passed down (fsrun does this inside a user namespace, so that the kernel reads the ids the
 * daemon answers in that namespace). MNT is then only recorded: it may exist only in the
 * caller's mount namespace. --ready-fd M (with -f) writes one byte to fd M once it serves, so
 * such a caller can keep the daemon as its child and still know when to go on. --rm removes
 * the container when the mount ends (fsrun's containers for one run: even if fsrun is killed).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "layerfs/container.h"
#include "layerfs/fs.h"
#include "layerfs/image.h"
#include "layerfs/log.h"
#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "layerfs/tree.h"
#include "layerfs/util.h"
#include "cmd.h"

/* Until store/image.c provides them, images cannot be resolved (containers still mount). */
#pragma weak lf_image_resolve
#pragma weak lf_image_free

struct mount_args {
	const char *image;
	const char *mountpoint; /* canonical */
	const char *name;
	bool read_only;
	bool foreground;
	bool debug;
	bool nonempty; /* -o nonempty: mount over a directory that has entries */
	int fuse_fd; /* --fuse-fd, or -1 */
	int ready_fd; /* --ready-fd: gets one byte once the mount serves, or -1 */
	bool rm; /* --rm: remove the container when the mount ends */
	char *fuse_options;
};

/* Appends one -o argument to a->fuse_options; "nonempty" is ours (libfuse 3 dropped it). */
static int add_options(struct mount_args *a, const char *arg)
{
	_cleanup_free_ char *copy = strdup(arg);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *o = strtok_r(copy, ",", &save); o; o = strtok_r(NULL, ",", &save)) {
		char *n;

		if (strcmp(o, "nonempty") == 0) {
			a->nonempty = true;
			continue;
		}
		n = a->fuse_options ? lf_strdup_printf("%s,%s", a->fuse_options, o) : strdup(o);
		if (!n)
			return -ENOMEM;
		free(a->fuse_options);
		a->fuse_options = n;
	}
	return 0;
}

static bool dir_is_empty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	bool empty = true;

	if (!d)
		return true; /* the mount itself will say what is wrong */
	while (empty && (de = readdir(d)))
		empty = strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0;
	closedir(d);
	return empty;
}

/* Finds or stages the container; *ret_new says it is staged and must be committed. */
static int get_container(struct lf_store *s, const struct mount_args *a, struct lf_container **ret,
			 bool *ret_new)
{
	struct lf_container *c = NULL;
	struct lf_image *img = NULL;
	struct lf_err err = {};
	int r;

	if (a->name) {
		r = lf_container_lookup(s, a->name, &c, &err);
		if (r == 0 && strcmp(c->name, a->name) != 0) {
			/* An id prefix matched: --name means a name. */
			lf_container_free(c);
			c = NULL;
			r = -ENOENT;
		}
		if (r < 0 && r != -ENOENT)
			return lf_log_errno(LF_LOG_ERR, r, "%s", lf_err_str(&err, r));
	}
	err = (struct lf_err){};
	if (lf_image_resolve)
		r = lf_image_resolve(s, a->image, &img, &err);
	else
		r = lf_err_set(&err, -EOPNOTSUPP, "cannot resolve image '%s' yet", a->image);
	if (c) {
		if (r == 0 && !lf_digest_eq(&img->manifest, &c->image)) {
			char want[LF_DIGEST_STR_MAX];
			lf_log(LF_LOG_ERR,
			       "container '%s' was made from image %s, not '%s'; choose another "
			       "--name",
			       c->name, lf_digest_format(&c->image, want), a->image);
			lf_image_free(img);
			lf_container_free(c);
			return -EINVAL;
		}
		if (img)
			lf_image_free(img);
		*ret = c;
		*ret_new = false;
		return 0;
	}
	if (r < 0)
		return lf_log_errno(LF_LOG_ERR, r, "%s", lf_err_str(&err, r));
	struct lf_container_spec spec = {
		.name = a->name,
		.ref = img->ref ? img->ref : a->image,
		.image = &img->manifest,
		.diff_ids = img->diff_ids,
		.n_layers = img->n_layers,
		.read_only = a->read_only,
	};
	err = (struct lf_err){};
	r = lf_container_stage(s, &spec, &c, &err);
	lf_image_free(img);
	if (r < 0)
		return lf_log_errno(LF_LOG_ERR, r, "%s", lf_err_str(&err, r));
	*ret = c;
	*ret_new = true;
	return 0;
}

static void detach_stdio(void)
{
	int fd = open("/dev/null", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return;
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	close(fd);
}

/* Runs in the daemon (or in the foreground); ready_fd gets one byte once the mount is up. */
static int serve(const struct lf_cli *cli, const struct mount_args *a, int ready_fd)
{
	struct lf_store *s = NULL;
	struct lf_container *c = NULL;
	struct lf_tree *tree = NULL;
	struct lf_fs *fs = NULL;
	struct lf_err err = {};
	int lease = -1, upper = -1, work = -1, r;
	bool is_new = false;
	_cleanup_free_ char *where = NULL;

	r = lf_cli_open_store(cli, false, &s);
	if (r < 0)
		return LF_EXIT_FAILURE;
	/* Shared: no rmi or gc while the container and its image are being set up. */
	r = lf_store_lock(s, LF_LOCK_SHARED);
	if (r < 0) {
		lf_log_errno(LF_LOG_ERR, r, "cannot lock the store");
		goto fail;
	}
	r = get_container(s, a, &c, &is_new);
	if (r < 0)
		goto fail;
	r = lf_container_lease_take(s, c->id, a->mountpoint, &lease);
	if (r == -EBUSY) {
		lf_container_lease_query(s, c->id, &(bool){ false }, &where);
		lf_log(LF_LOG_ERR, "container '%s' is already mounted at '%s'", c->name,
		       where ? where : "?");
		goto fail;
	}
	if (r < 0) {
		lf_log_errno(LF_LOG_ERR, r, "cannot take the lease of container '%s'", c->name);
		goto fail;
	}
	r = lf_tree_merged_open(s, c->diff_ids, c->n_layers, &tree, &err);
	if (r < 0) {
		lf_log_errno(LF_LOG_ERR, r, "image of container '%s': %s", c->name,
			     lf_err_str(&err, r));
		goto fail;
	}
	r = lf_container_open_dirs(c, &upper, &work);
	if (r < 0) {
		lf_log_errno(LF_LOG_ERR, r, "container '%s' is damaged", c->name);
		goto fail;
	}
	char fdpath[32];
	snprintf(fdpath, sizeof(fdpath), "/dev/fd/%d", a->fuse_fd);
	struct lf_fs_options o = {
		/* libfuse takes "/dev/fd/N" as "already mounted on fd N". */
		.mountpoint = a->fuse_fd >= 0 ? fdpath : a->mountpoint,
		.read_only = a->read_only,
		.fuse_options = a->fuse_options,
		.debug = a->debug,
	};
	err = (struct lf_err){};
	r = lf_fs_mount(tree, s->objects_fd, upper, work, &o, &fs, &err);
	if (r < 0) {
		lf_log_errno(LF_LOG_ERR, r, "%s", lf_err_str(&err, r));
		goto fail;
	}
	if (is_new) {
		err = (struct lf_err){};
		r = lf_container_commit(s, c, &err);
		if (r < 0) {
			lf_log_errno(LF_LOG_ERR, r, "%s", lf_err_str(&err, r));
			goto fail;
		}
		is_new = false;
	}
	lf_tree_unref(tree);
	tree = NULL;
	lf_store_lock(s, LF_LOCK_NONE);
	if (a->foreground && a->fuse_fd < 0)
		lf_log(LF_LOG_INFO, "container '%s' mounted at '%s'", c->name, a->mountpoint);
	if (a->ready_fd >= 0) {
		if (write(a->ready_fd, "R", 1) != 1)
			lf_log(LF_LOG_WARNING, "the caller went away");
		close(a->ready_fd);
	}
	if (ready_fd >= 0) {
		if (write(ready_fd, "R", 1) != 1)
			lf_log(LF_LOG_WARNING, "the parent process went away");
		close(ready_fd);
		ready_fd = -1;
		lf_log_set_syslog(true);
		detach_stdio();
		if (chdir("/") < 0)
			lf_log(LF_LOG_WARNING, "cannot change directory to '/'");
	}

	r = lf_fs_run(fs);
	if (r < 0 && r != -EINTR)
		lf_log_errno(LF_LOG_ERR, r, "serving '%s' failed", a->mountpoint);
	lf_fs_free(fs);
	close(lease);
	if (a->rm) {
		/* A container made for one run goes with its mount, whoever started it. */
		err = (struct lf_err){};
		int rr = lf_container_remove(s, c, &err);
		if (rr < 0)
			lf_log_errno(LF_LOG_ERR, rr, "%s", lf_err_str(&err, rr));
	}
	lf_container_free(c);
	lf_store_free(s);
	return r < 0 && r != -EINTR ? LF_EXIT_FAILURE : LF_EXIT_OK;

fail:
	lf_fs_free(fs); /* unmounts */
	lf_tree_unref(tree);
	if (lease >= 0) {
		if (is_new)
			lf_container_lease_drop(s, c->id, lease);
		else
			close(lease);
	}
	lf_container_free(c); /* removes a staged container */
	lf_store_free(s);
	return LF_EXIT_FAILURE;
}

LF_CMD(mount)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "read-only", no_argument, NULL, 'r' },
		{ "foreground", no_argument, NULL, 'f' },
		{ "options", required_argument, NULL, 'o' },
		{ "debug", no_argument, NULL, 'd' },
		{ "fuse-fd", required_argument, NULL, 'F' },
		{ "ready-fd", required_argument, NULL, 'R' },
		{ "rm", no_argument, NULL, 'X' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	struct mount_args a = { .fuse_fd = -1, .ready_fd = -1 };
	_cleanup_free_ char *mp = NULL;
	struct stat st;
	int c, r, pipefd[2], status;
	char byte;
	pid_t pid;

	while ((c = getopt_long(argc, argv, "n:rfo:dh", opts, NULL)) >= 0) {
		switch (c) {
		case 'n':
			a.name = optarg;
			break;
		case 'r':
			a.read_only = true;
			break;
		case 'f':
			a.foreground = true;
			break;
		case 'o':
			if (add_options(&a, optarg) < 0)
				return LF_EXIT_FAILURE;
			break;
		case 'd':
			a.debug = a.foreground = true;
			break;
		case 'X':
			a.rm = true;
			break;
		case 'F':
		case 'R': {
			int *fd = c == 'F' ? &a.fuse_fd : &a.ready_fd;
			r = lf_parse_int(optarg, fd);
			if (r < 0 || *fd < 3 || fcntl(*fd, F_GETFD) < 0) {
				lf_log(LF_LOG_ERR, "--%s '%s' is not an open file descriptor",
				       c == 'F' ? "fuse-fd" : "ready-fd", optarg);
				free(a.fuse_options);
				return LF_EXIT_USAGE;
			}
			fcntl(*fd, F_SETFD, FD_CLOEXEC);
			break;
		}
		case 'h':
			printf("usage: layerfs mount IMAGE MNT [--name NAME] [--read-only] [--rm] [-f] "
			       "[-o FUSE_OPTIONS]\n");
			return LF_EXIT_OK;
		default:
			return LF_EXIT_USAGE;
		}
	}
	if (argc - optind != 2) {
		lf_log(LF_LOG_ERR,
		       "usage: layerfs mount IMAGE MNT [--name NAME] [--read-only] [--rm] [-f] "
		       "[-o FUSE_OPTIONS]");
		free(a.fuse_options);
		return LF_EXIT_USAGE;
	}
	a.image = argv[optind];
	if (a.name && !lf_container_name_is_valid(a.name)) {
		lf_log(LF_LOG_ERR,
		       "invalid container name '%s': use letters, digits, '_', '.', '-'", a.name);
		free(a.fuse_options);
		return LF_EXIT_USAGE;
	}
	if (a.fuse_fd >= 0) {
		/* The caller mounted it, maybe in another mount namespace. */
		mp = strdup(argv[optind + 1]);
		if (!mp)
			return LF_EXIT_FAILURE;
		a.mountpoint = mp;
	} else {
		r = lf_fs_canonical_path(argv[optind + 1], &mp);
	}
	if (a.fuse_fd >= 0) {
		/* nothing to check */
	} else if (r < 0 || stat(mp, &st) < 0 || !S_ISDIR(st.st_mode)) {
		lf_log(LF_LOG_ERR, "mountpoint '%s' is not a directory", argv[optind + 1]);
		free(a.fuse_options);
		return LF_EXIT_FAILURE;
	}
	if (a.fuse_fd < 0 && lf_fs_is_mounted(mp)) {
		lf_log(LF_LOG_ERR, "'%s' is already a layerfs mount; unmount it first", mp);
		free(a.fuse_options);
		return LF_EXIT_FAILURE;
	}
	/* As libfuse 2 and guestmount: hiding what a directory holds takes -o nonempty. */
	if (a.fuse_fd < 0 && !a.nonempty && !dir_is_empty(mp)) {
		lf_log(LF_LOG_ERR,
		       "mountpoint '%s' is not empty (use -o nonempty to mount over it)", mp);
		free(a.fuse_options);
		return LF_EXIT_FAILURE;
	}
	a.mountpoint = mp;

	if (a.foreground) {
		r = serve(cli, &a, -1);
		free(a.fuse_options);
		return r;
	}
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		lf_log_errno(LF_LOG_ERR, -errno, "pipe");
		free(a.fuse_options);
		return LF_EXIT_FAILURE;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		lf_log_errno(LF_LOG_ERR, -errno, "fork");
		free(a.fuse_options);
		return LF_EXIT_FAILURE;
	}
	if (pid == 0) {
		close(pipefd[0]);
		setsid();
		_exit(serve(cli, &a, pipefd[1]));
	}
	close(pipefd[1]);
	free(a.fuse_options);
	/* The daemon reports readiness with one byte; EOF means it failed (and said why). */
	while ((r = read(pipefd[0], &byte, 1)) < 0 && errno == EINTR)
		;
	close(pipefd[0]);
	if (r == 1)
		return LF_EXIT_OK;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		return WEXITSTATUS(status);
	return LF_EXIT_FAILURE;
}
