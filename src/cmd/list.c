/* list.c - `vigil list [--json]`: backups on disk, newest first (cmd.h). */

#include "cmd/cmd.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/catalog.h"
#include "base/log.h"
#include "infra/manifest.h"
#include "base/util.h"
#include "pipeline/verify.h"

static const char *state_of(const struct cat_entry *c, const struct mf_record *k, size_t nk)
{
	char rel[600], *sum = NULL;
	const char *state = "unrecorded";
	size_t len;

	if (!c->has_sha256)
		return "no-checksum";
	snprintf(rel, sizeof rel, "%s/%s", catalog_kind_name(c->kind), c->name);
	for (size_t i = 0; i < nk; i++) {
		if (strcmp(k[i].path, rel) != 0)
			continue;
		state = "ok";
		{
			char sp[UTIL_PATH_MAX + 8];
			snprintf(sp, sizeof sp, "%s.sha256", c->path);
			if (k[i].bytes != c->size ||
			    util_read_file(sp, 4096, &sum, &len, NULL) < 0 || len < 64 ||
			    strncmp(sum, k[i].sha256, 64) != 0)
				state = "mismatch";
			free(sum);
		}
		break;
	}
	return state;
}

int list_print(const struct config *cfg, bool json)
{
	struct cat_entry *v = NULL;
	struct mf_record *k;
	size_t n = 0, nk = 0, n_future = 0, n_suspect = 0;
	struct err e;

	k = verify_records_load(cfg, &nk);
	if (catalog_scan_recs(cfg, -1, k, nk, &v, &n, &e) < 0) {
		log_error("list: %s", e.msg);
		free(k);
		return EXIT_FAILED;
	}
	if (json) {
		struct mf_list_row *rows = calloc(n ? n : 1, sizeof *rows);
		char (*tl)[32] = calloc(n ? n : 1, 32), (*tu)[32] = calloc(n ? n : 1, 32);
		char *out;
		if (!rows || !tl || !tu) {
			free(rows), free(tl), free(tu), free(v), free(k);
			return EXIT_FAILED;
		}
		for (size_t i = 0; i < n; i++) {
			log_time_local((int64_t)v[i].utc, tl[i]);
			log_time_utc((int64_t)v[i].utc, tu[i]);
			rows[i] = (struct mf_list_row){ catalog_kind_name(v[i].kind), v[i].name, v[i].path,
							tl[i], tu[i], state_of(&v[i], k, nk), v[i].size,
							v[i].pre_restore, v[i].recorded, v[i].future,
							v[i].suspect };
		}
		out = manifest_list_json(rows, n);
		if (out)
			printf("%s\n", out);
		free(out);
		free(rows);
		free(tl);
		free(tu);
	} else {
		printf("%-6s %-44s %-20s %10s  %s\n", "KIND", "NAME", "TIME", "SIZE", "STATE");
		for (size_t i = 0; i < n; i++) {
			char t[32], size[32];
			struct tm tm;
			localtime_r(&v[i].utc, &tm);
			strftime(t, sizeof t, "%Y-%m-%d %H:%M:%S", &tm);
			util_human_bytes(v[i].size, size);
			printf("%-6s %-44s %-20s %10s  %s%s%s\n", catalog_kind_name(v[i].kind), v[i].name,
			       t, size, state_of(&v[i], k, nk), v[i].future ? " FUTURE-DATED" : "",
			       v[i].suspect[0] ? " SUSPECT" : "");
			n_future += v[i].future;
			n_suspect += v[i].suspect[0] != '\0';
		}
		if (n_future)
			log_warn("%zu backup(s) are dated in the future (marked FUTURE-DATED) and are "
				 "never taken as latest while a backup with a past date exists; hint: "
				 "check the host's clock", n_future);
		if (n_suspect)
			log_warn("%zu backup(s) are suspect (marked SUSPECT: their run found an empty or "
				 "collapsed media directory) and are never taken as latest while a "
				 "backup that is not exists; hint: vigil list --json gives the reason",
				 n_suspect);
		if (n == 0)
			printf("(no backups in %s)\n", cfg->backup_dir);
	}
	free(v);
	free(k);
	return EXIT_OK;
}

int list_main(const struct config *cfg, int argc, char **argv)
{
	bool json = false;

	for (int i = 0; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0 && !json)
			json = true;
		else {
			fprintf(stderr, "vigil list: unknown argument %s\nusage: vigil list [--json]\n",
				argv[i]);
			return EXIT_REFUSED;
		}
	}
	return list_print(cfg, json);
}
