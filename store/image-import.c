/*
 * Importing an image: detect what SOURCE is from its content, plan (read and verify every
 * document, choose the image and platform), import the layers, store manifest and config,
 * build the merged tree, then publish the refs. A failure at any step frees what this import
 * created, so the store is left as it was.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "layerfs/image.h"
#include "layerfs/layer.h"
#include "layerfs/macro.h"
#include "layerfs/oci.h"
#include "layerfs/store.h"
#include "layerfs/tree.h"
#include "layerfs/util.h"
#include "image-internal.h"
#include "image-source.h"

#define MAX_NESTING 4
#define BLOB_PREFIX "blobs/sha256/"

DEFINE_FREEP(struct lf_imgsrc, lf_imgsrc_free)
DEFINE_FREEP(struct lf_oci_index, lf_oci_index_free)
DEFINE_FREEP(struct lf_oci_manifest, lf_oci_manifest_free)
DEFINE_FREEP(struct lf_docker_manifest, lf_docker_manifest_free)

struct layer_job {
	char *path; /* inside the source; NULL for a rootfs layer */
	bool has_blob_digest;
	struct lf_digest blob_digest;
	int64_t blob_size; /* -1 while unknown */
	bool verify; /* the layer is present but came from another blob: hash this one */
	struct lf_digest diff_id;
	const char *media_type; /* static or owned by the manifest that lists it */
	char *media_type_owned;
};

struct plan {
	struct lf_store *store;
	struct lf_imgsrc *src;
	const char *label; /* SOURCE as given */
	const char *cli_ref; /* normalized NAME:TAG from the command line, or NULL */

	char *manifest;
	size_t manifest_len;
	struct lf_digest manifest_digest;
	char *manifest_media_type;
	bool synthesize; /* docker legacy: the manifest is written once layer sizes are known */

	char *config;
	size_t config_len;
	struct lf_digest config_digest;
	struct lf_oci_config *cfg;

	size_t n_layers;
	struct layer_job *layers;

	size_t n_names;
	char **names;
};

static void plan_clear(struct plan *p)
{
	free(p->manifest);
	free(p->manifest_media_type);
	free(p->config);
	lf_oci_config_free(p->cfg);
	for (size_t i = 0; i < p->n_layers; i++) {
		free(p->layers[i].path);
		free(p->layers[i].media_type_owned);
	}
	free(p->layers);
	for (size_t i = 0; i < p->n_names; i++)
		free(p->names[i]);
	free(p->names);
}

/* Forgets what a failed attempt planned, keeping what the plan was made for. */
static void plan_reset(struct plan *p)
{
	struct plan keep = {
		.store = p->store, .src = p->src, .label = p->label, .cli_ref = p->cli_ref
	};

	plan_clear(p);
	*p = keep;
}

static void blob_path(const struct lf_digest *d, char out[sizeof(BLOB_PREFIX) + 64])
{
	memcpy(out, BLOB_PREFIX, sizeof(BLOB_PREFIX) - 1);
	lf_digest_hex(d, out + sizeof(BLOB_PREFIX) - 1);
}

/* "blobs/sha256/<hex>" (optionally after "./") names its own digest. */
static bool path_digest(const char *path, struct lf_digest *ret)
{
	while (path[0] == '.' && path[1] == '/')
		path += 2;
	if (strncmp(path, BLOB_PREFIX, sizeof(BLOB_PREFIX) - 1) != 0)
		return false;
	path += sizeof(BLOB_PREFIX) - 1;
	return strlen(path) == LF_DIGEST_HEX_LEN && lf_digest_parse_hex(path, 64, ret) == 0;
}

static int add_name(struct plan *p, const char *name)
{
	char **v;

	for (size_t i = 0; i < p->n_names; i++)
		if (strcmp(p->names[i], name) == 0)
			return 0;
	v = reallocarray(p->names, p->n_names + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	p->names = v;
	v[p->n_names] = strdup(name);
	if (!v[p->n_names])
		return -ENOMEM;
	p->n_names++;
	return 0;
}

static int add_normalized_name(struct plan *p, const char *name, struct lf_err *err)
{
	_cleanup_free_ char *n = NULL;
	int r = lf_ref_normalize(name, &n);

	if (r == -EINVAL)
		return lf_err_set(
			err, -EBADMSG,
			"'%s': image name '%.200s' is not a valid reference; name it: layerfs import SOURCE NAME:TAG",
			p->label, name);
	if (r < 0)
		return r;
	return add_name(p, n);
}

/* "docker.io/library/busybox:1" -> "busybox:1", "docker.io/x/y:1" -> "x/y:1". */
static const char *familiar_name(const char *name)
{
	if (strncmp(name, "docker.io/library/", 18) == 0)
		return name + 18;
	if (strncmp(name, "docker.io/", 10) == 0)
		return name + 10;
	return name;
}

/* The source's file name without directories and archive extensions, as a valid name. */
static char *basename_name(const char *source)
{
	static const char *const exts[] = { ".tar",  ".tgz", ".gz",  ".zst",
					    ".tzst", ".xz",  ".oci", ".docker" };
	_cleanup_free_ char *b = strdup(source);
	char *base, *out, *check = NULL;
	size_t n;
	bool again = true;

	if (!b)
		return NULL;
	for (n = strlen(b); n > 1 && b[n - 1] == '/'; n--)
		b[n - 1] = 0;
	base = strrchr(b, '/') ? strrchr(b, '/') + 1 : b;
	while (again) {
		again = false;
		for (size_t i = 0; i < ARRAY_SIZE(exts); i++) {
			size_t l = strlen(base), e = strlen(exts[i]);
			if (l > e && strcasecmp(base + l - e, exts[i]) == 0) {
				base[l - e] = 0;
				again = true;
			}
		}
	}
	out = malloc(strlen(base) + 8);
	if (!out)
		return NULL;
	n = 0;
	for (const char *c = base; *c; c++) {
		char ch = *c >= 'A' && *c <= 'Z' ? *c - 'A' + 'a' : *c;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		bool sep = ch == '.' || ch == '_' || ch == '-';

		if (ok)
			out[n++] = ch;
		else if (n > 0 && out[n - 1] != '-' && (sep || true))
			out[n++] = '-';
	}
	while (n > 0 && out[n - 1] == '-')
		n--;
	out[n] = 0;
	if (n == 0 || lf_ref_normalize(out, &check) < 0)
		strcpy(out, "image");
	free(check);
	return out;
}

static int add_basename_tag(struct plan *p, const char *tag, struct lf_err *err)
{
	_cleanup_free_ char *base = basename_name(p->label), *name = NULL;

	if (!base)
		return -ENOMEM;
	name = lf_strdup_printf("%s:%s", base, tag);
	if (!name)
		return -ENOMEM;
	return add_normalized_name(p, name, err);
}

/* ---- reading verified documents ---- */

static int read_blob(struct plan *p, const struct lf_oci_descriptor *d, const char *what,
		     size_t max, char **ret, size_t *ret_len, struct lf_err *err)
{
	char path[sizeof(BLOB_PREFIX) + 64];
	_cleanup_free_ char *buf = NULL;
	struct lf_digest got;
	size_t len;
	int r;

	blob_path(&d->digest, path);
	if (!lf_imgsrc_exists(p->src, path))
		return lf_err_set(err, -ENOENT, "'%s': %s (%s) is missing", p->label, path, what);
	if (d->size > max)
		return lf_err_set(err, -EFBIG, "'%s': %s: the %s is too large (%llu bytes)",
				  p->label, path, what, (unsigned long long)d->size);
	r = lf_imgsrc_read(p->src, path, max, &buf, &len, err);
	if (r < 0)
		return r;
	if (len != d->size)
		return lf_err_set(err, -EILSEQ,
				  "'%s': %s: the %s has %zu bytes, but its descriptor says %llu",
				  p->label, path, what, len, (unsigned long long)d->size);
	lf_sha256_buf(buf, len, &got);
	if (!lf_digest_eq(&got, &d->digest))
		return lf_err_set(err, -EILSEQ, "'%s': %s: the %s does not match its digest",
				  p->label, path, what);
	*ret = TAKE_PTR(buf);
	*ret_len = len;
	return 0;
}

static int take_config(struct plan *p, char *buf, size_t len, const struct lf_digest *digest,
		       const char *path, size_t n_layers, struct lf_err *err)
{
	int r;

	p->config = buf;
	p->config_len = len;
	p->config_digest = *digest;
	r = lf_oci_config_parse(buf, len, &p->cfg, err);
	if (r < 0)
		return lf_err_prefix(err, r, "'%s': %s", p->label, path);
	if (p->cfg->n_diff_ids != n_layers)
		return lf_err_set(
			err, -EBADMSG,
			"'%s': %s: the config lists %zu diff_ids but the image has %zu layers",
			p->label, path, p->cfg->n_diff_ids, n_layers);
	p->n_layers = n_layers;
	p->layers = calloc(n_layers ? n_layers : 1, sizeof(*p->layers));
	if (!p->layers)
		return -ENOMEM;
	for (size_t i = 0; i < n_layers; i++) {
		p->layers[i].diff_id = p->cfg->diff_ids[i];
		p->layers[i].blob_size = -1;
	}
	return 0;
}

/* ---- OCI layouts (and the OCI side of docker 25+ and containerd archives) ---- */

static int resolve_descriptor(struct plan *p, const struct lf_oci_descriptor *d, int depth,
			      struct lf_err *err);

static int resolve_manifest(struct plan *p, const struct lf_oci_descriptor *d, char *buf,
			    size_t len, struct lf_err *err)
{
	_cleanup_(lf_oci_manifest_freep) struct lf_oci_manifest *m = NULL;
	char path[sizeof(BLOB_PREFIX) + 64], cpath[sizeof(BLOB_PREFIX) + 64];
	char *cbuf;
	size_t clen;
	int r;

	blob_path(&d->digest, path);
	r = lf_oci_manifest_parse(buf, len, &m, err);
	if (r < 0) {
		free(buf);
		return lf_err_prefix(err, r, "'%s': %s", p->label, path);
	}
	p->manifest = buf;
	p->manifest_len = len;
	p->manifest_digest = d->digest;
	p->manifest_media_type = strdup(m->media_type ? m->media_type : d->media_type);
	if (!p->manifest_media_type)
		return -ENOMEM;
	if (lf_oci_media_kind(m->config.media_type) != LF_MT_CONFIG)
		return lf_err_set(err, -EOPNOTSUPP,
				  "'%s': %s: config media type '%.100s' is not an image config",
				  p->label, path, m->config.media_type);
	/* A platform of a containerd export may come without its blobs: -ENOENT skips it. */
	for (size_t i = 0; i < m->n_layers; i++) {
		char lpath[sizeof(BLOB_PREFIX) + 64];

		blob_path(&m->layers[i].digest, lpath);
		_cleanup_close_ int fd = -1;

		if (lf_imgsrc_exists(p->src, lpath))
			continue;
		/* There but unusable (a symlink out of the layout, not a file): say why. */
		r = lf_imgsrc_open(p->src, lpath, &fd, err);
		if (r != -ENOENT)
			return r < 0 ? r
				     : lf_err_set(err, -EIO, "'%s': cannot open %s", p->label,
						  lpath);
		if (lf_oci_media_kind(m->layers[i].media_type) == LF_MT_LAYER_FOREIGN)
			return lf_err_set(err, -EOPNOTSUPP,
					  "'%s': %s: foreign layer %s is not in the archive",
					  p->label, path, lpath);
		return lf_err_set(err, -ENOENT, "'%s': layer %s is missing", p->label, lpath);
	}
	r = read_blob(p, &m->config, "config", LF_OCI_CONFIG_MAX, &cbuf, &clen, err);
	if (r < 0)
		return r;
	blob_path(&m->config.digest, cpath);
	r = take_config(p, cbuf, clen, &m->config.digest, cpath, m->n_layers, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < m->n_layers; i++) {
		struct layer_job *j = &p->layers[i];
		char lpath[sizeof(BLOB_PREFIX) + 64];

		blob_path(&m->layers[i].digest, lpath);
		j->path = strdup(lpath);
		j->media_type_owned = strdup(m->layers[i].media_type);
		if (!j->path || !j->media_type_owned)
			return -ENOMEM;
		j->media_type = j->media_type_owned;
		j->has_blob_digest = true;
		j->blob_digest = m->layers[i].digest;
		j->blob_size = m->layers[i].size;
	}
	return 0;
}

static void append_platform(char *buf, size_t size, const struct lf_oci_descriptor *d,
			    const char *note)
{
	size_t n = strlen(buf);

	if (n + 1 >= size)
		return;
	if (d->has_platform)
		snprintf(buf + n, size - n, "%s%s/%s%s%s%s", n ? ", " : "", d->platform.os,
			 d->platform.architecture, d->platform.variant ? "/" : "",
			 d->platform.variant ? d->platform.variant : "", note);
	else
		snprintf(buf + n, size - n, "%s(no platform)%s", n ? ", " : "", note);
}

/* Picks, in a (nested) index, the manifest for linux on this machine whose blobs are present. */
static int resolve_index(struct plan *p, const struct lf_oci_descriptor *d,
			 const struct lf_oci_index *idx, int depth, struct lf_err *err)
{
	const char *arch, *variant;
	char path[sizeof(BLOB_PREFIX) + 64], seen[512] = "";

	lf_oci_host_platform(&arch, &variant);
	blob_path(&d->digest, path);
	/* First the entries made for this platform, then those that name none. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < idx->n_manifests; i++) {
			const struct lf_oci_descriptor *e = &idx->manifests[i];
			enum lf_mt_kind k = lf_oci_media_kind(e->media_type);
			struct lf_err e2 = {};
			int r;

			if (k != LF_MT_MANIFEST && k != LF_MT_INDEX)
				continue; /* attestations, signatures, artifacts */
			if (pass == 0 && !(e->has_platform &&
					   lf_oci_platform_matches(&e->platform, arch, variant))) {
				if (e->has_platform)
					append_platform(seen, sizeof(seen), e, "");
				continue;
			}
			if (pass == 1 && e->has_platform)
				continue;
			r = resolve_descriptor(p, e, depth + 1, &e2);
			if (r == 0)
				return 0;
			if (r != -ENOENT) {
				if (err)
					*err = e2;
				return r;
			}
			/* Absent blobs: forget what the attempt planned and try the next one. */
			plan_reset(p);
			append_platform(seen, sizeof(seen), e, " (blobs absent)");
		}
	}
	return lf_err_set(
		err, -ENOENT,
		"'%s': %s: no image for linux/%s%s%s whose blobs are present (index has: %s)",
		p->label, depth == 0 ? "index.json" : path, arch, variant ? "/" : "",
		variant ? variant : "", seen[0] ? seen : "nothing");
}

static int resolve_descriptor(struct plan *p, const struct lf_oci_descriptor *d, int depth,
			      struct lf_err *err)
{
	char path[sizeof(BLOB_PREFIX) + 64];
	enum lf_mt_kind k = lf_oci_media_kind(d->media_type);
	char *buf;
	size_t len;
	int r;

	blob_path(&d->digest, path);
	if (depth > MAX_NESTING)
		return lf_err_set(err, -EBADMSG, "'%s': %s: indexes nested too deep", p->label,
				  path);
	if (k == LF_MT_INDEX) {
		_cleanup_(lf_oci_index_freep) struct lf_oci_index *idx = NULL;
		_cleanup_free_ char *ibuf = NULL;

		r = read_blob(p, d, "index", LF_OCI_MANIFEST_MAX, &ibuf, &len, err);
		if (r < 0)
			return r;
		r = lf_oci_index_parse(ibuf, len, &idx, err);
		if (r < 0)
			return lf_err_prefix(err, r, "'%s': %s", p->label, path);
		return resolve_index(p, d, idx, depth, err);
	}
	if (k != LF_MT_MANIFEST)
		return lf_err_set(err, -EOPNOTSUPP, "'%s': %s: media type '%.100s' is not an image",
				  p->label, path, d->media_type);
	r = read_blob(p, d, "manifest", LF_OCI_MANIFEST_MAX, &buf, &len, err);
	if (r < 0)
		return r;
	return resolve_manifest(p, d, buf, len, err);
}

static const char *entry_display(const struct lf_oci_descriptor *d)
{
	if (d->ref_name)
		return d->ref_name;
	if (d->image_name)
		return d->image_name;
	return "(unnamed)";
}

static bool entry_matches(const struct lf_oci_descriptor *d, const char *ref)
{
	const char *tag = lf_ref_tag(ref);
	_cleanup_free_ char *n = NULL;

	if (d->ref_name &&
	    (strcmp(d->ref_name, ref) == 0 || (tag && strcmp(d->ref_name, tag) == 0)))
		return true;
	if (d->ref_name && lf_ref_normalize(d->ref_name, &n) == 0 && strcmp(n, ref) == 0)
		return true;
	if (d->image_name &&
	    (strcmp(d->image_name, ref) == 0 || strcmp(familiar_name(d->image_name), ref) == 0))
		return true;
	return false;
}

/* How many different manifests the selected entries (sel[i] true) point at. */
static size_t distinct(const struct lf_oci_index *idx, const bool *sel, size_t *ret_first)
{
	size_t n = 0;

	for (size_t i = 0; i < idx->n_manifests; i++) {
		bool dup = false;
		if (!sel[i])
			continue;
		for (size_t j = 0; j < i && !dup; j++)
			dup = sel[j] &&
			      lf_digest_eq(&idx->manifests[i].digest, &idx->manifests[j].digest);
		if (!dup && n++ == 0)
			*ret_first = i;
	}
	return n;
}

static int names_from_index(struct plan *p, const struct lf_oci_index *idx, size_t chosen,
			    const struct lf_docker_manifest *dm, struct lf_err *err)
{
	const struct lf_digest *dg = &idx->manifests[chosen].digest;
	int r;

	if (p->cli_ref)
		return add_name(p, p->cli_ref);
	/* docker's own names first: its manifest.json entry for the same config. */
	for (size_t i = 0; dm && i < dm->n_images; i++) {
		struct lf_digest c;
		if (!path_digest(dm->images[i].config, &c) || !lf_digest_eq(&c, &p->config_digest))
			continue;
		for (size_t t = 0; t < dm->images[i].n_repo_tags; t++) {
			r = add_normalized_name(p, dm->images[i].repo_tags[t], err);
			if (r < 0)
				return r;
		}
	}
	for (size_t i = 0; p->n_names == 0 && i < idx->n_manifests; i++) {
		const struct lf_oci_descriptor *e = &idx->manifests[i];
		if (!lf_digest_eq(&e->digest, dg))
			continue;
		if (e->image_name)
			r = add_normalized_name(p, familiar_name(e->image_name), err);
		else if (e->ref_name && (strchr(e->ref_name, '/') || strchr(e->ref_name, ':')))
			r = add_normalized_name(p, e->ref_name, err);
		else if (e->ref_name)
			r = add_basename_tag(p, e->ref_name, err);
		else
			r = 0;
		if (r < 0)
			return r;
	}
	if (p->n_names == 0)
		return add_basename_tag(p, "latest", err);
	return 0;
}

static int plan_oci(struct plan *p, const struct lf_docker_manifest *dm, struct lf_err *err)
{
	_cleanup_(lf_oci_index_freep) struct lf_oci_index *idx = NULL;
	_cleanup_free_ char *buf = NULL;
	_cleanup_free_ bool *sel = NULL;
	size_t len, first = 0, n;
	int r;

	if (lf_imgsrc_exists(p->src, "oci-layout")) {
		r = lf_imgsrc_read(p->src, "oci-layout", 4096, &buf, &len, err);
		if (r < 0)
			return r;
		r = lf_oci_layout_check(buf, len, err);
		if (r < 0)
			return lf_err_prefix(err, r, "'%s': oci-layout", p->label);
		free(TAKE_PTR(buf));
	}
	r = lf_imgsrc_read(p->src, "index.json", LF_OCI_MANIFEST_MAX, &buf, &len, err);
	if (r < 0)
		return r;
	r = lf_oci_index_parse(buf, len, &idx, err);
	if (r < 0)
		return lf_err_prefix(err, r, "'%s': index.json", p->label);

	sel = calloc(idx->n_manifests + 1, sizeof(*sel));
	if (!sel)
		return -ENOMEM;
	for (size_t i = 0; i < idx->n_manifests; i++) {
		enum lf_mt_kind k = lf_oci_media_kind(idx->manifests[i].media_type);
		sel[i] = k == LF_MT_MANIFEST || k == LF_MT_INDEX;
	}
	if (p->cli_ref) {
		bool any = false;
		for (size_t i = 0; i < idx->n_manifests; i++)
			any |= sel[i] && entry_matches(&idx->manifests[i], p->cli_ref);
		for (size_t i = 0; any && i < idx->n_manifests; i++)
			sel[i] = sel[i] && entry_matches(&idx->manifests[i], p->cli_ref);
	}
	n = distinct(idx, sel, &first);
	if (n > 1) {
		/* Several images: the ones for another platform are not candidates. */
		const char *arch, *variant;
		lf_oci_host_platform(&arch, &variant);
		for (size_t i = 0; i < idx->n_manifests; i++)
			if (sel[i] && idx->manifests[i].has_platform &&
			    !lf_oci_platform_matches(&idx->manifests[i].platform, arch, variant))
				sel[i] = false;
		n = distinct(idx, sel, &first);
	}
	if (n == 0)
		return lf_err_set(err, -ENOENT, "'%s': index.json lists no image", p->label);
	if (n > 1) {
		char names[512] = "";
		for (size_t i = 0; i < idx->n_manifests; i++) {
			size_t l = strlen(names);
			if (sel[i] && l + 2 < sizeof(names))
				snprintf(names + l, sizeof(names) - l, "%s'%s'", l ? ", " : "",
					 entry_display(&idx->manifests[i]));
		}
		return lf_err_set(
			err, -EINVAL,
			"'%s': holds several images (%s); choose one: layerfs import SOURCE NAME:TAG",
			p->label, names);
	}
	r = resolve_descriptor(p, &idx->manifests[first], 0, err);
	if (r < 0)
		return r;
	return names_from_index(p, idx, first, dm, err);
}

/* ---- docker save archives without an OCI index (legacy) ---- */

static int plan_docker(struct plan *p, const struct lf_docker_manifest *dm, struct lf_err *err)
{
	const struct lf_docker_image *im = NULL;
	struct lf_digest got, want;
	const char *base;
	char *buf;
	size_t len;
	int r;

	if (dm->n_images == 1)
		im = &dm->images[0];
	for (size_t i = 0; !im && p->cli_ref && i < dm->n_images; i++)
		for (size_t t = 0; t < dm->images[i].n_repo_tags; t++) {
			_cleanup_free_ char *n = NULL;
			if (lf_ref_normalize(dm->images[i].repo_tags[t], &n) == 0 &&
			    strcmp(n, p->cli_ref) == 0)
				im = &dm->images[i];
		}
	if (!im) {
		char names[512] = "";
		for (size_t i = 0; i < dm->n_images; i++) {
			size_t l = strlen(names);
			const char *t = dm->images[i].n_repo_tags ? dm->images[i].repo_tags[0]
								  : "(untagged)";
			if (l + 2 < sizeof(names))
				snprintf(names + l, sizeof(names) - l, "%s'%s'", l ? ", " : "", t);
		}
		return lf_err_set(
			err, -EINVAL,
			"'%s': holds several images (%s); choose one: layerfs import SOURCE NAME:TAG",
			p->label, names);
	}

	r = lf_imgsrc_read(p->src, im->config, LF_OCI_CONFIG_MAX, &buf, &len, err);
	if (r < 0)
		return r;
	lf_sha256_buf(buf, len, &got);
	/* The config's name is its digest: "<hex>.json" (legacy) or blobs/sha256/<hex>. */
	base = strrchr(im->config, '/') ? strrchr(im->config, '/') + 1 : im->config;
	if ((path_digest(im->config, &want) ||
	     (strlen(base) == 69 && strcmp(base + 64, ".json") == 0 &&
	      lf_digest_parse_hex(base, 64, &want) == 0)) &&
	    !lf_digest_eq(&got, &want)) {
		free(buf);
		return lf_err_set(err, -EILSEQ, "'%s': %s: the config does not match its digest",
				  p->label, im->config);
	}
	r = take_config(p, buf, len, &got, im->config, im->n_layers, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < im->n_layers; i++) {
		struct layer_job *j = &p->layers[i];

		j->path = strdup(im->layers[i]);
		if (!j->path)
			return -ENOMEM;
		j->has_blob_digest = path_digest(im->layers[i], &j->blob_digest);
	}
	p->synthesize = true;
	if (p->cli_ref)
		return add_name(p, p->cli_ref);
	for (size_t t = 0; t < im->n_repo_tags; t++) {
		r = add_normalized_name(p, im->repo_tags[t], err);
		if (r < 0)
			return r;
	}
	if (p->n_names == 0)
		return add_basename_tag(p, "latest", err);
	return 0;
}

static int plan_archive(struct plan *p, struct lf_err *err)
{
	_cleanup_(lf_docker_manifest_freep) struct lf_docker_manifest *dm = NULL;
	bool has_index = lf_imgsrc_exists(p->src, "index.json");
	int r;

	if (lf_imgsrc_exists(p->src, "manifest.json")) {
		_cleanup_free_ char *buf = NULL;
		size_t len;

		r = lf_imgsrc_read(p->src, "manifest.json", LF_OCI_MANIFEST_MAX, &buf, &len, err);
		if (r < 0)
			return r;
		r = lf_docker_manifest_parse(buf, len, &dm, err);
		if (r < 0)
			return lf_err_prefix(err, r, "'%s': manifest.json", p->label);
	}
	if (has_index)
		return plan_oci(p, dm, err);
	if (dm)
		return plan_docker(p, dm, err);
	return lf_err_set(
		err, -EMEDIUMTYPE,
		"'%s': no index.json or manifest.json: not an OCI layout or docker archive (for a plain root filesystem use --rootfs)",
		p->label);
}

/* ---- before anything is written: every layer present, sizes as described ---- */

static const char *layer_media_type(int fd)
{
	uint8_t magic[4] = {};

	if (lf_pread_full(fd, magic, sizeof(magic), 0) == (ssize_t)sizeof(magic)) {
		if (magic[0] == 0x1f && magic[1] == 0x8b)
			return LF_MT_OCI_LAYER_GZIP;
		if (magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
			return LF_MT_OCI_LAYER_ZSTD;
	}
	return LF_MT_OCI_LAYER;
}

static int prepare_layers(struct plan *p, bool *exists, struct lf_err *err)
{
	_cleanup_free_ char **paths = calloc(p->n_layers + 1, sizeof(char *));
	size_t n = 0;
	int r;

	if (!paths)
		return -ENOMEM;
	/* Layers the store has are not extracted or read: that makes a re-import fast. */
	for (size_t i = 0; i < p->n_layers; i++) {
		struct layer_job *j = &p->layers[i];

		exists[i] = lf_layer_exists(p->store, &j->diff_id);
		j->verify = exists[i] && j->has_blob_digest &&
			    !lf_layer_has_blob(p->store, &j->diff_id, &j->blob_digest);
		if (!exists[i] || j->verify)
			paths[n++] = j->path;
	}
	r = lf_imgsrc_fetch(p->src, paths, n, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < p->n_layers; i++) {
		struct layer_job *j = &p->layers[i];
		_cleanup_close_ int fd = -1;
		uint64_t size;

		r = lf_imgsrc_size(p->src, j->path, &size, err);
		if (r < 0)
			return r;
		if (j->blob_size >= 0 && size != (uint64_t)j->blob_size)
			return lf_err_set(
				err, -EILSEQ,
				"'%s': %s: the layer has %llu bytes, but the manifest says %lld",
				p->label, j->path, (unsigned long long)size,
				(long long)j->blob_size);
		j->blob_size = size;
		if (!p->synthesize || j->has_blob_digest) {
			if (!j->media_type)
				j->media_type = LF_MT_OCI_LAYER;
			continue;
		}
		/*
		 * docker legacy layer.tar, described in the manifest we write. docker writes
		 * them uncompressed, so a tar is its own DiffID; one that is compressed after
		 * all is hashed (when it is new: a present layer is not read again).
		 */
		j->media_type = LF_MT_OCI_LAYER;
		j->blob_digest = j->diff_id;
		if (exists[i])
			continue;
		r = lf_imgsrc_open(p->src, j->path, &fd, err);
		if (r < 0)
			return r;
		j->media_type = layer_media_type(fd);
		if (strcmp(j->media_type, LF_MT_OCI_LAYER) != 0) {
			r = lf_sha256_fd(fd, &j->blob_digest, NULL);
			if (r < 0)
				return lf_err_set(err, r, "'%s': %s: %s", p->label, j->path,
						  strerror(-r));
		}
		j->has_blob_digest = true;
	}
	return 0;
}

/* ---- writing: layers, documents, merged tree, refs ---- */

/* What this import created, freed again if it fails. */
struct undo {
	struct lf_digest *layers;
	size_t n_layers;
	struct lf_digest blobs[2];
	size_t n_blobs;
	struct lf_digest merged;
	bool has_merged;
	bool objects;
};

static void undo_run(struct lf_store *s, struct undo *u)
{
	struct lf_gc_candidates c = {
		.layers = u->layers,
		.n_layers = u->n_layers,
		.blobs = u->blobs,
		.n_blobs = u->n_blobs,
		.merged = &u->merged,
		.n_merged = u->has_merged,
		.objects = u->objects,
	};

	if (!u->n_layers && !u->n_blobs && !u->has_merged && !u->objects)
		return;
	/*
	 * Exclusive, so no other import is between publishing a layer and its ref: whatever no
	 * ref and no container references now is ours alone to free.
	 */
	if (lf_store_lock(s, LF_LOCK_EXCLUSIVE) < 0)
		return;
	lf_image_gc_candidates(s, &c, NULL);
	lf_store_lock(s, LF_LOCK_SHARED);
}

static int undo_add_layer(struct undo *u, const struct lf_digest *d)
{
	struct lf_digest *v;

	for (size_t i = 0; i < u->n_layers; i++)
		if (lf_digest_eq(&u->layers[i], d))
			return 0;
	v = reallocarray(u->layers, u->n_layers + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	u->layers = v;
	v[u->n_layers++] = *d;
	return 0;
}

/* One line that names the source and the layer, whatever the layer import said. */
static int layer_error(struct lf_err *err, const struct lf_err *e2, const char *name, int r)
{
	if (!e2->msg[0])
		return lf_err_set(err, r, "'%s': %s", name, strerror(-r));
	if (strstr(e2->msg, name))
		return lf_err_set(err, r, "%s", e2->msg);
	return lf_err_set(err, r, "'%s': %s", name, e2->msg);
}

/*
 * A layer already in the store is not imported again. When it came from another blob (another
 * compression of it, or other bytes claiming its DiffID), the source's blob is still streamed
 * and checked, so a corrupt source is reported whatever the store holds; re-importing the same
 * image reads no layer at all.
 */
static int verify_layer(struct plan *p, const struct layer_job *j, struct lf_err *err)
{
	_cleanup_free_ char *name = NULL;
	_cleanup_close_ int fd = -1;
	struct lf_layer_source ls;
	struct lf_err e2 = {};
	int r;

	if (!j->verify)
		return 0;
	r = lf_imgsrc_open(p->src, j->path, &fd, err);
	if (r < 0)
		return r;
	name = lf_strdup_printf("%s: %s", p->label, j->path);
	if (!name)
		return -ENOMEM;
	ls = (struct lf_layer_source){
		.name = name,
		.fd = fd,
		.blob_digest = &j->blob_digest,
		.blob_size = j->blob_size,
		.diff_id = &j->diff_id,
	};
	r = lf_layer_verify(&ls, &e2);
	return r < 0 ? layer_error(err, &e2, name, r) : 0;
}

static int import_layers(struct plan *p, const bool *exists, struct undo *u, struct lf_err *err)
{
	for (size_t i = 0; i < p->n_layers; i++) {
		struct layer_job *j = &p->layers[i];
		_cleanup_free_ char *name = NULL;
		_cleanup_close_ int fd = -1;
		struct lf_layer_source ls;
		struct lf_digest got;
		struct lf_err e2 = {};
		int r;

		/* Present before, or a duplicate of an earlier layer of this image. */
		if (exists[i] || lf_layer_exists(p->store, &j->diff_id)) {
			r = verify_layer(p, j, err);
			if (r < 0)
				return r;
			continue;
		}
		r = lf_imgsrc_open(p->src, j->path, &fd, err);
		if (r < 0)
			return r;
		name = lf_strdup_printf("%s: %s", p->label, j->path);
		if (!name)
			return -ENOMEM;
		ls = (struct lf_layer_source){
			.name = name,
			.fd = fd,
			.blob_digest = j->has_blob_digest ? &j->blob_digest : NULL,
			.blob_size = j->blob_size,
			.diff_id = &j->diff_id,
		};
		u->objects = true;
		r = lf_layer_import(p->store, &ls, &got, &e2);
		if (r < 0)
			return layer_error(err, &e2, name, r);
		r = undo_add_layer(u, &j->diff_id);
		if (r < 0)
			return r;
	}
	return 0;
}

static int put_blob(struct plan *p, const char *buf, size_t len, const struct lf_digest *want,
		    struct undo *u, struct lf_err *err)
{
	bool had = lf_cas_has(p->store, LF_CAS_BLOB, want);
	struct lf_digest got;
	int r;

	r = lf_cas_put(p->store, LF_CAS_BLOB, buf, len, &got);
	if (r < 0)
		return lf_err_set(err, r, "cannot store a blob in '%s': %s", p->store->path,
				  strerror(-r));
	if (!had)
		u->blobs[u->n_blobs++] = got;
	if (!lf_digest_eq(&got, want))
		return lf_err_set(err, -EILSEQ, "'%s': a document changed while importing",
				  p->label);
	return 0;
}

static int build_manifest(struct plan *p)
{
	_cleanup_free_ struct lf_oci_descriptor *layers = NULL;
	struct lf_oci_descriptor config = {
		.media_type = (char *)LF_MT_OCI_CONFIG,
		.digest = p->config_digest,
		.size = p->config_len,
	};
	int r;

	layers = calloc(p->n_layers + 1, sizeof(*layers));
	if (!layers)
		return -ENOMEM;
	for (size_t i = 0; i < p->n_layers; i++)
		layers[i] = (struct lf_oci_descriptor){
			.media_type = (char *)p->layers[i].media_type,
			.digest = p->layers[i].has_blob_digest ? p->layers[i].blob_digest
							       : p->layers[i].diff_id,
			.size = p->layers[i].blob_size,
		};
	r = lf_oci_manifest_build(&config, layers, p->n_layers, &p->manifest, &p->manifest_len);
	if (r < 0)
		return r;
	lf_sha256_buf(p->manifest, p->manifest_len, &p->manifest_digest);
	free(p->manifest_media_type);
	p->manifest_media_type = strdup(LF_MT_OCI_MANIFEST);
	return p->manifest_media_type ? 0 : -ENOMEM;
}

/* Everything after the layers: documents, merged tree, then the refs that make it visible. */
static int publish(struct plan *p, struct undo *u, struct lf_err *err)
{
	char hex[LF_DIGEST_HEX_LEN + 1], name[LF_DIGEST_HEX_LEN + 8];
	int r;

	if (p->synthesize) {
		r = build_manifest(p);
		if (r < 0)
			return r;
	}
	r = put_blob(p, p->config, p->config_len, &p->config_digest, u, err);
	if (r < 0)
		return r;
	r = put_blob(p, p->manifest, p->manifest_len, &p->manifest_digest, u, err);
	if (r < 0)
		return r;
	if (p->n_layers > 0) {
		struct lf_tree *t;

		lf_chain_id(p->cfg->diff_ids, p->n_layers, &u->merged);
		snprintf(name, sizeof(name), "%s.tree", lf_digest_hex(&u->merged, hex));
		u->has_merged = faccessat(p->store->merged_fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0;
		r = lf_tree_merged_open(p->store, p->cfg->diff_ids, p->n_layers, &t, err);
		if (r < 0)
			return lf_err_prefix(err, r, "'%s'", p->label);
		lf_tree_unref(t);
	}
	for (size_t i = 0; i < p->n_names; i++) {
		r = lf_refs_set(p->store, p->names[i], p->manifest_media_type, &p->manifest_digest,
				p->manifest_len, err);
		if (r < 0) {
			/* Names published by this import go again; the store's refs are ours. */
			for (size_t k = 0; k < i; k++)
				lf_refs_remove(p->store, p->names[k], NULL);
			return r;
		}
	}
	return 0;
}

/* ---- plain root filesystems ---- */

static int import_rootfs_dir(struct plan *p, const char *path, struct layer_job *j,
			     struct lf_err *err)
{
	uint64_t size = 0;
	int r;

	/* The layer is the deterministic tar lf_layer_import_dir() makes of the directory. */
	r = lf_layer_import_dir(p->store, path, &j->diff_id, &size, err);
	if (r < 0)
		return lf_err_prefix(err, r, "'%s'", path);
	j->blob_size = size;
	return 0;
}

/* Names of the layers the store holds now (to tell, after the fact, which layer is new). */
static bool layer_present_before(char **before, size_t n, const struct lf_digest *d)
{
	char hex[LF_DIGEST_HEX_LEN + 1];

	lf_digest_hex(d, hex);
	for (size_t i = 0; i < n; i++)
		if (strcmp(before[i], hex) == 0)
			return true;
	return false;
}

static int list_layers(struct lf_store *s, char ***ret, size_t *ret_n)
{
	int fd = openat(s->layers_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	char **v = NULL;
	size_t n = 0;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		char **nv;
		if (strlen(de->d_name) != LF_DIGEST_HEX_LEN)
			continue;
		nv = reallocarray(v, n + 1, sizeof(*v));
		if (!nv || !(nv[n] = strdup(de->d_name))) {
			free(nv ? nv : v);
			closedir(d);
			return -ENOMEM;
		}
		v = nv;
		n++;
	}
	closedir(d);
	*ret = v;
	*ret_n = n;
	return 0;
}

static int plan_rootfs(struct plan *p, const char *source, const struct stat *st, struct undo *u,
		       struct lf_err *err)
{
	char created[32], **before = NULL;
	size_t n_before = 0;
	struct layer_job *j;
	struct tm tm;
	time_t t = st->st_mtime;
	const char *arch, *variant;
	int r;

	p->n_layers = 1;
	p->layers = j = calloc(1, sizeof(*p->layers));
	if (!j)
		return -ENOMEM;
	j->media_type = LF_MT_OCI_LAYER;
	r = list_layers(p->store, &before, &n_before);
	if (r < 0)
		return lf_err_set(err, r, "cannot list the store's layers: %s", strerror(-r));
	u->objects = true;
	if (S_ISDIR(st->st_mode)) {
		r = import_rootfs_dir(p, source, j, err);
	} else {
		_cleanup_close_ int fd = open(source, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		_cleanup_free_ char *name = strdup(source);
		struct lf_layer_source ls = { .name = name, .blob_size = st->st_size };
		struct lf_err e2 = {};

		if (fd < 0) {
			r = lf_err_set(err, -errno, "'%s': %s", source, strerror(errno));
			goto out;
		}
		j->blob_size = st->st_size;
		j->media_type = layer_media_type(fd);
		if (strcmp(j->media_type, LF_MT_OCI_LAYER) != 0) {
			/* The manifest describes the blob as given: hash it as it is. */
			r = lf_sha256_fd(fd, &j->blob_digest, NULL);
			if (r < 0 || lseek(fd, 0, SEEK_SET) < 0) {
				r = lf_err_set(err, r < 0 ? r : -errno, "'%s': %s", source,
					       strerror(r < 0 ? -r : errno));
				goto out;
			}
			j->has_blob_digest = true;
			ls.blob_digest = &j->blob_digest;
		}
		ls.fd = fd;
		r = name ? lf_layer_import(p->store, &ls, &j->diff_id, &e2) : -ENOMEM;
		if (r < 0)
			layer_error(err, &e2, name ? name : source, r);
	}
	if (r >= 0 && !layer_present_before(before, n_before, &j->diff_id))
		r = undo_add_layer(u, &j->diff_id);
out:
	for (size_t i = 0; i < n_before; i++)
		free(before[i]);
	free(before);
	if (r < 0)
		return r;
	if (!j->has_blob_digest)
		j->blob_digest = j->diff_id;
	j->has_blob_digest = true;

	/* The source's mtime, not the clock: importing the same rootfs again changes nothing. */
	if (!gmtime_r(&t, &tm) || !strftime(created, sizeof(created), "%Y-%m-%dT%H:%M:%SZ", &tm))
		strcpy(created, "1970-01-01T00:00:00Z");
	lf_oci_host_platform(&arch, &variant);
	r = lf_oci_rootfs_config_build(arch, &j->diff_id, created, "layerfs import --rootfs",
				       &p->config, &p->config_len);
	if (r < 0)
		return r;
	lf_sha256_buf(p->config, p->config_len, &p->config_digest);
	r = lf_oci_config_parse(p->config, p->config_len, &p->cfg, err);
	if (r < 0)
		return r;
	p->synthesize = true;
	if (p->cli_ref)
		return add_name(p, p->cli_ref);
	return add_basename_tag(p, "latest", err);
}

/* ---- the whole import ---- */

static int import_locked(struct plan *p, const char *source, unsigned flags, struct undo *u,
			 struct lf_err *err)
{
	_cleanup_(lf_imgsrc_freep) struct lf_imgsrc *src = NULL;
	_cleanup_free_ bool *exists = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	if (stat(source, &st) < 0)
		return lf_err_set(err, -errno, "'%s': %s", source, strerror(errno));
	if (!S_ISDIR(st.st_mode) && !S_ISREG(st.st_mode))
		return lf_err_set(err, -EINVAL, "'%s': not a file or directory", source);
	if (flags & LF_IMPORT_ROOTFS) {
		r = plan_rootfs(p, source, &st, u, err);
		if (r < 0)
			return r;
		return publish(p, u, err);
	}
	if (S_ISDIR(st.st_mode)) {
		r = lf_imgsrc_open_dir(source, source, &src, err);
	} else {
		fd = open(source, O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd < 0)
			return lf_err_set(err, -errno, "'%s': %s", source, strerror(errno));
		r = lf_imgsrc_open_tar(p->store, fd, source, &src, err);
		if (r == -EMEDIUMTYPE) {
			if (err)
				err->msg[0] = 0;
			return lf_err_set(
				err, r,
				"'%s': not an OCI layout, docker archive or tar of one (for a rootfs tarball use --rootfs)",
				source);
		}
	}
	if (r < 0)
		return r;
	p->src = src;
	r = plan_archive(p, err);
	if (r < 0)
		return r;
	exists = calloc(p->n_layers + 1, sizeof(*exists));
	if (!exists)
		return -ENOMEM;
	r = prepare_layers(p, exists, err);
	if (r < 0)
		return r;
	r = import_layers(p, exists, u, err);
	if (r < 0)
		return r;
	return publish(p, u, err);
}

int lf_image_import(struct lf_store *s, const char *source, const char *ref, unsigned flags,
		    struct lf_digest *ret_manifest, struct lf_err *err)
{
	_cleanup_free_ char *cli = NULL;
	struct plan p = { .store = s, .label = source };
	struct undo u = {};
	int r;

	if (ref) {
		r = lf_ref_normalize(ref, &cli);
		if (r == -EINVAL)
			return lf_err_set(err, r,
					  "'%s' is not a valid image name (NAME[:TAG], lowercase)",
					  ref);
		if (r < 0)
			return r;
		p.cli_ref = cli;
	}
	r = lf_store_lock(s, LF_LOCK_SHARED);
	if (r < 0)
		return lf_err_set(err, r, "cannot lock the store '%s': %s", s->path, strerror(-r));
	r = import_locked(&p, source, flags, &u, err);
	if (r < 0)
		undo_run(s, &u);
	else if (ret_manifest)
		*ret_manifest = p.manifest_digest;
	lf_store_lock(s, LF_LOCK_NONE);
	free(u.layers);
	plan_clear(&p);
	return r;
}
