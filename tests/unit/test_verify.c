/* test_verify.c - unit tests for the pure part of src/pipeline/verify.c: whether a
 * dump's lock estimate fits the server's lock table, and the value of
 * max_locks_per_transaction the message proposes (TRIAL F3). */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "pipeline/verify.h"
#include "unit.h"

static void lock_shortfall(void)
{
	struct db_lock_cap def = { 64, 100, 0 }, small = { 64, 50, 0 }, prep = { 64, 50, 14 };
	char out[700];

	/* max_locks_per_transaction x (max_connections + max_prepared_transactions) */
	CHECK(!verify_lock_shortfall(6400, &def, out, sizeof out));
	CHECK(verify_lock_shortfall(6401, &def, out, sizeof out));
	CHECK(strstr(out, "needs about 6401 locks") != NULL);
	CHECK(strstr(out, "= 6400)") != NULL);
	/* ceil(6401 / 100) = 65, up to a multiple of 64 */
	CHECK(strstr(out, "at least 128 and restart PostgreSQL") != NULL);
	CHECK(verify_lock_shortfall(20004, &small, out, sizeof out));
	CHECK(strstr(out, "max_connections 50 + max_prepared_transactions 0) = 3200") != NULL);
	CHECK(strstr(out, "at least 448 ") != NULL); /* ceil(20004 / 50) = 401 -> 448 */
	CHECK(!verify_lock_shortfall(4096, &prep, out, sizeof out)); /* 64 x 64 */
	CHECK(verify_lock_shortfall(4097, &prep, out, sizeof out));
	CHECK(strstr(out, "at least 128 ") != NULL);
}

UNIT_MAIN(T(lock_shortfall))
