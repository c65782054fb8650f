/*
 * Where the store is and what a container may be called: small rules with no dependency but
 * libc, kept apart so that tools which only need them (fsrun) link nothing else of store/.
 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs/container.h"
#include "layerfs/store.h"
#include "layerfs/util.h"

int lf_store_default_path(char **ret)
{
	const char *env = getenv("LAYERFS_STORE"), *xdg, *home;
	char *p;

	if (env && *env)
		p = strdup(env);
	else if (geteuid() == 0)
		p = strdup("/var/lib/layerfs");
	else if ((xdg = getenv("XDG_DATA_HOME")) && *xdg == '/')
		p = lf_strdup_printf("%s/layerfs", xdg);
	else {
		home = getenv("HOME");
		if (!home || *home != '/') {
			struct passwd *pw = getpwuid(geteuid());
			if (!pw)
				return -ENOENT;
			home = pw->pw_dir;
		}
		p = lf_strdup_printf("%s/.local/share/layerfs", home);
	}
	if (!p)
		return -ENOMEM;
	*ret = p;
	return 0;
}

bool lf_container_name_is_valid(const char *name)
{
	size_t len = strlen(name);

	if (len == 0 || len > LF_CONTAINER_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		bool alnum =
			(c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
		if (!alnum && (i == 0 || (c != '_' && c != '.' && c != '-')))
			return false;
	}
	return true;
}
