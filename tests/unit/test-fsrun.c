/*
 * fsrun's pure parts: an image config and the options become the process to run (docker's
 * rules for Entrypoint/Cmd and Env), env files, users and groups from an image's own
 * /etc/passwd and /etc/group (resolved inside a root, never the host's), sizes, options.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fsrun.h"
#include "security.h"

static const char config[] = "{\"config\": {"
			     "\"Entrypoint\": [\"/bin/app\", \"--serve\"],"
			     "\"Cmd\": [\"--port\", \"80\"],"
			     "\"Env\": [\"PATH=/app/bin\", \"A=1\", \"B=2\", \"junk\"],"
			     "\"WorkingDir\": \"/srv\", \"User\": \"app:web\"}}";

static char *join(char **v)
{
	static char out[1024];

	out[0] = 0;
	for (size_t i = 0; v && v[i]; i++) {
		if (i)
			strcat(out, " ");
		strcat(out, v[i]);
	}
	return out;
}

START_TEST(test_entrypoint_and_cmd)
{
	struct fsrun_opts o = {};
	struct fsrun_proc p;
	char *none[] = { NULL }, *cmd[] = { "--port", "8080", NULL };

	o.cmd = none;
	ck_assert_int_eq(fsrun_proc_build(config, &o, &p), 0);
	ck_assert_str_eq(join(p.argv), "/bin/app --serve --port 80");
	ck_assert_str_eq(p.cwd, "/srv");
	ck_assert_str_eq(p.user, "app:web");
	fsrun_proc_done(&p);
	/* Arguments replace Cmd only. */
	o.cmd = cmd;
	ck_assert_int_eq(fsrun_proc_build(config, &o, &p), 0);
	ck_assert_str_eq(join(p.argv), "/bin/app --serve --port 8080");
	fsrun_proc_done(&p);
	/* --entrypoint replaces Entrypoint and drops the image's Cmd. */
	o.cmd = none;
	o.entrypoint = "/bin/sh";
	o.entrypoint_set = true;
	ck_assert_int_eq(fsrun_proc_build(config, &o, &p), 0);
	ck_assert_str_eq(join(p.argv), "/bin/sh");
	fsrun_proc_done(&p);
	/* -w and -u over the config's. */
	o.entrypoint_set = false;
	o.workdir = "/tmp";
	o.user = "0";
	ck_assert_int_eq(fsrun_proc_build(config, &o, &p), 0);
	ck_assert_str_eq(p.cwd, "/tmp");
	ck_assert_str_eq(p.user, "0");
	fsrun_proc_done(&p);
	/* A relative working directory and no command at all are errors. */
	o.workdir = "tmp";
	ck_assert_int_eq(fsrun_proc_build(config, &o, &p), -EINVAL);
	o.workdir = NULL;
	ck_assert_int_eq(fsrun_proc_build("{\"config\": {}}", &o, &p), -EINVAL);
	ck_assert_int_eq(fsrun_proc_build("[1, 2]", &o, &p), -EINVAL);
}
END_TEST

START_TEST(test_env)
{
	char *extra[] = { "B=3", "C=x=y", "FSRUN_TEST_FROM_HOST", "FSRUN_TEST_UNSET" };
	struct fsrun_opts o = { .env = extra, .n_env = 4 };
	struct fsrun_proc p;
	char *none[] = { NULL };

	o.cmd = none;
	setenv("FSRUN_TEST_FROM_HOST", "host value", 1);
	unsetenv("FSRUN_TEST_UNSET");
	ck_assert_int_eq(fsrun_proc_build(config, &o, &p), 0);
	/* The image's, in order, -e overriding by name, "K" copying fsrun's own value. */
	ck_assert_str_eq(join(p.env),
			 "PATH=/app/bin A=1 B=3 C=x=y FSRUN_TEST_FROM_HOST=host value");
	/* PATH stays the image's; HOME is added. */
	ck_assert_int_eq(fsrun_env_defaults(&p.env, "/home/app"), 0);
	ck_assert_str_eq(
		join(p.env),
		"PATH=/app/bin A=1 B=3 C=x=y FSRUN_TEST_FROM_HOST=host value HOME=/home/app");
	fsrun_proc_done(&p);
	/* Without any: both defaults, HOME / when the user has none. */
	ck_assert_int_eq(fsrun_proc_build("{\"config\": {\"Cmd\": [\"x\"]}}",
					  &(struct fsrun_opts){ .cmd = none }, &p),
			 0);
	ck_assert_int_eq(fsrun_env_defaults(&p.env, ""), 0);
	ck_assert_str_eq(
		join(p.env),
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/");
	fsrun_proc_done(&p);
}
END_TEST

START_TEST(test_env_file)
{
	char path[] = "/tmp/fsrun-envfile-XXXXXX";
	struct fsrun_opts o = {};
	int fd = mkstemp(path);
	const char text[] = "# a comment\n\nK1=v1\n  K2=two words\nK3=a=b\r\n";

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, sizeof(text) - 1), (ssize_t)sizeof(text) - 1);
	close(fd);
	ck_assert_int_eq(fsrun_env_file_load(&o, path), 0);
	ck_assert_uint_eq(o.n_env, 3);
	ck_assert_str_eq(o.env[0], "K1=v1");
	ck_assert_str_eq(o.env[1], "K2=two words");
	ck_assert_str_eq(o.env[2], "K3=a=b");
	unlink(path);
	ck_assert_int_lt(fsrun_env_file_load(&o, "/nonexistent/env"), 0);
	for (size_t i = 0; i < o.n_env; i++)
		free(o.env[i]);
	free(o.env);
}
END_TEST

static void write_at(int dirfd, const char *name, const char *text)
{
	int fd = openat(dirfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

START_TEST(test_users_of_the_image)
{
	char root[] = "/tmp/fsrun-root-XXXXXX", outside[] = "/tmp/fsrun-outside-XXXXXX";
	struct fsrun_user u;
	int rootfd, etc, ofd;

	ck_assert_ptr_nonnull(mkdtemp(root));
	ck_assert_ptr_nonnull(mkdtemp(outside));
	rootfd = open(root, O_PATH | O_DIRECTORY);
	ck_assert_int_ge(mkdirat(open(root, O_RDONLY | O_DIRECTORY), "etc", 0755), 0);
	etc = openat(rootfd, "etc", O_RDONLY | O_DIRECTORY);
	write_at(etc, "passwd",
		 "root:x:0:0:root:/root:/bin/sh\n"
		 "broken line\n"
		 "app:x:1234:2345:app:/home/app:/bin/sh\n"
		 "daemon:x:4321:4322::/srv:/bin/sh\n");
	write_at(etc, "group", "root:x:0:\nweb:x:77:app,daemon\nappgrp:x:2345:\n");

	ck_assert_int_eq(fsrun_user_resolve(rootfd, "app", &u), 0);
	ck_assert_uint_eq(u.uid, 1234);
	ck_assert_uint_eq(u.gid, 2345);
	ck_assert_str_eq(u.home, "/home/app");
	ck_assert_uint_eq(u.n_groups, 1); /* web, which lists app */
	ck_assert_uint_eq(u.groups[0], 77);
	ck_assert_int_eq(fsrun_user_resolve(rootfd, "daemon:web", &u), 0);
	ck_assert_uint_eq(u.uid, 4321);
	ck_assert_uint_eq(u.gid, 77);
	ck_assert_int_eq(fsrun_user_resolve(rootfd, "1234:0", &u), 0);
	ck_assert_uint_eq(u.uid, 1234);
	ck_assert_uint_eq(u.gid, 0);
	ck_assert_str_eq(u.home, "/home/app"); /* a numeric uid takes its entry's home */
	ck_assert_int_eq(fsrun_user_resolve(rootfd, "5000", &u), 0);
	ck_assert_uint_eq(u.uid, 5000);
	ck_assert_uint_eq(u.gid, 0);
	ck_assert_int_eq(fsrun_user_resolve(rootfd, NULL, &u), 0);
	ck_assert_uint_eq(u.uid, 0);
	ck_assert_int_eq(fsrun_user_resolve(rootfd, "nobody-here", &u), -ENOENT);
	ck_assert_int_eq(fsrun_user_resolve(rootfd, "app:nogroup", &u), -ENOENT);

	/* An /etc/passwd that is a symlink out of the root is read inside the root. */
	ofd = open(outside, O_RDONLY | O_DIRECTORY);
	write_at(ofd, "passwd", "evil:x:0:0::/:/bin/sh\n");
	ck_assert_int_eq(unlinkat(etc, "passwd", 0), 0);
	char target[128];
	snprintf(target, sizeof(target), "../../../../../../..%s/passwd", outside);
	ck_assert_int_eq(symlinkat(target, etc, "passwd"), 0);
	ck_assert_int_eq(fsrun_user_resolve(rootfd, "evil", &u), -ENOENT);

	unlinkat(etc, "passwd", 0);
	unlinkat(etc, "group", 0);
	unlinkat(rootfd, "etc", AT_REMOVEDIR);
	unlinkat(ofd, "passwd", 0);
	close(etc);
	close(ofd);
	close(rootfd);
	rmdir(root);
	rmdir(outside);
}
END_TEST

START_TEST(test_sizes_and_caps)
{
	int64_t v;
	uint64_t caps = fsrun_caps_default(), m;

	ck_assert_int_eq(fsrun_parse_size("512m", &v), 0);
	ck_assert_int_eq(v, 512 * 1024 * 1024);
	ck_assert_int_eq(fsrun_parse_size("2G", &v), 0);
	ck_assert_int_eq(v, INT64_C(2) * 1024 * 1024 * 1024);
	ck_assert_int_eq(fsrun_parse_size("1.5k", &v), 0);
	ck_assert_int_eq(v, 1536);
	ck_assert_int_eq(fsrun_parse_size("100", &v), 0);
	ck_assert_int_eq(v, 100);
	ck_assert_int_eq(fsrun_parse_size("-1", &v), -EINVAL);
	ck_assert_int_eq(fsrun_parse_size("12x", &v), -EINVAL);
	ck_assert_int_eq(fsrun_parse_size("", &v), -EINVAL);

	ck_assert_uint_eq(caps, UINT64_C(0xa80425fb)); /* the OCI default set */
	ck_assert_int_eq(fsrun_caps_parse("CAP_NET_ADMIN", &m), 0);
	ck_assert_uint_eq(m, UINT64_C(1) << 12);
	ck_assert_int_eq(fsrun_caps_parse("net_admin", &m), 0);
	ck_assert_uint_eq(m, UINT64_C(1) << 12);
	ck_assert_int_eq(fsrun_caps_parse("CAP_NONSENSE", &m), -EINVAL);
	ck_assert_int_eq(fsrun_caps_adjust(&caps, "NET_ADMIN", "CHOWN"), 0);
	ck_assert_uint_eq(caps, (UINT64_C(0xa80425fb) | (UINT64_C(1) << 12)) & ~UINT64_C(1));
	ck_assert_int_eq(fsrun_caps_adjust(&caps, "NET_BIND_SERVICE", "ALL"), 0);
	ck_assert_uint_eq(caps, UINT64_C(1) << 10);
}
END_TEST

START_TEST(test_options)
{
	char *argv[] = { "fsrun",	 "--name",  "web",    "-e",    "K=V",  "-v",
			 "/src:/dst:ro", "--tmpfs", "/cache", "--net", "none", "-w",
			 "/srv",	 "img:1",   "sh",     "-c",    "echo", NULL };
	struct fsrun_opts o = {};

	optind = 1;
	ck_assert_int_eq(fsrun_parse_args(17, argv, &o), 0);
	ck_assert_str_eq(o.name, "web");
	ck_assert_str_eq(o.image, "img:1");
	ck_assert_uint_eq(o.n_env, 1);
	ck_assert_str_eq(o.env[0], "K=V");
	ck_assert_uint_eq(o.n_mounts, 2);
	ck_assert_str_eq(o.mounts[0].src, "/src");
	ck_assert_str_eq(o.mounts[0].dst, "/dst");
	ck_assert(o.mounts[0].ro);
	ck_assert_ptr_null(o.mounts[1].src);
	ck_assert_str_eq(o.mounts[1].dst, "/cache");
	ck_assert(o.net_none);
	ck_assert_str_eq(o.workdir, "/srv");
	/* Options after the image belong to the command. */
	ck_assert_str_eq(join(o.cmd), "sh -c echo");

	char *bad[] = { "fsrun", "-v", "nocolon", "img", NULL };
	struct fsrun_opts o2 = {};
	optind = 1;
	ck_assert_int_lt(fsrun_parse_args(4, bad, &o2), 0);
	char *badmap[] = { "fsrun", "--uidmap", "0:1000", "img", NULL };
	struct fsrun_opts o3 = {};
	optind = 1;
	ck_assert_int_lt(fsrun_parse_args(4, badmap, &o3), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fsrun");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_entrypoint_and_cmd);
	tcase_add_test(tc, test_env);
	tcase_add_test(tc, test_env_file);
	tcase_add_test(tc, test_users_of_the_image);
	tcase_add_test(tc, test_sizes_and_caps);
	tcase_add_test(tc, test_options);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
