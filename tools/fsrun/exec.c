/*
 * fsrun exec [OPTIONS] NAME [--] CMD...   run another process in a running container
 * fsrun stop [--store DIR] [-t SECONDS] NAME
 *
 * exec joins every namespace of the container's init at once through a pidfd (so it cannot
 * race with a reused pid), forks into its pid namespace, and then takes exactly the payload's
 * path: the same user resolution inside the root, capabilities, no_new_privs, seccomp and fd
 * hygiene. stop asks the monitor to pass SIGTERM on, and kills the container's init (which
 * takes the whole pid namespace with it) when the payload is still there after the timeout.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "layerfs/container.h"
#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "layerfs/util.h"
#include "fsrun.h"

static char *store_path_of(const char *opt)
{
	char *p = NULL;

	if (opt)
		return strdup(opt);
	if (lf_store_default_path(&p) < 0)
		return NULL;
	return p;
}

/* Loads the record of a running container and opens pidfds on its init and monitor. */
static int attach(const char *store, const char *name, struct fsrun_state *st, int *ret_init,
		  int *ret_monitor)
{
	_cleanup_free_ char *path = fsrun_state_path(store, name);
	int r, ifd, mfd;

	if (!path)
		return -ENOMEM;
	r = fsrun_state_load(path, st);
	if (r == -ENOENT || r == -ESRCH)
		return fsrun_err(0, "container '%s' is not running", name), -ESRCH;
	if (r < 0)
		return fsrun_err(r, "cannot read '%s'", path);
	ifd = pidfd_open(st->init, 0);
	mfd = ifd >= 0 ? pidfd_open(st->monitor, 0) : -1;
	/* Opened, then checked: had the pid been reused in between, the start time differs. */
	if (ifd < 0 || mfd < 0 || fsrun_proc_starttime(st->init) != st->init_start ||
	    fsrun_proc_starttime(st->monitor) != st->monitor_start) {
		if (ifd >= 0)
			close(ifd);
		if (mfd >= 0)
			close(mfd);
		fsrun_state_done(st);
		return fsrun_err(0, "container '%s' is not running", name), -ESRCH;
	}
	*ret_init = ifd;
	*ret_monitor = mfd;
	return 0;
}

/* Whether the user namespace of process pid denies setgroups (a rootless single-id
 * container). Read on the host's /proc, before joining: the container's /proc has no entry
 * for a process outside its pid namespace. */
static bool setgroups_denied(pid_t pid)
{
	char buf[16] = "", path[64];
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/setgroups", (int)pid);
	f = fopen(path, "re");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = 0;
	fclose(f);
	return strncmp(buf, "deny", 4) == 0;
}

/*
 * Joins the namespaces of the container whose init is initfd (host pid init). init is not
 * dumpable and, never having exec'd, belongs to the host's user namespace for ptrace rules,
 * so a caller without CAP_SYS_PTRACE there (rootless) may not join through it; its first
 * child, the payload, is an ordinary process of the container and serves as well.
 */
static int join(int initfd, pid_t init, int flags)
{
	char path[64], buf[32];
	int fd, r = -ESRCH;
	long child;
	FILE *f;

	if (setns(initfd, flags) == 0)
		return 0;
	if (errno != EPERM)
		return -errno;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", (int)init, (int)init);
	f = fopen(path, "re");
	if (!f)
		return -EPERM;
	if (fscanf(f, "%31s", buf) == 1 && lf_parse_int(buf, &(int){ 0 }) == 0) {
		child = strtol(buf, NULL, 10);
		fd = pidfd_open(child, 0);
		if (fd >= 0) {
			r = setns(fd, flags) < 0 ? -errno : 0;
			close(fd);
		}
	}
	fclose(f);
	errno = -r;
	return r;
}

static int add_str(char ***v, size_t *n, const char *s)
{
	char **nv = realloc(*v, (*n + 2) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	*v = nv;
	nv[*n] = strdup(s);
	if (!nv[*n])
		return -ENOMEM;
	nv[++*n] = NULL;
	return 0;
}

int fsrun_exec_main(int argc, char **argv)
{
	enum { OPT_STORE = 0x100, OPT_PRESERVE };
	static const struct option opts[] = {
		{ "store", required_argument, NULL, OPT_STORE },
		{ "env", required_argument, NULL, 'e' },
		{ "workdir", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'u' },
		{ "preserve-fds", required_argument, NULL, OPT_PRESERVE },
		{ "interactive", no_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *store_opt = NULL, *workdir = NULL, *user = NULL;
	struct fsrun_opts o = {};
	struct fsrun_proc proc = {};
	struct fsrun_state st = {};
	char **extra = NULL;
	size_t n_extra = 0, n_env = 0;
	int c, initfd = -1, monfd = -1, status, flags;
	_cleanup_free_ char *store = NULL;
	sigset_t all, old;
	pid_t child;

	while ((c = getopt_long(argc, argv, "+e:w:u:ih", opts, NULL)) >= 0) {
		switch (c) {
		case OPT_STORE:
			store_opt = optarg;
			break;
		case 'e':
			if (add_str(&extra, &n_extra, optarg) < 0)
				return FSRUN_EXIT_ERROR;
			break;
		case 'w':
			workdir = optarg;
			break;
		case 'u':
			user = optarg;
			break;
		case OPT_PRESERVE:
			if (lf_parse_int(optarg, &o.preserve_fds) < 0 || o.preserve_fds > 1000)
				return fsrun_invalid("--preserve-fds '%s' is not a count", optarg),
				       FSRUN_EXIT_ERROR;
			break;
		case 'i':
			break;
		case 'h':
			printf("usage: fsrun exec [--store DIR] [-e K=V] [-w DIR] [-u USER[:GROUP]] "
			       "NAME [--] CMD [ARG...]\n");
			return 0;
		default:
			return FSRUN_EXIT_ERROR;
		}
	}
	if (optind >= argc)
		return fsrun_invalid("usage: fsrun exec NAME [--] CMD [ARG...]"), FSRUN_EXIT_ERROR;
	const char *name = argv[optind++];
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	if (optind >= argc)
		return fsrun_invalid("fsrun exec needs a command"), FSRUN_EXIT_ERROR;
	store = store_path_of(store_opt);
	if (!store)
		return fsrun_err(-ENOENT, "cannot find the store; use --store DIR"),
		       FSRUN_EXIT_ERROR;
	if (attach(store, name, &st, &initfd, &monfd) < 0)
		return FSRUN_EXIT_ERROR;
	close(monfd);

	/* The container's environment, then -e on top; its user and directory unless given. */
	for (size_t i = 0; st.env[i]; i++)
		if (add_str(&proc.env, &n_env, st.env[i]) < 0)
			return FSRUN_EXIT_ERROR;
	for (size_t i = 0; i < n_extra; i++) {
		const char *eq = strchr(extra[i], '=');
		const char *v = eq ? NULL : getenv(extra[i]);
		_cleanup_free_ char *kv =
			eq ? strdup(extra[i]) : (v ? lf_strdup_printf("%s=%s", extra[i], v) : NULL);
		size_t klen = eq ? (size_t)(eq - extra[i]) : strlen(extra[i]);
		if (!kv)
			continue;
		for (size_t j = 0; j < n_env; j++) {
			if (strncmp(proc.env[j], kv, klen) == 0 && proc.env[j][klen] == '=') {
				free(proc.env[j]);
				proc.env[j] = proc.env[--n_env];
				proc.env[n_env] = NULL;
				break;
			}
		}
		if (add_str(&proc.env, &n_env, kv) < 0)
			return FSRUN_EXIT_ERROR;
	}
	if (!proc.env && add_str(&proc.env, &n_env, "container=fsrun") < 0)
		return FSRUN_EXIT_ERROR;
	proc.argv = argv + optind;
	proc.cwd = (char *)(workdir ? workdir : st.cwd);
	proc.user = (char *)(user ? user : st.user);
	o.read_only = st.read_only;
	o.caps = st.caps;

	flags = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC;
	if (st.ids != FSRUN_IDS_HOST)
		flags |= CLONE_NEWUSER;
	if (st.net_none)
		flags |= CLONE_NEWNET;
	bool groups = !setgroups_denied(st.init);
	if (join(initfd, st.init, flags) < 0)
		return fsrun_err(-errno, "cannot join the namespaces of container '%s'", name),
		       FSRUN_EXIT_ERROR;
	close(initfd);

	struct fsrun_payload p = {
		.proc = &proc,
		.o = &o,
		.rootless = st.ids == FSRUN_IDS_ROOTLESS,
		.groups = groups,
		.tty_fd = -1,
	};
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	fflush(NULL);
	child = fork();
	if (child < 0)
		return fsrun_err(-errno, "fork"), FSRUN_EXIT_ERROR;
	if (child == 0) {
		/* In the container's pid namespace now; become its root, then the payload. */
		if (st.ids != FSRUN_IDS_HOST &&
		    (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0)) {
			fsrun_err(-errno, "cannot become root in the container");
			_exit(FSRUN_EXIT_ERROR);
		}
		prctl(PR_SET_PDEATHSIG, SIGKILL); /* after the id change, which clears it */
		fsrun_payload_run(&p);
	}
	for (;;) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(child, sig);
			continue;
		}
		if (waitpid(child, &status, WNOHANG) == child)
			break;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Waits for a pidfd to become readable (the process exited); false on timeout. */
static bool wait_exit(int pidfd, int timeout_ms)
{
	struct pollfd pfd = { .fd = pidfd, .events = POLLIN };
	int r;

	do
		r = poll(&pfd, 1, timeout_ms);
	while (r < 0 && errno == EINTR);
	return r > 0;
}

int fsrun_stop_main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "store", required_argument, NULL, 's' },
		{ "time", required_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *store_opt = NULL;
	_cleanup_free_ char *store = NULL;
	struct fsrun_state st = {};
	int c, secs = 10, initfd, monfd;

	while ((c = getopt_long(argc, argv, "+t:h", opts, NULL)) >= 0) {
		switch (c) {
		case 's':
			store_opt = optarg;
			break;
		case 't':
			if (lf_parse_int(optarg, &secs) < 0)
				return fsrun_invalid("-t '%s' is not a number of seconds", optarg),
				       FSRUN_EXIT_ERROR;
			break;
		case 'h':
			printf("usage: fsrun stop [--store DIR] [-t SECONDS] NAME\n");
			return 0;
		default:
			return FSRUN_EXIT_ERROR;
		}
	}
	if (optind + 1 != argc)
		return fsrun_invalid("usage: fsrun stop [-t SECONDS] NAME"), FSRUN_EXIT_ERROR;
	store = store_path_of(store_opt);
	if (!store)
		return FSRUN_EXIT_ERROR;
	if (attach(store, argv[optind], &st, &initfd, &monfd) < 0)
		return FSRUN_EXIT_ERROR;
	fsrun_state_done(&st);
	/* The monitor passes SIGTERM on to init, which passes it on to the payload. */
	if (pidfd_send_signal(monfd, SIGTERM, NULL, 0) < 0 && errno != ESRCH)
		return fsrun_err(-errno, "cannot signal container '%s'", argv[optind]),
		       FSRUN_EXIT_ERROR;
	if (!wait_exit(monfd, secs * 1000)) {
		/* Killing init tears the whole pid namespace down. */
		pidfd_send_signal(initfd, SIGKILL, NULL, 0);
		wait_exit(monfd, 10000);
	}
	close(initfd);
	close(monfd);
	return 0;
}
