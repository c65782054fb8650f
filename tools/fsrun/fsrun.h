/*
 * fsrun: runs an image's process in new namespaces on a layerfs root (DESIGN.md §6).
 *
 * main.c drives the sequence from the host side: it resolves the image, starts the
 * container's init with clone(), writes its id maps, hands the /dev/fuse fd that init mounted
 * inside the namespaces to a layerfs daemon that stays outside them, and waits. options.c
 * reads the command line; config.c turns an image config plus options into the process to
 * run; sandbox.c is what init does to build the root; init.c is pid 1 and the payload's last
 * steps before execve; passwd.c reads users and groups inside the root; security.c holds the
 * capabilities, seccomp and fd steps; exec.c, state.c, tty.c and cgroup.c serve fsrun exec
 * and stop, -t, and the resource limits.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <signal.h>
#include <stdint.h>
#include <sys/types.h>

/* Exit statuses of fsrun's own failures, as docker and podman use them. */
enum {
	FSRUN_EXIT_ERROR = 125, /* fsrun itself failed */
	FSRUN_EXIT_CANNOT_EXEC = 126, /* the command exists but cannot be executed */
	FSRUN_EXIT_NOT_FOUND = 127, /* the command does not exist */
};

enum fsrun_ids {
	FSRUN_IDS_ROOTLESS, /* a user namespace mapping the caller to 0 */
	FSRUN_IDS_PRIVATE, /* root: a user namespace over a private range of 65536 ids */
	FSRUN_IDS_HOST, /* root: no user namespace (--userns=host) */
};

struct fsrun_mount {
	char *src; /* host path; NULL for a tmpfs */
	char *dst; /* path inside the root */
	bool ro;
};

/* One line of an id map: ids inside [inside, inside + count) are host ids from outside. */
struct fsrun_idmap {
	unsigned inside, outside, count;
};

#define FSRUN_MAX_IDMAP 8

struct fsrun_limits {
	int64_t memory; /* bytes, 0 for none */
	int64_t pids;
	double cpus;
};

struct fsrun_opts {
	const char *store;
	const char *image; /* NULL with --root */
	const char *root; /* --root DIR */
	const char *name; /* --name, or NULL for a container removed afterwards */
	bool rm;
	bool read_only;
	bool tty;
	bool entrypoint_set;
	const char *entrypoint;
	char **cmd; /* what follows the image, NULL-terminated (may be empty) */
	char **env; /* -e and --env-file entries in order: "K=V" or "K" */
	size_t n_env;
	const char *workdir;
	const char *user;
	const char *hostname;
	bool net_none;
	enum fsrun_ids ids;
	struct fsrun_mount *mounts;
	size_t n_mounts;
	uint64_t caps; /* capabilities of a root-mode payload */
	int preserve_fds;
	bool detach; /* return once the payload runs; fsrun stop NAME ends it */
	struct fsrun_limits limits;
	/* --uidmap/--gidmap: ranges instead of the caller alone (newuidmap/newgidmap when not
	 * root) or instead of the private range (root) */
	struct fsrun_idmap uidmap[FSRUN_MAX_IDMAP], gidmap[FSRUN_MAX_IDMAP];
	size_t n_uidmap, n_gidmap;
};

/* The process to run, before its user is resolved inside the root. */
struct fsrun_proc {
	char **argv; /* NULL-terminated */
	char **env; /* NULL-terminated "K=V" */
	char *cwd; /* absolute, inside the root */
	char *user; /* "uid[:gid]" or "name[:group]", or NULL for 0:0 */
};

/* ---- options.c ---- */

/* Parses the command line into o (argv is kept: o->cmd points into it); prints why and
 * returns -errno on a bad one; --help prints the usage and exits. */
int fsrun_parse_args(int argc, char **argv, struct fsrun_opts *o);

/* ---- config.c ---- */

/*
 * Builds the process from an image config (JSON text, may be NULL for --root) and the
 * options: Entrypoint + Cmd (replaced by the options as docker does), Env then -e entries,
 * WorkingDir or -w, User or -u. -EINVAL with a message on stderr for a bad config.
 */
int fsrun_proc_build(const char *config_json, const struct fsrun_opts *o, struct fsrun_proc *ret);
void fsrun_proc_done(struct fsrun_proc *p);
/* Appends the K=V lines of an env file (# comments, blank lines skipped) to o->env. */
int fsrun_env_file_load(struct fsrun_opts *o, const char *path);
/* Adds PATH and HOME when they are missing (HOME is home, or "/"). */
int fsrun_env_defaults(char ***env, const char *home);

/* ---- passwd.c: users and groups of the image, read inside its root ---- */

struct fsrun_user {
	uid_t uid;
	gid_t gid;
	gid_t groups[64]; /* supplementary groups from the image's /etc/group */
	size_t n_groups;
	char home[256]; /* "" when unknown */
};

/*
 * Resolves "uid", "uid:gid", "name", "name:group" (NULL means root) against etc/passwd and
 * etc/group under rootfd, resolved with RESOLVE_IN_ROOT so that symlinks in the image cannot
 * reach the host's files. A numeric uid needs no passwd entry. -ENOENT for an unknown name.
 */
int fsrun_user_resolve(int rootfd, const char *spec, struct fsrun_user *ret);

/* ---- sandbox.c: what the container's init does before the payload runs ---- */

struct fsrun_sandbox {
	const struct fsrun_opts *o;
	const char *root; /* the new root on the host: the layerfs mount point or --root DIR */
	/* contents of the generated /etc/hosts, /etc/hostname, /etc/resolv.conf */
	const char *hosts, *hostname_file, *resolv;
	const char *hostname;
	bool rootless; /* in a user namespace with only one id: no mknod, no chown */
};

/* Builds /dev, /proc, /sys, /tmp, the generated /etc files and the binds under sb->root,
 * then pivots into it. Returns 0 or -errno, having printed why. */
int fsrun_sandbox_enter(const struct fsrun_sandbox *sb);
/* Brings the loopback interface up (in a new network namespace). */
int fsrun_loopback_up(void);

/* ---- init.c ---- */

struct fsrun_payload {
	const struct fsrun_proc *proc;
	const struct fsrun_opts *o;
	bool rootless;
	bool groups; /* setgroups() works: not a namespace with setgroups denied */
	int tty_fd; /* -t: the pty's slave side, which becomes 0-2 and the controlling tty */
};

/*
 * Runs as pid 1 of the container: forks the payload (pid 2), reaps every child, forwards
 * every signal but SIGCHLD to the payload, and returns the status fsrun exits with: the
 * payload's exit code or 128 + the signal that killed it.
 */
int fsrun_init_run(const struct fsrun_payload *p);
/* The payload's steps, in the process that becomes it: resolves its user inside the root
 * ("/" by now), fills PATH and HOME, enters the working directory, drops ids and
 * capabilities, closes fds, loads seccomp and execs. Never returns. */
_Noreturn void fsrun_payload_run(const struct fsrun_payload *p);

/* ---- state.c: the record of a running container ---- */

struct fsrun_state {
	pid_t init, monitor; /* host pids */
	uint64_t init_start, monitor_start; /* their start times, against pid reuse */
	enum fsrun_ids ids;
	bool net_none;
	bool read_only;
	uint64_t caps;
	char **env; /* the payload's environment before PATH/HOME defaults */
	char *cwd;
	char *user; /* may be NULL */
};

/* <store>/run/fsrun-NAME.json (malloc'd, NULL on ENOMEM). */
char *fsrun_state_path(const char *store_path, const char *name);
int fsrun_state_save(const char *path, const struct fsrun_state *st);
/* -ENOENT when there is no record, -ESRCH when it is stale (its processes are gone). */
int fsrun_state_load(const char *path, struct fsrun_state *ret);
void fsrun_state_done(struct fsrun_state *st);
/* Field 22 of /proc/PID/stat, or 0 when the process does not exist. */
uint64_t fsrun_proc_starttime(pid_t pid);

/* ---- exec.c: fsrun exec and fsrun stop ---- */

int fsrun_exec_main(int argc, char **argv);
int fsrun_stop_main(int argc, char **argv);

/* ---- cgroup.c ---- */

struct fsrun_cgroup {
	char *dirs[3];
	size_t n;
};

/* "512m", "2G", "1048576" (k, m, g are powers of 1024). */
int fsrun_parse_size(const char *s, int64_t *ret);
/* Puts pid in a new cgroup with the limits; warns (and applies none) where that cannot be
 * done. */
void fsrun_cgroup_setup(struct fsrun_cgroup *cg, const char *name, const struct fsrun_limits *l,
			pid_t pid);
void fsrun_cgroup_remove(struct fsrun_cgroup *cg);

/* ---- tty.c ---- */

/* Opens a pty pair in the current /dev (the container's devpts). */
int fsrun_tty_open(int *ret_master, int *ret_slave);
/* Relays the caller's terminal and the master until child exits; signals in sigs (blocked)
 * are forwarded to child, SIGWINCH resizes. *ret_status is child's wait status. */
int fsrun_tty_relay(int master, pid_t child, const sigset_t *sigs, int *ret_status);

/* ---- helpers shared by the files above ---- */

/* Prints "fsrun: <msg>" (and ": strerror(-r)" when r < 0) on stderr; returns r. */
int fsrun_err(int r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Prints "fsrun: <msg>" for input that makes no sense (no errno text); returns -EINVAL. */
int fsrun_invalid(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* openat2 with RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS: path is resolved as if rootfd were
 * "/", whatever symlinks and ".." it holds. Returns an fd or -errno. */
int fsrun_open_in_root(int rootfd, const char *path, int flags, mode_t mode);
