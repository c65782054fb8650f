/* layerfs umount: not written yet. */
#include "layerfs/log.h"
#include "cmd.h"

LF_CMD(umount)
{
	lf_log(LF_LOG_ERR, "'umount' is not implemented yet");
	return LF_EXIT_FAILURE;
}
