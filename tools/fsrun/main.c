/*
 * fsrun [OPTIONS] IMAGE [--] [CMD [ARG...]]
 * fsrun [OPTIONS] --root DIR [--] CMD...
 *
 * The host side of a run, step by step:
 *   1. pre-flight: refuse to run setuid; resolve the image and its config in the store;
 *   2. clone() the container's init into new user (unless --userns=host), mount, pid, uts,
 *      ipc (and, with --net=none, net) namespaces, and write its id maps;
 *   3. init opens /dev/fuse and mounts it inside the namespaces (so the kernel reads the ids
 *      the daemon answers in the container's user namespace) and sends the fd back;
 *   4. a layerfs daemon is started here, outside every namespace of the container, to serve
 *      that fd: nothing inside can signal or ptrace it, and it keeps its access to the store;
 *   5. init builds the rest of the root and runs the payload (sandbox.c, init.c) while this
 *      process forwards signals to it; its exit status becomes fsrun's;
 *   6. when the last process of the container is gone its mount namespace goes, the FUSE
 *      connection ends and the daemon exits; a temporary container is then removed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <linux/magic.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "layerfs/container.h"
#include "layerfs/macro.h"
#include "layerfs/store.h"
#include "layerfs/util.h"
#include "fsrun.h"
#include "security.h"

#define PRIVATE_IDS 65536

struct run {
	struct fsrun_opts o;
	struct fsrun_proc proc;
	char *store_path;
	char *name; /* the container's name (generated when temporary) */
	bool temporary;
	char tmpdir[512]; /* fsrun-XXXXXX: root/, hosts, hostname, resolv.conf */
	char rootdir[PATH_MAX];
	uid_t uid; /* the caller */
	gid_t gid;
	uid_t id_base; /* first host id of a private range */
	pid_t child;
	int sock; /* to the child */
	int ready_fd; /* --detach: told once the payload runs */
	char *state_path; /* run/fsrun-NAME.json while it runs */
	pid_t daemon; /* the layerfs daemon serving the root, or 0 */
	char *gen_hosts, *gen_hostname, *gen_resolv;
	char fuse_node[600]; /* a private range's /dev/fuse (make_private_fuse_node) */
	char fuse_dir[590];
};

/* ---- host side helpers ---- */

/* The layerfs binary: $LAYERFS, else next to fsrun (build tree or install), else $PATH. */
static char *layerfs_path(void)
{
	char self[PATH_MAX], *slash, *p;
	ssize_t n;

	if (getenv("LAYERFS") && *getenv("LAYERFS"))
		return strdup(getenv("LAYERFS"));
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n > 0) {
		self[n] = 0;
		slash = strrchr(self, '/');
		*slash = 0;
		p = lf_strdup_printf("%s/../layerfs/layerfs", self);
		if (p && access(p, X_OK) == 0)
			return p;
		free(p);
		p = lf_strdup_printf("%s/layerfs", self);
		if (p && access(p, X_OK) == 0)
			return p;
		free(p);
	}
	return strdup("layerfs");
}

/* The contents of the container's hosts, hostname and resolv.conf (init writes them). */
static int generate_etc(struct run *run, const char *hostname)
{
	size_t len;

	run->gen_hosts = lf_strdup_printf("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost "
					  "ip6-loopback\n127.0.1.1\t%s\n",
					  hostname);
	run->gen_hostname = lf_strdup_printf("%s\n", hostname);
	if (!run->gen_hosts || !run->gen_hostname)
		return -ENOMEM;
	if (run->o.net_none ||
	    lf_read_file_at(AT_FDCWD, "/etc/resolv.conf", 1 << 20, &run->gen_resolv, &len) < 0) {
		free(run->gen_resolv);
		run->gen_resolv = strdup("");
		if (!run->gen_resolv)
			return -ENOMEM;
	}
	return 0;
}

/* Scratch space on a tmpfs where there is one: a disk's metadata writes cost more than
 * everything else a start does. */
static int make_tmpdir(struct run *run)
{
	const char *base = getenv("XDG_RUNTIME_DIR");
	struct statfs sf;

	if (!base || access(base, W_OK) < 0 || geteuid() == 0 || strlen(base) > 400)
		base = statfs("/dev/shm", &sf) == 0 && sf.f_type == TMPFS_MAGIC &&
				       access("/dev/shm", W_OK) == 0
			       ? "/dev/shm"
			       : "/tmp";
	snprintf(run->tmpdir, sizeof(run->tmpdir), "%s/fsrun-XXXXXX", base);
	if (!mkdtemp(run->tmpdir))
		return fsrun_err(-errno, "cannot make a scratch directory in '%s'", base);
	/* The container's root (maybe a private id range) must be able to reach root/. */
	if (chmod(run->tmpdir, 0755) < 0)
		return fsrun_err(-errno, "chmod '%s'", run->tmpdir);
	snprintf(run->rootdir, sizeof(run->rootdir), "%s/root", run->tmpdir);
	if (mkdir(run->rootdir, 0755) < 0)
		return fsrun_err(-errno, "mkdir '%s'", run->rootdir);
	return 0;
}

static void remove_tmpdir(struct run *run)
{
	if (run->fuse_node[0])
		unlink(run->fuse_node);
	if (run->fuse_dir[0] && strcmp(run->fuse_dir, run->tmpdir) != 0)
		rmdir(run->fuse_dir);
	if (!run->tmpdir[0])
		return;
	rmdir(run->rootdir);
	rmdir(run->tmpdir);
}

static int write_proc_file(pid_t pid, const char *name, const char *content)
{
	char path[64];
	int fd, r = 0;

	snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, content, strlen(content)) < 0)
		r = -errno;
	close(fd);
	return r;
}

/* Writes a map: directly as root, through the setuid newuidmap/newgidmap otherwise (which
 * check the ranges against /etc/subuid and /etc/subgid). -ECANCELED: failed, and said why. */
static int write_map(struct run *run, bool uid, const struct fsrun_idmap *m, size_t n)
{
	char text[FSRUN_MAX_IDMAP * 40] = "", pid[16], args[FSRUN_MAX_IDMAP * 3][12];
	char *argv[3 + FSRUN_MAX_IDMAP * 3], err[512];
	size_t len = 0, k = 0;
	int status, efd[2];
	pid_t p;

	if (geteuid() == 0 ||
	    (n == 1 && m[0].count == 1 && m[0].outside == (uid ? run->uid : run->gid))) {
		for (size_t i = 0; i < n; i++)
			len += snprintf(text + len, sizeof(text) - len, "%u %u %u\n", m[i].inside,
					m[i].outside, m[i].count);
		return write_proc_file(run->child, uid ? "uid_map" : "gid_map", text);
	}
	snprintf(pid, sizeof(pid), "%d", (int)run->child);
	argv[k++] = uid ? "newuidmap" : "newgidmap";
	argv[k++] = pid;
	for (size_t i = 0; i < n; i++) {
		snprintf(args[3 * i], 12, "%u", m[i].inside);
		snprintf(args[3 * i + 1], 12, "%u", m[i].outside);
		snprintf(args[3 * i + 2], 12, "%u", m[i].count);
		argv[k++] = args[3 * i];
		argv[k++] = args[3 * i + 1];
		argv[k++] = args[3 * i + 2];
	}
	argv[k] = NULL;
	if (pipe2(efd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	p = fork();
	if (p < 0)
		return -errno;
	if (p == 0) {
		dup2(efd[1], STDERR_FILENO);
		execvp(argv[0], argv);
		fprintf(stderr, "cannot run %s: %s (install the uidmap package)", argv[0],
			strerror(errno));
		_exit(127);
	}
	close(efd[1]);
	/* Its complaint becomes part of fsrun's one line. */
	ssize_t got = read(efd[0], err, sizeof(err) - 1);
	close(efd[0]);
	err[got > 0 ? got : 0] = 0;
	err[strcspn(err, "\n")] = 0;
	while (waitpid(p, &status, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0)
		return 0;
	return fsrun_err(0, "cannot write the user namespace's id maps: %s",
			 err[0] ? err : "newuidmap failed"),
	       -ECANCELED; /* said */
}

/*
 * Rootless: the caller becomes 0, alone (or --uidmap ranges, through newuidmap). Root: 65536
 * ids from id_base (or the --uidmap ranges).
 */
static int write_id_maps(struct run *run)
{
	const struct fsrun_opts *o = &run->o;
	struct fsrun_idmap def = { 0, run->id_base, PRIVATE_IDS };
	int r;

	if (o->ids == FSRUN_IDS_HOST)
		return 0;
	if (o->n_uidmap) {
		r = write_map(run, true, o->uidmap, o->n_uidmap);
		if (r == 0)
			r = write_map(run, false, o->n_gidmap ? o->gidmap : o->uidmap,
				      o->n_gidmap ? o->n_gidmap : o->n_uidmap);
	} else if (o->ids == FSRUN_IDS_ROOTLESS) {
		struct fsrun_idmap u = { 0, run->uid, 1 }, g = { 0, run->gid, 1 };
		/* One id: setgroups must be denied before an unprivileged gid_map write. */
		r = write_proc_file(run->child, "setgroups", "deny");
		if (r == 0)
			r = write_map(run, true, &u, 1);
		if (r == 0)
			r = write_map(run, false, &g, 1);
	} else {
		r = write_map(run, true, &def, 1);
		if (r == 0)
			r = write_map(run, false, &def, 1);
	}
	if (r < 0 && r != -ECANCELED)
		fsrun_err(r, "cannot write the user namespace's id maps");
	return r;
}

/* A private range per container name, from the range systemd-nspawn picks from. */
static uid_t pick_id_base(const char *name)
{
	uint32_t h = 2166136261u;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	return 0x00080000u + (h % 0x6FF7u) * PRIVATE_IDS;
}

static int send_byte(int sock, char b)
{
	return send(sock, &b, 1, MSG_NOSIGNAL) == 1 ? 0 : -EPIPE;
}

static int recv_byte(int sock, char *b, int *ret_fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { b, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (ret_fd) {
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		*ret_fd = -1;
	}
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != 1)
		return -EPIPE;
	if (ret_fd) {
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			memcpy(ret_fd, CMSG_DATA(c), sizeof(int));
	}
	return 0;
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = {}, b = 'F';
	struct iovec iov = { &b, 1 };
	struct msghdr mh = { .msg_iov = &iov,
			     .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

/* ---- the child: the container's init ---- */

static int open_fuse(struct run *run)
{
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);

	if (fd >= 0 || !run->fuse_node[0])
		return fd < 0 ? -errno : fd;
	/* The private range's root cannot open the host's /dev/fuse (0600 root): the parent
	 * made it a node of its own. */
	fd = open(run->fuse_node, O_RDWR | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

/* Mounts the root: FUSE on a fresh /dev/fuse fd, handed to the parent for the daemon, or
 * the --root directory bound on itself. */
static int child_mount_root(struct run *run)
{
	char opts[128];
	int fd, r;

	if (run->o.root) {
		if (mount(run->rootdir, run->rootdir, NULL, MS_BIND | MS_REC, NULL) < 0)
			return fsrun_err(-errno, "cannot bind the root '%s'", run->o.root);
		if (run->o.read_only) {
			struct mount_attr attr = { .attr_set = MOUNT_ATTR_RDONLY };
			if (mount_setattr(AT_FDCWD, run->rootdir, AT_RECURSIVE, &attr,
					  sizeof(attr)) < 0)
				return fsrun_err(-errno, "cannot make the root read-only");
		}
		return 0; /* no daemon to wait for */
	}
	fd = open_fuse(run);
	if (fd < 0)
		return fsrun_err(fd, "cannot open /dev/fuse");
	/* allow_other: the container's other users are users of this mount too; the user
	 * namespace keeps everyone else out. */
	snprintf(opts, sizeof(opts),
		 "fd=%d,rootmode=40000,user_id=0,group_id=0,allow_other,default_permissions", fd);
	if (mount("layerfs", run->rootdir, "fuse.layerfs",
		  MS_NOSUID | MS_NODEV | (run->o.read_only ? MS_RDONLY : 0), opts) < 0) {
		r = -errno;
		close(fd);
		return fsrun_err(r, "cannot mount the image's root");
	}
	r = send_fd(run->sock, fd);
	close(fd);
	return r < 0 ? fsrun_err(r, "cannot hand the FUSE connection over") : 0;
}

static _Noreturn void child_main(struct run *run)
{
	struct fsrun_sandbox sb = {
		.o = &run->o,
		.root = run->rootdir,
		.hosts = run->gen_hosts,
		.hostname_file = run->gen_hostname,
		.resolv = run->gen_resolv,
		.hostname = run->o.hostname ? run->o.hostname : run->name,
		.rootless = run->o.ids == FSRUN_IDS_ROOTLESS,
	};
	struct fsrun_payload p = {
		.proc = &run->proc,
		.o = &run->o,
		.rootless = sb.rootless,
		.groups = !sb.rootless || run->o.n_uidmap > 0,
		.tty_fd = -1,
	};
	char b;

	if (recv_byte(run->sock, &b, NULL) < 0)
		_exit(FSRUN_EXIT_ERROR); /* the parent failed and said why */
	if (setresgid(0, 0, 0) < 0 || setresuid(0, 0, 0) < 0) {
		fsrun_err(-errno, "cannot become root in the user namespace");
		_exit(FSRUN_EXIT_ERROR);
	}
	/* The container dies with fsrun. Set after the id change, which would clear it; had
	 * fsrun died already, its end of the socket is closed (it lives in another pid
	 * namespace, so getppid() tells nothing). */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (recv(run->sock, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0)
		_exit(FSRUN_EXIT_ERROR);
	if (p.groups)
		setgroups(0, NULL);
	/* Nothing mounted from here on propagates back to the host. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		fsrun_err(-errno, "cannot make the mount namespace private");
		_exit(FSRUN_EXIT_ERROR);
	}
	if (child_mount_root(run) < 0)
		_exit(FSRUN_EXIT_ERROR);
	/* An image's root works once the daemon serves it. */
	if (run->o.image && (recv_byte(run->sock, &b, NULL) < 0 || b != 'G'))
		_exit(FSRUN_EXIT_ERROR);
	if (fsrun_sandbox_enter(&sb) < 0)
		_exit(FSRUN_EXIT_ERROR);
	if (run->o.tty) {
		int master, r = fsrun_tty_open(&master, &p.tty_fd);
		if (r < 0) {
			fsrun_err(r, "cannot open a pseudo-terminal");
			_exit(FSRUN_EXIT_ERROR);
		}
		r = send_fd(run->sock, master);
		close(master);
		if (r < 0)
			_exit(FSRUN_EXIT_ERROR);
	}
	close(run->sock);
	_exit(fsrun_init_run(&p));
}

/* ---- the parent ---- */

/* Runs `layerfs ARGS...` with the store of this run; its stdout is returned when asked. */
static int run_layerfs(struct run *run, char *const *args, char **ret_out)
{
	_cleanup_free_ char *layerfs = layerfs_path();
	char *argv[16], *out = NULL;
	size_t n = 0, len = 0, cap = 0;
	int pfd[2] = { -1, -1 }, status;
	pid_t pid;

	if (!layerfs)
		return -ENOMEM;
	argv[n++] = layerfs;
	for (size_t i = 0; args[i] && n < ARRAY_SIZE(argv) - 1; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	if (ret_out && pipe2(pfd, O_CLOEXEC) < 0)
		return -errno;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		if (ret_out && dup2(pfd[1], STDOUT_FILENO) < 0)
			_exit(127);
		setenv("LAYERFS_STORE", run->store_path, 1);
		execvp(layerfs, argv);
		fprintf(stderr, "fsrun: cannot run '%s': %s\n", layerfs, strerror(errno));
		_exit(127);
	}
	if (ret_out) {
		close(pfd[1]);
		for (;;) {
			if (len + 4096 + 1 > cap) {
				char *p = realloc(out, cap = cap ? cap * 2 : 65536);
				if (!p)
					break;
				out = p;
			}
			ssize_t k = read(pfd[0], out + len, cap - len - 1);
			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			len += k;
		}
		close(pfd[0]);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR) {
			free(out);
			return -errno;
		}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		free(out);
		return -EIO; /* layerfs said why */
	}
	if (ret_out) {
		if (!out)
			return -ENOMEM;
		out[len] = 0;
		*ret_out = out;
	}
	return 0;
}

/*
 * Starts the layerfs daemon on the FUSE fd, as a child of this process in a session of its
 * own (a Ctrl-C meant for the payload must not stop it); returns once it serves.
 */
static int start_daemon(struct run *run, int fuse_fd)
{
	_cleanup_free_ char *layerfs = layerfs_path();
	int pfd[2], status;
	char b = 0;
	ssize_t k;
	pid_t pid;

	if (!layerfs || pipe2(pfd, O_CLOEXEC) < 0)
		return fsrun_err(-errno, "pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return fsrun_err(-errno, "fork");
	if (pid == 0) {
		char *argv[16];
		int n = 0;
		setsid();
		if (dup2(fuse_fd, 3) < 0 || dup2(pfd[1], 4) < 0)
			_exit(127);
		setenv("LAYERFS_STORE", run->store_path, 1);
		argv[n++] = layerfs;
		argv[n++] = "mount";
		argv[n++] = (char *)run->o.image;
		argv[n++] = run->rootdir;
		argv[n++] = "--fuse-fd";
		argv[n++] = "3";
		argv[n++] = "--ready-fd";
		argv[n++] = "4";
		argv[n++] = "-f";
		argv[n++] = "--name";
		argv[n++] = run->name;
		if (run->o.read_only)
			argv[n++] = "--read-only";
		if (run->temporary || run->o.rm)
			argv[n++] = "--rm"; /* by the daemon, even if fsrun is killed */
		argv[n] = NULL;
		execvp(layerfs, argv);
		fprintf(stderr, "fsrun: cannot run '%s': %s\n", layerfs, strerror(errno));
		_exit(127);
	}
	close(pfd[1]);
	run->daemon = pid;
	do
		k = read(pfd[0], &b, 1);
	while (k < 0 && errno == EINTR);
	if (k != 1 || b != 'R') {
		close(pfd[0]);
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		run->daemon = 0;
		return fsrun_err(0, "layerfs could not serve image '%s'", run->o.image), -EIO;
	}
	close(pfd[0]);
	return 0;
}

/* The daemon ends with the FUSE connection, that is with the container's last process. */
static void wait_daemon(struct run *run)
{
	int status;

	if (run->daemon <= 0)
		return;
	for (int i = 0; i < 1000; i++) {
		pid_t p = waitpid(run->daemon, &status, WNOHANG);
		if (p == run->daemon || (p < 0 && errno != EINTR))
			return;
		if (i == 500)
			kill(run->daemon, SIGTERM);
		nanosleep(&(struct timespec){ 0, 10 * 1000 * 1000 }, NULL);
	}
}

static int load_image(struct run *run)
{
	_cleanup_free_ char *out = NULL, *cfg_text = NULL;
	char *args[] = { "inspect", (char *)run->o.image, NULL };
	json_t *doc, *cfg;
	int r;

	if (run->o.store)
		run->store_path = strdup(run->o.store);
	else if (lf_store_default_path(&run->store_path) < 0)
		run->store_path = NULL;
	if (!run->store_path)
		return fsrun_err(-ENOMEM, "cannot find the store; use --store DIR");
	if (!run->o.image)
		return fsrun_proc_build(NULL, &run->o, &run->proc);
	/* layerfs reads the store; fsrun only needs the image's config from it. */
	r = run_layerfs(run, args, &out);
	if (r < 0)
		return r;
	doc = json_loads(out, 0, NULL);
	cfg = json_object_get(doc, "config");
	cfg_text = cfg ? json_dumps(cfg, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!cfg_text)
		return fsrun_err(-EBADMSG, "layerfs inspect '%s' gave no image config",
				 run->o.image);
	return fsrun_proc_build(cfg_text, &run->o, &run->proc);
}

/*
 * A /dev/fuse the private id range's root may open: the host's is 0600 root, and the opener
 * of the connection must be inside the user namespace. The node goes where devices work (not
 * on a nodev mount) and where that root can reach it (a 0711 directory of its own).
 */
static int make_private_fuse_node(struct run *run)
{
	const char *bases[] = { run->tmpdir, "/var/tmp", "/tmp" };
	uid_t root_uid = run->id_base;
	struct statvfs sv;

	/* The host id the container's root has. */
	for (size_t i = 0; i < run->o.n_uidmap; i++)
		if (run->o.uidmap[i].inside == 0)
			root_uid = run->o.uidmap[i].outside;

	for (size_t i = 0; i < ARRAY_SIZE(bases); i++) {
		if (statvfs(bases[i], &sv) < 0 || (sv.f_flag & ST_NODEV))
			continue;
		if (i == 0) {
			snprintf(run->fuse_dir, sizeof(run->fuse_dir), "%s", run->tmpdir);
		} else {
			snprintf(run->fuse_dir, sizeof(run->fuse_dir), "%s/fsrun-fuse-XXXXXX",
				 bases[i]);
			if (!mkdtemp(run->fuse_dir) || chmod(run->fuse_dir, 0711) < 0) {
				run->fuse_dir[0] = 0;
				continue;
			}
		}
		snprintf(run->fuse_node, sizeof(run->fuse_node), "%s/fuse", run->fuse_dir);
		if (mknod(run->fuse_node, S_IFCHR | 0600, makedev(10, 229)) == 0 &&
		    chown(run->fuse_node, root_uid, root_uid) == 0)
			return 0;
		unlink(run->fuse_node);
		run->fuse_node[0] = 0;
		if (i > 0)
			rmdir(run->fuse_dir);
		run->fuse_dir[0] = 0;
	}
	return fsrun_err(-ENODEV, "cannot make a /dev/fuse for the private id range (no "
				  "directory without nodev); use --userns host");
}

/* The record fsrun exec and fsrun stop find the container by. */
static void save_state(struct run *run)
{
	struct fsrun_state st = {
		.init = run->child,
		.init_start = fsrun_proc_starttime(run->child),
		.monitor = getpid(),
		.monitor_start = fsrun_proc_starttime(getpid()),
		.ids = run->o.ids,
		.net_none = run->o.net_none,
		.read_only = run->o.read_only,
		.caps = run->o.caps,
		.env = run->proc.env,
		.cwd = run->proc.cwd,
		.user = run->proc.user,
	};
	int r;

	run->state_path = fsrun_state_path(run->store_path, run->name);
	if (!run->state_path)
		return;
	r = fsrun_state_save(run->state_path, &st);
	if (r < 0) {
		/* --root without a store has nowhere to record it */
		if (r != -ENOENT || run->o.image)
			fsrun_err(r, "cannot record the container (fsrun exec and stop will not "
				     "find it)");
		free(run->state_path);
		run->state_path = NULL;
	}
}

/* Refuses a second run of a container that runs. */
static int check_not_running(struct run *run)
{
	_cleanup_free_ char *path = fsrun_state_path(run->store_path, run->name);
	struct fsrun_state st;

	if (!path)
		return -ENOMEM;
	if (fsrun_state_load(path, &st) < 0)
		return 0;
	fsrun_state_done(&st);
	return fsrun_err(-EBUSY, "container '%s' is already running", run->name);
}

/* --detach: the caller waits for the payload to run, prints the name and returns; this
 * process carries on as the monitor, in a session of its own. */
static int detach(struct run *run)
{
	int pfd[2], status, fd;
	char b;
	pid_t pid;

	if (pipe2(pfd, O_CLOEXEC) < 0)
		return fsrun_err(-errno, "pipe");
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return fsrun_err(-errno, "fork");
	if (pid > 0) {
		close(pfd[1]);
		if (read(pfd[0], &b, 1) == 1) {
			printf("%s\n", run->name);
			exit(0);
		}
		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
		exit(WIFEXITED(status) && WEXITSTATUS(status) ? WEXITSTATUS(status)
							      : FSRUN_EXIT_ERROR);
	}
	close(pfd[0]);
	run->ready_fd = pfd[1];
	setsid();
	fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		dup2(fd, STDIN_FILENO);
		close(fd);
	}
	return 0;
}

static int run_container(struct run *run)
{
	int fl = CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWUTS | CLONE_NEWIPC, sv[2], status, r;
	int fuse_fd = -1, master = -1;
	struct fsrun_cgroup cg;
	sigset_t all, old;
	char b;

	if (run->o.net_none)
		fl |= CLONE_NEWNET;
	if (run->o.ids != FSRUN_IDS_HOST)
		fl |= CLONE_NEWUSER;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return fsrun_err(-errno, "socketpair");
	/* Signals wait in the queue until the loop below forwards them. */
	sigfillset(&all);
	sigprocmask(SIG_SETMASK, &all, &old);
	fflush(NULL);
	run->child = syscall(SYS_clone, fl | SIGCHLD, NULL, NULL, NULL, NULL);
	if (run->child < 0) {
		r = -errno;
		sigprocmask(SIG_SETMASK, &old, NULL);
		return fsrun_err(r, "cannot create the container's namespaces%s",
				 r == -EPERM || r == -ENOSPC ? " (are user namespaces allowed?)"
							     : "");
	}
	if (run->child == 0) {
		close(sv[0]);
		run->sock = sv[1];
		child_main(run);
	}
	close(sv[1]);
	run->sock = sv[0];
	/* Limits hold from init's first step: it waits for the maps below. */
	fsrun_cgroup_setup(&cg, run->name, &run->o.limits, run->child);
	r = write_id_maps(run);
	if (r == 0)
		r = send_byte(run->sock, 'M');
	if (r == 0 && run->o.image) {
		r = recv_byte(run->sock, &b, &fuse_fd);
		if (r == 0 && fuse_fd < 0)
			r = -EPROTO;
		if (r == 0)
			r = start_daemon(run, fuse_fd);
		if (fuse_fd >= 0)
			close(fuse_fd);
		if (r == 0)
			r = send_byte(run->sock, 'G');
	}
	/* -t: the master side of the container's terminal comes once the root is built. */
	if (r == 0 && run->o.tty && recv_byte(run->sock, &b, &master) < 0)
		master = -1; /* init failed before, and said why */
	/* run->sock stays open while the container runs: init reads its EOF as fsrun's death. */
	if (r == 0)
		save_state(run);
	if (r < 0)
		kill(run->child, SIGKILL);
	if (run->ready_fd >= 0) {
		if (r == 0 && write(run->ready_fd, "R", 1) != 1)
			r = 0; /* the caller went away: keep running */
		close(run->ready_fd);
		run->ready_fd = -1;
	}

	if (master >= 0) {
		fsrun_tty_relay(master, run->child, &all, &status);
		close(master);
	}
	while (master < 0) {
		siginfo_t si;
		int sig = sigwaitinfo(&all, &si);
		if (sig < 0)
			continue;
		if (sig != SIGCHLD) {
			kill(run->child, sig);
			continue;
		}
		pid_t pid = waitpid(run->child, &status, WNOHANG);
		if (pid == run->child)
			break;
	}
	sigprocmask(SIG_SETMASK, &old, NULL);
	close(run->sock);
	fsrun_cgroup_remove(&cg);
	if (run->state_path)
		unlink(run->state_path);
	if (r < 0)
		return FSRUN_EXIT_ERROR;
	if (WIFEXITED(status))
		return WEXITSTATUS(status);
	return 128 + WTERMSIG(status);
}

/* Frees what a run holds (the options' lists too). */
static void run_done(struct run *run)
{
	fsrun_proc_done(&run->proc);
	for (size_t i = 0; i < run->o.n_env; i++)
		free(run->o.env[i]);
	free(run->o.env);
	for (size_t i = 0; i < run->o.n_mounts; i++)
		free(run->o.mounts[i].src ? run->o.mounts[i].src : run->o.mounts[i].dst);
	free(run->o.mounts);
	free(run->name);
	free(run->store_path);
	free(run->state_path);
	free(run->gen_hosts);
	free(run->gen_hostname);
	free(run->gen_resolv);
}

static int start(struct run *run, int argc, char **argv)
{
	char hex[33];
	int status;

	run->uid = getuid();
	run->gid = getgid();
	if (fsrun_parse_args(argc, argv, &run->o) < 0 || load_image(run) < 0)
		return FSRUN_EXIT_ERROR;
	if (run->o.name) {
		run->name = strdup(run->o.name);
	} else {
		lf_random_hex(hex);
		run->name = lf_strdup_printf("fsrun-%.8s", hex);
		run->temporary = true;
	}
	if (!run->name)
		return FSRUN_EXIT_ERROR;
	run->id_base = pick_id_base(run->name);
	if (check_not_running(run) < 0)
		return FSRUN_EXIT_ERROR;
	if (run->o.detach && detach(run) < 0)
		return FSRUN_EXIT_ERROR;
	/* --root DIR is bound on itself in the container's mount namespace: no scratch space. */
	if (run->o.root && !realpath(run->o.root, run->rootdir)) {
		fsrun_err(-errno, "cannot use '%s' as the root", run->o.root);
		return FSRUN_EXIT_ERROR;
	}
	if ((!run->o.root && make_tmpdir(run) < 0) ||
	    generate_etc(run, run->o.hostname ? run->o.hostname : run->name) < 0 ||
	    (run->o.ids == FSRUN_IDS_PRIVATE && run->o.image && make_private_fuse_node(run) < 0)) {
		remove_tmpdir(run);
		return FSRUN_EXIT_ERROR;
	}
	status = run_container(run);
	/* A container for one run is removed by its daemon when the mount ends: wait for it. */
	wait_daemon(run);
	remove_tmpdir(run);
	return status;
}

int main(int argc, char **argv)
{
	struct run run = { .sock = -1, .ready_fd = -1 };
	int status;

	/* A setuid fsrun would hand the caller's choice of binds and ids root's power. */
	if (getauxval(AT_SECURE)) {
		fsrun_err(-EPERM, "refusing to run setuid or with file capabilities");
		return FSRUN_EXIT_ERROR;
	}
	if (argc > 1 && strcmp(argv[1], "exec") == 0)
		return fsrun_exec_main(argc - 1, argv + 1);
	if (argc > 1 && strcmp(argv[1], "stop") == 0)
		return fsrun_stop_main(argc - 1, argv + 1);
	status = start(&run, argc, argv);
	run_done(&run);
	return status;
}
