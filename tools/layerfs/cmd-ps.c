/* layerfs ps: not written yet. */
#include "layerfs/log.h"
#include "cmd.h"

LF_CMD(ps)
{
	lf_log(LF_LOG_ERR, "'ps' is not implemented yet");
	return LF_EXIT_FAILURE;
}
