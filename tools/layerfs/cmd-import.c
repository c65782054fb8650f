/* layerfs import: not written yet. */
#include "layerfs/log.h"
#include "cmd.h"

LF_CMD(import)
{
	lf_log(LF_LOG_ERR, "'import' is not implemented yet");
	return LF_EXIT_FAILURE;
}
