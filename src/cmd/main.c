/* main.c - command dispatch (README "Commands"). */
#include <locale.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#ifdef __GLIBC__ /* defined by the headers above */
#include <gnu/libc-version.h>
#endif


#include "pipeline/backup.h"
#include "cmd/cmd.h"
#include "base/config.h"
#include "infra/curl.h"
#include "infra/db.h"
#include "pipeline/dump.h"
#include "pipeline/notify.h"
#include "infra/http.h"
#include "infra/manifest.h"
#include "infra/stream.h"
#include "infra/tar.h"
#include "base/log.h"
#include "infra/pid1.h"
#include "base/util.h"
#include "pipeline/verify.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: vigil [COMMAND] [OPTIONS]\n"
		"\n"
		"  backup [--db-only|--media-only]    one backup run now\n"
		"  list [--json]                      backups on disk, newest first\n"
		"  verify [NAME|latest|all]           checksum, full decompression, format checks\n"
		"  prune [--dry-run]                  apply the retention rules (--dry-run: only show)\n"
		"  restore [--db NAME|latest] [--media NAME|latest] [--yes]\n"
		"          [--no-safety-backup] [--in-place] [--target-db DB] [--list]\n"
		"  serve                              the daemon: schedule, /healthz, /metrics (default)\n"
		"  healthcheck                        GET /healthz on HTTP_LISTEN; exit 0 when healthy\n"
		"  notify RUN_ID | --test             send a recorded run's alerts / test alerts\n"
		"  check-config                       print the resolved configuration and next runs\n"
		"  version                            versions of vigil, its libraries, pg_dump\n"
		"\n"
		"Configuration comes from the environment; see README.md.\n"
		"Exit status: 0 ok, 1 failure, 2 usage/configuration/refused, 3 warnings,\n"
		"75 another run in progress, 128+N killed by signal N.\n");
}

/* How host names (POSTGRES_HOST, EMAIL_HOST, the alert URLs) are resolved
 * by this build: the C library and its resolver. The static build
 * (`make static`, -DVIGIL_STATIC=1) links glibc statically; since glibc
 * 2.34 its files and dns NSS modules are part of libc itself, so
 * /etc/hosts and DNS work with no libnss_*.so in the image. */
static void print_resolver(void)
{
#if defined(__GLIBC__) && defined(VIGIL_STATIC)
	printf("name resolution: static glibc %s: /etc/hosts and DNS (/etc/resolv.conf) through "
	       "glibc's built-in files and dns modules, in the order of /etc/nsswitch.conf's hosts "
	       "line; NSS modules that live in shared libraries (mdns, ldap, systemd) are not "
	       "part of this binary\n", gnu_get_libc_version());
#elif defined(__GLIBC__)
	printf("name resolution: dynamic glibc %s: NSS per /etc/nsswitch.conf\n",
	       gnu_get_libc_version());
#else
	printf("name resolution: musl or another C library (version not known to vigil): "
	       "/etc/hosts and DNS (/etc/resolv.conf), no NSS\n");
#endif
}

static int version_main(void)
{
	char v[32];
	int major, minor;
	struct err e;

	printf("vigil %s (build %s)\n", VIGIL_VERSION, VIGIL_BUILD);
	char libs[128];

	stream_lib_versions(libs, sizeof libs);
	printf("libpq %d\n", db_lib_version());
	printf("%s\n", tar_lib_version());
	printf("%s\n", libs);
	printf("cJSON %s\n", manifest_lib_version());
	printf("libmicrohttpd %s\n", http_lib_version());
	printf("%s\n", curl_lib_version());
	print_resolver();
	if (db_tool_version("pg_dump", &major, &minor, v, sizeof v, &e) == 0)
		printf("pg_dump %s\n", v);
	else
		printf("pg_dump not found: %s\n", e.msg);
	return 0;
}

/* The checks of a loaded configuration that need other modules: the
 * schedules and listen address, the directory layout, pg_dump's extra
 * options. Every command runs them before it does anything (exit 2). */
static int check_config(const struct config *cfg, struct err *e)
{
	if (daemon_check_config(cfg, e) < 0 || backup_check_dirs(cfg, e) < 0 ||
	    dump_check_extra_opts(cfg->pg_dump_extra_opts, e) < 0 || notify_check_config(cfg, e) < 0)
		return -1;
	return 0;
}

/* The commands that take no argument (check-config takes only
 * --markdown). */
static bool takes_no_arguments(const char *cmd)
{
	static const char *const none[] = { "help", "--help", "-h", "version", "--version",
					    "serve", "healthcheck", "check-config" };

	for (size_t i = 0; i < sizeof none / sizeof none[0]; i++)
		if (!strcmp(cmd, none[i]))
			return true;
	return false;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : "serve";
	struct config cfg;
	struct err e;
	int status;

	/* Before anything can start a thread (docs/design.md "Children"). */
	pid1_block_signals();
	setlocale(LC_CTYPE, "C.UTF-8");
	tzset();
	/* Until TZ is known to be a real zone, stamp log lines in UTC. */
	log_stamp_utc(true);
	if (takes_no_arguments(cmd) && argc > 2 &&
	    !(argc == 3 && !strcmp(cmd, "check-config") &&
	      (!strcmp(argv[2], "--markdown") || !strcmp(argv[2], "--env-example")))) {
		/* A typo must not start a daemon or pass for a check. */
		fprintf(stderr, "vigil %s: unknown argument %s\n\n", cmd, argv[2]);
		usage(stderr);
		return EXIT_REFUSED;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
		usage(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "version") || !strcmp(cmd, "--version"))
		return version_main();
	if (!strcmp(cmd, "check-config") && argc > 2 && !strcmp(argv[2], "--markdown")) {
		/* The README's variable table is made from the config table. */
		config_print_markdown(stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "check-config") && argc > 2 && !strcmp(argv[2], "--env-example")) {
		/* .env.prod.example is made from the config table too. */
		config_print_env_example(stdout);
		return EXIT_OK;
	}
	err_clear(&e);
	if (config_load(&cfg, &e) < 0) {
		log_error("configuration error: %s", e.msg);
		config_free(&cfg);
		return EXIT_REFUSED;
	}
	config_each_secret(&cfg, log_add_secret);
	notify_register_secrets(&cfg); /* the secret parts of the alert URLs */
	/* File names and log lines use TZ; an unset TZ means UTC (README "Configuration"),
	 * never the image's /etc/localtime (B17). */
	setenv("TZ", cfg.tz, 1);
	tzset();
	log_stamp_utc(false);
	if (check_config(&cfg, &e) < 0) {
		/* check-config too: its listing printed above an error would
		 * scroll the one line that matters out of sight. */
		log_error("configuration error: %s", e.msg);
		status = EXIT_REFUSED;
	} else if (!strcmp(cmd, "check-config")) {
		config_print(&cfg, stdout);
		status = daemon_print_schedule(&cfg, 5);
	} else if (!strcmp(cmd, "serve")) {
		cmd_open_log(&cfg, "backup.log");
		status = daemon_main(&cfg);
	} else if (!strcmp(cmd, "healthcheck")) {
		status = daemon_healthcheck(&cfg);
	} else if (!strcmp(cmd, "backup")) {
		cmd_open_log(&cfg, "backup.log");
		status = backup_main(&cfg, argc - 2, argv + 2);
	} else if (!strcmp(cmd, "notify")) {
		cmd_open_log(&cfg, "backup.log");
		status = notify_main(&cfg, argc - 2, argv + 2);
	} else if (!strcmp(cmd, "list")) {
		status = list_main(&cfg, argc - 2, argv + 2);
	} else if (!strcmp(cmd, "verify")) {
		cmd_open_log(&cfg, "backup.log");
		status = verify_main(&cfg, argc - 2, argv + 2);
	} else if (!strcmp(cmd, "restore")) {
		cmd_open_log(&cfg, "restore.log");
		status = restore_main(&cfg, argc - 2, argv + 2);
	} else if (!strcmp(cmd, "prune")) {
		cmd_open_log(&cfg, "backup.log");
		status = prune_main(&cfg, argc - 2, argv + 2);
	} else {
		fprintf(stderr, "vigil: unknown command \"%s\"\n\n", cmd);
		usage(stderr);
		status = EXIT_REFUSED;
	}
	log_close_file();
	config_free(&cfg);
	return status;
}
