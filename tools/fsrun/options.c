/*
 * fsrun's command line: options up to the image (or, with --root, up to the command), then
 * the command, as docker and podman read theirs.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs/container.h"
#include "layerfs/util.h"
#include "fsrun.h"
#include "security.h"

static const char usage[] =
	"usage: fsrun [OPTIONS] IMAGE [--] [CMD [ARG...]]\n"
	"       fsrun [OPTIONS] --root DIR [--] CMD [ARG...]\n"
	"       fsrun exec [--store DIR] [-e K=V] [-w DIR] [-u USER] NAME [--] CMD [ARG...]\n"
	"       fsrun stop [--store DIR] [-t SECONDS] NAME\n"
	"options:\n"
	"  --store DIR            the layerfs store (default: $LAYERFS_STORE, else layerfs')\n"
	"  --name NAME            keep the container as NAME (reused when it exists)\n"
	"  --rm                   remove the container afterwards, also with --name\n"
	"  --read-only            no writable upper: the root is read-only\n"
	"  --entrypoint CMD       run CMD instead of the image's Entrypoint (drops its Cmd)\n"
	"  -e, --env K[=V]        set an environment variable (K alone: take fsrun's)\n"
	"  --env-file FILE        K=V lines\n"
	"  -w, --workdir DIR      working directory inside the container\n"
	"  -u, --user U[:G]       uid or name (from the image's /etc/passwd), group likewise\n"
	"  --hostname NAME        hostname (default: the container's name)\n"
	"  --net none|host        none: a network namespace with only loopback (default host)\n"
	"  -v, --bind SRC:DST[:ro] bind a host path into the container\n"
	"  --tmpfs DST            mount a tmpfs at DST\n"
	"  --userns host          (root) run without a user namespace, as the host's root\n"
	"  --uidmap C:H:N, --gidmap C:H:N   map ids C..C+N-1 to host ids H.. (repeatable;\n"
	"                         newuidmap/newgidmap as non-root, within /etc/subuid)\n"
	"  --cap-add CAP, --cap-drop CAP   (root) change the default capability set\n"
	"  --preserve-fds N       pass fds 3..3+N-1 on to the command\n"
	"  -d, --detach           return once the command runs (see fsrun stop)\n"
	"  -t, --tty              give the command a pseudo-terminal\n"
	"  --memory SIZE, --pids-limit N, --cpus N   resource limits (a cgroup of its own)\n";

static int add_mount(struct fsrun_opts *o, const char *spec, bool tmpfs)
{
	struct fsrun_mount m = {};
	struct fsrun_mount *nv;
	char *copy = strdup(spec), *colon;

	if (!copy)
		return -ENOMEM;
	if (tmpfs) {
		m.dst = copy;
	} else {
		colon = strchr(copy, ':');
		if (!colon || colon == copy || !colon[1]) {
			free(copy);
			return fsrun_invalid("--bind '%s': use SRC:DST[:ro]", spec);
		}
		*colon = 0;
		m.src = copy;
		m.dst = colon + 1;
		colon = strchr(m.dst, ':');
		if (colon) {
			*colon = 0;
			if (strcmp(colon + 1, "ro") == 0)
				m.ro = true;
			else if (strcmp(colon + 1, "rw") != 0) {
				free(copy);
				return fsrun_invalid("--bind '%s': the mode is ro or rw", spec);
			}
		}
	}
	if (m.dst[0] != '/') {
		free(copy);
		return fsrun_invalid("mount target '%s' is not an absolute path", m.dst);
	}
	nv = realloc(o->mounts, (o->n_mounts + 1) * sizeof(*nv));
	if (!nv) {
		free(copy);
		return -ENOMEM;
	}
	o->mounts = nv;
	o->mounts[o->n_mounts++] = m;
	return 0;
}

/* "C:H:N" (podman's --uidmap form). */
static int add_idmap(struct fsrun_idmap *v, size_t *n, const char *spec)
{
	struct fsrun_idmap m;
	char tail;

	if (sscanf(spec, "%u:%u:%u%c", &m.inside, &m.outside, &m.count, &tail) != 3 || m.count == 0)
		return fsrun_invalid("id map '%s': use INSIDE:OUTSIDE:COUNT", spec);
	if (*n >= FSRUN_MAX_IDMAP)
		return fsrun_err(-E2BIG, "at most %d id map ranges", FSRUN_MAX_IDMAP);
	v[(*n)++] = m;
	return 0;
}

static int add_env(struct fsrun_opts *o, const char *kv)
{
	char **nv = realloc(o->env, (o->n_env + 1) * sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	o->env = nv;
	o->env[o->n_env] = strdup(kv);
	if (!o->env[o->n_env])
		return -ENOMEM;
	o->n_env++;
	return 0;
}

int fsrun_parse_args(int argc, char **argv, struct fsrun_opts *o)
{
	enum {
		OPT_STORE = 0x100,
		OPT_NAME,
		OPT_RM,
		OPT_RO,
		OPT_ENTRYPOINT,
		OPT_ENV_FILE,
		OPT_HOSTNAME,
		OPT_NET,
		OPT_TMPFS,
		OPT_USERNS,
		OPT_CAP_ADD,
		OPT_CAP_DROP,
		OPT_PRESERVE,
		OPT_ROOT,
		OPT_DETACH,
		OPT_MEMORY,
		OPT_PIDS,
		OPT_CPUS,
		OPT_UIDMAP,
		OPT_GIDMAP,
	};
	static const struct option opts[] = {
		{ "store", required_argument, NULL, OPT_STORE },
		{ "name", required_argument, NULL, OPT_NAME },
		{ "rm", no_argument, NULL, OPT_RM },
		{ "read-only", no_argument, NULL, OPT_RO },
		{ "entrypoint", required_argument, NULL, OPT_ENTRYPOINT },
		{ "env", required_argument, NULL, 'e' },
		{ "env-file", required_argument, NULL, OPT_ENV_FILE },
		{ "workdir", required_argument, NULL, 'w' },
		{ "user", required_argument, NULL, 'u' },
		{ "hostname", required_argument, NULL, OPT_HOSTNAME },
		{ "net", required_argument, NULL, OPT_NET },
		{ "network", required_argument, NULL, OPT_NET },
		{ "bind", required_argument, NULL, 'v' },
		{ "volume", required_argument, NULL, 'v' },
		{ "tmpfs", required_argument, NULL, OPT_TMPFS },
		{ "userns", required_argument, NULL, OPT_USERNS },
		{ "cap-add", required_argument, NULL, OPT_CAP_ADD },
		{ "cap-drop", required_argument, NULL, OPT_CAP_DROP },
		{ "preserve-fds", required_argument, NULL, OPT_PRESERVE },
		{ "root", required_argument, NULL, OPT_ROOT },
		{ "detach", no_argument, NULL, 'd' },
		{ "memory", required_argument, NULL, OPT_MEMORY },
		{ "pids-limit", required_argument, NULL, OPT_PIDS },
		{ "cpus", required_argument, NULL, OPT_CPUS },
		{ "uidmap", required_argument, NULL, OPT_UIDMAP },
		{ "gidmap", required_argument, NULL, OPT_GIDMAP },
		{ "interactive", no_argument, NULL, 'i' },
		{ "tty", no_argument, NULL, 't' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *cap_add = NULL, *cap_drop = NULL;
	int c, r = 0;

	o->ids = geteuid() == 0 ? FSRUN_IDS_PRIVATE : FSRUN_IDS_ROOTLESS;
	o->caps = fsrun_caps_default();
	/* "+": options end at the image (or, with --root, at the command). */
	while (r == 0 && (c = getopt_long(argc, argv, "+e:w:u:v:itdh", opts, NULL)) >= 0) {
		switch (c) {
		case OPT_STORE:
			o->store = optarg;
			break;
		case OPT_NAME:
			if (!lf_container_name_is_valid(optarg))
				r = fsrun_invalid("invalid container name '%s'", optarg);
			o->name = optarg;
			break;
		case OPT_RM:
			o->rm = true;
			break;
		case OPT_RO:
			o->read_only = true;
			break;
		case OPT_ENTRYPOINT:
			o->entrypoint = optarg;
			o->entrypoint_set = true;
			break;
		case 'e':
			r = add_env(o, optarg);
			break;
		case OPT_ENV_FILE:
			r = fsrun_env_file_load(o, optarg);
			break;
		case 'w':
			o->workdir = optarg;
			break;
		case 'u':
			o->user = optarg;
			break;
		case OPT_HOSTNAME:
			o->hostname = optarg;
			break;
		case OPT_NET:
			if (strcmp(optarg, "none") == 0)
				o->net_none = true;
			else if (strcmp(optarg, "host") == 0)
				o->net_none = false;
			else
				r = fsrun_invalid("--net '%s': use none or host", optarg);
			break;
		case 'v':
			r = add_mount(o, optarg, false);
			break;
		case OPT_TMPFS:
			r = add_mount(o, optarg, true);
			break;
		case OPT_USERNS:
			if (strcmp(optarg, "host") != 0)
				r = fsrun_invalid("--userns '%s': only 'host' is known", optarg);
			else if (geteuid() != 0)
				r = fsrun_err(-EPERM, "--userns host needs root");
			else
				o->ids = FSRUN_IDS_HOST;
			break;
		case OPT_CAP_ADD:
			cap_add = optarg;
			break;
		case OPT_CAP_DROP:
			cap_drop = optarg;
			break;
		case OPT_PRESERVE:
			if (lf_parse_int(optarg, &o->preserve_fds) < 0 || o->preserve_fds > 1000)
				r = fsrun_invalid("--preserve-fds '%s' is not a count", optarg);
			break;
		case OPT_ROOT:
			o->root = optarg;
			break;
		case 'i':
			break; /* stdin is always passed on */
		case 'd':
			o->detach = true;
			break;
		case OPT_MEMORY:
			if (fsrun_parse_size(optarg, &o->limits.memory) < 0)
				r = fsrun_invalid("--memory '%s' is not a size", optarg);
			break;
		case OPT_PIDS: {
			int n;
			if (lf_parse_int(optarg, &n) < 0 || n == 0)
				r = fsrun_invalid("--pids-limit '%s' is not a count", optarg);
			o->limits.pids = n;
			break;
		}
		case OPT_UIDMAP:
		case OPT_GIDMAP:
			r = add_idmap(c == OPT_UIDMAP ? o->uidmap : o->gidmap,
				      c == OPT_UIDMAP ? &o->n_uidmap : &o->n_gidmap, optarg);
			break;
		case OPT_CPUS: {
			char *end;
			o->limits.cpus = strtod(optarg, &end);
			if (*end || end == optarg || o->limits.cpus <= 0 || o->limits.cpus > 4096)
				r = fsrun_invalid("--cpus '%s' is not a number of cpus", optarg);
			break;
		}
		case 't':
			o->tty = true;
			break;
		case 'h':
			fputs(usage, stdout);
			exit(0);
		default:
			r = -EINVAL;
		}
	}
	if (r == 0)
		r = fsrun_caps_adjust(&o->caps, cap_add, cap_drop);
	if (r < 0)
		return r;
	if (!o->root) {
		if (optind >= argc)
			return fsrun_invalid("no image given (see fsrun --help)");
		o->image = argv[optind++];
	}
	if (optind < argc && strcmp(argv[optind], "--") == 0)
		optind++;
	o->cmd = argv + optind;
	if (o->root && !o->cmd[0])
		return fsrun_invalid("--root needs a command");
	return 0;
}
