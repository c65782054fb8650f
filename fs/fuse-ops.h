/* The FUSE callbacks (fuse-ops.c), for fuse-main.c. Userdata is the struct lf_union. */
#pragma once

#define FUSE_USE_VERSION 312
#include <fuse_lowlevel.h>

extern const struct fuse_lowlevel_ops lf_fuse_ops;
