/*
 * node.h -- node mode (node.c), what the initramfs runs: the order from
 * pipold, the deployment or capture it names, post-install, progress
 * and result. Only main (agent.c) calls it; nothing in node mode is
 * called back from the run core (progress leaves through a callback).
 */
#ifndef AGENT_NODE_H
#define AGENT_NODE_H

/* Node mode's command line and what runs it: its name is the
 * program's, as node mode has no command word (cmd.h) */
struct cmd;
extern const struct cmd node_cmd;

#endif
