/* The hwkeygen program: hwk_cli_main() in hwkeygen.c does it all. */
#include "cli.h"

int
main(int argc, char **argv)
{
	return hwk_cli_main(argc, argv);
}
