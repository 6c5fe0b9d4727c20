/* manifest.c - see manifest.h. */
#include "infra/manifest.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cJSON.h>

#include "base/log.h"
#include "base/util.h"

#define MAX_WARNINGS 1000

int mf_add_table(struct mf_artifact *a, const char *name, uint64_t rows)
{
	struct mf_table *t = realloc(a->tables, (a->n_tables + 1) * sizeof *t);

	if (!t)
		return -1;
	a->tables = t;
	t[a->n_tables].name = strdup(name);
	if (!t[a->n_tables].name)
		return -1;
	t[a->n_tables].rows = rows;
	a->n_tables++;
	return 0;
}

int mf_add_warning(struct mf_artifact *a, const char *text)
{
	char **w;

	a->warnings_total++;
	if (a->n_warnings >= MAX_WARNINGS)
		return 0;
	w = realloc(a->warnings, (a->n_warnings + 1) * sizeof *w);
	if (!w)
		return -1;
	a->warnings = w;
	w[a->n_warnings] = strdup(text);
	if (!w[a->n_warnings])
		return -1;
	a->n_warnings++;
	return 0;
}

int mf_add_pruned(struct manifest *m, const char *kind, const char *name, const char *reason,
		  uint64_t bytes)
{
	struct mf_pruned *v = realloc(m->pruned, (m->n_pruned + 1) * sizeof *v), *p;

	if (!v)
		return -1;
	m->pruned = v;
	p = &v[m->n_pruned++];
	memset(p, 0, sizeof *p);
	snprintf(p->kind, sizeof p->kind, "%s", kind);
	snprintf(p->name, sizeof p->name, "%s", name);
	snprintf(p->reason, sizeof p->reason, "%s", reason);
	p->bytes = bytes;
	return 0;
}

void mf_add_notice(struct manifest *m, const char *channel, const char *result,
		   const char *error)
{
	struct mf_notice *n;

	if (m->n_notices >= MF_NOTICES_MAX)
		return;
	n = &m->notices[m->n_notices++];
	snprintf(n->channel, sizeof n->channel, "%s", channel);
	snprintf(n->result, sizeof n->result, "%s", result);
	snprintf(n->error, sizeof n->error, "%s", error ? error : "");
}

void manifest_free(struct manifest *m)
{
	free(m->pruned);
	m->pruned = NULL;
	m->n_pruned = 0;
	for (size_t i = 0; i < m->n_art; i++) {
		struct mf_artifact *a = &m->art[i];
		for (size_t j = 0; j < a->n_tables; j++)
			free(a->tables[j].name);
		free(a->tables);
		for (size_t j = 0; j < a->n_warnings; j++)
			free(a->warnings[j]);
		free(a->warnings);
		a->tables = NULL;
		a->warnings = NULL;
		a->n_tables = a->n_warnings = 0;
	}
}

static void add_time(cJSON *o, const char *key, int64_t t)
{
	char buf[32];

	log_time_utc(t, buf);
	cJSON_AddStringToObject(o, key, buf);
}

/* Length of the valid UTF-8 sequence at s (RFC 3629: no overlongs, no
 * surrogates, at most U+10FFFF), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
	size_t n;
	unsigned lo = 0x80, hi = 0xbf;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, lo = s[0] == 0xe0 ? 0xa0 : 0x80, hi = s[0] == 0xed ? 0x9f : 0xbf;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, lo = s[0] == 0xf0 ? 0x90 : 0x80, hi = s[0] == 0xf4 ? 0x8f : 0xbf;
	else
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return n;
}

/* Make s valid UTF-8 in place: each byte that does not start a valid
 * sequence becomes '?'. Error messages carry text from children (pg_dump's
 * stderr, a --version line, file names) in whatever encoding they had, and
 * the manifest must stay valid JSON text (RFC 8259 section 8.1); control
 * characters are fine, cJSON escapes them. */
static void utf8_clean(char *s)
{
	unsigned char *p = (unsigned char *)s;

	while (*p) {
		size_t n = utf8_seq(p);

		if (n == 0)
			*p++ = '?';
		else
			p += n;
	}
}

static cJSON *error_obj(const char *code, const char *msg)
{
	cJSON *o = cJSON_CreateObject();
	char clean[ERR_MSG_MAX];

	snprintf(clean, sizeof clean, "%s", msg);
	log_redact(clean, sizeof clean);
	utf8_clean(clean);
	cJSON_AddStringToObject(o, "code", code);
	cJSON_AddStringToObject(o, "message", clean);
	return o;
}

static void get_str(const cJSON *o, const char *key, char *out, size_t n);
static double get_num(const cJSON *o, const char *key);

/* "pruned": [{kind, name, reason, bytes}] and "notifications":
 * [{channel, result, error}], written only when there are any. */
static void add_pruned_and_notices(cJSON *root, const struct manifest *m)
{
	if (m->n_pruned > 0) {
		cJSON *a = cJSON_AddArrayToObject(root, "pruned");
		for (size_t i = 0; i < m->n_pruned; i++) {
			cJSON *o = cJSON_CreateObject();
			char clean[sizeof m->pruned[i].name];
			snprintf(clean, sizeof clean, "%s", m->pruned[i].name);
			utf8_clean(clean);
			cJSON_AddStringToObject(o, "kind", m->pruned[i].kind);
			cJSON_AddStringToObject(o, "name", clean);
			cJSON_AddStringToObject(o, "reason", m->pruned[i].reason);
			cJSON_AddNumberToObject(o, "bytes", (double)m->pruned[i].bytes);
			cJSON_AddItemToArray(a, o);
		}
	}
	if (m->n_notices > 0) {
		cJSON *a = cJSON_AddArrayToObject(root, "notifications");
		for (size_t i = 0; i < m->n_notices; i++) {
			cJSON *o = cJSON_CreateObject();
			char clean[sizeof m->notices[i].error];
			snprintf(clean, sizeof clean, "%s", m->notices[i].error);
			log_redact(clean, sizeof clean);
			utf8_clean(clean);
			cJSON_AddStringToObject(o, "channel", m->notices[i].channel);
			cJSON_AddStringToObject(o, "result", m->notices[i].result);
			if (clean[0])
				cJSON_AddStringToObject(o, "error", clean);
			cJSON_AddItemToArray(a, o);
		}
	}
}

/* Read back what add_pruned_and_notices wrote. Returns 0 or -1 (no memory). */
static int get_pruned_and_notices(const cJSON *root, struct manifest *m)
{
	const cJSON *v;
	char kind[8], name[300], reason[160], ch[8], res[8], err[256];

	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "pruned"))
	{
		kind[0] = name[0] = reason[0] = '\0';
		get_str(v, "kind", kind, sizeof kind);
		get_str(v, "name", name, sizeof name);
		get_str(v, "reason", reason, sizeof reason);
		if (mf_add_pruned(m, kind, name, reason, (uint64_t)get_num(v, "bytes")) < 0)
			return -1;
	}
	cJSON_ArrayForEach(v, cJSON_GetObjectItemCaseSensitive(root, "notifications"))
	{
		ch[0] = res[0] = err[0] = '\0';
		get_str(v, "channel", ch, sizeof ch);
		get_str(v, "result", res, sizeof res);
		get_str(v, "error", err, sizeof err);
		mf_add_notice(m, ch, res, err);
	}
	return 0;
}

char *manifest_to_json(const struct manifest *m)
{
	cJSON *root = cJSON_CreateObject(), *arts;
	char *out;

	if (!root)
		return NULL;
	cJSON_AddNumberToObject(root, "manifest_version", 1);
	cJSON_AddStringToObject(root, "vigil_version", VIGIL_VERSION);
	cJSON_AddStringToObject(root, "run_id", m->run_id);
	cJSON_AddStringToObject(root, "command", m->command);
	add_time(root, "start", m->start);
	add_time(root, "end", m->end);
	{
		char loc[32];
		log_time_local(m->start, loc);
		cJSON_AddStringToObject(root, "start_local", loc);
	}
	cJSON_AddStringToObject(root, "result", m->result);
	if (m->err_code[0])
		cJSON_AddItemToObject(root, "error", error_obj(m->err_code, m->err_msg));
	arts = cJSON_AddArrayToObject(root, "artifacts");
	for (size_t i = 0; i < m->n_art; i++) {
		const struct mf_artifact *a = &m->art[i];
		cJSON *o = cJSON_CreateObject();

		cJSON_AddStringToObject(o, "kind", a->kind);
		cJSON_AddStringToObject(o, "result", a->result);
		if (a->path[0]) {
			cJSON_AddStringToObject(o, "path", a->path);
			cJSON_AddNumberToObject(o, "bytes", (double)a->bytes);
			cJSON_AddNumberToObject(o, "raw_bytes", (double)a->raw_bytes);
			cJSON_AddStringToObject(o, "sha256", a->sha256);
		}
		cJSON_AddNumberToObject(o, "seconds", a->seconds);
		if (a->format[0])
			cJSON_AddStringToObject(o, "format", a->format);
		if (a->compression[0])
			cJSON_AddStringToObject(o, "compression", a->compression);
		if (strcmp(a->kind, "db") == 0) {
			cJSON *t = cJSON_CreateObject();
			if (a->server_version[0])
				cJSON_AddStringToObject(o, "server_version", a->server_version);
			if (a->pg_dump_version[0])
				cJSON_AddStringToObject(o, "pg_dump_version", a->pg_dump_version);
			for (size_t j = 0; j < a->n_tables; j++)
				cJSON_AddNumberToObject(t, a->tables[j].name, (double)a->tables[j].rows);
			cJSON_AddItemToObject(o, "tables", t);
		} else {
			cJSON *w = cJSON_CreateArray();
			cJSON_AddNumberToObject(o, "files", (double)a->files);
			cJSON_AddNumberToObject(o, "dirs", (double)a->dirs);
			cJSON_AddNumberToObject(o, "symlinks", (double)a->symlinks);
			cJSON_AddNumberToObject(o, "skipped", (double)a->skipped);
			for (size_t j = 0; j < a->n_warnings; j++) {
				char clean[4096];
				snprintf(clean, sizeof clean, "%s", a->warnings[j]);
				log_redact(clean, sizeof clean);
				utf8_clean(clean); /* file names are bytes */
				cJSON_AddItemToArray(w, cJSON_CreateString(clean));
			}
			cJSON_AddItemToObject(o, "warnings", w);
			cJSON_AddNumberToObject(o, "warnings_total", (double)a->warnings_total);
		if (a->suspect[0])
			cJSON_AddStringToObject(o, "suspect", a->suspect);
		}
		if (a->err_code[0])
			cJSON_AddItemToObject(o, "error", error_obj(a->err_code, a->err_msg));
		cJSON_AddItemToArray(arts, o);
	}
	add_pruned_and_notices(root, m);
	out = cJSON_Print(root);
	cJSON_Delete(root);
	return out;
}

static void get_str(const cJSON *o, const char *key, char *out, size_t n)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (cJSON_IsString(v) && v->valuestring)
		snprintf(out, n, "%s", v->valuestring);
}

static double get_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : 0.0;
}

static int64_t parse_utc(const char *s)
{
	struct tm tm;

	const char *end;
	struct tm want, back;
	time_t t;

	memset(&tm, 0, sizeof tm);
	end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!end || *end)
		return 0; /* 0 = no readable time; callers refuse it */
	want = tm;
	t = timegm(&tm);
	/* timegm normalises February 31 into March 3: such a time is no
	 * time vigil wrote. */
	if (!gmtime_r(&t, &back) || back.tm_year != want.tm_year || back.tm_mon != want.tm_mon ||
	    back.tm_mday != want.tm_mday || back.tm_hour != want.tm_hour ||
	    back.tm_min != want.tm_min || back.tm_sec != want.tm_sec)
		return 0;
	return (int64_t)t;
}

int manifest_parse(const char *json, struct manifest *m, struct err *e)
{
	cJSON *root = cJSON_Parse(json);
	const cJSON *arts, *a, *err;
	char buf[40];

	memset(m, 0, sizeof *m);
	if (!root || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return err_set(e, ERR_CORRUPT, "not a JSON object");
	}
	get_str(root, "run_id", m->run_id, sizeof m->run_id);
	get_str(root, "command", m->command, sizeof m->command);
	get_str(root, "result", m->result, sizeof m->result);
	buf[0] = '\0';
	get_str(root, "start", buf, sizeof buf);
	m->start = parse_utc(buf);
	buf[0] = '\0';
	get_str(root, "end", buf, sizeof buf);
	m->end = parse_utc(buf);
	err = cJSON_GetObjectItemCaseSensitive(root, "error");
	if (cJSON_IsObject(err)) {
		get_str(err, "code", m->err_code, sizeof m->err_code);
		get_str(err, "message", m->err_msg, sizeof m->err_msg);
	}
	arts = cJSON_GetObjectItemCaseSensitive(root, "artifacts");
	cJSON_ArrayForEach(a, arts)
	{
		struct mf_artifact *x;
		const cJSON *t, *w, *ae;

		if (m->n_art >= 2 || !cJSON_IsObject(a))
			break;
		x = &m->art[m->n_art++];
		get_str(a, "kind", x->kind, sizeof x->kind);
		get_str(a, "result", x->result, sizeof x->result);
		get_str(a, "path", x->path, sizeof x->path);
		get_str(a, "sha256", x->sha256, sizeof x->sha256);
		get_str(a, "format", x->format, sizeof x->format);
		get_str(a, "compression", x->compression, sizeof x->compression);
		get_str(a, "server_version", x->server_version, sizeof x->server_version);
		get_str(a, "pg_dump_version", x->pg_dump_version, sizeof x->pg_dump_version);
		x->bytes = (uint64_t)get_num(a, "bytes");
		x->raw_bytes = (uint64_t)get_num(a, "raw_bytes");
		x->seconds = get_num(a, "seconds");
		x->files = (uint64_t)get_num(a, "files");
		x->dirs = (uint64_t)get_num(a, "dirs");
		x->symlinks = (uint64_t)get_num(a, "symlinks");
		x->skipped = (uint64_t)get_num(a, "skipped");
		get_str(a, "suspect", x->suspect, sizeof x->suspect);
		t = cJSON_GetObjectItemCaseSensitive(a, "tables");
		cJSON_ArrayForEach(w, t)
		{
			if (w->string && cJSON_IsNumber(w) && mf_add_table(x, w->string, (uint64_t)w->valuedouble) < 0)
				goto oom;
		}
		t = cJSON_GetObjectItemCaseSensitive(a, "warnings");
		cJSON_ArrayForEach(w, t)
		{
			if (cJSON_IsString(w) && mf_add_warning(x, w->valuestring) < 0)
				goto oom;
		}
		ae = cJSON_GetObjectItemCaseSensitive(a, "error");
		if (cJSON_IsObject(ae)) {
			get_str(ae, "code", x->err_code, sizeof x->err_code);
			get_str(ae, "message", x->err_msg, sizeof x->err_msg);
		}
	}
	if (get_pruned_and_notices(root, m) < 0)
		goto oom;
	cJSON_Delete(root);
	return 0;
oom:
	cJSON_Delete(root);
	manifest_free(m);
	return err_set(e, ERR_INTERNAL, "out of memory");
}

int manifest_write(const char *runs_dir, const char *stamp, struct manifest *m, mode_t mode,
		   struct err *e)
{
	char name[80];
	int r = 1;

	for (int i = 1; i <= 99 && r == 1; i++) {
		char *json;
		if (i == 1)
			snprintf(m->run_id, sizeof m->run_id, "%s", stamp);
		else
			snprintf(m->run_id, sizeof m->run_id, "%s-%d", stamp, i);
		snprintf(name, sizeof name, "%s.json", m->run_id);
		json = manifest_to_json(m);
		if (!json)
			return err_set(e, ERR_INTERNAL, "out of memory");
		r = util_write_file_atomic(runs_dir, name, json, strlen(json), mode, e);
		free(json);
		if (r < 0)
			return -1;
	}
	if (r != 0)
		return err_set(e, ERR_IO, "no free manifest name for %s in %s", stamp, runs_dir);
	return 0;
}

int manifest_replace(const char *runs_dir, const struct manifest *m, mode_t mode, struct err *e)
{
	char name[80];
	char *json;
	int rc;

	snprintf(name, sizeof name, "%s.json", m->run_id);
	json = manifest_to_json(m);
	if (!json)
		return err_set(e, ERR_INTERNAL, "out of memory");
	rc = util_replace_file_atomic(runs_dir, name, json, strlen(json), mode, e);
	free(json);
	return rc;
}

int manifest_read(const char *path, struct manifest *m, struct err *e)
{
	char *buf;
	int rc;

	if (util_read_file(path, 16u * 1024 * 1024, &buf, NULL, e) < 0)
		return -1;
	rc = manifest_parse(buf, m, e);
	free(buf);
	if (rc < 0)
		err_prefix(e, "%s", path);
	return rc;
}

char *manifest_list_json(const struct mf_list_row *rows, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	char *out;

	if (!arr)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "kind", rows[i].kind);
		cJSON_AddStringToObject(o, "name", rows[i].name);
		cJSON_AddStringToObject(o, "path", rows[i].path);
		cJSON_AddStringToObject(o, "time", rows[i].time_local);
		cJSON_AddStringToObject(o, "time_utc", rows[i].time_utc);
		cJSON_AddNumberToObject(o, "size", (double)rows[i].size);
		cJSON_AddStringToObject(o, "state", rows[i].state);
		cJSON_AddBoolToObject(o, "pre_restore", rows[i].pre_restore);
		cJSON_AddBoolToObject(o, "recorded", rows[i].recorded);
		cJSON_AddBoolToObject(o, "future", rows[i].future);
		if (rows[i].suspect && rows[i].suspect[0])
			cJSON_AddStringToObject(o, "suspect", rows[i].suspect);
		cJSON_AddItemToArray(arr, o);
	}
	out = cJSON_Print(arr);
	cJSON_Delete(arr);
	return out;
}

const char *manifest_lib_version(void)
{
	return cJSON_Version();
}

struct mf_record *manifest_records(const char *dir, size_t *n)
{
	struct mf_record *v = NULL;
	struct dirent *de;
	DIR *d;

	*n = 0;
	d = opendir(dir);
	if (!d)
		return NULL;
	while ((de = readdir(d)) != NULL) {
		char p[UTIL_PATH_MAX + 300];
		struct manifest m;
		struct err e;

		if (!util_ends_with(de->d_name, ".json") || de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, de->d_name);
		if (manifest_read(p, &m, &e) < 0)
			continue;
		for (size_t i = 0; i < m.n_art; i++) {
			struct mf_record *nv;
			if (!m.art[i].path[0])
				continue;
			nv = realloc(v, (*n + 1) * sizeof *nv);
			if (!nv)
				break;
			v = nv;
			snprintf(v[*n].path, sizeof v[*n].path, "%s", m.art[i].path);
			memcpy(v[*n].sha256, m.art[i].sha256, sizeof v[*n].sha256);
			v[*n].bytes = m.art[i].bytes;
			v[*n].start = m.start;
			snprintf(v[*n].suspect, sizeof v[*n].suspect, "%s", m.art[i].suspect);
			(*n)++;
		}
		manifest_free(&m);
	}
	closedir(d);
	return v;
}

const struct mf_record *manifest_record_find(const struct mf_record *v, size_t n, const char *rel)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i].path, rel) == 0)
			return &v[i];
	return NULL;
}
