/* layerfs rm: not written yet. */
#include "layerfs/log.h"
#include "cmd.h"

LF_CMD(rm)
{
	lf_log(LF_LOG_ERR, "'rm' is not implemented yet");
	return LF_EXIT_FAILURE;
}
