/* Images of the store: resolving a name, loading manifest and config, listing, inspecting. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "layerfs/image.h"
#include "layerfs/layer.h"
#include "layerfs/macro.h"
#include "layerfs/oci.h"
#include "layerfs/store.h"
#include "layerfs/tree.h"
#include "layerfs/util.h"
#include "image-internal.h"

#define _cleanup_json_ _cleanup_(json_decrefp)

DEFINE_FREEP(struct lf_refs, lf_refs_free)
DEFINE_FREEP(struct lf_oci_manifest, lf_oci_manifest_free)
DEFINE_FREEP(struct lf_oci_config, lf_oci_config_free)
DEFINE_FREEP(struct lf_image, lf_image_free)

void lf_image_free(struct lf_image *img)
{
	if (!img)
		return;
	free(img->ref);
	free(img->diff_ids);
	free(img->config_json);
	free(img);
}

static int load_manifest(struct lf_store *s, const struct lf_digest *d,
			 struct lf_oci_manifest **ret, struct lf_err *err)
{
	char dg[LF_DIGEST_STR_MAX];
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	lf_digest_format(d, dg);
	r = lf_cas_read(s, LF_CAS_BLOB, d, LF_OCI_MANIFEST_MAX, &buf, &len);
	if (r == -ENOENT)
		return lf_err_set(err, r, "manifest %s is not in the store", dg);
	if (r == -EILSEQ)
		return lf_err_set(err, r, "manifest %s in the store is corrupt", dg);
	if (r < 0)
		return lf_err_set(err, r, "cannot read manifest %s: %s", dg, strerror(-r));
	r = lf_oci_manifest_parse(buf, len, ret, err);
	if (r < 0)
		return lf_err_prefix(err, r, "manifest %s", dg);
	return 0;
}

int lf_image_load(struct lf_store *s, const struct lf_digest *manifest, const char *ref,
		  struct lf_image **ret, struct lf_err *err)
{
	_cleanup_(lf_oci_manifest_freep) struct lf_oci_manifest *m = NULL;
	_cleanup_(lf_oci_config_freep) struct lf_oci_config *c = NULL;
	_cleanup_(lf_image_freep) struct lf_image *img = NULL;
	char dg[LF_DIGEST_STR_MAX];
	size_t len;
	int r;

	r = load_manifest(s, manifest, &m, err);
	if (r < 0)
		return r;
	img = calloc(1, sizeof(*img));
	if (!img)
		return -ENOMEM;
	img->manifest = *manifest;
	img->config = m->config.digest;
	lf_digest_format(&img->config, dg);
	r = lf_cas_read(s, LF_CAS_BLOB, &img->config, LF_OCI_CONFIG_MAX, &img->config_json, &len);
	if (r < 0)
		return lf_err_set(err, r, "config %s: %s", dg,
				  r == -EILSEQ ? "corrupt in the store" : strerror(-r));
	r = lf_oci_config_parse(img->config_json, len, &c, err);
	if (r < 0)
		return lf_err_prefix(err, r, "config %s", dg);
	if (c->n_diff_ids != m->n_layers)
		return lf_err_set(err, -EBADMSG, "config %s lists %zu diff_ids for %zu layers", dg,
				  c->n_diff_ids, m->n_layers);
	img->n_layers = c->n_diff_ids;
	img->diff_ids = TAKE_PTR(c->diff_ids);
	c->n_diff_ids = 0;
	lf_chain_id(img->diff_ids, img->n_layers, &img->chain_id);
	if (ref) {
		img->ref = strdup(ref);
		if (!img->ref)
			return -ENOMEM;
	}
	*ret = TAKE_PTR(img);
	return 0;
}

static bool is_hex(const char *s)
{
	for (; *s; s++)
		if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f')))
			return false;
	return true;
}

int lf_image_resolve(struct lf_store *s, const char *ref, struct lf_image **ret, struct lf_err *err)
{
	_cleanup_(lf_refs_freep) struct lf_refs *refs = NULL;
	_cleanup_free_ char *name = NULL;
	const struct lf_digest *match = NULL;
	size_t len = strlen(ref);
	struct lf_digest d;
	int r;

	r = lf_refs_load(s, &refs, err);
	if (r < 0)
		return r;
	if (strncmp(ref, "sha256:", 7) == 0) {
		if (lf_digest_parse(ref, &d) < 0)
			return lf_err_set(err, -EINVAL, "'%s' is not a valid digest", ref);
		if (!lf_cas_has(s, LF_CAS_BLOB, &d))
			return lf_err_set(err, -ENOENT, "no image '%s'", ref);
		return lf_image_load(s, &d, NULL, ret, err);
	}
	if (lf_ref_normalize(ref, &name) == 0) {
		const struct lf_ref *f = lf_refs_find(refs, name);
		if (f)
			return lf_image_load(s, &f->digest, f->name, ret, err);
	}
	/* An image id: a unique hex prefix of a manifest digest. */
	if (len >= 4 && len <= LF_DIGEST_HEX_LEN && is_hex(ref)) {
		for (size_t i = 0; i < refs->n; i++) {
			char hex[LF_DIGEST_HEX_LEN + 1];

			lf_digest_hex(&refs->refs[i].digest, hex);
			if (strncmp(hex, ref, len) != 0)
				continue;
			if (match && !lf_digest_eq(match, &refs->refs[i].digest))
				return lf_err_set(
					err, -EINVAL,
					"'%s' is ambiguous: it starts several image ids; give more of it",
					ref);
			match = &refs->refs[i].digest;
		}
		if (match)
			return lf_image_load(s, match, NULL, ret, err);
	}
	return lf_err_set(err, -ENOENT, "no image '%s' (see 'layerfs images')", ref);
}

/* ---- sizes ---- */

int lf_image_layer_size(struct lf_store *s, const struct lf_digest *diff_id, uint64_t *ret_bytes,
			uint64_t *ret_files)
{
	char hex[LF_DIGEST_HEX_LEN + 1], path[LF_DIGEST_HEX_LEN + 16];
	_cleanup_free_ char *buf = NULL;
	struct lf_tree *t;
	json_t *j;
	int r;

	snprintf(path, sizeof(path), "%s/info.json", lf_digest_hex(diff_id, hex));
	if (lf_read_file_at(s->layers_fd, path, 1 << 20, &buf, NULL) == 0 &&
	    (j = json_loads(buf, 0, NULL))) {
		json_t *size = json_object_get(j, "contentBytes"),
		       *files = json_object_get(j, "files");
		bool ok = json_is_integer(size) && json_is_integer(files) &&
			  json_integer_value(size) >= 0 && json_integer_value(files) >= 0;

		if (ok) {
			*ret_bytes = json_integer_value(size);
			*ret_files = json_integer_value(files);
		}
		json_decref(j);
		if (ok)
			return 0;
	}
	r = lf_layer_open_tree(s, diff_id, &t);
	if (r < 0)
		return r;
	*ret_bytes = lf_tree_content_bytes(t);
	*ret_files = lf_tree_n_inodes(t) ? lf_tree_n_inodes(t) - 1 : 0;
	lf_tree_unref(t);
	return 0;
}

/* ---- listing ---- */

void lf_image_summaries_free(struct lf_image_summary *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].ref);
		free(v[i].created);
	}
	free(v);
}

static char *config_created(const char *config_json)
{
	_cleanup_json_ json_t *j = json_loads(config_json, 0, NULL);
	const char *c = json_string_value(json_object_get(j, "created"));

	return c ? strdup(c) : NULL;
}

int lf_image_list(struct lf_store *s, struct lf_image_summary **ret, size_t *ret_n,
		  struct lf_err *err)
{
	_cleanup_(lf_refs_freep) struct lf_refs *refs = NULL;
	struct lf_image_summary *v;
	int r;

	r = lf_refs_load(s, &refs, err);
	if (r < 0)
		return r;
	v = calloc(refs->n + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < refs->n; i++) {
		_cleanup_(lf_image_freep) struct lf_image *img = NULL;

		r = lf_image_load(s, &refs->refs[i].digest, refs->refs[i].name, &img, err);
		if (r < 0) {
			lf_image_summaries_free(v, i);
			return lf_err_prefix(err, r, "image '%s'", refs->refs[i].name);
		}
		v[i].ref = TAKE_PTR(img->ref);
		v[i].manifest = img->manifest;
		v[i].n_layers = img->n_layers;
		v[i].created = config_created(img->config_json);
		for (size_t k = 0; k < img->n_layers; k++) {
			uint64_t bytes = 0, files = 0;
			if (lf_image_layer_size(s, &img->diff_ids[k], &bytes, &files) == 0)
				v[i].size += bytes;
		}
	}
	*ret = v;
	*ret_n = refs->n;
	return 0;
}

/* ---- inspect ---- */

static json_t *digest_json(const struct lf_digest *d)
{
	char dg[LF_DIGEST_STR_MAX];

	return json_string(lf_digest_format(d, dg));
}

int lf_image_inspect(struct lf_store *s, const struct lf_image *img, char **ret, struct lf_err *err)
{
	_cleanup_(lf_oci_manifest_freep) struct lf_oci_manifest *m = NULL;
	_cleanup_(lf_refs_freep) struct lf_refs *refs = NULL;
	_cleanup_json_ json_t *doc = NULL;
	json_t *names, *layers, *config;
	uint64_t total = 0;
	char *out;
	int r;

	r = load_manifest(s, &img->manifest, &m, err);
	if (r < 0)
		return r;
	r = lf_refs_load(s, &refs, err);
	if (r < 0)
		return r;
	config = json_loads(img->config_json, JSON_REJECT_DUPLICATES, NULL);
	if (!config)
		return lf_err_set(err, -EBADMSG, "the image config is not JSON");
	names = json_array();
	layers = json_array();
	doc = json_object();
	if (!names || !layers || !doc) {
		json_decref(config);
		json_decref(names);
		json_decref(layers);
		return -ENOMEM;
	}
	for (size_t i = 0; i < refs->n; i++)
		if (lf_digest_eq(&refs->refs[i].digest, &img->manifest))
			json_array_append_new(names, json_string(refs->refs[i].name));
	for (size_t i = 0; i < img->n_layers; i++) {
		uint64_t bytes = 0, files = 0;
		bool known = lf_image_layer_size(s, &img->diff_ids[i], &bytes, &files) == 0;
		json_t *l = json_object();

		json_object_set_new(l, "diffId", digest_json(&img->diff_ids[i]));
		json_object_set_new(l, "blobDigest", digest_json(&m->layers[i].digest));
		json_object_set_new(l, "blobSize", json_integer(m->layers[i].size));
		json_object_set_new(l, "mediaType", json_string(m->layers[i].media_type));
		json_object_set_new(l, "size", known ? json_integer(bytes) : json_null());
		json_object_set_new(l, "files", known ? json_integer(files) : json_null());
		json_array_append_new(layers, l);
		total += bytes;
	}
	json_object_set_new(doc, "ref", img->ref ? json_string(img->ref) : json_null());
	json_object_set_new(doc, "names", names);
	json_object_set_new(doc, "manifestDigest", digest_json(&img->manifest));
	json_object_set_new(doc, "manifestMediaType",
			    json_string(m->media_type ? m->media_type : LF_MT_OCI_MANIFEST));
	json_object_set_new(doc, "configDigest", digest_json(&img->config));
	json_object_set_new(doc, "chainId", digest_json(&img->chain_id));
	json_object_set_new(doc, "size", json_integer(total));
	json_object_set_new(doc, "layers", layers);
	json_object_set_new(doc, "config", config);
	out = json_dumps(doc, JSON_INDENT(2));
	if (!out)
		return -ENOMEM;
	*ret = out;
	return 0;
}

int lf_image_tag(struct lf_store *s, const struct lf_image *img, const char *name,
		 struct lf_err *err)
{
	_cleanup_(lf_oci_manifest_freep) struct lf_oci_manifest *m = NULL;
	_cleanup_free_ char *n = NULL;
	uint64_t size;
	int r;

	r = lf_ref_normalize(name, &n);
	if (r == -EINVAL)
		return lf_err_set(err, r, "'%s' is not a valid image name (NAME[:TAG], lowercase)",
				  name);
	if (r < 0)
		return r;
	r = load_manifest(s, &img->manifest, &m, err);
	if (r < 0)
		return r;
	r = lf_cas_size(s, LF_CAS_BLOB, &img->manifest, &size);
	if (r < 0)
		return lf_err_set(err, r, "cannot stat the manifest: %s", strerror(-r));
	return lf_refs_set(s, n, m->media_type ? m->media_type : LF_MT_OCI_MANIFEST, &img->manifest,
			   size, err);
}
