/* layerfs images: not written yet. */
#include "layerfs/log.h"
#include "cmd.h"

LF_CMD(images)
{
	lf_log(LF_LOG_ERR, "'images' is not implemented yet");
	return LF_EXIT_FAILURE;
}
