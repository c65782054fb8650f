/*
 * pid 1 of the container, and the payload's last steps before execve.
 *
 * init blocks every signal and takes them with sigwaitinfo: a pid 1 drops signals it has no
 * handler for, but blocked ones are always queued, so nothing is lost and no handler runs in
 * async context. SIGCHLD reaps (every orphan of the namespace ends up here); anything else is
 * passed on to the payload. When the payload is gone init returns its status, and its exit
 * tears the pid namespace down, killing whatever the payload left behind.
 *
 * The payload, in order: its own session (no controlling terminal: TIOCSTI cannot reach the
 * caller's), the working directory resolved inside the root, its ids, its capabilities,
 * only fds 0-2 (and --preserve-fds), default signal handling, no_new_privs, and the seccomp
 * filter as the very last step before execve.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "layerfs/macro.h"
#include "fsrun.h"
#include "security.h"

extern char **environ;

/* Creates the missing components of an absolute path inside the root (as root, before the
 * payload drops its ids: docker does the same for a WorkingDir the image lacks). */
static int mkdir_in_root(int rootfd, const char *path)
{
	_cleanup_free_ char *copy = strdup(path);

	if (!copy)
		return -ENOMEM;
	for (char *p = copy + 1;; p++) {
		bool last = *p == 0;
		if (*p != '/' && !last)
			continue;
		*p = 0;
		int fd = fsrun_open_in_root(rootfd, copy, O_PATH | O_DIRECTORY, 0);
		if (fd == -ENOENT) {
			char *base = strrchr(copy, '/');
			*base = 0;
			int pfd = fsrun_open_in_root(rootfd, *copy ? copy : "/",
						     O_PATH | O_DIRECTORY, 0);
			*base = '/';
			if (pfd < 0)
				return pfd;
			fd = mkdirat(pfd, base + 1, 0755) < 0 && errno != EEXIST ? -errno : 0;
			close(pfd);
			if (fd < 0)
				return fd;
		} else if (fd < 0) {
			return fd;
		} else {
			close(fd);
		}
		if (last)
			return 0;
		*p = '/';
	}
}

/* Enters the working directory, resolved inside the root whatever symlinks it holds. */
static int enter_cwd(const char *cwd, bool read_only)
{
	char buf[4096];
	int rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC), fd, r;

	if (rootfd < 0)
		return -errno;
	fd = fsrun_open_in_root(rootfd, cwd, O_PATH | O_DIRECTORY, 0);
	if (fd == -ENOENT && !read_only && mkdir_in_root(rootfd, cwd) == 0)
		fd = fsrun_open_in_root(rootfd, cwd, O_PATH | O_DIRECTORY, 0);
	close(rootfd);
	if (fd < 0)
		return fsrun_err(fd, "cannot use '%s' as the working directory", cwd);
	r = fchdir(fd) < 0 ? -errno : 0;
	close(fd);
	if (r < 0)
		return fsrun_err(r, "cannot enter the working directory '%s'", cwd);
	/* Paranoia: the directory must be reachable from the root. */
	if (!getcwd(buf, sizeof(buf)) || buf[0] != '/')
		return fsrun_err(-EPERM, "the working directory '%s' is outside the root", cwd);
	return 0;
}

static int set_ids(const struct fsrun_user *u, const struct fsrun_payload *p)
{
	if (p->groups) {
		if (setgroups(u->n_groups, u->groups) < 0)
			return fsrun_err(-errno, "setgroups");
	}
	if (setresgid(u->gid, u->gid, u->gid) < 0)
		return fsrun_err(-errno, "cannot switch to gid %u%s", (unsigned)u->gid,
				 p->rootless && u->gid ? " (not in the id map: see --uidmap)" : "");
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return fsrun_err(-errno, "PR_SET_KEEPCAPS");
	if (setresuid(u->uid, u->uid, u->uid) < 0)
		return fsrun_err(-errno, "cannot switch to uid %u%s", (unsigned)u->uid,
				 p->rootless && u->uid ? " (not in the id map: see --uidmap)" : "");
	return 0;
}

static void reset_signals(void)
{
	sigset_t none;

	for (int sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

static _Noreturn void die(int r, const char *what)
{
	fsrun_err(r, "%s", what);
	_exit(FSRUN_EXIT_ERROR);
}

/* The payload: never returns. */
static _Noreturn void payload(const struct fsrun_payload *p, const struct fsrun_user *u)
{
	const struct fsrun_proc *proc = p->proc;
	int r, keep[1];

	if (setsid() < 0)
		die(-errno, "setsid");
	if (p->tty_fd >= 0) {
		if (ioctl(p->tty_fd, TIOCSCTTY, 0) < 0)
			die(-errno, "cannot take the terminal");
		for (int fd = 0; fd < 3; fd++)
			if (dup2(p->tty_fd, fd) < 0)
				die(-errno, "dup2");
		close(p->tty_fd);
	}
	if (enter_cwd(proc->cwd, p->o->read_only) < 0)
		_exit(FSRUN_EXIT_ERROR);
	if (set_ids(u, p) < 0)
		_exit(FSRUN_EXIT_ERROR);
	r = fsrun_caps_apply(p->rootless || u->uid != 0 ? 0 : p->o->caps);
	if (r < 0)
		die(r, "cannot set the capabilities");
	r = fsrun_close_fds_from(3 + p->o->preserve_fds, keep, 0);
	if (r < 0)
		die(r, "cannot close inherited fds");
	reset_signals();
	environ = proc->env;
	r = fsrun_no_new_privs();
	if (r == 0)
		r = fsrun_seccomp_load();
	if (r < 0)
		die(r, "cannot load the seccomp filter");
	execvp(proc->argv[0], proc->argv);
	r = errno;
	fprintf(stderr, "fsrun: cannot run '%s': %s\n", proc->argv[0], strerror(r));
	_exit(r == ENOENT || r == ENOTDIR ? FSRUN_EXIT_NOT_FOUND : FSRUN_EXIT_CANNOT_EXEC);
}

_Noreturn void fsrun_payload_run(const struct fsrun_payload *p)
{
	struct fsrun_user u;
	int rootfd, r;

	rootfd = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		die(-errno, "cannot open the root");
	r = fsrun_user_resolve(rootfd, p->proc->user, &u);
	close(rootfd);
	if (r < 0)
		_exit(FSRUN_EXIT_ERROR);
	r = fsrun_env_defaults(&((struct fsrun_proc *)p->proc)->env, u.home);
	if (r < 0)
		die(r, "environment");
	payload(p, &u);
}

int fsrun_init_run(const struct fsrun_payload *p)
{
	sigset_t all;
	pid_t child;
	int r;

	/* /proc/1 of a non-dumpable process is out of the payload's reach (and /proc/1/exe
	 * is fsrun's binary on the host). */
	r = fsrun_set_dumpable(false);
	if (r < 0)
		return fsrun_err(r, "PR_SET_DUMPABLE"), FSRUN_EXIT_ERROR;

	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	child = fork();
	if (child < 0)
		return fsrun_err(-errno, "fork"), FSRUN_EXIT_ERROR;
	if (child == 0)
		fsrun_payload_run(p);
	if (p->tty_fd >= 0)
		close(p->tty_fd); /* the payload's alone: its end closes the terminal */

	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si), status;
		pid_t pid;

		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
			if (pid != child)
				continue;
			if (WIFEXITED(status))
				return WEXITSTATUS(status);
			if (WIFSIGNALED(status))
				return 128 + WTERMSIG(status);
		}
	}
}
