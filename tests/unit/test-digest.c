/* digest.c: parsing, formatting, known sha256 vectors, ChainID. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "layerfs/digest.h"

START_TEST(test_known_vector)
{
	struct lf_digest d;
	char s[LF_DIGEST_STR_MAX];

	lf_sha256_buf("abc", 3, &d);
	ck_assert_str_eq(lf_digest_format(&d, s),
			 "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(test_streaming_matches_oneshot)
{
	struct lf_sha256 *h;
	struct lf_digest a, b;

	ck_assert_int_eq(lf_sha256_new(&h), 0);
	lf_sha256_update(h, "hello ", 6);
	lf_sha256_update(h, "world", 5);
	lf_sha256_final(h, &a);
	lf_sha256_free(h);
	lf_sha256_buf("hello world", 11, &b);
	ck_assert(lf_digest_eq(&a, &b));
}
END_TEST

START_TEST(test_parse)
{
	static const char good[] =
		"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
	struct lf_digest d, empty;
	char s[LF_DIGEST_STR_MAX];

	ck_assert_int_eq(lf_digest_parse(good, &d), 0);
	lf_sha256_buf("", 0, &empty);
	ck_assert(lf_digest_eq(&d, &empty));
	ck_assert_str_eq(lf_digest_format(&d, s), good);

	ck_assert_int_eq(lf_digest_parse("sha512:abcd", &d), -EOPNOTSUPP);
	ck_assert_int_eq(lf_digest_parse("sha256:abcd", &d), -EINVAL);
	ck_assert_int_eq(lf_digest_parse("e3b0c44298fc1c149afbf4c8996fb924", &d), -EINVAL);
	ck_assert_int_eq(
		lf_digest_parse(
			"sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
			&d),
		-EINVAL);
	ck_assert_int_eq(
		lf_digest_parse(
			"sha256:g3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
			&d),
		-EINVAL);
}
END_TEST

START_TEST(test_chain_id)
{
	struct lf_digest ids[2], chain, expect;
	char buf[200], a[LF_DIGEST_STR_MAX], b[LF_DIGEST_STR_MAX];
	int n;

	lf_sha256_buf("layer0", 6, &ids[0]);
	lf_sha256_buf("layer1", 6, &ids[1]);
	lf_chain_id(ids, 1, &chain);
	ck_assert(lf_digest_eq(&chain, &ids[0]));

	n = snprintf(buf, sizeof(buf), "%s %s", lf_digest_format(&ids[0], a),
		     lf_digest_format(&ids[1], b));
	lf_sha256_buf(buf, n, &expect);
	lf_chain_id(ids, 2, &chain);
	ck_assert(lf_digest_eq(&chain, &expect));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("digest");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_known_vector);
	tcase_add_test(tc, test_streaming_matches_oneshot);
	tcase_add_test(tc, test_parse);
	tcase_add_test(tc, test_chain_id);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
