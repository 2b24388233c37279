/* The hwkeygen program: everything it does is in hwkeygen.c. */
#include "cli.h"

int
main(int argc, char **argv)
{
	return hwk_cli_main(argc, argv);
}
