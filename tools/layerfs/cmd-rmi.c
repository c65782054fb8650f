/* layerfs rmi: not written yet. */
#include "layerfs/log.h"
#include "cmd.h"

LF_CMD(rmi)
{
	lf_log(LF_LOG_ERR, "'rmi' is not implemented yet");
	return LF_EXIT_FAILURE;
}
