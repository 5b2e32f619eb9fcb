/* servesim capacity: the highest rate one replica of each plan serves
 * within the SLO, and the cheapest fleet that carries the target load. The
 * command line, back ends and outputs are plan's (cmd-plan.c). */
#include "cli/commands.h"
#include "search/space.h"

int sv_cmd_capacity(int argc, char **argv)
{
    return sv_cli_search(argc, argv, SV_SEARCH_CAPACITY);
}
