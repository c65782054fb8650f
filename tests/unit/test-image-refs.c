/* refs.c: reference grammar and the store's index.json, in memory and on disk. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs/image.h"
#include "layerfs/oci.h"
#include "layerfs/store.h"
#include "layerfs/util.h"

#define D1 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define D2 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

START_TEST(test_normalize)
{
	static const struct {
		const char *in, *out;
	} good[] = {
		{ "busybox", "busybox:latest" },
		{ "busybox:1.36", "busybox:1.36" },
		{ "library/busybox:musl", "library/busybox:musl" },
		{ "docker.io/library/busybox:latest", "docker.io/library/busybox:latest" },
		{ "localhost:5000/a/b", "localhost:5000/a/b:latest" },
		{ "localhost/a", "localhost/a:latest" },
		{ "my-app__x.y:v1.0-rc_1", "my-app__x.y:v1.0-rc_1" },
		{ "a:A_b", "a:A_b" },
	};
	static const char *const bad[] = {
		"",
		":tag",
		"Busybox",
		"a:",
		"a:-x",
		"a/:x",
		"/a",
		"a//b",
		"a@sha256:abcd",
		"a b",
		"a:b:c",
		"-a",
		"a-",
		"a..b",
		"a___b",
		"a:.x",
		"host:port/a:b:c",
	};
	char *out;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ck_assert_msg(lf_ref_normalize(good[i].in, &out) == 0, "'%s'", good[i].in);
		ck_assert_str_eq(out, good[i].out);
		free(out);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(lf_ref_normalize(bad[i], &out) == -EINVAL, "'%s' accepted", bad[i]);
	ck_assert_str_eq(lf_ref_tag("localhost:5000/a:b"), "b");
	ck_assert_ptr_null(lf_ref_tag("localhost:5000/a"));
}
END_TEST

START_TEST(test_edit_roundtrip)
{
	static const char start[] =
		"{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"" LF_MT_OCI_MANIFEST
		"\",\"digest\":\"" D1 "\",\"size\":3,\"platform\":{\"os\":\"linux\","
		"\"architecture\":\"amd64\"}}],\"annotations\":{\"keep\":\"me\"}}";
	struct lf_digest d1, d2;
	struct lf_refs *refs;
	char *a, *b, *c;
	size_t la, lb, lc;

	lf_digest_parse(D1, &d1);
	lf_digest_parse(D2, &d2);
	ck_assert_int_eq(lf_refs_edit(start, strlen(start), "a:1", LF_MT_OCI_MANIFEST, &d1, 10, &a,
				      &la, NULL),
			 0);
	ck_assert_int_eq(lf_refs_edit(a, la, "b:2", LF_MT_DOCKER_MANIFEST, &d2, 20, &b, &lb, NULL),
			 0);
	/* Replacing a name keeps one entry of it. */
	ck_assert_int_eq(lf_refs_edit(b, lb, "a:1", LF_MT_OCI_MANIFEST, &d2, 20, &c, &lc, NULL), 0);
	ck_assert_int_eq(lf_refs_parse(c, lc, &refs, NULL), 0);
	ck_assert_uint_eq(refs->n, 2);
	ck_assert_str_eq(refs->refs[0].name, "b:2");
	ck_assert_str_eq(refs->refs[0].media_type, LF_MT_DOCKER_MANIFEST);
	ck_assert_str_eq(refs->refs[1].name, "a:1");
	ck_assert(lf_digest_eq(&lf_refs_find(refs, "a:1")->digest, &d2));
	ck_assert_uint_eq(lf_refs_find(refs, "a:1")->size, 20);
	ck_assert_ptr_null(lf_refs_find(refs, "c:3"));
	lf_refs_free(refs);
	/* What it did not understand survives: the unnamed entry and the annotations. */
	ck_assert_ptr_nonnull(strstr(c, "\"keep\": \"me\""));
	ck_assert_ptr_nonnull(strstr(c, "\"architecture\": \"amd64\""));
	ck_assert_int_eq(lf_oci_sniff(c, lc), LF_MT_INDEX);
	free(a);
	free(b);

	ck_assert_int_eq(lf_refs_edit(c, lc, "b:2", NULL, NULL, 0, &a, &la, NULL), 0);
	ck_assert_int_eq(lf_refs_edit(a, la, "b:2", NULL, NULL, 0, &b, &lb, NULL), -ENOENT);
	ck_assert_int_eq(lf_refs_parse(a, la, &refs, NULL), 0);
	ck_assert_uint_eq(refs->n, 1);
	ck_assert_str_eq(refs->refs[0].name, "a:1");
	lf_refs_free(refs);
	free(a);
	free(c);
}
END_TEST

START_TEST(test_edit_refuses_corrupt)
{
	static const char bad[] = "{\"schemaVersion\":2,\"manifests\":[{\"digest\":\"x\"}]}";
	struct lf_digest d1;
	struct lf_err err = {};
	char *out;
	size_t len;

	lf_digest_parse(D1, &d1);
	ck_assert_int_eq(
		lf_refs_edit(bad, strlen(bad), "a:1", LF_MT_OCI_MANIFEST, &d1, 1, &out, &len, &err),
		-EBADMSG);
	ck_assert(err.msg[0]);
}
END_TEST

START_TEST(test_store_refs)
{
	char dir[] = "/tmp/lf-test-refs-XXXXXX";
	struct lf_store *s;
	struct lf_refs *refs;
	struct lf_digest d1;
	struct lf_err err = {};
	char cmd[256];

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(lf_store_open(dir, true, &s), 0);
	lf_digest_parse(D1, &d1);
	ck_assert_int_eq(lf_refs_set(s, "x:1", LF_MT_OCI_MANIFEST, &d1, 5, &err), 0);
	ck_assert_int_eq(lf_refs_set(s, "y:1", LF_MT_OCI_MANIFEST, &d1, 5, &err), 0);
	ck_assert_int_eq(lf_refs_remove(s, "x:1", &err), 0);
	ck_assert_int_eq(lf_refs_remove(s, "x:1", &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "no image 'x:1'"));
	ck_assert_int_eq(lf_refs_load(s, &refs, NULL), 0);
	ck_assert_uint_eq(refs->n, 1);
	ck_assert_str_eq(refs->refs[0].name, "y:1");
	lf_refs_free(refs);
	lf_store_free(s);

	/* An independent reader sees a valid OCI index with the ref name annotation. */
	snprintf(cmd, sizeof(cmd),
		 "jq -e '.schemaVersion == 2 and (.manifests | length) == 1 and "
		 ".manifests[0].annotations[\"org.opencontainers.image.ref.name\"] == \"y:1\"' "
		 "%s/index.json >/dev/null",
		 dir);
	ck_assert_int_eq(system(cmd), 0);
	lf_rm_rf_at(-100 /* AT_FDCWD */, dir);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image-refs");
	TCase *tc = tcase_create("refs");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_normalize);
	tcase_add_test(tc, test_edit_roundtrip);
	tcase_add_test(tc, test_edit_refuses_corrupt);
	tcase_add_test(tc, test_store_refs);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
