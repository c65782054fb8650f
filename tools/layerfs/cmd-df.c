/* layerfs df: not written yet. */
#include "layerfs/log.h"
#include "cmd.h"

LF_CMD(df)
{
	lf_log(LF_LOG_ERR, "'df' is not implemented yet");
	return LF_EXIT_FAILURE;
}
