/* Private to store/: the tar entries of one layer into a tree builder and staged objects. */
#pragma once

#include "layerfs/err.h"

struct lf_lstream;
struct lf_store;
struct lf_tb;

/*
 * Reads a tar archive (tar, ustar, pax, GNU) from st up to its end-of-archive marker; the
 * rest of the stream is left for the caller. Regular files become objects staged in
 * stage_fd; everything else goes into tb. Entry paths are checked (no "..", no absolute
 * paths, no non-directory parents, bounded lengths) and OCI whiteouts and opaque markers
 * become tree records. On error err holds "entry '...': reason" and nothing was published.
 */
int lf_layer_tar_read(struct lf_lstream *st, struct lf_store *s, int stage_fd, struct lf_tb *tb,
		      struct lf_err *err);
