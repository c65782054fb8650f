/* OCI and Docker image documents: strict parsing of what we read, stable output of what we write. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "layerfs/macro.h"
#include "layerfs/oci.h"
#include "layerfs/util.h"

/* jansson's own json_decrefp() accepts NULL. */
#define _cleanup_json_ _cleanup_(json_decrefp)

static const struct {
	const char *type;
	enum lf_mt_kind kind;
} media_types[] = {
	{ LF_MT_OCI_MANIFEST, LF_MT_MANIFEST },
	{ LF_MT_DOCKER_MANIFEST, LF_MT_MANIFEST },
	{ LF_MT_OCI_INDEX, LF_MT_INDEX },
	{ LF_MT_DOCKER_LIST, LF_MT_INDEX },
	{ LF_MT_OCI_CONFIG, LF_MT_CONFIG },
	{ LF_MT_DOCKER_CONFIG, LF_MT_CONFIG },
	{ LF_MT_OCI_LAYER, LF_MT_LAYER },
	{ LF_MT_OCI_LAYER_GZIP, LF_MT_LAYER },
	{ LF_MT_OCI_LAYER_ZSTD, LF_MT_LAYER },
	{ LF_MT_DOCKER_LAYER, LF_MT_LAYER },
	{ "application/vnd.docker.image.rootfs.diff.tar", LF_MT_LAYER },
	{ "application/vnd.docker.image.rootfs.diff.tar.zstd", LF_MT_LAYER },
	{ LF_MT_DOCKER_FOREIGN, LF_MT_LAYER_FOREIGN },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar", LF_MT_LAYER_FOREIGN },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip", LF_MT_LAYER_FOREIGN },
	{ "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd", LF_MT_LAYER_FOREIGN },
};

enum lf_mt_kind lf_oci_media_kind(const char *media_type)
{
	if (!media_type)
		return LF_MT_UNKNOWN;
	for (size_t i = 0; i < ARRAY_SIZE(media_types); i++)
		if (strcmp(media_type, media_types[i].type) == 0)
			return media_types[i].kind;
	return LF_MT_UNKNOWN;
}

/* ---- helpers over untrusted JSON ---- */

static int load(const char *buf, size_t len, const char *what, json_t **ret, struct lf_err *err)
{
	json_error_t jerr;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!j)
		return lf_err_set(err, -EBADMSG, "%s: invalid JSON at line %d: %s", what, jerr.line,
				  jerr.text);
	*ret = j;
	return 0;
}

/* A string member: -ENOENT when absent (not logged), -EBADMSG when of another type. */
static int get_string(json_t *obj, const char *key, const char *what, const char **ret,
		      struct lf_err *err)
{
	json_t *v = json_object_get(obj, key);

	if (!v || json_is_null(v))
		return -ENOENT;
	if (!json_is_string(v))
		return lf_err_set(err, -EBADMSG, "%s: '%s' is not a string", what, key);
	*ret = json_string_value(v);
	return 0;
}

static int dup_string(json_t *obj, const char *key, const char *what, bool required, char **ret,
		      struct lf_err *err)
{
	const char *s;
	int r = get_string(obj, key, what, &s, err);

	if (r == -ENOENT) {
		if (required)
			return lf_err_set(err, -EBADMSG, "%s: '%s' is missing", what, key);
		*ret = NULL;
		return 0;
	}
	if (r < 0)
		return r;
	*ret = strdup(s);
	return *ret ? 0 : -ENOMEM;
}

static int parse_digest(json_t *v, const char *what, const char *key, struct lf_digest *ret,
			struct lf_err *err)
{
	const char *s;
	int r;

	if (!v)
		return lf_err_set(err, -EBADMSG, "%s: '%s' is missing", what, key);
	if (!json_is_string(v))
		return lf_err_set(err, -EBADMSG, "%s: '%s' is not a string", what, key);
	s = json_string_value(v);
	r = lf_digest_parse(s, ret);
	if (r == -EOPNOTSUPP)
		return lf_err_set(err, r, "%s: digest '%.80s' uses an unsupported algorithm", what,
				  s);
	if (r < 0)
		return lf_err_set(err, -EBADMSG, "%s: '%.80s' is not a valid sha256 digest", what,
				  s);
	return 0;
}

static int check_schema_version(json_t *root, const char *what, struct lf_err *err)
{
	json_t *v = json_object_get(root, "schemaVersion");

	if (!v)
		return lf_err_set(err, -EBADMSG, "%s: 'schemaVersion' is missing", what);
	if (!json_is_integer(v) || json_integer_value(v) != 2)
		return lf_err_set(err, -EBADMSG, "%s: 'schemaVersion' is not 2", what);
	return 0;
}

static void platform_clear(struct lf_oci_platform *p)
{
	free(p->os);
	free(p->architecture);
	free(p->variant);
	*p = (struct lf_oci_platform){};
}

static void descriptor_clear(struct lf_oci_descriptor *d)
{
	free(d->media_type);
	free(d->ref_name);
	free(d->image_name);
	platform_clear(&d->platform);
	*d = (struct lf_oci_descriptor){};
}

static int parse_platform(json_t *v, const char *what, struct lf_oci_platform *p,
			  struct lf_err *err)
{
	int r;

	if (!json_is_object(v))
		return lf_err_set(err, -EBADMSG, "%s: 'platform' is not an object", what);
	if ((r = dup_string(v, "os", what, true, &p->os, err)) < 0 ||
	    (r = dup_string(v, "architecture", what, true, &p->architecture, err)) < 0 ||
	    (r = dup_string(v, "variant", what, false, &p->variant, err)) < 0)
		return r;
	return 0;
}

static int parse_descriptor(json_t *v, const char *what, struct lf_oci_descriptor *d,
			    struct lf_err *err)
{
	json_t *size, *annot, *platform;
	int r;

	if (!json_is_object(v))
		return lf_err_set(err, -EBADMSG, "%s is not an object", what);
	r = dup_string(v, "mediaType", what, true, &d->media_type, err);
	if (r < 0)
		return r;
	r = parse_digest(json_object_get(v, "digest"), what, "digest", &d->digest, err);
	if (r < 0)
		return r;
	size = json_object_get(v, "size");
	if (!size)
		return lf_err_set(err, -EBADMSG, "%s: 'size' is missing", what);
	if (!json_is_integer(size) || json_integer_value(size) < 0)
		return lf_err_set(err, -EBADMSG, "%s: 'size' is not a non-negative integer", what);
	d->size = json_integer_value(size);

	annot = json_object_get(v, "annotations");
	if (annot && !json_is_null(annot)) {
		if (!json_is_object(annot))
			return lf_err_set(err, -EBADMSG, "%s: 'annotations' is not an object",
					  what);
		/* Other annotations are none of our business, whatever they hold. */
		if ((r = dup_string(annot, LF_ANNOT_REF_NAME, what, false, &d->ref_name, err)) <
			    0 ||
		    (r = dup_string(annot, LF_ANNOT_CONTAINERD_NAME, what, false, &d->image_name,
				    err)) < 0)
			return r;
	}
	platform = json_object_get(v, "platform");
	if (platform && !json_is_null(platform)) {
		r = parse_platform(platform, what, &d->platform, err);
		if (r < 0)
			return r;
		d->has_platform = true;
	}
	return 0;
}

static int parse_descriptor_array(json_t *root, const char *key, const char *what,
				  struct lf_oci_descriptor **ret, size_t *ret_n, struct lf_err *err)
{
	json_t *arr = json_object_get(root, key);
	struct lf_oci_descriptor *v;
	size_t n;

	if (!arr)
		return lf_err_set(err, -EBADMSG, "%s: '%s' is missing", what, key);
	if (!json_is_array(arr))
		return lf_err_set(err, -EBADMSG, "%s: '%s' is not an array", what, key);
	n = json_array_size(arr);
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	*ret = v;
	*ret_n = 0;
	for (size_t i = 0; i < n; i++) {
		char sub[128];
		int r;

		snprintf(sub, sizeof(sub), "%s: %s[%zu]", what, key, i);
		r = parse_descriptor(json_array_get(arr, i), sub, &v[i], err);
		(*ret_n)++; /* so that the caller's free clears a partial entry too */
		if (r < 0)
			return r;
	}
	return 0;
}

/* ---- sniffing ---- */

enum lf_mt_kind lf_oci_sniff(const char *buf, size_t len)
{
	_cleanup_json_ json_t *root = json_loadb(buf, len, 0, NULL);
	const char *mt = NULL;
	enum lf_mt_kind k;

	if (!root || !json_is_object(root))
		return LF_MT_UNKNOWN;
	if (get_string(root, "mediaType", "", &mt, NULL) == 0) {
		k = lf_oci_media_kind(mt);
		if (k == LF_MT_MANIFEST || k == LF_MT_INDEX)
			return k;
		return LF_MT_UNKNOWN;
	}
	if (json_object_get(root, "manifests"))
		return LF_MT_INDEX;
	if (json_object_get(root, "config") && json_object_get(root, "layers"))
		return LF_MT_MANIFEST;
	return LF_MT_UNKNOWN;
}

/* ---- manifest ---- */

void lf_oci_manifest_free(struct lf_oci_manifest *m)
{
	if (!m)
		return;
	free(m->media_type);
	descriptor_clear(&m->config);
	for (size_t i = 0; i < m->n_layers; i++)
		descriptor_clear(&m->layers[i]);
	free(m->layers);
	free(m);
}
DEFINE_FREEP(struct lf_oci_manifest, lf_oci_manifest_free)

int lf_oci_manifest_parse(const char *buf, size_t len, struct lf_oci_manifest **ret,
			  struct lf_err *err)
{
	static const char what[] = "not an image manifest";
	_cleanup_json_ json_t *root = NULL;
	_cleanup_(lf_oci_manifest_freep) struct lf_oci_manifest *m = NULL;
	json_t *config;
	int r;

	r = load(buf, len, what, &root, err);
	if (r < 0)
		return r;
	if (!json_is_object(root))
		return lf_err_set(err, -EBADMSG, "%s: not a JSON object", what);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	r = check_schema_version(root, what, err);
	if (r < 0)
		return r;
	r = dup_string(root, "mediaType", what, false, &m->media_type, err);
	if (r < 0)
		return r;
	if (m->media_type && lf_oci_media_kind(m->media_type) != LF_MT_MANIFEST)
		return lf_err_set(err, -EBADMSG, "%s: media type '%s'", what, m->media_type);
	config = json_object_get(root, "config");
	if (!config)
		return lf_err_set(err, -EBADMSG, "%s: 'config' is missing", what);
	r = parse_descriptor(config, "not an image manifest: config", &m->config, err);
	if (r < 0)
		return r;
	r = parse_descriptor_array(root, "layers", what, &m->layers, &m->n_layers, err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(m);
	return 0;
}

/* ---- index ---- */

void lf_oci_index_free(struct lf_oci_index *idx)
{
	if (!idx)
		return;
	free(idx->media_type);
	for (size_t i = 0; i < idx->n_manifests; i++)
		descriptor_clear(&idx->manifests[i]);
	free(idx->manifests);
	free(idx);
}
DEFINE_FREEP(struct lf_oci_index, lf_oci_index_free)

int lf_oci_index_parse(const char *buf, size_t len, struct lf_oci_index **ret, struct lf_err *err)
{
	static const char what[] = "not an image index";
	_cleanup_json_ json_t *root = NULL;
	_cleanup_(lf_oci_index_freep) struct lf_oci_index *idx = NULL;
	int r;

	r = load(buf, len, what, &root, err);
	if (r < 0)
		return r;
	if (!json_is_object(root))
		return lf_err_set(err, -EBADMSG, "%s: not a JSON object", what);
	idx = calloc(1, sizeof(*idx));
	if (!idx)
		return -ENOMEM;
	r = check_schema_version(root, what, err);
	if (r < 0)
		return r;
	r = dup_string(root, "mediaType", what, false, &idx->media_type, err);
	if (r < 0)
		return r;
	if (idx->media_type && lf_oci_media_kind(idx->media_type) != LF_MT_INDEX)
		return lf_err_set(err, -EBADMSG, "%s: media type '%s'", what, idx->media_type);
	r = parse_descriptor_array(root, "manifests", what, &idx->manifests, &idx->n_manifests,
				   err);
	if (r < 0)
		return r;
	*ret = TAKE_PTR(idx);
	return 0;
}

/* ---- config ---- */

void lf_oci_config_free(struct lf_oci_config *c)
{
	if (!c)
		return;
	free(c->architecture);
	free(c->os);
	free(c->variant);
	free(c->created);
	free(c->diff_ids);
	free(c);
}
DEFINE_FREEP(struct lf_oci_config, lf_oci_config_free)

int lf_oci_config_parse(const char *buf, size_t len, struct lf_oci_config **ret, struct lf_err *err)
{
	static const char what[] = "not an image config";
	_cleanup_json_ json_t *root = NULL;
	_cleanup_(lf_oci_config_freep) struct lf_oci_config *c = NULL;
	json_t *rootfs, *ids, *cfg;
	const char *type;
	int r;

	r = load(buf, len, what, &root, err);
	if (r < 0)
		return r;
	if (!json_is_object(root))
		return lf_err_set(err, -EBADMSG, "%s: not a JSON object", what);
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	if ((r = dup_string(root, "architecture", what, true, &c->architecture, err)) < 0 ||
	    (r = dup_string(root, "os", what, true, &c->os, err)) < 0 ||
	    (r = dup_string(root, "variant", what, false, &c->variant, err)) < 0 ||
	    (r = dup_string(root, "created", what, false, &c->created, err)) < 0)
		return r;
	cfg = json_object_get(root, "config");
	if (cfg && !json_is_null(cfg) && !json_is_object(cfg))
		return lf_err_set(err, -EBADMSG, "%s: 'config' is not an object", what);
	rootfs = json_object_get(root, "rootfs");
	if (!rootfs)
		return lf_err_set(err, -EBADMSG, "%s: 'rootfs' is missing", what);
	if (!json_is_object(rootfs))
		return lf_err_set(err, -EBADMSG, "%s: 'rootfs' is not an object", what);
	r = get_string(rootfs, "type", what, &type, err);
	if (r == -ENOENT)
		return lf_err_set(err, -EBADMSG, "%s: 'rootfs.type' is missing", what);
	if (r < 0)
		return r;
	if (strcmp(type, "layers") != 0)
		return lf_err_set(err, -EBADMSG, "%s: 'rootfs.type' is '%.40s', not 'layers'", what,
				  type);
	ids = json_object_get(rootfs, "diff_ids");
	if (!ids)
		return lf_err_set(err, -EBADMSG, "%s: 'rootfs.diff_ids' is missing", what);
	if (!json_is_array(ids))
		return lf_err_set(err, -EBADMSG, "%s: 'rootfs.diff_ids' is not an array", what);
	c->n_diff_ids = json_array_size(ids);
	c->diff_ids = calloc(c->n_diff_ids ? c->n_diff_ids : 1, sizeof(*c->diff_ids));
	if (!c->diff_ids)
		return -ENOMEM;
	for (size_t i = 0; i < c->n_diff_ids; i++) {
		char sub[64];

		snprintf(sub, sizeof(sub), "%s: rootfs.diff_ids[%zu]", what, i);
		r = parse_digest(json_array_get(ids, i), sub, "diff_id", &c->diff_ids[i], err);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(c);
	return 0;
}

/* ---- docker save manifest.json ---- */

static void docker_image_clear(struct lf_docker_image *im)
{
	free(im->config);
	for (size_t i = 0; i < im->n_repo_tags; i++)
		free(im->repo_tags[i]);
	free(im->repo_tags);
	for (size_t i = 0; i < im->n_layers; i++)
		free(im->layers[i]);
	free(im->layers);
}

void lf_docker_manifest_free(struct lf_docker_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_images; i++)
		docker_image_clear(&m->images[i]);
	free(m->images);
	free(m);
}
DEFINE_FREEP(struct lf_docker_manifest, lf_docker_manifest_free)

/* A path inside an archive: relative, components that are plain names ("./" prefix allowed). */
static bool archive_path_is_valid(const char *p)
{
	while (p[0] == '.' && p[1] == '/')
		p += 2;
	if (!*p)
		return false;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);

		if (!lf_name_is_valid(p, n))
			return false;
		if (!slash)
			return true;
		p = slash + 1;
	}
}

static int string_array(json_t *arr, const char *what, const char *key, bool paths, char ***ret,
			size_t *ret_n, struct lf_err *err)
{
	size_t n = json_array_size(arr);
	char **v;

	if (!json_is_array(arr))
		return lf_err_set(err, -EBADMSG, "%s: '%s' is not an array", what, key);
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	*ret = v;
	*ret_n = 0;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(arr, i);

		if (!json_is_string(e))
			return lf_err_set(err, -EBADMSG, "%s: '%s[%zu]' is not a string", what, key,
					  i);
		if (paths && !archive_path_is_valid(json_string_value(e)))
			return lf_err_set(
				err, -EBADMSG,
				"%s: '%s[%zu]' ('%.80s') is not a path inside the archive", what,
				key, i, json_string_value(e));
		v[i] = strdup(json_string_value(e));
		if (!v[i])
			return -ENOMEM;
		(*ret_n)++;
	}
	return 0;
}

int lf_docker_manifest_parse(const char *buf, size_t len, struct lf_docker_manifest **ret,
			     struct lf_err *err)
{
	static const char what[] = "not a docker archive manifest";
	_cleanup_json_ json_t *root = NULL;
	_cleanup_(lf_docker_manifest_freep) struct lf_docker_manifest *m = NULL;
	size_t n;
	int r;

	r = load(buf, len, what, &root, err);
	if (r < 0)
		return r;
	if (!json_is_array(root))
		return lf_err_set(err, -EBADMSG, "%s: not a JSON array", what);
	n = json_array_size(root);
	if (n == 0)
		return lf_err_set(err, -EBADMSG, "%s: no images", what);
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->images = calloc(n, sizeof(*m->images));
	if (!m->images)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(root, i), *tags, *layers;
		struct lf_docker_image *im = &m->images[i];
		char sub[96];

		m->n_images++;
		snprintf(sub, sizeof(sub), "%s: [%zu]", what, i);
		if (!json_is_object(e))
			return lf_err_set(err, -EBADMSG, "%s is not an object", sub);
		r = dup_string(e, "Config", sub, true, &im->config, err);
		if (r < 0)
			return r;
		if (!archive_path_is_valid(im->config))
			return lf_err_set(err, -EBADMSG,
					  "%s: 'Config' ('%.80s') is not a path inside the archive",
					  sub, im->config);
		tags = json_object_get(e, "RepoTags");
		if (tags && !json_is_null(tags)) {
			r = string_array(tags, sub, "RepoTags", false, &im->repo_tags,
					 &im->n_repo_tags, err);
			if (r < 0)
				return r;
		}
		layers = json_object_get(e, "Layers");
		if (!layers)
			return lf_err_set(err, -EBADMSG, "%s: 'Layers' is missing", sub);
		r = string_array(layers, sub, "Layers", true, &im->layers, &im->n_layers, err);
		if (r < 0)
			return r;
	}
	*ret = TAKE_PTR(m);
	return 0;
}

int lf_oci_layout_check(const char *buf, size_t len, struct lf_err *err)
{
	static const char what[] = "not an OCI layout marker";
	_cleanup_json_ json_t *root = NULL;
	const char *v;
	int r;

	r = load(buf, len, what, &root, err);
	if (r < 0)
		return r;
	if (!json_is_object(root))
		return lf_err_set(err, -EBADMSG, "%s: not a JSON object", what);
	r = get_string(root, "imageLayoutVersion", what, &v, err);
	if (r == -ENOENT)
		return lf_err_set(err, -EBADMSG, "%s: 'imageLayoutVersion' is missing", what);
	if (r < 0)
		return r;
	if (strncmp(v, "1.", 2) != 0)
		return lf_err_set(err, -EOPNOTSUPP, "unsupported OCI layout version '%.20s'", v);
	return 0;
}

/* ---- platforms ---- */

void lf_oci_host_platform(const char **ret_arch, const char **ret_variant)
{
	static const struct {
		const char *machine, *arch, *variant;
	} map[] = {
		{ "x86_64", "amd64", NULL },	{ "amd64", "amd64", NULL },
		{ "aarch64", "arm64", "v8" },	{ "arm64", "arm64", "v8" },
		{ "armv7l", "arm", "v7" },	{ "armv8l", "arm", "v7" },
		{ "armv6l", "arm", "v6" },	{ "armv5tel", "arm", "v5" },
		{ "i386", "386", NULL },	{ "i486", "386", NULL },
		{ "i586", "386", NULL },	{ "i686", "386", NULL },
		{ "ppc64le", "ppc64le", NULL }, { "ppc64", "ppc64", NULL },
		{ "s390x", "s390x", NULL },	{ "riscv64", "riscv64", NULL },
		{ "mips64", "mips64", NULL },	{ "loongarch64", "loong64", NULL },
	};
	static struct utsname u;

	*ret_variant = NULL;
	if (uname(&u) == 0)
		for (size_t i = 0; i < ARRAY_SIZE(map); i++)
			if (strcmp(u.machine, map[i].machine) == 0) {
				*ret_arch = map[i].arch;
				*ret_variant = map[i].variant;
				return;
			}
#if defined(__x86_64__)
	*ret_arch = "amd64";
#elif defined(__aarch64__)
	*ret_arch = "arm64";
#else
	*ret_arch = u.machine[0] ? u.machine : "unknown";
#endif
}

bool lf_oci_platform_matches(const struct lf_oci_platform *p, const char *arch, const char *variant)
{
	if (!p->os || strcmp(p->os, "linux") != 0)
		return false;
	if (!p->architecture || strcmp(p->architecture, arch) != 0)
		return false;
	if (!p->variant || !variant)
		return true;
	return strcmp(p->variant, variant) == 0;
}

/* ---- documents we write ---- */

static json_t *descriptor_json(const struct lf_oci_descriptor *d)
{
	char dg[LF_DIGEST_STR_MAX];

	return json_pack("{s:s, s:s, s:I}", "mediaType", d->media_type, "digest",
			 lf_digest_format(&d->digest, dg), "size", (json_int_t)d->size);
}

static int dump(json_t *root, char **ret, size_t *ret_len)
{
	char *s = json_dumps(root, JSON_COMPACT);

	if (!s)
		return -ENOMEM;
	*ret = s;
	if (ret_len)
		*ret_len = strlen(s);
	return 0;
}

int lf_oci_manifest_build(const struct lf_oci_descriptor *config,
			  const struct lf_oci_descriptor *layers, size_t n_layers, char **ret,
			  size_t *ret_len)
{
	_cleanup_json_ json_t *root = NULL;
	json_t *arr = json_array();

	if (!arr)
		return -ENOMEM;
	for (size_t i = 0; i < n_layers; i++)
		if (json_array_append_new(arr, descriptor_json(&layers[i])) < 0) {
			json_decref(arr);
			return -ENOMEM;
		}
	root = json_pack("{s:i, s:s, s:o, s:o}", "schemaVersion", 2, "mediaType",
			 LF_MT_OCI_MANIFEST, "config", descriptor_json(config), "layers", arr);
	if (!root)
		return -ENOMEM;
	return dump(root, ret, ret_len);
}

int lf_oci_rootfs_config_build(const char *arch, const struct lf_digest *diff_id,
			       const char *created, const char *created_by, char **ret,
			       size_t *ret_len)
{
	char dg[LF_DIGEST_STR_MAX];
	_cleanup_json_ json_t *root = NULL;

	root = json_pack("{s:s, s:s, s:s, s:{s:[s]}, s:{s:s, s:[s]}, s:[{s:s, s:s}]}",
			 "architecture", arch, "os", "linux", "created", created, "config", "Env",
			 "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
			 "rootfs", "type", "layers", "diff_ids", lf_digest_format(diff_id, dg),
			 "history", "created", created, "created_by", created_by);
	if (!root)
		return -ENOMEM;
	return dump(root, ret, ret_len);
}
