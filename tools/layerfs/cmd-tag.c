/* layerfs tag: not written yet. */
#include "layerfs/log.h"
#include "cmd.h"

LF_CMD(tag)
{
	lf_log(LF_LOG_ERR, "'tag' is not implemented yet");
	return LF_EXIT_FAILURE;
}
