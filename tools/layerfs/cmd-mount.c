/* layerfs mount: not written yet. */
#include "layerfs/log.h"
#include "cmd.h"

LF_CMD(mount)
{
	lf_log(LF_LOG_ERR, "'mount' is not implemented yet");
	return LF_EXIT_FAILURE;
}
