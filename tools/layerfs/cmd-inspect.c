/* layerfs inspect: not written yet. */
#include "layerfs/log.h"
#include "cmd.h"

LF_CMD(inspect)
{
	lf_log(LF_LOG_ERR, "'inspect' is not implemented yet");
	return LF_EXIT_FAILURE;
}
