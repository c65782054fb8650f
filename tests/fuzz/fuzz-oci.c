/*
 * libFuzzer target: the OCI and docker-archive JSON parsers (manifest, index, config, docker
 * manifest.json, oci-layout, refs) take any bytes and either refuse them with a message or
 * return a document, never crash, leak or read out of bounds.
 */
#include <stddef.h>
#include <stdint.h>

#include "layerfs/err.h"
#include "layerfs/image.h"
#include "layerfs/oci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct lf_oci_manifest *m = NULL;
	struct lf_oci_index *idx = NULL;
	struct lf_oci_config *c = NULL;
	struct lf_docker_manifest *dm = NULL;
	struct lf_refs *refs = NULL;
	struct lf_err err = {};

	(void)lf_oci_sniff(buf, size);
	if (lf_oci_manifest_parse(buf, size, &m, &err) == 0)
		lf_oci_manifest_free(m);
	err = (struct lf_err){};
	if (lf_oci_index_parse(buf, size, &idx, &err) == 0)
		lf_oci_index_free(idx);
	err = (struct lf_err){};
	if (lf_oci_config_parse(buf, size, &c, &err) == 0)
		lf_oci_config_free(c);
	err = (struct lf_err){};
	if (lf_docker_manifest_parse(buf, size, &dm, &err) == 0)
		lf_docker_manifest_free(dm);
	err = (struct lf_err){};
	(void)lf_oci_layout_check(buf, size, &err);
	err = (struct lf_err){};
	if (lf_refs_parse(buf, size, &refs, &err) == 0)
		lf_refs_free(refs);
	return 0;
}
