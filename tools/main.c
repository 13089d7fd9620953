// SPDX-License-Identifier: LGPL-2.1-or-later
#include "shmpoolctl.h"

int main(int argc, char **argv)
{
	return shmpoolctl_main(argc, argv);
}
