/* oci.c: validation of manifests, indexes, configs, docker manifest.json; platforms; output. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/oci.h"

#define D1 "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
#define D2 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"

static const char good_manifest[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" LF_MT_OCI_MANIFEST "\","
	"\"config\":{\"mediaType\":\"" LF_MT_OCI_CONFIG "\",\"digest\":\"" D1 "\",\"size\":10},"
	"\"layers\":[{\"mediaType\":\"" LF_MT_OCI_LAYER_GZIP "\",\"digest\":\"" D2 "\",\"size\":3,"
	"\"annotations\":{\"x.unknown\":7}},"
	"{\"mediaType\":\"application/x-unknown\",\"digest\":\"" D1 "\",\"size\":0}],"
	"\"annotations\":{\"a\":\"b\"},\"subject\":null,\"unknownMember\":[1,2]}";

START_TEST(test_manifest_good)
{
	struct lf_oci_manifest *m = NULL;
	struct lf_err err = {};
	char s[LF_DIGEST_STR_MAX];

	ck_assert_int_eq(lf_oci_manifest_parse(good_manifest, strlen(good_manifest), &m, &err), 0);
	ck_assert_str_eq(m->media_type, LF_MT_OCI_MANIFEST);
	ck_assert_str_eq(lf_digest_format(&m->config.digest, s), D1);
	ck_assert_uint_eq(m->config.size, 10);
	ck_assert_uint_eq(m->n_layers, 2);
	ck_assert_str_eq(lf_digest_format(&m->layers[0].digest, s), D2);
	ck_assert_uint_eq(m->layers[0].size, 3);
	ck_assert_int_eq(lf_oci_media_kind(m->layers[0].media_type), LF_MT_LAYER);
	ck_assert_int_eq(lf_oci_media_kind(m->layers[1].media_type), LF_MT_UNKNOWN);
	ck_assert_int_eq(lf_oci_sniff(good_manifest, strlen(good_manifest)), LF_MT_MANIFEST);
	lf_oci_manifest_free(m);
}
END_TEST

START_TEST(test_manifest_docker)
{
	static const char doc[] =
		"{\"schemaVersion\":2,\"mediaType\":\"" LF_MT_DOCKER_MANIFEST "\","
		"\"config\":{\"mediaType\":\"" LF_MT_DOCKER_CONFIG "\",\"digest\":\"" D1
		"\",\"size\":1},\"layers\":[{\"mediaType\":\"" LF_MT_DOCKER_LAYER
		"\",\"digest\":\"" D2 "\",\"size\":2}]}";
	struct lf_oci_manifest *m = NULL;

	ck_assert_int_eq(lf_oci_manifest_parse(doc, strlen(doc), &m, NULL), 0);
	ck_assert_int_eq(lf_oci_media_kind(m->media_type), LF_MT_MANIFEST);
	ck_assert_int_eq(lf_oci_media_kind(m->config.media_type), LF_MT_CONFIG);
	lf_oci_manifest_free(m);
}
END_TEST

/* Each bad document, and a word its message must contain. */
static const struct {
	const char *doc, *needle;
} bad_manifests[] = {
	{ "", "invalid JSON" },
	{ "[]", "not a JSON object" },
	{ "{\"schemaVersion\":1,\"config\":{},\"layers\":[]}", "schemaVersion" },
	{ "{\"schemaVersion\":\"2\",\"config\":{},\"layers\":[]}", "schemaVersion" },
	{ "{\"schemaVersion\":2,\"layers\":[]}", "'config' is missing" },
	{ "{\"schemaVersion\":2,\"config\":[],\"layers\":[]}", "config is not an object" },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1}}",
	  "'layers' is missing" },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
	  "\",\"size\":1},\"layers\":{}}",
	  "'layers' is not an array" },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"sha256:abc\","
	  "\"size\":1},\"layers\":[]}",
	  "not a valid sha256 digest" },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
	  "\",\"size\":-1},\"layers\":[]}",
	  "'size' is not a non-negative integer" },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
	  "\",\"size\":1.5},\"layers\":[]}",
	  "'size'" },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
	  "\"},\"layers\":[]}",
	  "'size' is missing" },
	{ "{\"schemaVersion\":2,\"config\":{\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}",
	  "'mediaType' is missing" },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":3,\"digest\":\"" D1
	  "\",\"size\":1},\"layers\":[]}",
	  "'mediaType' is not a string" },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
	  "\",\"size\":1},\"layers\":[7]}",
	  "layers[0] is not an object" },
	{ "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1
	  "\",\"size\":1,\"annotations\":[]},\"layers\":[]}",
	  "'annotations' is not an object" },
	{ "{\"schemaVersion\":2,\"mediaType\":\"" LF_MT_OCI_INDEX
	  "\",\"config\":{\"mediaType\":\"x\",\"digest\":\"" D1 "\",\"size\":1},\"layers\":[]}",
	  "media type" },
	{ "{\"schemaVersion\":2,\"schemaVersion\":2,\"config\":{},\"layers\":[]}", "invalid JSON" },
};

START_TEST(test_manifest_bad)
{
	const char *doc = bad_manifests[_i].doc;
	struct lf_oci_manifest *m = NULL;
	struct lf_err err = {};
	int r;

	r = lf_oci_manifest_parse(doc, strlen(doc), &m, &err);
	ck_assert_msg(r == -EBADMSG, "doc %d: r=%d", _i, r);
	ck_assert_ptr_null(m);
	ck_assert_msg(strstr(err.msg, bad_manifests[_i].needle), "doc %d: message '%s'", _i,
		      err.msg);
}
END_TEST

START_TEST(test_manifest_other_algorithm)
{
	static const char doc[] = "{\"schemaVersion\":2,\"config\":{\"mediaType\":\"x\","
				  "\"digest\":\"sha512:abcd\",\"size\":1},\"layers\":[]}";
	struct lf_oci_manifest *m = NULL;
	struct lf_err err = {};

	ck_assert_int_eq(lf_oci_manifest_parse(doc, strlen(doc), &m, &err), -EOPNOTSUPP);
	ck_assert_ptr_nonnull(strstr(err.msg, "unsupported algorithm"));
}
END_TEST

static const char good_index[] =
	"{\"schemaVersion\":2,\"mediaType\":\"" LF_MT_OCI_INDEX "\",\"manifests\":["
	"{\"mediaType\":\"" LF_MT_OCI_MANIFEST "\",\"digest\":\"" D1 "\",\"size\":5,"
	"\"platform\":{\"architecture\":\"arm64\",\"os\":\"linux\",\"variant\":\"v8\"}},"
	"{\"mediaType\":\"" LF_MT_OCI_MANIFEST "\",\"digest\":\"" D2 "\",\"size\":6,"
	"\"annotations\":{\"" LF_ANNOT_REF_NAME "\":\"1.0\",\"" LF_ANNOT_CONTAINERD_NAME
	"\":\"docker.io/library/x:1.0\"},"
	"\"platform\":{\"architecture\":\"amd64\",\"os\":\"linux\"}},"
	"{\"mediaType\":\"application/vnd.in-toto+json\",\"digest\":\"" D2 "\",\"size\":1,"
	"\"platform\":{\"architecture\":\"unknown\",\"os\":\"unknown\"}}]}";

START_TEST(test_index_good)
{
	struct lf_oci_index *idx = NULL;
	struct lf_err err = {};

	ck_assert_int_eq(lf_oci_index_parse(good_index, strlen(good_index), &idx, &err), 0);
	ck_assert_uint_eq(idx->n_manifests, 3);
	ck_assert(idx->manifests[0].has_platform);
	ck_assert_str_eq(idx->manifests[0].platform.architecture, "arm64");
	ck_assert_str_eq(idx->manifests[0].platform.variant, "v8");
	ck_assert_ptr_null(idx->manifests[0].ref_name);
	ck_assert_str_eq(idx->manifests[1].ref_name, "1.0");
	ck_assert_str_eq(idx->manifests[1].image_name, "docker.io/library/x:1.0");
	ck_assert_ptr_null(idx->manifests[1].platform.variant);
	ck_assert_int_eq(lf_oci_media_kind(idx->manifests[2].media_type), LF_MT_UNKNOWN);
	ck_assert_int_eq(lf_oci_sniff(good_index, strlen(good_index)), LF_MT_INDEX);

	ck_assert(lf_oci_platform_matches(&idx->manifests[0].platform, "arm64", "v8"));
	ck_assert(lf_oci_platform_matches(&idx->manifests[0].platform, "arm64", NULL));
	ck_assert(!lf_oci_platform_matches(&idx->manifests[0].platform, "amd64", NULL));
	ck_assert(lf_oci_platform_matches(&idx->manifests[1].platform, "amd64", NULL));
	ck_assert(!lf_oci_platform_matches(&idx->manifests[2].platform, "amd64", NULL));
	lf_oci_index_free(idx);
}
END_TEST

static const struct {
	const char *doc, *needle;
} bad_indexes[] = {
	{ "{\"schemaVersion\":2}", "'manifests' is missing" },
	{ "{\"manifests\":[]}", "'schemaVersion' is missing" },
	{ "{\"schemaVersion\":2,\"manifests\":\"x\"}", "'manifests' is not an array" },
	{ "{\"schemaVersion\":2,\"mediaType\":\"" LF_MT_OCI_MANIFEST "\",\"manifests\":[]}",
	  "media type" },
	{ "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1
	  "\",\"size\":1,\"platform\":\"linux\"}]}",
	  "'platform' is not an object" },
	{ "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1
	  "\",\"size\":1,\"platform\":{\"os\":\"linux\"}}]}",
	  "'architecture' is missing" },
	{ "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":\"" D1
	  "\",\"size\":1,\"annotations\":{\"" LF_ANNOT_REF_NAME "\":1}}]}",
	  "is not a string" },
	{ "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"x\",\"digest\":7,\"size\":1}]}",
	  "'digest' is not a string" },
};

START_TEST(test_index_bad)
{
	const char *doc = bad_indexes[_i].doc;
	struct lf_oci_index *idx = NULL;
	struct lf_err err = {};

	ck_assert_int_eq(lf_oci_index_parse(doc, strlen(doc), &idx, &err), -EBADMSG);
	ck_assert_ptr_null(idx);
	ck_assert_msg(strstr(err.msg, bad_indexes[_i].needle), "doc %d: message '%s'", _i, err.msg);
}
END_TEST

START_TEST(test_config)
{
	static const char good[] =
		"{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-02T03:04:05Z\","
		"\"config\":{\"Env\":[\"A=b\"]},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"" D1
		"\",\"" D2 "\"]},\"history\":[{}]}";
	static const struct {
		const char *doc, *needle;
	} bad[] = {
		{ "{\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}",
		  "'architecture' is missing" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\"}", "'rootfs' is missing" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"x\","
		  "\"diff_ids\":[]}}",
		  "not 'layers'" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\"}}",
		  "'rootfs.diff_ids' is missing" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
		  "\"diff_ids\":[\"sha256:00\"]}}",
		  "rootfs.diff_ids[0]" },
		{ "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":3,\"rootfs\":{\"type\":"
		  "\"layers\",\"diff_ids\":[]}}",
		  "'config' is not an object" },
		{ "{\"architecture\":1,\"os\":\"linux\",\"rootfs\":{\"type\":\"layers\","
		  "\"diff_ids\":[]}}",
		  "'architecture' is not a string" },
	};
	struct lf_oci_config *c = NULL;
	char s[LF_DIGEST_STR_MAX];

	ck_assert_int_eq(lf_oci_config_parse(good, strlen(good), &c, NULL), 0);
	ck_assert_str_eq(c->architecture, "amd64");
	ck_assert_str_eq(c->created, "2024-01-02T03:04:05Z");
	ck_assert_uint_eq(c->n_diff_ids, 2);
	ck_assert_str_eq(lf_digest_format(&c->diff_ids[1], s), D2);
	lf_oci_config_free(c);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lf_err err = {};
		c = NULL;
		ck_assert_int_eq(lf_oci_config_parse(bad[i].doc, strlen(bad[i].doc), &c, &err),
				 -EBADMSG);
		ck_assert_ptr_null(c);
		ck_assert_msg(strstr(err.msg, bad[i].needle), "config %zu: '%s'", i, err.msg);
	}
}
END_TEST

START_TEST(test_docker_manifest)
{
	static const char good[] =
		"[{\"Config\":\"abc.json\",\"RepoTags\":[\"busybox:latest\",\"bb:1\"],"
		"\"Layers\":[\"l1/layer.tar\",\"./l2/layer.tar\"]},"
		"{\"Config\":\"blobs/sha256/abc\",\"RepoTags\":null,\"Layers\":[],"
		"\"LayerSources\":{}}]";
	static const struct {
		const char *doc, *needle;
	} bad[] = {
		{ "{}", "not a JSON array" },
		{ "[]", "no images" },
		{ "[{\"Layers\":[]}]", "'Config' is missing" },
		{ "[{\"Config\":\"a\"}]", "'Layers' is missing" },
		{ "[{\"Config\":\"a\",\"Layers\":[\"../x/layer.tar\"]}]", "not a path inside" },
		{ "[{\"Config\":\"/etc/passwd\",\"Layers\":[]}]", "not a path inside" },
		{ "[{\"Config\":\"a//b\",\"Layers\":[]}]", "not a path inside" },
		{ "[{\"Config\":\"a\",\"Layers\":[1]}]", "'Layers[0]' is not a string" },
		{ "[{\"Config\":\"a\",\"RepoTags\":\"x\",\"Layers\":[]}]",
		  "'RepoTags' is not an array" },
	};
	struct lf_docker_manifest *m = NULL;

	ck_assert_int_eq(lf_docker_manifest_parse(good, strlen(good), &m, NULL), 0);
	ck_assert_uint_eq(m->n_images, 2);
	ck_assert_str_eq(m->images[0].config, "abc.json");
	ck_assert_uint_eq(m->images[0].n_repo_tags, 2);
	ck_assert_str_eq(m->images[0].repo_tags[1], "bb:1");
	ck_assert_uint_eq(m->images[0].n_layers, 2);
	ck_assert_str_eq(m->images[0].layers[1], "./l2/layer.tar");
	ck_assert_uint_eq(m->images[1].n_repo_tags, 0);
	lf_docker_manifest_free(m);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct lf_err err = {};
		m = NULL;
		ck_assert_int_eq(lf_docker_manifest_parse(bad[i].doc, strlen(bad[i].doc), &m, &err),
				 -EBADMSG);
		ck_assert_ptr_null(m);
		ck_assert_msg(strstr(err.msg, bad[i].needle), "docker %zu: '%s'", i, err.msg);
	}
}
END_TEST

START_TEST(test_layout)
{
	struct lf_err err = {};

	ck_assert_int_eq(lf_oci_layout_check("{\"imageLayoutVersion\":\"1.0.0\"}", 30, NULL), 0);
	ck_assert_int_eq(lf_oci_layout_check("{\"imageLayoutVersion\":\"2.0.0\"}", 30, &err),
			 -EOPNOTSUPP);
	ck_assert_int_eq(lf_oci_layout_check("{}", 2, NULL), -EBADMSG);
}
END_TEST

START_TEST(test_host_platform)
{
	const char *arch, *variant;

	lf_oci_host_platform(&arch, &variant);
#if defined(__x86_64__)
	ck_assert_str_eq(arch, "amd64");
#elif defined(__aarch64__)
	ck_assert_str_eq(arch, "arm64");
#endif
	ck_assert_ptr_nonnull(arch);
}
END_TEST

START_TEST(test_build_roundtrip)
{
	struct lf_oci_descriptor cfg = { .media_type = (char *)LF_MT_OCI_CONFIG, .size = 42 };
	struct lf_oci_descriptor layer = { .media_type = (char *)LF_MT_OCI_LAYER, .size = 1024 };
	struct lf_oci_manifest *m = NULL;
	struct lf_oci_config *c = NULL;
	char *doc, *doc2;
	size_t len, len2;

	lf_digest_parse(D1, &cfg.digest);
	lf_digest_parse(D2, &layer.digest);
	ck_assert_int_eq(lf_oci_manifest_build(&cfg, &layer, 1, &doc, &len), 0);
	ck_assert_int_eq(lf_oci_manifest_parse(doc, len, &m, NULL), 0);
	ck_assert(lf_digest_eq(&m->config.digest, &cfg.digest));
	ck_assert_uint_eq(m->config.size, 42);
	ck_assert_uint_eq(m->n_layers, 1);
	ck_assert_uint_eq(m->layers[0].size, 1024);
	ck_assert_str_eq(m->layers[0].media_type, LF_MT_OCI_LAYER);
	lf_oci_manifest_free(m);
	free(doc);

	ck_assert_int_eq(lf_oci_rootfs_config_build("amd64", &layer.digest, "1970-01-01T00:00:00Z",
						    "test", &doc, &len),
			 0);
	ck_assert_int_eq(lf_oci_rootfs_config_build("amd64", &layer.digest, "1970-01-01T00:00:00Z",
						    "test", &doc2, &len2),
			 0);
	ck_assert_uint_eq(len, len2);
	ck_assert_int_eq(memcmp(doc, doc2, len), 0);
	ck_assert_int_eq(lf_oci_config_parse(doc, len, &c, NULL), 0);
	ck_assert_str_eq(c->os, "linux");
	ck_assert_uint_eq(c->n_diff_ids, 1);
	ck_assert(lf_digest_eq(&c->diff_ids[0], &layer.digest));
	ck_assert_ptr_nonnull(strstr(doc, "\"Env\":[\"PATH=/usr/local/sbin:"));
	lf_oci_config_free(c);
	free(doc);
	free(doc2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image-oci");
	TCase *tc = tcase_create("oci");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_manifest_good);
	tcase_add_test(tc, test_manifest_docker);
	tcase_add_loop_test(tc, test_manifest_bad, 0,
			    sizeof(bad_manifests) / sizeof(bad_manifests[0]));
	tcase_add_test(tc, test_manifest_other_algorithm);
	tcase_add_test(tc, test_index_good);
	tcase_add_loop_test(tc, test_index_bad, 0, sizeof(bad_indexes) / sizeof(bad_indexes[0]));
	tcase_add_test(tc, test_config);
	tcase_add_test(tc, test_docker_manifest);
	tcase_add_test(tc, test_layout);
	tcase_add_test(tc, test_host_platform);
	tcase_add_test(tc, test_build_roundtrip);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
