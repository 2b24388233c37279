/*
 * Which module files a path from a file may name: the pattern lists of
 * --module-allow and hwkey-agent -P, read as ssh-agent -P reads its own.
 */
#include <stdlib.h>
#include <string.h>

#include "pkcs11_int.h"

/* s against one pattern: '*' is any run of characters, '/' too; '?' one. */
static int
pattern_match(const char *s, const char *p, size_t plen)
{
	const char *end = p + plen, *star = NULL, *resume = NULL;

	while (*s != '\0') {
		if (p < end && *p == '*') {
			star = ++p;
			resume = s;
		} else if (p < end && (*p == '?' || *p == *s)) {
			p++;
			s++;
		} else if (star != NULL) {
			/* Let the last '*' take one more character. */
			p = star;
			s = ++resume;
		} else
			return 0;
	}
	while (p < end && *p == '*')
		p++;
	return p == end;
}

int
hwk_p11_allow_match(const char *path, const char *list)
{
	const char *p = list, *comma;
	size_t len;
	int neg, hit = 0;

	for (;;) {
		comma = strchr(p, ',');
		len = comma != NULL ? (size_t)(comma - p) : strlen(p);
		neg = len > 0 && *p == '!';
		if (pattern_match(path, p + neg, len - neg)) {
			/* A negated pattern that matches refuses at once. */
			if (neg)
				return -1;
			hit = 1;
		}
		if (comma == NULL)
			break;
		p = comma + 1;
	}
	return hit;
}
