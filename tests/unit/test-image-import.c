/*
 * Image import end to end, from sources built by tests/unit/image-fixtures.sh with GNU tar,
 * gzip, zstd, sha256sum and jq: every kind of source, names, platforms, re-import, hostile
 * documents and archives (the store must be exactly as before), rmi/gc, df, resolve.
 */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "layerfs/image.h"
#include "layerfs/layer.h"
#include "layerfs/store.h"
#include "layerfs/tree.h"
#include "layerfs/util.h"

static char script[PATH_MAX];
static char tmp[PATH_MAX]; /* per test: fixtures in tmp/fx, the store in tmp/store */
static char store_path[PATH_MAX + 8];
static struct lf_store *store;

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int r;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	r = system(cmd);
	return WIFEXITED(r) ? WEXITSTATUS(r) : -1;
}

static void setup(void)
{
	const char *build = getenv("LF_TEST_BUILD_DIR");
	char file[PATH_MAX];

	/* __FILE__ is relative to the build directory when meson compiles us. */
	snprintf(file, sizeof(file), "%s%s%s", __FILE__[0] == '/' ? "" : (build ? build : "."),
		 __FILE__[0] == '/' ? "" : "/", __FILE__);
	snprintf(script, sizeof(script), "%s/image-fixtures.sh", dirname(file));
	snprintf(tmp, sizeof(tmp), "/tmp/lf-test-image-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmp));
	snprintf(store_path, sizeof(store_path), "%s/store", tmp);
	ck_assert_int_eq(lf_store_open(store_path, true, &store), 0);
}

static void teardown(void)
{
	lf_store_free(store);
	store = NULL;
	sh("rm -rf '%s'", tmp);
}

static void fixture(const char *kind)
{
	ck_assert_msg(sh("'%s' %s '%s/fx'", script, kind, tmp) == 0, "fixture %s", kind);
}

static void edit(const char *what, const char *dir, const char *filter)
{
	ck_assert_int_eq(sh("'%s' %s '%s/fx/%s' '%s'", script, what, tmp, dir, filter), 0);
}

/* Everything in the store but staging and lock files, with file contents, to a file. */
static void listing(const char *name)
{
	ck_assert_int_eq(sh("cd '%s' && { find . -path ./tmp -prune -o -type d -print; "
			    "find . -path ./tmp -prune -o -type f ! -name lock ! -name meta.lock "
			    "-exec sha256sum {} +; } | sort > '%s/%s'",
			    store_path, tmp, name),
			 0);
}

static void assert_unchanged(const char *before)
{
	listing("after");
	ck_assert_msg(sh("diff '%s/%s' '%s/after' >&2", tmp, before, tmp) == 0,
		      "the store changed");
}

static int import(const char *src, const char *ref, unsigned flags, struct lf_err *err)
{
	char path[PATH_MAX + 8];

	snprintf(path, sizeof(path), "%s/fx/%s", tmp, src);
	memset(err, 0, sizeof(*err));
	return lf_image_import(store, path, ref, flags, NULL, err);
}

static void import_ok(const char *src, const char *ref, unsigned flags)
{
	struct lf_err err;
	int r = import(src, ref, flags, &err);

	ck_assert_msg(r == 0, "import %s: %s", src, lf_err_str(&err, r));
}

/* Imports src, expects failure with a message containing needle, and the store untouched. */
static void import_fails(const char *src, const char *ref, unsigned flags, const char *needle)
{
	struct lf_err err;
	int r;

	listing("before");
	r = import(src, ref, flags, &err);
	ck_assert_msg(r < 0, "import of %s succeeded", src);
	ck_assert_msg(strstr(err.msg, needle), "message '%s' lacks '%s'", err.msg, needle);
	ck_assert_msg(!strchr(err.msg, '\n'), "message is not one line: '%s'", err.msg);
	ck_assert_msg(strstr(err.msg, "fx/"), "message does not name the source: '%s'", err.msg);
	assert_unchanged("before");
}

/* The content of path in the image's merged tree; NULL when absent. */
static char *read_image_file(const char *ref, const char *path)
{
	struct lf_image *img = NULL;
	struct lf_tree *t = NULL;
	struct lf_digest d;
	struct lf_err err = {};
	uint32_t ino;
	char *buf = NULL;
	size_t len;
	int r;

	r = lf_image_resolve(store, ref, &img, &err);
	ck_assert_msg(r == 0, "resolve %s: %s", ref, lf_err_str(&err, r));
	ck_assert_int_eq(lf_tree_merged_open(store, img->diff_ids, img->n_layers, &t, &err), 0);
	if (lf_tree_lookup_path(t, path, &ino) == 0) {
		ck_assert_int_eq(lf_tree_object(t, ino, &d), 0);
		ck_assert_int_eq(lf_cas_read(store, LF_CAS_OBJECT, &d, 1 << 20, &buf, &len), 0);
	}
	lf_tree_unref(t);
	lf_image_free(img);
	return buf;
}

static void assert_file(const char *ref, const char *path, const char *want)
{
	char *got = read_image_file(ref, path);

	if (!want) {
		ck_assert_msg(!got, "%s: '%s' should not exist", ref, path);
		return;
	}
	ck_assert_msg(got, "%s: '%s' is missing", ref, path);
	ck_assert_str_eq(got, want);
	free(got);
}

/* The two-layer image: layer 2 changed base.txt, added upper.txt, deleted gone.txt. */
static void assert_two_layer_image(const char *ref)
{
	struct lf_image *img = NULL;

	ck_assert_int_eq(lf_image_resolve(store, ref, &img, NULL), 0);
	ck_assert_uint_eq(img->n_layers, 2);
	lf_image_free(img);
	assert_file(ref, "etc/base.txt", "changed\n");
	assert_file(ref, "etc/upper.txt", "upper\n");
	assert_file(ref, "bin/tool", "shared\n");
	assert_file(ref, "etc/gone.txt", NULL);
}

static size_t n_refs(void)
{
	struct lf_refs *refs;
	size_t n;

	ck_assert_int_eq(lf_refs_load(store, &refs, NULL), 0);
	n = refs->n;
	lf_refs_free(refs);
	return n;
}

/* ---- every kind of source ---- */

START_TEST(test_oci_dir)
{
	fixture("oci");
	import_ok("oci", NULL, 0);
	/* A bare ref.name is a tag of the source's base name. */
	assert_two_layer_image("oci:1.0");
	ck_assert_uint_eq(n_refs(), 1);
	/* The store stays a valid OCI layout for independent readers. */
	ck_assert_int_eq(
		sh("cd '%s' && jq -e '.manifests[0].annotations[\"org.opencontainers.image.ref.name\"] == \"oci:1.0\"' index.json >/dev/null && "
		   "d=$(jq -r '.manifests[0].digest' index.json | cut -d: -f2) && "
		   "[ \"$(sha256sum blobs/sha256/$d | cut -d' ' -f1)\" = $d ] && "
		   "c=$(jq -r .config.digest blobs/sha256/$d | cut -d: -f2) && "
		   "jq -e '.rootfs.diff_ids | length == 2' blobs/sha256/$c >/dev/null",
		   store_path),
		0);
}
END_TEST

START_TEST(test_oci_tar)
{
	fixture("oci-tar");
	import_ok("oci.tar", "my/app:2", 0);
	assert_two_layer_image("my/app:2");
	ck_assert_uint_eq(n_refs(), 1);
	/* Staging is gone. */
	ck_assert_int_eq(sh("[ -z \"$(ls -A '%s/tmp')\" ]", store_path), 0);
}
END_TEST

START_TEST(test_docker_legacy)
{
	struct lf_image *img = NULL;
	char *inspect = NULL;

	fixture("legacy");
	import_ok("legacy.tar", NULL, 0);
	ck_assert_int_eq(lf_image_resolve(store, "legacy/app:v1", &img, NULL), 0);
	ck_assert_uint_eq(img->n_layers, 3);
	/* The third layer (a symlink to the first's layer.tar) brings base.txt back. */
	assert_file("legacy/app:v1", "etc/base.txt", "base\n");
	assert_file("legacy/app:v1", "etc/gone.txt", "gone\n");
	assert_file("legacy/app:v1", "etc/upper.txt", "upper\n");
	/* The synthesized manifest describes the layer tars by their own digests. */
	ck_assert_int_eq(lf_image_inspect(store, img, &inspect, NULL), 0);
	ck_assert_ptr_nonnull(strstr(inspect, "application/vnd.oci.image.layer.v1.tar\""));
	ck_assert_ptr_nonnull(strstr(inspect, "\"blobSize\": 10240"));
	free(inspect);
	lf_image_free(img);
}
END_TEST

START_TEST(test_docker25)
{
	fixture("docker25");
	import_ok("docker25.tar", NULL, 0);
	/* docker's RepoTags name it. */
	assert_two_layer_image("d25:latest");
	assert_two_layer_image("d25");
	ck_assert_uint_eq(n_refs(), 1);
}
END_TEST

START_TEST(test_containerd)
{
	fixture("containerd");
	/* Platforms whose blobs are absent (another arch, an earlier entry for ours, an
	 * attestation) are skipped. */
	import_ok("containerd.tar", NULL, 0);
	assert_two_layer_image("ctrd:2");
}
END_TEST

START_TEST(test_rootfs)
{
	struct lf_image *img = NULL;
	struct lf_err err = {};

	fixture("rootfs");
	import_ok("rootfs.tar.gz", NULL, LF_IMPORT_ROOTFS);
	assert_file("rootfs:latest", "etc/base.txt", "base\n");
	assert_file("rootfs:latest", "bin/tool", "shared\n");
	ck_assert_int_eq(lf_image_resolve(store, "rootfs", &img, &err), 0);
	ck_assert_uint_eq(img->n_layers, 1);
	ck_assert_ptr_nonnull(strstr(img->config_json, "\"os\":\"linux\""));
	ck_assert_ptr_nonnull(strstr(img->config_json, "PATH="));
	lf_image_free(img);

	import_ok("rootfs", "fromdir:1", LF_IMPORT_ROOTFS);
	assert_file("fromdir:1", "etc/gone.txt", "gone\n");
	/* Without --rootfs a plain tarball or directory is not taken for an image. */
	import_fails("rootfs.tar.gz", NULL, 0, "--rootfs");
	import_fails("rootfs", NULL, 0, "--rootfs");
}
END_TEST

START_TEST(test_reimport_changes_nothing)
{
	fixture("docker25");
	fixture("rootfs");
	import_ok("docker25.tar", NULL, 0);
	import_ok("rootfs.tar.gz", NULL, LF_IMPORT_ROOTFS);
	listing("first");
	import_ok("docker25.tar", NULL, 0);
	import_ok("rootfs.tar.gz", NULL, LF_IMPORT_ROOTFS);
	assert_unchanged("first");
}
END_TEST

START_TEST(test_selection)
{
	struct lf_err err;

	fixture("multi");
	listing("before");
	ck_assert_int_eq(import("multi", NULL, 0, &err), -EINVAL);
	ck_assert_msg(strstr(err.msg, "'a'") && strstr(err.msg, "'b'"), "%s", err.msg);
	assert_unchanged("before");
	/* The tag part of NAME:TAG selects the image. */
	import_ok("multi", "x:b", 0);
	assert_file("x:b", "etc/base.txt", "base\n");
	import_ok("multi", "x:a", 0);
	assert_file("x:a", "etc/base.txt", "changed\n");
	ck_assert_uint_eq(n_refs(), 2);
}
END_TEST

/* ---- hostile documents and archives: an error naming the source, the store untouched ---- */

START_TEST(test_bad_documents)
{
	fixture("oci-gz");
	/* first something in the store, so "untouched" means more than "empty" */
	fixture("docker25");
	import_ok("docker25.tar", NULL, 0);

	sh("cp -a '%s/fx/oci-gz' '%s/fx/v1'", tmp, tmp);
	edit("edit-manifest", "v1", ".schemaVersion = 1");
	import_fails("v1", NULL, 0, "schemaVersion");

	sh("cp -a '%s/fx/oci-gz' '%s/fx/types'", tmp, tmp);
	edit("edit-manifest", "types", ".layers = {}");
	import_fails("types", NULL, 0, "'layers' is not an array");

	sh("cp -a '%s/fx/oci-gz' '%s/fx/baddigest'", tmp, tmp);
	edit("edit-manifest", "baddigest", ".layers[0].digest = \"sha256:xyz\"");
	import_fails("baddigest", NULL, 0, "not a valid sha256 digest");

	/* the second layer's DiffID is wrong: the first was imported and must go again */
	sh("cp -a '%s/fx/oci-gz' '%s/fx/diffid'", tmp, tmp);
	edit("edit-config", "diffid",
	     ".rootfs.diff_ids[1] = \"sha256:0000000000000000000000000000000000000000000000000000000000000000\"");
	import_fails("diffid", NULL, 0, "iff");

	sh("cp -a '%s/fx/oci-gz' '%s/fx/count'", tmp, tmp);
	edit("edit-config", "count", ".rootfs.diff_ids |= .[:1]");
	import_fails("count", NULL, 0, "diff_ids");

	sh("cp -a '%s/fx/oci-gz' '%s/fx/noconfig'", tmp, tmp);
	edit("edit-config", "noconfig", "del(.rootfs)");
	import_fails("noconfig", NULL, 0, "'rootfs' is missing");

	sh("cp -a '%s/fx/oci-gz' '%s/fx/index'", tmp, tmp);
	sh("echo '{\"schemaVersion\":2,\"manifests\":[{\"digest\":1}]}' > '%s/fx/index/index.json'",
	   tmp);
	import_fails("index", NULL, 0, "index.json");

	sh("cp -a '%s/fx/oci-gz' '%s/fx/notjson'", tmp, tmp);
	sh("echo 'not json' > '%s/fx/notjson/index.json'", tmp);
	import_fails("notjson", NULL, 0, "invalid JSON");

	sh("cp -a '%s/fx/oci-gz' '%s/fx/layout'", tmp, tmp);
	sh("echo '{\"imageLayoutVersion\":\"9.0\"}' > '%s/fx/layout/oci-layout'", tmp);
	import_fails("layout", NULL, 0, "layout version");

	/* unknown media types and annotations are skipped, not errors */
	sh("cp -a '%s/fx/oci-gz' '%s/fx/unknown'", tmp, tmp);
	edit("edit-manifest", "unknown",
	     ".annotations = {\"x\": \"y\"} | .artifactType = \"application/x\" | .subject = null");
	import_ok("unknown", "unknown:1", 0);
	assert_two_layer_image("unknown:1");
}
END_TEST

START_TEST(test_bad_blobs)
{
	fixture("oci-gz");
	fixture("docker25");
	import_ok("docker25.tar", NULL, 0);

	/* a byte of the second layer flipped, size unchanged: digest mismatch, found late */
	sh("cp -a '%s/fx/oci-gz' '%s/fx/flip'", tmp, tmp);
	ck_assert_int_eq(
		sh("cd '%s/fx/flip' && m=$(jq -r '.manifests[0].digest' index.json | cut -d: -f2) && "
		   "l=$(jq -r '.layers[1].digest' blobs/sha256/$m | cut -d: -f2) && "
		   "chmod u+w blobs/sha256/$l && printf '\\377' | dd of=blobs/sha256/$l bs=1 seek=30 conv=notrunc 2>/dev/null",
		   tmp),
		0);
	import_fails("flip", NULL, 0, "fx/flip");

	/* the manifest says one byte more than the blob has */
	sh("cp -a '%s/fx/oci-gz' '%s/fx/size'", tmp, tmp);
	edit("edit-manifest", "size", ".layers[1].size += 1");
	import_fails("size", NULL, 0, "bytes");

	/* a layer blob is missing */
	sh("cp -a '%s/fx/oci-gz' '%s/fx/missing'", tmp, tmp);
	ck_assert_int_eq(
		sh("cd '%s/fx/missing' && m=$(jq -r '.manifests[0].digest' index.json | cut -d: -f2) && "
		   "rm blobs/sha256/$(jq -r '.layers[1].digest' blobs/sha256/$m | cut -d: -f2)",
		   tmp),
		0);
	import_fails("missing", NULL, 0, "missing");

	/* a foreign layer whose blob is absent */
	sh("cp -a '%s/fx/missing' '%s/fx/foreign'", tmp, tmp);
	edit("edit-manifest", "foreign",
	     ".layers[1].mediaType = \"application/vnd.oci.image.layer.nondistributable.v1.tar+gzip\"");
	import_fails("foreign", NULL, 0, "foreign");

	/* the config blob does not match its digest */
	sh("cp -a '%s/fx/oci-gz' '%s/fx/config'", tmp, tmp);
	ck_assert_int_eq(
		sh("cd '%s/fx/config' && m=$(jq -r '.manifests[0].digest' index.json | cut -d: -f2) && "
		   "c=blobs/sha256/$(jq -r .config.digest blobs/sha256/$m | cut -d: -f2) && "
		   "chmod u+w $c && sed -i s/amd64/arm64/ $c && sed -i s/arm64/amd64/ $c && "
		   "sed -i 's/linux/LINUX/' $c",
		   tmp),
		0);
	import_fails("config", NULL, 0, "does not match its digest");

	/* a blob that is a symlink out of the layout */
	sh("cp -a '%s/fx/oci-gz' '%s/fx/escape'", tmp, tmp);
	ck_assert_int_eq(
		sh("cd '%s/fx/escape' && m=$(jq -r '.manifests[0].digest' index.json | cut -d: -f2) && "
		   "l=blobs/sha256/$(jq -r '.layers[1].digest' blobs/sha256/$m | cut -d: -f2) && "
		   "rm $l && ln -s /etc/passwd $l",
		   tmp),
		0);
	import_fails("escape", NULL, 0, "outside");
}
END_TEST

/* APPEND_RAW TAR NAME FILE: appends FILE as NAME, verbatim (GNU tar strips '..' and '/'). */
#define APPEND_RAW                                                                         \
	"python3 -c 'import sys, tarfile; t = tarfile.open(sys.argv[1], \"a\", "           \
	"format=tarfile.GNU_FORMAT); i = t.gettarinfo(sys.argv[3], arcname=sys.argv[2]); " \
	"i.name = sys.argv[2]; t.addfile(i, open(sys.argv[3], \"rb\"))'"

START_TEST(test_hostile_archives)
{
	fixture("oci-gz");
	fixture("legacy");

	/* an entry with '..' in an otherwise good layout tar */
	ck_assert_int_eq(sh("cd '%s/fx' && mkdir -p dd && echo x > dd/evil && "
			    "tar -C oci-gz -cf dotdot.tar . && %s dotdot.tar ../evil dd/evil && "
			    "tar -tf dotdot.tar | grep -q '^\\.\\./evil'",
			    tmp, APPEND_RAW),
			 0);
	import_fails("dotdot.tar", NULL, 0, "unsafe name");
	ck_assert_int_ne(access("/tmp/evil", F_OK), 0);

	/* an absolute entry name */
	ck_assert_int_eq(sh("cd '%s/fx' && tar -C oci-gz -cf abs.tar . && "
			    "%s abs.tar /tmp/lf-evil-dd/evil dd/evil && "
			    "tar -tPf abs.tar | grep -q '^/tmp/lf-evil'",
			    tmp, APPEND_RAW),
			 0);
	import_fails("abs.tar", NULL, 0, "unsafe name");
	ck_assert_int_ne(access("/tmp/lf-evil-dd/evil", F_OK), 0);

	/* a symlinked directory, then an entry written through it */
	ck_assert_int_eq(
		sh("cd '%s/fx' && mkdir -p sl && ln -s /tmp sl/blobs && mkdir -p sl2/blobs && "
		   "echo x > sl2/blobs/planted && tar -C sl -cf symdir.tar blobs && "
		   "tar -C sl2 -rf symdir.tar blobs/planted",
		   tmp),
		0);
	import_fails("symdir.tar", NULL, 0, "symdir.tar");
	ck_assert_int_ne(access("/tmp/planted", F_OK), 0);

	/* a legacy layer.tar that is a symlink out of the archive */
	ck_assert_int_eq(
		sh("cd '%s/fx' && mkdir lx && tar -C lx -xf legacy.tar && "
		   "l=$(jq -r '.[0].Layers[1]' lx/manifest.json) && rm lx/$l && "
		   "ln -s ../../../../etc/passwd lx/$l && (cd lx && tar -cf ../lxout.tar -- *)",
		   tmp),
		0);
	import_fails("lxout.tar", NULL, 0, "outside the archive");
	/* the same as a directory */
	import_fails("lx", NULL, 0, "outside the archive");

	/* a tar that ends early */
	ck_assert_int_eq(
		sh("cd '%s/fx' && tar -C oci-gz -cf full.tar . && head -c 3000 full.tar > short.tar",
		   tmp),
		0);
	import_fails("short.tar", NULL, 0, "short.tar");

	/* not a tar at all */
	ck_assert_int_eq(sh("head -c 4096 /dev/urandom > '%s/fx/noise.bin'", tmp), 0);
	import_fails("noise.bin", NULL, 0, "not an OCI layout");
}
END_TEST

/* ---- names, tags, resolve ---- */

START_TEST(test_resolve_and_tag)
{
	struct lf_image *img = NULL, *img2 = NULL;
	struct lf_err err = {};
	char hex[LF_DIGEST_HEX_LEN + 1], ref[LF_DIGEST_STR_MAX];

	fixture("docker25");
	import_ok("docker25.tar", NULL, 0);
	ck_assert_int_eq(lf_image_resolve(store, "d25", &img, &err), 0);
	ck_assert_str_eq(img->ref, "d25:latest");
	lf_digest_hex(&img->manifest, hex);
	ck_assert_int_eq(
		lf_image_resolve(store, lf_digest_format(&img->manifest, ref), &img2, NULL), 0);
	ck_assert(lf_digest_eq(&img2->manifest, &img->manifest));
	lf_image_free(img2);
	hex[12] = 0;
	ck_assert_int_eq(lf_image_resolve(store, hex, &img2, NULL), 0);
	lf_image_free(img2);
	hex[4] = 0;
	ck_assert_int_eq(lf_image_resolve(store, hex, &img2, NULL), 0);
	lf_image_free(img2);
	hex[3] = 0;
	ck_assert_int_eq(lf_image_resolve(store, hex, &img2, NULL), -ENOENT);
	memset(&err, 0, sizeof(err));
	ck_assert_int_eq(lf_image_resolve(store, "nope:1", &img2, &err), -ENOENT);
	ck_assert_ptr_nonnull(strstr(err.msg, "no image 'nope:1'"));

	ck_assert_int_eq(lf_image_tag(store, img, "other/name:7", NULL), 0);
	ck_assert_int_eq(lf_image_resolve(store, "other/name:7", &img2, NULL), 0);
	ck_assert(lf_digest_eq(&img2->manifest, &img->manifest));
	lf_image_free(img2);
	ck_assert_int_eq(lf_image_tag(store, img, "Bad:Name", NULL), -EINVAL);
	ck_assert_uint_eq(n_refs(), 2);
	lf_image_free(img);
}
END_TEST

/* ---- rmi, gc, df ---- */

static size_t count_files(const char *sub)
{
	char cmd[PATH_MAX * 2], line[64] = "";
	FILE *f;

	snprintf(cmd, sizeof(cmd), "find '%s/%s' -type f | wc -l", store_path, sub);
	f = popen(cmd, "r");
	ck_assert_ptr_nonnull(f);
	ck_assert_ptr_nonnull(fgets(line, sizeof(line), f));
	pclose(f);
	return strtoul(line, NULL, 10);
}

START_TEST(test_rmi_gc)
{
	struct lf_gc_stats st;
	char **removed;
	size_t n;

	fixture("multi");
	import_ok("multi", "m:a", 0); /* layers 1 + 2: five objects */
	import_ok("multi", "m:b", 0); /* layer 1 only */
	ck_assert_uint_eq(count_files("objects"), 5);

	ck_assert_int_eq(lf_image_untag(store, "m:a", &removed, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(removed[0], "m:a");
	free(removed[0]);
	free(removed);
	ck_assert_int_eq(lf_image_gc(store, false, &st, NULL), 0);
	/* layer 2, its two objects, a's manifest+config and merged tree went; b is whole */
	ck_assert_uint_eq(st.layers, 1);
	ck_assert_uint_eq(st.objects, 2);
	ck_assert_uint_eq(st.blobs, 2);
	ck_assert_uint_eq(st.merged, 1);
	ck_assert_uint_eq(count_files("objects"), 3);
	assert_file("m:b", "etc/base.txt", "base\n");

	ck_assert_int_eq(lf_image_untag(store, "m:b", NULL, NULL, NULL), 0);
	ck_assert_int_eq(lf_image_gc(store, false, &st, NULL), 0);
	ck_assert_uint_eq(count_files("objects"), 0);
	ck_assert_uint_eq(count_files("layers"), 0);
	ck_assert_uint_eq(count_files("blobs"), 0);
	ck_assert_uint_eq(count_files("merged"), 0);
	ck_assert_uint_eq(n_refs(), 0);
}
END_TEST

START_TEST(test_rmi_container)
{
	struct lf_image *img = NULL;
	struct lf_err err = {};
	char dg[LF_DIGEST_STR_MAX], d0[LF_DIGEST_STR_MAX], d1[LF_DIGEST_STR_MAX];

	fixture("docker25");
	import_ok("docker25.tar", NULL, 0);
	ck_assert_int_eq(lf_image_resolve(store, "d25", &img, NULL), 0);
	ck_assert_int_eq(
		sh("mkdir -p '%s/containers/c1' && echo '{\"name\":\"web\",\"image\":\"%s\",\"diffIds\":[\"%s\",\"%s\"]}' > '%s/containers/c1/config.json'",
		   store_path, lf_digest_format(&img->manifest, dg),
		   lf_digest_format(&img->diff_ids[0], d0), lf_digest_format(&img->diff_ids[1], d1),
		   store_path),
		0);
	/* the last name of an image a container uses is refused, naming the container */
	listing("before");
	ck_assert_int_eq(lf_image_untag(store, "d25", NULL, NULL, &err), -EBUSY);
	ck_assert_ptr_nonnull(strstr(err.msg, "'web'"));
	assert_unchanged("before");
	/* another name may go */
	ck_assert_int_eq(lf_image_tag(store, img, "d25:two", NULL), 0);
	ck_assert_int_eq(lf_image_untag(store, "d25:two", NULL, NULL, NULL), 0);

	/* a container that only names layers keeps them (and their objects) through gc */
	ck_assert_int_eq(sh("echo '{\"diffIds\":[\"%s\",\"%s\"]}' > '%s/containers/c1/config.json'",
			    d0, d1, store_path),
			 0);
	ck_assert_int_eq(lf_image_untag(store, "d25", NULL, NULL, NULL), 0);
	ck_assert_int_eq(lf_image_gc(store, false, NULL, NULL), 0);
	ck_assert(lf_layer_exists(store, &img->diff_ids[0]));
	ck_assert(lf_layer_exists(store, &img->diff_ids[1]));
	ck_assert_uint_eq(count_files("objects"), 5);
	ck_assert(!lf_cas_has(store, LF_CAS_BLOB, &img->manifest));
	lf_image_free(img);
}
END_TEST

START_TEST(test_df)
{
	struct lf_df *df = NULL;
	struct lf_err err = {};
	int r;

	fixture("multi");
	import_ok("multi", "m:a", 0);
	import_ok("multi", "m:b", 0);
	{
		/* the same image under two names */
		struct lf_image *img = NULL;

		ck_assert_int_eq(lf_image_resolve(store, "m:b", &img, &err), 0);
		ck_assert_int_eq(lf_image_tag(store, img, "m:b2", &err), 0);
		lf_image_free(img);
	}
	r = lf_image_df(store, &df, &err);
	ck_assert_msg(r == 0, "%s", lf_err_str(&err, r));
	ck_assert_uint_eq(df->n_images, 2);
	for (size_t i = 0; i < df->n_images; i++) {
		const struct lf_df_image *im = &df->images[i];

		if (strcmp(im->refs, "m:a") == 0) {
			/* merged: base.txt "changed\n" 8 + upper.txt 6 + bin/tool 7 */
			ck_assert_uint_eq(im->total, 21);
			/* layer 1's base 5, gone 5, tool 7 are b's too; changed 8 + upper 6 not */
			ck_assert_uint_eq(im->shared, 17);
			ck_assert_uint_eq(im->unique, 14);
		} else {
			ck_assert_str_eq(im->refs, "m:b,m:b2");
			ck_assert_uint_eq(im->total, 17);
			ck_assert_uint_eq(im->shared, 17);
			ck_assert_uint_eq(im->unique, 0);
		}
	}
	ck_assert_uint_eq(df->logical, 38);
	ck_assert_uint_eq(df->objects_bytes, 31);
	ck_assert_uint_eq(df->n_objects, 5);
	ck_assert(df->metadata_bytes > 0);
	ck_assert_uint_eq(df->on_disk, df->objects_bytes + df->metadata_bytes);
	lf_df_free(df);
}
END_TEST

START_TEST(test_list_inspect)
{
	struct lf_image_summary *v = NULL;
	struct lf_image *img = NULL;
	char *doc = NULL;
	size_t n = 0;

	fixture("docker25");
	import_ok("docker25.tar", NULL, 0);
	ck_assert_int_eq(lf_image_list(store, &v, &n, NULL), 0);
	ck_assert_uint_eq(n, 1);
	ck_assert_str_eq(v[0].ref, "d25:latest");
	ck_assert_uint_eq(v[0].n_layers, 2);
	ck_assert_uint_eq(v[0].size, 17 + 14);
	ck_assert_str_eq(v[0].created, "2024-01-02T03:04:05Z");
	lf_image_summaries_free(v, n);

	ck_assert_int_eq(lf_image_resolve(store, "d25", &img, NULL), 0);
	ck_assert_int_eq(lf_image_inspect(store, img, &doc, NULL), 0);
	ck_assert_int_eq(
		sh("echo '%s' | jq -e '.ref == \"d25:latest\" and (.layers | length) == 2 and "
		   ".layers[0].files == 3 and .layers[0].size == 17 and "
		   ".config.config.Cmd == [\"/bin/sh\"] and (.chainId | startswith(\"sha256:\"))' >/dev/null",
		   doc),
		0);
	free(doc);
	lf_image_free(img);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image-import");
	TCase *tc = tcase_create("import");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_oci_dir);
	tcase_add_test(tc, test_oci_tar);
	tcase_add_test(tc, test_docker_legacy);
	tcase_add_test(tc, test_docker25);
	tcase_add_test(tc, test_containerd);
	tcase_add_test(tc, test_rootfs);
	tcase_add_test(tc, test_reimport_changes_nothing);
	tcase_add_test(tc, test_selection);
	tcase_add_test(tc, test_bad_documents);
	tcase_add_test(tc, test_bad_blobs);
	tcase_add_test(tc, test_hostile_archives);
	tcase_add_test(tc, test_resolve_and_tag);
	tcase_add_test(tc, test_rmi_gc);
	tcase_add_test(tc, test_rmi_container);
	tcase_add_test(tc, test_df);
	tcase_add_test(tc, test_list_inspect);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
