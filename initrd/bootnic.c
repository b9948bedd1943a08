/*
 * bootnic.c -- the network card a node reaches pipold through
 * (bootnic.h). On a netbooted node the deployment environment brings
 * every card up with DHCP (bootenv/init), so the card is not known by
 * name: it is the one the kernel routes the server's address to. An
 * Intel Mac's efi-boot-device names that card by its MAC (apple_nvram.c).
 */
#include <sys/socket.h>
#include <sys/types.h>
#include <arpa/inet.h>
#include <ifaddrs.h>
#include <linux/if_packet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "bootnic.h"
#include "perr.h"

#define BOOTNIC_HOST_MAX	255

/* HOST of http(s)://HOST[:PORT][/...], brackets of an IPv6 one off. */
static int
url_host(const char *url, char *host, size_t len)
{
	const char *p = strstr(url, "://"), *end;

	if (p == NULL)
		return -1;
	p += 3;
	if (*p == '[') {
		if ((end = strchr(++p, ']')) == NULL)
			return -1;
	} else
		end = p + strcspn(p, ":/");
	if (end == p || (size_t)(end - p) >= len)
		return -1;
	memcpy(host, p, (size_t)(end - p));
	host[end - p] = '\0';
	return 0;
}

/* The local address the kernel would send from to reach host. */
static int
local_addr(const char *host, struct sockaddr_storage *ss, struct perr *e)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *ai;
	socklen_t sl = sizeof(*ss);
	int fd, rc;

	if ((rc = getaddrinfo(host, "9", &hints, &ai)) != 0)
		return perr_set(e, PE_FAIL, "%s: %s", host, gai_strerror(rc));
	fd = socket(ai->ai_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd == -1 || connect(fd, ai->ai_addr, ai->ai_addrlen) == -1 ||
	    getsockname(fd, (struct sockaddr *)ss, &sl) == -1)
		rc = perr_errno(e, PE_FAIL, "%s: no route", host);
	if (fd != -1)
		close(fd);
	freeaddrinfo(ai);
	return rc;
}

static int
same_addr(const struct sockaddr *a, const struct sockaddr_storage *b)
{
	if (a == NULL || a->sa_family != b->ss_family)
		return 0;
	if (a->sa_family == AF_INET)
		return memcmp(&((const struct sockaddr_in *)(const void *)a)->
		    sin_addr, &((const struct sockaddr_in *)(const void *)b)->
		    sin_addr, sizeof(struct in_addr)) == 0;
	if (a->sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)a)->
		    sin6_addr, &((const struct sockaddr_in6 *)(const void *)b)->
		    sin6_addr, sizeof(struct in6_addr)) == 0;
	return 0;
}

int
bootnic_find(const char *url, uint8_t mac[6], char ifname[IF_NAMESIZE],
    struct perr *e)
{
	struct sockaddr_storage ss;
	struct ifaddrs *ifs, *i;
	const struct sockaddr_ll *ll;
	char host[BOOTNIC_HOST_MAX + 1];
	int rc;

	if (url_host(url, host, sizeof(host)) < 0)
		return perr_set(e, PE_USAGE, "%s: not a URL with a host", url);
	if ((rc = local_addr(host, &ss, e)) < 0)
		return rc;
	if (getifaddrs(&ifs) == -1)
		return perr_errno(e, PE_FAIL, "getifaddrs");
	for (i = ifs; i != NULL && !same_addr(i->ifa_addr, &ss); i = i->ifa_next)
		;
	if (i == NULL) {
		freeifaddrs(ifs);
		return perr_set(e, PE_FAIL, "%s: no interface holds the "
		    "address it is reached from", host);
	}
	snprintf(ifname, IF_NAMESIZE, "%s", i->ifa_name);
	for (i = ifs; i != NULL; i = i->ifa_next) {
		if (i->ifa_addr == NULL || i->ifa_addr->sa_family != AF_PACKET ||
		    strcmp(i->ifa_name, ifname) != 0)
			continue;
		ll = (const struct sockaddr_ll *)(const void *)i->ifa_addr;
		if (ll->sll_halen != 6)
			break;
		memcpy(mac, ll->sll_addr, 6);
		freeifaddrs(ifs);
		return 0;
	}
	freeifaddrs(ifs);
	return perr_set(e, PE_FAIL, "%s (reaching %s): no Ethernet address",
	    ifname, host);
}
