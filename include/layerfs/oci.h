/*
 * OCI and Docker image documents (oci.c): parsing with validation of manifests, indexes,
 * configs, `docker save` manifest.json and oci-layout, platform matching, and the documents
 * layerfs writes itself. Everything parsed here is untrusted: a document that is not what it
 * claims to be is refused with -EBADMSG and a message naming the problem (the caller prefixes
 * it with the file); an unsupported digest algorithm gives -EOPNOTSUPP.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "layerfs/digest.h"
#include "layerfs/err.h"

/* Largest manifest, index or docker manifest.json accepted (as containerd does). */
#define LF_OCI_MANIFEST_MAX (4u << 20)
/* Largest image config accepted. */
#define LF_OCI_CONFIG_MAX (16u << 20)

#define LF_MT_OCI_MANIFEST "application/vnd.oci.image.manifest.v1+json"
#define LF_MT_OCI_INDEX "application/vnd.oci.image.index.v1+json"
#define LF_MT_OCI_CONFIG "application/vnd.oci.image.config.v1+json"
#define LF_MT_OCI_LAYER "application/vnd.oci.image.layer.v1.tar"
#define LF_MT_OCI_LAYER_GZIP "application/vnd.oci.image.layer.v1.tar+gzip"
#define LF_MT_OCI_LAYER_ZSTD "application/vnd.oci.image.layer.v1.tar+zstd"
#define LF_MT_DOCKER_MANIFEST "application/vnd.docker.distribution.manifest.v2+json"
#define LF_MT_DOCKER_LIST "application/vnd.docker.distribution.manifest.list.v2+json"
#define LF_MT_DOCKER_CONFIG "application/vnd.docker.container.image.v1+json"
#define LF_MT_DOCKER_LAYER "application/vnd.docker.image.rootfs.diff.tar.gzip"
#define LF_MT_DOCKER_FOREIGN "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"

/* The annotation that names an image in an OCI layout's index.json. */
#define LF_ANNOT_REF_NAME "org.opencontainers.image.ref.name"
/* containerd's full image name annotation ("docker.io/library/busybox:latest"). */
#define LF_ANNOT_CONTAINERD_NAME "io.containerd.image.name"

enum lf_mt_kind {
	LF_MT_UNKNOWN = 0,
	LF_MT_MANIFEST, /* OCI or Docker v2 schema 2 image manifest */
	LF_MT_INDEX, /* OCI image index or Docker manifest list */
	LF_MT_CONFIG, /* OCI or Docker image config */
	LF_MT_LAYER, /* a distributable layer, any compression */
	LF_MT_LAYER_FOREIGN, /* non-distributable / foreign layer */
};

/* Classifies a media type string (NULL gives LF_MT_UNKNOWN). */
enum lf_mt_kind lf_oci_media_kind(const char *media_type);

struct lf_oci_platform {
	char *os;
	char *architecture;
	char *variant; /* or NULL */
};

struct lf_oci_descriptor {
	char *media_type;
	struct lf_digest digest;
	uint64_t size;
	char *ref_name; /* annotations[LF_ANNOT_REF_NAME], or NULL */
	char *image_name; /* annotations[LF_ANNOT_CONTAINERD_NAME], or NULL */
	bool has_platform;
	struct lf_oci_platform platform;
};

struct lf_oci_manifest {
	char *media_type; /* the document's mediaType, or NULL when absent */
	struct lf_oci_descriptor config;
	size_t n_layers;
	struct lf_oci_descriptor *layers;
};

struct lf_oci_index {
	char *media_type; /* or NULL */
	size_t n_manifests;
	struct lf_oci_descriptor *manifests;
};

struct lf_oci_config {
	char *architecture;
	char *os;
	char *variant; /* or NULL */
	char *created; /* RFC 3339 as written, or NULL */
	size_t n_diff_ids;
	struct lf_digest *diff_ids; /* bottom first */
};

/* One image of a `docker save` manifest.json; paths are relative to the archive root. */
struct lf_docker_image {
	char *config; /* "<hex>.json" or "blobs/sha256/<hex>" */
	size_t n_repo_tags;
	char **repo_tags;
	size_t n_layers;
	char **layers; /* "<id>/layer.tar" or "blobs/sha256/<hex>" */
};

struct lf_docker_manifest {
	size_t n_images;
	struct lf_docker_image *images;
};

/* What a document looks like: LF_MT_MANIFEST, LF_MT_INDEX, or LF_MT_UNKNOWN (not JSON...). */
enum lf_mt_kind lf_oci_sniff(const char *buf, size_t len);

/* Parsers: the caller owns *ret and frees it with the matching _free(), which accepts NULL. */
int lf_oci_manifest_parse(const char *buf, size_t len, struct lf_oci_manifest **ret,
			  struct lf_err *err);
void lf_oci_manifest_free(struct lf_oci_manifest *m);
int lf_oci_index_parse(const char *buf, size_t len, struct lf_oci_index **ret, struct lf_err *err);
void lf_oci_index_free(struct lf_oci_index *idx);
int lf_oci_config_parse(const char *buf, size_t len, struct lf_oci_config **ret,
			struct lf_err *err);
void lf_oci_config_free(struct lf_oci_config *c);
int lf_docker_manifest_parse(const char *buf, size_t len, struct lf_docker_manifest **ret,
			     struct lf_err *err);
void lf_docker_manifest_free(struct lf_docker_manifest *m);
/* Checks an oci-layout file: {"imageLayoutVersion": "1.x.y"}. */
int lf_oci_layout_check(const char *buf, size_t len, struct lf_err *err);

/*
 * This machine's platform in OCI terms (GOARCH names: amd64 on x86_64, arm64 on aarch64...).
 * The strings are static. variant is NULL when the architecture has none that matters.
 */
void lf_oci_host_platform(const char **ret_arch, const char **ret_variant);
/*
 * True when p can run on linux/arch[/variant]: same os and architecture, and a variant that
 * is absent on either side or equal (arm64's "v8" is its default).
 */
bool lf_oci_platform_matches(const struct lf_oci_platform *p, const char *arch,
			     const char *variant);

/*
 * Writes an OCI image manifest (owned by the caller, compact JSON) for a config blob and layer
 * descriptors (media_type, digest and size are used).
 */
int lf_oci_manifest_build(const struct lf_oci_descriptor *config,
			  const struct lf_oci_descriptor *layers, size_t n_layers, char **ret,
			  size_t *ret_len);
/*
 * Writes the config of a one-layer image made from a plain rootfs: {architecture, os: linux,
 * created, config: {Env: [PATH=...]}, rootfs: {type: layers, diff_ids}, history}. created is
 * RFC 3339 ("1970-01-01T00:00:00Z"); fixed inputs give the same bytes.
 */
int lf_oci_rootfs_config_build(const char *arch, const struct lf_digest *diff_id,
			       const char *created, const char *created_by, char **ret,
			       size_t *ret_len);
