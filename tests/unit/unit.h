/* unit.h - a minimal unit-test harness.
 *
 * Each tests/unit/test_*.c defines TESTS with T(name) entries and includes
 * this file; main() runs them and prints "N passed, N failed" as its last
 * line, exiting 1 if any failed. CHECK() records a failure and continues;
 * REQUIRE() returns from the test.
 */
#ifndef VIGIL_UNIT_H
#define VIGIL_UNIT_H

#include <dirent.h>
#include <stdio.h>
#include <string.h>

static int unit_failed_checks;

/* Number of entries of dir other than . and .. (-1 when it cannot be
 * opened): "no temporary file left" checks. */
static inline int unit_count_entries(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

#define CHECK(cond)                                                                 \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__,    \
				__LINE__, #cond);                                   \
			unit_failed_checks++;                                       \
		}                                                                   \
	} while (0)

#define REQUIRE(cond)                                                               \
	do {                                                                        \
		if (!(cond)) {                                                      \
			fprintf(stderr, "  %s:%d: REQUIRE(%s) failed\n", __FILE__,  \
				__LINE__, #cond);                                   \
			unit_failed_checks++;                                       \
			return;                                                     \
		}                                                                   \
	} while (0)

#define CHECK_STR(a, b)                                                             \
	do {                                                                        \
		const char *a_ = (a), *b_ = (b);                                    \
		if (!a_ || !b_ || strcmp(a_, b_) != 0) {                            \
			fprintf(stderr, "  %s:%d: \"%s\" != \"%s\"\n", __FILE__,    \
				__LINE__, a_ ? a_ : "(null)", b_ ? b_ : "(null)");  \
			unit_failed_checks++;                                       \
		}                                                                   \
	} while (0)

struct unit_test {
	const char *name;
	void (*fn)(void);
};

#define T(fn) { #fn, fn }

static int unit_main(const struct unit_test *tests, size_t n)
{
	size_t passed = 0, failed = 0;

	for (size_t i = 0; i < n; i++) {
		int before = unit_failed_checks;
		tests[i].fn();
		if (unit_failed_checks == before) {
			passed++;
			printf("ok   %s\n", tests[i].name);
		} else {
			failed++;
			printf("FAIL %s\n", tests[i].name);
		}
		fflush(stdout);
	}
	printf("%zu passed, %zu failed\n", passed, failed);
	return failed ? 1 : 0;
}

#define UNIT_MAIN(...)                                                              \
	int main(void)                                                              \
	{                                                                           \
		static const struct unit_test t_[] = { __VA_ARGS__ };               \
		return unit_main(t_, sizeof t_ / sizeof t_[0]);                     \
	}

#endif
