/* The store's refs: descriptors named by org.opencontainers.image.ref.name in its index.json. */
#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "layerfs/image.h"
#include "layerfs/macro.h"
#include "layerfs/oci.h"
#include "layerfs/store.h"
#include "layerfs/util.h"

#define INDEX_JSON "index.json"

/* jansson's own json_decrefp() accepts NULL. */
#define _cleanup_json_ _cleanup_(json_decrefp)

/* ---- reference grammar ---- */

static bool is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* A path component: [a-z0-9]+ joined by '.', '_', '__' or '-'+. */
static bool path_component_ok(const char *s, size_t n)
{
	if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1]))
		return false;
	for (size_t i = 1; i < n; i++) {
		if (is_lower_alnum(s[i]))
			continue;
		if (s[i] == '.' || s[i] == '_' || s[i] == '-') {
			/* separators: ".", "_", "__", "-+"; never two different ones in a row */
			if (!is_lower_alnum(s[i - 1]) && !(s[i] == '-' && s[i - 1] == '-') &&
			    !(s[i] == '_' && s[i - 1] == '_' && (i < 2 || s[i - 2] != '_')))
				return false;
			continue;
		}
		return false;
	}
	return true;
}

/* A registry host: [A-Za-z0-9.-]+ with an optional :port. */
static bool domain_ok(const char *s, size_t n)
{
	size_t i = 0;

	if (n == 0 || !isalnum((unsigned char)s[0]))
		return false;
	for (; i < n && s[i] != ':'; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '.' && s[i] != '-')
			return false;
	if (i < n) {
		if (i + 1 == n)
			return false;
		for (i++; i < n; i++)
			if (!isdigit((unsigned char)s[i]))
				return false;
	}
	return true;
}

static bool tag_ok(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || n > 128)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = s[i];
		if (!isalnum(c) && c != '_' && !(i > 0 && (c == '.' || c == '-')))
			return false;
	}
	return true;
}

const char *lf_ref_tag(const char *ref)
{
	const char *slash = strrchr(ref, '/'), *colon = strrchr(ref, ':');

	if (colon && (!slash || colon > slash))
		return colon + 1;
	return NULL;
}

int lf_ref_normalize(const char *in, char **ret)
{
	const char *tag = lf_ref_tag(in), *p, *end;
	size_t name_len;
	bool first = true;

	if (strchr(in, '@'))
		return -EINVAL;
	name_len = tag ? (size_t)(tag - 1 - in) : strlen(in);
	if (name_len == 0 || name_len > 255)
		return -EINVAL;
	if (tag && !tag_ok(tag))
		return -EINVAL;
	end = in + name_len;
	for (p = in; p < end; first = false) {
		const char *slash = memchr(p, '/', end - p);
		size_t n = slash ? (size_t)(slash - p) : (size_t)(end - p);
		/* The first of several components may be a registry host. */
		bool host = first && slash &&
			    (memchr(p, '.', n) || memchr(p, ':', n) ||
			     (n == 9 && memcmp(p, "localhost", 9) == 0));

		if (host ? !domain_ok(p, n) : !path_component_ok(p, n))
			return -EINVAL;
		if (!slash)
			break;
		p = slash + 1;
		if (p == end)
			return -EINVAL;
	}
	if (!tag && memchr(in, ':', name_len) && !strchr(in, '/'))
		return -EINVAL;
	*ret = tag ? strdup(in) : lf_strdup_printf("%s:latest", in);
	return *ret ? 0 : -ENOMEM;
}

/* ---- index.json ---- */

void lf_refs_free(struct lf_refs *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++) {
		free(r->refs[i].name);
		free(r->refs[i].media_type);
	}
	free(r->refs);
	free(r);
}
DEFINE_FREEP(struct lf_refs, lf_refs_free)
DEFINE_FREEP(struct lf_oci_index, lf_oci_index_free)

int lf_refs_parse(const char *buf, size_t len, struct lf_refs **ret, struct lf_err *err)
{
	_cleanup_(lf_oci_index_freep) struct lf_oci_index *idx = NULL;
	_cleanup_(lf_refs_freep) struct lf_refs *r = NULL;
	int k;

	k = lf_oci_index_parse(buf, len, &idx, err);
	if (k < 0)
		return k;
	r = calloc(1, sizeof(*r));
	if (!r)
		return -ENOMEM;
	r->refs = calloc(idx->n_manifests ? idx->n_manifests : 1, sizeof(*r->refs));
	if (!r->refs)
		return -ENOMEM;
	for (size_t i = 0; i < idx->n_manifests; i++) {
		struct lf_oci_descriptor *d = &idx->manifests[i];
		struct lf_ref *ref = &r->refs[r->n];

		if (!d->ref_name)
			continue;
		ref->name = TAKE_PTR(d->ref_name);
		ref->media_type = TAKE_PTR(d->media_type);
		ref->digest = d->digest;
		ref->size = d->size;
		r->n++;
	}
	*ret = TAKE_PTR(r);
	return 0;
}

int lf_refs_load(struct lf_store *s, struct lf_refs **ret, struct lf_err *err)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	int r;

	r = lf_read_file_at(s->root_fd, INDEX_JSON, LF_OCI_MANIFEST_MAX, &buf, &len);
	if (r < 0)
		return lf_err_set(err, r, "'%s/%s': %s", s->path, INDEX_JSON, strerror(-r));
	r = lf_refs_parse(buf, len, ret, err);
	if (r < 0)
		return lf_err_prefix(err, r, "'%s/%s'", s->path, INDEX_JSON);
	return 0;
}

const struct lf_ref *lf_refs_find(const struct lf_refs *r, const char *name)
{
	for (size_t i = 0; i < r->n; i++)
		if (strcmp(r->refs[i].name, name) == 0)
			return &r->refs[i];
	return NULL;
}

static const char *entry_name(json_t *entry)
{
	json_t *annot = json_object_get(entry, "annotations");

	return json_string_value(json_object_get(annot, LF_ANNOT_REF_NAME));
}

int lf_refs_edit(const char *buf, size_t len, const char *name, const char *media_type,
		 const struct lf_digest *digest, uint64_t size, char **ret, size_t *ret_len,
		 struct lf_err *err)
{
	_cleanup_(lf_refs_freep) struct lf_refs *check = NULL;
	_cleanup_json_ json_t *root = NULL;
	json_t *arr;
	bool found = false;
	char *out;
	int r;

	/* The same validation as any reader, so we never rewrite what we cannot read. */
	r = lf_refs_parse(buf, len, &check, err);
	if (r < 0)
		return r;
	root = json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL);
	if (!root)
		return -EBADMSG;
	arr = json_object_get(root, "manifests");
	for (size_t i = 0; i < json_array_size(arr);) {
		const char *n = entry_name(json_array_get(arr, i));

		if (n && strcmp(n, name) == 0) {
			json_array_remove(arr, i);
			found = true;
			continue;
		}
		i++;
	}
	if (!digest && !found)
		return -ENOENT;
	if (digest) {
		char dg[LF_DIGEST_STR_MAX];
		json_t *e = json_pack("{s:s, s:s, s:I, s:{s:s}}", "mediaType", media_type, "digest",
				      lf_digest_format(digest, dg), "size", (json_int_t)size,
				      "annotations", LF_ANNOT_REF_NAME, name);
		if (!e || json_array_append_new(arr, e) < 0)
			return -ENOMEM;
	}
	if (!json_object_get(root, "mediaType") &&
	    json_object_set_new(root, "mediaType", json_string(LF_MT_OCI_INDEX)) < 0)
		return -ENOMEM;
	out = json_dumps(root, JSON_INDENT(2));
	if (!out)
		return -ENOMEM;
	*ret_len = strlen(out);
	/* json_dumps leaves room for nothing more; end the file with a newline. */
	*ret = realloc(out, *ret_len + 2);
	if (!*ret) {
		free(out);
		return -ENOMEM;
	}
	(*ret)[(*ret_len)++] = '\n';
	(*ret)[*ret_len] = 0;
	return 0;
}

static int edit_store(struct lf_store *s, const char *name, const char *media_type,
		      const struct lf_digest *digest, uint64_t size, struct lf_err *err)
{
	_cleanup_close_ int lock_fd = -1;
	_cleanup_free_ char *buf = NULL, *out = NULL;
	size_t len, out_len;
	int r;

	r = lf_store_meta_lock(s, &lock_fd);
	if (r < 0)
		return lf_err_set(err, r, "cannot lock '%s': %s", s->path, strerror(-r));
	r = lf_read_file_at(s->root_fd, INDEX_JSON, LF_OCI_MANIFEST_MAX, &buf, &len);
	if (r < 0)
		return lf_err_set(err, r, "'%s/%s': %s", s->path, INDEX_JSON, strerror(-r));
	r = lf_refs_edit(buf, len, name, media_type, digest, size, &out, &out_len, err);
	if (r == -ENOENT)
		return lf_err_set(err, r, "no image '%s'", name);
	if (r < 0)
		return lf_err_prefix(err, r, "'%s/%s'", s->path, INDEX_JSON);
	r = lf_write_file_atomic_at(s->root_fd, INDEX_JSON, out, out_len, 0644);
	if (r < 0)
		return lf_err_set(err, r, "cannot write '%s/%s': %s", s->path, INDEX_JSON,
				  strerror(-r));
	return 0;
}

int lf_refs_set(struct lf_store *s, const char *name, const char *media_type,
		const struct lf_digest *digest, uint64_t size, struct lf_err *err)
{
	return edit_store(s, name, media_type, digest, size, err);
}

int lf_refs_remove(struct lf_store *s, const char *name, struct lf_err *err)
{
	return edit_store(s, name, NULL, NULL, 0, err);
}
