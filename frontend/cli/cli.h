/* cli.h -- the pipol command line: one entry point per command group. */
#ifndef CLI_H
#define CLI_H

int image_main(int argc, char **argv);

#endif
