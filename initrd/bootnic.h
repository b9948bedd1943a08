/*
 * bootnic.h -- the network card a node reaches pipold through
 * (bootnic.c): the one the kernel routes the server's address to, which
 * on a netbooted node is the card it booted from. Knows nothing of
 * EFI or of the deployment.
 */
#ifndef BOOTNIC_H
#define BOOTNIC_H

#include <net/if.h>
#include <stdint.h>

struct perr;

/*
 * The MAC address and the name of the interface whose address the
 * kernel would send from to reach the host of url (http://HOST[:PORT]
 * [/...], HOST a name or an address): a UDP socket connected to it
 * (nothing is sent), its local address, the interface holding it.
 * -PE_USAGE for a URL that is none; -PE_FAIL when no interface, or one
 * with no 6-byte hardware address (loopback), is found.
 */
int bootnic_find(const char *url, uint8_t mac[6], char ifname[IF_NAMESIZE],
    struct perr *e);

#endif
